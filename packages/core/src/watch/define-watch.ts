/**
 * The watch API: a watch declares what it needs (events, args, kernel-side filters) and handles
 * events; the session does the rest (reading a file or the live kernel, merging CPUs, the
 * process table). The same watch runs live, on a recording, and in a unit test.
 */
import { TwError } from '../errors.js';
import type { FieldValue } from '../decode/read-field.js';
import type { EventFormat } from '../format/parse-format.js';
import type { AlertOptions } from './alert.js';
import type { WatchMetrics } from './metrics.js';
import { quoted } from '../quote.js';

export type { Alert, AlertOptions, AlertRecord, Culprit, CulpritFacts, CulpritParent } from './alert.js';

export type ArgType = 'integer' | 'string' | 'boolean';

export interface ArgSpec {
  type: ArgType;
  description?: string;
  required?: boolean;
  default?: number | string | boolean;
  /**
   * An option (`tw watch <name> --<arg>[=value]`) instead of a positional argument: a boolean
   * option is a switch (`--fatal`, `--no-fatal`), others take a value (`--limit 5`).
   */
  option?: boolean;
  /** integer args: the smallest and largest value taken (a pid: 1 and PID_MAX_LIMIT) */
  min?: number;
  max?: number;
  /** any arg: what is wrong with a value (converted to its type), or undefined when it is fine */
  check?: (value: never) => string | undefined;
}

/** The largest pid Linux can hand out (PID_MAX_LIMIT on 64-bit: 4 Mi). */
export const PID_MAX_LIMIT = 4_194_304;

export type ArgSpecs = Record<string, ArgSpec>;

type ArgValue<S extends ArgSpec> = S['type'] extends 'integer' ? number : S['type'] extends 'boolean' ? boolean : string;

/** The parsed argument values of a watch: required (or defaulted) args are always present. */
export type ArgValues<A extends ArgSpecs> = {
  [K in keyof A as A[K]['required'] extends true ? K : A[K]['default'] extends number | string | boolean ? K : never]: ArgValue<A[K]>;
} & {
  [K in keyof A as A[K]['required'] extends true ? never : A[K]['default'] extends number | string | boolean ? never : K]?: ArgValue<A[K]>;
};

/**
 * One event, as a handler sees it. It is a *view*: valid only during the handler call, and
 * reused for the next event (no per-event allocation). Use toJSON() to keep a copy.
 */
export interface WatchEvent {
  /** timestamp in the trace clock's units (nanoseconds for the usual clocks) */
  readonly ts: bigint;
  readonly cpu: number;
  /** the pid (thread id) that was running when the event fired (common_pid) */
  readonly pid: number;
  /** that thread's name, from the process table */
  readonly comm: string;
  /** "system:name" */
  readonly event: string;
  /** the kernel's numeric event id (common_type) */
  readonly id: number;
  /** the tracefs instance (buffer) the event came from; "" for the top-level buffer */
  readonly buffer: string;
  /** the event's own fields, decoded lazily on access */
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** a JSON-safe copy: the same object `tw dump` prints */
  toJSON(): EventRecord;
}

/** The JSON form of an event, as printed by `tw dump` (one per line). */
export interface EventRecord {
  ts: string;
  cpu: number;
  pid: number;
  comm: string;
  event: string;
  buffer?: string;
  fields: Record<string, unknown>;
}

/** What `ctx.proc(pid)` knows about a process (the session's process table keeps it current). */
export interface ProcessInfo {
  pid: number;
  comm: string;
  /** thread-group id (the process id of a thread); undefined when the trace never said */
  tgid: number | undefined;
  ppid: number | undefined;
  /** the program it runs (sched_process_exec's filename, or /proc/<pid>/exe when live) */
  exe: string | undefined;
  /** its arguments, space-separated (from /proc live, or as a probe captured them) */
  cmdline: string | undefined;
  /** real user id (from /proc live, inherited over fork; exec does not change it) */
  uid: number | undefined;
  /** timestamp (ns) of sched_process_exit, when seen */
  exitedAt: bigint | undefined;
}

/** What a recording's task table says of a pid (tw's recordings; see docs/formats.md). */
export interface TaskFacts {
  ppid: number | undefined;
  exe: string | undefined;
  uid?: number;
  cmdline?: string;
}

export interface WatchContext<A, S> {
  readonly args: A;
  /** per-run state, made by the watch's `state()` factory */
  state: S;
  /** 'file' when replaying a recording, 'live' when tracing the running kernel */
  readonly mode: 'file' | 'live';
  /** what the process table knows about a pid (comm, tgid, ppid, exe, cmdline, uid) */
  proc(pid: number): ProcessInfo;
  /** the parents of a pid, nearest first */
  parents(pid: number): ProcessInfo[];
  /** syscall number → name for the traced machine's architecture (unknown numbers: the number) */
  syscallName(nr: number): string;
  /**
   * Report something now: a structured alert (wall-clock time, trace timestamp, watch, message,
   * and with `opts.pid` the culprit as the process table knows it — pid, comm, tgid, ppid,
   * parents; with `opts.details` a JSON-able record). It goes to the alert sinks as it happens
   * (stderr, `--json` lines, `--exec`, `--notify`) and is collected in the run's alerts.
   */
  alert(message: string, opts?: AlertOptions): void;
  /** end the trace after this handler returns; end() still runs */
  stop(): void;
  /**
   * Live: change a probe's live parameters (its spec says `live: true`) while it runs, e.g. the
   * inode a filter keeps after the watched file was replaced: from the next event on, the kernel
   * filters by the new values. Returns false where that cannot be done (a recording, a probe
   * not brought up by this session, a backend that cannot: kprobe events, or a probe loaded
   * before tw) — the watch then filters in its handler instead. Throws a TwError (PROBE_PARAM)
   * for a parameter that is not in the spec, not live, or does not fit.
   */
  setProbeParams(probe: string, params: ProbeParams): boolean;
  /**
   * `tw watch --keep-going`: the user wants a monitor, not one answer. A watch that answers a
   * question (who deleted this, who killed that) stops after the answer unless ctx.keepGoing;
   * then it alerts on every culprit until Ctrl-C or --duration. Watches that never stop by
   * themselves can ignore it. Read-only; false unless the run asked for it.
   */
  readonly keepGoing: boolean;
  /**
   * The watch's own metrics (counters, gauges, histograms with labels; see docs/watch-api.md,
   * "Metrics"). Declare them in start(): `tw serve` exports them (with a `watch` label), a test
   * can read them (MemoryMetrics); under `tw watch` the calls are checked and the values dropped.
   */
  readonly metrics: WatchMetrics;
  /** does the trace (file or kernel) have this event? */
  has(event: string): boolean;
  /** events lost by the kernel so far (stored counts of dropped events) */
  readonly lost: number;
  /** events dispatched so far (to any watch) */
  readonly events: number;
  /** timestamp of the current (or last) event */
  readonly now: bigint;
}

export type Handler<A, S> = (e: WatchEvent, ctx: WatchContext<A, S>) => void;

/**
 * What the generic `custom_event` handler receives for every dynamic-probe event (system
 * "tw"): a copy (not a view) of the event with the probe's raw payload bytes (the record after
 * the common header) and the unpacked object, saying which unpacker made it.
 */
export interface CustomProbeEvent extends WatchEvent {
  /** the payload: the record bytes after the 8-byte common header (a copy) */
  readonly raw: Uint8Array;
  /**
   * The unpacked payload. With `unpacker: 'generated'`: the object the probe's generated
   * unpack<Name>() returned, typed by its spec (numbers; bigint for 64-bit fields; strings;
   * booleans; Uint8Array copies for bytes fields), `pid` included when the spec has it. With
   * `unpacker: 'format'`: the event's own fields decoded from the kernel's format, JSON-safe
   * (as in tw dump, so `__probe_ip` included and 64-bit values above 2^53 as strings).
   */
  readonly data: Record<string, unknown>;
  /**
   * Who unpacked `data`: 'generated' — the probe's generated `<name>.unpack.js`, registered for
   * this event by the session (tw watch does so for the probes the watch declares, after the
   * layout check); 'format' — the format-driven decoder (no generated unpacker registered, or
   * its layout does not match this trace's format of the event).
   */
  readonly unpacker: 'generated' | 'format';
  /** With `unpacker: 'generated'`: the spec hash of the generated file (its <NAME>_SPEC_HASH). */
  readonly specHash?: string;
}

/**
 * A probe's generated unpacker as a session runs it for one event (`RunOptions.unpackers`,
 * keyed by "tw:<name>"). core never generates or imports one: the caller does (tw watch: the
 * probe's `<name>.unpack.js` from @tw/kprobe-gen).
 */
export interface ProbeUnpacker {
  /** the spec hash the generated file carries */
  readonly specHash: string;
  /**
   * Unpack the record that starts (at its common_type) at `offset` in `view`. The session
   * passes a view bounded to the one record, so reading past it throws (reported as a
   * DecodeError) instead of reading the next record.
   */
  unpack(view: DataView, offset: number, littleEndian: boolean): Record<string, unknown>;
  /**
   * Called once per session with the trace's format of the event: false makes the session use
   * the format-driven decoder for it instead (e.g. a recording made with another layout).
   * Absent: accepted.
   */
  accepts?(format: EventFormat): boolean;
}

/**
 * A value for one parameter of a dynamic probe (a spec's `params`): an integer param takes a
 * number (a safe integer) or a bigint, a bool param a boolean, a charp param a string.
 */
export type ProbeParamValue = number | bigint | boolean | string;

/** Values for one probe's parameters, by parameter name; those left out keep the spec's defaults. */
export type ProbeParams = Readonly<Record<string, ProbeParamValue>>;

export interface WatchDefinition<A extends ArgSpecs = ArgSpecs, S = unknown, R = unknown> {
  /** kebab-case name: `tw watch <name>` */
  name: string;
  /** one line for `tw watches` */
  summary: string;
  description?: string;
  /** example invocations, e.g. "tw watch syscall-times 1234 --input trace.dat" */
  examples?: string[];
  /** arguments, in positional order */
  args?: A;
  /**
   * Events the watch needs: "system:event", globs like "syscalls:sys_enter_*", or "*";
   * "a|b" means the first of the alternatives the kernel has (live), any of them (offline).
   * Live, these are enabled in the session's instance; offline, those present in the file are used.
   */
  events: readonly string[] | ((args: ArgValues<A>) => readonly string[]);
  /**
   * Dynamic probes (by spec name, from installed plugins) the watch needs; `tw watch` brings them
   * up (a kernel module, else a kprobe event, else a BPF program) before tracing and takes them
   * down on every exit path. Their events arrive as `tw:<name>`. A probe whose event is a later
   * alternative of an `events` pattern ("tw:a|tw:b") is only brought up when the earlier ones
   * could not be.
   */
  probes?: readonly string[];
  /**
   * kernel-side filters per event (pushed into the events' `filter` files when live). A probe
   * brought up by BPF has no tracefs event, so no filter file: give its filtering to the probe
   * itself with `probeParams`.
   */
  filter?: (args: ArgValues<A>) => Record<string, string>;
  /**
   * Values for the parameters of the probes in `probes`, from the watch's args: by probe name,
   * then by parameter name (the spec's `params`), e.g.
   * `(args) => ({ open_write: { watch_ino: 1234n, watch_dev: 45 } })`. Live, the backend that
   * brings the probe up passes them to where the probe's own filter reads them (a module's
   * parameters, the values substituted into a kprobe event's filter, a BPF program's `const
   * volatile` globals), so what the probe's filter rejects never reaches the session. Unlike
   * `filter`, this works for every backend, BPF included. Parameters left out, and probes not
   * named, keep the spec's defaults; offline (`--input`) the function is not called.
   * Checked before any probe is brought up: a probe not in `probes`, a parameter its spec does not
   * declare, or a value of the wrong type or out of the parameter's range is a PROBE_PARAM error
   * naming the watch, the probe and the parameter.
   */
  probeParams?: (args: ArgValues<A>) => Readonly<Record<string, ProbeParams>>;
  /** makes the per-run state (ctx.state) */
  state?: (args: ArgValues<A>) => S;
  start?: (ctx: WatchContext<ArgValues<A>, S>) => void;
  /**
   * handlers by event pattern; '*' receives every event; 'custom_event' receives every
   * dynamic-probe event (tw:*) as a CustomProbeEvent (raw payload + unpacked object, and which
   * unpacker made it)
   */
  on: Record<string, Handler<ArgValues<A>, S>>;
  /** the result: printed as text (see `format`) or as JSON with --json */
  end?: (ctx: WatchContext<ArgValues<A>, S>) => R;
  /** renders the result for humans; default: JSON */
  format?: (result: R) => string;
}

export type AnyWatch = WatchDefinition<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** Declare a watch (validates the definition once, at load time). */
export function defineWatch<A extends ArgSpecs = Record<never, ArgSpec>, S = undefined, R = unknown>(
  def: WatchDefinition<A, S, R>,
): WatchDefinition<A, S, R> {
  if (!NAME.test(def.name)) throw new TwError('INVALID_WATCH', `watch name '${def.name}' must be kebab-case (a-z, 0-9, -)`);
  if (!def.summary) throw new TwError('INVALID_WATCH', `watch '${def.name}' has no summary`);
  if (typeof def.on !== 'object' || def.on === null) throw new TwError('INVALID_WATCH', `watch '${def.name}' has no handlers ('on')`);
  if (def.probeParams !== undefined && typeof def.probeParams !== 'function') {
    throw new TwError('INVALID_WATCH', `watch '${def.name}': probeParams must be a function of the args returning { <probe>: { <param>: value } }`);
  }
  if (def.probeParams !== undefined && (def.probes ?? []).length === 0) throw new TwError('INVALID_WATCH', `watch '${def.name}' has probeParams but declares no probes`);
  for (const [k, spec] of Object.entries(def.args ?? {})) {
    if (!/^[a-z][a-zA-Z0-9_-]*$/.test(k)) throw new TwError('INVALID_WATCH', `watch '${def.name}': invalid argument name '${k}'`);
    if (!['integer', 'string', 'boolean'].includes(spec.type)) {
      throw new TwError('INVALID_WATCH', `watch '${def.name}': argument '${k}' has unknown type '${String(spec.type)}'`);
    }
    if (spec.option === true && !/^[a-z][a-z0-9-]{1,40}$/.test(k)) {
      throw new TwError('INVALID_WATCH', `watch '${def.name}': option '${k}' must be kebab-case of 2 to 41 characters (it is spelled --${k})`);
    }
    if (spec.option === true && spec.required === true) throw new TwError('INVALID_WATCH', `watch '${def.name}': option '--${k}' cannot be required (make it a positional argument)`);
  }
  for (const k of Object.keys(def.on)) {
    if (k !== '*' && k !== 'custom_event' && !/^[a-zA-Z0-9_*?]+:[a-zA-Z0-9_.*?-]+$/.test(k)) {
      throw new TwError('INVALID_WATCH', `watch '${def.name}': handler key '${k}' must be 'system:event' (globs allowed), '*' or 'custom_event'`);
    }
  }
  return def;
}

/** A watch's options (args with `option: true`), by name. */
export function watchOptions(watch: AnyWatch): Array<[string, ArgSpec]> {
  return Object.entries((watch.args ?? {}) as ArgSpecs).filter(([, s]) => s.option === true);
}

function convertArg(watch: AnyWatch, label: string, spec: ArgSpec, raw: string): number | string | boolean {
  const bad = (why: string) => new TwError('BAD_ARGUMENT', `watch '${watch.name}': ${label} ${why}`);
  const checked = <T extends number | string | boolean>(v: T): T => {
    const why = spec.check?.(v as never);
    if (why !== undefined) throw bad(`${why}, got ${quoted(String(v))}`);
    return v;
  };
  switch (spec.type) {
    case 'integer': {
      if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw bad(`must be an integer, got ${quoted(raw)}`);
      const n = Number(raw);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw bad(`must be ${spec.min !== undefined && spec.max !== undefined ? `from ${spec.min} to ${spec.max}` : spec.min !== undefined ? `at least ${spec.min}` : `at most ${spec.max}`}, got ${n}`);
      }
      return checked(n);
    }
    case 'boolean':
      if (!/^(true|false|1|0|yes|no)$/i.test(raw)) throw bad(`must be true or false, got ${quoted(raw)}`);
      return checked(/^(true|1|yes)$/i.test(raw));
    case 'string':
      return checked(raw);
    default: {
      const never: never = spec.type;
      throw new TwError('INVALID_WATCH', `unknown argument type ${String(never)}`);
    }
  }
}

/**
 * Parse positional argument strings (and option values, by option name: `true` for a switch
 * given, `false` for --no-<name>, a string for an option with a value) against a watch's arg
 * specs. Errors name the watch, the argument and what was expected.
 */
export function parseWatchArgs(watch: AnyWatch, values: readonly string[], options: Readonly<Record<string, string | boolean>> = {}): Record<string, unknown> {
  const specs = Object.entries((watch.args ?? {}) as ArgSpecs).filter(([, s]) => s.option !== true);
  if (values.length > specs.length) {
    const usage = specs.map(([k, s]) => (s.required ? `<${k}>` : `[${k}]`)).join(' ');
    throw new TwError('BAD_ARGUMENT', `watch '${watch.name}' takes ${specs.length === 0 ? 'no arguments' : `at most ${specs.length} argument(s): ${usage}`}; got ${values.length}`);
  }
  const out: Record<string, unknown> = {};
  specs.forEach(([k, spec], i) => {
    const raw = values[i];
    if (raw === undefined) {
      if (spec.required) throw new TwError('BAD_ARGUMENT', `watch '${watch.name}' needs the argument <${k}>${spec.description ? ` (${spec.description})` : ''}`);
      if (spec.default !== undefined) out[k] = spec.default;
      return;
    }
    out[k] = convertArg(watch, `argument <${k}>`, spec, raw);
  });
  const opts = new Map(watchOptions(watch));
  for (const [k, v] of Object.entries(options)) {
    const spec = opts.get(k);
    if (spec === undefined) {
      const known = [...opts.keys()].map((o) => `--${o}`).join(', ');
      throw new TwError('BAD_ARGUMENT', `watch '${watch.name}' has no option --${k}${known ? ` (its options: ${known})` : ''}`);
    }
    if (typeof v === 'boolean' && spec.type !== 'boolean') throw new TwError('BAD_ARGUMENT', `watch '${watch.name}': option --${k} needs a value (--${k}=<${spec.type}>)`);
    out[k] = typeof v === 'boolean' ? v : convertArg(watch, `option --${k}`, spec, v);
  }
  for (const [k, spec] of opts) if (!(k in out) && spec.default !== undefined) out[k] = spec.default;
  return out;
}
