/**
 * Loss accounting at the end of a live session: per CPU, the kernel's counts (overrun, dropped,
 * commit overrun from per_cpu/cpuN/stats) next to the reader's own counters, so the caller can
 * say why events were lost.
 */
import type { Instance } from '../tracefs/instance.js';
import type { CpuLoss, ReaderCpuStats } from './types.js';

export interface LossReport {
  /** events the kernel counted as lost, all CPUs */
  total: number;
  /** the CPUs that lost any */
  losses: CpuLoss[];
}

export function collectLosses(inst: Instance, cpus: readonly number[], readerStats: readonly ReaderCpuStats[], ringSubbufs: number): LossReport {
  const losses: CpuLoss[] = [];
  let total = 0;
  for (const cpu of cpus) {
    const s = inst.stats(cpu);
    const lost = s.overrun + s.dropped + s.commitOverrun;
    total += lost;
    if (lost > 0) losses.push({ cpu, lost, overrun: s.overrun, dropped: s.dropped, commitOverrun: s.commitOverrun, ringSubbufs, reader: readerStats.find((r) => r.cpu === cpu) });
  }
  return { total, losses };
}
