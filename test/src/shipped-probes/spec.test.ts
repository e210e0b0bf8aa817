// The plugins' probe specs are valid specs (kprobe-gen's own test specs: packages/kprobe-gen).
import { analyzeProbeSpec, validateProbeSpec } from '@tw/probe-spec';
import { describe, expect, it } from 'vitest';
import { shipped, shippedSpecs } from '../support/shipped-specs.js';

describe('shipped specs', () => {
  it('validate', () => {
    for (const s of shippedSpecs) expect(validateProbeSpec(s)).toBe(s);
  });

  it('lays the model out with aliases and filter fields', () => {
    const m = analyzeProbeSpec(shipped('open_write'));
    expect(m.kind).toBe('kprobe');
    expect(m.fields.find((f) => f.name === 'pid')!.alias).toBe(true);
    expect([...m.filterFields].sort()).toEqual(['dev', 'ino', 'mode']);
  });
});
