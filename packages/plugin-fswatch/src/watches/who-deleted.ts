import { defineWatch, formatTable, type CulpritFacts, type WatchMetrics } from '@tw/core';
import { culpritFacts } from './culprit.js';
import { AT_FDCWD, hostFs, isGlob, matchesPath, mayMatchRelative, noFs, resolveName, watchPattern, type PathFs, type Watched } from './paths.js';

/** deletions are kept up to this many; later ones are only counted */
const KEEP = 10_000;
/** unlinkat(2)'s flag for removing a directory (rmdir) */
const AT_REMOVEDIR = 0x200;
/** renameat2(2) flags */
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

/** unlink, rmdir; a rename that took the watched name away; a rename over it */
export type DeletionKind = 'unlink' | 'rmdir' | 'rename-away' | 'rename-over';

export interface Deletion {
  /** trace timestamp */
  ts: string;
  /** the calling thread and its process */
  pid: number;
  tgid: number;
  comm: string;
  /** the caller's parent and uid, where the probe records them (null: it does not) */
  ppid: number | null;
  uid: number | null;
  /** the syscall that deleted (do_unlinkat for the kprobe form, which serves unlink and unlinkat) */
  syscall: string;
  kind: DeletionKind;
  /** 'unlink', 'rmdir', 'renamed away to <new>', 'replaced by rename from <old>' */
  what: string;
  /** the name as the caller gave it */
  pathname: string;
  /** directory fd the name is relative to (-100: the caller's cwd) */
  dfd: number;
  /** the name resolved: absolute, normal, symlinked directories followed; null when the probe did not record what a relative name is relative to */
  path: string | null;
}

export interface WhoDeletedResult {
  /** the watched path or glob as given (null: every deletion) */
  pattern: string | null;
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

/** A text usable inside an ftrace glob: no glob metacharacters or quotes. */
function globSafe(text: string): boolean {
  return /^[A-Za-z0-9_.+=:@,-]{1,200}$/.test(text);
}

interface DeletionState {
  /** the watched path or glob, resolved once (undefined: every deletion) */
  watched: Watched | undefined;
  deletions: Deletion[];
  total: number;
  byProcess: Map<number, { comm: string; count: number }>;
  /** the watch ended itself on its first culprit (not --keep-going) */
  answered: boolean;
}

type Fields = Readonly<Record<string, unknown>>;

interface Ctx {
  state: DeletionState;
  mode: 'file' | 'live';
  proc(pid: number): { tgid?: number | undefined; ppid?: number | undefined };
  alert(message: string, opts?: { pid?: number; culprit?: CulpritFacts; details?: unknown }): void;
  keepGoing: boolean;
  stop(): void;
  has(event: string): boolean;
  metrics: WatchMetrics;
}

/** the metrics (declared in start(); a deletion is rare enough to look the handle up each time) */
const culpritsTotal = (ctx: { metrics: WatchMetrics }) => ctx.metrics.counter('culprits_total', { help: 'Deletions reported, by the culprit\'s command name', labels: ['comm'], maxSeries: 100 });
const deletionsTotal = (ctx: { metrics: WatchMetrics }) => ctx.metrics.counter('deletions_total', { help: 'Deletions reported, by kind (unlink, rmdir, rename-away, rename-over)', labels: ['kind'] });

interface Ev {
  ts: bigint;
  pid: number;
  comm: string;
  fields: Fields;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined);

/** One name of an event, as given and resolved. */
interface Name {
  given: string;
  dfd: number;
  path: string | null;
  relativeTo?: string;
}

/**
 * Resolve a name of an event. Live, directories that still exist are looked up here (a symlink
 * in the name the caller gave); a recording is resolved lexically (its paths are another
 * moment's, maybe another machine's).
 */
function nameOf(ctx: Ctx, given: unknown, dfd: unknown, dir: unknown, cwd: unknown): Name {
  const g = str(given) ?? '';
  const d = num(dfd) ?? AT_FDCWD;
  const fs: PathFs = ctx.mode === 'live' ? hostFs : noFs;
  const r = resolveName(g, d, str(dir) || undefined, str(cwd) || undefined, fs);
  return { given: g, dfd: d, path: r.path, ...(r.relativeTo !== undefined ? { relativeTo: r.relativeTo } : {}) };
}

function matches(w: Watched | undefined, n: Name): boolean {
  if (w === undefined) return true;
  if (n.path !== null) return matchesPath(w, n.path);
  return mayMatchRelative(w, n.given);
}

/** How a name is said in a message: its resolved path, else the name and what it is relative to. */
function say(n: Name): string {
  return n.path ?? (n.relativeTo !== undefined ? `${n.given} (relative to ${n.relativeTo})` : n.given);
}

/** Count, keep and alert one deletion; end the watch unless it is a monitor. */
function report(e: Ev, ctx: Ctx, syscall: string, kind: DeletionKind, n: Name, other?: Name): void {
  const f = e.fields;
  const comm = str(f.comm) || e.comm;
  const recordedTgid = num(f.tgid);
  const tgid = recordedTgid !== undefined && recordedTgid > 0 ? recordedTgid : ctx.proc(e.pid).tgid || e.pid;
  const ppid = num(f.ppid) ?? null;
  const uid = num(f.uid) ?? null;
  const what = kind === 'rename-away' ? `renamed away to ${say(other!)}` : kind === 'rename-over' ? `replaced by rename from ${say(other!)}` : kind;
  const s = ctx.state;
  s.total++;
  const p = s.byProcess.get(tgid) ?? { comm, count: 0 };
  p.comm = comm;
  p.count++;
  s.byProcess.set(tgid, p);
  culpritsTotal(ctx).inc({ comm });
  deletionsTotal(ctx).inc({ kind });
  const d: Deletion = { ts: e.ts.toString(), pid: e.pid, tgid, comm, ppid, uid, syscall, kind, what, pathname: n.given, dfd: n.dfd, path: n.path };
  if (s.deletions.length < KEEP) s.deletions.push(d);
  const who = `${comm}[${tgid}${tgid !== e.pid ? `/${e.pid}` : ''}]`;
  const message =
    kind === 'rename-away' ? `${who} renamed ${say(n)} away to ${say(other!)}` : kind === 'rename-over' ? `${who} replaced ${say(n)} by rename from ${say(other!)}` : `${who} deleted ${say(n)}`;
  const { ts: _ts, ...details } = d;
  // what the probe captured at the call (uid, arguments) names the culprit even once it is gone
  ctx.alert(message, { pid: e.pid, culprit: culpritFacts(e.fields), details: other ? { ...details, other: other.path ?? other.given } : details });
  // the question is answered: end, unless the user asked for a monitor (--keep-going)
  if (!ctx.keepGoing) {
    s.answered = true;
    ctx.stop();
  }
}

/** unlink or rmdir of one name */
function onRemove(e: Ev, ctx: Ctx, syscall: string, kind: 'unlink' | 'rmdir', n: Name): void {
  if (matches(ctx.state.watched, n)) report(e, ctx, syscall, kind, n);
}

/**
 * A rename: the old name is gone from where it was (renamed away); what the new name held is gone
 * too (replaced), unless RENAME_NOREPLACE said there was nothing. RENAME_EXCHANGE swaps the two:
 * each name's file moved to the other name. One report per rename: when both names are watched (a
 * rename inside a watched directory) it is the old name's, whose message names the new one.
 */
function onRename(e: Ev, ctx: Ctx, syscall: string, from: Name, to: Name, flags: number): void {
  const w = ctx.state.watched;
  if (matches(w, from)) return report(e, ctx, syscall, 'rename-away', from, to);
  if ((flags & RENAME_EXCHANGE) !== 0) {
    if (matches(w, to)) report(e, ctx, syscall, 'rename-away', to, from);
    return;
  }
  if ((flags & RENAME_NOREPLACE) === 0 && matches(w, to)) report(e, ctx, syscall, 'rename-over', to, from);
}

/** whichever unlink event a session has: the fallback of the patterns whose own probe cannot come up */
const UNLINK_EVENTS = 'tw:sys_unlinkat|tw:unlink_cwd|tw:unlink|tw:unlinkat';

/** the kernel filter for tw:unlink_cwd/tw:unlink: every spelling of a file ends with its name (a plain file, or a glob ending in *<name>) */
function unlinkFilter(pattern: string | undefined): Record<string, string> {
  if (pattern === undefined || pattern.endsWith('/')) return {};
  const last = pattern.split('/').pop()!;
  const tail = isGlob(last) ? (/^\*([^*?[]*)$/.exec(last)?.[1] ?? '') : last;
  if (!globSafe(tail)) return {};
  // a directory is watched with everything below it: no name to filter on
  if (!isGlob(last) && hostFs.isDirectory(pattern)) return {};
  return { 'tw:unlink_cwd': `pathname ~ "*${tail}"`, 'tw:unlink': `pathname ~ "*${tail}"` };
}

/** does the session have a kprobe form of unlink (which then reports file unlinks)? */
const kprobeForm = (ctx: Ctx): boolean => ctx.has('tw:unlink_cwd') || ctx.has('tw:unlink');

export default defineWatch({
  name: 'who-deleted',
  summary: 'Who deletes a path: unlink, rmdir, rename away or over it, any spelling resolved; the culprit named (dynamic probes: syscall exits by BPF, else tw:unlink)',
  description:
    'Reports who deletes the watched path (or every deletion, without an argument): unlink(2), unlinkat(2) and ' +
    'rmdir(2), and rename(2)/renameat(2)/renameat2(2) that take the name away ("renamed away to <new>") or ' +
    'put another file over it ("replaced by rename from <old>"; the syscall does not say whether the name held ' +
    'a file before, so a rename onto a new name under a watched directory is reported too; a rename within it is reported once, ' +
    'as its old name going away). Each name is ' +
    'resolved as the kernel did: relative to the directory fd (its path recorded by the probe) or to the ' +
    "caller's cwd, . and .. removed, symlinked directories followed (live, those that still exist). The " +
    'argument is a path (exact; a directory - a trailing slash or an existing one - also covers everything ' +
    'below it) or a glob (* and ? within one component, ** across, [...]); its directory part is resolved the ' +
    "same way at the start, relative to tw's cwd. Probes (all need root): on any kernel with BTF, the syscall " +
    'exits by BPF (sys_unlinkat, sys_unlink, sys_rmdir, sys_rename, sys_renameat, sys_renameat2): only calls ' +
    'that succeeded, with the pathname, the directory fd\'s path, the cwd, pid, tgid, ppid, uid and comm. Where ' +
    'kprobes exist (by BPF or a module), file unlinks come from the unlink_cwd probe (a kprobe on do_unlinkat, which also sees ' +
    "io_uring's unlinkat) instead: it fires before the unlink is done, so failed calls count too; it records the " +
    "caller's cwd but not the directory fd's path. Through kprobe events the unlink probe serves instead, without " +
    'the cwd: a relative name is then reported "relative to cwd" (or "relative to fd N") and matched on its last components only (one starting with .. not at all). Where neither can come up, the unlinkat probe ' +
    '(the syscall entry, also a kprobe event) serves unlinkat(2) only, failed calls included. It ends once it has reported the first deletion; with ' +
    '--keep-going it reports every one until Ctrl-C or --duration.',
  examples: [
    'tw watch who-deleted /etc/hosts',
    'tw watch who-deleted /var/log/app/ --keep-going',
    "tw watch who-deleted '/tmp/build/**/*.o' --keep-going",
    'tw watch who-deleted --input trace.dat --json',
  ],
  args: {
    path: { type: 'string', description: 'the path or glob to watch (a directory: everything below it too); none: every deletion' },
  },
  // Each pattern resolves to an event that is there (an alternative no probe serves and the
  // kernel lacks would fail the session). probesUp tries the probes in `probes` order and brings
  // one up while some pattern naming it has no earlier alternative up:
  // - file unlinks: the kprobe form first (it also sees io_uring's unlinkat), else the syscall
  //   exits by BPF, else the syscall entry (unlinkat only);
  // - unlinkat(AT_REMOVEDIR): sys_unlinkat, which thus comes up beside tw:unlink too (its handler
  //   then leaves file unlinks to tw:unlink); unlink(2): tw:unlink, else sys_unlink;
  // - rmdir and the renames: their syscall exits (BPF only). Where one cannot come up (no BPF;
  //   arm64 has no unlink, rmdir, rename, renameat) its pattern falls back to an unlink event the
  //   session has anyway, which adds nothing.
  // test/src/who-deleted-probes.test.ts checks what comes up for each kind of kernel.
  events: [
    'tw:unlink_cwd|tw:unlink|tw:sys_unlinkat|tw:unlinkat',
    UNLINK_EVENTS,
    'tw:unlink_cwd|tw:unlink|tw:sys_unlink|tw:sys_unlinkat|tw:unlinkat',
    `tw:sys_rmdir|${UNLINK_EVENTS}`,
    `tw:sys_rename|${UNLINK_EVENTS}`,
    `tw:sys_renameat|${UNLINK_EVENTS}`,
    `tw:sys_renameat2|${UNLINK_EVENTS}`,
  ],
  probes: ['unlink_cwd', 'unlink', 'sys_unlinkat', 'sys_unlink', 'sys_rmdir', 'sys_rename', 'sys_renameat', 'sys_renameat2', 'unlinkat'],
  // a tracefs event's filter (module, kprobe event): the kprobe form sees every unlink, most of
  // them not the watched file's; the syscall exits by BPF only emit successful calls (rare)
  filter: (args) => unlinkFilter(args.path),
  state: (args): DeletionState => ({
    watched: args.path === undefined ? undefined : watchPattern(args.path, process.cwd(), hostFs),
    deletions: [],
    total: 0,
    byProcess: new Map(),
    answered: false,
  }),
  start(ctx) {
    culpritsTotal(ctx);
    deletionsTotal(ctx);
  },
  on: {
    // the kprobe on do_unlinkat: unlink(2) and unlinkat(2) of files, before the unlink; with the
    // caller's cwd (module, BPF) or without (a kprobe event); no dfd path either way
    'tw:unlink_cwd'(e, ctx) {
      onRemove(e, ctx, 'do_unlinkat', 'unlink', nameOf(ctx, e.fields.pathname, e.fields.dfd, undefined, e.fields.cwd));
    },
    'tw:unlink'(e, ctx) {
      onRemove(e, ctx, 'do_unlinkat', 'unlink', nameOf(ctx, e.fields.pathname, e.fields.dfd, undefined, undefined));
    },
    // the syscall entry (where neither the kprobe nor BPF can come up): unlinkat(2) only, before the call
    'tw:unlinkat'(e, ctx) {
      const kind = (Number(e.fields.flag ?? 0) & AT_REMOVEDIR) !== 0 ? 'rmdir' : 'unlink';
      onRemove(e, ctx, 'unlinkat', kind, nameOf(ctx, e.fields.pathname, e.fields.dfd, undefined, undefined));
    },
    'tw:sys_unlinkat'(e, ctx) {
      const rmdir = (Number(e.fields.flag ?? 0) & AT_REMOVEDIR) !== 0;
      // beside the kprobe form, which reports the file unlinks (once each), only directories are this one's
      if (!rmdir && kprobeForm(ctx)) return;
      onRemove(e, ctx, 'unlinkat', rmdir ? 'rmdir' : 'unlink', nameOf(ctx, e.fields.pathname, e.fields.dfd, e.fields.dir, e.fields.cwd));
    },
    'tw:sys_unlink'(e, ctx) {
      if (kprobeForm(ctx)) return; // a probe loaded before tw (tw probe load) beside the kprobe form
      onRemove(e, ctx, 'unlink', 'unlink', nameOf(ctx, e.fields.pathname, AT_FDCWD, undefined, e.fields.cwd));
    },
    'tw:sys_rmdir'(e, ctx) {
      onRemove(e, ctx, 'rmdir', 'rmdir', nameOf(ctx, e.fields.pathname, AT_FDCWD, undefined, e.fields.cwd));
    },
    'tw:sys_rename'(e, ctx) {
      const f = e.fields;
      onRename(e, ctx, 'rename', nameOf(ctx, f.oldname, AT_FDCWD, undefined, f.cwd), nameOf(ctx, f.newname, AT_FDCWD, undefined, f.cwd), 0);
    },
    'tw:sys_renameat'(e, ctx) {
      const f = e.fields;
      onRename(e, ctx, 'renameat', nameOf(ctx, f.oldname, f.olddfd, f.olddir, f.cwd), nameOf(ctx, f.newname, f.newdfd, f.newdir, f.cwd), 0);
    },
    'tw:sys_renameat2'(e, ctx) {
      const f = e.fields;
      onRename(e, ctx, 'renameat2', nameOf(ctx, f.oldname, f.olddfd, f.olddir, f.cwd), nameOf(ctx, f.newname, f.newdfd, f.newdir, f.cwd), Number(f.flags ?? 0));
    },
  },
  end(ctx): WhoDeletedResult {
    const s = ctx.state;
    return {
      pattern: ctx.args.path ?? null,
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
    const of = r.pattern !== null ? ` of ${r.pattern}` : '';
    if (r.total === 0) return `no deletions${of}${lost}`;
    const rows = r.deletions.map((d) => ({ ...d, target: d.path ?? (d.dfd === AT_FDCWD ? `${d.pathname} (relative to cwd)` : `${d.pathname} (relative to fd ${d.dfd})`) }));
    const table = formatTable(rows, [
      { header: 'PID', value: (x) => x.tgid },
      { header: 'COMM', value: (x) => x.comm },
      { header: 'PATH', value: (x) => x.target },
      { header: 'WHAT', value: (x) => x.what },
    ]);
    const by = r.byProcess.length > 1 ? `\n\n${formatTable(r.byProcess, [
      { header: 'PID', value: (x) => x.tgid },
      { header: 'COMM', value: (x) => x.comm },
      { header: 'DELETIONS', value: (x) => x.count },
    ])}` : '';
    return `${table}${by}\n\n${r.total} deletion(s)${of}${r.dropped > 0 ? ` (${r.dropped} not kept)` : ''}${lost}`;
  },
});
