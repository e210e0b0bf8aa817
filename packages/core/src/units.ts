/**
 * Branded units and ids (the way Chrome DevTools' trace model brands MicroSeconds): a Nanos is
 * not a Pid, even though both are plain numbers or bigints at run time.
 */
export type Nanos = bigint & { readonly __unit: 'ns' };
export type Cpu = number & { readonly __unit: 'cpu' };
export type Pid = number & { readonly __unit: 'pid' };

export const nanos = (v: bigint): Nanos => v as Nanos;
export const cpu = (v: number): Cpu => v as Cpu;
export const pid = (v: number): Pid => v as Pid;

/** Nanoseconds to microseconds / milliseconds / seconds, as floating-point numbers. */
export const toMicros = (ns: bigint): number => Number(ns) / 1e3;
export const toMillis = (ns: bigint): number => Number(ns) / 1e6;
export const toSeconds = (ns: bigint): number => Number(ns) / 1e9;

/** "52.272524094": seconds with nine decimals, as trace-cmd report -t prints them. */
export function formatSeconds(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${s}.${frac}`;
}
