/**
 * tw serve: the configured watches in one live tracing session (watchLiveMany: one instance, one
 * set of probes), their metrics and tw's own at /metrics, alerts to the configured outputs, JSON
 * log lines on stderr, SIGHUP reloads, SIGTERM/SIGINT end it with the usual teardown.
 *
 * Reload: a new config whose watches (or session options) differ restarts the tracing session
 * (the instance and probes are set up again for the new union of events and filters): the
 * watches whose entries did not change carry their state over (see WatchSlot), their metrics
 * live in the same registry and so never reset; the removed ones end (their result is logged)
 * and their series are removed from /metrics. Between the two sessions (typically well under a
 * second) nothing is traced: a restart is simpler and as safe as changing a running instance's
 * events and filters under the readers, and reloads are rare. A config that does not parse or
 * check is logged and the running one kept; so is one whose new session cannot start (the
 * old watches are started again).
 */
import { hostname } from 'node:os';
import type { Config } from '@oclif/core';
import { abortFailure, findTracefs, TwError, parseWatchArgs, runningGuardian, onGuardianProblem, watchLiveMany, type AnyWatch, type LiveInfo, type ReaderFactory, type WatchRun } from '@tw/core';
import { AlertSinks, chooseSinks } from '../alerts/sink.js';
import { ExitPaths } from '../exit-paths.js';
import { readerFactory, tracingLine } from '../live.js';
import { probeProvider, probeUpText } from '../probes.js';
import { findWatch } from '../watches.js';
import { splitWatchOptions } from '../watch-options.js';
import { AlertmanagerSink } from './alertmanager.js';
import { readServeConfig, watchProblem, type ServeConfig } from './config.js';
import { ServeHttp } from './serve-http.js';
import { ServeMetrics } from './metrics.js';
import { WatchSlot } from './watch-slot.js';
import type { ProbeBackendName } from '@tw/kprobe-gen';

export interface ResolvedWatch {
  index: number;
  watch: AnyWatch;
  args: Record<string, unknown>;
}

/** Every watch entry checked against the installed watches: its name, its args and options. */
export async function resolveWatches(config: Config, cfg: ServeConfig): Promise<ResolvedWatch[]> {
  const out: ResolvedWatch[] = [];
  for (const [i, entry] of cfg.watches.entries()) {
    let watch: AnyWatch;
    try {
      watch = (await findWatch(config, entry.watch)).watch;
    } catch (e) {
      throw watchProblem(cfg, i, 'watch', e);
    }
    try {
      const split = splitWatchOptions(entry.args, watch);
      const args = parseWatchArgs(watch, split.argv, split.options);
      out.push({ index: i, watch, args });
    } catch (e) {
      throw watchProblem(cfg, i, 'args', e);
    }
  }
  return out;
}

/** A JSON log line on stderr (journald keeps each as one entry). */
export function logLine(level: 'info' | 'warn' | 'error', msg: string, extra: Record<string, unknown> = {}): void {
  try {
    process.stderr.write(`${JSON.stringify({ level, msg, time: new Date().toISOString(), ...extra })}\n`);
  } catch {
    // stderr is gone: nothing more can be said
  }
}

/**
 * The configured Alertmanagers, as one sink (see alertmanager.ts): the host name is the
 * `instance` label, the config's labels go on every alert, its metrics on /metrics, and what it
 * says is a JSON log line like the rest.
 */
function alertmanagerSink(cfg: ServeConfig, metrics: ServeMetrics): AlertmanagerSink | undefined {
  if (cfg.alertmanager.length === 0) return undefined;
  return new AlertmanagerSink({
    urls: cfg.alertmanager,
    instance: hostname(),
    labels: cfg.labels,
    queueMax: cfg.alertQueue,
    registry: metrics.registry,
    log: ({ level, msg, ...rest }) => logLine(level === 'error' || level === 'info' ? level : 'warn', String(msg), rest),
  });
}

/** The session options a reload compares: a change restarts the session. */
function sessionKey(cfg: ServeConfig): string {
  return JSON.stringify([cfg.bufferKb, cfg.latencyMs, cfg.clock, cfg.backend, cfg.rtReaders, cfg.processEvents, cfg.probeBackend]);
}

export interface ServeOptions {
  config: Config;
  file: string;
  version: string;
}

export async function serve(o: ServeOptions): Promise<void> {
  let cfg = readServeConfig(o.file);
  let resolved = await resolveWatches(o.config, cfg);
  const metrics = new ServeMetrics({ version: o.version, labels: cfg.labels });
  onGuardianProblem((m) => logLine('warn', m));
  findTracefs();

  // alert outputs: exec and JSON lines as `tw watch` has them, and Alertmanager
  const { sinks, notes } = chooseSinks({ json: cfg.jsonAlerts, quiet: true, exec: cfg.exec, notify: false, mode: 'live' }, { stderr: (line) => logLine('warn', line.replace(/^tw: (warning: |note: )?/, '')) });
  for (const n of notes) logLine('warn', n.replace(/^tw: (note: )?/, ''));
  const alertSinks = new AlertSinks(sinks, (line) => logLine('warn', line.replace(/^tw: (warning: )?/, '')));
  const alertmanager = alertmanagerSink(cfg, metrics);
  let alertingSlot: WatchSlot | undefined;

  let slots: WatchSlot[] = [];
  const hooks = {
    log: logLine,
    alerting: (s: WatchSlot) => {
      alertingSlot = s;
    },
    stopped: (s: WatchSlot, why: 'stop' | 'error') => {
      metrics.watchRunning.set({ watch: s.id }, 0);
      if (why === 'error') metrics.watchErrors.inc({ watch: s.id });
      else logLine('info', 'watch stopped itself (ctx.stop()); the other watches go on', { watch: s.id });
    },
  };
  const makeSlots = (c: ServeConfig, r: ResolvedWatch[], keep: readonly WatchSlot[]): WatchSlot[] =>
    r.map(({ index, watch, args }) => {
      const entry = c.watches[index]!;
      return keep.find((s) => s.sameAs(entry)) ?? new WatchSlot(entry, watch, args, hooks);
    });
  slots = makeSlots(cfg, resolved, []);
  metrics.handlerSeconds = () => slots.map((s) => [s.id, s.seconds]);

  // the endpoint first: /healthz says 503 while the session comes up
  let tracing = false;
  let sessionStarted: string | undefined;
  // its own thread, at the lowest priority (serve-http.ts): HTTP never takes tracing's thread
  let listened: Awaited<ReturnType<typeof ServeHttp.start>>;
  try {
    listened = await ServeHttp.start({
      host: cfg.listen.host,
      port: cfg.listen.port,
      metrics: () => metrics.render(),
      health: () => ({ ok: tracing, body: { tracing, since: sessionStarted ?? null, watches: slots.map((s) => ({ id: s.id, watch: s.watch.name, running: !s.stopped })) } }),
      log: logLine,
    });
  } catch (e) {
    throw new TwError('BAD_ARGUMENT', `${cfg.file}: listen: cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const http = listened.http;
  const shown = listened.host.includes(':') ? `[${listened.host}]:${listened.port}` : `${listened.host}:${listened.port}`;
  logLine('info', 'listening', { address: shown, paths: ['/metrics', '/healthz'], ...(listened.niced ? {} : { note: 'the HTTP thread could not lower its priority' }) });

  let terminating = false;
  let session: AbortController | undefined;
  let pending: { cfg: ServeConfig; resolved: ResolvedWatch[] } | undefined;
  let reloading = Promise.resolve();
  const exits = new ExitPaths({
    watch: undefined,
    end: (reason) => {
      if (terminating) return;
      terminating = true;
      logLine('info', 'ending', { reason });
      session?.abort(reason);
    },
    fail: (err) => {
      terminating = true;
      if (session && !session.signal.aborted) session.abort(err);
      else failure ??= err;
    },
    ending: () => terminating,
    onForce: () => logLine('warn', 'forced exit: the guardian removes what is left in the kernel'),
    reload: () => {
      reloading = reloading.then(() => reload());
    },
  });
  let failure: Error | undefined;

  const reload = async (): Promise<void> => {
    if (terminating) return;
    let next: ServeConfig;
    let nextResolved: ResolvedWatch[];
    try {
      next = readServeConfig(o.file);
      nextResolved = await resolveWatches(o.config, next);
    } catch (e) {
      metrics.reloads.inc({ result: 'invalid' });
      logLine('error', 'config not reloaded: the running config is kept', { file: o.file, error: (e as Error).message });
      return;
    }
    const restartOnly = ['listen', 'labels', 'alertmanager', 'exec', 'json-alerts'].filter((k) => {
      const a = { listen: cfg.listen, labels: cfg.labels, alertmanager: cfg.alertmanager, exec: cfg.exec, 'json-alerts': cfg.jsonAlerts } as Record<string, unknown>;
      const b = { listen: next.listen, labels: next.labels, alertmanager: next.alertmanager, exec: next.exec, 'json-alerts': next.jsonAlerts } as Record<string, unknown>;
      return JSON.stringify(a[k]) !== JSON.stringify(b[k]);
    });
    if (restartOnly.length > 0) logLine('warn', 'these keys changed and take effect only when tw serve restarts', { keys: restartOnly });
    const same = next.watches.length === slots.length && next.watches.every((e) => slots.some((s) => s.sameAs(e))) && sessionKey(next) === sessionKey(cfg);
    if (same) {
      metrics.reloads.inc({ result: 'unchanged' });
      logLine('info', 'config reloaded: the watches are unchanged', { file: o.file });
      cfg = { ...next, listen: cfg.listen, labels: cfg.labels, alertmanager: cfg.alertmanager, exec: cfg.exec, jsonAlerts: cfg.jsonAlerts };
      return;
    }
    pending = { cfg: next, resolved: nextResolved };
    for (const s of slots) s.continues = next.watches.some((e) => s.sameAs(e));
    logLine('info', 'config reloaded: restarting the tracing session', {
      file: o.file,
      kept: slots.filter((s) => s.continues).map((s) => s.id),
      removed: slots.filter((s) => !s.continues).map((s) => s.id),
      added: next.watches.filter((e) => !slots.some((s) => s.sameAs(e))).map((e) => e.id),
    });
    session?.abort('reload');
  };

  let previous: { cfg: ServeConfig; resolved: ResolvedWatch[]; slots: WatchSlot[] } | undefined;
  try {
    while (!terminating) {
      const ac = new AbortController();
      session = ac;
      const current = slots;
      // events per event name, counted by one catch-all handler of the session's own
      const eventCounts: number[] = [];
      const eventNames: string[] = [];
      const counter = { name: 'tw-serve-events', summary: 'counts events', events: [], on: { '*': (e: { id: number; event: string }) => { eventNames[e.id] ??= e.event; eventCounts[e.id] = (eventCounts[e.id] ?? 0) + 1; } } } as unknown as AnyWatch;
      const runs: WatchRun[] = [...current.map((s) => s.run()), { watch: counter, args: {} }];
      const baseReader = readerFactory(cfg.backend, cfg.rtReaders);
      const reader: ReaderFactory = (ro) => {
        const r = baseReader(ro);
        metrics.live.readerStats = () => r.stats?.();
        return r;
      };
      metrics.live.events = () => eventNames.flatMap((name, id) => (name !== undefined ? [[name, eventCounts[id] ?? 0] as [string, number]] : []));
      const probesSeen: string[] = [];
      const probes = probeProvider(o.config, cfg.probeBackend as ProbeBackendName | 'auto', (p) => {
        probesSeen.push(probeUpText(p));
        metrics.probes.set({ probe: p.event, backend: p.backend }, 1);
      }, Math.max(1, cfg.latencyMs - Math.max(1, Math.min(5, Math.floor(cfg.latencyMs / 10)))));
      metrics.sessions.inc();
      // the probes of this session only (a reload may bring up others)
      metrics.probes.reset();
      let traced = false;
      try {
        const r = await watchLiveMany(runs, {
          clock: cfg.clock,
          bufferKb: cfg.bufferKb,
          latencyMs: cfg.latencyMs,
          reader,
          ...(cfg.processEvents ? {} : { lifecycle: false }),
          signal: ac.signal,
          probes,
          metrics: metrics.backend,
          onAlert: (a) => {
            const slot = alertingSlot;
            alertingSlot = undefined;
            metrics.alerts.inc({ watch: slot?.id ?? a.watch });
            alertSinks.onAlert(a);
            const id = slot?.id ?? a.watch;
            alertmanager?.send(a, { watchId: id, severity: cfg.watches.find((e) => e.id === id)?.severity });
          },
          onNote: (m) => logLine('info', m),
          onWarning: (m) => logLine('warn', m),
          onReady: (info: LiveInfo) => {
            metrics.live.cpuStats = () => info.cpus.map((c) => info.instance.stats(c));
          },
          onTracing: (info) => {
            traced = true;
            tracing = true;
            sessionStarted = new Date().toISOString();
            metrics.tracing.set(1);
            for (const s of current) metrics.watchRunning.set({ watch: s.id }, s.stopped ? 0 : 1);
            process.stderr.write(`${tracingLine(info, probesSeen)}\n`);
            logLine('info', 'tracing', { watches: current.map((s) => s.id), events: info.events.map((e) => `${e.system}:${e.name}`), cpus: info.cpus.length, reader: info.backend, probes: probesSeen });
          },
        });
        for (const l of r.losses) logLine('warn', 'events lost', { ...l });
      } catch (e) {
        tracing = false;
        metrics.tracing.set(0);
        metrics.sessionEnded();
        // a reload whose session could not start: back to the config that ran
        if (!traced && previous !== undefined && !terminating) {
          logLine('error', 'the reloaded config could not start tracing: the previous one runs again', { error: (e as Error).message });
          metrics.reloads.inc({ result: 'failed' });
          ({ cfg, resolved } = previous);
          for (const s of previous.slots) s.continues = false;
          // (the kept watches still hold their state; the removed ones ended and start afresh)
          slots = previous.slots;
          previous = undefined;
          pending = undefined;
          continue;
        }
        throw e;
      } finally {
        session = undefined;
      }
      tracing = false;
      metrics.tracing.set(0);
      metrics.sessionEnded();
      const late = abortFailure(ac.signal);
      if (late !== undefined) throw late;
      if (pending !== undefined) {
        previous = { cfg, resolved, slots: current };
        const removed = current.filter((s) => !s.continues);
        for (const s of removed) {
          metrics.backend.forget(s.id);
          for (const m of [metrics.watchRunning, metrics.alerts, metrics.watchErrors]) m.remove({ watch: s.id });
        }
        ({ cfg, resolved } = pending);
        pending = undefined;
        metrics.reloads.inc({ result: 'applied' });
        slots = makeSlots(cfg, resolved, current.filter((s) => s.continues));
        continue;
      }
      previous = undefined;
      if (!terminating) {
        // the session ended by itself (its readers stopped): serve has nothing to trace with
        logLine('error', 'the tracing session ended by itself');
        process.exitCode = 1;
        break;
      }
    }
  } finally {
    await reloading.catch(() => undefined);
    await http.close();
    await alertSinks.end();
    await alertmanager?.close(2_000);
    exits.dispose();
    runningGuardian()?.done();
    logLine('info', 'ended');
  }
  if (failure !== undefined) throw failure;
}
