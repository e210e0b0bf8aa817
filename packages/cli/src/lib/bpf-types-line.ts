/** tw doctor's line about the BPF program types this kernel loads (see @tw/relay-native's bpfProgramTypes). */
import { BPF_PROGRAM_TYPES, type BpfProgramTypes } from '@tw/relay-native';

/**
 * "tracepoint yes, raw_tp yes, …, fentry no (EPERM), …": the kernel's errno where it refused a
 * type, else its reason; one reason for all when none was tried. A kprobe type that loads where
 * nothing can attach it says so.
 */
export function programTypesLine(types: BpfProgramTypes, kprobeAttach: true | string): string {
  const reasons = new Set(BPF_PROGRAM_TYPES.map((t) => types[t]));
  const [only] = reasons;
  if (reasons.size === 1 && typeof only === 'string' && only.startsWith('the BPF backend is unavailable')) return `not tried: ${only}`;
  return BPF_PROGRAM_TYPES.map((t) => {
    const v = types[t];
    if (v === true) return t === 'kprobe' && kprobeAttach !== true ? `${t} yes (loads, but ${kprobeAttach.replace(/ \(.*$/, '')})` : `${t} yes`;
    const errno = /^(E[A-Z0-9]+):/.exec(v)?.[1];
    return `${t} no (${errno ?? v})`;
  }).join(', ');
}
