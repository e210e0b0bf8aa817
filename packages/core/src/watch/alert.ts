/**
 * Structured alerts: what `ctx.alert(message, { pid, details })` makes. The session stamps each
 * alert with the trace timestamp and a wall-clock time (see session/wall-clock.ts for where
 * that comes from), and fills the culprit from its process table at the moment of the alert.
 * Sinks (stderr, JSON lines, --exec, desktop notifications) are the CLI's: core only builds the
 * alert and its JSON form (AlertRecord), the same object every sink and `--json` carry.
 */
import { jsonSafe } from '../decode/read-field.js';

/** What a watch may pass with an alert. */
export interface AlertOptions {
  /** the culprit's thread id: the session fills the culprit from its process table */
  pid?: number;
  /** anything else worth knowing, JSON-able (bigints become numbers, or strings above 2^53) */
  details?: Record<string, unknown>;
  /**
   * Facts about the culprit the event itself carries (a probe captured them in the kernel, at
   * the event): they win over the process table's, which may have learnt them later or never.
   */
  culprit?: CulpritFacts;
}

/** What an event may know of its culprit. */
export interface CulpritFacts {
  comm?: string;
  tgid?: number;
  ppid?: number;
  uid?: number;
  exe?: string;
  cmdline?: string;
}

/** A parent of the culprit, as the process table knew it. */
export interface CulpritParent {
  pid: number;
  comm: string;
}

/**
 * Who caused an alert, as the process table knew them when the alert was raised. Only `pid`
 * and `comm` are always there; the other members are present when the table knows them, and
 * more may be added (readers should ignore members they do not know).
 */
export interface Culprit {
  /** the thread id the watch named */
  pid: number;
  /** its name ("<...>" when the trace never said) */
  comm: string;
  /** its thread-group (process) id */
  tgid?: number;
  /** the parent process id */
  ppid?: number;
  /** real user id */
  uid?: number;
  /** the program it ran (the path it was exec'd as) */
  exe?: string;
  /** its arguments, space-separated */
  cmdline?: string;
  /** the parent chain, nearest first (as far as the table knows it) */
  parents?: CulpritParent[];
}

export interface Alert {
  /**
   * wall-clock time of the alert, ISO 8601 in UTC with milliseconds
   * ("2025-01-31T12:00:00.123Z"); null when the trace gives no way to know it (a recording
   * without a wall-clock reference)
   */
  time: string | null;
  /** trace timestamp of the event being handled (0 outside a handler: in start() or end()) */
  ts: bigint;
  watch: string;
  message: string;
  culprit?: Culprit;
  details?: Record<string, unknown>;
}

/** The JSON form of an alert: what `--json` streams, `--exec` gets on stdin, and results carry. */
export interface AlertRecord {
  time: string | null;
  /** trace timestamp in ns, as a decimal string */
  ts: string;
  watch: string;
  message: string;
  culprit?: Culprit;
  details?: Record<string, unknown>;
}

/** What the culprit is filled from: the session's process table. */
export interface CulpritSource {
  get(pid: number): { pid: number; comm: string; tgid: number | undefined; ppid: number | undefined; uid?: number | undefined; exe?: string | undefined; cmdline?: string | undefined };
  parents(pid: number): ReadonlyArray<{ pid: number; comm: string }>;
}

/**
 * The culprit for a thread id, from what the process table knows now, and what the event itself
 * says of it (`facts`, which win). Members in a fixed order: pid, comm, tgid, ppid, uid, exe,
 * cmdline, parents.
 */
export function culpritOf(procs: CulpritSource, pid: number, facts: CulpritFacts = {}): Culprit {
  const p = procs.get(pid);
  const pick = <K extends keyof CulpritFacts>(k: K, table: CulpritFacts[K] | undefined): CulpritFacts[K] | undefined => {
    const v = facts[k];
    return v !== undefined && v !== '' && !(typeof v === 'number' && !Number.isFinite(v)) ? v : table;
  };
  const c: Culprit = { pid, comm: pick('comm', p.comm) ?? p.comm };
  const tgid = pick('tgid', p.tgid);
  if (tgid !== undefined) c.tgid = tgid;
  const ppid = pick('ppid', p.ppid);
  if (ppid !== undefined) c.ppid = ppid;
  const uid = pick('uid', p.uid);
  if (uid !== undefined) c.uid = uid;
  const exe = pick('exe', p.exe);
  if (exe !== undefined) c.exe = exe;
  const cmdline = pick('cmdline', p.cmdline);
  if (cmdline !== undefined) c.cmdline = cmdline;
  const parents = procs.parents(pid);
  if (parents.length > 0) c.parents = parents.map((q) => ({ pid: q.pid, comm: q.comm }));
  return c;
}

/** A JSON-safe deep copy (bigints as jsonSafe makes them; Maps and Sets as objects and arrays). */
function jsonCopy(v: unknown, depth = 0): unknown {
  if (depth > 32) return '[too deep]';
  if (typeof v === 'bigint') return jsonSafe(v);
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
  if (v instanceof Uint8Array) return Array.from(v);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), jsonCopy(x, depth + 1)]));
  if (v instanceof Set) return [...v].map((x) => jsonCopy(x, depth + 1));
  if (Array.isArray(v)) return v.map((x) => jsonCopy(x, depth + 1) ?? null);
  if (typeof v === 'object' && v !== null) {
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return jsonCopy((v as { toJSON: () => unknown }).toJSON(), depth + 1);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = jsonCopy(x, depth + 1);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  return v;
}

/**
 * Build an alert. `details` is copied (JSON-safe) at once, so a watch may reuse its object;
 * the culprit is read from the process table now, as it is at the alert's event.
 */
export function makeAlert(o: { watch: string; message: string; ts: bigint; time: string | null; opts?: AlertOptions | undefined; procs: CulpritSource }): Alert {
  const a: Alert = { time: o.time, ts: o.ts, watch: o.watch, message: String(o.message) };
  const pid = o.opts?.pid;
  if (pid !== undefined && Number.isInteger(pid)) a.culprit = culpritOf(o.procs, pid, typeof o.opts?.culprit === 'object' && o.opts.culprit !== null ? o.opts.culprit : {});
  const details = o.opts?.details;
  if (details !== undefined && details !== null && typeof details === 'object') a.details = jsonCopy(details) as Record<string, unknown>;
  return a;
}

/** The JSON form of an alert (members in a fixed order: time, ts, watch, message, culprit, details). */
export function alertRecord(a: Alert): AlertRecord {
  const r: AlertRecord = { time: a.time, ts: a.ts.toString(), watch: a.watch, message: a.message };
  if (a.culprit !== undefined) r.culprit = a.culprit;
  if (a.details !== undefined) r.details = a.details;
  return r;
}
