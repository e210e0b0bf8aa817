import { statSync } from 'node:fs';
import { defineWatch, formatTable, type CulpritFacts } from '@tw/core';
import { userDevToKernel } from '@tw/probe-spec';

const KEEP = 10_000;

export interface Modification {
  ts: string;
  pid: number;
  tgid: number;
  comm: string;
  /** open(2) flags, decoded (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND) */
  flags: string;
  /** the path as the probe saw it: full, or inside its filesystem where the probe could not cross mounts */
  path: string;
}

export interface WhoModifiedResult {
  path: string;
  /** how events were matched: by inode (the file exists here) or by path suffix */
  matchedBy: 'inode' | 'path';
  ino: string | null;
  total: number;
  opens: Modification[];
  byProcess: Array<{ tgid: number; comm: string; count: number }>;
  /** events the kernel lost (stored counts of dropped events): the result may miss some */
  lost: number;
  /** true when the watch ended itself on its first culprit; false: it ran until Ctrl-C, --duration or the recording's end (or --keep-going) */
  answered: boolean;
}

interface Target {
  ino?: bigint;
  /** kernel dev_t (MAJOR << 20 | MINOR), as the probe records it */
  dev?: number;
}

/** The file's inode and device, when it exists on this machine. */
function locate(path: string): Target {
  try {
    const st = statSync(path, { bigint: true });
    return { ino: st.ino, dev: userDevToKernel(st.dev) };
  } catch {
    return {};
  }
}

/** The culprit facts a probe event carries (fields comm, ppid, uid, cmdline, where the probe has them). */
function culpritFacts(f: Readonly<Record<string, unknown>>): CulpritFacts {
  const out: CulpritFacts = {};
  if (typeof f.comm === 'string' && f.comm !== '') out.comm = f.comm;
  if (typeof f.ppid === 'number') out.ppid = f.ppid;
  if (typeof f.uid === 'number') out.uid = f.uid;
  if (typeof f.cmdline === 'string' && f.cmdline !== '') out.cmdline = f.cmdline;
  return out;
}

/** x86-64/arm64 (generic) open flag bits */
function decodeFlags(flags: number): string {
  const acc = flags & 3;
  const out = [acc === 1 ? 'O_WRONLY' : acc === 2 ? 'O_RDWR' : 'O_RDONLY'];
  if (flags & 0o100) out.push('O_CREAT');
  if (flags & 0o1000) out.push('O_TRUNC');
  if (flags & 0o2000) out.push('O_APPEND');
  return out.join('|');
}

/**
 * The probe's path is the full path, or (where the module could not read struct mount's layout)
 * relative to its filesystem's root: match it exactly or as a suffix of the watched path.
 */
function pathMatches(watched: string, seen: string): boolean {
  if (seen === '' || seen === '/') return false;
  return watched === seen || watched.endsWith(seen.startsWith('/') ? seen : `/${seen}`);
}

interface ModifiedState {
  target: Target;
  opens: Modification[];
  total: number;
  byProcess: Map<number, { comm: string; count: number }>;
  /** the watch ended itself on its first culprit (not --keep-going) */
  answered: boolean;
}

/**
 * One open for writing, seen through tw:open_write or tw:openat_write. The fields the two share
 * carry the same meaning: ino and dev (kernel dev_t) of the file opened, flags (open(2) flags),
 * comm, path (the file's path as the probe saw it).
 */
function onOpen(
  e: { ts: bigint; pid: number; comm: string; fields: Readonly<Record<string, unknown>> },
  ctx: { args: { path: string }; state: ModifiedState; proc(pid: number): { tgid?: number | undefined }; alert(message: string, opts?: { pid?: number; culprit?: CulpritFacts; details?: Record<string, unknown> }): void; keepGoing: boolean; stop(): void },
): void {
  const s = ctx.state;
  const seenPath = String(e.fields.path ?? '');
  if (s.target.ino !== undefined) {
    const ino = e.fields.ino;
    if ((typeof ino === 'bigint' || typeof ino === 'number' ? BigInt(ino) : -1n) !== s.target.ino || Number(e.fields.dev ?? -1) !== s.target.dev) return;
  } else if (!pathMatches(ctx.args.path, seenPath)) return;
  const comm = typeof e.fields.comm === 'string' && e.fields.comm !== '' ? e.fields.comm : e.comm;
  const tgid = ctx.proc(e.pid).tgid || e.pid;
  const flags = decodeFlags(Number(e.fields.flags ?? 0));
  s.total++;
  const p = s.byProcess.get(tgid) ?? { comm, count: 0 };
  p.comm = comm;
  p.count++;
  s.byProcess.set(tgid, p);
  if (s.opens.length < KEEP) s.opens.push({ ts: e.ts.toString(), pid: e.pid, tgid, comm, flags, path: seenPath });
  ctx.alert(`${comm}[${tgid}${tgid !== e.pid ? `/${e.pid}` : ''}] opened ${ctx.args.path} for writing (${flags})`, {
    pid: e.pid,
    // what the probe captured at the open (openat_write has them): truer than what tw learns later
    culprit: culpritFacts(e.fields),
    details: { flags, path: seenPath },
  });
  // the question is answered: end, unless the user asked for a monitor (--keep-going)
  if (!ctx.keepGoing) {
    s.answered = true;
    ctx.stop();
  }
}

export default defineWatch({
  name: 'who-modified',
  summary: 'Who opens a file for writing: pid/comm and open flags (dynamic probe tw:open_write, else tw:openat_write)',
  description:
    'Loads the open_write probe (a kprobe on vfs_open, filtered to FMODE_WRITE) and reports every open of the ' +
    'file for writing. Where that probe cannot be brought up (a kernel without kprobes or modules), it uses the ' +
    'openat_write probe instead (openat(2) at its return, also as a BPF program): openat(2) only, which is what ' +
    'glibc calls for open(); it also reports O_RDONLY|O_TRUNC, which truncates. When the file exists here it is ' +
    'matched by inode and device, in the kernel (the probes take them as parameters); otherwise (e.g. replaying a ' +
    'recording from another machine) by its path (the full path, or the path within its filesystem where the ' +
    'probe could not cross mount points). It ends once it has reported the first culprit; with --keep-going it ' +
    'reports every one until Ctrl-C or --duration.',
  examples: ['tw watch who-modified /etc/hosts', 'tw watch who-modified /var/log/syslog --input trace.dat --json'],
  args: {
    path: { type: 'string', required: true, description: 'the file to watch' },
  },
  // tw:open_write where it comes up; else tw:openat_write (not brought up once tw:open_write is)
  events: ['tw:open_write|tw:openat_write'],
  probes: ['open_write', 'openat_write'],
  // a tracefs event's filter (module, kprobe event); also applied to a probe loaded before tw
  // watch (tw probe load), which keeps its own parameters
  filter: (args) => {
    const t = locate(args.path);
    return t.ino !== undefined ? { 'tw:open_write': `ino == ${t.ino} && dev == ${t.dev}` } : {};
  },
  // the probes' own filter, on every backend (a BPF probe has no tracefs filter)
  probeParams: (args) => {
    const t = locate(args.path);
    if (t.ino === undefined || t.dev === undefined) return {};
    const file = { watch_ino: t.ino, watch_dev: t.dev };
    return { open_write: file, openat_write: file };
  },
  state: (args): ModifiedState => ({ target: locate(args.path), opens: [], total: 0, byProcess: new Map(), answered: false }),
  on: {
    'tw:open_write'(e, ctx) {
      onOpen(e, ctx);
    },
    // where tw:open_write cannot be brought up: openat(2) at its return (the same field names;
    // path is the file the new descriptor refers to)
    'tw:openat_write'(e, ctx) {
      onOpen(e, ctx);
    },
  },
  end(ctx): WhoModifiedResult {
    const s = ctx.state;
    return {
      path: ctx.args.path,
      matchedBy: s.target.ino !== undefined ? 'inode' : 'path',
      ino: s.target.ino !== undefined ? s.target.ino.toString() : null,
      total: s.total,
      opens: s.opens,
      byProcess: [...s.byProcess]
        .map(([tgid, p]) => ({ tgid, comm: p.comm, count: p.count }))
        .sort((a, b) => b.count - a.count || a.tgid - b.tgid),
      lost: ctx.lost,
      answered: s.answered,
    };
  },
  format(r) {
    const lost = r.lost > 0 ? ` (${r.lost} events lost)` : '';
    if (r.total === 0) return `nobody opened ${r.path} for writing${lost}`;
    const table = formatTable(r.byProcess, [
      { header: 'PID', value: (x) => x.tgid },
      { header: 'COMM', value: (x) => x.comm },
      { header: 'OPENS', value: (x) => x.count },
    ]);
    return `${table}\n\n${r.total} open(s) of ${r.path} for writing (matched by ${r.matchedBy})${lost}`;
  },
});
