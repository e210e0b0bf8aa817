import { defineWatch, formatTable } from '@tw/core';

/** pathnames are kept up to this many; later ones are only counted */
const KEEP = 10_000;
const AT_FDCWD = -100;
/** unlinkat(2)'s flag for removing a directory (rmdir): not a file deletion */
const AT_REMOVEDIR = 0x200;

export interface Deletion {
  /** trace timestamp */
  ts: string;
  /** the calling thread and its process */
  pid: number;
  tgid: number;
  comm: string;
  /** directory fd the pathname is relative to (-100: the caller's cwd) */
  dfd: number;
  pathname: string;
}

export interface WhoDeletedResult {
  match: string | null;
  total: number;
  deletions: Deletion[];
  /** deletions not kept in `deletions` (beyond the first 10000) */
  dropped: number;
  byProcess: Array<{ tgid: number; comm: string; count: number }>;
  /** events the kernel lost (stored counts of dropped events): the result may miss some */
  lost: number;
  /** true when the watch ended itself on its first culprit; false: it ran until Ctrl-C, --duration or the recording's end (or --keep-going) */
  answered: boolean;
}

/** A substring usable inside an ftrace glob ("*<text>*"): no glob metacharacters or quotes. */
function globSafe(text: string): boolean {
  return /^[A-Za-z0-9_./+=:@,-]{1,200}$/.test(text);
}

interface DeletionState {
  deletions: Deletion[];
  total: number;
  byProcess: Map<number, { comm: string; count: number }>;
  /** the watch ended itself on its first culprit (not --keep-going) */
  answered: boolean;
}

/** One deletion seen through tw:unlink or tw:unlinkat (the fields the two share). */
function onDeletion(
  e: { ts: bigint; pid: number; comm: string; fields: Readonly<Record<string, unknown>> },
  ctx: { args: { match?: string | undefined }; state: DeletionState; proc(pid: number): { tgid?: number | undefined }; alert(message: string, opts?: { pid?: number }): void; keepGoing: boolean; stop(): void },
): void {
  const pathname = String(e.fields.pathname ?? '');
  const match = ctx.args.match;
  if (match !== undefined && !pathname.includes(match)) return;
  const dfd = Number(e.fields.dfd ?? AT_FDCWD);
  const comm = typeof e.fields.comm === 'string' && e.fields.comm !== '' ? e.fields.comm : e.comm;
  const tgid = ctx.proc(e.pid).tgid || e.pid;
  const s = ctx.state;
  s.total++;
  const p = s.byProcess.get(tgid) ?? { comm, count: 0 };
  p.comm = comm;
  p.count++;
  s.byProcess.set(tgid, p);
  if (s.deletions.length < KEEP) s.deletions.push({ ts: e.ts.toString(), pid: e.pid, tgid, comm, dfd, pathname });
  const rel = dfd !== AT_FDCWD && !pathname.startsWith('/') ? ` (relative to fd ${dfd})` : '';
  ctx.alert(`${comm}[${tgid}${tgid !== e.pid ? `/${e.pid}` : ''}] deleted ${pathname}${rel}`, { pid: e.pid });
  // the question is answered: end, unless the user asked for a monitor (--keep-going)
  if (!ctx.keepGoing) {
    s.answered = true;
    ctx.stop();
  }
}

export default defineWatch({
  name: 'who-deleted',
  summary: 'Who unlinks files: caller pid/comm and pathname of every unlink (dynamic probe tw:unlink, else tw:unlinkat)',
  description:
    'Loads the unlink probe (a kprobe on do_unlinkat: unlink(2) and unlinkat(2) of files) and reports every ' +
    'deletion with the calling process. Where that probe cannot be brought up (a kernel without kprobes or ' +
    'modules), it uses the unlinkat probe instead (the syscall entry, also as a BPF program): unlinkat(2) only, ' +
    'which is what rm and most libcs call. The pathname is what the caller passed, relative to dfd when that is ' +
    'not -100 (the cwd). With an argument, only pathnames containing it are reported (filtered in the kernel ' +
    'when the text is plain and the probe is a tracefs event). It ends once it has reported the first deletion; with ' +
    '--keep-going it reports every one until Ctrl-C or --duration.',
  examples: ['tw watch who-deleted', 'tw watch who-deleted .log', 'tw watch who-deleted /tmp --input trace.dat --json'],
  args: {
    match: { type: 'string', description: 'report only pathnames containing this text' },
  },
  events: ['tw:unlink|tw:unlinkat'],
  probes: ['unlink', 'unlinkat'],
  filter: (args) => (args.match !== undefined && globSafe(args.match) ? { 'tw:unlink': `pathname ~ "*${args.match}*"` } : {}),
  state: (): DeletionState => ({ deletions: [], total: 0, byProcess: new Map(), answered: false }),
  on: {
    'tw:unlink'(e, ctx) {
      onDeletion(e, ctx);
    },
    // where tw:unlink cannot be brought up: the syscall entry (same field names, plus flag)
    'tw:unlinkat'(e, ctx) {
      // unlinkat(AT_REMOVEDIR) removes a directory: tw:unlink (files only) never sees those
      if ((Number(e.fields.flag ?? 0) & AT_REMOVEDIR) !== 0) return;
      onDeletion(e, ctx);
    },
  },
  end(ctx): WhoDeletedResult {
    const s = ctx.state;
    return {
      match: ctx.args.match ?? null,
      total: s.total,
      deletions: s.deletions,
      dropped: s.total - s.deletions.length,
      byProcess: [...s.byProcess]
        .map(([tgid, p]) => ({ tgid, comm: p.comm, count: p.count }))
        .sort((a, b) => b.count - a.count || a.tgid - b.tgid),
      lost: ctx.lost,
      answered: s.answered,
    };
  },
  format(r) {
    const lost = r.lost > 0 ? ` (${r.lost} events lost)` : '';
    if (r.total === 0) return `no deletions${r.match !== null ? ` matching '${r.match}'` : ''}${lost}`;
    const table = formatTable(r.byProcess, [
      { header: 'PID', value: (x) => x.tgid },
      { header: 'COMM', value: (x) => x.comm },
      { header: 'DELETIONS', value: (x) => x.count },
    ]);
    return `${table}\n\n${r.total} deletion(s)${r.match !== null ? ` matching '${r.match}'` : ''}${r.dropped > 0 ? ` (${r.dropped} not kept)` : ''}${lost}`;
  },
});
