/**
 * `tw dump -e tw:<name>` (and other commands given events by name): the probes those events
 * need, brought up for the session and taken down after, as `tw watch` does for a watch's probes.
 */
import type { Config } from '@oclif/core';
import type { LiveProbe } from '@tw/core';
import { loadProbeSpecs, probeProvider } from './probes.js';
import type { ProbeBackendName } from '@tw/kprobe-gen';

export interface EventProbes {
  /** the probes brought up (their sources and filters go to the session) */
  up: LiveProbe[];
  /** take them down (every exit path) */
  down(onError: (message: string) => void): Promise<void>;
}

/** Bring up the installed probe of each `tw:<name>` named (no globs) among `patterns`. */
export async function eventProbesUp(config: Config, patterns: readonly string[], backend: ProbeBackendName | 'auto', onUp: (event: string, backend: string) => void, bpfLatencyMs: number): Promise<EventProbes> {
  const installed = new Set((await loadProbeSpecs(config)).map((p) => p.spec.name));
  const names = [...new Set(patterns.flatMap((p) => p.split('|')).filter((e) => /^tw:[A-Za-z0-9_]+$/.test(e) && installed.has(e.slice(3))).map((e) => e.slice(3)))];
  const provider = probeProvider(config, backend, onUp, bpfLatencyMs);
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
    for (const name of names) up.push(await provider.up(name));
  } catch (e) {
    await down(() => undefined);
    throw e;
  }
  return { up, down };
}
