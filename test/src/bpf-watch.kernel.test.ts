// tw watch with a probe brought up by the BPF backend, on the real kernel (which has neither
// kprobes nor modules: BPF is the only way the probe exists here). The shipped spec `unlinkat`
// (syscall entry: pathname from user memory) through a fixture watch: exact paths and the culprit
// named, nothing lost; the 'tw: tracing' line says which backend; a recording replays to the same
// result; and nothing is left in the kernel after a normal end or a kill -9 of tw.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { run } from './support/proc.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[bpf-watch.kernel] skipped: ${reason}`);
const WATCH = join(REPO_ROOT, 'test/fixtures/unlinkat-watch.mjs');
const T = '/sys/kernel/tracing';

/** ids of the generated BPF programs of the unlink probes (tw_unlinkat, tw_unlink) now loaded */
function loadedPrograms(): number[] {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as Array<{ id: number; name?: string }>;
  return list.filter((p) => p.name === 'tw_unlinkat' || p.name === 'tw_unlink').map((p) => p.id);
}

function links(): number[] {
  const r = spawnSync('bpftool', ['link', 'list', '-j'], { encoding: 'utf8' });
  const progs = new Set(loadedPrograms());
  const list = JSON.parse(r.stdout || '[]') as Array<{ id: number; prog_id?: number }>;
  return list.filter((l) => l.prog_id !== undefined && progs.has(l.prog_id)).map((l) => l.id);
}

function twInstances(pid: number): string[] {
  return spawnSync('ls', [`${T}/instances`], { encoding: 'utf8' }).stdout.split('\n').filter((n) => n.startsWith(`tw-${pid}-`));
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** the tw processes a test started: a test that fails half-way must not leave one tracing for the next */
const started: ChildProcess[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    // SIGINT: tw ends as on Ctrl-C and removes its instance; SIGKILL if it has not after 5 s
    const gone = new Promise((r) => p.once('close', r));
    p.kill('SIGINT');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
});

function workDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tw-bpfw-'));
  dirs.push(d);
  return d;
}

interface Tw {
  pid: number;
  kill: (sig: NodeJS.Signals) => void;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Start `tw watch` on the fixture for `dir` (or another watch); resolves once tw says it is tracing (with that line). */
async function startWatch(dir: string, extra: string[] = [], watch = WATCH): Promise<{ tw: Tw; line: string }> {
  const p = spawn(process.execPath, [twCliPath(), 'watch', watch, `${dir}/`, '--json', ...extra], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(p);
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const line = new Promise<string>((resolve, reject) => {
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /^tw: tracing .*$/m.exec(stderr);
      if (m) resolve(m[0]);
    });
    p.on('close', () => reject(new Error(`tw ended before tracing: ${stderr}`)));
    setTimeout(() => reject(new Error(`tw did not say it was tracing within 30 s: ${stderr}`)), 30_000);
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
  const tw: Tw = { pid: p.pid!, kill: (sig) => p.kill(sig), done };
  return { tw, line: await line };
}

describe.skipIf(reason !== undefined)('tw watch with a BPF probe', () => {
  it('catches exactly the unlinks made, names the culprit, says it uses bpf, and leaves nothing loaded', async () => {
    expect(loadedPrograms(), 'no tw_unlinkat program before').toEqual([]);
    const dir = workDir();
    for (const f of ['a', 'b', 'c']) writeFileSync(join(dir, f), 'x');
    mkdirSync(join(dir, 'sub'));
    const { tw, line } = await startWatch(dir);
    expect(line).toMatch(/tw:unlinkat via bpf/);
    expect(loadedPrograms()).toHaveLength(1);
    await run('rm', [join(dir, 'a'), join(dir, 'b'), join(dir, 'c')]);
    // rm -d: unlinkat(AT_REMOVEDIR) (rmdir(1) makes the rmdir syscall, which this probe does not see)
    await run('rm', ['-d', join(dir, 'sub')]);
    await new Promise((r) => setTimeout(r, 300));
    tw.kill('SIGINT');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const res = parseWatchJson<{ paths: string[]; comms: string[]; lost: number }>(r.stdout).result;
    expect(res.paths).toEqual([join(dir, 'a'), join(dir, 'b'), join(dir, 'c'), join(dir, 'sub')]);
    expect(res.comms).toEqual(['rm', 'rm', 'rm', 'rm']);
    expect(res.lost).toBe(0);
    expect(loadedPrograms(), 'no tw_unlinkat program after').toEqual([]);
    expect(twInstances(tw.pid)).toEqual([]);
  });

  it('a recording of the run replays to the same result', async () => {
    const dir = workDir();
    for (const f of ['x', 'y']) writeFileSync(join(dir, f), 'x');
    const file = join(dir, 'run.dat');
    const { tw } = await startWatch(dir, ['--record', file]);
    await run('rm', [join(dir, 'x'), join(dir, 'y')]);
    await new Promise((r) => setTimeout(r, 300));
    tw.kill('SIGINT');
    const live = await tw.done;
    expect(live.code, live.stderr).toBe(0);
    const replay = await run(process.execPath, [twCliPath(), 'watch', WATCH, `${dir}/`, '--input', file, '--json'], { check: false });
    expect(replay.code, replay.stderr).toBe(0);
    expect(parseWatchJson(replay.stdout)).toEqual(parseWatchJson(live.stdout));
    expect(parseWatchJson<{ paths: string[] }>(live.stdout).result.paths).toEqual([join(dir, 'x'), join(dir, 'y')]);
  });

  it('after kill -9 of tw, no BPF program or link of its probe is left (they go with the process)', async () => {
    const dir = workDir();
    const { tw } = await startWatch(dir);
    expect(loadedPrograms()).toHaveLength(1);
    expect(links()).toHaveLength(1);
    tw.kill('SIGKILL');
    await tw.done;
    const t0 = Date.now();
    while ((loadedPrograms().length > 0 || links().length > 0) && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 50));
    expect(loadedPrograms(), 'programs after kill -9').toEqual([]);
    expect(links(), 'links after kill -9').toEqual([]);
    // its tracefs instance is the next run's to remove, as before
    const next = await run(process.execPath, [twCliPath(), 'watch', 'syscalls', '--duration', '200ms', '--quiet'], { check: false });
    expect(next.code, next.stderr).toBe(0);
    expect(twInstances(tw.pid)).toEqual([]);
  });

  it('who-deleted runs live here: tw:unlink cannot be brought up, so it takes tw:unlinkat by BPF (files only)', async () => {
    const dir = workDir();
    for (const f of ['p', 'q']) writeFileSync(join(dir, f), 'x');
    mkdirSync(join(dir, 'd'));
    const { tw, line } = await startWatch(dir, [], 'who-deleted');
    expect(line).toMatch(/\(tw:unlinkat\).*tw:unlinkat via bpf/);
    await run('rm', [join(dir, 'p'), join(dir, 'q')]);
    await run('rm', ['-d', join(dir, 'd')]);
    await new Promise((r) => setTimeout(r, 300));
    tw.kill('SIGINT');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const { alerts, result: res } = parseWatchJson<{ total: number; deletions: Array<{ comm: string; pathname: string }>; lost: number }>(r.stdout);
    // the directory removal (unlinkat AT_REMOVEDIR) is not a file deletion
    expect(res.deletions.map((d) => [d.comm, d.pathname])).toEqual([['rm', join(dir, 'p')], ['rm', join(dir, 'q')]]);
    // an alert per deletion, streamed before the result, naming the rm as its culprit, dated
    expect(alerts.map((a) => [a.culprit?.comm, a.message.endsWith(` deleted ${join(dir, a === alerts[0] ? 'p' : 'q')}`)])).toEqual([['rm', true], ['rm', true]]);
    expect(alerts.every((a) => a.time !== null && Math.abs(Date.parse(a.time) - Date.now()) < 60_000)).toBe(true);
    expect(res.lost).toBe(0);
    expect(loadedPrograms()).toEqual([]);
  });

  it('tw doctor counts a probe BPF can bring up here: who-deleted runs live (tw:unlinkat)', async () => {
    const r = await run(process.execPath, [twCliPath(), 'doctor', '--json'], { check: false });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { checks: Array<{ name: string; ok: boolean }>; watches: Array<{ watch: string; verdict: string }> };
    expect(d.checks.find((c) => c.name === 'BPF loader')?.ok).toBe(true);
    expect(d.watches.find((w) => w.watch === 'who-deleted')?.verdict).toBe('runs live');
  });

  it('tw dump -e tw:unlinkat brings the probe up itself (BPF here), streams its events, and takes it down', async () => {
    const dir = workDir();
    for (const f of ['m', 'n']) writeFileSync(join(dir, f), 'x');
    const p = spawn(process.execPath, [twCliPath(), 'dump', '-e', 'tw:unlinkat', '--duration', '60s'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const done = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      p.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/^tw: tracing .*tw:unlinkat via bpf/m.test(stderr)) resolve();
      });
      setTimeout(() => reject(new Error(`tw dump did not say it was tracing: ${stderr}`)), 30_000);
    });
    await run('rm', [join(dir, 'm'), join(dir, 'n')]);
    await new Promise((r) => setTimeout(r, 300));
    p.kill('SIGINT');
    expect(await done, stderr).toBe(0);
    const mine = stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; comm: string; fields: { pathname: string } }).filter((e) => e.fields.pathname.startsWith(dir));
    expect(mine.map((e) => [e.event, e.comm, e.fields.pathname])).toEqual([['tw:unlinkat', 'rm', join(dir, 'm')], ['tw:unlinkat', 'rm', join(dir, 'n')]]);
    expect(loadedPrograms()).toEqual([]);
  });
});
