/**
 * Whether the BPF backend can be used here, and if not, why: the addon must be loaded and
 * built with libbpf, the process must be allowed to load tracing programs (root, or
 * CAP_BPF with CAP_PERFMON), and the kernel must have BTF (CO-RE objects are relocated
 * against /sys/kernel/btf/vmlinux).
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadNative } from './load-native.js';

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** What the runtime checks look at; `bpfRuntimeProblem` takes it so tests can pass their own. */
export interface BpfHost {
  /** the CapEff line's hex value from /proc/self/status (undefined: unknown) */
  capEff: string | undefined;
  /** whether the kernel's BTF file exists */
  hasBtf: boolean;
}

export function readBpfHost(): BpfHost {
  let capEff: string | undefined;
  try {
    capEff = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  } catch {
    capEff = undefined;
  }
  return { capEff, hasBtf: existsSync(VMLINUX_BTF) };
}

/** Why this process may not load tracing BPF programs (from its CapEff), or undefined when it may (or it is unknown). */
export function bpfPrivilegeProblem(capEff: string | undefined): string | undefined {
  if (capEff === undefined) return undefined;
  const caps = BigInt(`0x${capEff}`);
  const has = (bit: bigint): boolean => ((caps >> bit) & 1n) === 1n;
  if (!has(CAP_SYS_ADMIN) && !(has(CAP_BPF) && has(CAP_PERFMON))) return 'this process may not load tracing BPF programs (run as root, or with CAP_BPF and CAP_PERFMON)';
  return undefined;
}

/** Why this host cannot load tw's BPF objects, or undefined when it can. */
export function bpfRuntimeProblem(host: BpfHost): string | undefined {
  const priv = bpfPrivilegeProblem(host.capEff);
  if (priv !== undefined) return priv;
  if (!host.hasBtf) return `the kernel has no BTF (${VMLINUX_BTF} is missing; CONFIG_DEBUG_INFO_BTF=y), which tw's CO-RE objects need`;
  return undefined;
}

/** true when openBpfProbe can work here, else the reason, starting "the BPF backend is unavailable: ". */
export function bpfStatus(host: BpfHost = readBpfHost()): true | string {
  const native = loadNative();
  const why = !native.binding ? (native.reason ?? 'the native addon is not loaded') : native.binding.bpf !== true ? native.binding.bpf : bpfRuntimeProblem(host);
  return why === undefined ? true : `the BPF backend is unavailable: ${why}`;
}
