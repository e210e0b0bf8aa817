import { isTwError, LayoutMismatchError } from '@tw/core';
import { checkLayout, layoutFor, type ProbeSpec } from '@tw/probe-spec';
import { describe, expect, it } from 'vitest';
import { renderKprobeEvent } from './kprobe-events.js';
import { renderProbe } from './render.js';
import { pluginShapes, testSpecs } from './test-specs.js';
import { kprobeFormat, moduleFormat } from './testing/formats.js';

function mismatch(spec: ProbeSpec, format: string): LayoutMismatchError {
  try {
    checkLayout(spec, format);
  } catch (e) {
    expect(isTwError(e)).toBe(true);
    expect((e as LayoutMismatchError).code).toBe('LAYOUT_MISMATCH');
    return e as LayoutMismatchError;
  }
  throw new Error('layout was accepted');
}

describe('checkLayout', () => {
  it.each(testSpecs.map((s) => [s.name, s] as const))('%s: the module event format matches the expected layout', (_n, spec) => {
    const traceH = renderProbe(spec).files[`tw_${spec.name}_trace.h`]!;
    const fmt = checkLayout(spec, moduleFormat(traceH, spec.name));
    expect(fmt.fullName).toBe(`tw:${spec.name}`);
    // and the packed fields end where the kernel's struct would put __data
    const own = fmt.ownFields;
    for (let i = 1; i < own.length; i++) expect(own[i]!.offset).toBe(own[i - 1]!.offset + own[i - 1]!.size);
  });

  it.each([pluginShapes.find((s) => s.name === 'kill')!, pluginShapes.find((s) => s.name === 'unlinkat')!, testSpecs[1]!].map((s) => [s.name, s] as const))(
    '%s: a kprobe event definition has the same layout',
    (_n, spec) => {
      const { line } = renderKprobeEvent(spec, { arch: 'x86_64' });
      checkLayout(spec, kprobeFormat(line, spec.name));
    },
  );

  const unlink = pluginShapes.find((s) => s.name === 'unlink')!;
  const good = () => moduleFormat(renderProbe(unlink).files['tw_unlink_trace.h']!, 'unlink');

  it('detects a moved field', () => {
    const e = mismatch(unlink, good().replace('field:s32 dfd;\toffset:16;', 'field:s32 dfd;\toffset:20;'));
    expect(e.event).toBe('tw:unlink');
    expect(e.field).toBe('dfd');
    expect(e.expected).toEqual({ offset: 16, size: 4, type: 's32' });
    expect(e.actual).toMatchObject({ offset: 20, size: 4 });
    expect(e.message).toContain("field 'dfd': expected offset 16 size 4 (s32), the kernel's format has offset 20 size 4");
  });

  it('detects a resized field, a missing field, a changed signedness, a string that is not a string', () => {
    expect(mismatch(unlink, good().replace('field:s32 dfd;\toffset:16;\tsize:4;', 'field:s64 dfd;\toffset:16;\tsize:8;')).field).toBe('dfd');
    const missing = mismatch(unlink, good().replace(/\tfield:__data_loc char\[\] pathname;.*\n/, ''));
    expect(missing.field).toBe('pathname');
    expect(missing.actual).toBeNull();
    expect(mismatch(unlink, good().replace('field:s32 dfd;\toffset:16;\tsize:4;\tsigned:1;', 'field:u32 dfd;\toffset:16;\tsize:4;\tsigned:0;')).field).toBe('dfd');
    expect(mismatch(unlink, good().replace('field:__data_loc char[] comm;', 'field:u32 comm;')).field).toBe('comm');
    expect(mismatch(unlink, good().replace('field:int common_pid;\toffset:4;', 'field:int common_pid;\toffset:8;')).field).toBe('pid');
    expect(mismatch(unlink, good().replace('name: unlink', 'name: unlink2')).field).toBe('name');
  });

  it('a u32 alias of common_pid is fine with the signed int common_pid', () => {
    const s: ProbeSpec = { ...unlink, name: 'unlink', fields: [...unlink.fields.filter((f) => f.name !== 'pid'), { name: 'pid', type: 'u32', from: 'pid' }] };
    expect(() => checkLayout(s, good())).not.toThrow();
  });

  it('layoutFor: header, alias and payload entries', () => {
    expect(layoutFor(unlink)).toEqual([
      { field: 'pid', offset: 4, size: 4, type: 'pid' },
      { field: '__probe_ip', offset: 8, size: 8, type: 'u64' },
      { field: 'dfd', offset: 16, size: 4, type: 's32' },
      { field: 'pathname', offset: 20, size: 4, type: 'string' },
      { field: 'comm', offset: 24, size: 4, type: 'string' },
    ]);
    const ks = layoutFor(testSpecs[0]!);
    expect(ks.slice(0, 3).map((e) => e.field)).toEqual(['pid', '__probe_func', '__probe_ret_ip']);
    // decreasing alignment: u64/s64, then 4-byte, 2-byte, 1-byte
    const sizes = ks.slice(3).map((e) => (e.type === 'string' ? 4 : e.type === 'bytes' ? 1 : e.size));
    expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
  });
});
