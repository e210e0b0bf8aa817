/**
 * SubBufferCursor (libtraceevent's kbuffer concept): page header, record headers of every
 * type_len, time keeping, missed-events flags and every malformed-page error, for both
 * endiannesses and both long sizes. Pages are built with SubBufferBuilder (test-bytes.ts); the
 * first tests check the builder itself against hand-assembled bytes so the two cannot share a
 * mistake.
 */
import { describe, expect, it } from 'vitest';
import { thrown } from './test-bytes.js';
import { DecodeError, isTwError } from '../errors.js';
import { SubBufferCursor, compareTs } from './kbuffer.js';
import {
  ALL_ABIS,
  BE32,
  BE64,
  LE32,
  LE64,
  SubBufferBuilder,
  layoutFor,
  type Abi,
} from './test-bytes.js';

const DELTA_MAX = (1 << 27) - 1;

function cursor(abi: Abi, cpu = 0): SubBufferCursor {
  return new SubBufferCursor(layoutFor(abi.littleEndian, abi.longSize), cpu);
}

interface Rec {
  ts: bigint;
  offset: number;
  length: number;
  bytes: number[];
}

/** Every data record of the loaded page, with the cursor's time at each. */
function drain(c: SubBufferCursor): Rec[] {
  const out: Rec[] = [];
  while (c.next()) {
    out.push({
      ts: c.timestamp,
      offset: c.recOffset,
      length: c.recLength,
      bytes: Array.from(c.buf.subarray(c.recOffset, c.recOffset + c.recLength)),
    });
  }
  return out;
}

function decode(abi: Abi, page: Uint8Array): { c: SubBufferCursor; recs: Rec[] } {
  const c = cursor(abi);
  c.load(page, 0, page.length);
  return { c, recs: drain(c) };
}

/** The call throws a DecodeError naming this cpu and file offset, with a message matching `why`. */
function expectDecodeError(fn: () => unknown, cpu: number, offset: number, why: RegExp): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(DecodeError);
  expect(isTwError(e)).toBe(true);
  const d = e as DecodeError;
  expect(d.code).toBe('DECODE');
  expect(d.cpu).toBe(cpu);
  expect(d.offset).toBe(offset);
  expect(d.message).toMatch(why);
  expect(d.message.startsWith(`cpu ${cpu}, offset ${offset}: `)).toBe(true);
}

const bytesOf = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => (seed * 31 + i) & 0xff);

// -------------------------------------------------------------------------------------------

describe('SubBufferBuilder against hand-assembled bytes', () => {
  it('little-endian, 8-byte long: type_len in the low 5 bits of the header word', () => {
    const hand = [
      0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // u64 timestamp = 1000
      0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // commit = 8 data bytes, no flags
      0xa1, 0x00, 0x00, 0x00, //                        header: 5 << 5 | type_len 1
      0xde, 0xad, 0xbe, 0xef, //                        4 bytes of data
    ];
    const built = new SubBufferBuilder(LE64, { size: 64 })
      .pageTimestamp(1000n) //              u64 timestamp
      .data(5, [0xde, 0xad, 0xbe, 0xef]) // type_len 1, delta 5, 4 data bytes
      .build();
    expect(Array.from(built.subarray(0, hand.length))).toEqual(hand);
    const { recs } = decode(LE64, Uint8Array.from([...hand, ...new Array<number>(40).fill(0)]));
    expect(recs).toEqual([{ ts: 1005n, offset: 20, length: 4, bytes: [0xde, 0xad, 0xbe, 0xef] }]);
  });

  it('big-endian, 8-byte long: type_len in the top 5 bits, commit flags in the low half', () => {
    const hand = [
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, // u64 timestamp = 1000
      0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x08, // commit = 8 | missed (bit 31) | stored (bit 30)
      0x08, 0x00, 0x00, 0x05, //                        header: type_len 1 << 27 | delta 5
      0xde, 0xad, 0xbe, 0xef, //                        4 bytes of data
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, // stored missed count = 7
    ];
    const built = new SubBufferBuilder(BE64, { size: 64 })
      .pageTimestamp(1000n) //              u64 timestamp
      .missedStored(7) //                   commit bits 31+30, count after the data
      .data(5, [0xde, 0xad, 0xbe, 0xef]) // type_len 1, delta 5
      .build();
    expect(Array.from(built.subarray(0, hand.length))).toEqual(hand);
    const c = cursor(BE64);
    const page = Uint8Array.from([...hand, ...new Array<number>(32).fill(0)]);
    c.load(page, 0, page.length);
    expect(c.missed).toBe(7);
    expect(c.dataSize).toBe(8);
    expect(drain(c)).toEqual([{ ts: 1005n, offset: 20, length: 4, bytes: [0xde, 0xad, 0xbe, 0xef] }]);
  });

  it('big-endian, 4-byte long: commit is a u32 at 8 and data starts at 12', () => {
    const hand = [
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // u64 timestamp = 2^32 + 2
      0x80, 0x00, 0x00, 0x08, //                        commit = 8 | missed (bit 31)
      0xf8, 0x00, 0x00, 0x00, //                        header: type_len 31 (absolute), delta 0
      0x00, 0x00, 0x00, 0x20, //                        bits 27..58 = 0x20 → 2^32
    ];
    const built = new SubBufferBuilder(BE32, { size: 32 })
      .pageTimestamp(0x1_0000_0002n) // u64 timestamp
      .missedEvents() //                commit bit 31
      .absolute(0x1_0000_0000n) //      type_len 31, 2^32 = 0x20 << 27
      .build();
    expect(Array.from(built.subarray(0, hand.length))).toEqual(hand);
  });

  it('little-endian, 4-byte long: a time extend word pair', () => {
    const hand = [
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // u64 timestamp = 0
      0x08, 0x00, 0x00, 0x00, //                        commit = 8
      0x3e, 0x00, 0x00, 0x00, //                        header: 1 << 5 | type_len 30
      0x02, 0x00, 0x00, 0x00, //                        high part: 2 << 27
    ];
    const built = new SubBufferBuilder(LE32, { size: 32 })
      .pageTimestamp(0n) //      u64 timestamp
      .timeExtend(1, 2) //       type_len 30, delta 1, next word 2
      .build();
    expect(Array.from(built.subarray(0, hand.length))).toEqual(hand);
  });
});

describe('SubBufferCursor construction', () => {
  it('rejects a header_page whose commit size is not the long size', () => {
    const layout = { ...layoutFor(true, 8), longSize: 4 as const };
    expectDecodeError(() => new SubBufferCursor(layout, 5), 5, 0, /commit size 8 does not match the long size 4/);
  });
});

describe.each(ALL_ABIS)('SubBufferCursor, $name', (abi) => {
  const dataOffset = 8 + abi.longSize;
  const page = (size = 4096) => new SubBufferBuilder(abi, { size });

  describe('page header', () => {
    it('an empty page (commit 0) has no records and keeps the page timestamp', () => {
      const c = cursor(abi);
      const p = page(256).pageTimestamp(123_456_789n).build();
      c.load(p, 0, p.length);
      expect(c.dataSize).toBe(0);
      expect(c.missed).toBe(0);
      expect(c.next()).toBe(false);
      expect(c.next()).toBe(false);
      expect(c.timestamp).toBe(123_456_789n);
    });

    it('a page holding only the null padding event has no records', () => {
      const { c, recs } = decode(abi, page(256).pageTimestamp(9n).endPadding().build());
      expect(c.dataSize).toBe(4);
      expect(recs).toEqual([]);
    });

    it('decodes a sub-buffer that is not 4096 bytes (buffer_subbuf_size_kb)', () => {
      const p = page(8192)
        .pageTimestamp(1n)
        .padding(1, 5000) //      a discarded event filling most of the page
        .data(2, [1, 2, 3, 4]) // lies past 4096
        .build();
      expect(p.length).toBe(8192);
      const { recs } = decode(abi, p);
      expect(recs).toEqual([{ ts: 4n, offset: dataOffset + 4 + 5000 + 4, length: 4, bytes: [1, 2, 3, 4] }]);
    });

    it('reads a page at an offset inside a larger buffer that is itself a view', () => {
      const p = page(128)
        .pageTimestamp(77n)
        .data(3, [9, 8, 7, 6, 5]) // type_len 2: 5 bytes + 3 of padding
        .build();
      const backing = new Uint8Array(3 + 40 + 128 + 17);
      const view = backing.subarray(3); // byteOffset 3: the cursor must honour it
      view.set(p, 40);
      const c = cursor(abi);
      c.load(view, 40, 128, 0x2_0000);
      const recs = drain(c);
      expect(recs).toEqual([{ ts: 80n, offset: 40 + dataOffset + 4, length: 8, bytes: [9, 8, 7, 6, 5, 0, 0, 0] }]);
    });

    it('load() resets time, position and missed count from the new page', () => {
      const a = page(128).pageTimestamp(1000n).missedEvents().data(1, [1, 1, 1, 1]).data(1, [2, 2, 2, 2]).build();
      const b = page(128).pageTimestamp(50n).data(2, [3, 3, 3, 3]).build();
      const c = cursor(abi);
      c.load(a, 0, a.length);
      expect(c.missed).toBe(-1);
      expect(c.next()).toBe(true);
      expect(c.timestamp).toBe(1001n);
      c.load(b, 0, b.length);
      expect(c.missed).toBe(0);
      expect(c.timestamp).toBe(50n);
      expect(drain(c)).toEqual([{ ts: 52n, offset: dataOffset + 4, length: 4, bytes: [3, 3, 3, 3] }]);
    });
  });

  describe('record lengths', () => {
    it('type_len 1..28 carries type_len*4 bytes of data after the header', () => {
      const b = page(4096).pageTimestamp(0n);
      let expectTs = 0n;
      const want: Rec[] = [];
      let at = dataOffset;
      for (let t = 1; t <= 28; t++) {
        const delta = (t * 0x123457) & DELTA_MAX; // exercise the high delta bits too
        const payload = bytesOf(t * 4, t);
        b.data(delta, payload); // type_len t, t*4 bytes
        expectTs += BigInt(delta);
        want.push({ ts: expectTs, offset: at + 4, length: t * 4, bytes: payload });
        at += 4 + t * 4;
      }
      const { c, recs } = decode(abi, b.build());
      expect(c.dataSize).toBe(at - dataOffset);
      expect(recs).toEqual(want);
    });

    it('the largest 27-bit delta does not bleed into type_len', () => {
      const { recs } = decode(abi, page(64).pageTimestamp(0n).data(DELTA_MAX, [1, 2, 3, 4, 5, 6, 7, 8]).build());
      expect(recs).toEqual([{ ts: BigInt(DELTA_MAX), offset: dataOffset + 4, length: 8, bytes: [1, 2, 3, 4, 5, 6, 7, 8] }]);
    });

    it('type_len 0: the length word counts itself and the data follows it', () => {
      const big = bytesOf(200, 7);
      const { recs } = decode(
        abi,
        page(512)
          .pageTimestamp(10n)
          .large(4, big) //           type_len 0, length word 204, 200 bytes
          .data(1, [1, 2, 3, 4]) //   a small record after it
          .build(),
      );
      expect(recs).toEqual([
        { ts: 14n, offset: dataOffset + 8, length: 200, bytes: big },
        { ts: 15n, offset: dataOffset + 8 + 200 + 4, length: 4, bytes: [1, 2, 3, 4] },
      ]);
    });

    it('type_len 0: a length that is not a multiple of 4 is rounded up (as kbuffer does)', () => {
      const { recs } = decode(
        abi,
        page(64)
          .pageTimestamp(0n)
          .large(3, [1, 2, 3, 4, 5]) // length word 9: 5 data bytes, padded to 8
          .data(1, [6, 6, 6, 6])
          .build(),
      );
      expect(recs).toEqual([
        { ts: 3n, offset: dataOffset + 8, length: 8, bytes: [1, 2, 3, 4, 5, 0, 0, 0] },
        { ts: 4n, offset: dataOffset + 20, length: 4, bytes: [6, 6, 6, 6] },
      ]);
    });

    it('type_len 0: a length word of exactly 4 is an empty record', () => {
      const { recs } = decode(abi, page(64).pageTimestamp(0n).large(2, []).data(1, [1, 1, 1, 1]).build());
      expect(recs).toEqual([
        { ts: 2n, offset: dataOffset + 8, length: 0, bytes: [] },
        { ts: 3n, offset: dataOffset + 12, length: 4, bytes: [1, 1, 1, 1] },
      ]);
    });
  });

  describe('padding (type_len 29)', () => {
    it('delta 0 ends the page even when bytes follow within the commit', () => {
      const c = cursor(abi);
      const p = page(128)
        .pageTimestamp(100n)
        .data(1, [1, 2, 3, 4]) // the only record
        .endPadding() //          type_len 29, delta 0: the rest of the page is empty
        .data(1, [5, 6, 7, 8]) // never reached
        .build();
      c.load(p, 0, p.length);
      expect(c.dataSize).toBe(8 + 4 + 8);
      expect(drain(c)).toEqual([{ ts: 101n, offset: dataOffset + 4, length: 4, bytes: [1, 2, 3, 4] }]);
      expect(c.next()).toBe(false);
    });

    it('a padding with a length is skipped, and its delta still moves time forward', () => {
      // This mirrors libtraceevent: kbuffer's update_pointers adds the delta of every record
      // header, padding included (a discarded event keeps its time_delta).
      const { recs } = decode(
        abi,
        page(128)
          .pageTimestamp(1000n)
          .data(10, [1, 1, 1, 1]) // t = 1010
          .padding(20, 12) //       discarded: delta 20, length word 12 (itself + 8 bytes)
          .data(5, [2, 2, 2, 2]) // t = 1010 + 20 + 5
          .build(),
      );
      expect(recs).toEqual([
        { ts: 1010n, offset: dataOffset + 4, length: 4, bytes: [1, 1, 1, 1] },
        { ts: 1035n, offset: dataOffset + 8 + 16 + 4, length: 4, bytes: [2, 2, 2, 2] },
      ]);
    });

    it('a padding of exactly 4 (just its length word) is skipped', () => {
      const { recs } = decode(abi, page(64).pageTimestamp(0n).padding(1, 4).data(1, [7, 7, 7, 7]).build());
      expect(recs).toEqual([{ ts: 2n, offset: dataOffset + 8 + 4, length: 4, bytes: [7, 7, 7, 7] }]);
    });
  });

  describe('time keeping', () => {
    it('page timestamp plus the running sum of deltas', () => {
      const { recs } = decode(
        abi,
        page(64)
          .pageTimestamp(1_000_000n)
          .data(0, [1, 0, 0, 0]) // same time as the page
          .data(5, [2, 0, 0, 0])
          .data(7, [3, 0, 0, 0])
          .build(),
      );
      expect(recs.map((r) => r.ts)).toEqual([1_000_000n, 1_000_005n, 1_000_012n]);
    });

    it('a time extend adds (next_u32 << 27) + delta and carries into the high 32 bits', () => {
      const { recs } = decode(
        abi,
        page(64)
          .pageTimestamp(0xffff_fff0n)
          .timeExtend(0x10, 1) // delta 0x10 + (1 << 27)
          .data(3, [1, 0, 0, 0])
          .build(),
      );
      // 0xfffffff0 + 0x08000010 + 3 = 0x1_08000003: the low half overflowed into the high half
      expect(recs).toEqual([{ ts: 0x1_0800_0003n, offset: dataOffset + 12, length: 4, bytes: [1, 0, 0, 0] }]);
    });

    it('the largest time extend (2^59 - 1) is added exactly', () => {
      const { recs } = decode(
        abi,
        page(64)
          .pageTimestamp(1n)
          .timeExtend(DELTA_MAX, 0xffff_ffff) // (0xffffffff << 27) | 0x7ffffff = 2^59 - 1
          .data(0, [1, 0, 0, 0])
          .timeExtendBy(0x0123_4567_89abn) //  another, not a record itself
          .data(2, [2, 0, 0, 0])
          .build(),
      );
      expect(recs.map((r) => r.ts)).toEqual([1n << 59n, (1n << 59n) + 0x0123_4567_89abn + 2n]);
    });

    it('an absolute timestamp replaces the time and keeps its top 5 bits', () => {
      const top5 = 0xf800_0000_0000_0000n;
      const abs = 0x0123_4567_89ab_cdefn; // < 2^59
      const { recs } = decode(
        abi,
        page(64)
          .pageTimestamp(top5 | 0x7_0000_0000_0000n) // bits 59..63 set, plus some below
          .absolute(abs) //     type_len 31: bits 0..58
          .data(4, [1, 0, 0, 0]) // relative to the absolute time
          .build(),
      );
      expect(recs.map((r) => r.ts)).toEqual([(top5 | abs) + 4n]);
    });

    it('an absolute timestamp may move time backwards (it is not a delta)', () => {
      const { recs } = decode(
        abi,
        page(64)
          .pageTimestamp(5_000_000_000n)
          .data(1, [1, 0, 0, 0])
          .absolute(42n) // top 5 bits of 5e9 are 0
          .data(0, [2, 0, 0, 0])
          .build(),
      );
      expect(recs.map((r) => r.ts)).toEqual([5_000_000_001n, 42n]);
    });

    it('a page timestamp above 2^53 loses no precision', () => {
      const base = (1n << 62n) + (1n << 53n) + 1n; // not representable as a double
      const { recs } = decode(
        abi,
        page(64)
          .pageTimestamp(base)
          .data(1, [1, 0, 0, 0])
          .data(DELTA_MAX, [2, 0, 0, 0])
          .build(),
      );
      expect(recs.map((r) => r.ts)).toEqual([base + 1n, base + 1n + BigInt(DELTA_MAX)]);
      expect(recs[0]!.ts).not.toBe(BigInt(Number(base + 1n)));
    });

    it('time wraps modulo 2^64, like the kernel u64', () => {
      const { recs } = decode(abi, page(64).pageTimestamp(0xffff_ffff_ffff_fff0n).data(0x20, [1, 0, 0, 0]).build());
      expect(recs.map((r) => r.ts)).toEqual([0x10n]);
    });
  });

  describe('missed events', () => {
    it('no flag: missed is 0', () => {
      const { c } = decode(abi, page(64).data(1, [1, 2, 3, 4]).build());
      expect(c.missed).toBe(0);
    });

    it('bit 31 alone: events were lost but not counted (-1)', () => {
      const { c, recs } = decode(abi, page(64).missedEvents().data(1, [1, 2, 3, 4]).build());
      expect(c.missed).toBe(-1);
      expect(c.dataSize).toBe(8);
      expect(recs).toHaveLength(1);
    });

    it('bits 31 and 30: the count is the long after the data, and is not a record', () => {
      const { c, recs } = decode(
        abi,
        page(64)
          .missedStored(123_456) // count stored right after the 16 data bytes
          .data(1, [1, 2, 3, 4])
          .data(1, [5, 6, 7, 8])
          .build(),
      );
      expect(c.missed).toBe(123_456);
      expect(c.dataSize).toBe(16);
      expect(recs.map((r) => r.bytes)).toEqual([[1, 2, 3, 4], [5, 6, 7, 8]]);
    });

    it('a stored count can sit in the last bytes of the sub-buffer', () => {
      const size = 64;
      const fill = size - dataOffset - abi.longSize; // data fills everything but the count
      const { c, recs } = decode(abi, page(size).missedStored(3).padding(1, fill - 4).build());
      expect(c.dataSize).toBe(fill);
      expect(c.missed).toBe(3);
      expect(recs).toEqual([]);
    });

    if (abi.longSize === 8) {
      it('a stored count above 2^32 is read as the whole long', () => {
        const { c } = decode(abi, page(64).missedStored(0x2_0000_0007n).data(1, [0, 0, 0, 0]).build());
        expect(c.missed).toBe(0x2_0000_0007);
      });
    }
  });

  describe('malformed pages throw DecodeError naming cpu and file offset', () => {
    const CPU = 3;
    const FILE = 0x1_0000; // where the page was read from
    const loadAt = (p: Uint8Array, size = p.length) => {
      const c = cursor(abi, CPU);
      c.load(p, 0, size, FILE);
      return c;
    };

    it('a record header running past the commit length', () => {
      const p = page(64)
        .data(1, [1, 2, 3, 4]) // fine
        .bytes([0xaa, 0xbb]) //   2 stray bytes: commit = 10, not room for a header
        .build();
      const c = loadAt(p);
      expect(c.next()).toBe(true);
      expectDecodeError(() => c.next(), CPU, FILE + dataOffset + 8, /record header runs past the end of the data/);
    });

    it('a small record running past the commit length', () => {
      const p = page(64)
        .header(3, 0) //          type_len 3: 12 data bytes
        .bytes(bytesOf(12, 1)) // present in the page
        .commitLength(8) //       but the commit covers only 4 of them
        .build();
      expectDecodeError(() => loadAt(p).next(), CPU, FILE + dataOffset, /record of 12 bytes runs past the end of the data/);
    });

    it('a large record whose length word lies past the commit length', () => {
      const p = page(64).header(0, 0).word(8).bytes([1, 2, 3, 4]).commitLength(4).build();
      expectDecodeError(() => loadAt(p).next(), CPU, FILE + dataOffset, /large record header runs past the end of the data/);
    });

    it('a large record whose data runs past the commit length', () => {
      const p = page(256)
        .data(1, [0, 0, 0, 0]) //    one good record first
        .large(0, bytesOf(100, 2)) // 100 bytes
        .commitLength(8 + 8 + 50) // cut in the middle
        .build();
      const c = loadAt(p);
      expect(c.next()).toBe(true);
      expectDecodeError(() => c.next(), CPU, FILE + dataOffset + 8, /record of 100 bytes runs past the end of the data/);
    });

    it.each([0, 1, 3])('a large record with length word %i (< 4, it must count itself)', (word) => {
      const p = page(64).large(0, [1, 2, 3, 4], word).build();
      expectDecodeError(() => loadAt(p).next(), CPU, FILE + dataOffset, new RegExp(`large record has invalid length word ${word}$`));
    });

    it('a padding whose length word lies past the commit length', () => {
      const p = page(64).data(1, [0, 0, 0, 0]).header(29, 5).commitLength(12).build();
      const c = loadAt(p);
      expect(c.next()).toBe(true);
      expectDecodeError(() => c.next(), CPU, FILE + dataOffset + 8, /padding header runs past the end of the data/);
    });

    it('a padding whose length runs past the commit length', () => {
      const p = page(256).padding(5, 100).commitLength(4 + 4 + 20).build();
      expectDecodeError(() => loadAt(p).next(), CPU, FILE + dataOffset, /padding of 100 bytes runs past the end of the data/);
    });

    it.each([0, 2])('a padding with length %i (< 4, it must count itself)', (len) => {
      const p = page(64).header(29, 5).word(len).bytes([0, 0, 0, 0]).build();
      expectDecodeError(() => loadAt(p).next(), CPU, FILE + dataOffset, new RegExp(`padding has invalid length ${len}$`));
    });

    it('a time extend cut by the commit length', () => {
      const p = page(64).data(1, [0, 0, 0, 0]).header(30, 1).commitLength(12).build();
      const c = loadAt(p);
      expect(c.next()).toBe(true);
      expectDecodeError(() => c.next(), CPU, FILE + dataOffset + 8, /time-extend record runs past the end of the data/);
    });

    it('an absolute timestamp cut by the commit length', () => {
      const p = page(64).header(31, 1).commitLength(6).build();
      expectDecodeError(() => loadAt(p).next(), CPU, FILE + dataOffset, /absolute-timestamp record runs past the end of the data/);
    });

    it('a commit length larger than the sub-buffer', () => {
      const size = 128;
      const p = page(size).data(1, [0, 0, 0, 0]).commitLength(size - dataOffset + 1).build();
      expectDecodeError(
        () => loadAt(p),
        CPU,
        FILE,
        new RegExp(`commit says ${size - dataOffset + 1} data bytes but only ${size - dataOffset} fit`),
      );
      // exactly the space available is fine
      const ok = page(size).padding(1, size - dataOffset - 4).build();
      expect(drain(loadAt(ok))).toEqual([]);
    });

    it('a stored missed count past the end of the sub-buffer', () => {
      const p = page(64).missedStored(9).data(1, [1, 2, 3, 4]).build();
      // Load only up to one byte short of the stored count's end.
      const size = dataOffset + 8 + abi.longSize - 1;
      expectDecodeError(() => loadAt(p, size), CPU, FILE + dataOffset + 8, /missed-events count is stored past the end of the sub-buffer/);
    });

    it('a sub-buffer smaller than its header', () => {
      const p = page(64).build();
      expectDecodeError(() => loadAt(p, dataOffset - 1), CPU, FILE, new RegExp(`sub-buffer of ${dataOffset - 1} bytes is smaller than its ${dataOffset}-byte header`));
    });

    it('a sub-buffer extending past the bytes it is said to live in', () => {
      const p = page(64).build();
      const c = cursor(abi, CPU);
      expectDecodeError(() => c.load(p, 8, 64, FILE), CPU, FILE, /sub-buffer of 64 bytes/);
    });

    it('error offsets count from the file offset given to load(), not from the buffer', () => {
      const p = page(64).data(1, [0, 0, 0, 0]).header(3, 0).commitLength(12).build();
      const backing = new Uint8Array(1000);
      backing.set(p, 500);
      const c = cursor(abi, 7);
      c.load(backing, 500, 64, 0x7_0000);
      expect(c.next()).toBe(true);
      expectDecodeError(() => c.next(), 7, 0x7_0000 + dataOffset + 8, /record of 12 bytes runs past/);
    });

    // Regression: the u32 length word must not be truncated to a signed 32-bit int.
    it('a large record with a length word >= 2^31 is reported as running past the data', () => {
      const p = page(64).large(0, [1, 2, 3, 4], 0x8000_0004).build();
      expectDecodeError(() => loadAt(p).next(), CPU, FILE + dataOffset, /runs past the end of the data/);
    });
  });
});

describe('compareTs', () => {
  it('orders by the high half first, then the low half', () => {
    expect(compareTs(1, 0, 0, 0xffff_ffff)).toBeGreaterThan(0);
    expect(compareTs(0, 0xffff_ffff, 1, 0)).toBeLessThan(0);
    expect(compareTs(5, 10, 5, 11)).toBeLessThan(0);
    expect(compareTs(5, 11, 5, 10)).toBeGreaterThan(0);
    expect(compareTs(5, 10, 5, 10)).toBe(0);
  });
});
