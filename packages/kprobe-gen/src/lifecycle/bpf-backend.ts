/**
 * The BPF backend: the spec's CO-RE BPF object (prebuilt in the spec's package, else from the
 * object cache, else compiled with clang: bpf-object.ts), loaded and attached by the loader the
 * caller gives, its records handed to the session as a RecordSource. Nothing is left in the kernel when tw ends, however it ends (the
 * programs go with the process).
 */
import type { RecordSource } from '@tw/core';
import { eventFormatText } from '@tw/probe-spec';
import { bpfObjectFor } from '../bpf/bpf-object.js';
import { tryRenderBpf } from '../bpf/render-bpf.js';
import type { ProbeBackend } from './backend.js';

export const bpfBackend: ProbeBackend = {
  name: 'bpf',
  unavailable(spec, env) {
    if (env.bpf === undefined) return 'no BPF loader was given';
    const status = env.bpf.status();
    if (status !== true) return status;
    const c = tryRenderBpf(spec);
    return typeof c === 'string' ? undefined : c.unsupported;
  },
  async up(spec, env) {
    const loader = env.bpf!;
    const obj = await bpfObjectFor(spec, { ...(env.outDir ? { outDir: env.outDir } : {}), ...(env.prebuiltDirs ? { prebuiltDirs: env.prebuiltDirs } : {}) });
    const probe = loader.open({ object: obj.object, params: env.params ?? {}, latencyMs: env.bpfLatencyMs ?? 45 });
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
    return { filter: undefined, notes, source, down: stop, bpfObject: { path: obj.object, origin: obj.origin } };
  },
};
