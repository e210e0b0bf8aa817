// who-modified on the live kernel through BPF: every kind of change of the watched file, each by
// the process that made it (all short-lived but the one holding a descriptor), in one --keep-going
// session — a write through a descriptor opened before tw started, truncate(2) by a relative
// name from another cwd, an open and write through a directory fd, a write through a hard link,
// an editor-style save (sed -i: a new file renamed over the path), a change of the new file after
// that replacement, a deletion and the creation of the path again. Reads of the file and writes to
// another file give nothing. Nothing is left loaded after.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { skipReason, which } from './support/tracefs.js';
import { twCliPath } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';
import { eventually, scratch, startTw, twInstances, twPrograms } from './support/tw-live.js';

const reason = skipReason() ?? bpfSkipReason() ?? (which('python3') ? undefined : 'no python3 (truncate(2) and openat with a directory fd)');
if (reason) console.warn(`[who-modified.kernel] skipped: ${reason}`);

const { workDir, keep } = scratch('tw-modified-');

interface Change {
  tgid: number;
  comm: string;
  what: string;
  detail: string;
  via: string;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run a shell command line to its end (cwd given); its pid. */
function sh(cwd: string, script: string): number {
  const r = spawnSync('/bin/sh', ['-c', script], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sh -c '${script}': exit ${r.status}: ${r.stderr}`);
  return r.pid!;
}

function py(cwd: string, code: string): number {
  const r = spawnSync('python3', ['-c', code], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3: ${r.stderr}`);
  return r.pid!;
}

describe.skipIf(reason !== undefined)('who-modified: every kind of change, live by BPF', () => {
  it('catches writes through any fd, truncation, a replacement and the new file after it, deletion and creation; nothing for reads or other files', { timeout: 60_000 }, async () => {
    const dir = workDir();
    const d = join(dir, 'd');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(d);
    mkdirSync(elsewhere);
    const file = join(d, 'passwd');
    writeFileSync(file, 'a\n');
    writeFileSync(join(d, 'other'), '');

    // holds the file open for appending from before tw starts, writes when told
    const holder = spawn('/bin/sh', ['-c', 'exec 3>>"$1"; read x; echo held >&3', 'sh', file], { stdio: ['pipe', 'ignore', 'ignore'] });
    keep(() => holder.kill('SIGKILL'));
    await pause(100);

    const before = new Set(twPrograms().map((p) => p.id));
    const rec = join(dir, 'modified.dat');
    const tw = await startTw(['watch', 'who-modified', file, '--json', '--keep-going', '--record', rec]);
    const pids: Record<string, number> = {};
    try {
      expect(tw.line).toMatch(/tw:sys_write via bpf/);
      holder.stdin.end('go\n');
      await new Promise((r) => holder.on('close', r));
      pids.holder = holder.pid!;
      // nothing: a read, another file
      sh(d, 'cat passwd >/dev/null; echo x >> other');
      pids.truncate = py(elsewhere, 'import os; os.truncate("../d/passwd", 1)');
      pids.dirfd = py('/', `import os; d = os.open(${JSON.stringify(d)}, os.O_RDONLY); f = os.open("passwd", os.O_WRONLY | os.O_APPEND, dir_fd=d); os.write(f, b"x")`);
      pids.link = sh(d, 'ln passwd link && echo y >> link');
      pids.sed = sh(d, 'exec sed -i s/y/z/ passwd');
      // tw learns of the replacement when it handles the rename (up to --latency later), and only
      // then tells the probes the new inode: a change right after the save would not be seen yet
      await pause(400);
      pids.after = sh(d, 'echo w >> passwd');
      pids.rm = sh(d, 'exec rm passwd');
      await pause(400);
      pids.create = sh(d, 'echo new > passwd');
      await pause(400);
    } finally {
      tw.kill('SIGINT');
    }
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const { result, alerts } = parseWatchJson<{ changes: Change[]; lost: number }>(r.stdout);
    expect(result.lost).toBe(0);
    const got = result.changes.map((c) => [c.what, c.comm, c.tgid, c.via]);
    expect(got).toEqual([
      ['write', 'sh', pids.holder, 'tw:sys_write'],
      ['truncate', 'python3', pids.truncate, 'tw:sys_truncate'],
      ['open', 'python3', pids.dirfd, 'tw:openat_write'],
      ['write', 'python3', pids.dirfd, 'tw:sys_write'],
      ['open', 'sh', pids.link, 'tw:openat_write'],
      ['write', 'sh', pids.link, 'tw:sys_write'],
      ['replaced', 'sed', pids.sed, expect.stringMatching(/^tw:sys_rename/)],
      ['open', 'sh', pids.after, 'tw:openat_write'],
      ['write', 'sh', pids.after, 'tw:sys_write'],
      ['deleted', 'rm', pids.rm, 'tw:sys_unlinkat'],
      ['created', 'sh', pids.create, 'tw:openat_write'],
    ]);
    expect(result.changes[6]!.detail).toMatch(new RegExp(`^by rename from ${d}/`));
    // the culprits fully named from what the probes captured
    expect(alerts[1]?.culprit).toMatchObject({ pid: pids.truncate, comm: 'python3', uid: 0, cmdline: expect.stringContaining('os.truncate') });
    expect(alerts[6]?.culprit).toMatchObject({ pid: pids.sed, comm: 'sed', cmdline: 'sed -i s/y/z/ passwd' });
    expect(await eventually(() => !twPrograms().some((p) => !before.has(p.id))), 'its programs after').toBe(true);
    expect(twInstances(tw.pid)).toEqual([]);

    // offline: the recording of that run gives the same changes, by the same culprits (after the
    // replacement the new file is known by its path until its first open names its inode)
    const replay = spawnSync(process.execPath, [twCliPath(), 'watch', 'who-modified', file, '--input', rec, '--json', '--keep-going'], { encoding: 'utf8' });
    expect(replay.status, replay.stderr).toBe(0);
    const offline = parseWatchJson<{ changes: Change[] }>(replay.stdout);
    expect(offline.result.changes).toEqual(result.changes);
    expect(offline.alerts.map((a) => [a.message, a.culprit?.pid, a.culprit?.cmdline])).toEqual(alerts.map((a) => [a.message, a.culprit?.pid, a.culprit?.cmdline]));
  });

  it('--include-metadata adds mode, owner and time changes: chmod, chown, touch, fchmod; without it they are not reported', { timeout: 60_000 }, async () => {
    const dir = workDir();
    const file = join(dir, 'shadow');
    writeFileSync(file, 'x');
    const run = async (extra: string[]) => {
      const tw = await startTw(['watch', 'who-modified', file, '--json', '--keep-going', ...extra]);
      const pids: Record<string, number> = {};
      try {
        pids.chmod = sh(dir, 'exec chmod 600 shadow');
        pids.chown = sh(dir, 'exec chown 0:0 shadow');
        pids.touch = sh(dir, 'exec touch shadow');
        pids.fchmod = py(dir, 'import os; f = os.open("shadow", os.O_RDONLY); os.fchmod(f, 0o640)');
        await pause(400);
      } finally {
        tw.kill('SIGINT');
      }
      const r = await tw.done;
      expect(r.code, r.stderr).toBe(0);
      return { pids, changes: parseWatchJson<{ changes: Change[] }>(r.stdout).result.changes };
    };
    const meta = await run(['--include-metadata']);
    expect(meta.changes.map((c) => [c.what, c.comm, c.tgid])).toEqual([
      ['chmod', 'chmod', meta.pids.chmod],
      ['chown', 'chown', meta.pids.chown],
      ['open', 'touch', meta.pids.touch],
      ['utimes', 'touch', meta.pids.touch],
      ['chmod', 'python3', meta.pids.fchmod],
    ]);
    expect(meta.changes[0]!.detail).toBe('to 0600');
    // without the option: only touch's open for writing
    const plain = await run([]);
    expect(plain.changes.map((c) => [c.what, c.comm])).toEqual([['open', 'touch']]);
  });

  // overlayfs (containers, live systems, the test guests' root): stat(2) gives a file the device of
  // its layer, the probes see the overlay's own; the watch must match the file all the same,
  // before and after its copy-up to the upper layer, and a file created on the upper layer
  it('matches files on overlayfs: a lower-layer file before and after its copy-up, an upper-layer file, a save by rename', { timeout: 60_000 }, async (t) => {
    const dir = workDir();
    const lower = join(dir, 'lower');
    const upper = join(dir, 'layers', 'upper');
    const work = join(dir, 'layers', 'work');
    const merged = join(dir, 'merged');
    const layers = join(dir, 'layers');
    for (const d of [lower, layers, merged]) mkdirSync(d);
    keep(() => {
      for (const d of [merged, layers, lower]) spawnSync('umount', [d]);
    });
    // the layers on two file systems of their own (one for lower, one for upper+work): the
    // overlay then gives each layer's files that layer's device, as on a container host
    for (const d of [lower, layers]) {
      const tm = spawnSync('mount', ['-t', 'tmpfs', 'tw-test-layer', d], { encoding: 'utf8' });
      expect(tm.status, tm.stderr).toBe(0);
    }
    for (const d of [upper, work]) mkdirSync(d);
    writeFileSync(join(lower, 'low'), 'a\n');
    const m = spawnSync('mount', ['-t', 'overlay', 'tw-test-ov', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged], { encoding: 'utf8' });
    if (m.status !== 0) return t.skip(`no overlayfs here: ${m.stderr.trim()}`);
    // what makes the case: stat(2) does not give the overlay's own device
    expect(statSync(join(merged, 'low')).dev).not.toBe(statSync(merged).dev);
    writeFileSync(join(merged, 'up'), 'b\n');
    const run = async (name: string, act: () => Record<string, number>) => {
      const tw = await startTw(['watch', 'who-modified', join(merged, name), '--json', '--keep-going']);
      let pids: Record<string, number> = {};
      try {
        pids = act();
        await pause(400);
      } finally {
        tw.kill('SIGINT');
      }
      const r = await tw.done;
      expect(r.code, r.stderr).toBe(0);
      return { pids, changes: parseWatchJson<{ changes: Change[] }>(r.stdout).result.changes.map((c) => [c.what, c.comm, c.tgid]) };
    };
    // the lower file: the first append copies it up, the second writes the upper copy
    const low = await run('low', () => ({ first: sh(merged, 'echo x >> low'), second: sh(merged, 'echo y >> low'), read: sh(merged, 'cat low >/dev/null') }));
    expect(low.changes).toEqual([
      ['open', 'sh', low.pids.first],
      ['write', 'sh', low.pids.first],
      ['open', 'sh', low.pids.second],
      ['write', 'sh', low.pids.second],
    ]);
    const up = await run('up', () => {
      const trunc = py(dir, `import os; os.truncate(${JSON.stringify(join(merged, 'up'))}, 0)`);
      const sed = sh(merged, 'echo q > up; exec sed -i s/q/r/ up');
      return { trunc, sed };
    });
    expect(up.changes.filter(([what]) => what !== 'open' && what !== 'write')).toEqual([
      ['truncate', 'python3', up.pids.trunc],
      ['replaced', 'sed', up.pids.sed],
    ]);
  });
});

