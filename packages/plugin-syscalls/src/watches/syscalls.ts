import { defineWatch, formatTable } from '@tw/core';
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
  state: () => ({ byNr: [] as number[], rawTotal: 0, byName: new Map<string, number>(), namedTotal: 0 }),
  on: {
    'raw_syscalls:sys_enter'(e, ctx) {
      const nr = rawSyscallNr(e);
      ctx.state.byNr[nr] = (ctx.state.byNr[nr] ?? 0) + 1;
      ctx.state.rawTotal++;
    },
    'syscalls:sys_enter_*'(e, ctx) {
      const name = nameFromEvent(e.event);
      ctx.state.byName.set(name, (ctx.state.byName.get(name) ?? 0) + 1);
      ctx.state.namedTotal++;
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
