/** Test helper: a fake Kbuild tree (kernel.release, utsrelease.h, Module.symvers) without compilers. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** a fake Kbuild tree exporting every symbol but `without` */
export function makeFakeTree(tmp: string, without: string[]): string {
  const kdir = join(tmp, without.join('_') || 'all');
  mkdirSync(join(kdir, 'include/config'), { recursive: true });
  mkdirSync(join(kdir, 'include/generated'), { recursive: true });
  writeFileSync(join(kdir, 'include/config/kernel.release'), '9.9.9\n');
  writeFileSync(join(kdir, 'include/generated/utsrelease.h'), '#define UTS_RELEASE "9.9.9-test-amd64"\n');
  const all = ['register_kprobe', 'unregister_kprobe', 'register_kretprobe', 'unregister_kretprobe', '__alloc_percpu', 'free_percpu', 'copy_from_kernel_nofault', 'copy_from_user_nofault', 'memchr', 'memmove', 'sized_strscpy', 'strncmp', 'param_ops_int', 'param_ops_uint', 'param_ops_long', 'param_ops_ulong', 'param_ops_short', 'param_ops_ushort', 'param_ops_bool', 'param_ops_charp'];
  writeFileSync(join(kdir, 'Module.symvers'), all.filter((s) => !without.includes(s)).map((s) => `0x00000000\t${s}\tvmlinux\tEXPORT_SYMBOL_GPL\t\n`).join(''));
  return kdir;
}

