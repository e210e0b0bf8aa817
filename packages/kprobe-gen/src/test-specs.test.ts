import { analyzeProbeSpec, validateProbeSpec } from '@tw/probe-spec';
import { describe, expect, it } from 'vitest';
import { shippedSpecs } from './test-shipped.js';
import { broken, testSpecs } from './test-specs.js';

describe('shipped and test specs', () => {
  it('validate', () => {
    for (const s of [...shippedSpecs, ...testSpecs, broken]) expect(validateProbeSpec(s)).toBe(s);
  });

  it('lays the model out with aliases and filter fields', () => {
    const m = analyzeProbeSpec(shippedSpecs.find((p) => p.name === 'open_write'));
    expect(m.kind).toBe('kprobe');
    expect(m.fields.find((f) => f.name === 'pid')!.alias).toBe(true);
    expect([...m.filterFields].sort()).toEqual(['dev', 'ino', 'mode']);
  });
});
