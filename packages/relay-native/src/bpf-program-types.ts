/**
 * Which kinds of BPF program the running kernel lets this process load. A kernel's config does
 * not say it all: lockdown or a distribution's policy can refuse kprobe, fentry or lsm programs
 * (EPERM on load) where tracepoint programs load. So the addon asks the kernel: it loads the
 * smallest program of each type (r0 = 0; exit; fentry/tp_btf/lsm with the vmlinux BTF id of a
 * common target), never attaches it, and closes it at once.
 *
 * Loading is not attaching: a kprobe program can load on a kernel without kprobes (no
 * CONFIG_KPROBES), where nothing can attach it. bpfKprobeAttach says whether libbpf has a way
 * to attach one here.
 */
import { existsSync } from 'node:fs';
import { readBpfHost, bpfPrivilegeProblem } from './bpf-status.js';
import { loadNative } from './load-native.js';

export type BpfProgramType = 'tracepoint' | 'raw_tp' | 'tp_btf' | 'kprobe' | 'fentry' | 'lsm';

/** Every type bpfProgramTypes reports, in the order it reports them. */
export const BPF_PROGRAM_TYPES: readonly BpfProgramType[] = ['tracepoint', 'raw_tp', 'tp_btf', 'kprobe', 'fentry', 'lsm'];

/**
 * Per type: true when a program of it loads here, else why not — the kernel's errno first when
 * it refused ("EPERM: operation not permitted", possibly followed by " — " and the kernel log's
 * last line), or a sentence ("no BTF for vmlinux (…)", "no BTF for btf_trace_sched_switch in
 * vmlinux", "the BPF backend is unavailable: …").
 */
export type BpfProgramTypes = Record<BpfProgramType, true | string>;

/**
 * Loads a minimal program of each type (see the file comment) and says which the kernel took.
 * Without an addon built with libbpf, or without the privilege to load tracing programs, every
 * type carries bpfStatus's reason instead (nothing is tried: the kernel would refuse them all).
 */
export function bpfProgramTypes(): BpfProgramTypes {
  const native = loadNative();
  const binding = native.binding;
  const why = !binding ? (native.reason ?? 'the native addon is not loaded') : binding.bpf !== true ? binding.bpf : bpfPrivilegeProblem(readBpfHost().capEff);
  if (why !== undefined || binding?.bpfProgramTypes === undefined) {
    const reason = `the BPF backend is unavailable: ${why ?? 'the addon has no bpfProgramTypes'}`;
    return Object.fromEntries(BPF_PROGRAM_TYPES.map((t) => [t, reason])) as BpfProgramTypes;
  }
  const raw = binding.bpfProgramTypes();
  const out = {} as BpfProgramTypes;
  for (const t of BPF_PROGRAM_TYPES) {
    const v = raw[t];
    if (v !== true && typeof v !== 'string') throw new Error(`relay-native: bpfProgramTypes(): no answer for ${t}`);
    out[t] = v;
  }
  return out;
}

/** The kprobe PMU: libbpf attaches kprobe programs through perf_event_open of this type. */
export const KPROBE_PMU = '/sys/bus/event_source/devices/kprobe/type';
/** Where libbpf's legacy kprobe attach (a tracefs kprobe event) looks. */
const KPROBE_EVENTS = ['/sys/kernel/tracing/kprobe_events', '/sys/kernel/debug/tracing/kprobe_events'];

/**
 * Whether libbpf can attach a kprobe program here: true when the kernel has the kprobe PMU or
 * kprobe_events (its legacy way), else why not. Only looks at files; attaches nothing.
 */
export function bpfKprobeAttach(exists: (path: string) => boolean = existsSync): true | string {
  if (exists(KPROBE_PMU) || KPROBE_EVENTS.some(exists)) return true;
  return `the kernel has no kprobes to attach them to (no ${KPROBE_PMU}, no kprobe_events: CONFIG_KPROBES is off)`;
}
