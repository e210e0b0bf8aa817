// Which of the plugins' generated modules take struct mount's offsets at load (path() across
// mounts); kprobe-gen's own test specs: packages/kprobe-gen.
import { specNeedsMountOffsets } from '@tw/kprobe-gen';
import { describe, expect, it } from 'vitest';
import { shippedSpecs } from '../support/shipped-specs.js';

describe('which modules take the offsets', () => {
  it('specs with a module and a path() of a struct path * or struct file *, or the cwd (not of a dentry, not without either)', () => {
    const byName = Object.fromEntries(shippedSpecs.map((s) => [s.name, specNeedsMountOffsets(s)]));
    expect(byName).toEqual({
      unlink: false,
      unlink_cwd: true, // cwd: fs->pwd, a struct path
      unlinkat: false,
      // syscall exits: no module (BPF only, as openat_write)
      sys_unlinkat: false,
      sys_unlink: false,
      sys_rmdir: false,
      sys_rename: false,
      sys_renameat: false,
      sys_renameat2: false,
      open_write: true, // path(path), path: const struct path *
      openat_write: false, // no module: BPF only (its fd_path walks mounts with BPF CO-RE)
      sys_write: false,
      sys_pwrite64: false,
      sys_writev: false,
      sys_ftruncate: false,
      sys_truncate: false,
      sys_fchmodat: false,
      sys_fchownat: false,
      sys_utimensat: false,
      sys_fchmod: false,
      sys_fchown: false,
      kill: false,
      sys_kill: false,
    });
  });
});
