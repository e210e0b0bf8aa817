/**
 * BpfPages: source records → sub-buffers, checked by decoding what it builds with tw's own
 * SubBufferCursor (the decoder every trace goes through): exact timestamps, event ids and
 * payloads, time extends across large gaps, page boundaries, order per CPU, every ABI.
 */
import { describe, expect, it } from 'vitest';
import { isTwError } from '../errors.js';
import { SubBufferCursor } from '../decode/kbuffer.js';
import { ALL_ABIS, LE64, headerPageFor, layoutFor, thrown, type Abi } from '../decode/test-bytes.js';
import { BpfPages, walkBatch, type PageLayout } from './bpf-pages.js';

const error = (fn: () => unknown): Error => thrown(fn) as Error;

const PAGE = 4096;

interface Rec {
  ts: bigint;
  cpu: number;
  /** index into the source's events (its common_type) */
  index: number;
  pid: number;
  /** payload after the common header */
  payload: number[];
}

/** A batch in the source framing (u64 ts, u32 cpu, u32 len, common header + payload, pad to 8). */
function batch(recs: readonly Rec[], le = true): Uint8Array {
  const size = recs.reduce((n, r) => n + 16 + Math.ceil((8 + r.payload.length) / 8) * 8, 0);
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  let pos = 0;
  for (const r of recs) {
    const len = 8 + r.payload.length;
    dv.setBigUint64(pos, r.ts, le); // ts
    dv.setUint32(pos + 8, r.cpu, le); // cpu
    dv.setUint32(pos + 12, len, le); // len
    dv.setUint16(pos + 16, r.index, le); // common_type: the event's index
    dv.setUint8(pos + 18, 1); // flags
    dv.setUint8(pos + 19, 2); // preempt
    dv.setInt32(pos + 20, r.pid, le); // pid
    b.set(r.payload, pos + 24); // payload
    pos += 16 + Math.ceil(len / 8) * 8;
  }
  return b;
}

function geometry(abi: Abi = LE64): PageLayout {
  return { littleEndian: abi.littleEndian, longSize: abi.longSize, header: headerPageFor(abi.longSize), subbufSize: PAGE };
}

interface Decoded {
  cpu: number;
  ts: bigint;
  id: number;
  pid: number;
  length: number;
  payload: number[];
}

/** Build, then decode every emitted page (copies: the builder reuses its pages). */
function build(abi: Abi, batches: readonly Uint8Array[], ids: readonly number[]): { pages: Array<{ cpu: number; page: Uint8Array }>; records: Decoded[] } {
  const pages: Array<{ cpu: number; page: Uint8Array }> = [];
  const b = new BpfPages(geometry(abi), (cpu, page) => pages.push({ cpu, page: page.slice() }));
  for (const x of batches) b.addBatch(x, ids);
  b.flush();
  const records: Decoded[] = [];
  for (const { cpu, page } of pages) {
    const c = new SubBufferCursor(layoutFor(abi.littleEndian, abi.longSize), cpu);
    c.load(page, 0, page.length);
    expect(c.missed).toBe(0);
    while (c.next()) {
      const rec = page.subarray(c.recOffset, c.recOffset + c.recLength);
      records.push({
        cpu,
        ts: c.timestamp,
        id: c.dv.getUint16(c.recOffset, abi.littleEndian),
        pid: c.dv.getInt32(c.recOffset + 4, abi.littleEndian),
        length: c.recLength,
        payload: [...rec.subarray(8)],
      });
    }
  }
  return { pages, records };
}

const bytes = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => (seed + i * 7) & 0xff);
const padTo4 = (p: number[]): number[] => [...p, ...new Array<number>((4 - ((8 + p.length) % 4)) % 4).fill(0)];

describe('BpfPages', () => {
  for (const abi of ALL_ABIS) {
    it(`${abi.name}: exact timestamps, ids and payloads, small and long records, per CPU`, () => {
      const base = 1_234_567_890_123_456_789n; // > 2^53: no double rounding anywhere
      const recs: Rec[] = [
        { ts: base, cpu: 0, index: 0, pid: 10, payload: bytes(16, 1) },
        { ts: base + 5n, cpu: 1, index: 1, pid: 11, payload: bytes(3, 2) }, // 11 bytes: padded to 12
        { ts: base + 7n, cpu: 0, index: 1, pid: 12, payload: bytes(200, 3) }, // > 112 bytes: type_len 0
        { ts: base + 7n, cpu: 0, index: 0, pid: 13, payload: bytes(104, 4) }, // exactly 112 bytes
        { ts: base + 1000n, cpu: 1, index: 0, pid: 14, payload: [] }, // the common header alone
      ];
      const { pages, records } = build(abi, [batch(recs, abi.littleEndian)], [0xff00, 0xff01]);
      expect(pages.map((p) => p.cpu)).toEqual([0, 1]);
      const want = (r: Rec) => ({ cpu: r.cpu, ts: r.ts, id: 0xff00 + r.index, pid: r.pid, payload: padTo4(r.payload) });
      expect(records.map(({ length, ...r }) => r)).toEqual([recs[0]!, recs[2]!, recs[3]!, recs[1]!, recs[4]!].map(want));
      expect(records.map((r) => r.length)).toEqual([24, 208, 112, 12, 8]);
    });
  }

  it('time extends carry gaps of 2^27 ns and more exactly (seconds, hours, 2^50 ns)', () => {
    const t0 = 5_000_000_000n;
    const gaps = [(1n << 27n) - 1n, 1n << 27n, 1_000_000_000n, 3_600_000_000_000n, 1n << 50n, 1n];
    const recs: Rec[] = [{ ts: t0, cpu: 2, index: 0, pid: 1, payload: bytes(8, 0) }];
    for (const g of gaps) recs.push({ ts: recs[recs.length - 1]!.ts + g, cpu: 2, index: 0, pid: recs.length + 1, payload: bytes(8, recs.length) });
    for (const abi of ALL_ABIS) {
      const { pages, records } = build(abi, [batch(recs, abi.littleEndian)], [7]);
      expect(pages).toHaveLength(1); // one page: the gaps are time extends, not new pages
      expect(records.map((r) => r.ts)).toEqual(recs.map((r) => r.ts));
      // the bytes hold the time extend records (type_len 30) the decoder went through
      const dv = new DataView(pages[0]!.page.buffer);
      const first = headerPageFor(abi.longSize).dataOffset + 4 + 16; // after the first record
      const word = dv.getUint32(first, abi.littleEndian);
      expect(abi.littleEndian ? word & 31 : word >>> 27).toBe(4); // 2^27 - 1 fits a plain delta: a data record (16 bytes: type_len 4)
      const second = first + 4 + 16;
      const w2 = dv.getUint32(second, abi.littleEndian);
      expect(abi.littleEndian ? w2 & 31 : w2 >>> 27).toBe(30);
    }
  });

  it('fills a sub-buffer to its end, then starts the next one at the next record (header time = that record)', () => {
    // 48-byte payloads: 4 + 56 bytes a record, 68 to a 4080-byte data area
    const n = 200;
    const recs: Rec[] = Array.from({ length: n }, (_, i) => ({ ts: 10_000n + BigInt(i) * 1000n, cpu: 3, index: 0, pid: i, payload: bytes(48, i) }));
    const { pages, records } = build(LE64, [batch(recs)], [42]);
    expect(pages).toHaveLength(3);
    expect(records).toHaveLength(n);
    expect(records.map((r) => r.ts)).toEqual(recs.map((r) => r.ts));
    expect(records.map((r) => r.pid)).toEqual(recs.map((r) => r.pid));
    const dv = (p: Uint8Array) => new DataView(p.buffer);
    expect(pages.map((p) => dv(p.page).getBigUint64(0, true))).toEqual([recs[0]!.ts, recs[68]!.ts, recs[136]!.ts]);
    expect(pages.map((p) => dv(p.page).getUint32(8, true))).toEqual([68 * 60, 68 * 60, 64 * 60]); // commit: data bytes
  });

  it('puts a batch in time order per CPU; a record older than its CPU page starts a new page, its time exact', () => {
    const recs: Rec[] = [
      { ts: 300n, cpu: 0, index: 0, pid: 3, payload: [] },
      { ts: 100n, cpu: 0, index: 0, pid: 1, payload: [] },
      { ts: 50n, cpu: 1, index: 0, pid: 9, payload: [] },
      { ts: 200n, cpu: 0, index: 0, pid: 2, payload: [] },
    ];
    const later: Rec[] = [
      { ts: 250n, cpu: 0, index: 0, pid: 4, payload: [] }, // older than the 300 written before
      { ts: 400n, cpu: 0, index: 0, pid: 5, payload: [] },
    ];
    const pages: Array<{ cpu: number; ts: bigint[] }> = [];
    const b = new BpfPages(geometry(), (cpu, page) => {
      const c = new SubBufferCursor(layoutFor(true, 8), cpu);
      c.load(page, 0, page.length);
      const ts: bigint[] = [];
      while (c.next()) ts.push(c.timestamp);
      pages.push({ cpu, ts });
    });
    expect(b.addBatch(batch(recs), [1])).toBe(4);
    b.addBatch(batch(later), [1]);
    b.flush();
    expect(pages).toEqual([
      { cpu: 0, ts: [100n, 200n, 300n] },
      { cpu: 0, ts: [250n, 400n] },
      { cpu: 1, ts: [50n] },
    ]);
  });

  it('flush() hands over part-filled pages once; the next record opens a fresh page', () => {
    const got: number[] = [];
    const b = new BpfPages(geometry(), (cpu) => got.push(cpu));
    b.flush();
    expect(got).toEqual([]);
    b.addBatch(batch([{ ts: 1n, cpu: 5, index: 0, pid: 1, payload: [] }]), [1]);
    b.flush();
    b.flush();
    expect(got).toEqual([5]);
  });

  it('refuses what it cannot encode, naming the CPU: short records, unknown event indexes, records larger than a page, a len past the batch', () => {
    const b = new BpfPages(geometry(), () => undefined);
    const short = batch([{ ts: 1n, cpu: 1, index: 0, pid: 1, payload: [] }]);
    new DataView(short.buffer).setUint32(12, 4, true);
    expect(error(() => b.addBatch(short, [1])).message).toMatch(/cpu 1, .*4 bytes is too short/);
    expect(error(() => b.addBatch(batch([{ ts: 1n, cpu: 2, index: 3, pid: 1, payload: [] }]), [1])).message).toMatch(/cpu 2, .*names event 3 .* declares 1/);
    const huge = error(() => b.addBatch(batch([{ ts: 1n, cpu: 0, index: 0, pid: 1, payload: bytes(5000, 0) }]), [1]));
    expect(isTwError(huge) && huge.code).toBe('DECODE');
    expect(huge.message).toMatch(/5008 bytes does not fit a 4096-byte sub-buffer/);
    const cut = batch([{ ts: 1n, cpu: 0, index: 0, pid: 1, payload: bytes(8, 0) }]).subarray(0, 20);
    expect(error(() => walkBatch(cut, true)).message).toMatch(/claims 16 bytes, past the end of its 20-byte batch/);
  });
});
