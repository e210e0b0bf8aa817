import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTwError, type TwError } from '@tw/core';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelTree, listKernelTrees } from './kernels.js';
import { checkSymbols, readSymvers, requiredSymbols } from './symbols.js';
import { broken, kitchenSink, pluginShapes, testSpecs } from './test-specs.js';
import { makeFakeTree } from './test-tree.js';

const spec = (name: string) => pluginShapes.find((s) => s.name === name)!;
const names = (s: Parameters<typeof requiredSymbols>[0]) => requiredSymbols(s).map((r) => r.name);

const tmp = mkdtempSync(join(tmpdir(), 'tw-symvers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const fakeTree = (without: string[]) => makeFakeTree(tmp, without);

describe('kernel symbols the generated code calls', () => {
  it('are derived from what the spec uses', () => {
    expect(names(spec('unlink'))).toEqual(['register_kprobe', 'unregister_kprobe', 'alloc_percpu', 'free_percpu', 'copy_from_kernel_nofault', 'memchr', 'strscpy_pad']);
    expect(names(spec('unlinkat'))).toContain('copy_from_user_nofault');
    expect(names(spec('kill'))).not.toContain('copy_from_user_nofault');
    expect(names(spec('open_write'))).toEqual(expect.arrayContaining(['memmove', 'param_ops_ulong', 'param_ops_uint']));
    expect(names(kitchenSink)).toEqual(expect.arrayContaining(['register_kretprobe', 'unregister_kretprobe', 'strncmp', 'param_ops_charp', 'param_ops_short']));
    for (const s of [...testSpecs, broken]) {
      // not exported to modules on 6.1 (pitfall 1)
      expect(names(s)).not.toContain('strncpy_from_user_nofault');
      expect(names(s)).not.toContain('strncpy_from_kernel_nofault');
      expect(names(s)).not.toContain('kallsyms_lookup_name');
    }
  });

  it('a helper that became a macro over another export is satisfied by either', () => {
    // 6.12: strscpy_pad → sized_strscpy, alloc_percpu → pcpu_alloc_noprof
    expect(requiredSymbols(spec('unlink')).find((r) => r.name === 'alloc_percpu')!.any).toEqual(['__alloc_percpu', 'pcpu_alloc_noprof']);
    expect(() => checkSymbols(spec('unlink'), fakeTree(['__alloc_percpu']))).toThrow(/does not export alloc_percpu \(exported as __alloc_percpu or pcpu_alloc_noprof/);
  });

  it('a missing export is a clear error naming the symbol and the kernel', () => {
    let err: TwError | undefined;
    try {
      checkSymbols(spec('unlinkat'), fakeTree(['copy_from_user_nofault']));
    } catch (e) {
      err = e as TwError;
    }
    expect(isTwError(err)).toBe(true);
    expect(err!.code).toBe('MISSING_SYMBOL');
    expect(err!.message).toContain('kernel 9.9.9-test-amd64');
    expect(err!.message).toContain('does not export copy_from_user_nofault');
    expect(err!.message).toContain("probe 'unlinkat'");
    expect(() => checkSymbols(spec('unlink'), fakeTree(['register_kprobe']))).toThrow(/register_kprobe.*CONFIG_KPROBES/);
  });

  it('no headers: KERNEL_HEADERS', () => {
    expect(() => kernelTree(join(tmp, 'nope'))).toThrow(expect.objectContaining({ code: 'KERNEL_HEADERS' }));
    mkdirSync(join(tmp, 'empty'));
    expect(() => kernelTree(join(tmp, 'empty'))).toThrow(/kernel.release is missing/);
  });

  const trees = listKernelTrees();
  it.skipIf(trees.length === 0)(`the kitchen-sink spec links against each installed kernel (${trees.map((t) => t.utsRelease).join(', ') || 'no kernel headers installed'})`, () => {
    for (const t of trees) {
      expect(readSymvers(t.kdir).get('copy_from_kernel_nofault')).toBe('vmlinux');
      checkSymbols(kitchenSink, t.kdir);
    }
  });
});
