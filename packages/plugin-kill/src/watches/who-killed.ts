import { defineWatch, formatTable, PID_MAX_LIMIT, TwError, type WatchContext, type WatchEvent } from '@tw/core';

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

const SIGKILL = 9;
/** signals whose default action is not to end the process: ignore (CHLD, URG, WINCH), continue, stop */
const NOT_FATAL_BY_DEFAULT = new Set([0, 17, 18, 19, 20, 21, 22, 23, 28]);

/** Whether a signal ends the process when it is not handled (its default action terminates, with or without a core). */
export function fatalByDefault(sig: number): boolean {
  return sig >= 1 && sig <= 64 && !NOT_FATAL_BY_DEFAULT.has(sig);
}

/** signal_generate's result field (TRACE_SIGNAL_*) */
const RESULTS = ['delivered', 'ignored', 'already pending', 'queue overflow', 'info lost'];

/**
 * How a signal was sent, from siginfo's si_code (signal_generate's `code`) and, for SI_USER,
 * whether the kill probe saw a kill(2) from the same thread just before.
 */
export type Via = 'kill' | 'pidfd_send_signal' | 'user' | 'tkill' | 'sigqueue' | 'timer' | 'kernel' | 'other';

/** si_code values (include/uapi/asm-generic/siginfo.h) */
const SI_USER = 0;
const SI_KERNEL = 0x80;
const SI_QUEUE = -1;
const SI_TIMER = -2;
const SI_TKILL = -6;

function viaOf(code: number): Via {
  if (code === SI_USER) return 'user';
  if (code === SI_TKILL) return 'tkill';
  if (code === SI_QUEUE) return 'sigqueue';
  if (code === SI_TIMER) return 'timer';
  // SI_KERNEL (the OOM killer, a dying parent's pdeath signal, ...) and positive codes: faults
  // (SEGV_*, BUS_*, FPE_*, ILL_*, TRAP_*), SIGCHLD's CLD_*, SIGIO's POLL_*, seccomp's SYS_*
  if (code === SI_KERNEL || code > 0) return 'kernel';
  return 'other';
}

const VIA_TEXT: Record<Via, string> = {
  kill: 'kill(2)',
  pidfd_send_signal: 'pidfd_send_signal(2)',
  user: 'kill(2) or pidfd_send_signal(2)',
  tkill: 'tkill(2)/tgkill(2)',
  sigqueue: 'sigqueue(3)/rt_sigqueueinfo(2)',
  timer: 'a POSIX timer',
  kernel: 'the kernel',
  other: 'another source',
};

export interface SignalSent {
  ts: string;
  /** the sending thread, its process and command (for via 'kernel': the task the kernel was running for) */
  pid: number;
  tgid: number;
  comm: string;
  sig: number;
  signal: string;
  /** how it was sent: kill(2) (seen by the tw:kill/tw:sys_kill probe), tkill/tgkill, sigqueue, pidfd_send_signal (SI_USER with no kill(2) before it, the probe being up), user (SI_USER, the probe not up), a timer, the kernel itself (faults, the OOM killer, SIGCHLD), other */
  via: Via;
  /** siginfo's si_code as the kernel recorded it (absent for a kill(2) seen only by the probe) */
  code?: number;
  /** 'process': sent to the process (or one of its threads); 'group'/'all': a kill(2) to a process group or to every process, which reached it */
  scope: 'process' | 'group' | 'all';
  /** kill(2)'s raw target argument (via 'kill' only) */
  target?: number;
  /** the thread that received it, and its command */
  to: number;
  toComm: string;
  /** delivery result: delivered, ignored, already pending, queue overflow, info lost; or, for a kill(2) the kernel did not act on, 'not sent: ...' */
  result: string;
  /** true for the signal that ended the process (set once its delivery shows that) */
  fatal?: boolean;
}

export interface WhoKilledResult {
  /** the pid watched, or null when watching by name */
  pid: number | null;
  /** the command name watched, or null when watching a pid */
  name: string | null;
  /** --fatal: only the signals that ended the process were reported */
  fatalOnly: boolean;
  total: number;
  signals: SignalSent[];
  bySender: Array<{ tgid: number; comm: string; signal: string; count: number }>;
  /** the signal that ended the process, when its delivery was seen */
  killedBy: SignalSent | null;
  /** events the kernel lost (stored counts of dropped events): the result may miss some */
  lost: number;
  /** the process's exit (sched_process_exit of its last thread), when seen; null: it did not exit while watched */
  exited: { ts: string; pid: number; comm: string } | null;
  /** true when the watch ended itself because the process exited; false: Ctrl-C, --duration, the recording's end (or --keep-going) */
  answered: boolean;
}

interface PendingKill {
  sig: number;
  ts: bigint;
  target: number;
  comm: string;
  /** a signal_generate of this kill(2) was seen (it may reach several processes: keep it for the window) */
  generated: boolean;
}

interface State {
  signals: SignalSent[];
  total: number;
  bySender: Map<string, { tgid: number; comm: string; signal: string; count: number }>;
  /** the last kill(2) per sending thread, joined to the signal_generate events it causes */
  kills: Map<number, PendingKill>;
  /** --fatal (and killedBy): signals sent to a process that would end it unless handled, by its tgid, oldest first */
  candidates: Map<number, SignalSent[]>;
  /** processes a signal was reported for (the name form ends on the exit of one of them) */
  signalled: Set<number>;
  killedBy: SignalSent | null;
  exited: WhoKilledResult['exited'];
  answered: boolean;
}

interface Args {
  target: string;
  fatal?: boolean;
}

type Ctx = WatchContext<Args, State>;

/** the metrics (declared in start(); a signal is rare enough to look the handle up each time) */
const culpritsTotal = (ctx: Ctx) => ctx.metrics.counter('culprits_total', { help: "Signals reported, by the sender's command name", labels: ['comm'], maxSeries: 100 });
const signalsTotal = (ctx: Ctx) => ctx.metrics.counter('signals_total', { help: 'Signals reported, by signal and how it was sent', labels: ['signal', 'via'] });

/** The watched pid, or undefined for a name. */
function pidOf(args: Args): number | undefined {
  return /^\d+$/.test(args.target) ? Number(args.target) : undefined;
}

/** Whether thread `tid` (named `comm`) belongs to what is watched: the pid's process, or a process of that name. */
function watched(ctx: Ctx, tid: number, comm: string): boolean {
  const pid = pidOf(ctx.args);
  if (pid === undefined) return comm === ctx.args.target;
  return tid === pid || ctx.proc(tid).tgid === pid;
}

function tgidOf(ctx: Ctx, tid: number): number {
  return ctx.proc(tid).tgid || tid;
}

function describeTarget(ctx: Ctx, s: SignalSent): string {
  if (s.scope === 'group') return `to process group ${s.target === 0 ? '(its own)' : -(s.target ?? 0)}, which reached ${s.toComm}[${s.to}]`;
  if (s.scope === 'all') return `to every process, which reached ${s.toComm}[${s.to}]`;
  const pid = pidOf(ctx.args);
  if (pid === undefined) return `to ${s.toComm}[${tgidOf(ctx, s.to)}${tgidOf(ctx, s.to) !== s.to ? `/${s.to}` : ''}]`;
  return `to ${pid}${s.to !== pid ? ` (thread ${s.to})` : ''}`;
}

/** Count and alert one signal (what --fatal reports only once its delivery shows it fatal). */
function report(ctx: Ctx, sent: SignalSent): void {
  const st = ctx.state;
  st.total++;
  if (st.signals.length < KEEP) st.signals.push(sent);
  st.signalled.add(tgidOf(ctx, sent.to));
  const key = `${sent.tgid}\0${sent.comm}\0${sent.sig}`;
  const b = st.bySender.get(key) ?? { tgid: sent.tgid, comm: sent.comm, signal: sent.signal, count: 0 };
  b.count++;
  st.bySender.set(key, b);
  culpritsTotal(ctx).inc({ comm: sent.comm });
  signalsTotal(ctx).inc({ signal: sent.signal, via: sent.via });
  const self = `${sent.comm}[${sent.tgid}${sent.tgid !== sent.pid ? `/${sent.pid}` : ''}]`;
  const who = sent.via === 'kernel' ? `the kernel (in ${self})` : self;
  const how = sent.via === 'kill' || sent.via === 'kernel' ? '' : ` by ${VIA_TEXT[sent.via]}`;
  const fatal = sent.fatal ? ', fatal' : '';
  ctx.alert(`${who} sent ${sent.signal} ${describeTarget(ctx, sent)}${how} (${sent.result}${fatal})`, {
    pid: sent.pid,
    details: { signal: sent.signal, sig: sent.sig, via: sent.via, result: sent.result, to: sent.to, fatal: sent.fatal === true },
  });
}

/**
 * A signal has been generated for a watched thread: report it now, or (--fatal) keep it as a
 * candidate until the process's delivery says whether it was fatal.
 */
function generated(ctx: Ctx, sent: SignalSent): void {
  const st = ctx.state;
  const tgid = tgidOf(ctx, sent.to);
  if (sent.result === 'delivered' && fatalByDefault(sent.sig)) {
    const list = st.candidates.get(tgid) ?? [];
    list.push(sent);
    st.candidates.set(tgid, list);
  }
  if (!ctx.args.fatal) report(ctx, sent);
}

/** A kill(2) that never led to a signal_generate (refused, no such process, or signal 0): reported when it was aimed at the pid. */
function settleKill(ctx: Ctx, tid: number, k: PendingKill): void {
  ctx.state.kills.delete(tid);
  const pid = pidOf(ctx.args);
  if (k.generated || ctx.args.fatal || pid === undefined || k.target !== pid || k.sig === 0) return;
  report(ctx, {
    ts: k.ts.toString(), pid: tid, tgid: tgidOf(ctx, tid), comm: k.comm, sig: k.sig, signal: signalName(k.sig), via: 'kill',
    scope: 'process', target: k.target, to: pid, toComm: ctx.proc(pid).comm, result: 'not sent: refused or no such process',
  });
}

/** Settle the kill(2) calls whose window has passed (before handling an event at `now`). */
function settleKills(ctx: Ctx, now: bigint): void {
  for (const [tid, k] of ctx.state.kills) if (now - k.ts >= SAME_KILL_NS) settleKill(ctx, tid, k);
}

/** One kill(2) seen through tw:kill or tw:sys_kill (the same fields). */
function onKill(e: WatchEvent, ctx: Ctx): void {
  const prev = ctx.state.kills.get(e.pid);
  if (prev) settleKill(ctx, e.pid, prev);
  const comm = typeof e.fields.comm === 'string' && e.fields.comm !== '' ? e.fields.comm : e.comm;
  const k: PendingKill = { sig: Number(e.fields.sig), ts: e.ts, target: Number(e.fields.target), comm, generated: false };
  if (ctx.has('signal:signal_generate')) {
    ctx.state.kills.set(e.pid, k);
    return;
  }
  // a trace without signal_generate: the probe's event is all there is
  const pid = pidOf(ctx.args);
  const scope = k.target === pid ? 'process' : k.target === -1 ? 'all' : k.target <= 0 ? 'group' : undefined;
  if (scope === undefined || pid === undefined) return;
  report(ctx, {
    ts: e.ts.toString(), pid: e.pid, tgid: tgidOf(ctx, e.pid), comm, sig: k.sig, signal: signalName(k.sig), via: 'kill',
    scope, target: k.target, to: pid, toComm: ctx.proc(pid).comm, result: 'unknown: no signal_generate in this trace',
  });
}

function onGenerate(e: WatchEvent, ctx: Ctx): void {
  const to = Number(e.fields.pid);
  const toComm = String(e.fields.comm ?? '');
  if (!watched(ctx, to, toComm)) return;
  const sig = Number(e.fields.sig);
  const code = Number(e.fields.code ?? SI_USER);
  const r = Number(e.fields.result);
  let via = viaOf(code);
  let scope: SignalSent['scope'] = 'process';
  let target: number | undefined;
  let comm = e.comm;
  const k = ctx.state.kills.get(e.pid);
  if (via === 'user' && k && k.sig === sig && e.ts >= k.ts && e.ts - k.ts < SAME_KILL_NS) {
    // the delivery of a kill(2) the probe saw: its raw target says whether it went to a group
    k.generated = true;
    via = 'kill';
    target = k.target;
    scope = k.target === -1 ? 'all' : k.target <= 0 ? 'group' : 'process';
    comm = k.comm;
  } else if (via === 'user' && (ctx.has('tw:kill') || ctx.has('tw:sys_kill'))) {
    via = 'pidfd_send_signal';
  }
  generated(ctx, {
    ts: e.ts.toString(), pid: e.pid, tgid: tgidOf(ctx, e.pid), comm, sig, signal: signalName(sig), via, code, scope,
    ...(target !== undefined ? { target } : {}), to, toComm: toComm || ctx.proc(to).comm, result: RESULTS[r] ?? `result ${r}`,
  });
}

/**
 * A thread of a watched process takes a signal (signal:signal_deliver runs in the receiver):
 * with the default action of a fatal signal, or SIGKILL (which is also what the kernel turns an
 * unhandled fatal signal into for every thread), the process dies of it. The signal that killed
 * it is the candidate of that number, else (SIGKILL for another fatal signal) the latest one.
 */
function onDeliver(e: WatchEvent, ctx: Ctx): void {
  if (!watched(ctx, e.pid, e.comm)) return;
  const tgid = tgidOf(ctx, e.pid);
  const list = ctx.state.candidates.get(tgid);
  if (!list || list.length === 0) return;
  const sig = Number(e.fields.sig);
  const handler = BigInt((e.fields.sa_handler as bigint | number | undefined) ?? 0);
  if (sig !== SIGKILL && (handler !== 0n || !fatalByDefault(sig))) {
    // handled or ignored: that one did not kill it
    const i = list.findIndex((c) => c.sig === sig);
    if (i >= 0) list.splice(i, 1);
    return;
  }
  const i = list.map((c) => c.sig).lastIndexOf(sig);
  const culprit = list[i >= 0 ? i : list.length - 1]!;
  ctx.state.candidates.delete(tgid);
  killed(ctx, culprit);
}

function killed(ctx: Ctx, culprit: SignalSent): void {
  culprit.fatal = true;
  if (ctx.state.killedBy === null) ctx.state.killedBy = culprit;
  if (ctx.args.fatal) report(ctx, culprit);
}

/**
 * A thread's exit (sched:sched_process_exit): when the process itself is gone (its last thread, where
 * the kernel says so in group_dead; else its main thread) the question is answered: by the signals
 * reported so far or by none (it exited by itself). By name: once a process of that name that was
 * sent a signal is gone. End then, unless --keep-going.
 */
function onExit(e: WatchEvent, ctx: Ctx): void {
  const tid = Number(e.fields.pid);
  const comm = String(e.fields.comm ?? e.comm);
  const groupDead = e.fields.group_dead;
  const tgid = tgidOf(ctx, tid);
  const pid = pidOf(ctx.args);
  const gone = groupDead === undefined ? (pid !== undefined ? tid === pid : tid === tgid && comm === ctx.args.target) : Number(groupDead) !== 0 && watched(ctx, tid, comm);
  if (!gone) return;
  // a SIGKILL whose delivery was not seen (it can end a process before any thread takes it)
  const list = ctx.state.candidates.get(tgid);
  ctx.state.candidates.delete(tgid);
  const sigkill = list?.filter((c) => c.sig === SIGKILL).pop();
  if (sigkill) killed(ctx, sigkill);
  if (pid === undefined && !ctx.state.signalled.has(tgid)) return;
  ctx.state.exited = { ts: e.ts.toString(), pid: tgid, comm };
  if (!ctx.keepGoing) {
    ctx.state.answered = true;
    ctx.stop();
  }
}

/** A target is a pid (1 … PID_MAX_LIMIT) or a command name (1 to 15 characters, as the kernel keeps it). */
function checkTarget(target: string): string | undefined {
  if (/^\d+$/.test(target)) return Number(target) >= 1 && Number(target) <= PID_MAX_LIMIT ? undefined : `must be a pid from 1 to ${PID_MAX_LIMIT} or a command name`;
  if (target.length === 0 || target.length > 15) return 'must be a pid or a command name of 1 to 15 characters';
  return undefined;
}

export default defineWatch({
  name: 'who-killed',
  summary: 'Who sends signals to a process (pid or name): every sender, the signal, how and the delivery result; ends when it has died',
  description:
    'Reports every signal sent to the process, whoever sent it: kill(2), tkill(2)/tgkill(2) (a kill from a thread, ' +
    'pthread_kill, raise), sigqueue, pidfd_send_signal(2), a POSIX timer, and the kernel itself (a fault such as ' +
    'SIGSEGV, the OOM killer, SIGCHLD), each with the delivery result (delivered, ignored, already pending). The ' +
    'static signal:signal_generate event sees them all, in the sender; the kill probe (a kprobe on ' +
    'kill_something_info, else the kill(2) syscall entry tw:sys_kill, also as a BPF program) adds what kill(2) was ' +
    'aimed at (a process group, every process) and a kill(2) the kernel refused. A target that is not a number is a ' +
    'command name: every process of that name, also ones started later. --fatal reports only the signal that ended ' +
    'the process (its delivery, signal:signal_deliver, shows it unhandled, or SIGKILL). It ends once the process has ' +
    'exited (after its fatal signal, or by itself: then no signal is reported); by name, once a process of that name ' +
    'that was sent a signal has exited. With --keep-going it reports every signal until Ctrl-C or --duration.',
  examples: [
    'tw watch who-killed 1234',
    'tw watch who-killed nginx --fatal --keep-going',
    'tw watch who-killed 1234 --input trace.dat --json',
  ],
  args: {
    target: { type: 'string', required: true, check: checkTarget, description: 'the process: its pid, or a command name (as ps -o comm shows it, 15 characters at most)' },
    fatal: { type: 'boolean', option: true, description: 'report only the signal that ended the process' },
  },
  // tw:kill when that probe comes up, else tw:sys_kill (not brought up once tw:kill is), else the
  // alternative resolves to signal_generate again; signal_generate always: it is every signal,
  // in the sender; signal_deliver: in the receiver, whether the signal was handled (what
  // --fatal needs); sched_process_exit: the process's end answers the question
  events: ['tw:kill|tw:sys_kill|signal:signal_generate', 'signal:signal_generate', 'signal:signal_deliver', 'sched:sched_process_exit'],
  probes: ['kill', 'sys_kill'],
  filter: (args) => {
    const pid = pidOf(args);
    // by pid, signal_generate is not filtered: a signal to another thread of the process has that thread's id
    if (pid !== undefined) return { 'tw:kill': `target == ${pid} || target <= 0` };
    return /^[A-Za-z0-9_.:+@-]{1,15}$/.test(args.target) ? { 'signal:signal_generate': `comm == "${args.target}"` } : {};
  },
  // tw:sys_kill filters by its parameter on every backend (a BPF probe has no tracefs filter)
  probeParams: (args) => ({ sys_kill: { watch_pid: pidOf(args) ?? 0 } }),
  // the session accepts a trace with any declared event; sched_process_exit alone shows no signal
  start(ctx) {
    const signals = ['tw:kill', 'tw:sys_kill', 'signal:signal_generate'];
    if (!signals.some((e) => ctx.has(e))) {
      throw new TwError('UNKNOWN_EVENT', `watch 'who-killed' needs one of the events ${signals.join(', ')}, and this trace has none of them`);
    }
    if (pidOf(ctx.args) === undefined && ctx.args.target.length > 15) {
      throw new TwError('BAD_ARGUMENT', `watch 'who-killed': '${ctx.args.target}' is longer than a command name can be (15 characters: the kernel's comm); give the name as ps -o comm shows it`);
    }
    if (ctx.args.fatal && !ctx.has('signal:signal_deliver') && !ctx.has('sched:sched_process_exit')) {
      throw new TwError('UNKNOWN_EVENT', "watch 'who-killed' --fatal needs signal:signal_deliver or sched:sched_process_exit, and this trace has neither");
    }
    culpritsTotal(ctx);
    signalsTotal(ctx);
  },
  state: (): State => ({ signals: [], total: 0, bySender: new Map(), kills: new Map(), candidates: new Map(), signalled: new Set(), killedBy: null, exited: null, answered: false }),
  on: {
    'tw:kill'(e, ctx) {
      settleKills(ctx, e.ts);
      onKill(e, ctx);
    },
    // where tw:kill cannot be brought up: the syscall entry (same fields)
    'tw:sys_kill'(e, ctx) {
      settleKills(ctx, e.ts);
      onKill(e, ctx);
    },
    'signal:signal_generate'(e, ctx) {
      settleKills(ctx, e.ts);
      onGenerate(e, ctx);
    },
    'signal:signal_deliver'(e, ctx) {
      settleKills(ctx, e.ts);
      onDeliver(e, ctx);
    },
    'sched:sched_process_exit'(e, ctx) {
      settleKills(ctx, e.ts);
      onExit(e, ctx);
    },
  },
  end(ctx): WhoKilledResult {
    const s = ctx.state;
    for (const [tid, k] of s.kills) settleKill(ctx, tid, k);
    const pid = pidOf(ctx.args);
    return {
      pid: pid ?? null,
      name: pid === undefined ? ctx.args.target : null,
      fatalOnly: ctx.args.fatal === true,
      total: s.total,
      signals: s.signals,
      bySender: [...s.bySender.values()].sort((a, b) => b.count - a.count || a.tgid - b.tgid),
      killedBy: s.killedBy,
      lost: ctx.lost,
      exited: s.exited,
      answered: s.answered,
    };
  },
  format(r) {
    const lost = r.lost > 0 ? ` (${r.lost} events lost)` : '';
    const what = r.pid !== null ? String(r.pid) : `processes named ${r.name}`;
    const exited = r.exited !== null ? `; ${r.exited.comm}[${r.exited.pid}] exited${r.killedBy ? ` of ${r.killedBy.signal} from ${r.killedBy.comm}[${r.killedBy.tgid}]` : ''}` : '';
    if (r.total === 0) return `no ${r.fatalOnly ? 'fatal ' : ''}signals sent to ${what}${exited}${lost}`;
    return `${formatTable(r.bySender, [
      { header: 'PID', value: (x) => x.tgid },
      { header: 'COMM', value: (x) => x.comm },
      { header: 'SIGNAL', value: (x) => x.signal },
      { header: 'COUNT', value: (x) => x.count },
    ])}\n\n${r.total} ${r.fatalOnly ? 'fatal ' : ''}signal(s) to ${what}${exited}${lost}`;
  },
});
