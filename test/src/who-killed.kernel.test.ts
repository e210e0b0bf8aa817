// who-killed on the live kernel, for every way a signal can be sent: kill(2) from a second thread,
// tgkill(2), pidfd_send_signal(2), sigqueue(3), a short-lived kill(1) process, the kernel itself
// (a fault); each named with its sender (pid, thread, comm), how it was sent and the delivery
// result, and the signal the process died of. --fatal reports only that one; a command name
// follows a process of that name started after tw. The watch ends by itself within a second of
// the process's death. The senders are a small C program (test/fixtures/signal-senders.c).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { skipReason, which } from './support/tracefs.js';
import { REPO_ROOT } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';
import { scratch, startTw, twInstances, type RunningTw } from './support/tw-live.js';

const reason = skipReason() ?? bpfSkipReason() ?? (which('cc') ? undefined : 'no C compiler (cc) for the signal senders');
if (reason) console.warn(`[who-killed.kernel] skipped: ${reason}`);

const { workDir, keep } = scratch('tw-killed-');

interface Sent {
  pid: number;
  tgid: number;
  comm: string;
  signal: string;
  via: string;
  scope: string;
  to: number;
  toComm: string;
  result: string;
  fatal?: boolean;
}

interface Alerted {
  culprit?: { pid: number; comm: string; uid?: number; exe?: string; parents?: Array<{ pid: number; comm: string }> };
}

interface Killed {
  pid: number | null;
  name: string | null;
  total: number;
  signals: Sent[];
  killedBy: Sent | null;
  exited: { ts: string; pid: number; comm: string } | null;
  answered: boolean;
}

/** The helper compiled into dir under the names the test gives its processes (comm = file name). */
function build(dir: string): { sender: string; victim: string; segv: string } {
  const bin = join(dir, 'twsender');
  const cc = spawnSync('cc', ['-O2', '-pthread', '-o', bin, join(REPO_ROOT, 'test/fixtures/signal-senders.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cc: ${cc.stderr}`);
  const victim = join(dir, 'twvictim');
  const segv = join(dir, 'twsegv');
  copyFileSync(bin, victim);
  copyFileSync(bin, segv);
  return { sender: bin, victim, segv };
}

/** Start the victim; resolves with its pid once its handlers are installed. */
async function startVictim(path: string): Promise<number> {
  const c = spawn(path, ['victim'], { stdio: ['ignore', 'pipe', 'ignore'] });
  keep(() => c.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    c.stdout.once('data', () => resolve());
    c.once('error', reject);
  });
  return c.pid!;
}

/** Run a sender; the pid and thread id it sent from. */
function send(sender: string, mode: string, pid: number, sig: number): { pid: number; tid: number } {
  const r = spawnSync(sender, [mode, String(pid), String(sig)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${mode}: ${r.stderr}`);
  const [p, t] = r.stdout.trim().split(' ').map(Number);
  return { pid: p!, tid: t! };
}

/** tw's end, or 'running' when it has not ended within `ms` */
async function endWithin(tw: RunningTw, ms: number): Promise<Awaited<RunningTw['done']> | 'running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'running'>((resolve) => (timer = setTimeout(() => resolve('running'), ms)));
  try {
    return await Promise.race([tw.done, late]);
  } finally {
    clearTimeout(timer);
  }
}

const pause = (ms = 150) => new Promise((r) => setTimeout(r, ms));

/** Wait for tw to end by itself within 1 s of the death; its JSON result. */
async function result(tw: RunningTw): Promise<Killed & { alertList: Alerted[] }> {
  const ended = await endWithin(tw, 1000);
  if (ended === 'running') tw.kill('SIGINT');
  expect(ended, 'tw ended by itself within 1 s of the death').not.toBe('running');
  const r = await tw.done;
  expect(r.code, r.stderr).toBe(0);
  expect(twInstances(tw.pid)).toEqual([]);
  const j = parseWatchJson<Killed>(r.stdout);
  return Object.assign(j.result, { alertList: j.alerts as Alerted[] });
}

describe.skipIf(reason !== undefined)('who-killed: every sender, live', () => {
  it('names a kill from a thread, tgkill, pidfd_send_signal, sigqueue and a short-lived kill(1), and the signal it died of', async () => {
    const dir = workDir();
    const bin = build(dir);
    const victim = await startVictim(bin.victim);
    const tw = await startTw(['watch', 'who-killed', String(victim), '--json']);
    let fromThread: { pid: number; tid: number };
    let tg: { pid: number; tid: number };
    let pidfd: { pid: number; tid: number };
    let queued: { pid: number; tid: number };
    let shell: number;
    try {
      // handled by the victim: it lives on
      fromThread = send(bin.sender, 'kill-thread', victim, 10);
      tg = send(bin.sender, 'tgkill', victim, 12);
      pidfd = send(bin.sender, 'pidfd', victim, 1);
      queued = send(bin.sender, 'sigqueue', victim, 10);
      await pause();
      // a process that lives a few milliseconds: sh execs kill(1), which sends the fatal SIGTERM
      const sh = spawnSync('/bin/sh', ['-c', `exec /bin/kill -TERM ${victim}`]);
      expect(sh.status).toBe(0);
      shell = sh.pid!;
    } catch (e) {
      tw.kill('SIGINT');
      throw e;
    }
    const r = await result(tw);
    expect(r.pid).toBe(victim);
    const row = (s: Sent) => [s.tgid, s.pid, s.comm, s.signal, s.via, s.result];
    expect(r.signals.map(row)).toEqual([
      [fromThread.pid, fromThread.tid, 'twsender', 'SIGUSR1', 'kill', 'delivered'],
      [tg.pid, tg.pid, 'twsender', 'SIGUSR2', 'tkill', 'delivered'],
      [pidfd.pid, pidfd.pid, 'twsender', 'SIGHUP', 'pidfd_send_signal', 'delivered'],
      [queued.pid, queued.pid, 'twsender', 'SIGUSR1', 'sigqueue', 'delivered'],
      [shell, shell, 'kill', 'SIGTERM', 'kill', 'delivered'],
    ]);
    expect(fromThread.tid, 'the kill came from a second thread').not.toBe(fromThread.pid);
    expect(r.signals.every((s) => s.to === victim && s.toComm === 'twvictim' && s.scope === 'process')).toBe(true);
    // only SIGTERM was unhandled
    expect(r.signals.map((s) => s.fatal === true)).toEqual([false, false, false, false, true]);
    expect(r.killedBy).toMatchObject({ signal: 'SIGTERM', tgid: shell, comm: 'kill' });
    // the short-lived sender, named in its alert: its program from its exec, its uid from its parent
    expect(r.alertList[4]?.culprit).toMatchObject({ pid: shell, comm: 'kill', exe: '/bin/kill', uid: 0 });
    expect(r.exited).toMatchObject({ pid: victim, comm: 'twvictim' });
    expect(r.answered).toBe(true);
  });

  it('--fatal reports only the signal it died of: not the handled SIGUSR1 before the SIGKILL', async () => {
    const dir = workDir();
    const bin = build(dir);
    const victim = await startVictim(bin.victim);
    const tw = await startTw(['watch', 'who-killed', String(victim), '--fatal', '--json']);
    let killer: { pid: number; tid: number };
    try {
      send(bin.sender, 'tgkill', victim, 10);
      await pause();
      killer = send(bin.sender, 'pidfd', victim, 9);
    } catch (e) {
      tw.kill('SIGINT');
      throw e;
    }
    const r = await result(tw);
    expect(r.total).toBe(1);
    expect(r.signals.map((s) => [s.tgid, s.signal, s.via, s.fatal])).toEqual([[killer.pid, 'SIGKILL', 'pidfd_send_signal', true]]);
    expect(r.killedBy).toMatchObject({ tgid: killer.pid, signal: 'SIGKILL' });
  });

  it('by name: a process of that name started after tw, killed by the kernel (a fault), ends the watch', async () => {
    const dir = workDir();
    const bin = build(dir);
    const tw = await startTw(['watch', 'who-killed', 'twsegv', '--json']);
    let segv: number;
    try {
      const c = spawn(bin.segv, ['segv', '100'], { stdio: 'ignore' });
      segv = c.pid!;
      await new Promise((resolve) => c.on('close', resolve));
    } catch (e) {
      tw.kill('SIGINT');
      throw e;
    }
    const r = await result(tw);
    expect(r.name).toBe('twsegv');
    expect(r.pid).toBeNull();
    expect(r.signals.map((s) => [s.tgid, s.comm, s.signal, s.via, s.to, s.fatal])).toEqual([[segv, 'twsegv', 'SIGSEGV', 'kernel', segv, true]]);
    expect(r.exited).toMatchObject({ pid: segv, comm: 'twsegv' });
  });
});
