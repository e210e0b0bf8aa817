// The packed layout on its own, against a format file and a record written out by hand (the
// generated code's agreement with it is tested in kprobe-gen).
import { isTwError, LayoutMismatchError } from '@tw/core';
import { describe, expect, it } from 'vitest';
import { checkLayout, fixedEnd, layoutFor, makeUnpacker, readDataLocString } from './layout.js';
import { defineProbe, modelOf, type ProbeSpec } from './spec.js';

/** one field of each alignment class, declared out of record order */
const spec = defineProbe({
  name: 'mixed',
  attach: { kprobe: 'do_unlinkat' },
  args: [
    { name: 'dfd', type: 'int' },
    { name: 'name', type: 'struct filename *' },
  ],
  fields: [
    { name: 'flag', type: 'u8', from: 'dfd & 1' },
    { name: 'path', type: { string: 32 }, from: 'kernel_string(name->name)' },
    { name: 'dfd', type: 's32', from: 'dfd' },
    { name: 'tag', type: { bytes: 3 }, from: '&name->iname' },
    { name: 'refs', type: 'u64', from: 'name->refcnt.counter' },
    { name: 'low', type: 'u16', from: '(u16)dfd' },
    { name: 'pid', type: 'pid', from: 'pid' },
  ],
});

/** what the kernel publishes for it: common header, __probe_ip, then the fields packed */
const FORMAT = [
  'name: mixed',
  'ID: 1500',
  'format:',
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
  '',
  '\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;',
  '\tfield:u64 refs;\toffset:16;\tsize:8;\tsigned:0;',
  '\tfield:__data_loc char[] path;\toffset:24;\tsize:4;\tsigned:0;',
  '\tfield:s32 dfd;\toffset:28;\tsize:4;\tsigned:1;',
  '\tfield:u16 low;\toffset:32;\tsize:2;\tsigned:0;',
  '\tfield:u8 flag;\toffset:34;\tsize:1;\tsigned:0;',
  '\tfield:u8 tag[3];\toffset:35;\tsize:3;\tsigned:0;',
  '',
  'print fmt: "(%lx)", REC->__probe_ip',
  '',
].join('\n');

/** one record of the event at `at` in a 64-byte buffer */
function record(le: boolean, at: number): DataView {
  const v = new DataView(new ArrayBuffer(64));
  v.setUint16(at + 0, 1500, le); //                        common_type
  v.setUint8(at + 2, 0); //                                 common_flags
  v.setUint8(at + 3, 1); //                                 common_preempt_count
  v.setInt32(at + 4, 4321, le); //                          common_pid: the pid field
  v.setBigUint64(at + 8, 0xffff_ffff_8100_0000n, le); //    __probe_ip
  v.setBigUint64(at + 16, 0xfedc_ba98_7654_3210n, le); //   refs
  v.setUint32(at + 24, 40 | (8 << 16), le); //              path: __data_loc, 8 bytes at 40
  v.setInt32(at + 28, -100, le); //                         dfd
  v.setUint16(at + 32, 0xff9c, le); //                      low
  v.setUint8(at + 34, 1); //                                flag
  v.setUint8(at + 35, 7); //                                tag[0]
  v.setUint8(at + 36, 8); //                                tag[1]
  v.setUint8(at + 37, 9); //                                tag[2]
  //                                                        38..39: padding
  new Uint8Array(v.buffer).set(new TextEncoder().encode('/tmp/é\0'), at + 40); // path's bytes, NUL included
  return v;
}

function mismatch(s: ProbeSpec, format: string): LayoutMismatchError {
  try {
    checkLayout(s, format);
  } catch (e) {
    expect(isTwError(e)).toBe(true);
    expect((e as LayoutMismatchError).code).toBe('LAYOUT_MISMATCH');
    return e as LayoutMismatchError;
  }
  throw new Error('layout was accepted');
}

describe('layoutFor', () => {
  it('puts the pid alias in the common header, then __probe_ip, then the fields by decreasing alignment', () => {
    expect(layoutFor(spec)).toEqual([
      { field: 'pid', offset: 4, size: 4, type: 'pid' },
      { field: '__probe_ip', offset: 8, size: 8, type: 'u64' },
      { field: 'refs', offset: 16, size: 8, type: 'u64' },
      { field: 'path', offset: 24, size: 4, type: 'string' },
      { field: 'dfd', offset: 28, size: 4, type: 's32' },
      { field: 'low', offset: 32, size: 2, type: 'u16' },
      { field: 'flag', offset: 34, size: 1, type: 'u8' },
      { field: 'tag', offset: 35, size: 3, type: 'bytes' },
    ]);
    expect(fixedEnd(modelOf(spec))).toBe(38);
  });

  it('a kretprobe has __probe_func and __probe_ret_ip instead of __probe_ip', () => {
    const ret = defineProbe({ name: 'ret', attach: { kretprobe: 'vfs_read', returns: 'long' }, args: [], fields: [{ name: 'ret', type: 's64', from: 'retval' }] });
    expect(layoutFor(ret)).toEqual([
      { field: '__probe_func', offset: 8, size: 8, type: 'u64' },
      { field: '__probe_ret_ip', offset: 16, size: 8, type: 'u64' },
      { field: 'ret', offset: 24, size: 8, type: 's64' },
    ]);
  });

  it('a syscall exit has the return probe header; a tracepoint has __probe_ip', () => {
    const exit = defineProbe({ name: 'ex', attach: { syscall: 'close', returns: 'int' }, args: [{ name: 'fd', type: 'int' }], fields: [{ name: 'ret', type: 's32', from: 'retval' }, { name: 'fd', type: 's32', from: 'fd' }] });
    expect(layoutFor(exit).map((e) => [e.field, e.offset])).toEqual([['__probe_func', 8], ['__probe_ret_ip', 16], ['ret', 24], ['fd', 28]]);
    const tp = defineProbe({ name: 'tp', attach: { tracepoint: 'sched:sched_process_fork' }, args: [{ name: 'child', type: 'pid_t', field: 'child_pid' }], fields: [{ name: 'child', type: 'pid', from: 'child' }] });
    expect(layoutFor(tp).map((e) => [e.field, e.offset])).toEqual([['__probe_ip', 8], ['child', 16]]);
  });
});

describe('checkLayout', () => {
  it('accepts the format the kernel publishes for the layout', () => {
    const fmt = checkLayout(spec, FORMAT);
    expect(fmt.fullName).toBe('tw:mixed');
  });

  it('names the field that moved, with the expected and the actual placement', () => {
    const e = mismatch(spec, FORMAT.replace('field:s32 dfd;\toffset:28;', 'field:s32 dfd;\toffset:30;'));
    expect(e.event).toBe('tw:mixed');
    expect(e.field).toBe('dfd');
    expect(e.expected).toEqual({ offset: 28, size: 4, type: 's32' });
    expect(e.actual).toMatchObject({ offset: 30, size: 4 });
  });

  it('a missing field, a signedness change, a string that is not a string, another event', () => {
    const missing = mismatch(spec, FORMAT.replace(/\tfield:u8 tag\[3\];.*\n/, ''));
    expect(missing.field).toBe('tag');
    expect(missing.actual).toBeNull();
    expect(mismatch(spec, FORMAT.replace('field:s32 dfd;\toffset:28;\tsize:4;\tsigned:1;', 'field:u32 dfd;\toffset:28;\tsize:4;\tsigned:0;')).field).toBe('dfd');
    expect(mismatch(spec, FORMAT.replace('field:__data_loc char[] path;', 'field:u32 path;')).field).toBe('path');
    expect(mismatch(spec, FORMAT.replace('name: mixed', 'name: other')).field).toBe('name');
  });
});

describe('makeUnpacker', () => {
  it.each([true, false])('reads every field where the layout puts it (little-endian: %s), at an offset', (le) => {
    for (const at of [0, 8]) {
      const got = makeUnpacker(spec)(record(le, at), at, le);
      expect({ ...got, tag: [...(got['tag'] as Uint8Array)] }).toEqual({
        pid: 4321,
        refs: 0xfedc_ba98_7654_3210n,
        path: '/tmp/é',
        dfd: -100,
        low: 0xff9c,
        flag: 1,
        tag: [7, 8, 9],
      });
    }
  });

  it('readDataLocString stops at the NUL and at the length the __data_loc gives', () => {
    const v = record(true, 0);
    expect(readDataLocString(v, 0, 24, true)).toBe('/tmp/é');
    v.setUint32(24, 40 | (4 << 16), true); // 4 of the 8 bytes
    expect(readDataLocString(v, 0, 24, true)).toBe('/tmp');
  });
});
