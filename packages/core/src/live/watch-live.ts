/**
 * One watch (or several: watchLiveMany) on the live kernel, the live twin of replayFile: the dynamic probes it declares
 * brought up with the parameters it gives them (and taken down on every exit path), their
 * generated unpackers for custom_event, the watch's kernel filters, an optional recording of
 * everything traced, and a WatchSession fed by traceLive. replayWatch is the same for a
 * recording.
 */
import { declaredEvents, declaredFilters, WatchSession, type RunReport, type WatchRun } from '../session/run-watches.js';
import { replayFile } from '../session/offline.js';
import type { Alert, AnyWatch, ProbeParams, ProbeUnpacker } from '../watch/define-watch.js';
import { globsIntersect } from '../session/handler-check.js';
import type { MetricsBackend } from '../watch/metrics.js';
import type { LiveProbe, ProbeProvider } from '../watch/probe-provider.js';
import { checkedProbeParams, probesUp, sessionFilters } from './probes-up.js';
import { Recorder } from './recorder.js';
import { abortFailure, traceLive } from './trace-live.js';
import type { CpuLoss, LiveEndReason, LiveInfo, LiveOptions } from './types.js';

export interface WatchLiveOptions extends Omit<LiveOptions, 'events' | 'filters' | 'onSubBuffer' | 'onSourcePage' | 'sources' | 'decode'> {
  /** brings up the probes the watch declares (without one, a watch that declares probes fails) */
  probes?: ProbeProvider;
  /** also write everything traced to this trace.dat */
  record?: { path: string; version: 6 | 7 };
  /** every ctx.alert(), as it happens */
  onAlert?: (a: Alert) => void;
  /** onAlert threw (the alert is kept in the report all the same) */
  onAlertError?: (err: unknown, a: Alert) => void;
  /** what the user should know: probe fallbacks, unpackers not used */
  onNote?: (message: string) => void;
  /** something went wrong on the way out that did not fail the run (a probe that would not unload) */
  onWarning?: (message: string) => void;
  /** where the watch's ctx.metrics values go (see RunOptions.metrics) */
  metrics?: MetricsBackend;
}

export interface WatchLiveResult {
  report: RunReport;
  info: LiveInfo;
  lost: number;
  losses: CpuLoss[];
  reason: LiveEndReason;
  /** the probes the session brought up, and how */
  probes: Array<{ event: string; backend: string }>;
}

/** Only custom_event handlers see unpacked payloads: without one there is nothing to import. */
function wantsPayloads(watch: AnyWatch): boolean {
  return Object.prototype.hasOwnProperty.call(watch.on, 'custom_event');
}

/** The generated unpackers of these probes, by event (those that cannot be had are left out, with a note). */
async function unpackersFor(names: readonly string[], probes: ProbeProvider | undefined, note: (m: string) => void): Promise<Map<string, ProbeUnpacker>> {
  const out = new Map<string, ProbeUnpacker>();
  if (probes === undefined) return out;
  for (const name of names) {
    const u = await probes.unpacker(name, note);
    if (u) out.set(u.event, u.unpacker);
  }
  return out;
}

export async function watchLive(run: WatchRun, opts: WatchLiveOptions): Promise<WatchLiveResult> {
  return watchLiveMany([run], opts);
}

/** Two probe parameter sets (bigints included) are the same. */
function sameParams(a: ProbeParams | undefined, b: ProbeParams | undefined): boolean {
  const text = (p: ProbeParams | undefined) => (p === undefined ? '' : JSON.stringify(Object.entries(p).sort(([x], [y]) => x.localeCompare(y)), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  return text(a) === text(b);
}

/**
 * The kernel filters of several watches in one session. A filter only narrows what reaches the
 * handlers (offline a watch sees every event anyway, so every watch re-checks in JS what it
 * needs): one instance has one filter per event, so the watches' filters for the same pattern
 * are joined with ||, and a pattern some other watch wants unfiltered (it asks for an event the
 * pattern matches without a filter of its own for exactly that pattern) gets none, so that no
 * watch loses events another one's filter would drop.
 */
export function combinedFilters(perRun: ReadonlyArray<{ events: readonly string[]; filters: Readonly<Record<string, string>> }>): Record<string, string> {
  if (perRun.length === 1) return { ...perRun[0]!.filters };
  const out: Record<string, string> = {};
  const keys = [...new Set(perRun.flatMap((r) => Object.keys(r.filters)))];
  for (const key of keys) {
    const parts: string[] = [];
    let unfiltered = false;
    for (const r of perRun) {
      const f = r.filters[key];
      if (f !== undefined) parts.push(f);
      else if (r.events.some((p) => p.split('|').some((alt) => globsIntersect(alt, key)))) unfiltered = true;
    }
    if (unfiltered) continue;
    const distinct = [...new Set(parts)];
    out[key] = distinct.length === 1 ? distinct[0]! : distinct.map((f) => `(${f})`).join(' || ');
  }
  return out;
}

/**
 * Several watches on the live kernel in one session (tw serve): one instance, one set of
 * probes (the union of what the watches declare, each brought up once), the watches' kernel
 * filters combined (combinedFilters), one WatchSession feeding them all. A probe several watches
 * declare with different parameters comes up with the spec's defaults (a note says so: its own
 * filter then passes what either watch wants, and each watch's handlers re-check), and
 * ctx.setProbeParams is refused (false) for a probe another watch shares.
 */
export async function watchLiveMany(runs: readonly WatchRun[], opts: WatchLiveOptions): Promise<WatchLiveResult> {
  const perRun = runs.map((run) => ({ run, events: declaredEvents(run.watch, run.args) }));
  const events = [...new Set(perRun.flatMap((r) => r.events))];
  const note = opts.onNote ?? (() => undefined);
  const recorder = opts.record ? new Recorder(opts.record.path, opts.record.version) : undefined;
  const up: LiveProbe[] = [];
  // the session's own abort: the caller's signal, and a watch's async hook that rejected (its
  // failure ends the session like a throw, with the same teardown)
  const inner = new AbortController();
  const forward = () => inner.abort(opts.signal?.reason);
  if (opts.signal?.aborted) forward();
  else opts.signal?.addEventListener('abort', forward, { once: true });
  const asyncFailure = (err: Error) => {
    if (!inner.signal.aborted) inner.abort(err);
    else if (abortFailure(inner.signal) === undefined) failedLate ??= err;
  };
  let failedLate: Error | undefined;
  try {
    // every watch's probe parameters, all checked before any probe comes up
    const params = new Map<string, ProbeParams>();
    const users = new Map<string, number>();
    const conflicting = new Set<string>();
    for (const { run } of perRun) {
      for (const [name, p] of await checkedProbeParams(run, opts.probes)) {
        if (params.has(name) && !sameParams(params.get(name), p)) conflicting.add(name);
        else params.set(name, p);
      }
      for (const name of run.watch.probes ?? []) users.set(name, (users.get(name) ?? 0) + 1);
    }
    for (const name of conflicting) {
      params.delete(name);
      note(`probe '${name}': the watches give it different parameters; it comes up with its defaults and each watch's handlers pick their events`);
    }
    for (const r of perRun) await probesUp(r.run, r.events, opts.probes, params, note, up);
    // the probes are up and their layout checked: custom_event gets their generated unpackers
    const unpackers = perRun.some((r) => wantsPayloads(r.run.watch)) ? await unpackersFor(up.map((p) => p.event.slice(3)), opts.probes, note) : new Map<string, ProbeUnpacker>();
    const filters = sessionFilters(combinedFilters(perRun.map((r) => ({ events: r.events, filters: declaredFilters(r.run.watch, r.run.args) }))), up, params, note);
    const sources = up.flatMap((p) => (p.source ? [p.source] : []));
    let engineRef: Parameters<Recorder['finish']>[0];
    const live = await traceLive(
      {
        ...opts,
        signal: inner.signal,
        events,
        filters,
        ...(sources.length > 0 ? { sources } : {}),
        ...(recorder ? { onSubBuffer: recorder.onSubBuffer, onSourcePage: recorder.onSourcePage } : {}),
        onReady: async (info) => {
          await recorder?.onReady(info);
          await opts.onReady?.(info);
        },
      },
      (engine, info) => {
        engineRef = engine;
        const session = new WatchSession(engine, runs, {
          mode: 'live',
          ...(opts.onAlert ? { onAlert: opts.onAlert } : {}),
          ...(opts.onAlertError ? { onAlertError: opts.onAlertError } : {}),
          ...(opts.metrics ? { metrics: opts.metrics } : {}),
          extraLost: () => Math.max(0, info.instance.lostEvents(info.cpus) - engine.stats.lost) + sources.reduce((n, src) => n + src.lost().reduce((a, x) => a + x, 0), 0),
          ...(unpackers.size > 0 ? { unpackers } : {}),
          onAsyncError: asyncFailure,
          setProbeParams: (probe, params) => {
            const p = up.find((x) => x.event === `tw:${probe}`);
            if (p?.setParams === undefined || (users.get(probe) ?? 0) > 1) return false;
            p.setParams(params);
            return true;
          },
        });
        return { start: () => session.start(), visit: session.visit, finish: () => session.finish() };
      },
    );
    await recorder?.finish(engineRef);
    // an async hook that rejected once the session was ending (end(), or after a Ctrl-C)
    const late = failedLate ?? abortFailure(inner.signal);
    if (late !== undefined) throw late;
    return { report: live.result, info: live.info, lost: live.lost, losses: live.losses, reason: live.reason, probes: up.map((p) => ({ event: p.event, backend: p.backend })) };
  } catch (e) {
    await recorder?.abort();
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', forward);
    for (const p of up.reverse()) {
      try {
        await p.down();
      } catch (e) {
        opts.onWarning?.(`could not unload probe '${p.event.slice(3)}': ${(e as Error).message}`);
      }
    }
  }
}

export interface ReplayWatchOptions {
  /** gives the generated unpackers of the probes the watch declares (for custom_event) */
  probes?: ProbeProvider;
  buffers?: readonly string[];
  onAlert?: (a: Alert) => void;
  onAlertError?: (err: unknown, a: Alert) => void;
  onNote?: (message: string) => void;
  /** where the watch's ctx.metrics values go (see RunOptions.metrics) */
  metrics?: MetricsBackend;
}

/**
 * One watch on a recording. The recording's tw:* events get the generated unpackers of the probes
 * the watch declares, where the recording's format of the event fits the spec (checked per file).
 */
export async function replayWatch(path: string, run: WatchRun, opts: ReplayWatchOptions = {}): Promise<RunReport> {
  const note = opts.onNote ?? (() => undefined);
  const unpackers = wantsPayloads(run.watch) ? await unpackersFor(run.watch.probes ?? [], opts.probes, note) : new Map<string, ProbeUnpacker>();
  return replayFile(path, [run], {
    ...(opts.onAlert ? { onAlert: opts.onAlert } : {}),
    ...(opts.onAlertError ? { onAlertError: opts.onAlertError } : {}),
    ...(opts.buffers ? { buffers: opts.buffers } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(unpackers.size > 0 ? { unpackers } : {}),
  });
}
