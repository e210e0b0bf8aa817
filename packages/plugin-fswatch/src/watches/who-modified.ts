import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { defineWatch, formatTable, type WatchContext, type WatchEvent } from '@tw/core';
import { culpritFacts } from './culprit.js';
import { userDevToKernel } from '@tw/probe-spec';
import { probeDevOf } from './mounts.js';
import { AT_FDCWD, hostFs, noFs, realParent, resolveName, type PathFs } from './paths.js';

const KEEP = 10_000;
/** renameat2's RENAME_EXCHANGE: both names stay, their files swap */
const RENAME_EXCHANGE = 2;
/** unlinkat's AT_REMOVEDIR: a directory, not the watched file */
const AT_REMOVEDIR = 0x200;
const O_CREAT = 0o100;

/** What happened to the file. */
export type ChangeKind = 'open' | 'write' | 'truncate' | 'replaced' | 'renamed away' | 'deleted' | 'created' | 'chmod' | 'chown' | 'utimes';

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

/** One change of the file's content or identity. */
export interface Change {
  ts: string;
  pid: number;
  tgid: number;
  comm: string;
  what: ChangeKind;
  /** what was done, in words: "O_WRONLY|O_APPEND", "4096 bytes through fd 3", "from /etc/.passwd.tmp" */
  detail: string;
  /** the event it was seen in (tw:sys_write, ...) */
  via: string;
}

export interface WhoModifiedResult {
  path: string;
  /** how events were matched: by inode (the file exists here) or by path */
  matchedBy: 'inode' | 'path';
  /** the inode watched at the start */
  ino: string | null;
  /** every change: opens for writing, writes, truncations, replacements, deletions, creation */
  total: number;
  changes: Change[];
  /** the opens for writing among them (as before the other kinds were seen) */
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

/**
 * The file's inode and device as the probes see them, when it exists on this machine: the device
 * is its mount's (overlayfs and btrfs report another one to stat(2)).
 */
function locate(path: string): Target {
  try {
    const st = statSync(path, { bigint: true });
    return { ino: st.ino, dev: probeDevOf(path, userDevToKernel(st.dev)) };
  } catch {
    return {};
  }
}

/** The watched path as the kernel reports paths: absolute, its directory's symlinks resolved. */
function watchedPath(path: string, fs: PathFs): string {
  return realParent(path.startsWith('/') ? path : posix.join(process.cwd(), path), fs);
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

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : Number(v ?? NaN));
const big = (v: unknown): bigint | undefined => (typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : undefined);

/** the probes that filter by the watched file's inode and device (their live parameters) */
const INODE_PROBES = ['open_write', 'openat_write', 'sys_write', 'sys_pwrite64', 'sys_writev', 'sys_ftruncate', 'sys_fchmod', 'sys_fchown'] as const;

interface ModifiedState {
  /** the watched path, resolved (absolute, directory symlinks followed) */
  path: string;
  /** the file at that path now (undefined members: missing, or unknown after a replacement in a recording) */
  target: Target;
  /** no file at the path (at the start, or since a deletion or a rename away) */
  missing: boolean;
  /** the inode at the start, for the result */
  startIno: bigint | undefined;
  changes: Change[];
  opens: Modification[];
  total: number;
  byProcess: Map<number, { comm: string; count: number }>;
  answered: boolean;
}

interface Args {
  path: string;
  'include-metadata'?: boolean;
}

type Ctx = WatchContext<Args, ModifiedState>;

/** the metrics (declared in start(); a change is rare enough to look the handle up each time) */
const culpritsTotal = (ctx: Ctx) => ctx.metrics.counter('culprits_total', { help: "Changes reported, by the culprit's command name", labels: ['comm'], maxSeries: 100 });
const changesTotal = (ctx: Ctx) => ctx.metrics.counter('changes_total', { help: 'Changes of the watched file reported, by kind (open, write, truncate, replaced, renamed away, deleted, created, chmod, chown, utimes)', labels: ['kind'] });

/** Count, keep and alert one change; end the watch unless --keep-going. */
function changed(e: WatchEvent, ctx: Ctx, what: ChangeKind, detail: string, message: string): void {
  const s = ctx.state;
  const comm = typeof e.fields.comm === 'string' && e.fields.comm !== '' ? e.fields.comm : e.comm;
  const tgid = typeof e.fields.tgid === 'number' && e.fields.tgid > 0 ? e.fields.tgid : ctx.proc(e.pid).tgid || e.pid;
  s.total++;
  const p = s.byProcess.get(tgid) ?? { comm, count: 0 };
  p.comm = comm;
  p.count++;
  s.byProcess.set(tgid, p);
  culpritsTotal(ctx).inc({ comm });
  changesTotal(ctx).inc({ kind: what });
  if (s.changes.length < KEEP) s.changes.push({ ts: e.ts.toString(), pid: e.pid, tgid, comm, what, detail, via: e.event });
  ctx.alert(`${comm}[${tgid}${tgid !== e.pid ? `/${e.pid}` : ''}] ${message}`, {
    pid: e.pid,
    // what the probe captured at the call: truer than what tw learns later
    culprit: culpritFacts(e.fields),
    details: { what, detail, path: s.path },
  });
  // the question is answered: end, unless the user asked for a monitor (--keep-going)
  if (!ctx.keepGoing) {
    s.answered = true;
    ctx.stop();
  }
}

/**
 * The file at the watched path is another one now (or none): tell the probes that filter by
 * inode, so the next change of the new file is caught (live; a recording's probes did what
 * they did). Live, the new file is what is at the path now.
 */
function follow(ctx: Ctx, target: Target, missing = false): void {
  ctx.state.target = target;
  ctx.state.missing = missing;
  const params = { watch_ino: target.ino ?? 0n, watch_dev: target.dev ?? 0 };
  for (const probe of INODE_PROBES) {
    try {
      ctx.setProbeParams(probe, params);
    } catch {
      // a probe loaded before tw keeps its parameters; the handlers still compare inodes
    }
  }
}

function isTarget(ctx: Ctx, ino: unknown, dev: unknown): boolean {
  const t = ctx.state.target;
  return t.ino !== undefined && big(ino) === t.ino && num(dev) === t.dev;
}

/**
 * One open for writing, seen through tw:open_write or tw:openat_write (fields ino, dev, flags,
 * comm, path). Matched by inode while the file is known, else by path: then an open that
 * creates the file (or the first open of a replacement in a recording) gives its identity.
 */
function onOpen(e: WatchEvent, ctx: Ctx): void {
  const s = ctx.state;
  const seenPath = String(e.fields.path ?? '');
  const flagBits = num(e.fields.flags ?? 0);
  const flags = decodeFlags(flagBits);
  let what: ChangeKind = 'open';
  if (s.target.ino !== undefined) {
    if (!isTarget(ctx, e.fields.ino, e.fields.dev)) return;
  } else {
    if (!pathMatches(s.path, seenPath)) return;
    const ino = big(e.fields.ino);
    if (ino !== undefined && ino !== 0n) {
      // the file there now (O_CREAT where there was none: it was just created): follow it from here on
      if (s.missing && (flagBits & O_CREAT) !== 0) what = 'created';
      follow(ctx, { ino, dev: num(e.fields.dev) });
    }
  }
  const comm = typeof e.fields.comm === 'string' && e.fields.comm !== '' ? e.fields.comm : e.comm;
  const tgid = ctx.proc(e.pid).tgid || e.pid;
  if (s.opens.length < KEEP) s.opens.push({ ts: e.ts.toString(), pid: e.pid, tgid, comm, flags, path: seenPath });
  changed(e, ctx, what, flags, what === 'created' ? `created ${s.path} (${flags})` : `opened ${s.path} for writing (${flags})`);
}

/**
 * A recording's descriptor event while the file's inode is not known yet (before the first open
 * of it, or after a replacement): the probe was told the file's inode in the kernel when it was
 * recorded, so the event is the file's; its inode is the file's from here on.
 */
function adopt(e: WatchEvent, ctx: Ctx): void {
  const ino = big(e.fields.ino);
  if (ctx.mode === 'file' && ctx.state.target.ino === undefined && !ctx.state.missing && ino !== undefined && ino !== 0n) follow(ctx, { ino, dev: num(e.fields.dev) });
}

/** A write or ftruncate through a descriptor of the file (kernel-filtered by inode; checked again here). */
function onFdChange(e: WatchEvent, ctx: Ctx): void {
  adopt(e, ctx);
  if (!isTarget(ctx, e.fields.ino, e.fields.dev)) return;
  const fd = num(e.fields.fd);
  if (e.event === 'tw:sys_ftruncate') {
    const len = String(e.fields.length);
    changed(e, ctx, 'truncate', `to ${len} bytes through fd ${fd}`, `truncated ${ctx.state.path} to ${len} bytes (ftruncate on fd ${fd})`);
    return;
  }
  const call = e.event.slice('tw:sys_'.length);
  const size = e.fields.count !== undefined ? `${String(e.fields.count)} bytes` : `${String(e.fields.vlen)} buffers`;
  changed(e, ctx, 'write', `${size} through fd ${fd} (${call})`, `wrote to ${ctx.state.path} (${call}, ${size}, fd ${fd})`);
}

function fsFor(ctx: Ctx): PathFs {
  return ctx.mode === 'live' ? hostFs : noFs;
}

/** A name an event carries, resolved against its directory fd's path or the cwd. */
function resolved(ctx: Ctx, f: Readonly<Record<string, unknown>>, name: string, dfd: string | undefined, dir: string | undefined): string | null {
  const n = String(f[name] ?? '');
  if (n === '') return null;
  return resolveName(n, dfd !== undefined ? num(f[dfd]) : AT_FDCWD, dir !== undefined ? String(f[dir] ?? '') : undefined, f.cwd !== undefined ? String(f.cwd) : undefined, fsFor(ctx)).path;
}

/** truncate(2) by name. */
function onTruncate(e: WatchEvent, ctx: Ctx): void {
  if (resolved(ctx, e.fields, 'pathname', undefined, undefined) !== ctx.state.path) return;
  const len = String(e.fields.length);
  changed(e, ctx, 'truncate', `to ${len} bytes by name`, `truncated ${ctx.state.path} to ${len} bytes (truncate)`);
}

/** rename(2)/renameat(2)/renameat2(2) that succeeded: over the path (a replacement), or the file away from it. */
function onRename(e: WatchEvent, ctx: Ctx): void {
  const f = e.fields;
  const at = e.event !== 'tw:sys_rename';
  const from = resolved(ctx, f, 'oldname', at ? 'olddfd' : undefined, at ? 'olddir' : undefined);
  const to = resolved(ctx, f, 'newname', at ? 'newdfd' : undefined, at ? 'newdir' : undefined);
  const path = ctx.state.path;
  const exchange = (num(f.flags ?? 0) & RENAME_EXCHANGE) !== 0;
  if (to === path || (exchange && from === path)) {
    const other = to === path ? from : to;
    const live = ctx.mode === 'live';
    // live: the new file is what is at the path now; a recording cannot stat: matched by path until an open names it
    follow(ctx, live ? locate(path) : {});
    changed(e, ctx, 'replaced', `by rename from ${other ?? String(f.oldname)}`, `replaced ${path} by rename${exchange ? ' exchange' : ''} from ${other ?? String(f.oldname)}`);
    return;
  }
  if (from === path) {
    follow(ctx, {}, true);
    changed(e, ctx, 'renamed away', `to ${to ?? String(f.newname)}`, `renamed ${path} away to ${to ?? String(f.newname)}`);
  }
}

/** unlink(2)/unlinkat(2) of the path (the syscall exits, tw:unlink_cwd; tw:unlink, the kprobe event form, has no cwd: absolute names only). */
function onUnlink(e: WatchEvent, ctx: Ctx): void {
  const f = e.fields;
  if ((num(f.flag ?? 0) & AT_REMOVEDIR) !== 0) return;
  const hasDfd = f.dfd !== undefined;
  const p = resolved(ctx, f, 'pathname', hasDfd ? 'dfd' : undefined, hasDfd ? 'dir' : undefined);
  if (p !== ctx.state.path) return;
  follow(ctx, {}, true);
  changed(e, ctx, 'deleted', `by ${e.event === 'tw:sys_unlink' ? 'unlink' : 'unlinkat'}`, `deleted ${ctx.state.path}`);
}

/** A mode or owner change through a descriptor of the file (--include-metadata). */
function onFdMeta(e: WatchEvent, ctx: Ctx): void {
  adopt(e, ctx);
  if (!isTarget(ctx, e.fields.ino, e.fields.dev)) return;
  const fd = num(e.fields.fd);
  if (e.event === 'tw:sys_fchmod') {
    const mode = `0${num(e.fields.mode).toString(8)}`;
    changed(e, ctx, 'chmod', `to ${mode} through fd ${fd}`, `changed the mode of ${ctx.state.path} to ${mode} (fchmod on fd ${fd})`);
  } else {
    const who = ownerText(e.fields);
    changed(e, ctx, 'chown', `${who} through fd ${fd}`, `changed the owner of ${ctx.state.path} (${who}; fchown on fd ${fd})`);
  }
}

function ownerText(f: Readonly<Record<string, unknown>>): string {
  const owner = num(f.owner);
  const group = num(f.group);
  return [owner !== -1 ? `owner ${owner}` : '', group !== -1 ? `group ${group}` : ''].filter(Boolean).join(', ') || 'nothing';
}

/** fchmodat, fchownat, utimensat by name (--include-metadata); utimensat with no name is on dfd's own file. */
function onNamedMeta(e: WatchEvent, ctx: Ctx): void {
  const f = e.fields;
  const named = String(f.pathname ?? '') !== '';
  const p = named ? resolved(ctx, f, 'pathname', 'dfd', 'dir') : f.dir ? String(f.dir) : null;
  if (p !== ctx.state.path) return;
  if (e.event === 'tw:sys_fchmodat') {
    const mode = `0${num(f.mode).toString(8)}`;
    changed(e, ctx, 'chmod', `to ${mode}`, `changed the mode of ${ctx.state.path} to ${mode} (fchmodat)`);
  } else if (e.event === 'tw:sys_fchownat') {
    const who = ownerText(f);
    changed(e, ctx, 'chown', who, `changed the owner of ${ctx.state.path} (${who}; fchownat)`);
  } else {
    changed(e, ctx, 'utimes', named ? 'by name' : `through fd ${num(f.dfd)}`, `changed the times of ${ctx.state.path} (utimensat)`);
  }
}

/** a later alternative that every kernel with either open probe has: the session still runs where a syscall form cannot come up */
const OPEN_EVENTS = 'tw:open_write|tw:openat_write';

const CONTENT_EVENTS = [
  OPEN_EVENTS,
  `tw:sys_write|${OPEN_EVENTS}`,
  `tw:sys_pwrite64|${OPEN_EVENTS}`,
  `tw:sys_writev|${OPEN_EVENTS}`,
  `tw:sys_ftruncate|${OPEN_EVENTS}`,
  `tw:sys_truncate|${OPEN_EVENTS}`,
  `tw:sys_rename|${OPEN_EVENTS}`,
  `tw:sys_renameat|${OPEN_EVENTS}`,
  `tw:sys_renameat2|${OPEN_EVENTS}`,
  `tw:sys_unlinkat|tw:unlink_cwd|tw:unlink|${OPEN_EVENTS}`,
  `tw:sys_unlink|${OPEN_EVENTS}`,
];

const METADATA_EVENTS = ['sys_fchmodat', 'sys_fchownat', 'sys_utimensat', 'sys_fchmod', 'sys_fchown'].map((p) => `tw:${p}|${OPEN_EVENTS}`);

export default defineWatch({
  name: 'who-modified',
  summary: 'Who changes a file: opens for writing, writes through any fd, truncation, replacement (editor saves), deletion, creation; ends at the first culprit',
  description:
    'Reports every change of the file\'s content or identity and who made it: an open for writing (tw:open_write, a ' +
    'kprobe on vfs_open, else tw:openat_write, openat(2) at its return by BPF), a write through any descriptor of ' +
    'it, also one opened before tw started (write, pwrite64, writev: tw:sys_write/sys_pwrite64/sys_writev), ' +
    'truncation (ftruncate, truncate(2) by name, an O_TRUNC open), replacement by a rename over the path (what ' +
    'editors, sed -i and mv do: "replaced by rename from <tmp>"), renaming it away, deletion, and the creation of ' +
    'a path that does not exist yet. Names given to the syscalls are resolved against the caller\'s cwd or ' +
    'directory fd; symlinks followed. The file is matched by inode and device in the kernel (the probes take ' +
    'them as live parameters) and followed through a replacement, so the next change of the new file is caught ' +
    'too. Reads and other files are never reported; with --include-metadata also mode, owner and time changes ' +
    '(fchmodat, fchownat, utimensat, fchmod, fchown: chmod, chown, touch).  The syscall forms need BPF (any kernel with BTF); where only ' +
    'the kprobe forms come up (a module), opens and deletions are seen; kprobe events cannot serve it (the open ' +
    'probe walks a path), and tw says so. Not seen: writes through a shared mapping (mmap) and io_uring; where ' +
    'tw:openat_write stands in for tw:open_write (no kprobes), opens by open(2), creat(2) and openat2(2) (writes ' +
    'through those descriptors are still seen). It ends once it has reported the first change; with --keep-going it ' +
    'reports every one until Ctrl-C or --duration. Offline (--input) the same events give the same answers, ' +
    'the file being known by the events themselves: by its path until an open of it names its inode, or by the inode ' +
    'the descriptor probes were filtered by when the recording was made.',
  examples: ['tw watch who-modified /etc/passwd', 'tw watch who-modified /etc/hosts --keep-going --json', 'tw watch who-modified /etc/shadow --include-metadata', 'tw watch who-modified /var/log/syslog --input trace.dat --json'],
  args: {
    path: { type: 'string', required: true, description: 'the file to watch (it may not exist yet)' },
    'include-metadata': { type: 'boolean', option: true, description: 'also report mode, owner and time changes (chmod, chown, touch)' },
  },
  // the metadata probes only come up with --include-metadata
  events: (args) => (args['include-metadata'] ? [...CONTENT_EVENTS, ...METADATA_EVENTS] : CONTENT_EVENTS),
  probes: [
    'open_write', 'openat_write', 'sys_write', 'sys_pwrite64', 'sys_writev', 'sys_ftruncate', 'sys_truncate', 'sys_rename', 'sys_renameat', 'sys_renameat2',
    'sys_unlinkat', 'unlink_cwd', 'unlink', 'sys_unlink', 'sys_fchmodat', 'sys_fchownat', 'sys_utimensat', 'sys_fchmod', 'sys_fchown',
  ],
  // no tracefs filter: one is fixed at the start, and would hide the file that replaced the
  // watched one (or one created after a deletion) from a module's open_write. The probes' own
  // parameters filter in the kernel on every backend and follow the file (ctx.setProbeParams);
  // the handlers compare inodes either way.

  probeParams: (args) => {
    const t = locate(args.path);
    if (t.ino === undefined || t.dev === undefined) return {};
    const file = { watch_ino: t.ino, watch_dev: t.dev };
    return Object.fromEntries(INODE_PROBES.map((p) => [p, file]));
  },
  state: (args): ModifiedState => {
    const target = locate(args.path);
    return { path: watchedPath(args.path, hostFs), target, missing: target.ino === undefined, startIno: target.ino, changes: [], opens: [], total: 0, byProcess: new Map(), answered: false };
  },
  start(ctx) {
    culpritsTotal(ctx);
    changesTotal(ctx);
    // a recording is another machine's (or another time's): its paths are compared lexically,
    // and the file at the path now says nothing of the file then — its identity comes from the
    // events (an open of the path names its inode; the descriptor probes were filtered by it)
    if (ctx.mode === 'file') {
      ctx.state.path = watchedPath(ctx.args.path, noFs);
      ctx.state.target = {};
      ctx.state.missing = false;
    }
  },
  on: {
    'tw:open_write'(e, ctx) {
      onOpen(e, ctx);
    },
    'tw:openat_write'(e, ctx) {
      onOpen(e, ctx);
    },
    'tw:sys_write'(e, ctx) {
      onFdChange(e, ctx);
    },
    'tw:sys_pwrite64'(e, ctx) {
      onFdChange(e, ctx);
    },
    'tw:sys_writev'(e, ctx) {
      onFdChange(e, ctx);
    },
    'tw:sys_ftruncate'(e, ctx) {
      onFdChange(e, ctx);
    },
    'tw:sys_truncate'(e, ctx) {
      onTruncate(e, ctx);
    },
    'tw:sys_rename'(e, ctx) {
      onRename(e, ctx);
    },
    'tw:sys_renameat'(e, ctx) {
      onRename(e, ctx);
    },
    'tw:sys_renameat2'(e, ctx) {
      onRename(e, ctx);
    },
    'tw:sys_unlinkat'(e, ctx) {
      onUnlink(e, ctx);
    },
    'tw:sys_unlink'(e, ctx) {
      onUnlink(e, ctx);
    },
    'tw:unlink_cwd'(e, ctx) {
      onUnlink(e, ctx);
    },
    'tw:unlink'(e, ctx) {
      onUnlink(e, ctx);
    },
    'tw:sys_fchmod'(e, ctx) {
      onFdMeta(e, ctx);
    },
    'tw:sys_fchown'(e, ctx) {
      onFdMeta(e, ctx);
    },
    'tw:sys_fchmodat'(e, ctx) {
      onNamedMeta(e, ctx);
    },
    'tw:sys_fchownat'(e, ctx) {
      onNamedMeta(e, ctx);
    },
    'tw:sys_utimensat'(e, ctx) {
      onNamedMeta(e, ctx);
    },
  },
  end(ctx): WhoModifiedResult {
    const s = ctx.state;
    return {
      path: ctx.args.path,
      matchedBy: s.startIno !== undefined ? 'inode' : 'path',
      ino: s.startIno !== undefined ? s.startIno.toString() : null,
      total: s.total,
      changes: s.changes,
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
    if (r.total === 0) return `nobody changed ${r.path}${lost}`;
    const table = formatTable(r.byProcess, [
      { header: 'PID', value: (x) => x.tgid },
      { header: 'COMM', value: (x) => x.comm },
      { header: 'CHANGES', value: (x) => x.count },
    ]);
    const kinds = [...new Set(r.changes.map((c) => c.what))].join(', ');
    return `${table}\n\n${r.total} change(s) of ${r.path} (${kinds})${lost}`;
  },
});
