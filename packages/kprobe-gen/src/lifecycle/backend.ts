/**
 * One interface for every way a probe spec can become a kernel event tw:<name>, and the one
 * place that says in which order `auto` tries them. A new backend implements ProbeBackend and
 * takes its place in PROBE_BACKEND_ORDER; nothing else chooses.
 */
import type { Tracefs } from '@tw/core';
import type { ProbeSpec } from '@tw/probe-spec';

export type ProbeBackendName = 'module' | 'kprobe-events';

/**
 * What `auto` tries, in order: a module built for this kernel (any C the spec needs: paths
 * across mounts, struct reads), else a tracefs kprobe event (no build; only what fetch args
 * can express).
 */
export const PROBE_BACKEND_ORDER: readonly ProbeBackendName[] = ['module', 'kprobe-events'];

/** The order to try for a request: the named backend alone, or every backend in PROBE_BACKEND_ORDER. */
export function probeBackendOrder(want: ProbeBackendName | 'auto'): readonly ProbeBackendName[] {
  return want === 'auto' ? PROBE_BACKEND_ORDER : [want];
}

export interface ProbeEnv {
  tracefs: Tracefs;
  /** the kernel build tree for modules */
  kdir: string;
  /** where generated files go (default: the build cache) */
  outDir?: string | undefined;
  /** spec parameters (module parameters, kprobe-event filter values) */
  params?: Record<string, string | number> | undefined;
}

/** A probe a backend brought up: its event exists; not yet checked against the spec's layout. */
export interface AttachedProbe {
  /** a filter to set on the event in the session's instance (kprobe-events backend) */
  filter: string | undefined;
  /** what the user should know (e.g. path() cannot cross mounts here) */
  notes: string[];
  /** undo what up() did */
  down(): Promise<void>;
}

export interface ProbeBackend {
  readonly name: ProbeBackendName;
  /** why this backend cannot serve the spec here (checked before trying), or undefined */
  unavailable(spec: ProbeSpec, env: ProbeEnv): string | undefined;
  /** make the event exist; throws a TwError saying why not */
  up(spec: ProbeSpec, env: ProbeEnv): Promise<AttachedProbe>;
}
