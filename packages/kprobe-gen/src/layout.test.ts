import { isTwError, LayoutMismatchError } from '@tw/core';
import { describe, expect, it } from 'vitest';
import { renderKprobeEvent } from './kprobe-events.js';
import { checkLayout, layoutFor } from './layout.js';
import { renderProbe } from './render.js';
import type { ProbeSpec } from './spec.js';
import { shippedSpecs } from './test-shipped.js';
import { testSpecs } from './test-specs.js';

const ALL: ProbeSpec[] = [...shippedSpecs, ...testSpecs];

const HEADER = [
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
  '',
];

const C_TYPES: Record<string, { size: number; signed: boolean }> = {
  'unsigned long': { size: 8, signed: false },
  u64: { size: 8, signed: false }, s64: { size: 8, signed: true },
  u32: { size: 4, signed: false }, s32: { size: 4, signed: true }, pid_t: { size: 4, signed: true },
  u16: { size: 2, signed: false }, s16: { size: 2, signed: true },
  u8: { size: 1, signed: false }, s8: { size: 1, signed: true },
};

/**
 * The format file the kernel would publish for the module's TRACE_EVENT: what
 * trace_define_field() records for each TP_STRUCT__entry item, at the offsets the C compiler
 * gives struct trace_event_raw_<name> (natural alignment after the 8-byte struct trace_entry).
 * An oracle independent of layout.ts: it reads the generated header, not the spec.
 */
function moduleFormat(traceH: string, name: string): string {
  const entry = /TP_STRUCT__entry\(\n([\s\S]*?)\n\t\),/.exec(traceH)![1]!;
  let off = 8;
  const lines = [...HEADER];
  const place = (size: number, align: number): number => {
    off = Math.ceil(off / align) * align;
    const at = off;
    off += size;
    return at;
  };
  for (const raw of entry.split('\n')) {
    const l = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^__field\((.+), (\w+)\)$/.exec(l))) {
      const t = C_TYPES[m[1]!]!;
      lines.push(`\tfield:${m[1]} ${m[2]};\toffset:${place(t.size, t.size)};\tsize:${t.size};\tsigned:${t.signed ? 1 : 0};`);
    } else if ((m = /^__string\((\w+), .+\)$/.exec(l))) {
      lines.push(`\tfield:__data_loc char[] ${m[1]};\toffset:${place(4, 4)};\tsize:4;\tsigned:0;`);
    } else if ((m = /^__array\(u8, (\w+), (\d+)\)$/.exec(l))) {
      lines.push(`\tfield:u8 ${m[1]}[${m[2]}];\toffset:${place(Number(m[2]), 1)};\tsize:${m[2]};\tsigned:0;`);
    } else throw new Error(`unexpected TP_STRUCT__entry line ${l}`);
  }
  return `name: ${name}\nID: 1501\nformat:\n${lines.join('\n')}\n\nprint fmt: "(%lx) …", REC->__probe_ip\n`;
}

/** The format the kernel publishes for a kprobe event: __probe_ip (or func/ret_ip), then the args packed in order. */
function kprobeFormat(line: string, name: string): string {
  const parts = line.split(' ');
  const ret = parts[0]!.startsWith('r');
  const lines = [...HEADER];
  let off = 8;
  for (const h of ret ? ['__probe_func', '__probe_ret_ip'] : ['__probe_ip']) {
    lines.push(`\tfield:unsigned long ${h};\toffset:${off};\tsize:8;\tsigned:0;`);
    off += 8;
  }
  for (const arg of parts.slice(2)) {
    const m = /^(\w+)=.*:(\w+)(?:\[(\d+)\])?$/.exec(arg)!;
    const [, fname, type, count] = m;
    if (type === 'string' || type === 'ustring') {
      lines.push(`\tfield:__data_loc char[] ${fname};\toffset:${off};\tsize:4;\tsigned:1;`);
      off += 4;
    } else {
      const size = Number(type!.slice(1)) / 8;
      const n = count ? Number(count) : 1;
      lines.push(`\tfield:${type} ${fname}${count ? `[${count}]` : ''};\toffset:${off};\tsize:${size * n};\tsigned:${type!.startsWith('s') ? 1 : 0};`);
      off += size * n;
    }
  }
  return `name: ${name}\nID: 1502\nformat:\n${lines.join('\n')}\n\nprint fmt: "(%lx)", REC->__probe_ip\n`;
}

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
  it.each(ALL.map((s) => [s.name, s] as const))('%s: the module event format matches the expected layout', (_n, spec) => {
    const traceH = renderProbe(spec).files[`tw_${spec.name}_trace.h`]!;
    const fmt = checkLayout(spec, moduleFormat(traceH, spec.name));
    expect(fmt.fullName).toBe(`tw:${spec.name}`);
    // and the packed fields end where the kernel's struct would put __data
    const own = fmt.ownFields;
    for (let i = 1; i < own.length; i++) expect(own[i]!.offset).toBe(own[i - 1]!.offset + own[i - 1]!.size);
  });

  it.each([shippedSpecs.find((s) => s.name === 'kill')!, shippedSpecs.find((s) => s.name === 'unlinkat')!, testSpecs[1]!].map((s) => [s.name, s] as const))(
    '%s: a kprobe event definition has the same layout',
    (_n, spec) => {
      const { line } = renderKprobeEvent(spec, { arch: 'x86_64' });
      checkLayout(spec, kprobeFormat(line, spec.name));
    },
  );

  const unlink = shippedSpecs.find((s) => s.name === 'unlink')!;
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
