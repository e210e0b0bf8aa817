import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyWatch, FieldValue, WatchContext, WatchEvent } from '@tw/core';
import { layoutFor, userDevToKernel, validateProbeSpec } from '@tw/probe-spec';
import { afterAll, describe, expect, it } from 'vitest';
import { watches, whoDeleted, whoModified } from './index.js';
import { probes } from './probes.js';

/** Drive a watch's handlers with hand-made events (what the engine would decode from tw:* records). */
// keepGoing: true (a monitor, --keep-going) unless a test is about the watch ending itself
function harness(watch: AnyWatch, args: Record<string, unknown>, tgids: Record<number, number> = {}, keepGoing = true) {
  const alerts: string[] = [];
  let stops = 0;
  const ctx = {
    args,
    state: watch.state?.(args as never),
    mode: 'live',
    proc: (pid: number) => ({ pid, comm: `p${pid}`, tgid: tgids[pid] ?? pid, ppid: undefined, exe: undefined, cmdline: undefined, exitedAt: undefined }),
    parents: () => [],
    syscallName: (nr: number) => String(nr),
    alert: (m: string) => alerts.push(m),
    stop: () => void stops++,
    keepGoing,
    has: () => true,
    lost: 0,
    events: 0,
    now: 0n,
  } as unknown as WatchContext<unknown, unknown>;
  let ts = 1000n;
  const emit = (event: string, pid: number, fields: Record<string, FieldValue>) => {
    const e = { ts: ts++, cpu: 0, pid, comm: `p${pid}`, event, id: 1, buffer: '', fields, toJSON: () => ({}) } as unknown as WatchEvent;
    const h = watch.on[event];
    if (!h) throw new Error(`no handler for ${event}`);
    h(e, ctx as never);
  };
  return { stops: () => stops, ctx, alerts, emit, end: () => watch.end?.(ctx as never) as unknown };
}

const tmp = mkdtempSync(join(tmpdir(), 'tw-fswatch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('plugin-fswatch', () => {
  it('ships valid probe specs, and every watch declares probes it ships and handles their events', () => {
    expect(probes.map((p) => p.name)).toEqual(['unlink', 'unlinkat', 'open_write', 'openat_write']);
    for (const p of probes) validateProbeSpec(p);
    for (const w of watches) {
      expect(w.probes?.length).toBeGreaterThan(0);
      for (const name of w.probes ?? []) {
        expect(probes.map((p) => p.name)).toContain(name);
        expect(Object.keys(w.on)).toContain(`tw:${name}`);
      }
    }
    // the fields the watches read exist in the layouts
    expect(layoutFor(probes[0]!).map((e) => e.field)).toEqual(expect.arrayContaining(['pathname', 'dfd', 'comm']));
  });

  it('who-deleted reports every unlink, with the substring filter in user space and in the kernel', () => {
    const h = harness(whoDeleted, { match: 'tmp' }, { 43: 40 });
    h.emit('tw:unlink', 42, { dfd: -100, pathname: '/tmp/a.txt', comm: 'rm' });
    h.emit('tw:unlink', 43, { dfd: 3, pathname: 'b.tmp', comm: 'make' });
    h.emit('tw:unlink', 42, { dfd: -100, pathname: '/etc/x', comm: 'rm' });
    expect(h.alerts).toEqual(['rm[42] deleted /tmp/a.txt', 'make[40/43] deleted b.tmp (relative to fd 3)']);
    const r = h.end() as { total: number; byProcess: unknown[]; deletions: Array<{ pathname: string }> };
    expect(r.total).toBe(2);
    expect(r.deletions.map((d) => d.pathname)).toEqual(['/tmp/a.txt', 'b.tmp']);
    expect(whoDeleted.filter?.({ match: 'tmp' } as never)).toEqual({ 'tw:unlink': 'pathname ~ "*tmp*"' });
    expect(whoDeleted.filter?.({ match: 'a"b' } as never)).toEqual({}); // not glob-safe: user space only
    expect(whoDeleted.format?.(r as never)).toContain('2 deletion(s)');
  });

  it('who-deleted and who-modified end themselves after the first culprit (a non-matching event does not count); --keep-going goes on', () => {
    const deleted = harness(whoDeleted, { match: 'tmp' }, {}, false);
    deleted.emit('tw:unlink', 42, { dfd: -100, pathname: '/etc/x', comm: 'rm' });
    expect(deleted.stops()).toBe(0);
    deleted.emit('tw:unlink', 42, { dfd: -100, pathname: '/tmp/a', comm: 'rm' });
    expect(deleted.stops()).toBe(1);
    expect(deleted.end()).toMatchObject({ total: 1, answered: true });
    const modified = harness(whoModified, { path: '/nowhere/watched' }, {}, false);
    modified.emit('tw:openat_write', 7, { ino: 1n, dev: 1, flags: 1, comm: 'cp', path: '/elsewhere' });
    expect(modified.stops()).toBe(0);
    modified.emit('tw:openat_write', 7, { ino: 1n, dev: 1, flags: 1, comm: 'cp', path: '/nowhere/watched' });
    expect(modified.stops()).toBe(1);
    expect(modified.end()).toMatchObject({ total: 1, answered: true });

    const monitor = harness(whoDeleted, {});
    for (const f of ['/a', '/b', '/c']) monitor.emit('tw:unlink', 42, { dfd: -100, pathname: f, comm: 'rm' });
    expect(monitor.stops()).toBe(0);
    expect(monitor.end()).toMatchObject({ total: 3, answered: false });
  });

  it('who-modified matches by inode and device when the file exists here', () => {
    const file = join(tmp, 'watched.txt');
    writeFileSync(file, 'x');
    const st = statSync(file, { bigint: true });
    const kdev = userDevToKernel(st.dev);
    const h = harness(whoModified, { path: file });
    expect(whoModified.filter?.({ path: file } as never)).toEqual({ 'tw:open_write': `ino == ${st.ino} && dev == ${kdev}` });
    h.emit('tw:open_write', 7, { ino: st.ino, dev: kdev, flags: 0o1001, mode: 2, comm: 'vim', path: '/watched.txt' });
    h.emit('tw:open_write', 8, { ino: st.ino + 1n, dev: kdev, flags: 1, mode: 2, comm: 'cp', path: '/other' });
    expect(h.alerts).toEqual([`vim[7] opened ${file} for writing (O_WRONLY|O_TRUNC)`]);
    const r = h.end() as { matchedBy: string; total: number };
    expect(r).toMatchObject({ matchedBy: 'inode', total: 1 });
  });

  it('who-modified takes tw:openat_write where tw:open_write cannot come up, and gives both probes the file as parameters', () => {
    const file = join(tmp, 'watched2.txt');
    writeFileSync(file, 'x');
    const st = statSync(file, { bigint: true });
    const kdev = userDevToKernel(st.dev);
    expect(whoModified.events).toEqual(['tw:open_write|tw:openat_write']);
    expect(whoModified.probes).toEqual(['open_write', 'openat_write']);
    expect(whoModified.probeParams?.({ path: file } as never)).toEqual({
      open_write: { watch_ino: st.ino, watch_dev: kdev },
      openat_write: { watch_ino: st.ino, watch_dev: kdev },
    });
    // both specs declare exactly those params
    for (const name of ['open_write', 'openat_write']) {
      expect(probes.find((p) => p.name === name)!.params!.map((p) => p.name)).toEqual(['watch_ino', 'watch_dev']);
    }
    // no file here: no parameters (the probes report every file, the handler matches by path)
    expect(whoModified.probeParams?.({ path: join(tmp, 'missing') } as never)).toEqual({});
    const h = harness(whoModified, { path: file });
    // the syscall form: fd, ino/dev from the new descriptor, flags as passed, the full path
    h.emit('tw:openat_write', 21, { fd: 3, ino: st.ino, dev: kdev, flags: 0o1101, mode: 0o644, dfd: -100, ppid: 1, uid: 0, comm: 'sh', pathname: 'watched2.txt', path: file });
    h.emit('tw:openat_write', 21, { fd: 4, ino: st.ino, dev: kdev + 1, flags: 1, mode: 0, dfd: -100, ppid: 1, uid: 0, comm: 'sh', pathname: 'x', path: '/other/dev' });
    // O_RDONLY|O_TRUNC truncates: the syscall form reports it
    h.emit('tw:openat_write', 22, { fd: 5, ino: st.ino, dev: kdev, flags: 0o1000, mode: 0, dfd: -100, ppid: 1, uid: 0, comm: 'trunc', pathname: file, path: file });
    expect(h.alerts).toEqual([`sh[21] opened ${file} for writing (O_WRONLY|O_CREAT|O_TRUNC)`, `trunc[22] opened ${file} for writing (O_RDONLY|O_TRUNC)`]);
    const r = h.end() as { matchedBy: string; total: number; opens: Array<{ path: string; flags: string }> };
    expect(r).toMatchObject({ matchedBy: 'inode', total: 2 });
    expect(r.opens.map((o) => o.path)).toEqual([file, file]);
  });

  it('who-modified falls back to the path within the filesystem (e.g. a recording from elsewhere)', () => {
    const h = harness(whoModified, { path: '/srv/data/app.log' });
    expect(whoModified.filter?.({ path: '/srv/data/app.log' } as never)).toEqual({});
    h.emit('tw:open_write', 9, { ino: 5n, dev: 1, flags: 0o2002, mode: 3, comm: 'app', path: '/data/app.log' });
    h.emit('tw:open_write', 9, { ino: 6n, dev: 1, flags: 1, mode: 2, comm: 'app', path: '/' });
    expect(h.alerts).toEqual(['app[9] opened /srv/data/app.log for writing (O_RDWR|O_APPEND)']);
    expect((h.end() as { matchedBy: string }).matchedBy).toBe('path');
  });
});
