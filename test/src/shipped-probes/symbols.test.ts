// The kernel symbols the plugins' generated modules call: none that 6.1 keeps from modules, and
// every one exported by each installed kernel (kprobe-gen's own test specs: packages/kprobe-gen).
// Specs only BPF can express have no module: they call nothing.
import { checkSymbols, listKernelTrees, requiredSymbols } from '@tw/kprobe-gen';
import { describe, expect, it } from 'vitest';
import { moduleSpecs } from '../support/shipped-specs.js';

const names = (s: Parameters<typeof requiredSymbols>[0]) => requiredSymbols(s).map((r) => r.name);

describe('kernel symbols the generated code of the shipped specs calls', () => {
  it('are all exported to modules', () => {
    for (const s of moduleSpecs) {
      // not exported to modules on 6.1 (pitfall 1)
      expect(names(s)).not.toContain('strncpy_from_user_nofault');
      expect(names(s)).not.toContain('strncpy_from_kernel_nofault');
      expect(names(s)).not.toContain('kallsyms_lookup_name');
    }
  });

  const trees = listKernelTrees();
  it.skipIf(trees.length === 0)(`every shipped spec links against each installed kernel (${trees.map((t) => t.utsRelease).join(', ') || 'no kernel headers installed'})`, () => {
    for (const t of trees) {
      for (const s of moduleSpecs) checkSymbols(s, t.kdir);
    }
  });
});
