/**
 * Syscall number → name for the traced machine's architecture (the trace decides: the UNAME
 * option of a trace.dat, or the running kernel). Unknown numbers stay numbers.
 */
import { ARM64_SYSCALLS, X86_64_SYSCALLS } from './syscall-tables.js';

export type SyscallNamer = (nr: number) => string;

export function syscallTable(arch: string | undefined): readonly string[] | undefined {
  switch (arch) {
    case 'x86_64': case 'amd64':
      return X86_64_SYSCALLS;
    case 'aarch64': case 'arm64':
      return ARM64_SYSCALLS;
    default:
      return undefined;
  }
}

/** A namer for the arch; numbers without a name (or an unknown arch) come back as their decimal text. */
export function syscallNamer(arch: string | undefined): SyscallNamer {
  const table = syscallTable(arch);
  const cache = new Map<number, string>();
  return (nr) => {
    let s = cache.get(nr);
    if (s === undefined) {
      const name = table?.[nr];
      s = name ? name : String(nr);
      cache.set(nr, s);
    }
    return s;
  };
}
