#!/usr/bin/env node
// Guest-side helper of test/src/vm/probes.vm.test.ts: drives @tw/kprobe-gen's API directly (one
// Node start instead of dozens of `tw` invocations, which cost ~3-9 s each under TCG).
// Prints one line per step, `ok <step>[ detail]` or `FAIL <step>: <why>`, on stdout.
//
//   node test/vm/probe-api.mjs [layout-size] [cycles <first> <last> <dir>] [fullpath <mnt>]
//                                                                           (in that order)
//
//   layout-size  a hand-written kprobe event tw:unlink whose dfd is 8 bytes instead of 4:
//                checkLayout must throw a LayoutMismatchError naming dfd with the expected and
//                the actual offset/size; then removeKprobeEvent leaves no dynamic event.
//   cycles       module load/unload cycles <first>..<last> of tw_unlink: buildModule (which must
//                be a cache hit: the module was built on the host), then per cycle loadModule,
//                /proc/modules, isLoaded(), the event's format against the spec (checkLayout),
//                the event fires (enabled in a private tracefs instance, unlinking
//                <dir>/cycle-<n>), unloadModule, and nothing left behind.
//   fullpath     plugin-fswatch's open_write (path(path) of vfs_open's struct path) across mounts:
//                <mnt> is a tmpfs the caller mounted, with another tmpfs mounted on <mnt>/inner.
//                Loaded by loadModule (struct mount offsets from the guest's BTF via pahole),
//                opening <mnt>/<file> and <mnt>/inner/<file> for writing gives events whose path
//                is exactly that; loaded with pahole missing, it falls back (a note, the path
//                inside the tmpfs); insmod with impossible offsets (partial, misaligned) fails in
//                tw_init; possible but wrong offsets walk garbage without an oops.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModule, checkLayout, isLoaded, loadModule, moduleLoaded, removeKprobeEvent, unloadModule } from '@tw/kprobe-gen';
import { userDevToKernel } from '@tw/kprobe-gen/spec';
import { openWrite, unlink } from '@tw/plugin-fswatch/probes';

const T = '/sys/kernel/tracing';
const argv = process.argv.slice(2);

const say = (line) => process.stdout.write(`${line}\n`);
const oneLine = (s) => String(s).replace(/\s*\n\s*/g, ' | ').slice(0, 400);
const dynamicTw = () => readFileSync(join(T, 'dynamic_events'), 'utf8').split('\n').filter((l) => /\btw\//.test(l));

async function cycles(first, last, dir) {
  const step = 'd.api_cycles';
  const inst = join(T, 'instances', 'vmtest-api');
  mkdirSync(dir, { recursive: true });
  if (!existsSync(inst)) mkdirSync(inst);
  const t0 = Date.now();
  let n = first;
  try {
    const b = await buildModule(unlink);
    if (!b.cached) throw new Error(`buildModule ran make (not a cache hit): ${b.cacheEntry}`);
    for (; n <= last; n++) {
      const name = await loadModule(b.ko, {}, { spec: unlink });
      if (name !== 'tw_unlink') throw new Error(`loadModule returned ${name}`);
      if (!(await moduleLoaded('tw_unlink'))) throw new Error('tw_unlink not in /proc/modules after loadModule');
      const state = await isLoaded(unlink);
      if (state !== 'module') throw new Error(`isLoaded() = ${state} after loadModule`);
      checkLayout(unlink, readFileSync(join(T, 'events/tw/unlink/format'), 'utf8'));
      // the event fires: enable it in our own instance, unlink a file, read that instance's trace
      writeFileSync(join(inst, 'events/tw/unlink/enable'), '1');
      const victim = join(dir, `cycle-${n}`);
      writeFileSync(victim, '');
      unlinkSync(victim);
      const trace = readFileSync(join(inst, 'trace'), 'utf8');
      if (!trace.split('\n').some((l) => l.includes(' unlink: ') && l.includes(`pathname=${victim} `) && l.endsWith('comm=node'))) {
        throw new Error(`no tw:unlink event for ${victim} in the instance's trace:\n${trace.split('\n').filter((l) => !l.startsWith('#')).slice(-5).join('\n')}`);
      }
      // unloadModule disables the event in every instance itself
      if (!(await unloadModule('tw_unlink'))) throw new Error('unloadModule said it was not loaded');
      if (await moduleLoaded('tw_unlink')) throw new Error('tw_unlink still in /proc/modules after unloadModule');
      if ((await isLoaded(unlink)) !== false) throw new Error('isLoaded() is not false after unloadModule');
      if (existsSync(join(T, 'events/tw'))) throw new Error('events/tw still exists after unloadModule');
      if (existsSync(join(inst, 'events/tw'))) throw new Error('the instance still has events/tw after unloadModule');
      const left = dynamicTw();
      if (left.length > 0) throw new Error(`dynamic_events still has: ${left.join('; ')}`);
    }
    say(`ok ${step} cycles ${first}..${last} in ${Date.now() - t0} ms`);
  } catch (e) {
    say(`FAIL ${step}: cycle ${n}: ${oneLine(e instanceof Error ? e.message : e)}`);
    await unloadModule('tw_unlink').catch(() => undefined);
  } finally {
    try {
      rmdirSync(inst);
    } catch (e) {
      say(`FAIL d.api_instance_removed: ${oneLine(e.message)}`);
    }
  }
}

async function layoutSize() {
  const step = 'e.layout_size';
  // the probe's own definition has dfd=%di:s32: the same name, but dfd 8 bytes wide
  const line = 'p:tw/unlink do_unlinkat dfd=%di:s64 pathname=+0(+0(%si)):string comm=$comm:string';
  try {
    appendFileSync(join(T, 'kprobe_events'), `${line}\n`);
  } catch (e) {
    say(`FAIL ${step}: cannot add '${line}': ${oneLine(e.message)}`);
    return;
  }
  try {
    const format = readFileSync(join(T, 'events/tw/unlink/format'), 'utf8');
    let err;
    try {
      checkLayout(unlink, format);
    } catch (e) {
      err = e;
    }
    if (err === undefined) throw new Error('checkLayout accepted a format whose dfd is 8 bytes');
    const want = { name: 'LayoutMismatchError', code: 'LAYOUT_MISMATCH', field: 'dfd', expected: '16/4', actual: '16/8' };
    const got = {
      name: err.name,
      code: err.code,
      field: err.field,
      expected: err.expected ? `${err.expected.offset}/${err.expected.size}` : String(err.expected),
      actual: err.actual ? `${err.actual.offset}/${err.actual.size}` : String(err.actual),
    };
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`expected ${JSON.stringify(want)}, got ${JSON.stringify(got)} (${oneLine(err.message)})`);
    if (!/field 'dfd': expected offset 16 size 4 .*has offset 16 size 8/.test(err.message)) throw new Error(`message does not name the field and both placements: ${oneLine(err.message)}`);
    say(`ok ${step} ${oneLine(err.message)}`);
  } catch (e) {
    say(`FAIL ${step}: ${oneLine(e.message)}`);
  } finally {
    try {
      if (!(await removeKprobeEvent(T, unlink))) throw new Error('removeKprobeEvent said it was not defined');
      const left = dynamicTw();
      if (left.length > 0 || existsSync(join(T, 'events/tw'))) throw new Error(`left behind: ${left.join('; ') || 'events/tw'}`);
      say('ok e.layout_size_removed');
    } catch (e) {
      say(`FAIL e.layout_size_removed: ${oneLine(e.message)}`);
    }
  }
}

/** the tw:open_write lines of an instance's trace for the file with this inode and (kernel) device */
function openWriteLines(inst, ino, dev) {
  return readFileSync(join(inst, 'trace'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(' open_write: ') && l.includes(` ino=${ino} dev=${dev} `));
}

/** the path= of the one tw:open_write event for `file` (opened for writing after enabling the event) */
function openAndRead(inst, file) {
  writeFileSync(join(inst, 'trace'), ''); // clear
  writeFileSync(join(inst, 'events/tw/open_write/enable'), '1');
  writeFileSync(file, 'x');
  writeFileSync(join(inst, 'events/tw/open_write/enable'), '0');
  const st = statSync(file, { bigint: true });
  const dev = userDevToKernel(st.dev);
  const lines = openWriteLines(inst, st.ino, dev);
  if (lines.length !== 1) throw new Error(`${lines.length} tw:open_write events for ${file} (ino ${st.ino}, dev ${dev}): ${lines.join(' | ') || 'none'}`);
  const m = / path=(.*?)(?: \w+=|$)/.exec(lines[0]);
  if (!m) throw new Error(`no path= in ${lines[0]}`);
  return m[1];
}

const MODULE = 'tw_open_write';
const PARAMS = ['tw_mnt_parent', 'tw_mnt_mountpoint', 'tw_mnt_vfsmount'];
const paramValues = () => PARAMS.map((p) => readFileSync(`/sys/module/${MODULE}/parameters/${p}`, 'utf8').trim()).join(',');

async function fullpath(mnt) {
  const inst = join(T, 'instances', 'vmtest-fullpath');
  const top = join(mnt, 'fullpath-top');
  const inner = join(mnt, 'inner', 'fullpath-inner');
  const step = async (name, fn) => {
    try {
      say(`ok ${name}${(await fn()) ?? ''}`);
    } catch (e) {
      say(`FAIL ${name}: ${oneLine(e instanceof Error ? e.message : e)}`);
    } finally {
      await unloadModule(MODULE).catch(() => undefined);
    }
  };
  if (!existsSync(inst)) mkdirSync(inst);
  try {
    const b = await buildModule(openWrite);
    if (!b.cached) throw new Error(`buildModule ran make (not a cache hit): ${b.cacheEntry}`);

    // offsets from the guest's BTF: the full paths, across one and two mounts
    await step('p.full', async () => {
      const notes = [];
      await loadModule(b.ko, {}, { spec: openWrite, onNote: (n) => notes.push(n) });
      if (notes.length > 0) throw new Error(`loaded with a note: ${notes.join('; ')}`);
      const params = paramValues();
      if (params.split(',').includes('0')) throw new Error(`module parameters ${PARAMS.join(',')} = ${params}`);
      const got = [openAndRead(inst, top), openAndRead(inst, inner)];
      if (got[0] !== top || got[1] !== inner) throw new Error(`paths ${JSON.stringify(got)}, expected ${JSON.stringify([top, inner])}`);
      return ` ${params} ${got.join(' ')}`;
    });

    // no pahole: a one-line note, and the path inside the tmpfs
    await step('p.fallback', async () => {
      const notes = [];
      await loadModule(b.ko, {}, { spec: openWrite, pahole: '/nonexistent/pahole', onNote: (n) => notes.push(n) });
      if (notes.length !== 1 || !/^tw_open_write: path\(\) stays inside each file's filesystem .*pahole is not installed/.test(notes[0])) {
        throw new Error(`notes: ${JSON.stringify(notes)}`);
      }
      if (paramValues() !== '0,0,0') throw new Error(`module parameters ${paramValues()}`);
      const got = [openAndRead(inst, top), openAndRead(inst, inner)];
      if (got[0] !== '/fullpath-top' || got[1] !== '/fullpath-inner') throw new Error(`paths ${JSON.stringify(got)}`);
      return ` ${got.join(' ')} | ${notes[0]}`;
    });

    // impossible offsets: tw_init refuses them (insmod directly: loadModule checks them itself)
    await step('p.rejects', async () => {
      const tried = [];
      for (const params of [['tw_mnt_parent=16'], ['tw_mnt_parent=12', 'tw_mnt_mountpoint=24', 'tw_mnt_vfsmount=32'], ['tw_mnt_parent=16', 'tw_mnt_mountpoint=40', 'tw_mnt_vfsmount=32'], ['tw_mnt_parent=16', 'tw_mnt_mountpoint=24', 'tw_mnt_vfsmount=4096']]) {
        let loaded = true;
        try {
          execFileSync('insmod', [b.ko, ...params], { stdio: 'pipe' });
        } catch {
          loaded = false;
        }
        if (loaded || (await moduleLoaded(MODULE))) throw new Error(`insmod ${params.join(' ')} loaded the module`);
        tried.push(params.join(' '));
      }
      const dmesg = execFileSync('dmesg', { encoding: 'utf8' });
      if (!/tw_open_write: impossible struct mount offsets tw_mnt_parent=12 tw_mnt_mountpoint=24 tw_mnt_vfsmount=32/.test(dmesg)) throw new Error('no "impossible struct mount offsets" in dmesg');
      return ` ${tried.length} sets`;
    });

    // possible but wrong offsets: the walk reads garbage (before the struct mount; real pointers
    // into other mounts and lists taken for a parent mount and a dentry), without faulting
    await step('p.garbage', async () => {
      const got = [];
      for (const mountOffsets of [{ parent: 8, mountpoint: 128, vfsmount: 200 }, { parent: 64, mountpoint: 96, vfsmount: 32 }]) {
        await loadModule(b.ko, {}, { spec: openWrite, mountOffsets });
        got.push(openAndRead(inst, top), openAndRead(inst, inner));
        await unloadModule(MODULE);
      }
      return ` ${JSON.stringify(got)}`;
    });
  } catch (e) {
    say(`FAIL p.setup: ${oneLine(e instanceof Error ? e.message : e)}`);
  } finally {
    try {
      rmdirSync(inst);
      if (await moduleLoaded(MODULE)) throw new Error(`${MODULE} still loaded`);
      if (existsSync(join(T, 'events/tw'))) throw new Error('events/tw still exists');
      say('ok p.nothing_left');
    } catch (e) {
      say(`FAIL p.nothing_left: ${oneLine(e.message)}`);
    }
  }
}

if (argv[0] === 'layout-size') {
  argv.shift();
  await layoutSize();
}
if (argv[0] === 'cycles') {
  await cycles(Number(argv[1]), Number(argv[2]), argv[3] ?? '/tmp/tw-vm-probes');
  argv.splice(0, 4);
}
if (argv[0] === 'fullpath') {
  await fullpath(argv[1] ?? '/mnt/twtest');
  argv.splice(0, 2);
}
if (argv.length > 0) {
  say(`FAIL probe-api: unexpected arguments: ${argv.join(' ')}`);
  process.exitCode = 2;
}
