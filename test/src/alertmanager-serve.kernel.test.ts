// tw serve with who-killed on a sleeping child, keep-going, and the real Alertmanager (Debian's
// prometheus-alertmanager, started by the test on loopback with temp storage): a signal sent to
// the child (SIGWINCH and SIGURG, which it ignores, then SIGTERM) by a process with a
// recognizable name (a shell run under another name, so its comm is that name and the kill is its
// own builtin's) appears in Alertmanager's /api/v2/alerts with the culprit's comm, pid and exe; an alert raised while Alertmanager is down arrives when it is
// started again; tw_alertmanager_* on /metrics say what happened; a SIGHUP that changes only the
// watch's severity applies it to the next alert; SIGTERM ends tw serve with nothing left in tracefs.
import { spawn, spawnSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Alertmanager, alertmanagerSkipReason, freePort, type GettableAlert } from './support/alertmanager.js';
import { skipReason } from './support/tracefs.js';
import { scratch, startTw, twInstances } from './support/tw-live.js';

const reason = skipReason() ?? alertmanagerSkipReason();
if (reason) console.warn(`[alertmanager-serve.kernel] skipped: ${reason}`);

const { workDir, keep } = scratch('tw-am-serve-');

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Run `kill -SIG pid` from a shell named `name` (comm = the name it was exec'd as); its pid. */
function killFrom(dir: string, name: string, sig: string, pid: number): number {
  const path = join(dir, name);
  symlinkSync('/bin/sh', path);
  const r = spawnSync(path, ['-c', `echo $$; kill -${sig} ${pid}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** A sample's value in tw serve's /metrics text (NaN when absent). */
async function sample(listen: string, series: string): Promise<number> {
  const text = await (await fetch(`http://${listen}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

describe.skipIf(reason !== undefined)('tw serve alerts to the real Alertmanager', () => {
  // stopped (and so done writing its storage) before the scratch directory is removed
  let started: Alertmanager | undefined;
  afterAll(() => started?.stop());

  it("a who-killed culprit appears in Alertmanager with its comm, also after an Alertmanager outage; tw's metrics count it", async () => {
    const dir = workDir();
    const am = await Alertmanager.start({ dir });
    started = am;
    const victim = spawn('sleep', ['600'], { stdio: 'ignore' });
    keep(() => victim.kill('SIGKILL'));
    const pid = victim.pid!;
    const listen = `127.0.0.1:${await freePort()}`;
    const config = join(dir, 'serve.yaml');
    const writeConfig = (severity: string): void =>
      writeFileSync(
        config,
        [
          `listen: ${listen}`,
          'alertmanager:',
          `  - ${am.url}`,
          'labels: { site: lab }',
          'watches:',
          '  - watch: who-killed',
          '    id: sleeper',
          `    args: ["${pid}"]`,
          '    keep-going: true',
          `    severity: ${severity}`,
          '',
        ].join('\n'),
      );
    writeConfig('critical');
    const tw = await startTw(['serve', '--config', config]);
    keep(() => tw.kill('SIGKILL'));
    const url = am.url;
    const withComm = (comm: string) => (list: GettableAlert[]) => list.filter((a) => a.labels.comm === comm);

    // a signal that does not end the sleeper (SIGWINCH is ignored by default): the culprit is paged
    const first = killFrom(dir, 'twpager', 'WINCH', pid);
    const [got] = await until('the culprit in Alertmanager', () => am.alerts(), (l) => withComm('twpager')(l).length === 1).then(withComm('twpager'));
    expect(got!.labels).toEqual({ alertname: 'who-killed', watch: 'sleeper', severity: 'critical', instance: hostname(), site: 'lab', comm: 'twpager', pid: String(first) });
    expect(got!.annotations.exe).toBe(join(dir, 'twpager'));
    expect(got!.annotations.pid).toBe(String(first));
    expect(got!.annotations.description).toContain('SIGWINCH');
    expect(JSON.parse(got!.annotations.details!)).toMatchObject({ signal: 'SIGWINCH', to: pid });
    expect(got!.status.state).toBe('active');

    // Alertmanager down: the next culprit waits in tw's queue, and arrives once it is back
    await am.stop();
    const second = killFrom(dir, 'twoutage', 'URG', pid);
    await until('a failed delivery', () => sample(listen, `tw_alertmanager_failed_total{url="${url}"}`), (n) => n >= 1);
    expect(await sample(listen, `tw_alertmanager_queue_length{url="${url}"}`)).toBe(1);
    const back = Date.now();
    await am.start();
    const [late] = await until('the culprit raised during the outage', () => am.alerts(), (l) => withComm('twoutage')(l).length === 1).then(withComm('twoutage'));
    expect(late!.labels.pid).toBe(String(second));
    expect(late!.annotations.description).toContain('SIGURG');
    // it started when the signal was sent, before Alertmanager came back
    expect(Date.parse(late!.startsAt)).toBeLessThan(back);
    await until('the count', () => sample(listen, `tw_alertmanager_sent_total{url="${url}"}`), (n) => n === 2);
    expect(await sample(listen, `tw_alertmanager_dropped_total{url="${url}",reason="queue_full"}`)).toBe(0);
    expect(await sample(listen, 'tw_alerts_total{watch="sleeper"}')).toBe(2);

    // SIGHUP with only the severity changed: the watch goes on (its state kept), its next alert has the new one
    writeConfig('info');
    tw.kill('SIGHUP');
    await until('the reload', () => sample(listen, 'tw_config_reloads_total{result="unchanged"}'), (n) => n === 1);
    killFrom(dir, 'twreload', 'TERM', pid);
    const [after] = await until('the culprit after the reload', () => am.alerts(), (l) => withComm('twreload')(l).length === 1).then(withComm('twreload'));
    expect(after!.labels.severity).toBe('info');
    expect(after!.annotations.description).toContain('SIGTERM');
    await until('the alert count', () => sample(listen, 'tw_alerts_total{watch="sleeper"}'), (n) => n === 3);

    tw.kill('SIGTERM');
    const end = await tw.done;
    expect(end.code).toBe(0);
    expect(twInstances(tw.pid)).toEqual([]);
    await am.stop();
  });
});
