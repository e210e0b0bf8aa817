import { defineWatch, formatTable, TwError, type WatchContext, type WatchEvent } from '@tw/core';

const KEEP = 10_000;
/** a signal_generate this soon after the same thread's tw:kill of the same signal is that kill's delivery */
const SAME_KILL_NS = 10_000_000n;

const SIGNALS = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP',
  'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

export function signalName(sig: number): string {
  if (sig === 0) return '0 (existence check)';
  return SIGNALS[sig] ?? (sig >= 34 && sig <= 64 ? `SIGRTMIN+${sig - 34}` : `signal ${sig}`);
}

/** signal_generate's result field (TRACE_SIGNAL_*) */
const RESULTS = ['delivered', 'ignored', 'already pending', 'queue overflow', 'info lost'];

export interface SignalSent {
  ts: string;
  /** the sending thread, its process and command */
  pid: number;
  tgid: number;
  comm: string;
  sig: number;
  signal: string;
  /** kill(2) (the tw:kill probe, or tw:sys_kill where that cannot come up) or any signal generation (signal:signal_generate) */
  via: 'kill' | 'signal_generate';
  /** 'process': sent to the pid; 'group'/'all': a kill(2) to a process group or to every process, which may include it */
  scope: 'process' | 'group' | 'all';
  /** kill(2)'s raw target argument (via 'kill' only) */
  target?: number;
  /** delivery result (signal_generate only) */
  result?: string;
}

export interface WhoKilledResult {
  pid: number;
  total: number;
  signals: SignalSent[];
  bySender: Array<{ tgid: number; comm: string; signal: string; count: number }>;
  /** events the kernel lost (stored counts of dropped events): the result may miss some */
  lost: number;
  /** the process's exit (sched_process_exit of its last thread), when seen; null: it did not exit while watched */
  exited: { ts: string } | null;
  /** true when the watch ended itself because the process exited; false: Ctrl-C, --duration, the recording's end (or --keep-going) */
  answered: boolean;
}

interface State {
  signals: SignalSent[];
  total: number;
  bySender: Map<string, { tgid: number; comm: string; signal: string; count: number }>;
  /** the last kill(2) per sending thread, to drop the signal_generate events of the same kill(2) */
  lastKill: Map<number, { sig: number; ts: bigint; target: number }>;
  exited: { ts: string } | null;
  answered: boolean;
}

type Ctx = WatchContext<{ pid: number }, State>;

function record(e: WatchEvent, ctx: Ctx, s: Omit<SignalSent, 'ts' | 'pid' | 'tgid' | 'comm' | 'signal'> & { comm: string }): void {
  const st = ctx.state;
  const tgid = ctx.proc(e.pid).tgid || e.pid;
  const sent: SignalSent = { ts: e.ts.toString(), pid: e.pid, tgid, signal: signalName(s.sig), ...s };
  st.total++;
  if (st.signals.length < KEEP) st.signals.push(sent);
  const key = `${tgid}\0${sent.comm}\0${sent.sig}`;
  const b = st.bySender.get(key) ?? { tgid, comm: sent.comm, signal: sent.signal, count: 0 };
  b.count++;
  st.bySender.set(key, b);
  const who = `${sent.comm}[${tgid}${tgid !== e.pid ? `/${e.pid}` : ''}]`;
  const how = sent.scope === 'process' ? `to ${ctx.args.pid}` : sent.scope === 'group' ? `to process group ${sent.target === 0 ? '(its own)' : -(sent.target ?? 0)}` : 'to every process';
  ctx.alert(`${who} sent ${sent.signal} ${how}${sent.result ? ` (${sent.result})` : ''}`, { pid: e.pid });
}

/**
 * A thread's exit (sched:sched_process_exit): when the process itself is gone (its last thread, where
 * the kernel says so in group_dead; else its main thread) the question is answered, by the signals
 * reported so far or by none (it exited by itself): end, unless --keep-going.
 */
function onExit(e: WatchEvent, ctx: Ctx): void {
  const tid = Number(e.fields.pid);
  const groupDead = e.fields.group_dead;
  const gone = groupDead === undefined ? tid === ctx.args.pid : Number(groupDead) !== 0 && (ctx.proc(tid).tgid ?? tid) === ctx.args.pid;
  if (!gone) return;
  ctx.state.exited = { ts: e.ts.toString() };
  if (!ctx.keepGoing) {
    ctx.state.answered = true;
    ctx.stop();
  }
}

/** One kill(2) seen through tw:kill or tw:sys_kill (the same fields). */
function onKill(e: WatchEvent, ctx: Ctx): void {
  const target = Number(e.fields.target);
  const sig = Number(e.fields.sig);
  ctx.state.lastKill.set(e.pid, { sig, ts: e.ts, target });
  const scope = target === ctx.args.pid ? 'process' : target === -1 ? 'all' : target <= 0 ? 'group' : undefined;
  if (scope === undefined) return;
  const comm = typeof e.fields.comm === 'string' && e.fields.comm !== '' ? e.fields.comm : e.comm;
  record(e, ctx, { comm, sig, via: 'kill', scope, target });
}

export default defineWatch({
  name: 'who-killed',
  summary: 'Who sends signals to a process: sender pid/comm per signal (dynamic probe tw:kill, else tw:sys_kill; signal:signal_generate)',
  description:
    'Loads the kill probe (a kprobe on kill_something_info: every kill(2) with its raw target) and reports the ' +
    'signals sent to the pid, and kill(2) calls to process groups or to all processes, which may include it. ' +
    'Where that probe cannot be brought up (a kernel without kprobes or modules) it uses the sys_kill probe instead ' +
    '(the kill(2) syscall entry, also as a BPF program), told in the kernel to report only calls that can reach the pid. ' +
    'Without either probe, and for signals not sent by kill(2) (tkill, tgkill, pidfd_send_signal, the kernel), it ' +
    'uses the static signal:signal_generate event. It ends once the process has exited (after its fatal signal, or ' +
    'by itself: then no signal is reported); with --keep-going it reports every signal until Ctrl-C or --duration.',
  examples: ['tw watch who-killed 1234', 'tw watch who-killed 1234 --input trace.dat --json'],
  args: {
    pid: { type: 'integer', required: true, description: 'the process that receives the signals' },
  },
  // tw:kill when that probe comes up, else tw:sys_kill (not brought up once tw:kill is), else the
  // alternative resolves to signal_generate again; and signal_generate always: it also sees
  // tkill, tgkill, pidfd_send_signal and the kernel's own
  // sched_process_exit: the process's end answers the question
  events: ['tw:kill|tw:sys_kill|signal:signal_generate', 'signal:signal_generate', 'sched:sched_process_exit'],
  probes: ['kill', 'sys_kill'],
  filter: (args) => ({
    'tw:kill': `target == ${args.pid} || target <= 0`,
    'signal:signal_generate': `pid == ${args.pid}`,
  }),
  // tw:sys_kill filters by its parameter on every backend (a BPF probe has no tracefs filter)
  probeParams: (args) => ({ sys_kill: { watch_pid: args.pid } }),
  // the session accepts a trace with any declared event; sched_process_exit alone shows no signal
  start(ctx) {
    const signals = ['tw:kill', 'tw:sys_kill', 'signal:signal_generate'];
    if (!signals.some((e) => ctx.has(e))) {
      throw new TwError('UNKNOWN_EVENT', `watch 'who-killed' needs one of the events ${signals.join(', ')}, and this trace has none of them`);
    }
  },
  state: (): State => ({ signals: [], total: 0, bySender: new Map(), lastKill: new Map(), exited: null, answered: false }),
  on: {
    'tw:kill'(e, ctx) {
      onKill(e, ctx);
    },
    // where tw:kill cannot be brought up: the syscall entry (same fields)
    'tw:sys_kill'(e, ctx) {
      onKill(e, ctx);
    },
    'signal:signal_generate'(e, ctx) {
      const target = Number(e.fields.pid);
      if (target !== ctx.args.pid && ctx.proc(target).tgid !== ctx.args.pid) return;
      const sig = Number(e.fields.sig);
      const k = ctx.state.lastKill.get(e.pid);
      if (k && k.sig === sig && e.ts >= k.ts && e.ts - k.ts < SAME_KILL_NS) {
        // the delivery of a kill(2) already reported from tw:kill or tw:sys_kill
        if (k.target > 0) ctx.state.lastKill.delete(e.pid);
        return;
      }
      const r = Number(e.fields.result);
      record(e, ctx, { comm: e.comm, sig, via: 'signal_generate', scope: 'process', result: RESULTS[r] ?? `result ${r}` });
    },
    'sched:sched_process_exit'(e, ctx) {
      onExit(e, ctx);
    },
  },
  end(ctx): WhoKilledResult {
    const s = ctx.state;
    return {
      pid: ctx.args.pid,
      total: s.total,
      signals: s.signals,
      bySender: [...s.bySender.values()].sort((a, b) => b.count - a.count || a.tgid - b.tgid),
      lost: ctx.lost,
      exited: s.exited,
      answered: s.answered,
    };
  },
  format(r) {
    const lost = r.lost > 0 ? ` (${r.lost} events lost)` : '';
    const exited = r.exited !== null ? `; ${r.pid} exited` : '';
    if (r.total === 0) return `no signals sent to ${r.pid}${exited}${lost}`;
    return `${formatTable(r.bySender, [
      { header: 'PID', value: (x) => x.tgid },
      { header: 'COMM', value: (x) => x.comm },
      { header: 'SIGNAL', value: (x) => x.signal },
      { header: 'COUNT', value: (x) => x.count },
    ])}\n\n${r.total} signal(s) to ${r.pid}${exited}${lost}`;
  },
});
