/**
 * pid → process facts (comm, tgid, ppid, exe), seeded from a trace's saved cmdlines/tgids (or
 * /proc when live) and kept current from the scheduler and task events as they stream by:
 * sched_process_fork/exec/exit, task_newtask, task_rename and sched_switch comms.
 * Exited processes stay resolvable (marked with their exit time).
 */
import type { EventFormat } from '../format/parse-format.js';
import type { FieldReader } from '../decode/read-field.js';
import type { ProcessInfo } from '../watch/define-watch.js';

const CLONE_THREAD = 0x10000;

/** A new task runs its creator's program with its arguments and its uid, until it execs. */
function inherit(child: ProcessInfo, from: ProcessInfo): void {
  if (child.exe === undefined) child.exe = from.exe;
  if (child.cmdline === undefined) child.cmdline = from.cmdline;
  if (child.uid === undefined) child.uid = from.uid;
}

/** The fields of the lifecycle events that hold names and paths (all others used are integers). */
const STRING_FIELDS = new Set(['prev_comm', 'next_comm', 'child_comm', 'comm', 'filename', 'newcomm']);

export class ProcessTable {
  private readonly procs = new Map<number, ProcessInfo>();
  /**
   * Called after an exec is applied (live: reads the new program's cmdline and uid from /proc
   * while the process still runs; a recording has its task table instead).
   */
  onExec: ((pid: number, exe: string) => Partial<Pick<ProcessInfo, 'cmdline' | 'uid'>>) | undefined;

  seed(cmdlines: Map<number, string>, tgids: Map<number, number>): void {
    for (const [pid, comm] of cmdlines) this.entry(pid).comm = comm;
    for (const [pid, tgid] of tgids) this.entry(pid).tgid = tgid;
  }

  private entry(pid: number): ProcessInfo {
    let p = this.procs.get(pid);
    if (!p) {
      p = { pid, comm: pid === 0 ? '<idle>' : '<...>', tgid: undefined, ppid: undefined, exe: undefined, cmdline: undefined, uid: undefined, exitedAt: undefined };
      this.procs.set(pid, p);
    }
    return p;
  }

  /** Facts about a pid; an unknown pid gets comm "<...>" (as trace-cmd prints it). */
  get(pid: number): ProcessInfo {
    return this.entry(pid);
  }

  has(pid: number): boolean {
    return this.procs.has(pid);
  }

  comm(pid: number): string {
    const p = this.procs.get(pid);
    return p ? p.comm : pid === 0 ? '<idle>' : '<...>';
  }

  set(pid: number, facts: Partial<Omit<ProcessInfo, 'pid'>>): void {
    Object.assign(this.entry(pid), facts);
  }

  /** The parent chain of a pid, nearest first (stops at unknown parents and at loops). */
  parents(pid: number): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    const seen = new Set<number>([pid]);
    let p = this.procs.get(pid);
    while (p && p.ppid !== undefined && !seen.has(p.ppid)) {
      seen.add(p.ppid);
      const parent = this.procs.get(p.ppid);
      if (!parent) break;
      out.push(parent);
      p = parent;
    }
    return out;
  }

  /** "pid<TAB>tgid<TAB>ppid<TAB>exe<TAB>uid<TAB>cmdline" lines for every pid with a known tgid (a recording's task table). */
  tasksText(): string {
    const lines: string[] = [];
    const text = (s: string | undefined) => (s ?? '').replace(/[\t\n]/g, ' ');
    for (const [pid, p] of this.procs) {
      if (p.tgid === undefined) continue;
      lines.push(`${pid}\t${p.tgid}\t${p.ppid ?? ''}\t${text(p.exe)}\t${p.uid ?? ''}\t${text(p.cmdline)}`);
    }
    return lines.join('\n') + '\n';
  }

  /** Every known pid with its comm (for a recording's saved cmdlines). */
  *comms(): IterableIterator<[number, string]> {
    for (const [pid, p] of this.procs) if (pid !== 0 && p.comm !== '<...>') yield [pid, p.comm];
  }

  /** Forget processes that exited before `before` (the live grace period). */
  prune(before: bigint): void {
    for (const [pid, p] of this.procs) if (p.exitedAt !== undefined && p.exitedAt < before) this.procs.delete(pid);
  }

  get size(): number {
    return this.procs.size;
  }

  /**
   * The updater for a format, or undefined when the format tells nothing about processes.
   * `read(name)` returns the field reader for one of the format's fields.
   */
  trackerFor(
    format: EventFormat,
    read: (name: string) => FieldReader | undefined,
  ): ((dv: DataView, buf: Uint8Array, rec: number, len: number, pid: number, ts: () => bigint) => void) | undefined {
    // A field is used only when its kind is the one the kernel gives it (a string where a name or
    // path is expected, an integer where a pid or flags are): a recording's format may say
    // anything, and a pid read as a string or a path read as a number must not reach the table.
    const byName = new Map(format.fields.map((x) => [x.name, x]));
    const f = (n: string) => {
      const x = byName.get(n);
      if (x === undefined) return undefined;
      const isString = x.kind === 'string' || x.kind === 'dyn-string' || x.kind === 'rel-string';
      // pids are 4 bytes; clone_flags a long
      const ok = STRING_FIELDS.has(n) ? isString : x.kind === 'int' && (x.size <= 4 || n === 'clone_flags');
      return ok ? read(n) : undefined;
    };
    const str = (r: FieldReader | undefined) => r as FieldReader;
    switch (format.fullName) {
      case 'sched:sched_switch': {
        const pc = f('prev_comm'), pp = f('prev_pid'), nc = f('next_comm'), np = f('next_pid');
        if (!pc || !pp || !nc || !np) return undefined;
        return (dv, buf, rec, len) => {
          const a = pp(dv, buf, rec, len) as number;
          if (a !== 0) this.entry(a).comm = pc(dv, buf, rec, len) as string;
          const b = np(dv, buf, rec, len) as number;
          if (b !== 0) this.entry(b).comm = nc(dv, buf, rec, len) as string;
        };
      }
      case 'sched:sched_process_fork': {
        const ppid = f('parent_pid'), cc = f('child_comm'), cp = f('child_pid');
        if (!ppid || !cp) return undefined;
        return (dv, buf, rec, len) => {
          const parent = ppid(dv, buf, rec, len) as number;
          const child = this.entry(cp(dv, buf, rec, len) as number);
          const par = this.procs.get(parent);
          if (cc) child.comm = str(cc)(dv, buf, rec, len) as string;
          if (child.ppid === undefined) child.ppid = parent;
          if (par) inherit(child, par);
          child.exitedAt = undefined;
        };
      }
      case 'task:task_newtask': {
        const np = f('pid'), nc = f('comm'), fl = f('clone_flags');
        if (!np) return undefined;
        return (dv, buf, rec, len, pid) => {
          const child = this.entry(np(dv, buf, rec, len) as number);
          if (nc) child.comm = nc(dv, buf, rec, len) as string;
          const flags = fl ? BigInt(fl(dv, buf, rec, len) as number | bigint) : 0n;
          const creator = this.entry(pid);
          if ((flags & BigInt(CLONE_THREAD)) !== 0n) {
            child.tgid = creator.tgid ?? pid;
            child.ppid = creator.ppid;
          } else {
            child.tgid = child.pid;
            child.ppid = creator.tgid ?? pid;
          }
          inherit(child, creator);
          child.exitedAt = undefined;
        };
      }
      case 'sched:sched_process_exec': {
        const fn = f('filename'), p = f('pid');
        if (!fn || !p) return undefined;
        return (dv, buf, rec, len) => {
          const e = this.entry(p(dv, buf, rec, len) as number);
          const exe = fn(dv, buf, rec, len) as string;
          e.exe = exe;
          e.comm = (exe.split('/').pop() ?? exe).slice(0, 15);
          e.tgid = e.pid;
          // a new program: the old arguments no longer apply (the uid stays: exec keeps the real uid)
          e.cmdline = undefined;
          if (this.onExec) Object.assign(e, this.onExec(e.pid, exe));
        };
      }
      case 'sched:sched_process_exit': {
        const p = f('pid');
        if (!p) return undefined;
        return (dv, buf, rec, len, _pid, ts) => {
          this.entry(p(dv, buf, rec, len) as number).exitedAt = ts();
        };
      }
      case 'task:task_rename': {
        const p = f('pid'), nc = f('newcomm');
        if (!nc) return undefined;
        return (dv, buf, rec, len, pid) => {
          const who = p ? (p(dv, buf, rec, len) as number) : pid;
          this.entry(who).comm = nc(dv, buf, rec, len) as string;
        };
      }
      default:
        return undefined;
    }
  }
}
