/**
 * Field readers and JSON writers (libtraceevent's tep_read_number / dynamic field access):
 * every field kind in both endiannesses, on records built with RecordBuilder (one call per
 * field) and parsed formats copied from the running kernel (see test-bytes.ts).
 */
import { describe, expect, it } from 'vitest';
import { thrown } from './test-bytes.js';
import { isTwError, type TwError } from '../errors.js';
import type { Field } from '../format/field.js';
import { parseEventFormat } from '../format/parse-format.js';
import { SubBufferCursor } from './kbuffer.js';
import { jsonSafe, makeFieldJsonWriter, makeFieldReader, readCString, type FieldValue } from './read-field.js';
import {
  FOO_REL_LOC,
  FTRACE_PRINT,
  INTS,
  RecordBuilder,
  SCHED_PROCESS_EXEC,
  SCHED_SWITCH,
  SubBufferBuilder,
  SYS_ENTER,
  SYS_ENTER_32,
  commonFields,
  layoutFor,
} from './test-bytes.js';

function fieldsOf(text: string, longSize: 4 | 8 = 8): Map<string, Field> {
  const f = parseEventFormat(text, 'fixture', 'test', longSize);
  return new Map(f.fields.map((x) => [x.name, x]));
}

function field(fields: Map<string, Field>, name: string): Field {
  const f = fields.get(name);
  if (!f) throw new Error(`no field ${name}`);
  return f;
}

const dvOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Read one field of a record that fills `rec` (or `len` bytes of it). */
function read(fields: Map<string, Field>, name: string, le: boolean, rec: Uint8Array, len = rec.length): FieldValue {
  return makeFieldReader(field(fields, name), le)(dvOf(rec), rec, 0, len);
}

function json(fields: Map<string, Field>, name: string, le: boolean, rec: Uint8Array, len = rec.length): string {
  return makeFieldJsonWriter(field(fields, name), le)(dvOf(rec), rec, 0, len);
}

function expectDecode(fn: () => unknown, why: string): void {
  const e = thrown(fn);
  expect(isTwError(e)).toBe(true);
  expect((e as TwError).code).toBe('DECODE');
  expect((e as TwError).message).toBe(why);
}

const U64_MAX = (1n << 64n) - 1n;
const KPTR = 0xffff_8880_1234_5678n;

const INTS_F = fieldsOf(INTS, 8);
const INTS_F32 = fieldsOf(INTS, 4);
const SWITCH_F = fieldsOf(SCHED_SWITCH);
const EXEC_F = fieldsOf(SCHED_PROCESS_EXEC);
const REL_F = fieldsOf(FOO_REL_LOC, 8);

/** A tw_ints record (see INTS): fixed part 64 bytes, then the two dynamic arrays. */
function intsRecord(le: boolean, v: { s64?: bigint; u64?: bigint; ptr?: bigint } = {}): Uint8Array {
  return commonFields(new RecordBuilder(le), 1501, 42)
    .at(8).u8(-5 & 0xff) //                s8v   = -5
    .at(9).u8(250) //                      u8v   = 250
    .at(10).u16(-30000 & 0xffff) //        s16v  = -30000
    .at(12).u16(65000) //                  u16v  = 65000
    .at(16).u32(-2_000_000_000) //         s32v  = -2e9
    .at(20).u32(4_000_000_000) //          u32v  = 4e9
    .at(24).u64(v.s64 ?? -100n) //         s64v
    .at(32).u64(v.u64 ?? U64_MAX) //       u64v
    .at(40).u64(v.ptr ?? KPTR) //          ptr   (const char *)
    .at(48).u16(0xffff).u16(2).u16(0x8000) // shorts = [-1, 2, -32768]
    .at(56).loc(64, 16) //                 ulongs: 16 bytes at 64
    .at(60).loc(80, 8) //                  s32s: 8 bytes at 80
    .at(64).u64(1n).u64(1n << 63n) //      ulongs data
    .at(80).u32(-1).u32(7) //              s32s data
    .build();
}

describe.each([
  ['little-endian', true],
  ['big-endian', false],
] as const)('field readers, %s', (_name, le) => {
  describe('integers, pointers and arrays', () => {
    const rec = intsRecord(le);

    it('1/2/4-byte integers are numbers, signed or not as the format says', () => {
      expect(rec.length).toBe(88);
      expect(read(INTS_F, 'common_type', le, rec)).toBe(1501);
      expect(read(INTS_F, 'common_pid', le, rec)).toBe(42);
      expect(read(INTS_F, 's8v', le, rec)).toBe(-5);
      expect(read(INTS_F, 'u8v', le, rec)).toBe(250);
      expect(read(INTS_F, 's16v', le, rec)).toBe(-30000);
      expect(read(INTS_F, 'u16v', le, rec)).toBe(65000);
      expect(read(INTS_F, 's32v', le, rec)).toBe(-2_000_000_000);
      expect(read(INTS_F, 'u32v', le, rec)).toBe(4_000_000_000);
    });

    it('8-byte integers and pointers are bigints', () => {
      expect(read(INTS_F, 's64v', le, rec)).toBe(-100n);
      expect(read(INTS_F, 'u64v', le, rec)).toBe(U64_MAX);
      expect(read(INTS_F, 'ptr', le, rec)).toBe(KPTR);
    });

    it('a fixed array of signed shorts', () => {
      expect(read(INTS_F, 'shorts', le, rec)).toEqual([-1, 2, -32768]);
    });

    it('__data_loc arrays: unsigned long elements as bigints (64-bit), signed s32 elements', () => {
      expect(read(INTS_F, 'ulongs', le, rec)).toEqual([1n, 1n << 63n]);
      expect(read(INTS_F, 's32s', le, rec)).toEqual([-1, 7]);
    });

    it('__data_loc unsigned long[] on a 32-bit kernel: 4-byte number elements', () => {
      // the same 16 bytes hold four 4-byte longs
      const lo = le ? [1, 0, 0, 0x8000_0000] : [0, 1, 0x8000_0000, 0];
      expect(read(INTS_F32, 'ulongs', le, rec)).toEqual(lo);
    });

    it('raw_syscalls/sys_enter: unsigned long args[6], 64-bit and 32-bit', () => {
      const r64 = commonFields(new RecordBuilder(le), 443, 1)
        .at(8).u64(59n) //                            id = 59 (execve)
        .at(16).u64(KPTR).u64(U64_MAX).u64(0n).u64(1n).u64(2n).u64(3n) // args
        .build();
      const f64 = fieldsOf(SYS_ENTER, 8);
      expect(read(f64, 'id', le, r64)).toBe(59n);
      expect(read(f64, 'args', le, r64)).toEqual([KPTR, U64_MAX, 0n, 1n, 2n, 3n]);

      const r32 = commonFields(new RecordBuilder(le), 21, 1)
        .at(8).u32(-1) //                             id = -1
        .at(12).u32(0xc000_0000).u32(1).u32(2).u32(3).u32(4).u32(0xffff_ffff) // args
        .build();
      const f32 = fieldsOf(SYS_ENTER_32, 4);
      expect(read(f32, 'id', le, r32)).toBe(-1);
      expect(read(f32, 'args', le, r32)).toEqual([0xc000_0000, 1, 2, 3, 4, 0xffff_ffff]);
    });
  });

  describe('strings', () => {
    /** a sched_switch record with the given comm byte images */
    const switchRecord = (prev: ArrayLike<number>, next: ArrayLike<number>) =>
      commonFields(new RecordBuilder(le), 372, 100)
        .at(8).bytes(prev) //         prev_comm[16]
        .at(24).u32(100) //           prev_pid
        .at(28).u32(120) //           prev_prio
        .at(32).u64(1n) //            prev_state
        .at(40).bytes(next) //        next_comm[16]
        .at(56).u32(0x41414141) //    next_pid: "AAAA" if a reader ran past the comm
        .at(60).u32(-1) //            next_prio
        .build();
    const comm = (s: string, nul = true) => new RecordBuilder(le).str(s, 16, nul).build();

    it('char[16] stops at the first NUL', () => {
      const rec = switchRecord(comm('bash'), comm('swapper/0'));
      expect(read(SWITCH_F, 'prev_comm', le, rec)).toBe('bash');
      expect(read(SWITCH_F, 'next_comm', le, rec)).toBe('swapper/0');
      expect(read(SWITCH_F, 'prev_state', le, rec)).toBe(1n);
      expect(read(SWITCH_F, 'next_prio', le, rec)).toBe(-1);
    });

    it('char[16] with no NUL stops at the field size', () => {
      const rec = switchRecord(comm('kworker/u16:3-ev', false), comm('0123456789abcdef', false));
      expect(read(SWITCH_F, 'prev_comm', le, rec)).toBe('kworker/u16:3-ev');
      expect(read(SWITCH_F, 'next_comm', le, rec)).toBe('0123456789abcdef');
    });

    it('bytes after the NUL inside the field are ignored', () => {
      const rec = switchRecord([0x61, 0x62, 0, 0x63, 0x64, ...new Array<number>(11).fill(0x7a)], comm(''));
      expect(read(SWITCH_F, 'prev_comm', le, rec)).toBe('ab');
      expect(read(SWITCH_F, 'next_comm', le, rec)).toBe('');
    });

    it('non-ASCII UTF-8 in a char[16]', () => {
      const rec = switchRecord(comm('café-😀'), comm('日本語'));
      expect(read(SWITCH_F, 'prev_comm', le, rec)).toBe('café-😀');
      expect(read(SWITCH_F, 'next_comm', le, rec)).toBe('日本語');
    });

    /** a sched_process_exec record whose filename bytes are at 20 with locator length `n` */
    const execRecord = (bytes: ArrayLike<number>, n = bytes.length) =>
      commonFields(new RecordBuilder(le), 365, 7)
        .at(8).loc(20, n) //     filename: n bytes at 20
        .at(12).u32(7) //        pid
        .at(16).u32(6) //        old_pid
        .at(20).bytes(bytes) //  the string data
        .align4()
        .build();
    const utf8z = (s: string) => [...Buffer.from(s, 'utf8'), 0];

    it('__data_loc char[]: the locator gives offset (low 16 bits) and length (high 16 bits)', () => {
      const rec = execRecord(utf8z('/usr/bin/ls'));
      expect(read(EXEC_F, 'filename', le, rec)).toBe('/usr/bin/ls');
      expect(read(EXEC_F, 'pid', le, rec)).toBe(7);
      expect(read(EXEC_F, 'old_pid', le, rec)).toBe(6);
    });

    it('__data_loc char[] stops at NUL within its length, and at its length without one', () => {
      expect(read(EXEC_F, 'filename', le, execRecord([...utf8z('/bin/sh'), 0x41, 0x42]))).toBe('/bin/sh');
      // length 4 of "/bin/sh": no NUL within the locator's length
      expect(read(EXEC_F, 'filename', le, execRecord(utf8z('/bin/sh'), 4))).toBe('/bin');
      expect(read(EXEC_F, 'filename', le, execRecord([], 0))).toBe('');
    });

    it('__data_loc char[] with non-ASCII UTF-8 and with a long ASCII path', () => {
      expect(read(EXEC_F, 'filename', le, execRecord(utf8z('/tmp/naïve-目录/😀.sh')))).toBe('/tmp/naïve-目录/😀.sh');
      const long = `/opt/${'x'.repeat(120)}/bin`;
      expect(read(EXEC_F, 'filename', le, execRecord(utf8z(long)))).toBe(long);
    });

    it('__rel_loc: the offset counts from the end of the locator field, not the record start', () => {
      const rec = commonFields(new RecordBuilder(le), 1500, 9)
        .at(8).loc(40 - 12, 6) //     foo: data at 40, locator ends at 12
        .at(12).u32(-3) //            bar
        .at(16).loc(48 - 20, 16) //   bitmask: two longs at 48, locator ends at 20
        .at(20).loc(64 - 24, 6) //    ports: three u16 at 64, locator ends at 24
        .at(28).str('WRONG') //       what an offset from the record start would find (28)
        .at(40).str('hello').align4() // foo data
        .at(48).u64(0x8000_0000_0000_0001n).u64(2n) // bitmask data
        .at(64).u16(80).u16(443).u16(8080) // ports data
        .align4()
        .build();
      expect(read(REL_F, 'foo', le, rec)).toBe('hello');
      expect(read(REL_F, 'bar', le, rec)).toBe(-3);
      expect(read(REL_F, 'bitmask', le, rec)).toEqual([0x8000_0000_0000_0001n, 2n]);
      expect(read(REL_F, 'ports', le, rec)).toEqual([80, 443, 8080]);
    });

    // A zero-sized char[] (ftrace/print's `char buf[]`, trace_marker text) holds the rest of
    // the record, as libtraceevent reads it.
    it('ftrace/print char buf[] (size 0) reads the rest of the record', () => {
      const f = fieldsOf(FTRACE_PRINT);
      const rec = commonFields(new RecordBuilder(le), 5, 1234)
        .at(8).u64(0xffff_ffff_8100_0000n) // ip
        .at(16).str('hello from trace_marker\n') // buf[]
        .align4()
        .build();
      expect(read(f, 'buf', le, rec)).toBe('hello from trace_marker\n');
    });
  });

  describe('records decoded out of a sub-buffer', () => {
    it('reads fields at the cursor position, not at the start of the buffer', () => {
      const rec = commonFields(new RecordBuilder(le), 372, 55)
        .at(8).str('first', 16) //   prev_comm
        .at(24).u32(55) //           prev_pid
        .at(28).u32(120) //          prev_prio
        .at(32).u64(0x402n) //       prev_state
        .at(40).str('second', 16) // next_comm
        .at(56).u32(66) //           next_pid
        .at(60).u32(98) //           next_prio
        .build();
      for (const longSize of [4, 8] as const) {
        const page = new SubBufferBuilder({ littleEndian: le, longSize }, { size: 256 })
          .pageTimestamp(5_000n) //     u64 timestamp
          .data(1, [1, 2, 3, 4]) //     an unrelated record first
          .data(9, rec) //              type_len 16: the sched_switch record
          .build();
        const c = new SubBufferCursor(layoutFor(le, longSize), 2);
        c.load(page, 0, page.length);
        expect(c.next()).toBe(true);
        expect(c.next()).toBe(true);
        expect(c.timestamp).toBe(5_010n);
        const at = (name: string) => makeFieldReader(field(SWITCH_F, name), le)(c.dv, c.buf, c.recOffset, c.recLength);
        expect(c.recOffset).toBe(8 + longSize + 8 + 4);
        expect(at('common_type')).toBe(372);
        expect(at('prev_comm')).toBe('first');
        expect(at('prev_state')).toBe(0x402n);
        expect(at('next_comm')).toBe('second');
        expect(at('next_pid')).toBe(66);
      }
    });
  });

  describe('JSON writer', () => {
    const w = (name: string, rec: Uint8Array) => json(INTS_F, name, le, rec);
    const s64 = (v: bigint) => w('s64v', intsRecord(le, { s64: v }));
    const u64 = (v: bigint) => w('u64v', intsRecord(le, { u64: v }));

    it('8-byte signed values inside 53 bits print as numbers', () => {
      expect(s64(-100n)).toBe('-100');
      expect(s64(-1n)).toBe('-1');
      expect(s64(0n)).toBe('0');
      expect(s64(-(1n << 32n))).toBe('-4294967296');
      expect(s64(-(1n << 32n) - 1n)).toBe('-4294967297');
      expect(s64((1n << 53n) - 1n)).toBe('9007199254740991');
      expect(s64(-((1n << 53n) - 1n))).toBe('-9007199254740991');
    });

    it('8-byte signed values outside 53 bits print as quoted decimal strings', () => {
      expect(s64(1n << 53n)).toBe('"9007199254740992"');
      expect(s64(-(1n << 53n) - 1n)).toBe('"-9007199254740993"');
      expect(s64((1n << 63n) - 1n)).toBe('"9223372036854775807"');
      expect(s64(-(1n << 63n))).toBe('"-9223372036854775808"');
    });

    it('8-byte unsigned values: numbers up to 2^53 - 1, quoted above', () => {
      expect(u64(0n)).toBe('0');
      expect(u64((1n << 32n) + 5n)).toBe('4294967301');
      expect(u64((1n << 53n) - 1n)).toBe('9007199254740991');
      expect(u64(1n << 53n)).toBe('"9007199254740992"');
      expect(u64(1n << 63n)).toBe('"9223372036854775808"');
      expect(u64(U64_MAX)).toBe('"18446744073709551615"');
      expect(u64(-100n)).toBe('"18446744073709551516"'); // the same bits, unsigned
    });

    it('8-byte pointers are unsigned', () => {
      expect(w('ptr', intsRecord(le))).toBe('"18446612682375452280"');
      expect(w('ptr', intsRecord(le, { ptr: 0x1000n }))).toBe('4096');
    });

    it('other kinds: numbers, strings and arrays as JSON', () => {
      const rec = intsRecord(le);
      expect(w('s8v', rec)).toBe('-5');
      expect(w('u32v', rec)).toBe('4000000000');
      expect(w('shorts', rec)).toBe('[-1,2,-32768]');
      expect(w('ulongs', rec)).toBe('[1,"9223372036854775808"]');
      expect(w('s32s', rec)).toBe('[-1,7]');
      const sw = commonFields(new RecordBuilder(le), 372, 1).at(8).str('a"b\\c', 16).at(24).zeros(40).build();
      expect(json(SWITCH_F, 'prev_comm', le, sw)).toBe('"a\\"b\\\\c"');
    });

    it('agrees with jsonSafe(reader value) for every INTS field', () => {
      for (const v of [0n, -100n, (1n << 53n) - 1n, 1n << 53n, -(1n << 53n) - 1n, U64_MAX, 1n << 63n]) {
        const rec = intsRecord(le, { s64: v, u64: v, ptr: v });
        for (const f of INTS_F.values()) {
          const fromWriter: unknown = JSON.parse(json(INTS_F, f.name, le, rec));
          expect({ field: f.name, v: fromWriter }).toEqual({ field: f.name, v: jsonSafe(read(INTS_F, f.name, le, rec)) });
        }
      }
    });
  });

  describe('reads never go past the record length', () => {
    it('a scalar past the end', () => {
      const rec = intsRecord(le);
      expectDecode(() => read(INTS_F, 's64v', le, rec, 30), "field 's64v' needs bytes 24..32 of a 30-byte record");
      expectDecode(() => json(INTS_F, 's64v', le, rec, 30), "field 's64v' needs bytes 24..32 of a 30-byte record");
      expectDecode(() => read(INTS_F, 'u16v', le, rec, 13), "field 'u16v' needs bytes 12..14 of a 13-byte record");
      expectDecode(() => json(INTS_F, 'u16v', le, rec, 13), "field 'u16v' needs bytes 12..14 of a 13-byte record");
      expect(read(INTS_F, 'u16v', le, rec, 14)).toBe(65000); // exactly enough
    });

    it('a fixed string or array past the end', () => {
      const rec = intsRecord(le);
      expectDecode(() => read(SWITCH_F, 'next_comm', le, rec, 50), "field 'next_comm' needs bytes 40..56 of a 50-byte record");
      expectDecode(() => read(INTS_F, 'shorts', le, rec, 53), "field 'shorts' needs bytes 48..54 of a 53-byte record");
    });

    it('a dynamic locator past the end', () => {
      const rec = intsRecord(le);
      expectDecode(() => read(INTS_F, 's32s', le, rec, 62), "field 's32s' needs bytes 60..64 of a 62-byte record");
    });

    it('a locator pointing past the end of the record (checked against the record, not the buffer)', () => {
      // The record is 88 bytes inside a larger buffer: bytes after it are not the record's.
      const rec = intsRecord(le);
      const big = new Uint8Array(4096);
      big.set(rec, 100);
      const rd = makeFieldReader(field(INTS_F, 'ulongs'), le);
      expect(rd(dvOf(big), big, 100, 88)).toEqual([1n, 1n << 63n]);
      expectDecode(() => rd(dvOf(big), big, 100, 79), "field 'ulongs' needs bytes 64..80 of a 79-byte record");
      const str = makeFieldReader(field(EXEC_F, 'filename'), le);
      const exec = commonFields(new RecordBuilder(le), 365, 1).at(8).loc(0xfff0, 8).at(12).u32(1).u32(1).build();
      const big2 = new Uint8Array(0x10000 + 64);
      big2.set(exec, 0);
      expectDecode(() => str(dvOf(big2), big2, 0, exec.length), "field 'filename' needs bytes 65520..65528 of a 20-byte record");
    });

    it('a __rel_loc pointing past the end (offset counted from the end of the locator)', () => {
      const rec = commonFields(new RecordBuilder(le), 1500, 1)
        .at(8).loc(20, 8) //  foo: 8 bytes at 12 + 20 = 32
        .at(12).u32(0)
        .at(16).loc(0, 0)
        .at(20).loc(0, 0)
        .at(24).zeros(12) //  36 bytes in all
        .build();
      expectDecode(() => read(REL_F, 'foo', le, rec), "field 'foo' needs bytes 32..40 of a 36-byte record");
    });
  });
});

describe('readCString', () => {
  const b = (...xs: number[]) => Uint8Array.from(xs);

  it('stops at NUL or at max', () => {
    expect(readCString(b(0x61, 0x62, 0, 0x63), 0, 4)).toBe('ab');
    expect(readCString(b(0x61, 0x62, 0x63, 0x64), 1, 2)).toBe('bc');
    expect(readCString(b(0x61), 0, 0)).toBe('');
    expect(readCString(b(0, 0x61), 0, 2)).toBe('');
  });

  it('reads from a view with a non-zero byteOffset', () => {
    const backing = Uint8Array.from(Buffer.from('XXXXhello\0world', 'latin1'));
    const view = backing.subarray(4);
    expect(readCString(view, 0, 11)).toBe('hello');
    expect(readCString(view, 6, 5)).toBe('world');
    const long = Uint8Array.from(Buffer.from(`XXXX${'a'.repeat(100)}\0`, 'latin1')).subarray(4);
    expect(readCString(long, 0, 200)).toBe('a'.repeat(100));
    const utf = Uint8Array.from(Buffer.from('XXXXé😀\0', 'utf8')).subarray(4);
    expect(readCString(utf, 0, 20)).toBe('é😀');
  });

  it('invalid UTF-8 bytes become U+FFFD', () => {
    expect(readCString(b(0x41, 0xff, 0x42, 0), 0, 4)).toBe('A\ufffdB');
  });
});

describe('jsonSafe', () => {
  it('turns bigints into numbers within ±(2^53 - 1) and into strings outside', () => {
    expect(jsonSafe(5n)).toBe(5);
    expect(jsonSafe(9007199254740991n)).toBe(9007199254740991);
    expect(jsonSafe(-9007199254740991n)).toBe(-9007199254740991);
    expect(jsonSafe(9007199254740992n)).toBe('9007199254740992');
    expect(jsonSafe(-9007199254740993n)).toBe('-9007199254740993');
  });

  it('maps arrays element by element and leaves other values alone', () => {
    expect(jsonSafe([1n, 1n << 63n, -2])).toEqual([1, '9223372036854775808', -2]);
    expect(jsonSafe('x')).toBe('x');
    expect(jsonSafe(3)).toBe(3);
  });
});

describe('makeFieldReader on a field no format can declare', () => {
  it('an integer of 3 bytes is refused when the reader is made', () => {
    const f: Field = { type: 'int', name: 'x', offset: 0, size: 3, signed: false, kind: 'int', elementSize: 3, arrayLength: 0, common: false };
    const e = thrown(() => makeFieldReader(f, true));
    expect(isTwError(e)).toBe(true);
    expect((e as TwError).code).toBe('FORMAT_PARSE');
  });
});
