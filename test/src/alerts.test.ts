// Alerts from a recording (--input): the same sinks as live. A fixture watch alerts at every
// getppid of one process of the shipped sample (a trace-cmd recording, so without a wall-clock
// reference: time is null): --json streams alert lines before the result line, --exec gets each
// alert as JSON, a failing --exec is said once, the stderr line, --quiet, --notify without a
// notifier; and a shipped watch (who-deleted) names its culprit.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeUnlinkRecording } from './support/probe-recording.js';
import { run } from './support/proc.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';

const SAMPLE = join(REPO_ROOT, 'examples/sample.dat');
const FIXTURE = join(REPO_ROOT, 'test/fixtures/alert-watch.mjs');
let dir = '';
/** the first process of the sample that calls getppid, and how often it does */
let pid = 0;
let calls = 0;

const tw = (...args: string[]) => run(process.execPath, [twCliPath(), ...args], { check: false, env: { ...process.env, PATH: '/usr/bin:/bin' } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tw-alerts-offline-'));
  const d = await tw('dump', '--input', SAMPLE, '-e', 'syscalls:sys_enter_getppid');
  const pids = d.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { pid: number }).pid);
  pid = pids[0]!;
  calls = pids.filter((p) => p === pid).length;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('alerts from a recording', () => {
  it('--json: one {"alert": …} line per alert, then the result (with every alert) as the last line', async () => {
    const r = await tw('watch', FIXTURE, String(pid), '--input', SAMPLE, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(calls + 1);
    const { alerts, result } = parseWatchJson<{ seen: number; alerts: unknown[] }>(r.stdout);
    expect(alerts).toHaveLength(calls);
    expect(alerts[0]).toEqual({
      time: null,
      ts: expect.stringMatching(/^\d+$/),
      watch: 'alert-on-getppid',
      message: `getppid #1 from ${pid} [bash]`,
      // the sample's task table (tw recordings) has the exe; it was recorded before tw kept uid and cmdline
      culprit: { pid, comm: 'bash', tgid: pid, ppid: expect.any(Number), exe: '/usr/bin/bash', parents: expect.arrayContaining([expect.objectContaining({ comm: 'bash' })]) },
      details: { n: 1, cpu: expect.any(Number) },
    });
    expect(result.seen).toBe(calls);
    expect(result.alerts).toEqual(alerts);
  });

  it('--exec: each command gets its alert as JSON on stdin and TW_* in its environment', async () => {
    const out = join(dir, 'exec');
    const r = await tw('watch', FIXTURE, String(pid), '--input', SAMPLE, '--json', '--exec', `mkdir -p ${out} && { cat; echo "$TW_PID|$TW_COMM|$TW_TIME|$TW_MESSAGE"; } > ${out}/$TW_TS`);
    expect(r.code, r.stderr).toBe(0);
    const { alerts } = parseWatchJson(r.stdout);
    // tw waited for every command before it printed the result
    expect(readdirSync(out).sort()).toEqual(alerts.map((a) => a.ts).sort());
    for (const a of alerts) {
      const [stdin, env] = readFileSync(join(out, a.ts), 'utf8').split('\n');
      expect(JSON.parse(stdin!)).toEqual(a);
      expect(env).toBe(`${pid}|bash||${a.message}`);
    }
  });

  it('a failing --exec is said once, counted at the end, and changes nothing else', async () => {
    const r = await tw('watch', FIXTURE, String(pid), '--input', SAMPLE, '--json', '--exec', 'exit 3');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      'tw: warning: --exec failed for an alert of alert-on-getppid: exit status 3; tw goes on (further failures are counted)',
      ...(calls > 1 ? [`tw: warning: --exec: ${calls} of ${calls} commands failed (the first is reported above)`] : []),
    ]);
    expect(parseWatchJson(r.stdout).alerts).toHaveLength(calls);
  });

  it('without --json: a line per alert on stderr (trace seconds: the recording has no wall clock); --quiet drops them', async () => {
    const r = await tw('watch', FIXTURE, String(pid), '--input', SAMPLE);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(calls);
    expect(lines[0]).toMatch(new RegExp(`^\\[\\d+\\.\\d{9}\\] alert-on-getppid: getppid #1 from ${pid} \\[bash\\]$`));
    expect(JSON.parse(r.stdout)).toMatchObject({ seen: calls });
    const q = await tw('watch', FIXTURE, String(pid), '--input', SAMPLE, '--quiet');
    expect([q.code, q.stderr]).toEqual([0, '']);
  });

  it('--notify where it cannot work: one note at the start saying why, and the run as usual', async () => {
    const r = await tw('watch', FIXTURE, String(pid), '--input', SAMPLE, '--json', '--notify');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^tw: note: --notify sends no desktop notifications here: (notify-send is not installed|no session bus)/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(parseWatchJson(r.stdout).alerts).toHaveLength(calls);
  });

  it('a shipped watch names its culprit: who-deleted on a recording of tw:unlink events', async () => {
    const rec = join(dir, 'unlink.dat');
    await writeUnlinkRecording(rec, [{ pid: 4242, dfd: -100, pathname: '/tmp/gone', comm: 'rm' }]);
    const r = await tw('watch', 'who-deleted', '--input', rec, '--json');
    expect(r.code, r.stderr).toBe(0);
    const { alerts, result } = parseWatchJson<{ total: number }>(r.stdout);
    expect(result.total).toBe(1);
    expect(alerts).toEqual([{ time: null, ts: expect.any(String), watch: 'who-deleted', message: 'rm[4242] deleted /tmp/gone', culprit: expect.objectContaining({ pid: 4242 }), details: { pid: 4242, tgid: 4242, comm: 'rm', ppid: null, uid: null, syscall: 'do_unlinkat', kind: 'unlink', what: 'unlink', pathname: '/tmp/gone', dfd: -100, path: '/tmp/gone' } }]);
  });
});
