// who-modified and who-killed live on this kernel, which has neither kprobes nor modules: their
// kprobe forms (tw:open_write, tw:kill) cannot come up, so they take the syscall forms
// (tw:openat_write at openat's return, tw:sys_kill at kill's entry) by BPF, with the watch's
// kernel-side filter given to the probe as parameters. Exact culprits (a child with its own
// comm), the backend said on stderr, the parameters proven to reach the kernel (the probe
// delivers nothing else), a bad parameter refused before anything is loaded, recordings that
// replay to the same result, and nothing left in the kernel after.
import { spawn } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { run } from './support/proc.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';
import { eventually, scratch, startTw, twInstances, twPrograms } from './support/tw-live.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[bpf-culprits.kernel] skipped: ${reason}`);
const COUNT_WATCH = join(REPO_ROOT, 'test/fixtures/openat-write-watch.mjs');
/**
 * The BPF programs of the probes these watches may bring up, loaded now and not in `before` (ids
 * of those loaded before: another tw on the machine may have its own).
 */
const ours = (before: ReadonlySet<number> = new Set()) => twPrograms().filter((p) => p.name.startsWith('tw_') && !before.has(p.id));
const ids = (ps: ReadonlyArray<{ id: number }>) => new Set(ps.map((p) => p.id));
/** none of these programs is loaded any more (they go with the tw process that loaded them) */
const gone = (progs: ReadonlySet<number>) => eventually(() => !twPrograms().some((p) => progs.has(p.id)));

const { workDir, keep } = scratch('tw-culprit-');

/** A copy of dash under `name`: a child whose comm is `name`, whose redirections and kill are its own syscalls. */
function shellNamed(dir: string, name: string): string {
  const p = join(dir, name);
  copyFileSync('/bin/dash', p);
  return p;
}

/** Run a child to its end; its pid and exit code. */
function runChild(cmd: string, args: string[]): Promise<{ pid: number; code: number | null }> {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    c.on('error', reject);
    c.on('close', (code) => resolve({ pid: c.pid!, code }));
  });
}

/** A process that waits to be signalled. */
function sleeper(): number {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  keep(() => c.kill('SIGKILL'));
  return c.pid!;
}

const settle = () => new Promise((r) => setTimeout(r, 300));

/**
 * The writer's opens, in order: three appends, a read-write and a truncating open of $1, each
 * with an open for writing of $2 after it; and three read-only opens of $1 (not writes).
 */
const WRITES = ': >> "$1"; : >> "$2"; : >> "$1"; : >> "$2"; : >> "$1"; : >> "$2"; : <> "$1"; : <> "$2"; : > "$1"; : > "$2"; : < "$1"; : < "$1"; : < "$1"';
const WRITE_FLAGS = ['O_WRONLY|O_CREAT|O_APPEND', 'O_WRONLY|O_CREAT|O_APPEND', 'O_WRONLY|O_CREAT|O_APPEND', 'O_RDWR|O_CREAT', 'O_WRONLY|O_CREAT|O_TRUNC'];

interface Modified {
  matchedBy: string;
  total: number;
  opens: Array<{ pid: number; tgid: number; comm: string; flags: string; path: string }>;
  byProcess: Array<{ tgid: number; comm: string; count: number }>;
  lost: number;
}

describe.skipIf(reason !== undefined)('culprit watches by BPF syscall probes, filtered by probe parameters', () => {
  it('who-modified: exactly the writes of the file, by the child that made them, via tw:openat_write by bpf; a recording replays to the same result; nothing left loaded', async () => {
    const before = ids(ours());
    const dir = workDir();
    const target = join(dir, 'target');
    const other = join(dir, 'other');
    writeFileSync(target, 'x');
    writeFileSync(other, 'x');
    const writer = shellNamed(dir, 'twwriter');
    const rec = join(dir, 'modified.dat');
    // several writes: a monitor (without --keep-going it would end at the first)
    const tw = await startTw(['watch', 'who-modified', target, '--json', '--keep-going', '--record', rec]);
    let child: { pid: number; code: number | null };
    let progs: Set<number>;
    try {
      expect(tw.line).toMatch(/\(tw:openat_write, .*; tw:openat_write via bpf \(prebuilt object\); tw:sys_write via bpf \(prebuilt object\)/);
      // openat_write's entry program (saves the arguments) and exit one, among the watch's others
      const loaded = ours(before);
      expect(loaded.map((p) => p.name)).toEqual(expect.arrayContaining(['tw_openat_write', 'tw_openat_write_enter', 'tw_sys_write']));
      progs = ids(loaded);
      child = await runChild(writer, ['-c', WRITES, 'twwriter', target, other]);
      expect(child.code).toBe(0);
      await settle();
    } finally {
      tw.kill('SIGINT');
    }
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(tw.line);
    const res = parseWatchJson<Modified>(r.stdout).result;
    expect(res.matchedBy).toBe('inode');
    expect(res.total).toBe(WRITE_FLAGS.length);
    expect(res.opens.map((o) => [o.pid, o.tgid, o.comm, o.flags, o.path])).toEqual(WRITE_FLAGS.map((f) => [child.pid, child.pid, 'twwriter', f, target]));
    expect(res.byProcess).toEqual([{ tgid: child.pid, comm: 'twwriter', count: WRITE_FLAGS.length }]);
    expect(res.lost).toBe(0);
    // the culprit, fully named though it had exited long before tw read its events: uid and
    // arguments as the probe captured them at the open, the program from its exec event
    const cmdline = [writer, '-c', WRITES, 'twwriter', target, other].join(' ');
    const { alerts } = parseWatchJson<Modified>(r.stdout);
    expect(alerts).toHaveLength(WRITE_FLAGS.length);
    for (const a of alerts) {
      expect(a.culprit).toMatchObject({ pid: child.pid, comm: 'twwriter', tgid: child.pid, ppid: process.pid, uid: 0, exe: writer, cmdline: cmdline.slice(0, 255) });
      expect(a.culprit?.parents?.[0]).toEqual({ pid: process.pid, comm: expect.any(String) });
    }
    expect(await gone(progs), 'its programs after').toBe(true);
    expect(twInstances(tw.pid)).toEqual([]);

    const replay = await run(process.execPath, [twCliPath(), 'watch', 'who-modified', target, '--input', rec, '--json', '--keep-going'], { check: false });
    expect(replay.code, replay.stderr).toBe(0);
    expect(parseWatchJson(replay.stdout)).toEqual(parseWatchJson(r.stdout));
  });

  it('the parameters reach the kernel: given the file, the probe delivers its opens and no other; without them, the other file\'s too', async () => {
    const dir = workDir();
    const target = join(dir, 'target');
    const other = join(dir, 'other');
    writeFileSync(target, 'x');
    writeFileSync(other, 'x');
    const writer = shellNamed(dir, 'twwriter');
    const count = async (params: 'file' | 'none') => {
      const tw = await startTw(['watch', COUNT_WATCH, target, params, '--json']);
      try {
        expect(tw.line).toMatch(/tw:openat_write via bpf \(prebuilt object\)$/);
        expect((await runChild(writer, ['-c', WRITES, 'twwriter', target, other])).code).toBe(0);
        await settle();
      } finally {
        tw.kill('SIGINT');
      }
      const r = await tw.done;
      expect(r.code, r.stderr).toBe(0);
      return parseWatchJson<{ events: number; notTheFile: number; byPath: Record<string, number>; lost: number }>(r.stdout).result;
    };
    // the handler counts every event the kernel sent it: with the parameters, the probe's own
    // filter dropped every open for writing of any other file on the machine
    const filtered = await count('file');
    expect(filtered).toEqual({ events: WRITE_FLAGS.length, notTheFile: 0, byPath: { [target]: WRITE_FLAGS.length }, lost: 0 });
    // the control: the same writes without the parameters reach the handler for both files
    const all = await count('none');
    expect([all.byPath[target], all.byPath[other]]).toEqual([WRITE_FLAGS.length, WRITE_FLAGS.length]);
    expect(all.notTheFile).toBeGreaterThanOrEqual(WRITE_FLAGS.length);
  });

  it('a parameter the probe does not have: PROBE_PARAM naming the watch, probe and parameter, before anything is loaded', async () => {
    const dir = workDir();
    const target = join(dir, 'target');
    writeFileSync(target, 'x');
    const before = ids(ours());
    const r = await run(process.execPath, [twCliPath(), 'watch', COUNT_WATCH, target, 'bad'], { check: false });
    expect(r.code).toBe(5);
    expect(r.stderr).toBe("tw: watch 'openat-write-count': probe 'openat_write' has no parameter 'watch_inode' (it has: watch_ino (ulong), watch_dev (uint))\n");
    const j = await run(process.execPath, [twCliPath(), 'watch', COUNT_WATCH, target, 'bad', '--json'], { check: false });
    expect(j.code).toBe(5);
    expect((JSON.parse(j.stdout) as { error: { code: string } }).error.code).toBe('PROBE_PARAM');
    expect(ours(before)).toEqual([]);
  });

  it('who-killed: the sender of a kill(2) via tw:sys_kill by bpf, the pid given to the probe; a recording replays to the same result', async () => {
    const dir = workDir();
    const victim = sleeper();
    const bystander = sleeper();
    const killer = shellNamed(dir, 'twkiller');
    const rec = join(dir, 'killed.dat');
    const before = ids(ours());
    const tw = await startTw(['watch', 'who-killed', String(victim), '--json', '--record', rec]);
    let sender: { pid: number; code: number | null };
    let progs: Set<number>;
    try {
      expect(tw.line).toMatch(/tw:sys_kill.*; tw:sys_kill via bpf \(prebuilt object\)$/);
      const loaded = ours(before);
      expect(loaded.map((p) => p.name)).toEqual(['tw_sys_kill']);
      progs = ids(loaded);
      // dash's kill is a builtin: kill(2) from the shell itself
      sender = await runChild(killer, ['-c', 'kill -USR1 "$2"; kill -TERM "$1"', 'twkiller', String(victim), String(bystander)]);
      expect(sender.code).toBe(0);
      await settle();
    } finally {
      tw.kill('SIGINT');
    }
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const res = parseWatchJson<{ pid: number; signals: Array<Record<string, unknown>>; lost: number }>(r.stdout).result;
    expect(res.pid).toBe(victim);
    // exactly one signal from the child (its delivery, signal_generate, is the same kill: not counted twice)
    expect(res.signals.filter((s) => s.tgid === sender.pid)).toEqual([
      {
        ts: expect.any(String), pid: sender.pid, tgid: sender.pid, comm: 'twkiller', sig: 15, signal: 'SIGTERM', via: 'kill', code: 0,
        scope: 'process', target: victim, to: victim, toComm: 'sleep', result: 'delivered', fatal: true,
      },
    ]);
    expect(res.lost).toBe(0);
    expect(await gone(progs), 'its program after').toBe(true);
    expect(twInstances(tw.pid)).toEqual([]);

    const replay = await run(process.execPath, [twCliPath(), 'watch', 'who-killed', String(victim), '--input', rec, '--json'], { check: false });
    expect(replay.code, replay.stderr).toBe(0);
    expect(parseWatchJson(replay.stdout)).toEqual(parseWatchJson(r.stdout));
  });

  it('tw doctor counts them as running live here', async () => {
    const r = await run(process.execPath, [twCliPath(), 'doctor', '--json'], { check: false });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { watches: Array<{ watch: string; verdict: string }> };
    expect(d.watches.filter((w) => w.watch === 'who-modified' || w.watch === 'who-killed')).toEqual([
      { watch: 'who-killed', verdict: 'runs live' },
      { watch: 'who-modified', verdict: 'runs live' },
    ]);
  });
});
