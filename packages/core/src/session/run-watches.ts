/**
 * Runs watches over an engine: resolves each watch's handler patterns to event ids once,
 * dispatches every record to the handlers that want it, and gives handlers their context
 * (args, state, process table, alerts, stop). The same WatchSession serves a file replay
 * (one engine.run) and a live trace (engine.drain per watermark).
 */
import { DecodeError, TwError, WatchError, isTwError } from '../errors.js';
import type { EventFormat } from '../format/parse-format.js';
import { globToRegExp } from '../format/registry.js';
import { makeAlert, type Alert } from '../watch/alert.js';
import { RunMetrics, type MetricsBackend } from '../watch/metrics.js';
import type { AnyWatch, CustomProbeEvent, ProbeParams, ProbeUnpacker, WatchContext, WatchEvent } from '../watch/define-watch.js';
import { Engine, type EngineStats, type EventView, type TraceSource } from './engine.js';
import { wallClockFor, type WallClock } from './wall-clock.js';

export interface WatchRun {
  watch: AnyWatch;
  /** parsed argument values (see parseWatchArgs) */
  args: Record<string, unknown>;
  /** the watch's ctx.keepGoing (`tw watch --keep-going`): go on after the answer; default false */
  keepGoing?: boolean;
  /** the run's id, the value of its metrics' `watch` label (runs of one watch need distinct ids); default: the watch's name */
  id?: string;
}

// Inside the runner the watch's own arg and state types are opaque.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

export interface RunOptions {
  mode?: 'file' | 'live';
  /** only replay these buffers (instance names; "" is the top-level buffer) */
  buffers?: readonly string[];
  /**
   * called for every ctx.alert(), as it happens. An exception from it is not the watch's: it is
   * passed to onAlertError (default: ignored), and the alert is still collected.
   */
  onAlert?: (a: Alert) => void;
  onAlertError?: (err: unknown, a: Alert) => void;
  /**
   * how alerts get their wall-clock time (default: from the source's realtimeOffset; else live,
   * the time of the alert; else null): see session/wall-clock.ts
   */
  wallClock?: WallClock;
  /** live: extra lost-event count (from the instance's per-CPU stats), added to ctx.lost */
  extraLost?: () => number;
  /**
   * Generated unpackers by event ("tw:<name>"): custom_event handlers get `data` from them
   * (`unpacker: 'generated'`) for the events they accept; other tw:* events are unpacked from
   * their format (`unpacker: 'format'`).
   */
  unpackers?: ReadonlyMap<string, ProbeUnpacker>;
  /** live: ctx.setProbeParams (see WatchContext); absent: it returns false */
  setProbeParams?: (probe: string, params: ProbeParams) => boolean;
  /**
   * A hook or handler returned a promise (an async function) that rejected later: the failure,
   * naming the watch and the hook (and the event it was called for). The session does not wait
   * for such promises. Absent: their rejections are left unhandled, as before.
   */
  onAsyncError?: (err: TwError) => void;
  /** where the watches' ctx.metrics values go (tw serve: Prometheus); absent: checked, then dropped */
  metrics?: MetricsBackend;
}

export interface WatchOutcome {
  watch: string;
  result: unknown;
}

export interface RunReport {
  outcomes: WatchOutcome[];
  alerts: Alert[];
  stats: EngineStats;
  stopped: boolean;
}

/**
 * Call one of a watch's hooks (state, events, filter, start, end): whatever it throws becomes a
 * WatchError naming the watch and the hook (a tw error it throws stays what it is).
 */
export function callHook<T>(watch: AnyWatch, hook: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw isTwError(err) ? err : new WatchError(watchName(watch), hook, err);
  }
}

function watchName(watch: AnyWatch): string {
  return typeof watch.name === 'string' ? watch.name : String(watch.name);
}

/** The event patterns a watch declares, for these args: a list of strings, checked. */
export function declaredEvents(watch: AnyWatch, args: Record<string, unknown>): readonly string[] {
  const events: unknown = typeof watch.events === 'function' ? callHook(watch, 'events', () => (watch.events as (a: Loose) => unknown)(args as Loose)) : watch.events;
  if (!Array.isArray(events) || !events.every((p) => typeof p === 'string')) {
    throw new WatchError(watchName(watch), 'events', new Error(`it must give a list of event names ('system:event'), gave ${describeValue(events)}`));
  }
  return events as string[];
}

/** The kernel-side filters a watch asks for, for these args: event pattern → filter text, checked. */
export function declaredFilters(watch: AnyWatch, args: Record<string, unknown>): Record<string, string> {
  if (!watch.filter) return {};
  const filters: unknown = callHook(watch, 'filter', () => (watch.filter as (a: Loose) => unknown)(args as Loose));
  if (filters === undefined) return {};
  if (typeof filters !== 'object' || filters === null || Array.isArray(filters) || !Object.values(filters).every((f) => typeof f === 'string')) {
    throw new WatchError(watchName(watch), 'filter', new Error(`it must give an object of event → filter text, gave ${describeValue(filters)}`));
  }
  return filters as Record<string, string>;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list holding ${v.map((x) => typeof x).filter((t, i, a) => a.indexOf(t) === i).join(', ') || 'nothing'}`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * An end() result must be printable: JSON-like data (bigints and Maps allowed) without cycles.
 * Returns what is wrong with it, or undefined.
 */
export function resultProblem(v: unknown): string | undefined {
  const path: unknown[] = [];
  const walk = (x: unknown, depth: number): string | undefined => {
    if (typeof x === 'function') return 'it holds a function';
    if (typeof x === 'symbol') return 'it holds a symbol';
    if (typeof x !== 'object' || x === null) return undefined;
    if (path.includes(x)) return 'it refers to itself (a circular structure)';
    if (depth > 200) return 'it is nested more than 200 levels deep';
    path.push(x);
    try {
      const kids = x instanceof Map ? [...x.values()] : Array.isArray(x) ? x : Object.values(x);
      for (const k of kids) {
        const why = walk(k, depth + 1);
        if (why) return why;
      }
      return undefined;
    } finally {
      path.pop();
    }
  };
  return walk(v, 0);
}

/**
 * A copy of a probe event with its raw payload and unpacked fields (for custom_event): from the
 * generated unpacker when one is registered for the event, else from the event's format.
 */
function customEvent(e: EventView, u: ProbeUnpacker | undefined): CustomProbeEvent {
  const rec = e.toJSON();
  const c = e.c;
  const raw = c.buf.slice(c.recOffset + 8, c.recOffset + c.recLength); // copy: the view moves on
  const base = { ts: e.ts, cpu: e.cpu, pid: e.pid, comm: e.comm, event: e.event, id: e.id, buffer: e.buffer, fields: rec.fields as CustomProbeEvent['fields'], toJSON: () => rec, raw };
  if (u === undefined) return { ...base, data: rec.fields, unpacker: 'format' };
  // The generated unpacker reads the record where it lies in the sub-buffer, through a view of
  // exactly that record (offset 0 = its common_type, where raw's payload starts 8 bytes later):
  // a bad length or __data_loc cannot make it read the next record.
  const view = new DataView(c.buf.buffer, c.buf.byteOffset + c.recOffset, c.recLength);
  let data: Record<string, unknown>;
  try {
    data = u.unpack(view, 0, c.littleEndian);
  } catch (err) {
    throw new DecodeError(e.cpu, c.recOffset, `${e.event}: the generated unpacker (spec ${u.specHash}) failed on a ${c.recLength}-byte record: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  // bytes fields come back as views into the sub-buffer, which the reader reuses: copy them
  for (const k of Object.keys(data)) {
    const v = data[k];
    if (v instanceof Uint8Array) data[k] = v.slice();
  }
  return { ...base, data, unpacker: 'generated', specHash: u.specHash };
}

export class WatchSession {
  readonly alerts: Alert[] = [];
  stopped = false;
  private current: WatchEvent | undefined;
  private readonly contexts: WatchContext<Loose, Loose>[];
  private readonly table: Array<Array<(e: WatchEvent) => void> | undefined> = [];
  private readonly wildcard: Array<(e: WatchEvent) => void> = [];
  private readonly unpackerChoice = new Map<number, ProbeUnpacker | undefined>();

  constructor(
    readonly engine: Engine,
    private readonly runs: readonly WatchRun[],
    private readonly opts: RunOptions = {},
  ) {
    const self = this;
    const mode = opts.mode ?? 'file';
    const wallClock = opts.wallClock ?? wallClockFor(engine.source.realtimeOffset, mode);
    // the ids are the values of the metrics' watch label: two runs under one id would add up
    // into the same series without anyone noticing
    const ids = new Set<string>();
    for (const { watch, id } of runs) {
      if (id !== undefined && (typeof id !== 'string' || id === '')) throw new TwError('BAD_ARGUMENT', `watch '${watchName(watch)}': its run id must be a non-empty string`);
      const runId = id ?? watchName(watch);
      if (opts.metrics !== undefined && ids.has(runId)) throw new TwError('BAD_ARGUMENT', `two runs of watch '${watchName(watch)}' have the id '${runId}': give each its own (WatchRun.id), their metrics are told apart by it`);
      ids.add(runId);
    }
    this.contexts = runs.map(({ watch, args, keepGoing, id }) => {
      const metrics = new RunMetrics(watchName(watch), id ?? watchName(watch), opts.metrics);
      const ctx: WatchContext<Loose, Loose> = {
        args,
        state: watch.state ? callHook(watch, 'state', () => watch.state!(args as Loose)) : undefined,
        mode,
        keepGoing: keepGoing === true,
        proc: (pid) => engine.procs.get(pid),
        parents: (pid) => engine.procs.parents(pid),
        syscallName: engine.syscallName,
        alert(message, alertOpts) {
          const ts = self.current?.ts;
          const a = makeAlert({ watch: watch.name, message, ts: ts ?? 0n, time: wallClock(ts), opts: alertOpts, procs: engine.procs });
          self.alerts.push(a);
          // a sink that fails is not the watch's failure: the alert is kept either way
          try {
            opts.onAlert?.(a);
          } catch (err) {
            opts.onAlertError?.(err, a);
          }
        },
        stop() {
          self.stopped = true;
        },
        setProbeParams: (probe, params) => opts.setProbeParams?.(probe, params) ?? false,
        metrics,
        has: (event) => engine.formats.match(event).length > 0,
        get lost() {
          return self.lost;
        },
        get events() {
          return engine.events;
        },
        get now() {
          return self.current ? self.current.ts : 0n;
        },
      };
      return ctx;
    });

    // Dispatch table: event id → bound handlers, resolved from each watch's patterns.
    runs.forEach(({ watch }, wi) => {
      const ctx = this.contexts[wi]!;
      for (const [pattern, handler] of Object.entries(watch.on)) {
        const where = (e: WatchEvent) => `event ${e.event} at ts ${e.ts}, cpu ${e.cpu}, pid ${e.pid}`;
        const fail = (err: unknown, e: WatchEvent): never => {
          if (isTwError(err)) throw err;
          throw new WatchError(watch.name, `'${pattern}'`, err, where(e));
        };
        if (pattern === 'custom_event') {
          // every dynamic-probe event (system tw), as a copy with its raw payload and the
          // unpacked object: one bound handler per event, with that event's unpacker
          for (const f of engine.formats.all()) {
            if (!/^tw:/.test(f.fullName)) continue;
            const u = this.unpackerFor(f);
            (this.table[f.id] ??= []).push((e) => {
              const c = customEvent(e as EventView, u);
              try {
                const r: unknown = handler(c, ctx);
                if (r !== undefined) this.later(r, watch.name, `'${pattern}'`, () => where(e));
              } catch (err) {
                fail(err, e);
              }
            });
          }
          continue;
        }
        const re = pattern === '*' ? undefined : globToRegExp(pattern);
        const bound = (e: WatchEvent) => {
          try {
            const r: unknown = handler(e, ctx);
            if (r !== undefined) this.later(r, watch.name, `'${pattern}'`, () => where(e));
          } catch (err) {
            fail(err, e);
          }
        };
        for (const f of engine.formats.all()) {
          if (re && !re.test(f.fullName)) continue;
          (this.table[f.id] ??= []).push(bound);
        }
        // '*' handlers must also see records of ids with no format in the trace
        if (!re) this.wildcard.push(bound);
      }
    });
  }

  /**
   * A hook's return value: when it is a promise (an async hook), its rejection is the watch's
   * failure, reported through onAsyncError with the watch, the hook and (now, while the event
   * view still holds it) the event.
   */
  private later(r: unknown, watch: string, hook: string, context?: () => string): void {
    const report = this.opts.onAsyncError;
    if (report === undefined || r === null || typeof (r as PromiseLike<unknown>).then !== 'function') return;
    const at = context?.();
    (r as PromiseLike<unknown>).then(undefined, (err: unknown) => report(isTwError(err) ? err : new WatchError(watch, hook, err, at)));
  }

  /** The generated unpacker registered for an event, if it accepts this trace's format (asked once). */
  private unpackerFor(f: EventFormat): ProbeUnpacker | undefined {
    if (!this.unpackerChoice.has(f.id)) {
      const u = this.opts.unpackers?.get(f.fullName);
      this.unpackerChoice.set(f.id, u !== undefined && (u.accepts === undefined || u.accepts(f)) ? u : undefined);
    }
    return this.unpackerChoice.get(f.id);
  }

  get lost(): number {
    return this.engine.stats.lost + (this.opts.extraLost?.() ?? 0);
  }

  /** Check that every watch can see at least one of its events, then run the start hooks. */
  start(): void {
    for (const { watch, args } of this.runs) {
      const wanted = declaredEvents(watch, args);
      const alternatives = wanted.flatMap((p) => p.split('|'));
      const present = alternatives.filter((p) => this.engine.formats.match(p).length > 0);
      if (alternatives.length > 0 && present.length === 0) {
        throw new TwError('UNKNOWN_EVENT', `watch '${watch.name}' needs ${alternatives.length === 1 ? 'the event' : 'one of the events'} ${alternatives.join(', ')}, and this trace has none of them`);
      }
    }
    this.runs.forEach(({ watch }, wi) => {
      const r: unknown = callHook(watch, 'start', () => watch.start?.(this.contexts[wi]!));
      if (r !== undefined) this.later(r, watch.name, 'start');
    });
  }

  /** The engine visitor: returns false once a watch called ctx.stop(). */
  readonly visit = (e: EventView): boolean => {
    this.current = e;
    const hs = this.table[e.id] ?? (e.event.startsWith('unknown:') ? this.wildcard : undefined);
    if (hs !== undefined) {
      for (let i = 0; i < hs.length; i++) hs[i]!(e);
      if (this.stopped) return false;
    }
    return true;
  };

  /** Run the end hooks and collect the results. */
  finish(): RunReport {
    this.current = undefined;
    const outcomes = this.runs.map(({ watch }, wi) => {
      const result: unknown = watch.end ? callHook(watch, 'end', () => watch.end!(this.contexts[wi]!)) : undefined;
      if (result !== undefined) this.later(result, watch.name, 'end');
      const problem = resultProblem(result);
      if (problem) throw new WatchError(watch.name, 'end', new Error(`its result cannot be printed: ${problem}`));
      return { watch: watch.name, result };
    });
    const stats = this.engine.stats;
    return { outcomes, alerts: this.alerts, stats: { ...stats, lost: this.lost }, stopped: this.stopped };
  }
}

/** Replay a whole source through watches (offline). */
export function runWatches(source: TraceSource, runs: readonly WatchRun[], opts: RunOptions = {}): RunReport {
  const engine = new Engine(source, opts.buffers ? { buffers: opts.buffers } : {});
  const session = new WatchSession(engine, runs, opts);
  session.start();
  engine.run(session.visit);
  return session.finish();
}
