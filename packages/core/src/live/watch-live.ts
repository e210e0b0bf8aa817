/**
 * One watch on the live kernel, the live twin of replayFile: the dynamic probes it declares
 * brought up with the parameters it gives them (and taken down on every exit path), their
 * generated unpackers for custom_event, the watch's kernel filters, an optional recording of
 * everything traced, and a WatchSession fed by traceLive. replayWatch is the same for a
 * recording.
 */
import { declaredEvents, declaredFilters, WatchSession, type RunReport, type WatchRun } from '../session/run-watches.js';
import { replayFile } from '../session/offline.js';
import type { Alert, AnyWatch, ProbeUnpacker } from '../watch/define-watch.js';
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
  const events = declaredEvents(run.watch, run.args);
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
    // the watch's probe parameters, all checked before any probe comes up
    const params = await checkedProbeParams(run, opts.probes);
    await probesUp(run, events, opts.probes, params, note, up);
    // the probes are up and their layout checked: custom_event gets their generated unpackers
    const unpackers = wantsPayloads(run.watch) ? await unpackersFor(up.map((p) => p.event.slice(3)), opts.probes, note) : new Map<string, ProbeUnpacker>();
    const filters = sessionFilters(declaredFilters(run.watch, run.args), up, params, note);
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
        const session = new WatchSession(engine, [run], {
          mode: 'live',
          ...(opts.onAlert ? { onAlert: opts.onAlert } : {}),
          ...(opts.onAlertError ? { onAlertError: opts.onAlertError } : {}),
          ...(opts.metrics ? { metrics: opts.metrics } : {}),
          extraLost: () => Math.max(0, info.instance.lostEvents(info.cpus) - engine.stats.lost) + sources.reduce((n, src) => n + src.lost().reduce((a, x) => a + x, 0), 0),
          ...(unpackers.size > 0 ? { unpackers } : {}),
          onAsyncError: asyncFailure,
          setProbeParams: (probe, params) => {
            const p = up.find((x) => x.event === `tw:${probe}`);
            if (p?.setParams === undefined) return false;
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
