/**
 * Merger (k-way merge of per-CPU streams by 64-bit timestamp) and CpuStream (page source →
 * cursor, missed-event accounting), over in-memory page sources built with SubBufferBuilder.
 */
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import type { PageSource } from './page-source.js';
import { CpuStream } from './cpu-stream.js';
import { Merger } from './merge.js';
import { ALL_ABIS, BE64, LE64, SubBufferBuilder, layoutFor, type Abi } from './test-bytes.js';

const PAGE = 128;

/**
 * Pages held in memory. `contiguous`: all pages back to back in one buffer (like a FilePages
 * window); otherwise each page is its own Uint8Array (so the cursor must switch buffers).
 */
class MemPages implements PageSource {
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  size = 0;
  fileOffset = 0;
  private i = -1;
  private readonly whole: Uint8Array;

  constructor(
    private readonly pages: readonly Uint8Array[],
    private readonly contiguous = true,
    private readonly base = 0x1000,
  ) {
    const total = pages.reduce((n, p) => n + p.length, 0);
    this.whole = new Uint8Array(total);
    let at = 0;
    for (const p of pages) {
      this.whole.set(p, at);
      at += p.length;
    }
  }

  next(): boolean {
    if (this.i + 1 >= this.pages.length) return false;
    this.i++;
    const page = this.pages[this.i]!;
    const at = this.pages.slice(0, this.i).reduce((n, p) => n + p.length, 0);
    if (this.contiguous) {
      this.buf = this.whole;
      this.start = at;
    } else {
      this.buf = page;
      this.start = 0;
    }
    this.size = page.length;
    this.fileOffset = this.base + at;
    return true;
  }
}

/** One page whose records carry [cpu, seq] payloads, at absolute times `times` (ascending). */
function pageAt(abi: Abi, cpu: number, pageTs: bigint, times: readonly bigint[], seq0: number): Uint8Array {
  const b = new SubBufferBuilder(abi, { size: PAGE }).pageTimestamp(pageTs);
  let now = pageTs;
  times.forEach((t, i) => {
    let d = t - now;
    if (d >= 1n << 27n) {
      b.timeExtendBy(d); // type_len 30: the whole gap
      d = 0n;
    }
    b.data(Number(d), [cpu, seq0 + i, 0, 0]); // type_len 1, payload [cpu, seq]
    now = t;
  });
  return b.build();
}

interface Out {
  cpu: number;
  ts: bigint;
  seq: number;
}

function mergeAll(streams: CpuStream[]): Out[] {
  const m = new Merger(streams);
  const out: Out[] = [];
  for (let s = m.next(); s; s = m.next()) {
    const c = s.cursor;
    // the payload says which stream and record it is: check it agrees with the stream returned
    expect(c.buf[c.recOffset]).toBe(s.cpu);
    out.push({ cpu: s.cpu, ts: c.timestamp, seq: c.buf[c.recOffset + 1]! });
  }
  expect(m.next()).toBeUndefined();
  return out;
}

const stream = (abi: Abi, cpu: number, pages: Uint8Array[], contiguous = true) =>
  new CpuStream(cpu, '', new MemPages(pages, contiguous), layoutFor(abi.littleEndian, abi.longSize));

describe.each(ALL_ABIS)('Merger, $name', (abi) => {
  it('interleaves three streams by timestamp across several pages each', () => {
    const s0 = stream(abi, 0, [pageAt(abi, 0, 5n, [10n, 40n], 0), pageAt(abi, 0, 60n, [70n], 2)]);
    const s1 = stream(abi, 1, [pageAt(abi, 1, 0n, [20n, 50n, 80n], 0)], false);
    const s2 = stream(abi, 2, [
      pageAt(abi, 2, 30n, [30n], 0),
      new SubBufferBuilder(abi, { size: PAGE }).pageTimestamp(35n).build(), // an empty page
      pageAt(abi, 2, 55n, [60n, 90n], 1),
    ]);
    expect(mergeAll([s0, s1, s2])).toEqual([
      { cpu: 0, ts: 10n, seq: 0 },
      { cpu: 1, ts: 20n, seq: 0 },
      { cpu: 2, ts: 30n, seq: 0 },
      { cpu: 0, ts: 40n, seq: 1 },
      { cpu: 1, ts: 50n, seq: 1 },
      { cpu: 2, ts: 60n, seq: 1 },
      { cpu: 0, ts: 70n, seq: 2 },
      { cpu: 1, ts: 80n, seq: 2 },
      { cpu: 2, ts: 90n, seq: 2 },
    ]);
    expect([s0.pages, s1.pages, s2.pages]).toEqual([2, 1, 3]);
  });
});

describe('Merger ordering', () => {
  const abi = LE64;

  it('equal timestamps go to the stream added first (not the lowest cpu), keeping each stream in order', () => {
    const s0 = stream(abi, 0, [pageAt(abi, 0, 100n, [100n, 200n], 0)]);
    const s1 = stream(abi, 1, [pageAt(abi, 1, 100n, [100n, 200n], 0)]);
    const s2 = stream(abi, 2, [pageAt(abi, 2, 100n, [100n, 100n, 200n], 0)]);
    // added in the order s2, s0, s1
    expect(mergeAll([s2, s0, s1])).toEqual([
      { cpu: 2, ts: 100n, seq: 0 },
      { cpu: 2, ts: 100n, seq: 1 },
      { cpu: 0, ts: 100n, seq: 0 },
      { cpu: 1, ts: 100n, seq: 0 },
      { cpu: 2, ts: 200n, seq: 2 },
      { cpu: 0, ts: 200n, seq: 1 },
      { cpu: 1, ts: 200n, seq: 1 },
    ]);
  });

  it('compares the high 32 bits before the low ones', () => {
    const s0 = stream(abi, 0, [pageAt(abi, 0, 0x1_0000_0005n, [0x1_0000_0005n, 0x2_0000_0001n], 0)]);
    const s1 = stream(abi, 1, [pageAt(abi, 1, 0xffff_fff0n, [0xffff_fff0n, 0x1_0000_0004n, 0x1_ffff_ffffn], 0)]);
    const s2 = stream(abi, 2, [pageAt(abi, 2, 0x2_0000_0000n, [0x2_0000_0000n], 0)]);
    expect(mergeAll([s0, s1, s2]).map((o) => [o.cpu, o.ts])).toEqual([
      [1, 0xffff_fff0n],
      [1, 0x1_0000_0004n], // crossed 2^32 by a delta within the page
      [0, 0x1_0000_0005n],
      [1, 0x1_ffff_ffffn],
      [2, 0x2_0000_0000n],
      [0, 0x2_0000_0001n], // reached by a time extend
    ]);
  });

  it('empty streams: no pages, only empty pages, only a null padding', () => {
    const none = stream(abi, 0, []);
    const emptyPages = stream(abi, 1, [
      new SubBufferBuilder(abi, { size: PAGE }).pageTimestamp(1n).build(),
      new SubBufferBuilder(abi, { size: PAGE }).pageTimestamp(2n).build(),
    ]);
    const onlyPadding = stream(abi, 2, [new SubBufferBuilder(abi, { size: PAGE }).pageTimestamp(3n).endPadding().build()]);
    const real = stream(abi, 3, [pageAt(abi, 3, 0n, [5n, 6n], 0)]);
    expect(mergeAll([none, emptyPages, onlyPadding, real])).toEqual([
      { cpu: 3, ts: 5n, seq: 0 },
      { cpu: 3, ts: 6n, seq: 1 },
    ]);
    expect([none.pages, emptyPages.pages, onlyPadding.pages]).toEqual([0, 2, 1]);
  });

  it('all streams empty, or no streams at all', () => {
    expect(mergeAll([stream(abi, 0, []), stream(abi, 1, [new SubBufferBuilder(abi, { size: PAGE }).build()])])).toEqual([]);
    const m = new Merger([]);
    expect(m.next()).toBeUndefined();
    expect(m.next()).toBeUndefined();
  });

  it('matches a stable sort on many records with frequent ties (5 streams, 60 records each)', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const order = [3, 0, 4, 1, 2]; // the order streams are added in
    const expected: Array<{ rank: number; cpu: number; ts: bigint; seq: number }> = [];
    const streams = order.map((cpu, rank) => {
      const pages: Uint8Array[] = [];
      let t = BigInt(rnd() % 4) + 0xffff_ff00n; // start just below 2^32
      let seq = 0;
      for (let p = 0; p < 6; p++) {
        const times: bigint[] = [];
        for (let i = 0; i < 10; i++) {
          t += BigInt(rnd() % 3) * 16n; // 0, 16 or 32: many exact ties across streams
          times.push(t);
          expected.push({ rank, cpu, ts: t, seq: seq + i });
        }
        pages.push(pageAt(BE64, cpu, times[0]!, times, seq));
        seq += 10;
      }
      return stream(BE64, cpu, pages, rank % 2 === 0);
    });
    expected.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.rank - b.rank || a.seq - b.seq));
    const got = mergeAll(streams);
    expect(got).toHaveLength(300);
    expect(got).toEqual(expected.map(({ cpu, ts, seq }) => ({ cpu, ts, seq })));
  });
});

describe('CpuStream', () => {
  it('loads pages as records run out and carries cpu and buffer name', () => {
    const src = new MemPages([pageAt(LE64, 4, 10n, [11n], 0), pageAt(LE64, 4, 20n, [21n, 22n], 1)]);
    const s = new CpuStream(4, 'inst', src, layoutFor(true, 8));
    expect(s.cpu).toBe(4);
    expect(s.buffer).toBe('inst');
    expect(s.cursor.cpu).toBe(4);
    expect(s.pages).toBe(0);
    expect(s.advance()).toBe(true);
    expect([s.pages, s.cursor.timestamp]).toEqual([1, 11n]);
    expect(s.advance()).toBe(true);
    expect([s.pages, s.cursor.timestamp]).toEqual([2, 21n]);
    expect(s.advance()).toBe(true);
    expect(s.cursor.timestamp).toBe(22n);
    expect(s.advance()).toBe(false);
    expect(s.advance()).toBe(false);
    expect(s.pages).toBe(2);
  });

  it.each([LE64, BE64])('accounts lost events per page: stored counts add up, unknown ones are counted ($name)', (abi) => {
    const pg = () => new SubBufferBuilder(abi, { size: PAGE });
    const s = stream(abi, 0, [
      pg().pageTimestamp(1n).missedStored(5).data(0, [0, 0, 0, 0]).build(), //   5 lost
      pg().pageTimestamp(2n).missedEvents().build(), //                           some lost, an empty page
      pg().pageTimestamp(3n).missedStored(7).data(0, [0, 1, 0, 0]).build(), //   7 lost
      pg().pageTimestamp(4n).data(0, [0, 2, 0, 0]).build(), //                    none
      pg().pageTimestamp(5n).missedEvents().data(0, [0, 3, 0, 0]).build(), //    some lost
    ]);
    expect(s.advance()).toBe(true); // first page only: accounting is per page loaded
    expect([s.lost, s.lostUnknown, s.pages]).toEqual([5, 0, 1]);
    expect(s.advance()).toBe(true); // skipped the empty page 2, now in page 3
    expect([s.lost, s.lostUnknown, s.pages]).toEqual([12, 1, 3]);
    expect(s.cursor.timestamp).toBe(3n);
    while (s.advance());
    expect([s.lost, s.lostUnknown, s.pages]).toEqual([12, 2, 5]);
  });

  it('a malformed page surfaces as a DecodeError with the page source file offset', () => {
    const bad = new SubBufferBuilder(LE64, { size: PAGE }).header(3, 0).commitLength(8).build();
    const s = new CpuStream(6, '', new MemPages([pageAt(LE64, 6, 0n, [1n], 0), bad], true, 0x4000), layoutFor(true, 8));
    expect(s.advance()).toBe(true);
    let err: unknown;
    try {
      s.advance();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DecodeError);
    expect(err).toMatchObject({ code: 'DECODE', cpu: 6, offset: 0x4000 + PAGE + 16 });
  });
});
