// The probe specs the plugins ship (what `tw watch` loads for their watches), imported by
// package name as tw finds them.
import { probes as fswatch } from '@tw/plugin-fswatch/probes';
import { probes as kill } from '@tw/plugin-kill/probes';
import { expressibleBy } from '@tw/kprobe-gen';
import type { ProbeSpec } from '@tw/probe-spec';

export const shippedSpecs: ProbeSpec[] = [...fswatch, ...kill];

/** The shipped specs a kernel module can express (the others are BPF only, e.g. a syscall exit). */
export const moduleSpecs: ProbeSpec[] = shippedSpecs.filter((s) => expressibleBy(s).module === true);

/** One shipped spec by name. */
export function shipped(name: string): ProbeSpec {
  const spec = shippedSpecs.find((s) => s.name === name);
  if (!spec) throw new Error(`no shipped probe spec '${name}' (have ${shippedSpecs.map((s) => s.name).join(', ')})`);
  return spec;
}
