import { describe, expect, it } from 'vitest';
import type { BpfProgramTypes } from '@tw/relay-native';
import { programTypesLine } from './bpf-types-line.js';

const EPERM = 'EPERM: operation not permitted';

describe("tw doctor's BPF program types line", () => {
  it('yes per type that loads, the errno of each the kernel refused, a reason that is no errno as it is', () => {
    const types: BpfProgramTypes = { tracepoint: true, raw_tp: true, tp_btf: 'no BTF for vmlinux (ENOENT: no such file or directory)', kprobe: EPERM, fentry: EPERM, lsm: 'EINVAL: invalid argument — attach to unsupported member' };
    expect(programTypesLine(types, true)).toBe(
      'tracepoint yes, raw_tp yes, tp_btf no (no BTF for vmlinux (ENOENT: no such file or directory)), kprobe no (EPERM), fentry no (EPERM), lsm no (EINVAL)',
    );
  });

  it('a kprobe type that loads where nothing can attach it says so', () => {
    const types: BpfProgramTypes = { tracepoint: true, raw_tp: true, tp_btf: true, kprobe: true, fentry: EPERM, lsm: EPERM };
    expect(programTypesLine(types, 'the kernel has no kprobes to attach them to (no /sys/bus/event_source/devices/kprobe/type, no kprobe_events: CONFIG_KPROBES is off)')).toBe(
      'tracepoint yes, raw_tp yes, tp_btf yes, kprobe yes (loads, but the kernel has no kprobes to attach them to), fentry no (EPERM), lsm no (EPERM)',
    );
    expect(programTypesLine(types, true)).toBe('tracepoint yes, raw_tp yes, tp_btf yes, kprobe yes, fentry no (EPERM), lsm no (EPERM)');
  });

  it('one reason when nothing was tried', () => {
    const why = 'the BPF backend is unavailable: the addon was built without libbpf (install libbpf-dev and rebuild)';
    const types: BpfProgramTypes = { tracepoint: why, raw_tp: why, tp_btf: why, kprobe: why, fentry: why, lsm: why };
    expect(programTypesLine(types, true)).toBe(`not tried: ${why}`);
  });
});
