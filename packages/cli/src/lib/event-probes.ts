/**
 * `tw dump -e tw:<name>` and `tw record -e tw:<name>` (commands given events by name): the probes
 * those events need, brought up for the session and taken down after, as `tw watch` does for a
 * watch's probes; and what the session needs of them (their sources, their kernel filters).
 */
import type { Config } from '@oclif/core';
import type { LiveProbe, RecordSource } from '@tw/core';
import { loadProbeSpecs, probeProvider, type ProbeUpInfo } from './probes.js';
import type { ProbeBackendName } from '@tw/kprobe-gen';

export interface EventProbes {
  /** the probes brought up */
  up: LiveProbe[];
  /** how each came up (backend, BPF object origin), in the same order */
  info: ProbeUpInfo[];
  /** the BPF probes' record sources (LiveOptions.sources) */
  sources(): RecordSource[];
  /** kernel filters: `filter` on every pattern when given, else each probe's own (kprobe events) */
  filters(patterns: readonly string[], filter: string | undefined): Record<string, string>;
  /** take them down (every exit path) */
  down(onError: (message: string) => void): Promise<void>;
}

export interface EventProbesOptions {
  /** --probe-backend */
  backend: ProbeBackendName | 'auto';
  /** the latency of the BPF probes' readers (LiveRun.readerLatencyMs) */
  bpfLatencyMs: number;
  /** each probe brought up (e.g. for the "tw: tracing" line) */
  onUp?: (p: ProbeUpInfo) => void;
  /** what a backend wants known (e.g. a prebuilt object passed over) */
  onNote?: (message: string) => void;
}

/** Bring up the installed probe of each `tw:<name>` named (no globs) among `patterns`. */
export async function eventProbesUp(config: Config, patterns: readonly string[], o: EventProbesOptions): Promise<EventProbes> {
  const installed = new Set((await loadProbeSpecs(config)).map((p) => p.spec.name));
  const names = [...new Set(patterns.flatMap((p) => p.split('|')).filter((e) => /^tw:[A-Za-z0-9_]+$/.test(e) && installed.has(e.slice(3))).map((e) => e.slice(3)))];
  const info: ProbeUpInfo[] = [];
  const provider = probeProvider(
    config,
    o.backend,
    (p) => {
      info.push(p);
      o.onUp?.(p);
    },
    o.bpfLatencyMs,
  );
  const up: LiveProbe[] = [];
  const down = async (onError: (message: string) => void): Promise<void> => {
    for (const p of up.splice(0).reverse()) {
      try {
        await p.down();
      } catch (e) {
        onError(`could not unload probe '${p.event.slice(3)}': ${(e as Error).message}`);
      }
    }
  };
  try {
    for (const name of names) {
      const p = await provider.up(name);
      up.push(p);
      for (const n of p.notes) o.onNote?.(`probe '${name}': ${n}`);
    }
  } catch (e) {
    await down(() => undefined);
    throw e;
  }
  return {
    up,
    info,
    sources: () => up.flatMap((p) => (p.source ? [p.source] : [])),
    filters(patterns, filter) {
      const out: Record<string, string> = filter ? Object.fromEntries(patterns.map((e) => [e, filter])) : {};
      for (const p of up) if (p.filter && !filter) out[p.event] = p.filter;
      return out;
    },
    down,
  };
}
