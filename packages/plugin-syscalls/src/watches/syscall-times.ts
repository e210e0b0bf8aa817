import { defineWatch, formatTable, PID_MAX_LIMIT, type HistogramMetric, type MetricLabels, type WatchContext, type WatchEvent } from '@tw/core';
import { SYSCALL_EVENTS, nameFromEvent, rawSyscallNr } from './syscall-source.js';
import { lostNote } from './syscalls.js';

export interface SyscallTime {
  name: string;
  calls: number;
  /** calls whose exit was seen (the ones timed) */
  completed: number;
  totalNs: number;
  avgNs: number;
  maxNs: number;
}

export interface SyscallTimesResult {
  pid: number;
  comm: string;
  total: number;
  syscalls: SyscallTime[];
  /** events the kernel lost (stored counts of dropped events): the result may miss some */
  lost: number;
}

interface Tally {
  /** thread id → the syscall it is in: name and entry time */
  pending: Map<number, { name: string; ts: bigint }>;
  stats: Map<string, { calls: number; completed: number; total: bigint; max: bigint; labels: MetricLabels }>;
  /** the metric observes this family's calls (the one the result uses: raw_syscalls where the trace has it) */
  timed: boolean;
}

/** 1 µs to 1 s: a cached syscall takes a microsecond or two, a blocking one up to seconds (+Inf) */
export const DURATION_BUCKETS = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Both event families are tallied; the result uses raw_syscalls when it has any records. */
interface State {
  raw: Tally;
  named: Tally;
  comm: string;
  duration: HistogramMetric | undefined;
}

type Ctx = WatchContext<{ pid: number }, State>;

/** Does this thread belong to the process we watch (the pid itself, or one of its threads)? */
function ours(e: WatchEvent, ctx: Ctx): boolean {
  const pid = ctx.args.pid;
  return e.pid === pid || ctx.proc(e.pid).tgid === pid;
}

function enter(e: WatchEvent, ctx: Ctx, s: Tally, name: string): void {
  ctx.state.comm = ctx.proc(ctx.args.pid).comm;
  let st = s.stats.get(name);
  if (!st) {
    st = { calls: 0, completed: 0, total: 0n, max: 0n, labels: { syscall: name } };
    s.stats.set(name, st);
  }
  st.calls++;
  s.pending.set(e.pid, { name, ts: e.ts });
}

function exit(e: WatchEvent, ctx: Ctx, s: Tally, name: string): void {
  const p = s.pending.get(e.pid);
  if (!p || p.name !== name) return;
  s.pending.delete(e.pid);
  const d = e.ts - p.ts;
  const st = s.stats.get(name)!;
  st.completed++;
  st.total += d;
  if (d > st.max) st.max = d;
  if (s.timed) ctx.state.duration?.observe(st.labels, Number(d) / 1e9);
}

export default defineWatch({
  name: 'syscall-times',
  summary: 'Per syscall of one process: calls and total/avg/max time (from enter/exit pairs per thread)',
  description:
    'Pairs each thread\'s syscall entry with its exit (raw_syscalls:sys_enter/sys_exit, or syscalls:sys_enter_*/sys_exit_*). ' +
    'The process is the pid and every thread whose thread-group id is that pid. Calls still in progress at the end of the trace count as calls but are not timed.',
  examples: ['tw watch syscall-times 1234 --input trace.dat', 'tw watch syscall-times 1234 --input trace.dat --json'],
  args: { pid: { type: 'integer', required: true, min: 1, max: PID_MAX_LIMIT, description: 'the process to time (its threads included)' } },
  events: SYSCALL_EVENTS,
  state: (): State => ({ raw: { pending: new Map(), stats: new Map(), timed: true }, named: { pending: new Map(), stats: new Map(), timed: false }, comm: '', duration: undefined }),
  start(ctx) {
    ctx.state.comm = ctx.proc(ctx.args.pid).comm;
    ctx.state.duration = ctx.metrics.histogram('syscall_duration_seconds', { help: "Time from a syscall's entry to its exit in the watched process, by syscall", labels: ['syscall'], buckets: DURATION_BUCKETS });
    // a recording may hold both families: the metric, like the result, times one of them
    const raw = ctx.has('raw_syscalls:sys_enter') && ctx.has('raw_syscalls:sys_exit');
    ctx.state.raw.timed = raw;
    ctx.state.named.timed = !raw;
  },
  on: {
    'raw_syscalls:sys_enter'(e, ctx) {
      if (ours(e, ctx)) enter(e, ctx, ctx.state.raw, ctx.syscallName(rawSyscallNr(e)));
    },
    'raw_syscalls:sys_exit'(e, ctx) {
      if (ours(e, ctx)) exit(e, ctx, ctx.state.raw, ctx.syscallName(rawSyscallNr(e)));
    },
    'syscalls:sys_enter_*'(e, ctx) {
      if (ours(e, ctx)) enter(e, ctx, ctx.state.named, nameFromEvent(e.event));
    },
    'syscalls:sys_exit_*'(e, ctx) {
      if (ours(e, ctx)) exit(e, ctx, ctx.state.named, nameFromEvent(e.event));
    },
  },
  end(ctx): SyscallTimesResult {
    const t = ctx.state.raw.stats.size > 0 ? ctx.state.raw : ctx.state.named;
    const syscalls = [...t.stats]
      .map(([name, s]) => ({
        name,
        calls: s.calls,
        completed: s.completed,
        totalNs: Number(s.total),
        avgNs: s.completed ? Math.round(Number(s.total) / s.completed) : 0,
        maxNs: Number(s.max),
      }))
      .sort((a, b) => b.calls - a.calls || b.totalNs - a.totalNs || a.name.localeCompare(b.name));
    return { pid: ctx.args.pid, comm: ctx.state.comm, total: syscalls.reduce((n, s) => n + s.calls, 0), syscalls, lost: ctx.lost };
  },
  format(r) {
    const us = (ns: number) => (ns / 1000).toFixed(3);
    return `pid ${r.pid} (${r.comm}): ${r.total} syscalls${lostNote(r.lost)}\n\n${formatTable(r.syscalls, [
      { header: 'SYSCALL', value: (x) => x.name },
      { header: 'CALLS', value: (x) => x.calls },
      { header: 'TOTAL_us', value: (x) => Number(us(x.totalNs)) },
      { header: 'AVG_us', value: (x) => Number(us(x.avgNs)) },
      { header: 'MAX_us', value: (x) => Number(us(x.maxNs)) },
    ])}`;
  },
});
