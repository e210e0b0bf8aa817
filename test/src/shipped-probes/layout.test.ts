// The plugins' probe specs: the event formats of the generated module and of the kprobe event
// have the layout the spec gives (kprobe-gen's own test specs: packages/kprobe-gen). A spec only
// BPF can express has no module: its event's format is the one its BPF source declares, made from
// the spec (the BPF C asserts the same offsets when clang compiles it).
import { renderKprobeEvent, renderProbe } from '@tw/kprobe-gen';
import { kprobeFormat, moduleFormat } from '@tw/kprobe-gen/testing';
import { checkLayout, eventFormatText } from '@tw/probe-spec';
import { describe, expect, it } from 'vitest';
import { moduleSpecs, shipped, shippedSpecs } from '../support/shipped-specs.js';

describe('checkLayout', () => {
  it.each(shippedSpecs.map((s) => [s.name, s] as const))('%s: the event format (the module\'s, else the BPF source\'s) matches the expected layout', (_n, spec) => {
    const traceH = moduleSpecs.includes(spec) ? renderProbe(spec).files[`tw_${spec.name}_trace.h`] : undefined;
    const fmt = checkLayout(spec, traceH !== undefined ? moduleFormat(traceH, spec.name) : eventFormatText(spec, 1234));
    expect(fmt.fullName).toBe(`tw:${spec.name}`);
    // and the packed fields end where the kernel's struct would put __data
    const own = fmt.ownFields;
    for (let i = 1; i < own.length; i++) expect(own[i]!.offset).toBe(own[i - 1]!.offset + own[i - 1]!.size);
  });

  it.each([shipped('kill'), shipped('unlinkat'), shipped('sys_kill')].map((s) => [s.name, s] as const))('%s: a kprobe event definition has the same layout', (_n, spec) => {
    const { line } = renderKprobeEvent(spec, { arch: 'x86_64' });
    checkLayout(spec, kprobeFormat(line, spec.name));
  });
});
