/**
 * Alerts to Alertmanager through its API v2 (POST /api/v2/alerts, a JSON array of alerts).
 *
 * Delivery, and why:
 * - send() only queues: it never does I/O nor waits, because it is called on the tracing path
 *   (an alert is raised from an event handler). Requests start on a later turn of the loop, so
 *   the alerts of one burst go out together (up to batchMax per request).
 * - Every configured URL gets every alert. Alertmanagers of a cluster deduplicate among
 *   themselves (that is how their HA is meant to be fed), and each URL has its own queue and
 *   its own retry schedule, so one that is down never delays another.
 * - A queue is bounded (queueMax alerts per URL). Full, it drops its oldest alert: the newest
 *   say most about what is happening now. Every dropped alert is counted in
 *   tw_alertmanager_dropped_total{url,reason} and said in the log once per burst of drops (with
 *   the count when delivery works again), never silently.
 * - Connection errors, timeouts, 5xx, 408 and 429 are retried with exponential backoff and
 *   jitter (backoffMinMs doubling up to backoffMaxMs; Retry-After is honoured within those
 *   bounds); the batch stays at the head of its queue meanwhile. Any other answer (a 4xx: the
 *   alerts are invalid, or the URL is not an Alertmanager's) would fail again the same way:
 *   the batch is dropped (reason "rejected") and the answer's body logged.
 * - Every request has a deadline (timeoutMs, connect to last byte of the answer).
 * - close(timeoutMs) delivers what it can within the time; the rest is counted (reason
 *   "shutdown"). Alerts sent after close() are counted too (reason "closed").
 * The queue lives in memory: alerts still queued when tw ends or is killed are lost (counted
 * when it ends, not when it is killed). docs/alertmanager.md says this to operators.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { Counter, Gauge, Registry } from 'prom-client';
import { printable, TwError, type Alert } from '@tw/core';
import { extraLabels, toPostableAlert, type AlertExtra, type PostableAlert } from './alertmanager-alert.js';

export interface AlertmanagerOptions {
  /** Alertmanager base URLs (http or https, maybe with a path prefix and user:password@) */
  urls: string[];
  /** the host's name: the `instance` label */
  instance: string;
  /** extra labels on every alert (site, team…); names made valid for Prometheus */
  labels: Record<string, string>;
  /** alerts kept waiting per URL while it cannot be reached (default 1000; the batch of the request under way comes on top) */
  queueMax?: number;
  /** where tw_alertmanager_* metrics go (default: a registry of the sink's own) */
  registry?: Registry;
  /** one structured log record (level "info" | "warn" | "error", msg, url…); default: a JSON line on stderr */
  log?: (rec: Record<string, unknown>) => void;
  /** severity of alerts whose send() names none (default "warning") */
  severity?: string;
  /** alerts per request at most (default 64) */
  batchMax?: number;
  /** deadline of one request, connect to end of answer (default 10 s) */
  timeoutMs?: number;
  /** first retry delay (default 500 ms) */
  backoffMinMs?: number;
  /** longest retry delay (default 30 s) */
  backoffMaxMs?: number;
}

export const ALERTMANAGER_DEFAULTS = { queueMax: 1000, batchMax: 64, timeoutMs: 10_000, backoffMinMs: 500, backoffMaxMs: 30_000 } as const;

/** Why an alert was dropped: the values of the `reason` label. */
export type DropReason = 'queue_full' | 'rejected' | 'shutdown' | 'closed';
const DROP_REASONS: readonly DropReason[] = ['queue_full', 'rejected', 'shutdown', 'closed'];

/** The first bytes of an answer's body kept for the log. */
const BODY_KEPT = 2048;

/**
 * The delay before retry number `attempt` (1 for the first): "equal jitter" — half of
 * min·2^(attempt-1) (capped at max) for sure, the other half at random, so that many tw hosts
 * that lost the same Alertmanager do not all come back in the same instant.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + random() * (base / 2));
}

/** A configured URL: where to POST, what to call it in metrics and logs (no password), and its credentials. */
export interface AlertmanagerUrl {
  post: URL;
  label: string;
  authorization?: string;
}

/** Parse a configured Alertmanager URL; a TwError (BAD_ARGUMENT) names what is wrong. */
export function parseAlertmanagerUrl(raw: string): AlertmanagerUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (e) {
    throw new TwError('BAD_ARGUMENT', `alertmanager URL '${printable(raw)}' is not a URL`, { cause: e });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TwError('BAD_ARGUMENT', `alertmanager URL '${printable(raw)}': only http and https are supported`);
  if (u.search !== '' || u.hash !== '') throw new TwError('BAD_ARGUMENT', `alertmanager URL '${printable(raw)}': give the base URL, without a query or fragment`);
  let authorization: string | undefined;
  if (u.username !== '' || u.password !== '') {
    authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  // The base URL (maybe behind a path prefix, e.g. …/alertmanager) names it; the API path is added.
  const base = u.href.replace(/\/+$/, '');
  const label = base.replace(/\/api\/v2\/alerts$/, '');
  const post = new URL(`${label}/api/v2/alerts`);
  return authorization === undefined ? { post, label } : { post, label, authorization };
}

/** A metric of the registry by name, made when it is not there yet (a reloaded sink finds its predecessor's). */
function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

interface Metrics {
  sent: Counter<'url'>;
  failed: Counter<'url'>;
  dropped: Counter<'url' | 'reason'>;
  queue: Gauge<'url'>;
}

function makeMetrics(registry: Registry): Metrics {
  const registers = [registry];
  return {
    sent: metric(registry, 'tw_alertmanager_sent_total', () => new Counter({ name: 'tw_alertmanager_sent_total', help: 'Alerts an Alertmanager accepted', labelNames: ['url'], registers })),
    failed: metric(registry, 'tw_alertmanager_failed_total', () => new Counter({ name: 'tw_alertmanager_failed_total', help: 'Requests to an Alertmanager that failed and will be retried (connection error, timeout, 5xx, 408, 429)', labelNames: ['url'], registers })),
    dropped: metric(registry, 'tw_alertmanager_dropped_total', () => new Counter({ name: 'tw_alertmanager_dropped_total', help: 'Alerts given up for an Alertmanager, by reason: queue_full (oldest dropped), rejected (4xx answer), shutdown (undelivered at the end), closed (sent after the end)', labelNames: ['url', 'reason'], registers })),
    queue: metric(registry, 'tw_alertmanager_queue_length', () => new Gauge({ name: 'tw_alertmanager_queue_length', help: 'Alerts waiting for an Alertmanager (queued and in flight)', labelNames: ['url'], registers })),
  };
}

/** How a request ended. */
type Outcome = { kind: 'ok' } | { kind: 'retry'; why: string; retryAfterMs?: number } | { kind: 'rejected'; status: number; body: string };

/** Retry-After in seconds (the HTTP-date form is not worth a clock comparison here). */
function retryAfterMs(h: string | undefined): number | undefined {
  if (h === undefined || !/^\d+$/.test(h.trim())) return undefined;
  return Number(h.trim()) * 1000;
}

interface Settings {
  queueMax: number;
  batchMax: number;
  timeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  log: (rec: Record<string, unknown>) => void;
  metrics: Metrics;
}

/** One Alertmanager URL: its queue, the batch in flight, its retry schedule. */
class Target {
  private queue: PostableAlert[] = [];
  private inflight: PostableAlert[] = [];
  private request: http.ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** a pump is scheduled, running, or waiting for its request or its retry timer */
  private active = false;
  /** failed requests in a row */
  private failures = 0;
  /** alerts dropped for a full queue since the last delivery */
  private burst = 0;
  /** retries stop at this time (close() sets it) */
  private deadline = Infinity;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private readonly agent: http.Agent;

  constructor(
    readonly url: AlertmanagerUrl,
    private readonly s: Settings,
  ) {
    // One request at a time per URL, over a kept-alive connection.
    const opts = { keepAlive: true, maxSockets: 1 };
    this.agent = url.post.protocol === 'https:' ? new https.Agent(opts) : new http.Agent(opts);
    s.metrics.queue.set({ url: url.label }, 0);
    s.metrics.sent.inc({ url: url.label }, 0);
    s.metrics.failed.inc({ url: url.label }, 0);
    for (const reason of DROP_REASONS) s.metrics.dropped.inc({ url: url.label, reason }, 0);
  }

  get length(): number {
    return this.queue.length + this.inflight.length;
  }

  private gauge(): void {
    this.s.metrics.queue.set({ url: this.url.label }, this.length);
  }

  private drop(n: number, reason: DropReason): void {
    if (n > 0) this.s.metrics.dropped.inc({ url: this.url.label, reason }, n);
  }

  /** Queue an alert (dropping the oldest when full) and make sure a pump will run. */
  push(a: PostableAlert): void {
    this.queue.push(a);
    this.trim();
    this.gauge();
    if (!this.active) {
      this.active = true;
      setImmediate(() => this.pump());
    }
  }

  /** Keep at most queueMax waiting alerts: the oldest go, counted, said once per burst. */
  private trim(): void {
    const over = this.queue.length - this.s.queueMax;
    if (over <= 0) return;
    this.queue.splice(0, over);
    this.drop(over, 'queue_full');
    if (this.burst === 0) this.s.log({ level: 'warn', msg: `alertmanager queue full (${this.s.queueMax} alerts): dropping the oldest until delivery works again`, url: this.url.label });
    this.burst += over;
  }

  /** Send the next batch, or go idle. */
  private pump(): void {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.queue.length === 0) {
      this.active = false;
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.inflight = this.queue.splice(0, this.s.batchMax);
    this.post(this.inflight, (o) => this.settle(o));
  }

  private settle(o: Outcome): void {
    this.request = undefined;
    if (this.stopped) return;
    const batch = this.inflight;
    this.inflight = [];
    const url = this.url.label;
    if (o.kind === 'ok') {
      this.s.metrics.sent.inc({ url }, batch.length);
      if (this.failures > 0) this.s.log({ level: 'info', msg: `alertmanager reached again after ${this.failures} failed attempts`, url });
      if (this.burst > 0) this.s.log({ level: 'warn', msg: `${this.burst} alerts were dropped while the alertmanager queue was full`, url, dropped: this.burst });
      this.failures = 0;
      this.burst = 0;
    } else if (o.kind === 'rejected') {
      this.drop(batch.length, 'rejected');
      this.s.log({ level: 'error', msg: `alertmanager rejected ${batch.length} alerts (HTTP ${o.status}); they are dropped`, url, status: o.status, body: o.body });
      this.failures = 0;
    } else {
      this.s.metrics.failed.inc({ url });
      this.failures += 1;
      if (this.failures === 1) this.s.log({ level: 'warn', msg: `alertmanager not reached (${o.why}); retrying with backoff, alerts are queued`, url });
      this.queue.unshift(...batch);
      this.trim();
      this.gauge();
      const backoff = backoffDelay(this.failures, this.s.backoffMinMs, this.s.backoffMaxMs);
      const wanted = o.retryAfterMs === undefined ? backoff : Math.min(this.s.backoffMaxMs, Math.max(this.s.backoffMinMs, o.retryAfterMs));
      const left = this.deadline - Date.now();
      // Past close()'s deadline: no more tries; stop() counts what is left.
      if (left <= 0) return;
      const delay = Math.min(wanted, left);
      // Unreferenced: a pending retry alone does not keep tw running (close() holds it while it flushes).
      this.timer = setTimeout(() => this.pump(), delay).unref();
      return;
    }
    this.gauge();
    this.pump();
  }

  /** One POST of a batch; `done` is called exactly once. */
  private post(batch: PostableAlert[], done: (o: Outcome) => void): void {
    let finished = false;
    const finish = (o: Outcome): void => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      done(o);
    };
    const body = Buffer.from(JSON.stringify(batch));
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': body.length, 'user-agent': 'tracewatch' };
    if (this.url.authorization !== undefined) headers.authorization = this.url.authorization;
    const lib = this.url.post.protocol === 'https:' ? https : http;
    const req = lib.request(this.url.post, { method: 'POST', headers, agent: this.agent });
    this.request = req;
    const deadline = setTimeout(() => {
      req.destroy(new Error(`no answer within ${this.s.timeoutMs} ms`));
    }, this.s.timeoutMs);
    let answered = false;
    req.on('error', (e) => finish({ kind: 'retry', why: e.message || String(e) }));
    // a connection that goes away without an error or an answer (finish() ignores later calls)
    req.on('close', () => {
      if (!answered) finish({ kind: 'retry', why: 'the connection closed without an answer' });
    });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (c: Buffer) => {
        if (kept < BODY_KEPT) {
          chunks.push(c);
          kept += c.length;
        }
      });
      res.on('error', (e) => finish({ kind: 'retry', why: e.message }));
      // cut off in the middle of the answer without an 'error' (after 'end' this is a no-op)
      res.on('close', () => finish({ kind: 'retry', why: 'the connection closed in the middle of the answer' }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = printable(Buffer.concat(chunks).subarray(0, BODY_KEPT).toString('utf8').trim());
        if (status >= 200 && status < 300) finish({ kind: 'ok' });
        else if (status >= 500 || status === 408 || status === 429) {
          const after = retryAfterMs(res.headers['retry-after']);
          finish(after === undefined ? { kind: 'retry', why: `HTTP ${status}` } : { kind: 'retry', why: `HTTP ${status}`, retryAfterMs: after });
        } else finish({ kind: 'rejected', status, body: text });
      });
    });
    req.end(body);
  }

  /** close(): retry now instead of at the next backoff, and stop retrying at `deadline`. */
  flushBy(deadline: number): Promise<void> {
    this.deadline = deadline;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      setImmediate(() => this.pump());
    }
    if (!this.active) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The end: abort what is in flight, count what is left. Returns how many alerts were left. */
  stop(): number {
    this.stopped = true;
    clearTimeout(this.timer);
    this.request?.destroy();
    const left = this.length;
    this.drop(left, 'shutdown');
    this.queue = [];
    this.inflight = [];
    this.gauge();
    this.agent.destroy();
    for (const w of this.idleWaiters.splice(0)) w();
    return left;
  }
}

const stderrLog = (rec: Record<string, unknown>): void => {
  process.stderr.write(`${JSON.stringify(rec)}\n`);
};

/** Sends tw alerts to every configured Alertmanager. */
export class AlertmanagerSink {
  readonly registry: Registry;
  private readonly targets: Target[];
  private readonly labels: Record<string, string>;
  private readonly log: (rec: Record<string, unknown>) => void;
  private readonly metrics: Metrics;
  private closed = false;
  private saidClosed = false;

  constructor(private readonly o: AlertmanagerOptions) {
    if (o.urls.length === 0) throw new TwError('BAD_ARGUMENT', 'alertmanager: no URL given');
    const urls = o.urls.map(parseAlertmanagerUrl);
    const seen = new Set<string>();
    for (const u of urls) {
      if (seen.has(u.post.href)) throw new TwError('BAD_ARGUMENT', `alertmanager URL '${printable(u.label)}' is given twice`);
      seen.add(u.post.href);
    }
    const positive = (v: number | undefined, name: string, dflt: number): number => {
      if (v === undefined) return dflt;
      if (!Number.isInteger(v) || v < 1) throw new TwError('BAD_ARGUMENT', `alertmanager: ${name} must be a positive integer, not ${String(v)}`);
      return v;
    };
    this.log = (rec) => (o.log ?? stderrLog)({ component: 'alertmanager', ...rec });
    this.registry = o.registry ?? new Registry();
    this.labels = extraLabels(o.labels, (msg) => this.log({ level: 'warn', msg }));
    const d = ALERTMANAGER_DEFAULTS;
    const backoffMinMs = positive(o.backoffMinMs, 'backoffMinMs', d.backoffMinMs);
    this.metrics = makeMetrics(this.registry);
    const settings: Settings = {
      queueMax: positive(o.queueMax, 'queueMax', d.queueMax),
      batchMax: positive(o.batchMax, 'batchMax', d.batchMax),
      timeoutMs: positive(o.timeoutMs, 'timeoutMs', d.timeoutMs),
      backoffMinMs,
      backoffMaxMs: Math.max(backoffMinMs, positive(o.backoffMaxMs, 'backoffMaxMs', d.backoffMaxMs)),
      log: this.log,
      metrics: this.metrics,
    };
    this.targets = urls.map((u) => new Target(u, settings));
  }

  /** The URLs as metrics and logs name them. */
  get urls(): string[] {
    return this.targets.map((t) => t.url.label);
  }

  /** Alerts waiting per URL (queued and in flight). */
  queued(): Record<string, number> {
    return Object.fromEntries(this.targets.map((t) => [t.url.label, t.length]));
  }

  /**
   * Queue an alert for every Alertmanager and return at once: never throws, never waits
   * (requests go out on a later turn of the event loop).
   */
  send(alert: Alert, extra?: AlertExtra): void {
    if (this.closed) {
      for (const t of this.targets) this.metrics.dropped.inc({ url: t.url.label, reason: 'closed' });
      if (!this.saidClosed) this.log({ level: 'warn', msg: 'alert sent after the Alertmanager output was closed; dropped (further ones are counted)' });
      this.saidClosed = true;
      return;
    }
    let p: PostableAlert;
    try {
      p = toPostableAlert(alert, { instance: this.o.instance, labels: this.labels, severity: this.o.severity }, extra);
    } catch (e) {
      // A bug, not the alert's fault: said, never thrown on the tracing path.
      this.log({ level: 'error', msg: `alert could not be made into an Alertmanager alert: ${(e as Error).message}` });
      return;
    }
    for (const t of this.targets) t.push(p);
  }

  /**
   * The end: deliver what can be delivered within timeoutMs (a URL waiting for its next retry
   * is tried at once), then give up on the rest, counted and logged. Later send()s are counted
   * as dropped (reason "closed").
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const deadline = Date.now() + Math.max(0, timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    // This timer is referenced: it keeps the process alive while the flush runs.
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeoutMs));
    });
    await Promise.race([Promise.all(this.targets.map((t) => t.flushBy(deadline))), expired]);
    clearTimeout(timer);
    for (const t of this.targets) {
      const left = t.stop();
      if (left > 0) this.log({ level: 'warn', msg: `${left} alerts not delivered within ${timeoutMs} ms at the end; they are dropped`, url: t.url.label, dropped: left });
    }
  }
}

