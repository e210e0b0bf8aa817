/**
 * vmlinux.h for compiling CO-RE BPF programs: every kernel type, dumped from a kernel's BTF with
 * `bpftool btf dump file <btf> format c` (execa through run.ts, no shell). Cached by a hash of
 * the BTF file: `$XDG_CACHE_HOME/tw/bpf/vmlinux/<btf sha256>/vmlinux.h`, written atomically
 * (temporary file, rename). The header only has to declare the types the program names; the
 * offsets in the compiled object are relocated to the running kernel's when it is loaded.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BpfBuildError, TwError } from '@tw/core';
import { twCacheDir } from '../cache.js';
import { commandLine, run } from '../run.js';

/** the running kernel's BTF */
export const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

export interface VmlinuxOptions {
  /** the BTF to dump (default /sys/kernel/btf/vmlinux) */
  btf?: string;
  /** default $XDG_CACHE_HOME/tw/bpf/vmlinux */
  cacheDir?: string;
  /** the bpftool program (default "bpftool") */
  bpftool?: string;
}

export interface VmlinuxHeader {
  /** the vmlinux.h file */
  readonly path: string;
  /** sha256 of the BTF it was dumped from (16 hex digits) */
  readonly btfHash: string;
  /** true when it came from the cache and bpftool did not run */
  readonly cached: boolean;
}

export function defaultVmlinuxCacheDir(): string {
  return join(twCacheDir('bpf'), 'vmlinux');
}

/**
 * The vmlinux.h of a BTF file (default: the running kernel's). Throws TwError FILE_NOT_FOUND
 * when the BTF cannot be read, TOOL_START when bpftool cannot be started and
 * BpfBuildError when it fails.
 */
export async function vmlinuxHeader(opts: VmlinuxOptions = {}): Promise<VmlinuxHeader> {
  const btf = resolve(opts.btf ?? KERNEL_BTF);
  let bytes: Buffer;
  try {
    bytes = readFileSync(btf);
  } catch (e) {
    throw new TwError('FILE_NOT_FOUND', `cannot read the kernel's BTF at ${btf} (a kernel built with CONFIG_DEBUG_INFO_BTF has it): ${(e as Error).message}`, { cause: e });
  }
  const btfHash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const dir = join(resolve(opts.cacheDir ?? defaultVmlinuxCacheDir()), btfHash);
  const path = join(dir, 'vmlinux.h');
  if (existsSync(path)) return { path, btfHash, cached: true };

  const bpftool = opts.bpftool ?? 'bpftool';
  const args = ['btf', 'dump', 'file', btf, 'format', 'c'];
  const r = await run(bpftool, args, { timeoutMs: 120_000 });
  if (r.exitCode !== 0 || !r.stdout.includes('#ifndef __VMLINUX_H__')) {
    const command = commandLine(bpftool, args);
    const lines = r.stderr.trim().split('\n').slice(-8).join('\n');
    throw new BpfBuildError(command, r.exitCode, r.stderr, `making vmlinux.h from ${btf} failed (${command} exited with ${r.exitCode})${lines ? `:\n${lines}` : ''}`);
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    writeFileSync(tmp, r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { path, btfHash, cached: false };
}
