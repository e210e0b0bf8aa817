// The culprit watches answer a question and end by themselves: who-deleted and who-modified after
// the first culprit, who-killed once its process has exited after its fatal signal; each within a
// second of the culprit, with exit status 0, the answer in the result, and nothing left in the
// kernel (no tw_* BPF program of the run, no tracefs instance of its pid). With --keep-going each
// is a monitor instead: it catches every culprit of a sequence and runs until Ctrl-C. Live here by
// BPF (the syscall forms of the probes), as in bpf-culprits.kernel.test.ts.
import { spawn } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { skipReason } from './support/tracefs.js';
import { parseWatchJson } from './support/watch-json.js';
import { eventually, scratch, startTw, twInstances, twPrograms, type RunningTw } from './support/tw-live.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[culprit-stop.kernel] skipped: ${reason}`);

const { workDir, keep } = scratch('tw-stop-');

/** ids of the tw_* BPF programs loaded now and not in `before` (another tw may have its own) */
const newPrograms = (before: ReadonlySet<number>) => new Set(twPrograms().filter((p) => !before.has(p.id)).map((p) => p.id));
const programIds = () => new Set(twPrograms().map((p) => p.id));

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

/** Run a child to its end; its pid and exit code. */
function runChild(cmd: string, args: string[]): Promise<{ pid: number; code: number | null }> {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    c.on('error', reject);
    c.on('close', (code) => resolve({ pid: c.pid!, code }));
  });
}

/** A copy of dash under `name`: a child whose comm is `name`, whose redirections and kill are its own syscalls. */
function shellNamed(dir: string, name: string): string {
  const p = join(dir, name);
  copyFileSync('/bin/dash', p);
  return p;
}

/** A process that waits to be signalled. */
function sleeper(): number {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  keep(() => c.kill('SIGKILL'));
  return c.pid!;
}

const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

/** After tw ended: none of its programs is loaded, and no tracefs instance of its pid is left. */
async function nothingLeft(tw: RunningTw, progs: ReadonlySet<number>): Promise<void> {
  expect(progs.size, 'the run loaded its probe by BPF').toBeGreaterThan(0);
  expect(await eventually(() => !twPrograms().some((p) => progs.has(p.id))), 'its programs after').toBe(true);
  expect(twInstances(tw.pid)).toEqual([]);
}

/** SIGINT to a tw that must still be running, and its end. */
async function interrupt(tw: RunningTw): Promise<Awaited<RunningTw['done']>> {
  expect(await endWithin(tw, 1000), 'still running before Ctrl-C').toBe('running');
  tw.kill('SIGINT');
  return tw.done;
}

interface Deleted {
  total: number;
  deletions: Array<{ tgid: number; comm: string; pathname: string }>;
  answered: boolean;
}

interface Modified {
  total: number;
  opens: Array<{ tgid: number; comm: string; path: string }>;
  answered: boolean;
}

interface Killed {
  pid: number;
  signals: Array<{ tgid: number; comm: string; signal: string; via: string }>;
  exited: { ts: string; pid: number; comm: string } | null;
  answered: boolean;
}

describe.skipIf(reason !== undefined)('culprit watches end themselves once answered; --keep-going makes them monitors', () => {
  it('who-deleted ends by itself within a second of one rm: exit 0, that deletion, nothing left loaded', async () => {
    const dir = workDir();
    writeFileSync(join(dir, 'a'), 'x');
    const before = programIds();
    const tw = await startTw(['watch', 'who-deleted', `${dir}/`, '--json']);
    let progs = new Set<number>();
    let ended: Awaited<ReturnType<typeof endWithin>>;
    try {
      progs = newPrograms(before);
      const rm = await runChild('rm', [join(dir, 'a')]);
      expect(rm.code).toBe(0);
      ended = await endWithin(tw, 1000);
    } finally {
      tw.kill('SIGINT'); // only reaches a tw that did not end by itself
    }
    expect(ended, 'tw ended by itself within 1 s of the rm').not.toBe('running');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const res = parseWatchJson<Deleted>(r.stdout).result;
    expect(res.deletions.map((d) => [d.comm, d.pathname])).toEqual([['rm', join(dir, 'a')]]);
    expect(res.answered).toBe(true);
    await nothingLeft(tw, progs);
  });

  it('who-deleted --keep-going catches all of three rms in sequence and runs until Ctrl-C', async () => {
    const dir = workDir();
    const files = ['a', 'b', 'c'].map((f) => join(dir, f));
    for (const f of files) writeFileSync(f, 'x');
    const before = programIds();
    const tw = await startTw(['watch', 'who-deleted', `${dir}/`, '--json', '--keep-going']);
    let progs = new Set<number>();
    let r: Awaited<RunningTw['done']>;
    try {
      progs = newPrograms(before);
      for (const f of files) {
        expect((await runChild('rm', [f])).code).toBe(0);
        await settle(200);
      }
    } finally {
      r = await interrupt(tw);
    }
    expect(r.code, r.stderr).toBe(0);
    const { alerts, result: res } = parseWatchJson<Deleted>(r.stdout);
    expect(res.deletions.map((d) => [d.comm, d.pathname])).toEqual(files.map((f) => ['rm', f]));
    expect(alerts).toHaveLength(3);
    expect(res.answered).toBe(false);
    await nothingLeft(tw, progs);
  });

  it('who-modified ends by itself within a second of one write; --keep-going catches all of three', async () => {
    const dir = workDir();
    const target = join(dir, 'target');
    writeFileSync(target, 'x');
    const writer = shellNamed(dir, 'twwriter');

    const before = programIds();
    const once = await startTw(['watch', 'who-modified', target, '--json']);
    let progs = new Set<number>();
    let ended: Awaited<ReturnType<typeof endWithin>>;
    let child: { pid: number; code: number | null };
    try {
      progs = newPrograms(before);
      child = await runChild(writer, ['-c', ': >> "$1"', 'twwriter', target]);
      expect(child.code).toBe(0);
      ended = await endWithin(once, 1000);
    } finally {
      once.kill('SIGINT');
    }
    expect(ended, 'tw ended by itself within 1 s of the write').not.toBe('running');
    const r = await once.done;
    expect(r.code, r.stderr).toBe(0);
    const res = parseWatchJson<Modified>(r.stdout).result;
    expect(res.opens.map((o) => [o.tgid, o.comm, o.path])).toEqual([[child.pid, 'twwriter', target]]);
    expect(res.answered).toBe(true);
    await nothingLeft(once, progs);

    const before2 = programIds();
    const monitor = await startTw(['watch', 'who-modified', target, '--json', '--keep-going']);
    const writers: number[] = [];
    let m: Awaited<RunningTw['done']>;
    try {
      progs = newPrograms(before2);
      for (let i = 0; i < 3; i++) {
        const c = await runChild(writer, ['-c', ': >> "$1"', 'twwriter', target]);
        expect(c.code).toBe(0);
        writers.push(c.pid);
        await settle(200);
      }
    } finally {
      m = await interrupt(monitor);
    }
    expect(m.code, m.stderr).toBe(0);
    const all = parseWatchJson<Modified>(m.stdout).result;
    expect(all.opens.map((o) => [o.tgid, o.comm])).toEqual(writers.map((p) => [p, 'twwriter']));
    expect(all.answered).toBe(false);
    await nothingLeft(monitor, progs);
  });

  it('who-killed ends by itself within a second of its process dying of a child\'s kill(2), naming the sender; --keep-going goes on', async () => {
    const dir = workDir();
    const killer = shellNamed(dir, 'twkiller');

    const victim = sleeper();
    const before = programIds();
    const tw = await startTw(['watch', 'who-killed', String(victim), '--json']);
    let progs = new Set<number>();
    let ended: Awaited<ReturnType<typeof endWithin>>;
    let sender: { pid: number; code: number | null };
    try {
      progs = newPrograms(before);
      // dash's kill is a builtin: kill(2) from the shell itself
      sender = await runChild(killer, ['-c', 'kill -TERM "$1"', 'twkiller', String(victim)]);
      expect(sender.code).toBe(0);
      ended = await endWithin(tw, 1000);
    } finally {
      tw.kill('SIGINT');
    }
    expect(ended, 'tw ended by itself within 1 s of the kill').not.toBe('running');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const res = parseWatchJson<Killed>(r.stdout).result;
    expect(res.pid).toBe(victim);
    expect(res.signals.map((s) => [s.tgid, s.comm, s.signal, s.via])).toEqual([[sender.pid, 'twkiller', 'SIGTERM', 'kill']]);
    expect(res.exited).toEqual({ ts: expect.any(String), pid: victim, comm: 'sleep' });
    expect(res.answered).toBe(true);
    await nothingLeft(tw, progs);

    const victim2 = sleeper();
    const before2 = programIds();
    const monitor = await startTw(['watch', 'who-killed', String(victim2), '--json', '--keep-going']);
    let m: Awaited<RunningTw['done']>;
    let sender2: { pid: number; code: number | null };
    try {
      progs = newPrograms(before2);
      sender2 = await runChild(killer, ['-c', 'kill -TERM "$1"', 'twkiller', String(victim2)]);
      expect(sender2.code).toBe(0);
      await settle();
    } finally {
      // still running a second after its process died
      m = await interrupt(monitor);
    }
    expect(m.code, m.stderr).toBe(0);
    const all = parseWatchJson<Killed>(m.stdout).result;
    expect(all.signals.map((s) => [s.tgid, s.comm, s.signal])).toEqual([[sender2.pid, 'twkiller', 'SIGTERM']]);
    expect(all.exited).toEqual({ ts: expect.any(String), pid: victim2, comm: 'sleep' });
    expect(all.answered).toBe(false);
    await nothingLeft(monitor, progs);
  });
});
