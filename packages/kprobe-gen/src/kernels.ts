/**
 * Kernel build trees (Kbuild headers): which release a tree is for, and which trees are
 * installed. The release comes from <kdir>/include/config/kernel.release, so a module built on
 * the host against a guest kernel's headers has the same cache key inside that guest.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { join } from 'node:path';
import { TwError } from '@tw/core';

export interface KernelTree {
  /** the build tree (what make -C gets) */
  readonly kdir: string;
  /** include/config/kernel.release */
  readonly release: string;
  /** UTS_RELEASE from include/generated/utsrelease.h (what uname -r says; the module's vermagic) */
  readonly utsRelease: string;
  readonly arch: 'x86_64' | 'arm64' | 'other';
}

/** The default build tree: /lib/modules/$(uname -r)/build */
export function defaultKdir(): string {
  return `/lib/modules/${osRelease()}/build`;
}

/** Read a build tree's identity; KERNEL_HEADERS when it is not one. */
export function kernelTree(kdir: string): KernelTree {
  const relFile = join(kdir, 'include/config/kernel.release');
  let release: string;
  try {
    release = readFileSync(relFile, 'utf8').trim();
  } catch (e) {
    const hint = existsSync(kdir) ? `${relFile} is missing (not a prepared Kbuild tree)` : `${kdir} does not exist (install the kernel headers, e.g. linux-headers-$(uname -r))`;
    throw new TwError('KERNEL_HEADERS', `no kernel headers at ${kdir}: ${hint}`, { cause: e });
  }
  if (!/^[A-Za-z0-9._+~-]{1,128}$/.test(release)) throw new TwError('KERNEL_HEADERS', `${relFile} holds an unexpected release '${release.slice(0, 60)}'`);
  let utsRelease = release;
  try {
    const m = /#define\s+UTS_RELEASE\s+"([^"]+)"/.exec(readFileSync(join(kdir, 'include/generated/utsrelease.h'), 'utf8'));
    if (m) utsRelease = m[1]!;
  } catch {
    // older trees: kernel.release is the UTS release
  }
  let arch: KernelTree['arch'] = 'other';
  try {
    const cfg = readFileSync(join(kdir, '.config'), 'utf8');
    arch = /^CONFIG_X86_64=y$/m.test(cfg) ? 'x86_64' : /^CONFIG_ARM64=y$/m.test(cfg) ? 'arm64' : 'other';
  } catch {
    arch = process.arch === 'arm64' ? 'arm64' : process.arch === 'x64' ? 'x86_64' : 'other';
  }
  return { kdir, release, utsRelease, arch };
}

/** Every kernel in /lib/modules (or `modulesDir`) with a usable build tree. */
export function listKernelTrees(modulesDir = '/lib/modules'): KernelTree[] {
  let names: string[];
  try {
    names = readdirSync(modulesDir).sort();
  } catch {
    return [];
  }
  const out: KernelTree[] = [];
  for (const n of names) {
    const kdir = join(modulesDir, n, 'build');
    if (!existsSync(join(kdir, 'include/config/kernel.release'))) continue;
    try {
      out.push(kernelTree(kdir));
    } catch {
      // not usable; skip
    }
  }
  return out;
}
