import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTwError, type TwError } from '@tw/core';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { listKernelTrees } from './kernels.js';
import {
  MOUNT_PARAMS,
  moduleTakesMountOffsets,
  mountOffsetsFromBtf,
  mountOffsetsProblem,
  mountParams,
  specNeedsMountOffsets,
  type MountOffsets,
} from './mount-offsets.js';
import { dentryPath, kitchenSink, pathMix, sysFiltered } from './test-specs.js';
import { PAHOLE_6_12_MOUNT } from './testing/members.js';

const tmp = mkdtempSync(join(tmpdir(), 'tw-mount-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** a fake pahole: prints `stdout` (and `stderr`), exits with `code`; records its arguments */
function fakePahole(name: string, stdout: string, code = 0, stderr = ''): { pahole: string; args: string } {
  const out = join(tmp, `${name}.out`);
  const args = join(tmp, `${name}.args`);
  writeFileSync(out, stdout);
  const pahole = join(tmp, name);
  writeFileSync(pahole, `#!/bin/sh\necho "$@" > ${args}\ncat ${out}\n${stderr ? `echo '${stderr}' >&2\n` : ''}exit ${code}\n`);
  chmodSync(pahole, 0o755);
  return { pahole, args };
}

/** any readable file stands in for the BTF when pahole is a fake */
const btf = join(tmp, 'vmlinux.btf');
writeFileSync(btf, 'not BTF');

async function twError(p: Promise<unknown>): Promise<TwError> {
  try {
    await p;
  } catch (e) {
    expect(isTwError(e), String(e)).toBe(true);
    return e as TwError;
  }
  throw new Error('expected an error');
}

const hasPahole = (await execa('pahole', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;
const RUNNING_BTF = '/sys/kernel/btf/vmlinux';

describe('mountOffsetsProblem (the checks the module makes in tw_init)', () => {
  const ok: MountOffsets = { parent: 16, mountpoint: 24, vfsmount: 32 };
  it('accepts the layout of every kernel since struct mount got mnt_parent first', () => {
    expect(mountOffsetsProblem(ok)).toBeUndefined();
  });
  it.each([
    [{ ...ok, parent: 0 }, 'parent offset 0 is not a positive integer'],
    [{ ...ok, mountpoint: 12 }, 'mountpoint offset 12 is not 8-byte aligned'],
    [{ ...ok, vfsmount: 2024 }, 'vfsmount offset 2024 is beyond 2048 bytes'],
    [{ ...ok, parent: 2048 }, 'parent offset 2048 is beyond 2048 bytes'],
    [{ ...ok, parent: 1.5 }, 'parent offset 1.5 is not a positive integer'],
    [{ ...ok, parent: 24 }, 'parent (24) and mountpoint (24) overlap'],
    [{ ...ok, mountpoint: 48 }, 'mountpoint (48) and vfsmount (32) overlap'],
  ])('rejects %j', (o, why) => {
    expect(mountOffsetsProblem(o)).toBe(why);
  });
  it('names the module parameters', () => {
    expect(mountParams(ok)).toEqual({ tw_mnt_parent: 16, tw_mnt_mountpoint: 24, tw_mnt_vfsmount: 32 });
    expect(Object.values(MOUNT_PARAMS)).toEqual(['tw_mnt_parent', 'tw_mnt_mountpoint', 'tw_mnt_vfsmount']);
  });
});

describe('which modules take the offsets', () => {
  it('specs with a path() of a struct path * or struct file * (not of a dentry, not without path())', () => {
    const byName = Object.fromEntries([kitchenSink, sysFiltered, pathMix, dentryPath].map((s) => [s.name, specNeedsMountOffsets(s)]));
    expect(byName).toEqual({
      ksink: true, // path(retval), retval: struct file *
      sys_openat: false,
      path_mix: true,
      dentry_path: false,
    });
  });

  it('a .ko by its parmtype=tw_mnt_parent: modinfo string', async () => {
    const yes = join(tmp, 'yes.ko');
    const no = join(tmp, 'no.ko');
    writeFileSync(yes, Buffer.from('\x7fELF...\0parm=tw_mnt_parent:offsetof\0parmtype=tw_mnt_parent:uint\0name=tw_x\0', 'latin1'));
    writeFileSync(no, Buffer.from('\x7fELF...\0parmtype=watch_ino:ulong\0name=tw_y\0', 'latin1'));
    expect(await moduleTakesMountOffsets(yes)).toBe(true);
    expect(await moduleTakesMountOffsets(no)).toBe(false);
  });
});

describe('mountOffsetsFromBtf', () => {
  it('reads mnt_parent, mnt_mountpoint and mnt from pahole -F btf -C mount', async () => {
    const { pahole, args } = fakePahole('pahole-612', PAHOLE_6_12_MOUNT);
    expect(await mountOffsetsFromBtf({ btf, pahole })).toEqual({ parent: 16, mountpoint: 24, vfsmount: 32 });
    expect(readFileSync(args, 'utf8')).toBe(`-F btf -C mount ${btf}\n`);
  });

  it('no BTF: FILE_NOT_FOUND; no pahole: TOOL_START', async () => {
    const e1 = await twError(mountOffsetsFromBtf({ btf: join(tmp, 'no-such-btf') }));
    expect(e1.code).toBe('FILE_NOT_FOUND');
    expect(e1.message).toContain('no BTF at');
    const e2 = await twError(mountOffsetsFromBtf({ btf, pahole: join(tmp, 'no-such-pahole') }));
    expect(e2.code).toBe('TOOL_START');
  });

  it('struct mount missing, a member missing or of another type, impossible offsets: PROBE_UNSUPPORTED', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['empty', '', 0, 'struct mount is not in the BTF of'],
      ['failing', '', 1, 'pahole: vmlinux: Invalid argument'],
      ['no-mountpoint', PAHOLE_6_12_MOUNT.replace(/\tstruct dentry \*\s+mnt_mountpoint;.*\n/, ''), 0, 'has no member mnt_mountpoint'],
      ['wrong-type', PAHOLE_6_12_MOUNT.replace('struct mount *             mnt_parent', 'void *                     mnt_parent'), 0, "mnt_parent in"],
      ['overlap', PAHOLE_6_12_MOUNT.replace('mnt_mountpoint;       /*    24', 'mnt_mountpoint;       /*    40'), 0, 'mountpoint (40) and vfsmount (32) overlap'],
    ];
    for (const [name, text, code, why] of cases) {
      const { pahole } = fakePahole(`pahole-${name}`, text, code, code !== 0 ? 'pahole: vmlinux: Invalid argument' : '');
      const e = await twError(mountOffsetsFromBtf({ btf, pahole }));
      expect(e.code, name).toBe('PROBE_UNSUPPORTED');
      expect(e.message, name).toContain(why);
    }
  });

  // the real thing: pahole on this machine's BTF (the running kernel's, and Debian 6.12's vmlinux when its build tree has one)
  it.skipIf(!hasPahole || !existsSync(RUNNING_BTF))(`reads possible offsets from the running kernel's BTF (${RUNNING_BTF})`, async () => {
    const o = await mountOffsetsFromBtf();
    expect(mountOffsetsProblem(o)).toBeUndefined();
    // cross-check with pahole's own answer for the three members
    const r = await execa('pahole', ['-F', 'btf', '-C', 'mount', RUNNING_BTF], { reject: false });
    const at = (member: string): number => Number(new RegExp(`\\s${member};\\s+/\\*\\s+(\\d+)`).exec(r.stdout)?.[1]);
    expect(o).toEqual({ parent: at('mnt_parent'), mountpoint: at('mnt_mountpoint'), vfsmount: at('mnt') });
  });

  const vmlinux612 = listKernelTrees().map((k) => ({ rel: k.utsRelease, file: `${k.kdir}/vmlinux` })).find((k) => k.rel.startsWith('6.12') && existsSync(k.file));
  it.skipIf(!hasPahole || !vmlinux612)(`reads Debian 6.12's offsets from its vmlinux (${vmlinux612?.file ?? 'not installed'})`, async () => {
    expect(await mountOffsetsFromBtf({ btf: vmlinux612!.file })).toEqual({ parent: 16, mountpoint: 24, vfsmount: 32 });
  });
});
