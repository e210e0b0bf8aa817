import { validateProbeSpec } from '@tw/probe-spec';
import { describe, expect, it } from 'vitest';
import { broken, pluginShapes, testSpecs } from './test-specs.js';

// The plugins' shipped specs are validated in test/src/shipped-probes.
describe('test specs', () => {
  it('validate', () => {
    for (const s of [...testSpecs, broken, ...pluginShapes]) expect(validateProbeSpec(s)).toStrictEqual(s);
  });
});
