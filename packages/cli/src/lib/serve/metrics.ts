/**
 * tw serve's /metrics: one prom-client Registry holding tw's own metrics (events, losses, handler
 * time, alerts, reader back-pressure, probes, build info) and every metric a watch declares
 * (ctx.metrics), through PromMetricsBackend, with the label watch="<the watch's id>".
 *
 * Values the tracing path produces are plain numbers it bumps (a Map or an array slot); prom-client
 * reads them only when /metrics is asked (collect()), so a scrape costs the scraper's time, never
 * the tracing path's.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CpuStats, MetricDeclaration, MetricSink, MetricsBackend, ReaderCpuStats } from '@tw/core';

export interface LiveSources {
  /** the current session's per-CPU kernel counters (undefined between sessions) */
  cpuStats?: () => CpuStats[];
  /** the current session's reader counters per CPU (undefined: the reader keeps none) */
  readerStats?: () => ReaderCpuStats[] | undefined;
  /** the current session's events handed to the watches, by event name */
  events?: () => Array<[string, number]>;
}

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

/**
 * Watch metrics into prom-client. The same full name declared by two runs of a watch (two ids)
 * is one prom-client metric with both `watch` values; a watch removed on reload has its series
 * removed (the sink remembers the label sets it used).
 */
export class PromMetricsBackend implements MetricsBackend {
  private readonly metrics = new Map<string, { kind: string; labels: string; metric: AnyMetric }>();
  /** per watch id: the series it made, to remove them when the watch goes */
  private readonly series = new Map<string, Array<{ metric: AnyMetric; values: Set<string> }>>();
  readonly overflows: Counter<'watch' | 'metric'>;

  constructor(private readonly registry: Registry) {
    this.overflows = new Counter({ name: 'tw_metric_series_overflow_total', help: 'Label sets of a watch metric folded into the "_other" series (the metric reached its maxSeries)', labelNames: ['watch', 'metric'], registers: [registry] });
  }

  declare(d: MetricDeclaration): MetricSink {
    const labelNames = ['watch', ...d.labels];
    const key = labelNames.join(',');
    let m = this.metrics.get(d.fullName);
    if (m === undefined) {
      const common = { name: d.fullName, help: d.help, labelNames, registers: [this.registry] };
      const metric = d.kind === 'counter' ? new Counter(common) : d.kind === 'gauge' ? new Gauge(common) : new Histogram({ ...common, ...(d.buckets ? { buckets: [...d.buckets] } : {}) });
      m = { kind: d.kind, labels: key, metric };
      this.metrics.set(d.fullName, m);
    } else if (m.kind !== d.kind || m.labels !== key) {
      // (core checks one watch's declarations; two watches of the same name declare the same)
      throw new Error(`metric ${d.fullName} is declared as ${m.kind} (${m.labels}) and as ${d.kind} (${key})`);
    }
    const metric = m.metric;
    const used = new Set<string>();
    const list = this.series.get(d.watchId) ?? [];
    list.push({ metric, values: used });
    this.series.set(d.watchId, list);
    const id = d.watchId;
    const child = (values: readonly string[]) => {
      const all = [id, ...values];
      used.add(JSON.stringify(all));
      return all;
    };
    return {
      add: (values, by) => (metric as Counter<string>).labels(...child(values)).inc(by),
      set: (values, value) => (metric as Gauge<string>).labels(...child(values)).set(value),
      observe: (values, value) => (metric as Histogram<string>).labels(...child(values)).observe(value),
    };
  }

  overflow(d: MetricDeclaration): void {
    this.overflows.inc({ watch: d.watchId, metric: d.fullName });
  }

  /** A watch is gone (reload): its series go too. */
  forget(watchId: string): void {
    for (const { metric, values } of this.series.get(watchId) ?? []) {
      for (const v of values) metric.remove(...(JSON.parse(v) as string[]));
    }
    this.series.delete(watchId);
  }
}

/** tw's own metrics; the serve loop bumps the plain counters, prom-client reads them on a scrape. */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly backend: PromMetricsBackend;
  /** seconds in each watch's handlers so far, by watch id (the watches keep the sums) */
  handlerSeconds: () => Array<[string, number]> = () => [];
  readonly alerts: Counter<'watch'>;
  readonly watchErrors: Counter<'watch'>;
  readonly watchRunning: Gauge<'watch'>;
  readonly probes: Gauge<'probe' | 'backend'>;
  readonly tracing: Gauge;
  readonly sessions: Counter;
  readonly reloads: Counter<'result'>;
  readonly alertsDropped: Counter<'sink'>;
  /** renderings of /metrics on the tracing thread, and the seconds they took (what scrapes cost it) */
  readonly renders: Counter;
  readonly renderSeconds: Counter;
  /** the counters of sessions that ended (a new session's kernel counters start at 0 again) */
  private readonly lostBase = new Map<string, number>();
  private readonly readerBase = new Map<string, number>();
  private readonly eventsBase = new Map<string, number>();
  live: LiveSources = {};

  constructor(o: { version: string; labels: Record<string, string> }) {
    const r = this.registry;
    const self = this;
    collectDefaultMetrics({ register: r });
    this.backend = new PromMetricsBackend(r);
    new Gauge({ name: 'tw_build_info', help: 'tw build: its version and the Node.js it runs on', labelNames: ['version', 'node'], registers: [r] }).set({ version: o.version, node: process.versions.node }, 1);
    const labelNames = Object.keys(o.labels);
    new Gauge({ name: 'tw_info', help: 'The labels of this tw serve (the config file\'s labels:), to join on', labelNames, registers: [r] }).set(o.labels, 1);
    this.tracing = new Gauge({ name: 'tw_tracing', help: '1 while the tracing session runs (all watches attached), else 0', registers: [r] });
    this.sessions = new Counter({ name: 'tw_sessions_total', help: 'Tracing sessions started (a reload that changes the watches starts a new one)', registers: [r] });
    this.reloads = new Counter({ name: 'tw_config_reloads_total', help: 'SIGHUP reloads of the config, by result (applied, unchanged, invalid)', labelNames: ['result'], registers: [r] });
    new Counter({
      name: 'tw_events_total',
      help: 'Events handed to the watches, by event',
      labelNames: ['event'],
      registers: [r],
      collect() {
        this.reset();
        for (const [event, n] of self.eventsNow()) this.inc({ event }, n);
      },
    });
    new Counter({
      name: 'tw_lost_events_total',
      help: 'Events the kernel lost, by CPU and cause (overrun: the ring was full and tw had not read the page; dropped and commit_overrun: the kernel could not store them)',
      labelNames: ['cpu', 'cause'],
      registers: [r],
      collect() {
        this.reset();
        for (const [k, n] of self.lostNow()) {
          const [cpu, cause] = k.split('/') as [string, string];
          this.inc({ cpu, cause }, n);
        }
      },
    });
    new Counter({
      name: 'tw_handler_seconds_total',
      help: "Seconds spent in each watch's handlers",
      labelNames: ['watch'],
      registers: [r],
      collect() {
        this.reset();
        for (const [watch, s] of self.handlerSeconds()) this.inc({ watch }, s);
      },
    });
    this.alerts = new Counter({ name: 'tw_alerts_total', help: 'Alerts raised, by watch id', labelNames: ['watch'], registers: [r] });
    this.watchErrors = new Counter({ name: 'tw_watch_errors_total', help: 'Watches that failed (a handler threw): the watch is stopped, the others go on', labelNames: ['watch'], registers: [r] });
    this.watchRunning = new Gauge({ name: 'tw_watch_running', help: '1 while a watch gets events; 0 once it stopped itself (ctx.stop()) or failed', labelNames: ['watch'], registers: [r] });
    this.probes = new Gauge({ name: 'tw_probe_info', help: 'Dynamic probes up, by the backend that brought them up', labelNames: ['probe', 'backend'], registers: [r] });
    this.renders = new Counter({ name: 'tw_metrics_renders_total', help: 'Renderings of /metrics on the tracing thread (at most one a second, however many scrape)', registers: [r] });
    this.renderSeconds = new Counter({ name: 'tw_metrics_render_seconds_total', help: 'Seconds the tracing thread spent rendering /metrics', registers: [r] });
    this.alertsDropped = new Counter({ name: 'tw_alerts_dropped_total', help: 'Alerts an output could not take (a full queue, a failed write), by output', labelNames: ['sink'], registers: [r] });
    new Counter({
      name: 'tw_reader_pool_waits_total',
      help: "Times a CPU's ring-buffer reader waited for tw's JavaScript thread to take what it had read (back-pressure: rising with losses means tw falls behind)",
      labelNames: ['cpu'],
      registers: [r],
      collect() {
        this.reset();
        for (const [k, n] of self.readerNow('waits')) this.inc({ cpu: k }, n);
      },
    });
    new Counter({
      name: 'tw_reader_pool_wait_seconds_total',
      help: "Seconds a CPU's ring-buffer reader waited for tw's JavaScript thread",
      labelNames: ['cpu'],
      registers: [r],
      collect() {
        this.reset();
        for (const [k, n] of self.readerNow('seconds')) this.inc({ cpu: k }, n);
      },
    });
  }

  /** The /metrics text, timed (the time goes into the next rendering's values). */
  async render(): Promise<{ contentType: string; body: string }> {
    const t0 = performance.now();
    const body = await this.registry.metrics();
    this.renders.inc();
    this.renderSeconds.inc((performance.now() - t0) / 1000);
    return { contentType: this.registry.contentType, body };
  }

  private eventsNow(): Map<string, number> {
    const out = new Map(this.eventsBase);
    for (const [k, n] of this.safe(this.live.events) ?? []) out.set(k, (out.get(k) ?? 0) + n);
    return out;
  }

  private lostNow(): Map<string, number> {
    const out = new Map(this.lostBase);
    for (const s of this.safe(this.live.cpuStats) ?? []) {
      for (const [cause, n] of [['overrun', s.overrun], ['dropped', s.dropped], ['commit_overrun', s.commitOverrun]] as const) {
        const k = `${s.cpu}/${cause}`;
        out.set(k, (out.get(k) ?? 0) + n);
      }
    }
    return out;
  }

  private readerNow(what: 'waits' | 'seconds'): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, n] of this.readerBase) if (k.endsWith(`/${what}`)) out.set(k.split('/')[0]!, n);
    for (const s of this.safe(this.live.readerStats) ?? []) {
      const k = String(s.cpu);
      out.set(k, (out.get(k) ?? 0) + (what === 'waits' ? s.poolWaits : s.poolWaitNs / 1e9));
    }
    return out;
  }

  private safe<T>(f: (() => T) | undefined): T | undefined {
    try {
      return f?.();
    } catch {
      // the session ended between the check and the read (its instance is gone)
      return undefined;
    }
  }

  /** A session is ending: keep its kernel and reader counts (the next one starts from 0). */
  sessionEnded(): void {
    const lost = this.lostNow();
    const reader = new Map<string, number>();
    for (const w of ['waits', 'seconds'] as const) for (const [k, n] of this.readerNow(w)) reader.set(`${k}/${w}`, n);
    const events = this.eventsNow();
    this.live = {};
    for (const [k, n] of events) this.eventsBase.set(k, n);
    for (const [k, n] of lost) this.lostBase.set(k, n);
    for (const [k, n] of reader) this.readerBase.set(k, n);
  }
}
