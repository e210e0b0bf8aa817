/**
 * The BPF backend: the spec's CO-RE BPF object (prebuilt in the spec's package, else from the
 * object cache, else compiled with clang: bpf-object.ts), loaded and attached by the loader the
 * caller gives, its records handed to the session as a RecordSource. Nothing is left in the kernel when tw ends, however it ends (the
 * programs go with the process).
 */
import { BpfVerifierError, TwError, isTwError, type ErrorCode, type RecordSource } from '@tw/core';
import { eventFormatText } from '@tw/probe-spec';
import { bpfObjectFor } from '../bpf/bpf-object.js';
import { bpfProgramKind, tryRenderBpf } from '../bpf/render-bpf.js';
import type { ProbeBackend } from './backend.js';

export const bpfBackend: ProbeBackend = {
  name: 'bpf',
  unavailable(spec, env) {
    if (env.bpf === undefined) return 'no BPF loader was given';
    const status = env.bpf.status();
    if (status !== true) return status;
    const c = tryRenderBpf(spec);
    if (typeof c !== 'string') return c.unsupported;
    const kind = bpfProgramKind(spec);
    const can = env.bpf.canRun?.(kind) ?? true;
    return can === true ? undefined : `${kind} programs cannot run here: ${can}`;
  },
  async up(spec, env) {
    const loader = env.bpf!;
    const obj = await bpfObjectFor(spec, { ...(env.outDir ? { outDir: env.outDir } : {}), ...(env.prebuiltDirs ? { prebuiltDirs: env.prebuiltDirs } : {}) });
    let probe;
    try {
      probe = loader.open({ object: obj.object, params: env.params ?? {}, latencyMs: env.bpfLatencyMs ?? 45 });
    } catch (e) {
      throw loaderError(spec.name, obj.object, e);
    }
    // the session stops the source, and down() again on every exit path: once is enough
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => (stopping ??= probe.stop());
    const source: RecordSource = {
      name: `bpf-${spec.name}`,
      clock: 'mono',
      events: [{ system: 'tw', name: spec.name, format: (id) => eventFormatText(spec, id) }],
      start: (onBatch, onError, onRound) => probe.start(onBatch, onError, onRound),
      stop,
      lost: () => probe.lost(),
    };
    const notes = obj.passedOver.map((why) => `prebuilt BPF object passed over: ${why}`);
    const setParams = (params: Readonly<Record<string, string | number | bigint | boolean>>): void => {
      if (probe.setParams === undefined) throw new TwError('PROBE_UNSUPPORTED', `probe '${spec.name}': this BPF loader cannot change parameters while the probe runs`);
      try {
        probe.setParams(params);
      } catch (e) {
        throw loaderError(spec.name, obj.object, e);
      }
    };
    return { filter: undefined, notes, source, down: stop, bpfObject: { path: obj.object, origin: obj.origin }, setParams };
  },
};

/** The loader's error codes (@tw/relay-native's openBpfProbe) as tw's: what is not a verifier rejection. */
const LOADER_CODES: Record<string, ErrorCode> = {
  BPF_UNAVAILABLE: 'PROBE_UNSUPPORTED',
  BPF_PARAM: 'BAD_ARGUMENT',
  BPF_OPEN: 'BPF_LOAD',
  BPF_CONTRACT: 'BPF_LOAD',
  BPF_LOAD: 'BPF_LOAD',
  BPF_ATTACH: 'BPF_LOAD',
  BPF_RINGBUF: 'BPF_LOAD',
};

/**
 * A loader's error as one tw error naming the probe: a verifier rejection as BpfVerifierError
 * (the program, its section and the verifier's last lines, which the loader gives as
 * `verifierLog`), the loader's other codes as their tw codes. Anything else is passed on.
 */
export function loaderError(probe: string, object: string, e: unknown): unknown {
  if (isTwError(e) || typeof e !== 'object' || e === null) return e;
  const err = e as Error & { code?: unknown; program?: unknown; section?: unknown; verifierLog?: unknown };
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  if (err.code === 'BPF_VERIFIER') {
    const log = Array.isArray(err.verifierLog) ? err.verifierLog.filter((l): l is string => typeof l === 'string') : [];
    return new BpfVerifierError(probe, str(err.program), str(err.section), log, object, { cause: e });
  }
  const code = typeof err.code === 'string' ? LOADER_CODES[err.code] : undefined;
  if (code === undefined) return e;
  return new TwError(code, `probe '${probe}': ${err.message}`, { cause: e });
}
