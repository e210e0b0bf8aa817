import { defineWatch, formatTable, type CounterMetric, type MetricLabels } from '@tw/core';
import { SYSCALL_ENTER_EVENTS, nameFromEvent, rawSyscallNr } from './syscall-source.js';

export interface SyscallsResult {
  total: number;
  counts: Record<string, number>;
  /** events the kernel lost (stored counts of dropped events): the result may miss some */
  lost: number;
}

/** ", N events lost" for a text summary, when the kernel lost any */
export function lostNote(lost: number): string {
  return lost > 0 ? `, ${lost} events lost` : '';
}

export function sortedCounts(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

export default defineWatch({
  name: 'syscalls',
  summary: 'System-wide syscall counts by name',
  description:
    'Counts syscall entries: raw_syscalls:sys_enter records when the trace has any, else syscalls:sys_enter_* records (never both, so nothing is counted twice).',
  examples: ['tw watch syscalls --input examples/sample.dat', 'tw watch syscalls --input trace.dat --json'],
  events: SYSCALL_ENTER_EVENTS,
  state: () => ({
    byNr: [] as number[],
    rawTotal: 0,
    byName: new Map<string, number>(),
    namedTotal: 0,
    /** calls_total, and its labels per syscall number / name (made once: this runs per syscall) */
    calls: undefined as CounterMetric | undefined,
    rawLabels: [] as MetricLabels[],
    namedLabels: new Map<string, MetricLabels>(),
    /** which family the metric counts: raw_syscalls where the trace has it (as the result does) */
    metricRaw: true,
  }),
  start(ctx) {
    // ~450 syscalls per architecture: the default bound of 500 would fold some on a machine
    // that also runs 32-bit programs, whose numbers differ
    ctx.state.calls = ctx.metrics.counter('calls_total', { help: 'Syscalls entered, by name', labels: ['syscall'], maxSeries: 1000 });
    ctx.state.metricRaw = ctx.has('raw_syscalls:sys_enter');
  },
  on: {
    'raw_syscalls:sys_enter'(e, ctx) {
      const s = ctx.state;
      const nr = rawSyscallNr(e);
      s.byNr[nr] = (s.byNr[nr] ?? 0) + 1;
      s.rawTotal++;
      if (s.metricRaw) s.calls?.inc((s.rawLabels[nr] ??= { syscall: ctx.syscallName(nr) }));
    },
    'syscalls:sys_enter_*'(e, ctx) {
      const s = ctx.state;
      const name = nameFromEvent(e.event);
      s.byName.set(name, (s.byName.get(name) ?? 0) + 1);
      s.namedTotal++;
      // a recording may hold both families: the metric, like the result, counts one of them
      if (!s.metricRaw) {
        let labels = s.namedLabels.get(name);
        if (labels === undefined) s.namedLabels.set(name, (labels = { syscall: name }));
        s.calls?.inc(labels);
      }
    },
  },
  end(ctx): SyscallsResult {
    const s = ctx.state;
    if (s.rawTotal === 0) return { total: s.namedTotal, counts: sortedCounts(s.byName), lost: ctx.lost };
    const m = new Map<string, number>();
    s.byNr.forEach((n, nr) => {
      const name = ctx.syscallName(nr);
      m.set(name, (m.get(name) ?? 0) + n);
    });
    return { total: s.rawTotal, counts: sortedCounts(m), lost: ctx.lost };
  },
  format(r) {
    return `${formatTable(Object.entries(r.counts), [
      { header: 'SYSCALL', value: (x) => x[0] },
      { header: 'COUNT', value: (x) => x[1] },
    ])}\n\ntotal ${r.total} syscalls${lostNote(r.lost)}`;
  },
});
