// who-deleted live, through the syscall-exit probes brought up by BPF (this kernel has neither
// kprobes nor modules): every way a path goes away (rm, a relative name from another cwd, unlinkat
// through a directory fd, rmdir, mv away, mv over it), every spelling resolved (a symlinked
// directory, in the watched path and in the name given), globs, the culprit named even when it
// lived milliseconds; nothing for other files or for an rm that failed. The watch ends by itself
// within a second of its first culprit; --keep-going catches a whole sequence. Nothing is left in
// the kernel after (no tw_* BPF program of the run, no tracefs instance of its pid).
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { skipReason } from './support/tracefs.js';
import { eventually, scratch, startTw, twInstances, twPrograms, type RunningTw } from './support/tw-live.js';
import { REPO_ROOT } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[who-deleted.kernel] skipped: ${reason}`);

const { workDir } = scratch('tw-deleted-');

interface Deletion {
  pid: number;
  tgid: number;
  comm: string;
  ppid: number | null;
  uid: number | null;
  syscall: string;
  kind: string;
  what: string;
  pathname: string;
  path: string | null;
}

interface Result {
  pattern: string | null;
  total: number;
  deletions: Deletion[];
  lost: number;
  answered: boolean;
}

/** Run a command to its end (in `cwd`); its pid and exit code. */
function runIn(cwd: string, cmd: string, args: string[]): Promise<{ pid: number; code: number | null }> {
  const c = spawn(cmd, args, { cwd, stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    c.on('error', reject);
    c.on('close', (code) => resolve({ pid: c.pid!, code }));
  });
}

const settle = (ms = 200) => new Promise((r) => setTimeout(r, ms));

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

const programIds = () => new Set(twPrograms().map((p) => p.id));

/** The programs this run loaded (another tw on the machine may have its own). */
const newPrograms = (before: ReadonlySet<number>) => new Set(twPrograms().filter((p) => !before.has(p.id)).map((p) => p.id));

/** After tw ended: none of its programs is loaded, and no tracefs instance of its pid is left. */
async function nothingLeft(tw: RunningTw, progs: ReadonlySet<number>): Promise<void> {
  expect(progs.size, 'the run loaded its probes by BPF').toBeGreaterThan(0);
  expect(await eventually(() => !twPrograms().some((p) => progs.has(p.id))), 'its programs after').toBe(true);
  expect(twInstances(tw.pid)).toEqual([]);
}

/** Start who-deleted on `pattern`; the programs it loaded. */
async function watch(pattern: string, extra: string[] = []): Promise<{ tw: RunningTw; progs: Set<number> }> {
  const before = programIds();
  const tw = await startTw(['watch', 'who-deleted', pattern, '--json', ...extra]);
  return { tw, progs: newPrograms(before) };
}

describe.skipIf(reason !== undefined)('who-deleted catches every deletion, live by BPF', () => {
  it('ends by itself within a second of its first culprit, a short-lived rm named rm; other files and a failed rm are not deletions of it', async () => {
    const dir = workDir();
    for (const f of ['victim', 'other']) writeFileSync(join(dir, f), 'x');
    const { tw, progs } = await watch(join(dir, 'victim'));
    let ended: Awaited<ReturnType<typeof endWithin>>;
    let culprit: { pid: number; code: number | null };
    try {
      // the syscall-exit forms, by BPF (the kprobe form cannot come up here)
      expect(tw.line).toMatch(/tw:sys_unlinkat via bpf/);
      expect(tw.line).toMatch(/tw:sys_renameat2 via bpf/);
      expect((await runIn(dir, 'rm', [join(dir, 'victim.missing')])).code).not.toBe(0);
      expect((await runIn(dir, 'rm', ['other'])).code).toBe(0);
      // fails: a directory of that name does not exist (the watched file is not touched)
      expect((await runIn(dir, 'rmdir', ['victim/'])).code).not.toBe(0);
      await settle();
      expect(await endWithin(tw, 300), 'still running: nothing of the watched file happened yet').toBe('running');
      // a relative name, from a shell that becomes rm: the culprit is that process, named rm
      culprit = await runIn(dir, 'sh', ['-c', 'exec rm victim']);
      expect(culprit.code).toBe(0);
      ended = await endWithin(tw, 1000);
    } finally {
      tw.kill('SIGINT'); // only reaches a tw that did not end by itself
    }
    expect(ended, 'tw ended by itself within 1 s of the rm').not.toBe('running');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const { alerts, result } = parseWatchJson<Result>(r.stdout);
    expect(result.deletions).toEqual([
      expect.objectContaining({ pid: culprit.pid, tgid: culprit.pid, comm: 'rm', uid: 0, ppid: process.pid, syscall: 'unlinkat', kind: 'unlink', what: 'unlink', pathname: 'victim', path: join(dir, 'victim') }),
    ]);
    expect(result).toMatchObject({ pattern: join(dir, 'victim'), total: 1, answered: true, lost: 0 });
    expect(alerts.map((a) => [a.message, a.culprit?.comm])).toEqual([[`rm[${culprit.pid}] deleted ${join(dir, 'victim')}`, 'rm']]);
    // its arguments as the probe read them at the call (the process was gone before tw got the event)
    expect(alerts[0]?.culprit).toMatchObject({ uid: 0, cmdline: 'rm victim' });
    await nothingLeft(tw, progs);
  });

  it('--keep-going catches every way a path under a watched directory goes, whatever the spelling, and nothing else', async () => {
    const dir = workDir();
    const outside = workDir();
    const link = join(outside, 'link');
    symlinkSync(dir, link);
    mkdirSync(join(dir, 'sub'));
    mkdirSync(join(dir, 'gone'));
    for (const f of ['a', 'b', 'c', 'e', 'g', 'h', 'sub/keep']) writeFileSync(join(dir, f), 'x');
    for (const f of ['f', 'unwatched']) writeFileSync(join(outside, f), 'x');
    // watched through the symlink: the directory it points to is what is watched
    const { tw, progs } = await watch(`${link}/`, ['--keep-going']);
    const pids: number[] = [];
    const step = async (cwd: string, cmd: string, args: string[], ok = true) => {
      const c = await runIn(cwd, cmd, args);
      expect(c.code === 0, `${cmd} ${args.join(' ')} in ${cwd}: exit ${c.code}`).toBe(ok);
      if (ok) pids.push(c.pid);
      await settle(100);
    };
    let r: Awaited<RunningTw['done']>;
    try {
      await step('/', 'rm', [join(dir, 'a')]); // absolute
      await step(join(dir, 'sub'), 'rm', ['../b']); // relative, from another cwd
      // unlinkat through a directory fd
      await step('/', 'python3', ['-c', 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY); os.unlink("c", dir_fd=fd)', dir]);
      await step('/', 'rmdir', [join(dir, 'gone')]);
      await step('/', 'mv', [join(dir, 'e'), join(outside, 'e')]); // away
      await step('/', 'mv', [join(outside, 'f'), join(dir, 'g')]); // over
      await step(outside, 'rm', ['link/h']); // the symlink in the name given
      // not deletions of the watched directory: another file, and an rm that failed
      await step('/', 'rm', [join(outside, 'unwatched')]);
      await step('/', 'rm', [join(dir, 'missing')], false);
      await settle(300);
    } finally {
      expect(await endWithin(tw, 300), 'a monitor still runs after its culprits').toBe('running');
      tw.kill('SIGINT');
      r = await tw.done;
    }
    expect(r.code, r.stderr).toBe(0);
    const { alerts, result } = parseWatchJson<Result>(r.stdout);
    expect(result.deletions.map((d) => [d.comm, d.syscall, d.kind, d.pathname, d.path])).toEqual([
      ['rm', 'unlinkat', 'unlink', join(dir, 'a'), join(dir, 'a')],
      ['rm', 'unlinkat', 'unlink', '../b', join(dir, 'b')],
      ['python3', 'unlinkat', 'unlink', 'c', join(dir, 'c')],
      ['rmdir', 'rmdir', 'rmdir', join(dir, 'gone'), join(dir, 'gone')],
      ['mv', expect.stringMatching(/^rename/), 'rename-away', join(dir, 'e'), join(dir, 'e')],
      ['mv', expect.stringMatching(/^rename/), 'rename-over', join(dir, 'g'), join(dir, 'g')],
      ['rm', 'unlinkat', 'unlink', 'link/h', join(dir, 'h')],
    ]);
    expect(result.deletions.map((d) => d.tgid)).toEqual(pids.slice(0, 7));
    expect(alerts.map((a) => a.message)).toEqual([
      `rm[${pids[0]}] deleted ${join(dir, 'a')}`,
      `rm[${pids[1]}] deleted ${join(dir, 'b')}`,
      `python3[${pids[2]}] deleted ${join(dir, 'c')}`,
      `rmdir[${pids[3]}] deleted ${join(dir, 'gone')}`,
      `mv[${pids[4]}] renamed ${join(dir, 'e')} away to ${join(outside, 'e')}`,
      `mv[${pids[5]}] replaced ${join(dir, 'g')} by rename from ${join(outside, 'f')}`,
      `rm[${pids[6]}] deleted ${join(dir, 'h')}`,
    ]);
    expect(result).toMatchObject({ total: 7, answered: false, lost: 0 });
    await nothingLeft(tw, progs);
  });

  it('a glob, relative to tw\'s cwd, catches only what it matches (*.log in that directory, not below it, not other names)', async () => {
    const dir = workDir();
    mkdirSync(join(dir, 'sub'));
    for (const f of ['a.log', 'b.txt', 'sub/c.log', 'd.log', 'e.log']) writeFileSync(join(dir, f), 'x');
    // tw runs in the repository: the glob is relative to that
    const { tw, progs } = await watch(`${relative(REPO_ROOT, dir)}/*.log`, ['--keep-going']);
    let r: Awaited<RunningTw['done']>;
    try {
      for (const f of ['a.log', 'b.txt', 'sub/c.log']) {
        expect((await runIn(dir, 'rm', [f])).code).toBe(0);
        await settle(100);
      }
      expect((await runIn(dir, 'mv', ['d.log', 'sub/d.txt'])).code).toBe(0);
      expect((await runIn(dir, 'mv', ['b.txt.missing', 'e.log'])).code).not.toBe(0); // failed: nothing replaced
      await settle(300);
    } finally {
      tw.kill('SIGINT');
      r = await tw.done;
    }
    expect(r.code, r.stderr).toBe(0);
    const { result } = parseWatchJson<Result>(r.stdout);
    expect(result.deletions.map((d) => [d.comm, d.kind, d.path])).toEqual([
      ['rm', 'unlink', join(dir, 'a.log')],
      ['mv', 'rename-away', join(dir, 'd.log')],
    ]);
    await nothingLeft(tw, progs);
  });
});
