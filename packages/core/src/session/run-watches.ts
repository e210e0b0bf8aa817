/**
 * Runs watches over a trace source: resolves each watch's handler patterns to event ids once,
 * dispatches every record to the handlers that want it, and gives handlers their context
 * (args, state, process table, alerts, stop).
 */
import { TwError, WatchError, isTwError } from '../errors.js';
import { globToRegExp } from '../format/registry.js';
import type { Alert, AnyWatch, WatchContext, WatchEvent } from '../watch/define-watch.js';
import { Engine, type EngineStats, type TraceSource } from './engine.js';

export interface WatchRun {
  watch: AnyWatch;
  /** parsed argument values (see parseWatchArgs) */
  args: Record<string, unknown>;
}

// Inside the runner the watch's own arg and state types are opaque.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

export interface RunOptions {
  mode?: 'file' | 'live';
  /** only replay these buffers (instance names; "" is the top-level buffer) */
  buffers?: readonly string[];
  /** called for every ctx.alert(), as it happens */
  onAlert?: (a: Alert) => void;
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

/** The event patterns a watch declares, for these args. */
export function declaredEvents(watch: AnyWatch, args: Record<string, unknown>): readonly string[] {
  return typeof watch.events === 'function' ? watch.events(args as Loose) : watch.events;
}

export function runWatches(source: TraceSource, runs: readonly WatchRun[], opts: RunOptions = {}): RunReport {
  const engine = new Engine(source, opts.buffers ? { buffers: opts.buffers } : {});
  const alerts: Alert[] = [];
  let stopped = false;
  let current: WatchEvent | undefined;

  // Refuse a run whose watch can see none of its events: it would silently report nothing.
  for (const { watch, args } of runs) {
    const wanted = declaredEvents(watch, args);
    const present = wanted.filter((p) => engine.formats.match(p).length > 0);
    if (wanted.length > 0 && present.length === 0) {
      throw new TwError('UNKNOWN_EVENT', `watch '${watch.name}' needs ${wanted.length === 1 ? 'the event' : 'one of the events'} ${wanted.join(', ')}, and this trace has none of them`);
    }
  }

  const contexts = runs.map(({ watch, args }) => {
    const ctx: WatchContext<Loose, Loose> = {
      args,
      state: watch.state ? watch.state(args as Loose) : undefined,
      mode: opts.mode ?? 'file',
      proc: (pid) => engine.procs.get(pid),
      parents: (pid) => engine.procs.parents(pid),
      syscallName: engine.syscallName,
      alert(message) {
        const a: Alert = { ts: current ? current.ts : 0n, watch: watch.name, message };
        alerts.push(a);
        opts.onAlert?.(a);
      },
      stop() {
        stopped = true;
      },
      has: (event) => engine.formats.match(event).length > 0,
      get lost() {
        return engine.stats.lost;
      },
      get events() {
        return engine.events;
      },
      get now() {
        return current ? current.ts : 0n;
      },
    };
    return ctx;
  });

  // Dispatch table: event id → bound handlers, resolved from each watch's patterns.
  const table: Array<Array<(e: WatchEvent) => void> | undefined> = [];
  runs.forEach(({ watch }, wi) => {
    const ctx = contexts[wi]!;
    for (const [pattern, handler] of Object.entries(watch.on)) {
      const re = pattern === '*' ? undefined : globToRegExp(pattern);
      const bound = (e: WatchEvent) => {
        try {
          handler(e, ctx);
        } catch (err) {
          if (isTwError(err)) throw err;
          throw new WatchError(watch.name, `'${pattern}' (event ${e.event} at ts ${e.ts}, cpu ${e.cpu}, pid ${e.pid})`, err);
        }
      };
      for (const f of engine.formats.all()) {
        if (re && !re.test(f.fullName)) continue;
        (table[f.id] ??= []).push(bound);
      }
    }
  });
  // '*' handlers must also see records of ids with no format in the file
  const wildcard: Array<(e: WatchEvent) => void> = [];
  runs.forEach(({ watch }, wi) => {
    const h = watch.on['*'];
    if (h) {
      const ctx = contexts[wi]!;
      wildcard.push((e) => {
        try {
          h(e, ctx);
        } catch (err) {
          if (isTwError(err)) throw err;
          throw new WatchError(watch.name, `'*' (event ${e.event} at ts ${e.ts})`, err);
        }
      });
    }
  });

  runs.forEach(({ watch }, wi) => {
    try {
      watch.start?.(contexts[wi]!);
    } catch (err) {
      throw isTwError(err) ? err : new WatchError(watch.name, 'start', err);
    }
  });

  const stats = engine.run((e) => {
    current = e;
    const hs = table[e.id] ?? (e.event.startsWith('unknown:') ? wildcard : undefined);
    if (hs !== undefined) {
      for (let i = 0; i < hs.length; i++) hs[i]!(e);
      if (stopped) return false;
    }
    return true;
  });
  current = undefined;

  const outcomes = runs.map(({ watch }, wi) => {
    try {
      return { watch: watch.name, result: watch.end ? watch.end(contexts[wi]!) : undefined };
    } catch (err) {
      throw isTwError(err) ? err : new WatchError(watch.name, 'end', err);
    }
  });
  return { outcomes, alerts, stats, stopped };
}
