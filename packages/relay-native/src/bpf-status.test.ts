import { describe, expect, it } from 'vitest';
import { bpfPrivilegeProblem, bpfRuntimeProblem, bpfStatus } from './bpf-status.js';
import { loadNative } from './load-native.js';

const ROOT = '000001ffffffffff';
const bit = (...n: number[]): string => n.reduce((s, b) => s | (1n << BigInt(b)), 0n).toString(16).padStart(16, '0');

describe('bpfRuntimeProblem', () => {
  it('accepts root, CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON, on a kernel with BTF', () => {
    expect(bpfRuntimeProblem({ capEff: ROOT, hasBtf: true })).toBeUndefined();
    expect(bpfRuntimeProblem({ capEff: bit(21), hasBtf: true })).toBeUndefined();
    expect(bpfRuntimeProblem({ capEff: bit(38, 39), hasBtf: true })).toBeUndefined();
    expect(bpfRuntimeProblem({ capEff: undefined, hasBtf: true })).toBeUndefined(); // unknown: let the kernel say
  });

  it('says what is missing', () => {
    const noPriv = 'this process may not load tracing BPF programs (run as root, or with CAP_BPF and CAP_PERFMON)';
    expect(bpfRuntimeProblem({ capEff: '0000000000000000', hasBtf: true })).toBe(noPriv);
    expect(bpfRuntimeProblem({ capEff: bit(39), hasBtf: true })).toBe(noPriv);
    expect(bpfRuntimeProblem({ capEff: ROOT, hasBtf: false })).toBe(
      "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing; CONFIG_DEBUG_INFO_BTF=y), which tw's CO-RE objects need",
    );
  });
});

describe('bpfPrivilegeProblem', () => {
  it('is the privilege half of bpfRuntimeProblem: BTF does not matter', () => {
    expect(bpfPrivilegeProblem(ROOT)).toBeUndefined();
    expect(bpfPrivilegeProblem(undefined)).toBeUndefined();
    expect(bpfPrivilegeProblem(bit(38, 39))).toBeUndefined();
    expect(bpfPrivilegeProblem(bit(39))).toBe('this process may not load tracing BPF programs (run as root, or with CAP_BPF and CAP_PERFMON)');
  });
});

describe('bpfStatus', () => {
  it('is true, or a reason that starts "the BPF backend is unavailable: "', () => {
    const s = bpfStatus({ capEff: ROOT, hasBtf: true });
    const b = loadNative().binding;
    if (b?.bpf === true) expect(s).toBe(true);
    else expect(s).toMatch(/^the BPF backend is unavailable: /);
    if (b !== undefined && b.bpf !== true) expect(s).toBe('the BPF backend is unavailable: the addon was built without libbpf (install libbpf-dev and rebuild)');
    expect(bpfStatus({ capEff: '0', hasBtf: true })).toMatch(/^the BPF backend is unavailable: /);
  });
});
