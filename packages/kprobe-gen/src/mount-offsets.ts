/**
 * The struct mount offsets a module needs for path() across mounts. struct mount (fs/mount.h)
 * is private to the VFS: it embeds the public struct vfsmount (`mnt`) and links a mount to its
 * parent (`mnt_parent`) and to the dentry it is mounted on (`mnt_mountpoint`), but no header
 * gives its layout, so a module cannot be compiled against it. tw reads the three offsets from
 * the running kernel's BTF with pahole when it loads the module and passes them as the module
 * parameters tw_mnt_parent, tw_mnt_mountpoint and tw_mnt_vfsmount. The module checks them the
 * same way mountOffsetsProblem does; without them (all 0) its paths stay inside each file's
 * filesystem.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { TwError } from '@tw/core';
import { modelOf, type ProbeSpec } from '@tw/probe-spec';
import { structFromBtf, type BtfOptions } from './btf-members.js';
import { crossesMounts } from './desugar.js';
import { moduleUnsupported } from './render-c.js';

export interface MountOffsets {
  /** offsetof(struct mount, mnt_parent): a struct mount * */
  readonly parent: number;
  /** offsetof(struct mount, mnt_mountpoint): a struct dentry * */
  readonly mountpoint: number;
  /** offsetof(struct mount, mnt): the embedded struct vfsmount */
  readonly vfsmount: number;
}

/** The module parameter of each offset (what `modinfo` lists as parm). */
export const MOUNT_PARAMS = {
  parent: 'tw_mnt_parent',
  mountpoint: 'tw_mnt_mountpoint',
  vfsmount: 'tw_mnt_vfsmount',
} as const satisfies Record<keyof MountOffsets, string>;

/** No member of struct mount lies this far in (it is a few hundred bytes); the module's TW_MOUNT_SPAN. */
export const MOUNT_SPAN = 2048;

/** sizeof(struct vfsmount) on 64-bit kernels since 5.12 (mnt_root, mnt_sb, mnt_flags, mnt_idmap/mnt_userns). */
const VFSMOUNT_SIZE = 32;
const PTR = 8;

/**
 * Why these offsets cannot be struct mount's, or undefined when they can: the checks the module
 * makes in tw_init (inside MOUNT_SPAN, pointer-aligned, two pointers and a struct vfsmount that
 * do not overlap, none 0).
 */
export function mountOffsetsProblem(o: MountOffsets, vfsmountSize = VFSMOUNT_SIZE): string | undefined {
  for (const k of ['parent', 'mountpoint', 'vfsmount'] as const) {
    const v = o[k];
    if (!Number.isInteger(v) || v <= 0) return `${k} offset ${String(v)} is not a positive integer`;
    if (v % PTR !== 0) return `${k} offset ${v} is not ${PTR}-byte aligned`;
    if (v + (k === 'vfsmount' ? vfsmountSize : PTR) > MOUNT_SPAN) return `${k} offset ${v} is beyond ${MOUNT_SPAN} bytes`;
  }
  const spans: Array<[string, number, number]> = [
    ['parent', o.parent, PTR],
    ['mountpoint', o.mountpoint, PTR],
    ['vfsmount', o.vfsmount, vfsmountSize],
  ];
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const [an, a, al] = spans[i]!;
      const [bn, b, bl] = spans[j]!;
      if (a < b + bl && b < a + al) return `${an} (${a}) and ${bn} (${b}) overlap`;
    }
  }
  return undefined;
}

/** The insmod parameters for a set of offsets. */
export function mountParams(o: MountOffsets): Record<string, number> {
  return { [MOUNT_PARAMS.parent]: o.parent, [MOUNT_PARAMS.mountpoint]: o.mountpoint, [MOUNT_PARAMS.vfsmount]: o.vfsmount };
}

/** Does the spec's module take the offsets (a path() of a struct path * or struct file *, or the cwd)? A spec with no module takes none. */
export function specNeedsMountOffsets(spec: ProbeSpec): boolean {
  const m = modelOf(spec);
  return moduleUnsupported(m) === undefined && crossesMounts(m);
}

/**
 * Does this .ko take the offsets? Looks for the `parmtype=tw_mnt_parent:` string of its
 * .modinfo section (an uncompressed module, as buildModule makes them).
 */
export async function moduleTakesMountOffsets(ko: string): Promise<boolean> {
  const bytes = await readFile(ko);
  return bytes.includes(`parmtype=${MOUNT_PARAMS.parent}:`, 0, 'latin1');
}

/**
 * Read the offsets from a kernel's BTF (default /sys/kernel/btf/vmlinux, the running kernel's)
 * with `pahole -F btf -C mount`. Throws TwError: TOOL_START (pahole cannot be started),
 * FILE_NOT_FOUND (no such BTF), PROBE_UNSUPPORTED (struct mount is not in it, lacks one of the
 * members, or their offsets or types are not what the module can use).
 */
export async function mountOffsetsFromBtf(opts: BtfOptions = {}): Promise<MountOffsets> {
  const btf = opts.btf ?? '/sys/kernel/btf/vmlinux';
  try {
    await access(btf, constants.R_OK);
  } catch (e) {
    throw new TwError('FILE_NOT_FOUND', `no BTF at ${btf}${btf === '/sys/kernel/btf/vmlinux' ? ' (the kernel has no CONFIG_DEBUG_INFO_BTF)' : ''}`, { cause: e });
  }
  const got = await structFromBtf('struct mount', opts);
  if ('missing' in got) throw new TwError('PROBE_UNSUPPORTED', got.missing);
  const want: Array<[keyof MountOffsets, string, string]> = [
    ['parent', 'mnt_parent', 'struct mount *'],
    ['mountpoint', 'mnt_mountpoint', 'struct dentry *'],
    ['vfsmount', 'mnt', 'struct vfsmount'],
  ];
  const out: Partial<Record<keyof MountOffsets, number>> = {};
  let vfsmountSize = VFSMOUNT_SIZE;
  for (const [key, member, type] of want) {
    const info = got.members[member];
    if (!info) throw new TwError('PROBE_UNSUPPORTED', `struct mount in ${btf} has no member ${member}`);
    if (info.type !== type) throw new TwError('PROBE_UNSUPPORTED', `struct mount's ${member} in ${btf} is ${info.type}, not ${type}`);
    out[key] = info.offset;
    if (key === 'vfsmount') vfsmountSize = info.size;
  }
  const offsets = out as MountOffsets;
  const problem = mountOffsetsProblem(offsets, vfsmountSize);
  if (problem) throw new TwError('PROBE_UNSUPPORTED', `struct mount in ${btf}: ${problem}`);
  return offsets;
}
