import { defineWatch, formatTable } from '@tw/core';
import { SYSCALL_ENTER_EVENTS, nameFromEvent, rawSyscallNr } from './syscall-source.js';
import { lostNote, sortedCounts } from './syscalls.js';

export interface SyscallsByPidResult {
  total: number;
  processes: Array<{ pid: number; comm: string; total: number; counts: Record<string, number> }>;
  /** events the kernel lost (stored counts of dropped events): the result may miss some */
  lost: number;
}

export default defineWatch({
  name: 'syscalls-by-pid',
  summary: 'Syscall counts per pid (with process name) per syscall name',
  examples: ['tw watch syscalls-by-pid --input examples/sample.dat', 'tw watch syscalls-by-pid --input trace.dat --json'],
  events: SYSCALL_ENTER_EVENTS,
  // Both families are tallied; the result uses raw_syscalls when it has any records.
  state: () => ({ raw: newTally(), named: newTally() }),
  on: {
    'raw_syscalls:sys_enter'(e, ctx) {
      count(ctx.state.raw, e.pid, e.comm, ctx.syscallName(rawSyscallNr(e)));
    },
    'syscalls:sys_enter_*'(e, ctx) {
      count(ctx.state.named, e.pid, e.comm, nameFromEvent(e.event));
    },
  },
  end(ctx): SyscallsByPidResult {
    const t = ctx.state.raw.total > 0 ? ctx.state.raw : ctx.state.named;
    const processes = [...t.pids]
      .map(([pid, p]) => ({ pid, comm: p.comm, total: p.total, counts: sortedCounts(p.counts) }))
      .sort((a, b) => b.total - a.total || a.pid - b.pid);
    return { total: t.total, processes, lost: ctx.lost };
  },
  format(r) {
    const rows = r.processes.flatMap((p) => Object.entries(p.counts).map(([name, n]) => ({ pid: p.pid, comm: p.comm, name, n })));
    return `${formatTable(rows, [
      { header: 'PID', value: (x) => x.pid },
      { header: 'COMM', value: (x) => x.comm },
      { header: 'SYSCALL', value: (x) => x.name },
      { header: 'COUNT', value: (x) => x.n },
    ])}\n\ntotal ${r.total} syscalls by ${r.processes.length} threads${lostNote(r.lost)}`;
  },
});

interface Tally {
  pids: Map<number, { comm: string; counts: Map<string, number>; total: number }>;
  total: number;
}

function newTally(): Tally {
  return { pids: new Map(), total: 0 };
}

function count(
  state: Tally,
  pid: number,
  comm: string,
  name: string,
): void {
  let p = state.pids.get(pid);
  if (!p) {
    p = { comm, counts: new Map(), total: 0 };
    state.pids.set(pid, p);
  }
  p.comm = comm;
  p.counts.set(name, (p.counts.get(name) ?? 0) + 1);
  p.total++;
  state.total++;
}
