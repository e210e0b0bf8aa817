import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTwError, type TwError } from '@tw/core';
import { execa } from 'execa';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { listKernelTrees } from './kernels.js';
import { addKprobeEvent, isLoaded, loadModule, removeKprobeEvent, unloadModule } from './load.js';
import { pluginShapes, sysFiltered } from './test-specs.js';

// A directory that looks like tracefs (plain files do not run the commands written to them: the
// tests check what is written, in which order; the kernel side is covered by the VM tests).
const tmp = mkdtempSync(join(tmpdir(), 'tw-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let root: string;
let n = 0;

beforeEach(() => {
  root = join(tmp, `tracefs${++n}`);
  for (const d of ['events/tw/sys_openat', 'events/tw/unlink', 'instances/tw-1-0/events/tw/sys_openat', 'instances/tw-1-0/events/tw/unlink']) {
    mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, d, 'enable'), '1\n');
    writeFileSync(join(root, d, 'filter'), 'none\n');
  }
  writeFileSync(join(root, 'kprobe_events'), 'p:kprobes/other vfs_read\n');
  writeFileSync(join(root, 'dynamic_events'), 'p:kprobes/other vfs_read\ne:eprobes/on_unlink tw.unlink pathname=$pathname:string\ne:eprobes/elsewhere sched.sched_switch\n');
  writeFileSync(join(root, 'error_log'), '[  101.5] trace_kprobe: error: Invalid fetch argument\n  Command: p:tw/x f a=bad\n                     ^\n');
});

function script(name: string, body: string): string {
  const p = join(tmp, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

async function twError(p: Promise<unknown>): Promise<TwError> {
  try {
    await p;
  } catch (e) {
    expect(isTwError(e)).toBe(true);
    return e as TwError;
  }
  throw new Error('expected an error');
}

describe('kprobe events', () => {
  it('appends the definition (never truncates) and sets the filter at the top level and in instances', async () => {
    const def = await addKprobeEvent(root, sysFiltered, { arch: 'x86_64', params: { only_comm: 'rm' }, instances: [join(root, 'instances/tw-1-0')] });
    expect(readFileSync(join(root, 'kprobe_events'), 'utf8')).toBe(`p:kprobes/other vfs_read\n${def.line}\n`);
    expect(readFileSync(join(root, 'events/tw/sys_openat/filter'), 'utf8')).toBe('((comm == "rm") && (flags & 3)) && (common_pid != 1)');
    expect(readFileSync(join(root, 'instances/tw-1-0/events/tw/sys_openat/filter'), 'utf8')).toBe(def.filter);
    expect(await isLoaded(sysFiltered, { tracefsRoot: root, procModules: join(tmp, 'no-modules') })).toBe('kprobe-events');
  });

  const btf = listKernelTrees().map((k) => `${k.kdir}/vmlinux`).find((p) => existsSync(p));
  it.skipIf(!btf)('reads struct member offsets from BTF (pahole) when the spec needs them', async (ctx) => {
    if ((await execa('pahole', ['--version'], { reject: false })).exitCode !== 0) ctx.skip('pahole is not installed');
    const def = await addKprobeEvent(root, pluginShapes.find((s) => s.name === 'unlink')!, { arch: 'x86_64', btf: btf! });
    expect(def.line).toBe('p:tw/unlink do_unlinkat dfd=%di:s32 pathname=+0(+0(%si)):string comm=$comm:string');
    const e = await twError(addKprobeEvent(root, pluginShapes.find((s) => s.name === 'unlink')!, { arch: 'x86_64', btf: false }));
    expect(e.code).toBe('PROBE_UNSUPPORTED');
  });

  it('a rejected definition quotes error_log', async () => {
    rmSync(join(root, 'kprobe_events'));
    mkdirSync(join(root, 'kprobe_events')); // writing fails like a rejected definition
    const e = await twError(addKprobeEvent(root, sysFiltered, { arch: 'x86_64' }));
    expect(e.code).toBe('PROBE_REJECTED');
    expect(e.message).toContain('p:tw/sys_openat __x64_sys_openat');
    expect(e.message).toContain('error: Invalid fetch argument');
  });

  it('what kprobe events cannot express is PROBE_UNSUPPORTED before anything is written', async () => {
    const e = await twError(addKprobeEvent(root, pluginShapes.find((s) => s.name === 'open_write')!, { arch: 'x86_64' }));
    expect(e.code).toBe('PROBE_UNSUPPORTED');
    expect(readFileSync(join(root, 'kprobe_events'), 'utf8')).toBe('p:kprobes/other vfs_read\n');
  });

  it('removal: eprobes on the event first, disable everywhere, then -:tw/<name>', async () => {
    const unlinkSpec = pluginShapes.find((s) => s.name === 'unlink')!;
    writeFileSync(join(root, 'kprobe_events'), 'p:tw/unlink do_unlinkat dfd=%di:s32\n');
    expect(await removeKprobeEvent(root, unlinkSpec)).toBe(true);
    expect(readFileSync(join(root, 'dynamic_events'), 'utf8')).toMatch(/\n-:eprobes\/on_unlink\n$/);
    expect(readFileSync(join(root, 'events/tw/unlink/enable'), 'utf8')).toBe('0');
    expect(readFileSync(join(root, 'instances/tw-1-0/events/tw/unlink/enable'), 'utf8')).toBe('0');
    expect(readFileSync(join(root, 'kprobe_events'), 'utf8')).toBe('p:tw/unlink do_unlinkat dfd=%di:s32\n-:tw/unlink\n');
    writeFileSync(join(root, 'kprobe_events'), '');
    expect(await removeKprobeEvent(root, unlinkSpec)).toBe(false);
  });
});

describe('modules', () => {
  const ko = join(tmp, 'tw_open_write.ko');
  writeFileSync(ko, 'not really a module');
  const procModules = join(tmp, 'modules');

  it('insmod with params (no shell: each name=value one argument)', async () => {
    const log = join(tmp, 'insmod.log');
    const insmod = script('fake-insmod', `for a in "$@"; do echo "$a"; done > ${log}`);
    const spec = pluginShapes.find((s) => s.name === 'open_write')!;
    expect(await loadModule(ko, { watch_ino: 1234n, watch_dev: 8388609 }, { insmod, spec })).toBe('tw_open_write');
    expect(readFileSync(log, 'utf8')).toBe(`${ko}\nwatch_ino=1234\nwatch_dev=8388609\n`);
  });

  it('rejects params that could smuggle more arguments into the module command line', async () => {
    const insmod = script('fake-insmod2', 'exit 0');
    expect((await twError(loadModule(ko, { watch_ino: '1 evil=2' }, { insmod }))).code).toBe('BAD_ARGUMENT');
    expect((await twError(loadModule(ko, { 'a b': 1 }, { insmod }))).code).toBe('BAD_ARGUMENT');
    const spec = pluginShapes.find((s) => s.name === 'open_write')!;
    expect((await twError(loadModule(ko, { nosuch: 1 }, { insmod, spec }))).message).toContain("no parameter 'nosuch'");
    expect((await twError(loadModule(ko, { watch_dev: -1 }, { insmod, spec }))).message).toContain('out of range');
  });

  it('"could not start" and "failed" are different errors', async () => {
    const start = await twError(loadModule(ko, {}, { insmod: join(tmp, 'no-such-insmod') }));
    expect(start.code).toBe('TOOL_START');
    const failing = script('failing-insmod', 'echo "insmod: ERROR: could not insert module x.ko: File exists" >&2; exit 1');
    const failed = await twError(loadModule(ko, {}, { insmod: failing }));
    expect(failed.code).toBe('MODULE_LOAD');
    expect(failed.message).toContain('File exists');
    expect(failed.message).toContain('already loaded');
  });

  describe('struct mount offsets for path() across mounts', () => {
    // a module that takes them: its .modinfo has parmtype=tw_mnt_parent:uint
    const pathKo = join(tmp, 'tw_pathy.ko');
    writeFileSync(pathKo, Buffer.from('\x7fELF\0parm=tw_mnt_parent:offsetof(struct mount, mnt_parent)\0parmtype=tw_mnt_parent:uint\0name=tw_pathy\0', 'latin1'));
    const btf = join(tmp, 'fake-btf');
    writeFileSync(btf, 'not BTF');
    const mountText = 'struct mount {\n\tstruct hlist_node mnt_hash; /* 0 16 */\n\tstruct mount * mnt_parent; /* 16 8 */\n\tstruct dentry * mnt_mountpoint; /* 24 8 */\n\tstruct vfsmount mnt; /* 32 32 */\n};\n';
    const paholeLog = join(tmp, 'pahole.log');
    const pahole = script('fake-pahole', `echo "$@" >> ${paholeLog}\nprintf '${mountText.replace(/%/g, '%%')}'`);
    const log = join(tmp, 'insmod-mnt.log');
    const insmod = script('fake-insmod-mnt', `for a in "$@"; do echo "$a"; done > ${log}`);
    const args = (): string[] => readFileSync(log, 'utf8').trim().split('\n').slice(1);

    it('reads them from BTF with pahole and passes them after the spec params', async () => {
      rmSync(paholeLog, { force: true });
      const notes: string[] = [];
      expect(await loadModule(pathKo, { watch_ino: 5 }, { insmod, btf, pahole, onNote: (n) => notes.push(n) })).toBe('tw_pathy');
      expect(args()).toEqual(['watch_ino=5', 'tw_mnt_parent=16', 'tw_mnt_mountpoint=24', 'tw_mnt_vfsmount=32']);
      expect(readFileSync(paholeLog, 'utf8')).toBe(`-F btf -C mount ${btf}\n`);
      expect(notes).toEqual([]);
    });

    it('a module without the parameters gets none and pahole does not run', async () => {
      rmSync(paholeLog, { force: true });
      await loadModule(ko, {}, { insmod, btf, pahole });
      expect(args()).toEqual([]);
      expect(existsSync(paholeLog)).toBe(false);
    });

    it('no pahole, no BTF: loads without them and says so in one line', async () => {
      const notes: string[] = [];
      await loadModule(pathKo, {}, { insmod, btf, pahole: join(tmp, 'no-such-pahole'), onNote: (n) => notes.push(n) });
      expect(args()).toEqual([]);
      await loadModule(pathKo, {}, { insmod, btf: join(tmp, 'no-such-btf'), pahole, onNote: (n) => notes.push(n) });
      expect(args()).toEqual([]);
      expect(notes).toEqual([
        `tw_pathy: path() stays inside each file's filesystem (mount points not crossed): no struct mount layout: ${join(tmp, 'no-such-pahole')} is not installed or cannot run`,
        `tw_pathy: path() stays inside each file's filesystem (mount points not crossed): no struct mount layout: no BTF at ${join(tmp, 'no-such-btf')}`,
      ]);
      for (const n of notes) expect(n).not.toContain('\n');
    });

    it('given offsets are checked and passed; false passes none; tw_mnt_* are not user params', async () => {
      await loadModule(pathKo, {}, { insmod, mountOffsets: { parent: 8, mountpoint: 48, vfsmount: 64 } });
      expect(args()).toEqual(['tw_mnt_parent=8', 'tw_mnt_mountpoint=48', 'tw_mnt_vfsmount=64']);
      await loadModule(pathKo, {}, { insmod, btf, pahole, mountOffsets: false });
      expect(args()).toEqual([]);
      const bad = await twError(loadModule(pathKo, {}, { insmod, mountOffsets: { parent: 16, mountpoint: 16, vfsmount: 32 } }));
      expect(bad.code).toBe('BAD_ARGUMENT');
      expect(bad.message).toContain('overlap');
      expect((await twError(loadModule(pathKo, { tw_mnt_parent: 16 }, { insmod }))).message).toContain("tw's own");
    });
  });

  it('rmmod after removing the eprobes attached to the module event', async () => {
    writeFileSync(procModules, 'tw_unlink 16384 0 - Live 0x0000000000000000 (OE)\next4 1 2 - Live 0x0\n');
    const log = join(tmp, 'rmmod.log');
    // records what dynamic_events held when rmmod ran
    const rmmod = script('fake-rmmod', `echo "$@" > ${log}; tail -n 1 ${join(root, 'dynamic_events')} >> ${log}`);
    expect(await isLoaded(pluginShapes.find((s) => s.name === 'unlink')!, { tracefsRoot: root, procModules })).toBe('module');
    expect(await unloadModule('tw_unlink', { tracefsRoot: root, rmmod, procModules })).toBe(true);
    expect(readFileSync(log, 'utf8')).toBe('tw_unlink\n-:eprobes/on_unlink\n');
    expect(await unloadModule('tw_kill', { tracefsRoot: root, rmmod, procModules })).toBe(false);
    const failing = script('failing-rmmod', 'echo "rmmod: ERROR: Module tw_unlink is in use" >&2; exit 1');
    const e = await twError(unloadModule('tw_unlink', { tracefsRoot: root, rmmod: failing, procModules }));
    expect(e.code).toBe('MODULE_LOAD');
    expect(e.message).toContain('in use');
    expect((await twError(unloadModule('tw_x; rm -rf /', { procModules }))).code).toBe('BAD_ARGUMENT');
  });
});
