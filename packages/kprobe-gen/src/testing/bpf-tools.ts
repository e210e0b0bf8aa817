/**
 * Why BPF objects cannot be compiled on this machine (tests skip with it), or '' when they can:
 * clang compiles them, bpftool makes vmlinux.h from the kernel's BTF.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { KERNEL_BTF } from '../bpf/vmlinux.js';

function has(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function bpfCompileMissing(): string {
  if (!has('clang', ['--version'])) return 'no clang on PATH (install clang to compile BPF programs)';
  if (!has('bpftool', ['version'])) return 'no bpftool on PATH (it makes vmlinux.h from the kernel BTF)';
  if (!existsSync(KERNEL_BTF)) return `no kernel BTF at ${KERNEL_BTF}`;
  return '';
}
