// AlertmanagerSink against the real Alertmanager (Debian's prometheus-alertmanager 0.25, started
// by the test on loopback ports with its own temp storage and clustering off): an alert arrives
// with the culprit's labels and annotations and is notified through a route; two culprits are two
// alerts and the same one again is one; an alert raised while Alertmanager is down arrives when it
// is started again on the same port; with two Alertmanagers, one down, the other has the alert at
// once. No root needed: the alerts are made here, not traced (alertmanager-serve.kernel.test.ts
// covers a traced culprit through `tw serve`).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AlertmanagerSink, type AlertmanagerOptions } from '@tw/cli';
import type { Alert } from '@tw/core';
import { Alertmanager, alertmanagerSkipReason, WebhookReceiver, type GettableAlert } from './support/alertmanager.js';

const reason = alertmanagerSkipReason();
if (reason) console.warn(`[alertmanager] skipped: ${reason}`);

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tw-am-'));
  dirs.push(d);
  return d;
}
const running: Alertmanager[] = [];
const receivers: WebhookReceiver[] = [];
const sinks: AlertmanagerSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close(0)));
  await Promise.all(running.splice(0).map((a) => a.stop()));
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function alertmanager(webhook?: string): Promise<Alertmanager> {
  const am = await Alertmanager.start(webhook === undefined ? { dir: tempDir() } : { dir: tempDir(), webhook });
  running.push(am);
  return am;
}

function sink(urls: string[], over: Partial<AlertmanagerOptions> = {}): AlertmanagerSink {
  const s = new AlertmanagerSink({ urls, instance: 'tw-test-host', labels: { site: 'lab', 'team-name': 'ops' }, backoffMinMs: 100, backoffMaxMs: 1000, timeoutMs: 5000, log: () => {}, ...over });
  sinks.push(s);
  return s;
}

/** An alert as who-killed raises it, a few seconds ago (an event's time is in the past). */
function killed(culpritPid: number, comm = 'twkiller'): Alert {
  return {
    time: new Date(Date.now() - 3000).toISOString(),
    ts: 123_456_789n,
    watch: 'who-killed',
    message: `${comm} (pid ${culpritPid}) sent SIGTERM to sleep (pid 4242)`,
    culprit: { pid: culpritPid, comm, tgid: culpritPid, ppid: 999, uid: 0, exe: `/usr/local/bin/${comm}`, cmdline: `${comm} -TERM 4242`, parents: [{ pid: 999, comm: 'bash' }, { pid: 1, comm: 'systemd' }] },
    details: { signal: 'SIGTERM', to: 4242 },
  };
}

/** Metric value from the sink's registry, by name and url label. */
async function metric(s: AlertmanagerSink, name: string, url: string): Promise<number> {
  const text = await s.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{url="${url}"`));
  return line === undefined ? NaN : Number(line.split(' ').pop());
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const byPid = (pid: number) => (list: GettableAlert[]) => list.filter((a) => a.labels.pid === String(pid));

describe.skipIf(reason !== undefined)('alerts to the real Alertmanager', () => {
  it('arrive with the culprit in labels and annotations, are notified through the route, and keep their identity by culprit', async () => {
    const hook = await new WebhookReceiver().start();
    receivers.push(hook);
    const am = await alertmanager(hook.url);
    const s = sink([am.url]);
    const a = killed(31337);
    s.send(a, { watchId: 'who-killed-4242', severity: 'critical' });
    const [got] = await until('the alert', () => am.alerts(), (l) => byPid(31337)(l).length === 1).then(byPid(31337));
    expect(got!.labels).toEqual({ alertname: 'who-killed', instance: 'tw-test-host', severity: 'critical', watch: 'who-killed-4242', comm: 'twkiller', pid: '31337', site: 'lab', team_name: 'ops' });
    expect(got!.annotations).toMatchObject({
      summary: a.message,
      description: a.message,
      pid: '31337',
      exe: '/usr/local/bin/twkiller',
      cmdline: 'twkiller -TERM 4242',
      parents: '999 bash <- 1 systemd',
      details: '{"signal":"SIGTERM","to":4242}',
    });
    expect(got!.status.state).toBe('active');
    // startsAt is the event's time; with no endsAt, Alertmanager ends it resolve_timeout (5m) after it arrived
    expect(Date.parse(got!.startsAt)).toBe(Date.parse(a.time!));
    const ends = Date.parse(got!.endsAt) - Date.now();
    expect(ends).toBeGreaterThan(4 * 60_000);
    expect(ends).toBeLessThanOrEqual(5 * 60_000);
    // the route notified it (group_wait 1 s)
    const note = await until('the webhook notification', async () => hook.messages, (m) => m.some((x) => x.alerts.some((y) => y.labels.pid === '31337')));
    expect(note.flatMap((m) => m.alerts).find((y) => y.labels.pid === '31337')!.labels.comm).toBe('twkiller');

    // another culprit is another alert; the first culprit again is still one alert
    s.send(killed(31338, 'othercomm'), { watchId: 'who-killed-4242', severity: 'critical' });
    s.send({ ...a, message: 'twkiller (pid 31337) sent SIGTERM to sleep (pid 4242) again' }, { watchId: 'who-killed-4242', severity: 'critical' });
    const all = await until(
      'both culprits',
      () => am.alerts(),
      (l) => byPid(31338)(l).length === 1 && byPid(31337)(l)[0]?.annotations.summary?.endsWith('again') === true,
    );
    expect(byPid(31337)(all)).toHaveLength(1);
    expect(byPid(31338)(all)[0]!.labels.comm).toBe('othercomm');
    expect(await metric(s, 'tw_alertmanager_sent_total', am.url)).toBe(3);
  });

  it('an alert raised while Alertmanager is down arrives when it is started again on the same port', async () => {
    const am = await alertmanager();
    const s = sink([am.url]);
    await am.stop();
    const a = killed(40001);
    s.send(a);
    await until('failed tries', () => metric(s, 'tw_alertmanager_failed_total', am.url), (n) => n >= 2);
    expect(await metric(s, 'tw_alertmanager_queue_length', am.url)).toBe(1);
    await am.start();
    const [got] = await until('the alert', () => am.alerts(), (l) => byPid(40001)(l).length === 1).then(byPid(40001));
    expect(got!.labels.comm).toBe('twkiller');
    // it starts when the event happened, not when it could be delivered
    expect(Date.parse(got!.startsAt)).toBe(Date.parse(a.time!));
    await until('the count', () => metric(s, 'tw_alertmanager_sent_total', am.url), (n) => n === 1);
    expect(await metric(s, 'tw_alertmanager_queue_length', am.url)).toBe(0);
    expect(await metric(s, 'tw_alertmanager_dropped_total', am.url)).toBe(0);
  });

  it('with two Alertmanagers, one down, the other has the alert at once; the first gets it when back', async () => {
    const down = await alertmanager();
    const up = await alertmanager();
    await down.stop();
    const s = sink([down.url, up.url]);
    const t0 = Date.now();
    s.send(killed(40002));
    await until('the alert on the one that is up', () => up.alerts(), (l) => byPid(40002)(l).length === 1);
    const took = Date.now() - t0;
    console.log(`[alertmanager] one of two Alertmanagers down: the other had the alert after ${took} ms`);
    expect(took).toBeLessThan(2000);
    expect(s.queued()[down.url]).toBe(1);
    await down.start();
    await until('the alert on the one that came back', () => down.alerts(), (l) => byPid(40002)(l).length === 1);
  });
});
