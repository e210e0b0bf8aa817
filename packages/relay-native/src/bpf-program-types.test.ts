import { describe, expect, it } from 'vitest';
import { BPF_PROGRAM_TYPES, KPROBE_PMU, bpfKprobeAttach } from './bpf-program-types.js';

describe('bpfKprobeAttach', () => {
  it('true with the kprobe PMU or kprobe_events (either tracefs mount); else why not', () => {
    expect(bpfKprobeAttach((p) => p === KPROBE_PMU)).toBe(true);
    expect(bpfKprobeAttach((p) => p === '/sys/kernel/tracing/kprobe_events')).toBe(true);
    expect(bpfKprobeAttach((p) => p === '/sys/kernel/debug/tracing/kprobe_events')).toBe(true);
    expect(bpfKprobeAttach(() => false)).toBe(
      'the kernel has no kprobes to attach them to (no /sys/bus/event_source/devices/kprobe/type, no kprobe_events: CONFIG_KPROBES is off)',
    );
  });
});

describe('BPF_PROGRAM_TYPES', () => {
  it('lists the types the addon tries, in its order', () => {
    expect(BPF_PROGRAM_TYPES).toEqual(['tracepoint', 'raw_tp', 'tp_btf', 'kprobe', 'fentry', 'lsm']);
  });
});
