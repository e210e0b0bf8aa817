/**
 * One interface for every way a probe spec can become a kernel event tw:<name>, and the one
 * place that says in which order `auto` tries them. A new backend implements ProbeBackend and
 * takes its place in PROBE_BACKEND_ORDER; nothing else chooses.
 */
import type { ObjectGuard, RecordSource, Tracefs } from '@tw/core';
import type { ProbeParamValue, ProbeSpec } from '@tw/probe-spec';
import type { BpfObjectOrigin } from '../bpf/bpf-object.js';

export type ProbeBackendName = 'module' | 'kprobe-events' | 'bpf';

/**
 * What `auto` tries, in order (after a tw:<name> event that is already loaded, which is used as
 * it is): a BPF program (CO-RE, checked by the kernel's verifier before it runs, gone with the
 * tw process however it ends; syscall and tracepoint forms work where kprobes and modules do
 * not), else a tracefs kprobe event (no build; only what fetch args can express; removed by tw
 * at exit), else a module built for this kernel (any C the spec needs; unloaded by tw at exit).
 * The guest tests compare the three on the same rm (test/src/vm/probes.vm.test.ts, step h).
 */
export const PROBE_BACKEND_ORDER: readonly ProbeBackendName[] = ['bpf', 'kprobe-events', 'module'];

/**
 * The order to try for a request: the named backend alone, or every backend in
 * PROBE_BACKEND_ORDER. `persistent` (tw probe load: the probe must outlive tw) leaves out BPF,
 * whose programs go with the process that loaded them.
 */
export function probeBackendOrder(want: ProbeBackendName | 'auto', o: { persistent?: boolean } = {}): readonly ProbeBackendName[] {
  if (want !== 'auto') return [want];
  return o.persistent === true ? PROBE_BACKEND_ORDER.filter((b) => b !== 'bpf') : PROBE_BACKEND_ORDER;
}

/**
 * What the BPF backend needs of a loader (@tw/relay-native's openBpfProbe, given by the CLI:
 * kprobe-gen does not import the addon): open, set parameters, load and attach an object, then
 * its records in batches (see RecordSource for their layout).
 */
export interface BpfLoader {
  /** true, or why BPF objects cannot be loaded here */
  status(): true | string;
  /**
   * true when programs of this kind (bpfProgramKind: tracepoint programs for syscall and
   * tracepoint forms, kprobe programs for kernel functions) load and attach here, else why not.
   * Without it the backend finds out by trying.
   */
  canRun?(kind: 'tracepoint' | 'kprobe'): true | string;
  open(o: { object: string; params: Readonly<Record<string, string | number | bigint | boolean>>; latencyMs?: number }): {
    start(onBatch: (data: Uint8Array, release: () => void) => void, onError: (e: Error) => void, onRound?: (drainedNs: number) => void): void;
    stop(): Promise<void>;
    lost(): number[];
    /** change live parameters while the programs run (absent: the loader cannot) */
    setParams?(params: Readonly<Record<string, string | number | bigint | boolean>>): void;
  };
}

export interface ProbeEnv {
  tracefs: Tracefs;
  /** the kernel build tree for modules */
  kdir: string;
  /** where generated files go (default: the build cache) */
  outDir?: string | undefined;
  /**
   * values for the spec's params, checked against the spec (checkProbeParams): module
   * parameters (insmod name=value), values substituted into the kprobe event's filter, BPF
   * `const volatile` globals set before the object is loaded
   */
  params?: Readonly<Record<string, ProbeParamValue>> | undefined;
  /** the BPF loader (without one the BPF backend is unavailable) */
  bpf?: BpfLoader | undefined;
  /** how long a BPF record may wait before it is handed over (default 45 ms) */
  bpfLatencyMs?: number | undefined;
  /** directories of prebuilt BPF objects (the spec's package's dist/bpf), tried before the cache and clang */
  prebuiltDirs?: readonly string[] | undefined;
  /**
   * told of every kernel object a backend creates before it creates it, and again once it is
   * removed (a session's guardian, which removes what a killed tw left: kprobe events, modules);
   * absent for a probe meant to outlive tw (tw probe load)
   */
  guard?: ObjectGuard | undefined;
}

/** The BPF object a probe runs, and where it came from (prebuilt, cached or compiled now). */
export interface BpfObjectInfo {
  path: string;
  origin: BpfObjectOrigin;
}

/** A probe a backend brought up: its event exists; not yet checked against the spec's layout. */
export interface AttachedProbe {
  /** a filter to set on the event in the session's instance (kprobe-events backend) */
  filter: string | undefined;
  /** what the user should know (e.g. path() cannot cross mounts here) */
  notes: string[];
  /** undo what up() did */
  down(): Promise<void>;
  /**
   * Where the events come from when there is no tracefs event (BPF): the session merges the
   * source's records with the kernel's events. Its format is made from the spec: no layout check.
   */
  source?: RecordSource;
  /** BPF: the object loaded, and where it came from */
  bpfObject?: BpfObjectInfo;
  /**
   * Change live parameters (the spec's `live: true` params, already checked) while the probe
   * runs; absent where the backend cannot (kprobe events: the values are in the event's filter).
   */
  setParams?(params: Readonly<Record<string, ProbeParamValue>>): void;
}

export interface ProbeBackend {
  readonly name: ProbeBackendName;
  /** why this backend cannot serve the spec here (checked before trying), or undefined */
  unavailable(spec: ProbeSpec, env: ProbeEnv): string | undefined;
  /** make the event exist; throws a TwError saying why not */
  up(spec: ProbeSpec, env: ProbeEnv): Promise<AttachedProbe>;
}
