// The syscalls plugin's watches over a real recording (examples/sample.dat), with their metrics
// kept in memory: each metric must say what the watch's own result says.
import { fileURLToPath } from 'node:url';
import { MemoryMetrics, replayFile } from '@tw/core';
import { describe, expect, it } from 'vitest';
import { allcounts, syscalls, syscallsByPid, syscallTimes, type AllCountsResult, type SyscallsByPidResult, type SyscallsResult, type SyscallTimesResult } from './index.js';
import { DURATION_BUCKETS } from './watches/syscall-times.js';

const SAMPLE = fileURLToPath(new URL('../../../examples/sample.dat', import.meta.url));

/** a metric's series as label value → value (or the whole series), for the one label that varies */
function byLabel<T>(mem: MemoryMetrics, fullName: string, label: string, pick: (s: { value?: number; count?: number; sum?: number; buckets?: Record<string, number> }) => T): Record<string, T> {
  const m = mem.snapshot()[fullName];
  if (!m) throw new Error(`no metric ${fullName}`);
  return Object.fromEntries(m.series.map((s) => [s.labels[label]!, pick(s)]));
}

describe('plugin-syscalls metrics', () => {
  it('syscalls, allcounts and syscall-times: the metrics agree with the results, in one session', async () => {
    // the busiest process of the recording is the one syscall-times times
    const by = (await replayFile(SAMPLE, [{ watch: syscallsByPid, args: {} }])).outcomes[0]!.result as SyscallsByPidResult;
    const pid = by.processes[0]!.pid;

    const mem = new MemoryMetrics();
    const report = await replayFile(
      SAMPLE,
      [
        { watch: syscalls, args: {} },
        { watch: allcounts, args: {}, id: 'all' },
        { watch: syscallTimes, args: { pid } },
      ],
      { metrics: mem },
    );
    const [calls, counts, times] = report.outcomes.map((o) => o.result) as [SyscallsResult, AllCountsResult, SyscallTimesResult];

    // syscalls: calls_total per syscall is the result's table (the recording has both event
    // families: each counted once)
    expect(calls.total).toBeGreaterThan(10_000);
    expect(byLabel(mem, 'tw_syscalls_calls_total', 'syscall', (s) => s.value)).toEqual(calls.counts);
    expect(mem.snapshot()['tw_syscalls_calls_total']!.series.every((s) => s.labels.watch === 'syscalls')).toBe(true);

    // allcounts: events_total per event is its table, under the run's id
    expect(byLabel(mem, 'tw_allcounts_events_total', 'event', (s) => s.value)).toEqual(counts.counts);
    expect(mem.value('tw_allcounts_events_total', { watch: 'all', event: 'raw_syscalls:sys_enter' })).toBe(counts.counts['raw_syscalls:sys_enter']);

    // syscall-times: one observation per timed call, their sum the total time, and the buckets
    // placing the slowest call where its duration says
    const h = byLabel(mem, 'tw_syscall_times_syscall_duration_seconds', 'syscall', (s) => s);
    const timed = times.syscalls.filter((s) => s.completed > 0);
    expect(timed.length).toBeGreaterThan(5);
    expect(Object.keys(h).sort()).toEqual(timed.map((s) => s.name).sort());
    expect(mem.snapshot()['tw_syscall_times_syscall_duration_seconds']!.buckets).toEqual(DURATION_BUCKETS);
    for (const s of timed) {
      const series = h[s.name]!;
      expect(series.count).toBe(s.completed);
      expect(series.sum).toBeCloseTo(s.totalNs / 1e9, 9);
      expect(series.buckets!['+Inf']).toBe(s.completed);
      const max = s.maxNs / 1e9;
      // every call fits the first bound at or above the slowest; the slowest does not fit below it
      const above = DURATION_BUCKETS.find((b) => b >= max);
      if (above !== undefined) expect(series.buckets![String(above)]).toBe(s.completed);
      const below = [...DURATION_BUCKETS].reverse().find((b) => b < max);
      if (below !== undefined) expect(series.buckets![String(below)]).toBeLessThan(s.completed);
    }
  });
});
