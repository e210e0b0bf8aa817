import { describe, expect, it } from 'vitest';
import { tryRenderBpf } from '../bpf/render-bpf.js';
import { pluginShapes, testSpecs } from '../test-specs.js';
import { INJECTED_OOB, injectOutOfBounds } from './rejected-bpf.js';

describe('injectOutOfBounds (the test-only hook for a program the verifier rejects)', () => {
  const rendered = [...testSpecs, ...pluginShapes].map((s) => ({ name: s.name, c: tryRenderBpf(s) })).filter((r): r is { name: string; c: string } => typeof r.c === 'string');

  it.each(rendered)('puts the read past the record into the main program of $name, once, after its scratch lookup', ({ c }) => {
    const out = injectOutOfBounds(c);
    expect(out.split(INJECTED_OOB)).toHaveLength(2);
    expect(out.replace(INJECTED_OOB, '')).toBe(c);
    expect(out).toContain('\tif (!tw_r)\n\t\treturn 0;\n' + INJECTED_OOB);
  });

  it('refuses C whose main program is not laid out as the template does', () => {
    expect(() => injectOutOfBounds('int x;')).toThrow(/scratch lookup is not where the template puts it/);
  });
});
