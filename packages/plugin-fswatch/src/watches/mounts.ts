/**
 * The device a file's probes see. The probes read the device of the file's superblock
 * (`inode->i_sb->s_dev`). stat(2) does not always report it: overlayfs gives each layer's files a
 * device of their own, btrfs gives each subvolume one. /proc/self/mountinfo lists each mount's
 * superblock device, so the device of a path is that of the mount it lives on.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { encodeKernelDev } from '@tw/probe-spec';

interface Mount {
  point: string;
  dev: number;
}

/** mountinfo escapes space, tab, newline and backslash in paths as \ooo */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mounts of a mountinfo text, in its order (a later mount on the same point hides an earlier one). */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const m = /^(\d+):(\d+)$/.exec(f[2] ?? '');
    if (m === null || f[4] === undefined) continue;
    out.push({ point: unescape(f[4]), dev: encodeKernelDev(Number(m[1]), Number(m[2])) });
  }
  return out;
}

/** The kernel dev_t of the mount an absolute, symlink-free path is on (the deepest mount point over it; the last of equals). */
export function mountDevOf(path: string, mounts: readonly Mount[]): number | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    const over = m.point === '/' || path === m.point || path.startsWith(`${m.point}/`);
    if (over && (best === undefined || m.point.length >= best.point.length)) best = m;
  }
  return best?.dev;
}

/**
 * The kernel dev_t the probes see for an existing file: its mount's superblock device, or
 * `statDev` (the file's st_dev, already in the kernel's encoding) where the mount is not found.
 */
export function probeDevOf(path: string, statDev: number): number {
  try {
    return mountDevOf(realpathSync.native(path), parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))) ?? statDev;
  } catch {
    return statDev;
  }
}
