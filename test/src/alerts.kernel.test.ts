// Alerts live, through the tw CLI on the real kernel: a fixture watch alerts at every getppid of
// a child we control and never stops. `--json` alert lines are read from tw's stdout pipe while
// tw still runs (before it is told to end); `--exec` gets each alert as JSON on stdin and TW_*
// in its environment; a failing `--exec` is said once and the watch goes on; the alert's time is
// the event's wall-clock time; a recording of the run (--record) replays (--input) to the same
// alerts, times included.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { run } from './support/proc.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { alertOfLine, parseWatchJson } from './support/watch-json.js';

const reason = skipReason();
const running = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
if (reason) console.warn(`[alerts.kernel] skipped: ${reason}`);

const FIXTURE = join(REPO_ROOT, 'test/fixtures/alert-watch.mjs');
const dir = mkdtempSync(join(tmpdir(), 'tw-alerts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const children: ChildProcess[] = [];
const tws: ChildProcess[] = [];
afterEach(() => {
  // what a failed test left running: tw ends (and tears its trace down) on SIGINT
  for (const p of tws.splice(0)) if (running(p)) p.kill('SIGINT');
  for (const p of children.splice(0)) if (running(p)) p.kill('SIGKILL');
});

/** A child that makes one getppid call (process.ppid) per byte it reads on stdin. */
function getppidChild(): ChildProcess & { go: () => void } {
  const code = "const fs=require('fs');const b=Buffer.alloc(1);while(fs.readSync(0,b)>0)process.ppid;";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'ignore', 'inherit'] }) as ChildProcess & { go: () => void };
  child.go = () => child.stdin!.write('x');
  children.push(child);
  return child;
}

interface Tw {
  p: ChildProcess;
  stdoutLines: string[];
  stderr: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Start `tw watch ARGS` with stdout and stderr on pipes; resolves once tw says it is tracing. */
async function startTw(args: string[]): Promise<Tw> {
  const p = spawn(process.execPath, [twCliPath(), 'watch', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  tws.push(p);
  let stdout = '';
  let stderr = '';
  const stdoutLines: string[] = [];
  p.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    const lines = stdout.split('\n');
    stdoutLines.splice(0, stdoutLines.length, ...lines.slice(0, -1));
  });
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  await waitFor('tw: tracing', () => {
    if (p.exitCode !== null) throw new Error(`tw exited before tracing (${p.exitCode}): ${stderr}`);
    return /^tw: tracing /m.test(stderr);
  });
  return { p, stdoutLines, stderr: () => stderr, done };
}

function waitFor(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      try {
        if (cond()) return resolve();
      } catch (e) {
        return reject(e as Error);
      }
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

describe.skipIf(reason !== undefined)('alerts live (tw watch --json --exec)', () => {
  it('streams each alert as a JSON line while the watch runs, runs --exec with it, and a recording replays to the same alerts', async () => {
    const child = getppidChild();
    const execDir = join(dir, 'exec');
    const file = join(dir, 'alerts.dat');
    const tw = await startTw([FIXTURE, String(child.pid), '--json', '--record', file, '--exec', `mkdir -p ${execDir} && { cat; printf '%s %s %s %s\\n' "$TW_PID" "$TW_COMM" "$TW_TGID" "$TW_WATCH"; } > ${execDir}/$TW_TS`]);
    const before = Date.now();
    child.go();
    await waitFor('the first alert line on stdout', () => tw.stdoutLines.some((l) => alertOfLine(l) !== undefined));
    const after = Date.now();
    // read from the pipe while tw runs: the watch has not ended (it never stops by itself)
    expect(running(tw.p), 'tw is still running when its alert line arrives').toBe(true);
    const first = alertOfLine(tw.stdoutLines.find((l) => alertOfLine(l) !== undefined)!)!;
    expect(first).toMatchObject({ watch: 'alert-on-getppid', message: `getppid #1 from ${child.pid} [node]`, culprit: { pid: child.pid, comm: 'node', tgid: child.pid }, details: { n: 1 } });
    expect(first.culprit?.ppid).toBe(process.pid);
    // the time is the event's own: between the write that caused it and the line's arrival
    expect(Date.parse(first.time!)).toBeGreaterThanOrEqual(before - 2);
    expect(Date.parse(first.time!)).toBeLessThanOrEqual(after + 2);
    // --exec got the same alert as JSON on stdin, and the culprit in its environment
    await waitFor('the --exec output', () => existsSync(join(execDir, first.ts)) && readFileSync(join(execDir, first.ts), 'utf8').split('\n').length >= 3);
    const [stdin, env] = readFileSync(join(execDir, first.ts), 'utf8').split('\n');
    expect(JSON.parse(stdin!)).toEqual(first);
    expect(env).toBe(`${child.pid} node ${child.pid} alert-on-getppid`);
    // a second one, still while it runs
    child.go();
    await waitFor('the second alert line', () => tw.stdoutLines.filter((l) => alertOfLine(l) !== undefined).length === 2);
    expect(running(tw.p)).toBe(true);
    tw.p.kill('SIGINT');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const { alerts, result } = parseWatchJson<{ seen: number; alerts: unknown[] }>(r.stdout);
    expect(alerts.map((a) => a.message)).toEqual([`getppid #1 from ${child.pid} [node]`, `getppid #2 from ${child.pid} [node]`]);
    expect(result.seen).toBe(2);
    expect(result.alerts).toEqual(alerts);
    await waitFor('both --exec outputs', () => readdirSync(execDir).length === 2);
    // the recording carries the session's wall-clock reference: the replay dates the alerts alike
    const replay = await run(process.execPath, [twCliPath(), 'watch', FIXTURE, String(child.pid), '--input', file, '--json'], { check: false });
    expect(replay.code, replay.stderr).toBe(0);
    expect(parseWatchJson(replay.stdout).alerts).toEqual(alerts);
  });

  it('a failing --exec is said once on stderr and the watch goes on: later alerts come, exit 0', async () => {
    const child = getppidChild();
    const tw = await startTw([FIXTURE, String(child.pid), '--json', '--exec', 'false']);
    child.go();
    await waitFor('the --exec failure on stderr', () => /--exec failed/.test(tw.stderr()));
    expect(running(tw.p), 'tw goes on after the failure').toBe(true);
    child.go();
    await waitFor('an alert after the failure', () => tw.stdoutLines.filter((l) => alertOfLine(l) !== undefined).length === 2);
    await new Promise((r) => setTimeout(r, 200)); // the second command fails too
    expect(running(tw.p)).toBe(true);
    tw.p.kill('SIGINT');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const failures = r.stderr.split('\n').filter((l) => /--exec/.test(l));
    expect(failures).toEqual([
      'tw: warning: --exec failed for an alert of alert-on-getppid: exit status 1; tw goes on (further failures are counted)',
      'tw: warning: --exec: 2 of 2 commands failed (the first is reported above)',
    ]);
    const { alerts, result } = parseWatchJson<{ seen: number }>(r.stdout);
    expect([alerts.length, result.seen]).toEqual([2, 2]);
  });
});
