import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryMetrics, RunMetrics, type AnyWatch, type FieldValue, type WatchContext, type WatchEvent } from '@tw/core';
import { layoutFor, userDevToKernel, validateProbeSpec } from '@tw/probe-spec';
import { mountDevOf, parseMountinfo } from './watches/mounts.js';
import { afterAll, describe, expect, it } from 'vitest';
import { watches, whoDeleted, whoModified } from './index.js';
import { probes } from './probes.js';
import { globSource, mayMatchRelative, noFs, resolveName, watchPattern, matchesPath } from './watches/paths.js';

/** Drive a watch's handlers with hand-made events (what the engine would decode from tw:* records). */
// keepGoing: true (a monitor, --keep-going) unless a test is about the watch ending itself
function harness(watch: AnyWatch, args: Record<string, unknown>, tgids: Record<number, number> = {}, keepGoing = true, has: (event: string) => boolean = () => false) {
  const alerts: string[] = [];
  const details: unknown[] = [];
  let stops = 0;
  const retuned: Array<[string, unknown]> = [];
  const metrics = new MemoryMetrics();
  const ctx = {
    args,
    state: watch.state?.(args as never),
    mode: 'live',
    setProbeParams: (probe: string, params: unknown) => {
      retuned.push([probe, params]);
      return true;
    },
    proc: (pid: number) => ({ pid, comm: `p${pid}`, tgid: tgids[pid] ?? pid, ppid: undefined, exe: undefined, cmdline: undefined, exitedAt: undefined }),
    parents: () => [],
    syscallName: (nr: number) => String(nr),
    alert: (m: string, o?: { details?: unknown }) => {
      alerts.push(m);
      details.push(o?.details);
    },
    stop: () => void stops++,
    keepGoing,
    has,
    lost: 0,
    events: 0,
    now: 0n,
    metrics: new RunMetrics(watch.name, watch.name, metrics),
  } as unknown as WatchContext<unknown, unknown>;
  let ts = 1000n;
  const emit = (event: string, pid: number, fields: Record<string, FieldValue>) => {
    const e = { ts: ts++, cpu: 0, pid, comm: `p${pid}`, event, id: 1, buffer: '', fields, toJSON: () => ({}) } as unknown as WatchEvent;
    const h = watch.on[event];
    if (!h) throw new Error(`no handler for ${event}`);
    h(e, ctx as never);
  };
  return { stops: () => stops, ctx, alerts, details, retuned, metrics, emit, end: () => watch.end?.(ctx as never) as unknown };
}

/** a metric's values by one label's value (the watch's other labels summed over) */
function metricBy(mem: MemoryMetrics, fullName: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of mem.snapshot()[fullName]?.series ?? []) out[s.labels[label]!] = (out[s.labels[label]!] ?? 0) + s.value!;
  return out;
}

/** how often each key occurs, weighted */
function tally(pairs: Array<[string, number]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of pairs) out[k] = (out[k] ?? 0) + n;
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'tw-fswatch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('plugin-fswatch', () => {
  it('ships valid probe specs, and every watch declares probes it ships and handles their events', () => {
    expect(probes.map((p) => p.name)).toEqual([
      'unlink', 'unlink_cwd', 'unlinkat', 'sys_unlinkat', 'sys_unlink', 'sys_rmdir', 'sys_rename', 'sys_renameat', 'sys_renameat2', 'open_write', 'openat_write',
      'sys_write', 'sys_pwrite64', 'sys_writev', 'sys_ftruncate', 'sys_truncate',
      'sys_fchmodat', 'sys_fchownat', 'sys_utimensat', 'sys_fchmod', 'sys_fchown',
    ]);
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

  it('who-deleted: the deletion probes are syscall exits of successful calls with the culprit and what resolving needs', () => {
    const exits = probes.filter((p) => /^sys_(unlink|rmdir|rename)/.test(p.name));
    expect(exits.map((p) => p.name)).toEqual(['sys_unlinkat', 'sys_unlink', 'sys_rmdir', 'sys_rename', 'sys_renameat', 'sys_renameat2']);
    for (const p of exits) {
      expect(p.attach).toMatchObject({ returns: 'long' });
      expect(p.filter).toBe('retval == 0');
      const fields = layoutFor(p).map((e) => e.field);
      expect(fields).toEqual(expect.arrayContaining(['tgid', 'ppid', 'uid', 'comm', 'cwd']));
      for (const a of p.args) if (a.type === 'int' && a.name.endsWith('dfd')) expect(p.fields.find((f) => f.from === `fd_path(${a.name})`), `${p.name}: fd_path(${a.name})`).toBeDefined();
    }
    // each probe whose event who-deleted takes, and its handler
    expect(whoDeleted.probes).toEqual(['unlink_cwd', 'unlink', 'sys_unlinkat', 'sys_unlink', 'sys_rmdir', 'sys_rename', 'sys_renameat', 'sys_renameat2', 'unlinkat']);
    // the kprobe form stays the first choice for file unlinks; every pattern can fall back to an unlink event
    expect(whoDeleted.events).toContain('tw:unlink_cwd|tw:unlink|tw:sys_unlink|tw:sys_unlinkat|tw:unlinkat');
    expect(whoDeleted.events).toContain('tw:unlink_cwd|tw:unlink|tw:sys_unlinkat|tw:unlinkat');
    for (const p of whoDeleted.events as string[]) expect(p.split('|').slice(-1)[0]).toBe('tw:unlinkat');
  });

  it('who-deleted resolves names: absolute, relative to the directory fd or the cwd, . and .., symlinked directories', () => {
    expect(resolveName('/tmp//x/./a', -100, undefined, '/home', noFs)).toEqual({ path: '/tmp/x/a' });
    expect(resolveName('a', -100, '', '/tmp/x', noFs)).toEqual({ path: '/tmp/x/a' });
    expect(resolveName('../y/b', 3, '/tmp/x', '/home', noFs)).toEqual({ path: '/tmp/y/b' });
    expect(resolveName('sub/', 3, '/tmp/x', '/home', noFs)).toEqual({ path: '/tmp/x/sub' });
    expect(resolveName('a', 3, undefined, undefined, noFs)).toEqual({ path: null, relativeTo: 'fd 3' });
    expect(resolveName('a', -100, undefined, undefined, noFs)).toEqual({ path: null, relativeTo: 'cwd' });
    // a symlink to a directory in the name: followed where the directory exists
    const real = realpathSync(mkdtempSync(join(tmp, 'real-')));
    const link = join(tmp, `link-${Date.now()}`);
    symlinkSync(real, link);
    const host = { realpath: (p: string) => { try { return realpathSync(p); } catch { return undefined; } }, isDirectory: () => false };
    expect(resolveName(`${link}/gone`, -100, undefined, '/', host)).toEqual({ path: `${real}/gone` });
    expect(resolveName('gone', -100, undefined, link, host)).toEqual({ path: `${real}/gone` });
    // the watched path's directory part too; a directory covers what is below it
    const w = watchPattern(`${link}/`, '/', host);
    expect(w.exact).toContain(real);
    expect(matchesPath(w, `${real}/deep/file`)).toBe(true);
    expect(matchesPath(w, `${real}x/file`)).toBe(false);
    const file = watchPattern('f', link, host);
    expect(file.exact).toEqual([`${real}/f`]);
    expect(matchesPath(file, `${real}/f`)).toBe(true);
    expect(matchesPath(file, `${real}/f/x`)).toBe(false);
  });

  it('who-deleted globs: * and ? within a component, ** across, [...] classes; unresolved names match on their last components', () => {
    const m = (g: string, p: string) => matchesPath(watchPattern(g, '/', noFs), p);
    expect(m('/d/*.log', '/d/a.log')).toBe(true);
    expect(m('/d/*.log', '/d/sub/a.log')).toBe(false);
    expect(m('/d/*.log', '/d/a.txt')).toBe(false);
    expect(m('/d/**/*.log', '/d/a.log')).toBe(true);
    expect(m('/d/**/*.log', '/d/x/y/a.log')).toBe(true);
    expect(m('/d/**', '/d/x/y')).toBe(true);
    expect(m('/d/file?.[ch]', '/d/file1.c')).toBe(true);
    expect(m('/d/file?.[!ch]', '/d/file1.c')).toBe(false);
    expect(m('/d/file?.[!ch]', '/d/file1.o')).toBe(true);
    expect(m('/d.x/*', '/dyx/a')).toBe(false); // the literal part is literal
    expect(m('rel/*.log', '/rel/a.log')).toBe(true); // relative to the cwd given
    expect(new RegExp(`^${globSource('[]x]')}$`).test(']')).toBe(true);
    expect(mayMatchRelative(watchPattern('/d/*.log', '/', noFs), 'a.log')).toBe(true);
    expect(mayMatchRelative(watchPattern('/d/*.log', '/', noFs), 'd/a.log')).toBe(true);
    expect(mayMatchRelative(watchPattern('/d/*.log', '/', noFs), 'a.txt')).toBe(false);
    expect(mayMatchRelative(watchPattern('/d/f', '/', noFs), 'f')).toBe(true);
    expect(mayMatchRelative(watchPattern('/d/f', '/', noFs), 'g')).toBe(false);
    expect(mayMatchRelative(watchPattern('/d/', '/', noFs), 'd/x')).toBe(true);
    expect(mayMatchRelative(watchPattern('/d/', '/', noFs), 'x')).toBe(false);
  });

  it('who-deleted reports each kind: unlink, rmdir, rename away, replaced by rename, with the culprit and details', () => {
    const dir = realpathSync(mkdtempSync(join(tmp, 'kinds-')));
    const h = harness(whoDeleted, { path: `${dir}/` }, { 43: 40 });
    const who = { tgid: 42, ppid: 1, uid: 0, comm: 'rm' };
    h.emit('tw:sys_unlinkat', 42, { ...who, dfd: -100, flag: 0, pathname: `${dir}/a`, dir: '', cwd: '/' });
    h.emit('tw:sys_unlinkat', 42, { ...who, dfd: -100, flag: 0x200, pathname: 'sub', dir: '', cwd: dir });
    h.emit('tw:sys_unlinkat', 42, { ...who, dfd: 5, flag: 0, pathname: 'b', dir, cwd: '/' });
    h.emit('tw:sys_unlink', 42, { ...who, pathname: '../c', cwd: `${dir}/sub` });
    h.emit('tw:sys_rmdir', 42, { ...who, pathname: `${dir}/d/`, cwd: '/' });
    h.emit('tw:sys_unlink', 42, { ...who, pathname: 'elsewhere', cwd: '/tmp' });
    const mv = { tgid: 5, ppid: 1, uid: 1000, comm: 'mv' };
    h.emit('tw:sys_renameat2', 5, { ...mv, olddfd: -100, newdfd: -100, flags: 0, oldname: 'x', newname: '/y', olddir: '', newdir: '', cwd: dir });
    h.emit('tw:sys_rename', 5, { ...mv, oldname: '/tmp/in.tmp', newname: `${dir}/z`, cwd: '/' });
    h.emit('tw:sys_renameat', 5, { ...mv, olddfd: 3, newdfd: 3, oldname: 'u.tmp', newname: 'u', olddir: '/other', newdir: dir, cwd: '/' });
    // RENAME_NOREPLACE onto the watched directory replaces nothing; RENAME_EXCHANGE moves its file away
    h.emit('tw:sys_renameat2', 5, { ...mv, olddfd: -100, newdfd: -100, flags: 1, oldname: '/o', newname: `${dir}/n`, olddir: '', newdir: '', cwd: '/' });
    h.emit('tw:sys_renameat2', 5, { ...mv, olddfd: -100, newdfd: -100, flags: 2, oldname: '/o', newname: `${dir}/e`, olddir: '', newdir: '', cwd: '/' });
    expect(h.alerts).toEqual([
      `rm[42] deleted ${dir}/a`,
      `rm[42] deleted ${dir}/sub`,
      `rm[42] deleted ${dir}/b`,
      `rm[42] deleted ${dir}/c`,
      `rm[42] deleted ${dir}/d`,
      `mv[5] renamed ${dir}/x away to /y`,
      `mv[5] replaced ${dir}/z by rename from /tmp/in.tmp`,
      `mv[5] replaced ${dir}/u by rename from /other/u.tmp`,
      `mv[5] renamed ${dir}/e away to /o`,
    ]);
    expect(h.details[5]).toMatchObject({ pid: 5, tgid: 5, ppid: 1, uid: 1000, comm: 'mv', syscall: 'renameat2', kind: 'rename-away', what: 'renamed away to /y', pathname: 'x', path: `${dir}/x`, other: '/y' });
    const r = h.end() as { total: number; deletions: Array<{ kind: string; what: string; syscall: string; path: string }>; byProcess: Array<{ comm: string; count: number }> };
    expect(r.total).toBe(9);
    // its metrics say what its result says: culprits by command, deletions by kind
    expect(metricBy(h.metrics, 'tw_who_deleted_culprits_total', 'comm')).toEqual(tally(r.byProcess.map((p) => [p.comm, p.count])));
    expect(metricBy(h.metrics, 'tw_who_deleted_deletions_total', 'kind')).toEqual(tally(r.deletions.map((d) => [d.kind, 1])));
    expect(metricBy(h.metrics, 'tw_who_deleted_deletions_total', 'kind')).toEqual({ unlink: 3, rmdir: 2, 'rename-away': 2, 'rename-over': 2 });
    expect(r.deletions.map((d) => [d.syscall, d.kind])).toEqual([
      ['unlinkat', 'unlink'], ['unlinkat', 'rmdir'], ['unlinkat', 'unlink'], ['unlink', 'unlink'], ['rmdir', 'rmdir'],
      ['renameat2', 'rename-away'], ['rename', 'rename-over'], ['renameat', 'rename-over'], ['renameat2', 'rename-away'],
    ]);
    expect(r.deletions[6]!.what).toBe('replaced by rename from /tmp/in.tmp');
    expect(r.byProcess).toEqual([{ tgid: 42, comm: 'rm', count: 5 }, { tgid: 5, comm: 'mv', count: 4 }]);
    const text = whoDeleted.format?.(r as never) ?? '';
    expect(text).toContain(`9 deletion(s) of ${dir}/`);
    expect(text).toMatch(/mv\s+\S+\/z\s+replaced by rename from \/tmp\/in\.tmp/);
  });

  it('who-deleted: a plain path matches only itself; no path: every deletion; other files never', () => {
    const h = harness(whoDeleted, { path: '/srv/data/app.log' });
    const rm = { tgid: 9, ppid: 1, uid: 0, comm: 'rm', dfd: -100, flag: 0, dir: '' };
    h.emit('tw:sys_unlinkat', 9, { ...rm, pathname: '/srv/data/app.log.1', cwd: '/' });
    h.emit('tw:sys_unlinkat', 9, { ...rm, pathname: '/srv/data', cwd: '/' });
    h.emit('tw:sys_unlinkat', 9, { ...rm, pathname: 'data/app.log', cwd: '/srv' });
    expect(h.alerts).toEqual(['rm[9] deleted /srv/data/app.log']);
    const all = harness(whoDeleted, {});
    all.emit('tw:sys_unlink', 9, { tgid: 9, ppid: 1, uid: 0, comm: 'rm', pathname: 'x', cwd: '/a' });
    all.emit('tw:sys_rmdir', 9, { tgid: 9, ppid: 1, uid: 0, comm: 'rmdir', pathname: '/b', cwd: '/a' });
    expect(all.alerts).toEqual(['rm[9] deleted /a/x', 'rmdir[9] deleted /b']);
    expect(all.end()).toMatchObject({ pattern: null, total: 2 });
  });

  it('who-deleted with the kprobe form: no cwd or directory path, so relative names stay relative; sys_unlinkat beside it only adds directories', () => {
    const h = harness(whoDeleted, { path: '/tmp/w/*.log' }, { 43: 40 }, true, (e) => e === 'tw:unlink');
    h.emit('tw:unlink', 42, { dfd: -100, pathname: '/tmp/w/a.log', comm: 'rm' });
    h.emit('tw:unlink', 43, { dfd: 3, pathname: 'b.log', comm: 'make' });
    h.emit('tw:unlink', 42, { dfd: -100, pathname: 'c.log', comm: 'rm' });
    h.emit('tw:unlink', 42, { dfd: -100, pathname: '/tmp/w/a.txt', comm: 'rm' });
    // the same file unlink through the syscall exit: tw:unlink has it already
    h.emit('tw:sys_unlinkat', 42, { tgid: 42, ppid: 1, uid: 0, comm: 'rm', dfd: -100, flag: 0, pathname: '/tmp/w/a.log', dir: '', cwd: '/' });
    h.emit('tw:sys_unlinkat', 42, { tgid: 42, ppid: 1, uid: 0, comm: 'rm', dfd: -100, flag: 0x200, pathname: '/tmp/w/old.log', dir: '', cwd: '/' });
    // the syscall entry form (no kprobe, no BPF): AT_REMOVEDIR is an rmdir
    h.emit('tw:unlinkat', 42, { dfd: -100, flag: 0x200, pathname: '/tmp/w/d.log', comm: 'rm' });
    expect(h.alerts).toEqual([
      'rm[42] deleted /tmp/w/a.log',
      'make[40/43] deleted b.log (relative to fd 3)',
      'rm[42] deleted c.log (relative to cwd)',
      'rm[42] deleted /tmp/w/old.log',
      'rm[42] deleted /tmp/w/d.log',
    ]);
    const r = h.end() as { deletions: Array<{ path: string | null; kind: string; ppid: number | null }> };
    expect(r.deletions.map((d) => [d.path, d.kind, d.ppid])).toEqual([
      ['/tmp/w/a.log', 'unlink', null], [null, 'unlink', null], [null, 'unlink', null], ['/tmp/w/old.log', 'rmdir', 1], ['/tmp/w/d.log', 'rmdir', null],
    ]);
    expect(whoDeleted.format?.(r as never)).toContain('b.log (relative to fd 3)');
  });

  it('who-deleted gives tw:unlink a kernel filter on the name every spelling of the file ends with', () => {
    expect(whoDeleted.filter?.({ path: '/nowhere/x/app.log' } as never)).toEqual({ 'tw:unlink_cwd': 'pathname ~ "*app.log"', 'tw:unlink': 'pathname ~ "*app.log"' });
    expect(whoDeleted.filter?.({ path: '/nowhere/*.log' } as never)).toEqual({ 'tw:unlink_cwd': 'pathname ~ "*.log"', 'tw:unlink': 'pathname ~ "*.log"' });
    expect(whoDeleted.filter?.({ path: '/nowhere/a*b' } as never)).toEqual({});
    expect(whoDeleted.filter?.({ path: '/nowhere/dir/' } as never)).toEqual({});
    expect(whoDeleted.filter?.({ path: tmp } as never)).toEqual({}); // an existing directory
    expect(whoDeleted.filter?.({ path: '/x/a"b' } as never)).toEqual({});
    expect(whoDeleted.filter?.({} as never)).toEqual({});
  });

  it('who-deleted and who-modified end themselves after the first culprit (a non-matching event does not count); --keep-going goes on', () => {
    const deleted = harness(whoDeleted, { path: '/tmp/a' }, {}, false);
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
    // no tracefs filter (it would be fixed at the start): the probes' parameters filter and follow the file
    expect(whoModified.filter).toBeUndefined();
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
    const eventsOf = whoModified.events as (args: unknown) => readonly string[];
    const events = eventsOf({ path: file });
    // --include-metadata adds the metadata probes' events, each falling back the same way
    expect(eventsOf({ path: file, 'include-metadata': true }).slice(events.length)).toEqual(
      ['sys_fchmodat', 'sys_fchownat', 'sys_utimensat', 'sys_fchmod', 'sys_fchown'].map((p) => `tw:${p}|tw:open_write|tw:openat_write`),
    );
    expect(events[0]).toBe('tw:open_write|tw:openat_write');
    // every other form falls back to the open events, so the watch runs where only those come up
    for (const e of events.slice(1)) expect(e).toMatch(/\|tw:open_write\|tw:openat_write$/);
    const inodeProbes = ['open_write', 'openat_write', 'sys_write', 'sys_pwrite64', 'sys_writev', 'sys_ftruncate', 'sys_fchmod', 'sys_fchown'];
    expect(whoModified.probeParams?.({ path: file } as never)).toEqual(Object.fromEntries(inodeProbes.map((p) => [p, { watch_ino: st.ino, watch_dev: kdev }])));
    // every spec that takes the file declares exactly those params, live (followed through a replacement)
    for (const name of inodeProbes) {
      const params = probes.find((p) => p.name === name)!.params!;
      expect(params.map((p) => [p.name, p.live])).toEqual([['watch_ino', true], ['watch_dev', true]]);
    }
    for (const name of whoModified.probes ?? []) expect(Object.keys(whoModified.on)).toContain(`tw:${name}`);
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
    h.emit('tw:open_write', 9, { ino: 5n, dev: 1, flags: 0o2002, mode: 3, comm: 'app', path: '/data/app.log' });
    h.emit('tw:open_write', 9, { ino: 6n, dev: 1, flags: 1, mode: 2, comm: 'app', path: '/' });
    expect(h.alerts).toEqual(['app[9] opened /srv/data/app.log for writing (O_RDWR|O_APPEND)']);
    expect((h.end() as { matchedBy: string }).matchedBy).toBe('path');
  });

  it('who-modified: writes through any fd, truncation, replacement by rename (then the new file is followed), deletion, creation', () => {
    const dir = realpathSync(mkdtempSync(join(tmp, 'mod-')));
    const file = join(dir, 'passwd');
    const tmpFile = join(dir, '.passwd.tmp');
    writeFileSync(file, 'a');
    const old = statSync(file, { bigint: true });
    const kdev = userDevToKernel(old.dev);
    const who = { pid: 30, tgid: 30, ppid: 1, uid: 0, comm: 'vi', cmdline: 'vi passwd' };
    const h = harness(whoModified, { path: file });
    // a write to another file (the kernel filters by inode; the handler checks again), then to ours
    h.emit('tw:sys_write', 30, { fd: 3, count: 5n, ino: old.ino + 1n, dev: kdev, ...who });
    h.emit('tw:sys_pwrite64', 30, { fd: 3, count: 7n, pos: 0n, ino: old.ino, dev: kdev, ...who });
    h.emit('tw:sys_ftruncate', 30, { fd: 3, length: 0n, ino: old.ino, dev: kdev, ...who });
    // truncate(2) by a relative name from another cwd
    h.emit('tw:sys_truncate', 31, { length: 2n, pathname: 'passwd', cwd: dir, ...who, pid: 31, tgid: 31, comm: 'truncate' });
    h.emit('tw:sys_truncate', 31, { length: 2n, pathname: 'other', cwd: dir, ...who, pid: 31, tgid: 31, comm: 'truncate' });
    // an editor's save: a new file renamed over the path (done on disk first, as the kernel did)
    writeFileSync(tmpFile, 'b');
    renameSync(tmpFile, file);
    const now = statSync(file, { bigint: true });
    h.emit('tw:sys_renameat2', 30, { olddfd: -100, newdfd: -100, flags: 0, oldname: '.passwd.tmp', newname: 'passwd', olddir: '', newdir: '', cwd: dir, ...who });
    expect(h.retuned.filter(([p]) => p === 'sys_write')).toEqual([['sys_write', { watch_ino: now.ino, watch_dev: kdev }]]);
    // the new file is the one watched now: its writes count, the old inode's do not
    h.emit('tw:sys_write', 30, { fd: 4, count: 1n, ino: old.ino, dev: kdev, ...who });
    h.emit('tw:sys_writev', 30, { fd: 4, vlen: 2, ino: now.ino, dev: kdev, ...who });
    // deleted through a directory fd, then created again by an open
    h.emit('tw:sys_unlinkat', 32, { dfd: 5, flag: 0, pathname: 'passwd', dir, cwd: '/', ...who, pid: 32, tgid: 32, comm: 'rm' });
    h.emit('tw:openat_write', 33, { fd: 3, ino: now.ino + 9n, dev: kdev, flags: 0o101, mode: 0o644, dfd: -100, ppid: 1, uid: 0, comm: 'touch', pathname: file, path: file });
    expect(h.alerts).toEqual([
      `vi[30] wrote to ${file} (pwrite64, 7 bytes, fd 3)`,
      `vi[30] truncated ${file} to 0 bytes (ftruncate on fd 3)`,
      `truncate[31] truncated ${file} to 2 bytes (truncate)`,
      `vi[30] replaced ${file} by rename from ${tmpFile}`,
      `vi[30] wrote to ${file} (writev, 2 buffers, fd 4)`,
      `rm[32] deleted ${file}`,
      `touch[33] created ${file} (O_WRONLY|O_CREAT)`,
    ]);
    const r = h.end() as { total: number; changes: Array<{ what: string; comm: string }>; byProcess: Array<{ comm: string; count: number }> };
    expect(r.changes.map((c) => c.what)).toEqual(['write', 'truncate', 'truncate', 'replaced', 'write', 'deleted', 'created']);
    // its metrics say what its result says: culprits by command, changes by kind
    expect(metricBy(h.metrics, 'tw_who_modified_culprits_total', 'comm')).toEqual(tally(r.byProcess.map((p) => [p.comm, p.count])));
    expect(metricBy(h.metrics, 'tw_who_modified_culprits_total', 'comm')).toEqual({ vi: 4, truncate: 1, rm: 1, touch: 1 });
    expect(metricBy(h.metrics, 'tw_who_modified_changes_total', 'kind')).toEqual(tally(r.changes.map((c) => [c.what, 1])));
    // deleted: the probes are told there is no file (0: report nothing), then the created one
    expect(h.retuned.filter(([p]) => p === 'sys_write').map(([, v]) => (v as { watch_ino: bigint }).watch_ino)).toEqual([now.ino, 0n, now.ino + 9n]);
  });

  it('who-modified --include-metadata: chmod, chown and touch by name or through a descriptor; other files not', () => {
    const dir = realpathSync(mkdtempSync(join(tmp, 'meta-')));
    const file = join(dir, 'shadow');
    writeFileSync(file, 'x');
    const st = statSync(file, { bigint: true });
    const kdev = userDevToKernel(st.dev);
    const who = { pid: 50, tgid: 50, ppid: 1, uid: 0, comm: 'chmod', cmdline: 'chmod 600 shadow' };
    const h = harness(whoModified, { path: file, 'include-metadata': true });
    h.emit('tw:sys_fchmodat', 50, { dfd: -100, mode: 0o600, pathname: 'shadow', dir: '', cwd: dir, ...who });
    h.emit('tw:sys_fchmodat', 50, { dfd: -100, mode: 0o600, pathname: 'other', dir: '', cwd: dir, ...who });
    h.emit('tw:sys_fchownat', 51, { dfd: -100, owner: 0, group: -1, pathname: file, dir: '', cwd: '/', ...who, pid: 51, tgid: 51, comm: 'chown' });
    // touch: utimensat(fd, NULL, ...) after opening it: the name is empty, dfd is the file
    h.emit('tw:sys_utimensat', 52, { dfd: 3, pathname: '', dir: file, cwd: '/', ...who, pid: 52, tgid: 52, comm: 'touch' });
    h.emit('tw:sys_fchmod', 53, { fd: 4, mode: 0o644, ino: st.ino, dev: kdev, ...who, pid: 53, tgid: 53, comm: 'python3' });
    h.emit('tw:sys_fchown', 53, { fd: 4, owner: -1, group: 42, ino: st.ino + 1n, dev: kdev, ...who, pid: 53, tgid: 53, comm: 'python3' });
    expect(h.alerts).toEqual([
      `chmod[50] changed the mode of ${file} to 0600 (fchmodat)`,
      `chown[51] changed the owner of ${file} (owner 0; fchownat)`,
      `touch[52] changed the times of ${file} (utimensat)`,
      `python3[53] changed the mode of ${file} to 0644 (fchmod on fd 4)`,
    ]);
  });

  it('who-modified ends at its first change unless --keep-going', () => {
    const file = join(tmp, 'first.txt');
    writeFileSync(file, 'x');
    const st = statSync(file, { bigint: true });
    const h = harness(whoModified, { path: file }, {}, false);
    h.emit('tw:sys_write', 40, { fd: 1, count: 1n, ino: st.ino, dev: userDevToKernel(st.dev), pid: 40, tgid: 40, ppid: 1, uid: 0, comm: 'echo', cmdline: 'echo' });
    expect(h.stops()).toBe(1);
    expect(h.end()).toMatchObject({ total: 1, answered: true });
  });
});


describe('the device the probes see (mountinfo)', () => {
  const info = [
    '22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw',
    '30 22 0:42 / /var/lib/c\\040one rw - overlay overlay rw,lowerdir=/l',
    '31 30 0:50 / /var/lib/c\\040one/mnt rw - tmpfs t rw',
    '32 30 0:51 / /var/lib/c\\040one/mnt rw - tmpfs t2 rw',
    '',
  ].join('\n');
  const mounts = parseMountinfo(info);
  it('reads each mount point (octal escapes undone) with its superblock device as the kernel encodes it', () => {
    expect(mounts.map((m) => m.point)).toEqual(['/', '/var/lib/c one', '/var/lib/c one/mnt', '/var/lib/c one/mnt']);
    expect(mounts[1]!.dev).toBe((0 << 20) | 42);
  });
  it('gives a path the device of the deepest mount over it, the last one mounted where two share a point', () => {
    expect(mountDevOf('/etc/passwd', mounts)).toBe(21);
    expect(mountDevOf('/var/lib/c one/etc/passwd', mounts)).toBe(42);
    expect(mountDevOf('/var/lib/c one', mounts)).toBe(42);
    expect(mountDevOf('/var/lib/c onex/f', mounts)).toBe(21);
    expect(mountDevOf('/var/lib/c one/mnt/f', mounts)).toBe(51);
    expect(mountDevOf('/x', [])).toBeUndefined();
  });
});
