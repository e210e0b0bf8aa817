// AlertmanagerSink's mapping and delivery. Delivery is tested against a real HTTP server on
// loopback (node:http) standing in for Alertmanager: it answers what a test needs (503, 429,
// 400, nothing at all) on cue, which the real Alertmanager cannot be made to do. The real
// Alertmanager binary is tested in alertmanager-binary.test.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry, type Counter, type Gauge } from 'prom-client';
import { isTwError, type Alert } from '@tw/core';
import { AlertmanagerSink, backoffDelay, parseAlertmanagerUrl, type AlertmanagerOptions } from './alertmanager.js';
import { extraLabels, labelName, labelValue, toPostableAlert, type PostableAlert } from './alertmanager-alert.js';

function alert(n: number, over: Partial<Alert> = {}): Alert {
  return {
    time: '2025-01-31T12:00:00.123Z',
    ts: 1_000_000_000n + BigInt(n),
    watch: 'who-killed',
    message: `kill (pid ${5000 + n}) sent SIGTERM to sleep (pid 4242)`,
    culprit: { pid: 5000 + n, comm: 'kill', tgid: 5000 + n, ppid: 1234, uid: 0, exe: '/usr/bin/kill', cmdline: 'kill -TERM 4242', parents: [{ pid: 1234, comm: 'bash' }, { pid: 1, comm: 'systemd' }] },
    details: { signal: 'SIGTERM', n },
    ...over,
  };
}

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  alerts: PostableAlert[];
  at: number;
}

type Answer = { status: number; body?: string; headers?: Record<string, string> } | 'hang' | 'stall';

/** A loopback HTTP server standing in for Alertmanager; `answer` decides each reply. */
class StandIn {
  readonly received: Received[] = [];
  private server: Server | undefined;
  port = 0;

  constructor(public answer: (n: number) => Answer = () => ({ status: 200 })) {}

  async start(port = this.port): Promise<this> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ path: req.url ?? '', headers: req.headers, alerts: JSON.parse(Buffer.concat(chunks).toString('utf8')) as PostableAlert[], at: Date.now() });
        const a = this.answer(this.received.length);
        if (a === 'hang') return;
        if (a === 'stall') {
          // the status and part of the body, then nothing
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
          res.write('{"sta');
          return;
        }
        res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
        res.end(a.body ?? '');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alerts(): PostableAlert[] {
    return this.received.flatMap((r) => r.alerts);
  }
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function downPort(): Promise<number> {
  const s = await new StandIn().start(0);
  await s.stop();
  return s.port;
}

const servers: StandIn[] = [];
const sinks: AlertmanagerSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close(0)));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function standIn(answer?: (n: number) => Answer): Promise<StandIn> {
  const s = await new StandIn(answer).start(0);
  servers.push(s);
  return s;
}

function sink(urls: string[], over: Partial<AlertmanagerOptions> = {}): { sink: AlertmanagerSink; logs: Array<Record<string, unknown>> } {
  const logs: Array<Record<string, unknown>> = [];
  const s = new AlertmanagerSink({ urls, instance: 'host1', labels: { site: 'lab' }, backoffMinMs: 20, backoffMaxMs: 100, timeoutMs: 2000, log: (r) => logs.push(r), ...over });
  sinks.push(s);
  return { sink: s, logs };
}

async function metric(reg: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = reg.getSingleMetric(name) as Counter | Gauge | undefined;
  if (m === undefined) throw new Error(`no metric ${name}`);
  const v = (await m.get()).values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a tw alert as an Alertmanager alert', () => {
  it('names the watch, the host and the culprit in labels, the rest in annotations, and sets no endsAt', () => {
    const p = toPostableAlert(alert(1), { instance: 'host1', labels: extraLabels({ site: 'lab' }) }, { watchId: 'who-killed-4242' });
    expect(p.labels).toEqual({ site: 'lab', alertname: 'who-killed', instance: 'host1', severity: 'warning', watch: 'who-killed-4242', comm: 'kill', pid: '5001' });
    expect(p.annotations).toEqual({
      summary: 'kill (pid 5001) sent SIGTERM to sleep (pid 4242)',
      description: 'kill (pid 5001) sent SIGTERM to sleep (pid 4242)',
      pid: '5001',
      comm: 'kill',
      tgid: '5001',
      ppid: '1234',
      uid: '0',
      exe: '/usr/bin/kill',
      cmdline: 'kill -TERM 4242',
      parents: '1234 bash <- 1 systemd',
      details: '{"signal":"SIGTERM","n":1}',
      trace_ts: '1000000001',
    });
    expect(p.startsAt).toBe('2025-01-31T12:00:00.123Z');
    expect(p).not.toHaveProperty('endsAt');
  });

  it('takes severity from the watch, else the labels, else the option, else "warning"', () => {
    const sev = (labels: Record<string, string>, o?: string, w?: string) => toPostableAlert(alert(1), { instance: 'h', labels, severity: o }, { severity: w }).labels.severity;
    expect(sev({}, undefined, undefined)).toBe('warning');
    expect(sev({}, 'info', undefined)).toBe('info');
    expect(sev({ severity: 'page' }, 'info', undefined)).toBe('page');
    expect(sev({ severity: 'page' }, 'info', 'critical')).toBe('critical');
  });

  it('without a culprit or a time: no comm/pid labels, startsAt is now', () => {
    const now = new Date('2026-02-03T04:05:06.789Z');
    const { culprit: _c, ...bare } = alert(1);
    const p = toPostableAlert({ ...bare, time: null }, { instance: 'h', labels: {} }, {}, now);
    expect(Object.keys(p.labels).sort()).toEqual(['alertname', 'instance', 'severity', 'watch']);
    expect(p.annotations).not.toHaveProperty('pid');
    expect(p.startsAt).toBe(now.toISOString());
  });

  it('makes label names valid for Prometheus, keeps its own labels, and values printable and bounded', () => {
    expect(labelName('site-name')).toBe('site_name');
    expect(labelName('1dc')).toBe('_1dc');
    expect(labelName('__meta')).toBe('_meta');
    expect(labelName('ok_Name9')).toBe('ok_Name9');
    const notes: string[] = [];
    const l = extraLabels({ 'dc.zone': 'a', alertname: 'mine', team: 'x\u001b[2Jy', empty: '' }, (m) => notes.push(m));
    expect(l).toEqual({ dc_zone: 'a', team: 'x\\e[2Jy' });
    expect(notes.join('\n')).toMatch(/'dc\.zone' is sent as 'dc_zone'/);
    expect(notes.join('\n')).toMatch(/'alertname' is set by tw itself/);
    const long = labelValue('x'.repeat(1000));
    expect(long.length).toBeLessThan(300);
    expect(long).toMatch(/… \(1000 characters\)$/);
    expect(labelValue('a\uD800b')).toBe('a\uFFFDb');
    const p = toPostableAlert(alert(1, { message: 'line one\nline\ttwo \u0007', culprit: { pid: 7, comm: 'evil\nname' } }), { instance: 'h', labels: {} });
    expect(p.labels.comm).toBe('evil\\nname');
    expect(p.annotations.summary).toBe('line one');
    expect(p.annotations.description).toBe('line one\nline\ttwo \\x07');
  });
});

describe('Alertmanager URLs', () => {
  it('adds the API path to the base URL (also behind a prefix), and keeps credentials out of the name', () => {
    expect(parseAlertmanagerUrl('http://127.0.0.1:9093').post.href).toBe('http://127.0.0.1:9093/api/v2/alerts');
    expect(parseAlertmanagerUrl('https://am.example/alertmanager/').post.href).toBe('https://am.example/alertmanager/api/v2/alerts');
    expect(parseAlertmanagerUrl('http://h:9093/api/v2/alerts').post.href).toBe('http://h:9093/api/v2/alerts');
    const u = parseAlertmanagerUrl('http://tw:s%3Acret@h:9093');
    expect(u.label).toBe('http://h:9093');
    expect(u.authorization).toBe(`Basic ${Buffer.from('tw:s:cret').toString('base64')}`);
  });

  it('refuses what is not an http(s) base URL, and a URL given twice', () => {
    for (const bad of ['127.0.0.1:9093', 'ftp://h/', 'http://h:9093/?x=1']) {
      let err: unknown;
      try {
        parseAlertmanagerUrl(bad);
      } catch (e) {
        err = e;
      }
      expect(isTwError(err) && err.code === 'BAD_ARGUMENT', bad).toBe(true);
    }
    expect(() => new AlertmanagerSink({ urls: ['http://h:1', 'http://h:1/'], instance: 'h', labels: {} })).toThrow(/given twice/);
    expect(() => new AlertmanagerSink({ urls: [], instance: 'h', labels: {} })).toThrow(/no URL/);
    expect(() => new AlertmanagerSink({ urls: ['http://h:1'], instance: 'h', labels: {}, queueMax: 0 })).toThrow(/queueMax/);
  });
});

describe('backoff', () => {
  it('doubles from the minimum to the maximum, with up to half of it at random', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 500, 30_000, () => 1))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 500, 30_000, () => 0))).toEqual([250, 500, 1000, 2000]);
    expect(backoffDelay(40, 500, 30_000, () => 1)).toBe(30_000);
    expect(backoffDelay(40, 500, 30_000, () => 0)).toBe(15_000);
  });
});

describe('delivery to Alertmanager', () => {
  it('posts the alerts of one burst as one JSON array to /api/v2/alerts, and counts them', async () => {
    const am = await standIn();
    const { sink: s } = sink([am.url]);
    for (let i = 0; i < 10; i++) s.send(alert(i));
    // send() only queued: nothing has gone out on this turn of the loop
    expect(am.received).toHaveLength(0);
    expect(s.queued()).toEqual({ [am.url]: 10 });
    await until('delivery', async () => (await metric(s.registry, 'tw_alertmanager_sent_total', { url: am.url })) === 10);
    expect(am.received).toHaveLength(1);
    expect(am.received[0]!.path).toBe('/api/v2/alerts');
    expect(am.received[0]!.headers['content-type']).toBe('application/json');
    expect(am.alerts.map((a) => a.labels.pid)).toEqual([...Array(10).keys()].map((i) => String(5000 + i)));
    expect(await metric(s.registry, 'tw_alertmanager_queue_length', { url: am.url })).toBe(0);
  });

  it('sends batches of at most batchMax alerts', async () => {
    const am = await standIn();
    const { sink: s } = sink([am.url], { batchMax: 4 });
    for (let i = 0; i < 10; i++) s.send(alert(i));
    await until('delivery', () => am.alerts.length === 10);
    expect(am.received.map((r) => r.alerts.length)).toEqual([4, 4, 2]);
  });

  it('retries 5xx with growing delays, then delivers; says so once when it fails and once when it recovers', async () => {
    const am = await standIn((n) => (n <= 3 ? { status: 503, body: 'not ready' } : { status: 200 }));
    const { sink: s, logs } = sink([am.url], { backoffMinMs: 40, backoffMaxMs: 1000 });
    s.send(alert(1));
    await until('delivery', async () => (await metric(s.registry, 'tw_alertmanager_sent_total', { url: am.url })) === 1);
    expect(am.received).toHaveLength(4);
    expect(await metric(s.registry, 'tw_alertmanager_failed_total', { url: am.url })).toBe(3);
    // equal jitter: the n-th retry waits at least half of 40·2^(n-1) ms
    const gaps = am.received.slice(1).map((r, i) => r.at - am.received[i]!.at);
    gaps.forEach((g, i) => expect(g, `retry ${i + 1}`).toBeGreaterThanOrEqual(20 * 2 ** i - 5));
    expect(logs.filter((l) => /not reached \(HTTP 503\)/.test(String(l.msg)))).toHaveLength(1);
    expect(logs.filter((l) => /reached again after 3 failed attempts/.test(String(l.msg)))).toHaveLength(1);
    expect(logs.every((l) => l.component === 'alertmanager' && l.url === am.url)).toBe(true);
  });

  it('honours Retry-After on 429 (within the backoff bounds)', async () => {
    const am = await standIn((n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    const { sink: s } = sink([am.url], { backoffMinMs: 20, backoffMaxMs: 5000 });
    s.send(alert(1));
    await until('delivery', () => am.received.length === 2);
    expect(am.received[1]!.at - am.received[0]!.at).toBeGreaterThanOrEqual(950);
    expect(await metric(s.registry, 'tw_alertmanager_failed_total', { url: am.url })).toBe(1);
  });

  it('gives up on a 4xx answer at once: counted as rejected, the body in the log, later alerts still sent', async () => {
    const am = await standIn((n) => (n === 1 ? { status: 400, body: 'bad request: "start time must be before end time"' } : { status: 200 }));
    const { sink: s, logs } = sink([am.url]);
    s.send(alert(1));
    await until('rejection', async () => (await metric(s.registry, 'tw_alertmanager_dropped_total', { url: am.url, reason: 'rejected' })) === 1);
    await sleep(300); // a retry would come within the 100 ms backoff maximum
    expect(am.received).toHaveLength(1);
    const rec = logs.find((l) => l.level === 'error');
    expect(rec).toMatchObject({ status: 400, body: 'bad request: "start time must be before end time"', url: am.url });
    s.send(alert(2));
    await until('the next alert', async () => (await metric(s.registry, 'tw_alertmanager_sent_total', { url: am.url })) === 1);
    expect(am.received).toHaveLength(2);
  });

  it('keeps alerts while the Alertmanager is down and delivers them when it is back on the same port', async () => {
    const port = await downPort();
    const { sink: s, logs } = sink([`http://127.0.0.1:${port}`]);
    const url = `http://127.0.0.1:${port}`;
    s.send(alert(1));
    await until('two failed tries', async () => (await metric(s.registry, 'tw_alertmanager_failed_total', { url })) >= 2);
    expect(await metric(s.registry, 'tw_alertmanager_queue_length', { url })).toBe(1);
    expect(logs.filter((l) => /not reached \(.*ECONNREFUSED/.test(String(l.msg)))).toHaveLength(1);
    const am = new StandIn();
    servers.push(am);
    await am.start(port);
    await until('delivery', () => am.alerts.length === 1);
    expect(am.alerts[0]!.labels.pid).toBe('5001');
    await until('the count', async () => (await metric(s.registry, 'tw_alertmanager_sent_total', { url })) === 1);
    expect(await metric(s.registry, 'tw_alertmanager_queue_length', { url })).toBe(0);
  });

  it('when the queue is full drops the oldest, counts them, says it once per burst, and delivers the newest later', async () => {
    const port = await downPort();
    const url = `http://127.0.0.1:${port}`;
    const { sink: s, logs } = sink([url], { queueMax: 5 });
    for (let i = 0; i < 8; i++) s.send(alert(i));
    expect(await metric(s.registry, 'tw_alertmanager_dropped_total', { url, reason: 'queue_full' })).toBe(3);
    // a failed try puts its batch back at the head: still the 5 newest, still counted once
    await until('a failed try', async () => (await metric(s.registry, 'tw_alertmanager_failed_total', { url })) >= 1);
    s.send(alert(8));
    expect(await metric(s.registry, 'tw_alertmanager_dropped_total', { url, reason: 'queue_full' })).toBe(4);
    expect(await metric(s.registry, 'tw_alertmanager_queue_length', { url })).toBe(5);
    expect(logs.filter((l) => /queue full/.test(String(l.msg)))).toHaveLength(1);
    const am = new StandIn();
    servers.push(am);
    await am.start(port);
    await until('delivery', () => am.alerts.length === 5);
    expect(am.alerts.map((a) => a.labels.pid)).toEqual(['5004', '5005', '5006', '5007', '5008']);
    await until('the summary', () => logs.some((l) => /4 alerts were dropped/.test(String(l.msg))));
  });

  it('sends to every Alertmanager; one that hangs does not delay another', async () => {
    const hanging = await standIn(() => 'hang');
    const up = await standIn();
    const { sink: s } = sink([hanging.url, up.url], { timeoutMs: 10_000 });
    const t0 = Date.now();
    s.send(alert(1));
    await until('the one that is up', () => up.alerts.length === 1);
    expect(Date.now() - t0).toBeLessThan(1000);
    await until('the hanging one got it too', () => hanging.received.length === 1);
    await until('the count', async () => (await metric(s.registry, 'tw_alertmanager_sent_total', { url: up.url })) === 1);
    expect(s.queued()).toEqual({ [hanging.url]: 1, [up.url]: 0 });
  });

  it('gives a request timeoutMs to answer, then retries it', async () => {
    const hanging = await standIn(() => 'hang');
    const { sink: s, logs } = sink([hanging.url], { timeoutMs: 200 });
    const t0 = Date.now();
    s.send(alert(1));
    await until('a retry', () => hanging.received.length === 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(await metric(s.registry, 'tw_alertmanager_failed_total', { url: hanging.url })).toBeGreaterThanOrEqual(1);
    expect(logs.some((l) => /no answer within 200 ms/.test(String(l.msg)))).toBe(true);
  });

  it('an answer that stops in the middle is cut off at the deadline and retried, not counted as sent', async () => {
    const am = await standIn((n) => (n === 1 ? 'stall' : { status: 200 }));
    const { sink: s } = sink([am.url], { timeoutMs: 200 });
    s.send(alert(1));
    await until('the retry', async () => (await metric(s.registry, 'tw_alertmanager_sent_total', { url: am.url })) === 1);
    expect(am.received).toHaveLength(2);
    expect(await metric(s.registry, 'tw_alertmanager_failed_total', { url: am.url })).toBe(1);
  });

  it('sends the credentials of the URL as basic auth', async () => {
    const am = await standIn();
    const { sink: s } = sink([`http://tw:pw@127.0.0.1:${am.port}`]);
    expect(s.urls).toEqual([am.url]);
    s.send(alert(1));
    await until('delivery', () => am.received.length === 1);
    expect(am.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('tw:pw').toString('base64')}`);
  });

  it('close() delivers what is queued before it returns', async () => {
    const am = await standIn();
    const { sink: s } = sink([am.url]);
    for (let i = 0; i < 3; i++) s.send(alert(i));
    await s.close(5000);
    expect(am.alerts).toHaveLength(3);
  });

  it('close() tries a down Alertmanager at once, stops at its timeout, and counts what is left', async () => {
    const port = await downPort();
    const url = `http://127.0.0.1:${port}`;
    const { sink: s, logs } = sink([url], { backoffMinMs: 60_000, backoffMaxMs: 60_000 });
    s.send(alert(1));
    s.send(alert(2));
    await until('a failed try', async () => (await metric(s.registry, 'tw_alertmanager_failed_total', { url })) === 1);
    // the next try is a minute away; close() makes it now
    const am = new StandIn(() => ({ status: 503 }));
    servers.push(am);
    await am.start(port);
    const t0 = Date.now();
    await s.close(400);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(1500);
    expect(am.received.length).toBeGreaterThanOrEqual(1);
    expect(await metric(s.registry, 'tw_alertmanager_dropped_total', { url, reason: 'shutdown' })).toBe(2);
    expect(await metric(s.registry, 'tw_alertmanager_queue_length', { url })).toBe(0);
    expect(logs.some((l) => /2 alerts not delivered within 400 ms/.test(String(l.msg)))).toBe(true);
    s.send(alert(3));
    s.send(alert(4));
    expect(await metric(s.registry, 'tw_alertmanager_dropped_total', { url, reason: 'closed' })).toBe(2);
    expect(logs.filter((l) => /after the Alertmanager output was closed/.test(String(l.msg)))).toHaveLength(1);
  });

  it('a second sink on the same registry (a reload) shares the metrics', async () => {
    const reg = new Registry();
    const am = await standIn();
    const a = sink([am.url], { registry: reg }).sink;
    a.send(alert(1));
    await a.close(2000);
    const b = sink([am.url], { registry: reg }).sink;
    b.send(alert(2));
    await b.close(2000);
    expect(await metric(reg, 'tw_alertmanager_sent_total', { url: am.url })).toBe(2);
    expect((await reg.metrics()).match(/^# TYPE tw_alertmanager_sent_total counter$/gm)).toHaveLength(1);
  });
});
