// tw watch with a probe brought up by the BPF backend, on the real kernel (which has neither
// kprobes nor modules: BPF is the only way the probe exists here). The shipped spec `unlinkat`
// (syscall entry: pathname from user memory) through a fixture watch: exact paths and the culprit
// named, nothing lost; the 'tw: tracing' line says which backend; a recording replays to the same
// result; and nothing is left in the kernel after a normal end or a kill -9 of tw.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { run } from './support/proc.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { eventually, startTw, twInstances, twPrograms, type RunningTw } from './support/tw-live.js';
import { parseWatchJson } from './support/watch-json.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[bpf-watch.kernel] skipped: ${reason}`);
const WATCH = join(REPO_ROOT, 'test/fixtures/unlinkat-watch.mjs');

/**
 * ids of the generated BPF programs of the unlink probes (tw_unlinkat, tw_unlink) now loaded,
 * leaving out `before` (another tw on the machine may have its own: a test counts what its run
 * loaded)
 */
function loadedPrograms(before: ReadonlySet<number> = new Set()): number[] {
  return twPrograms()
    .filter((p) => (p.name === 'tw_unlinkat' || p.name === 'tw_unlink') && !before.has(p.id))
    .map((p) => p.id);
}

/** ids of the BPF links of these programs */
function links(progs: readonly number[]): number[] {
  const r = spawnSync('bpftool', ['link', 'list', '-j'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as Array<{ id: number; prog_id?: number }>;
  return list.filter((l) => l.prog_id !== undefined && progs.includes(l.prog_id)).map((l) => l.id);
}

/** none of these programs is loaded any more (they go with the process) */
const gone = (progs: readonly number[]) => eventually(() => !twPrograms().some((p) => progs.includes(p.id)));

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tw-bpfw-'));
  dirs.push(d);
  return d;
}

/** Start `tw watch` on the fixture for `dir` (or another watch); resolves once tw says it is tracing (with that line). */
async function startWatch(dir: string, extra: string[] = [], watch = WATCH): Promise<{ tw: RunningTw; line: string }> {
  const tw = await startTw(['watch', watch, `${dir}/`, '--json', ...extra]);
  return { tw, line: tw.line };
}

describe.skipIf(reason !== undefined)('tw watch with a BPF probe', () => {
  it('catches exactly the unlinks made, names the culprit, says it uses bpf, and leaves nothing loaded', async () => {
    const before = new Set(loadedPrograms());
    const dir = workDir();
    for (const f of ['a', 'b', 'c']) writeFileSync(join(dir, f), 'x');
    mkdirSync(join(dir, 'sub'));
    const { tw, line } = await startWatch(dir);
    let mine: number[];
    try {
      expect(line).toMatch(/tw:unlinkat via bpf/);
      mine = loadedPrograms(before);
      expect(mine).toHaveLength(1);
      await run('rm', [join(dir, 'a'), join(dir, 'b'), join(dir, 'c')]);
      // rm -d: unlinkat(AT_REMOVEDIR) (rmdir(1) makes the rmdir syscall, which this probe does not see)
      await run('rm', ['-d', join(dir, 'sub')]);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      tw.kill('SIGINT');
    }
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const res = parseWatchJson<{ paths: string[]; comms: string[]; lost: number }>(r.stdout).result;
    expect(res.paths).toEqual([join(dir, 'a'), join(dir, 'b'), join(dir, 'c'), join(dir, 'sub')]);
    expect(res.comms).toEqual(['rm', 'rm', 'rm', 'rm']);
    expect(res.lost).toBe(0);
    expect(await gone(mine), 'its tw_unlinkat program after').toBe(true);
    expect(twInstances(tw.pid)).toEqual([]);
  });

  it('a recording of the run replays to the same result', async () => {
    const dir = workDir();
    for (const f of ['x', 'y']) writeFileSync(join(dir, f), 'x');
    const file = join(dir, 'run.dat');
    const { tw } = await startWatch(dir, ['--record', file]);
    try {
      await run('rm', [join(dir, 'x'), join(dir, 'y')]);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      tw.kill('SIGINT');
    }
    const live = await tw.done;
    expect(live.code, live.stderr).toBe(0);
    const replay = await run(process.execPath, [twCliPath(), 'watch', WATCH, `${dir}/`, '--input', file, '--json'], { check: false });
    expect(replay.code, replay.stderr).toBe(0);
    expect(parseWatchJson(replay.stdout)).toEqual(parseWatchJson(live.stdout));
    expect(parseWatchJson<{ paths: string[] }>(live.stdout).result.paths).toEqual([join(dir, 'x'), join(dir, 'y')]);
  });

  it('after kill -9 of tw, no BPF program or link of its probe is left (they go with the process)', async () => {
    const dir = workDir();
    const before = new Set(loadedPrograms());
    const { tw } = await startWatch(dir);
    let mine: number[];
    try {
      mine = loadedPrograms(before);
      expect(mine).toHaveLength(1);
      expect(links(mine)).toHaveLength(1);
    } finally {
      tw.kill('SIGKILL');
    }
    await tw.done;
    await eventually(() => !twPrograms().some((p) => mine.includes(p.id)) && links(mine).length === 0);
    expect(twPrograms().filter((p) => mine.includes(p.id)), 'programs after kill -9').toEqual([]);
    expect(links(mine), 'links after kill -9').toEqual([]);
    // its tracefs instance is the next run's to remove, as before
    const next = await run(process.execPath, [twCliPath(), 'watch', 'syscalls', '--duration', '200ms', '--quiet'], { check: false });
    expect(next.code, next.stderr).toBe(0);
    expect(twInstances(tw.pid)).toEqual([]);
  });

  it('who-deleted runs live here: tw:unlink cannot be brought up, so it takes the syscall exits by BPF (files and directories)', async () => {
    const dir = workDir();
    for (const f of ['p', 'q']) writeFileSync(join(dir, f), 'x');
    mkdirSync(join(dir, 'd'));
    const before = new Set(twPrograms().map((p) => p.id));
    // three deletions: a monitor (without --keep-going it would end at the first)
    const { tw, line } = await startWatch(dir, ['--keep-going'], 'who-deleted');
    let mine: number[];
    try {
      expect(line).toMatch(/\(tw:sys_unlinkat, .*tw:sys_unlinkat via bpf/);
      expect(line).not.toMatch(/tw:unlinkat via/); // covered by tw:sys_unlinkat: not brought up
      mine = twPrograms().filter((p) => !before.has(p.id)).map((p) => p.id);
      await run('rm', [join(dir, 'p'), join(dir, 'q')]);
      await run('rm', ['-d', join(dir, 'd')]);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      tw.kill('SIGINT');
    }
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const { alerts, result: res } = parseWatchJson<{ total: number; deletions: Array<{ comm: string; pathname: string; kind: string }>; lost: number }>(r.stdout);
    // the directory removal (unlinkat AT_REMOVEDIR) is a deletion too: an rmdir
    expect(res.deletions.map((d) => [d.comm, d.kind, d.pathname])).toEqual([['rm', 'unlink', join(dir, 'p')], ['rm', 'unlink', join(dir, 'q')], ['rm', 'rmdir', join(dir, 'd')]]);
    // an alert per deletion, streamed before the result, naming the rm as its culprit, dated
    expect(alerts.map((a) => [a.culprit?.comm, a.message])).toEqual(['p', 'q', 'd'].map((f) => ['rm', expect.stringMatching(new RegExp(`^rm\\[\\d+\\] deleted ${join(dir, f)}$`))]));
    expect(alerts.every((a) => a.time !== null && Math.abs(Date.parse(a.time) - Date.now()) < 60_000)).toBe(true);
    expect(res.lost).toBe(0);
    expect(await gone(mine)).toBe(true);
  });

  it('tw doctor counts a probe BPF can bring up here: who-deleted runs live (its syscall exits)', async () => {
    const r = await run(process.execPath, [twCliPath(), 'doctor', '--json'], { check: false });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { checks: Array<{ name: string; ok: boolean }>; watches: Array<{ watch: string; verdict: string }> };
    expect(d.checks.find((c) => c.name === 'BPF loader')?.ok).toBe(true);
    expect(d.watches.find((w) => w.watch === 'who-deleted')?.verdict).toBe('runs live');
  });

  it('tw dump -e tw:unlinkat brings the probe up itself (BPF here), streams its events, and takes it down', async () => {
    const dir = workDir();
    for (const f of ['m', 'n']) writeFileSync(join(dir, f), 'x');
    const before = new Set(loadedPrograms());
    const p = spawn(process.execPath, [twCliPath(), 'dump', '-e', 'tw:unlinkat', '--duration', '60s'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const done = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
    let progs: number[];
    try {
      await new Promise<void>((resolve, reject) => {
        p.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/^tw: tracing .*tw:unlinkat via bpf/m.test(stderr)) resolve();
        });
        setTimeout(() => reject(new Error(`tw dump did not say it was tracing: ${stderr}`)), 30_000);
      });
      progs = loadedPrograms(before);
      expect(progs).toHaveLength(1);
      await run('rm', [join(dir, 'm'), join(dir, 'n')]);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      p.kill('SIGINT');
    }
    expect(await done, stderr).toBe(0);
    const mine = stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; comm: string; fields: { pathname: string } }).filter((e) => e.fields.pathname.startsWith(dir));
    expect(mine.map((e) => [e.event, e.comm, e.fields.pathname])).toEqual([['tw:unlinkat', 'rm', join(dir, 'm')], ['tw:unlinkat', 'rm', join(dir, 'n')]]);
    expect(await gone(progs)).toBe(true);
  });
});
