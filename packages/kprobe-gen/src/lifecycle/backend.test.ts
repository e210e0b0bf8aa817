import { describe, expect, it } from 'vitest';
import { Tracefs } from '@tw/core';
import { pluginShapes, testSpecs } from '../test-specs.js';
import { PROBE_BACKEND_ORDER, probeBackendOrder, type ProbeEnv } from './backend.js';
import { bpfBackend } from './bpf-backend.js';
import { probeUp } from './probe-up.js';

const env = (over: Partial<ProbeEnv> = {}): ProbeEnv => ({ tracefs: new Tracefs('/nonexistent-tracefs'), kdir: '/nonexistent', ...over });

describe('the probe backend order', () => {
  it('auto tries every backend in the stated order; a named one alone', () => {
    expect(probeBackendOrder('auto')).toEqual(PROBE_BACKEND_ORDER);
    expect(PROBE_BACKEND_ORDER).toEqual(['bpf', 'kprobe-events', 'module']);
    expect(probeBackendOrder('kprobe-events')).toEqual(['kprobe-events']);
  });

  it('a probe that must outlive tw (tw probe load) never tries BPF, and refuses it by name', async () => {
    expect(probeBackendOrder('auto', { persistent: true })).toEqual(['kprobe-events', 'module']);
    await expect(probeUp(testSpecs[0]!, { backend: 'bpf', persistent: true, tracefs: new Tracefs('/nonexistent') })).rejects.toThrow(/lives only as long as the tw process/);
  });
});

describe('the BPF backend', () => {
  const unlinkat = pluginShapes.find((s) => s.name === 'unlinkat')!;
  it('is unavailable without a loader, or with one that says why not', () => {
    expect(bpfBackend.unavailable(unlinkat, env())).toBe('no BPF loader was given');
    const loader = { status: () => 'the BPF backend is unavailable: no libbpf' as const, open: () => { throw new Error('not called'); } };
    expect(bpfBackend.unavailable(unlinkat, env({ bpf: loader }))).toBe('the BPF backend is unavailable: no libbpf');
  });

  it('is available for a spec it can express when the loader works', () => {
    const loader = { status: () => true as const, open: () => { throw new Error('not called'); } };
    expect(bpfBackend.unavailable(unlinkat, env({ bpf: loader }))).toBeUndefined();
  });
});
