/**
 * Records of a record source (a BPF probe's ring buffer) turned into ring-buffer sub-buffers,
 * one stream per CPU, so the session decodes, merges and records them exactly like the
 * kernel's pages. Writes the format kbuffer.ts reads (the kernel's ring_buffer.c layout, as
 * libtraceevent's kbuffer parses it):
 *   header   u64 timestamp (the first record's time), commit (a long: the data length)
 *   records  u32 header: type_len (5 bits) and time_delta (27 bits), from the previous record
 *            type_len 1..28  data of type_len*4 bytes (records of up to 112 bytes)
 *            type_len 0      the next u32 is the data length + 4 (longer records)
 *            type_len 30     time extend: a delta of 2^27 ns or more; the next u32 holds delta >> 27
 * Each record's data is the source's record (common header + payload, zero-padded to 4 bytes)
 * with common_type set to the event's id.
 *
 * Timestamps must not go back within a sub-buffer (deltas are unsigned). The records of a
 * batch are put in time order per CPU first; a record older than the last one written for its
 * CPU (a BPF program interrupted between taking its time and reserving room, seen across two
 * batches) starts a new sub-buffer, whose header time may be earlier than the previous one's:
 * its time stays exact, and the merge hands it over as soon as it is at the head of its CPU.
 *
 * One page per CPU is reused: `emit` gets a view valid only during the call (the live pump and
 * the trace.dat writer copy it).
 */
import { DecodeError } from '../errors.js';
import type { HeaderPage } from '../format/header-page.js';

const TWO32 = 4294967296;
const TS_SHIFT_MUL = 134217728; // 2^27
const DELTA_MAX = TS_SHIFT_MUL - 1;
/** the largest delta a time extend carries: 27 + 32 bits */
const EXTEND_MAX = TS_SHIFT_MUL * TWO32 - 1;
const TYPE_TIME_EXTEND = 30;
/** RB_MAX_SMALL_DATA: longer records store their length in a word of their own */
const MAX_SMALL_DATA = 28 * 4;
const COMMON_HEADER = 8;

/** source record framing: u64 ts, u32 cpu, u32 len, then len bytes, padded to 8 */
export const SOURCE_RECORD_HEAD = 16;

export interface PageLayout {
  littleEndian: boolean;
  longSize: 4 | 8;
  header: HeaderPage;
  /** the whole sub-buffer, header included (the session's sub-buffer size) */
  subbufSize: number;
}

interface CpuPage {
  readonly page: Uint8Array;
  readonly dv: DataView;
  open: boolean;
  /** where the next record goes */
  pos: number;
  /** the time of the last record written (unsigned 32-bit halves) */
  hi: number;
  lo: number;
}

export class BpfPages {
  private readonly pages = new Map<number, CpuPage>();
  private readonly le: boolean;
  private readonly dataStart: number;
  private readonly dataEnd: number;

  constructor(
    private readonly layout: PageLayout,
    private readonly emit: (cpu: number, page: Uint8Array) => void,
  ) {
    const h = layout.header;
    this.le = layout.littleEndian;
    this.dataStart = h.dataOffset;
    this.dataEnd = Math.min(layout.subbufSize, h.dataOffset + h.dataSize);
    if (h.commitSize !== layout.longSize || this.dataEnd - this.dataStart < 16) {
      throw new DecodeError(0, 0, `cannot build ${layout.subbufSize}-byte sub-buffers with this header_page (data at ${h.dataOffset}, ${h.dataSize} bytes, commit of ${h.commitSize})`);
    }
  }

  /**
   * One record at `ts` (as unsigned 32-bit halves) on `cpu`: `len` bytes of `src` from `at`,
   * the common header first, written with common_type = `id`. Copied.
   */
  add(cpu: number, tsHi: number, tsLo: number, id: number, src: Uint8Array, at: number, len: number): void {
    if (len < COMMON_HEADER) throw new DecodeError(cpu, at, `a record of ${len} bytes is too short for the ${COMMON_HEADER}-byte common header`);
    const padded = Math.ceil(len / 4) * 4;
    const small = padded <= MAX_SMALL_DATA;
    const bytes = (small ? 4 : 8) + padded;
    if (bytes > this.dataEnd - this.dataStart) {
      throw new DecodeError(cpu, at, `a record of ${len} bytes does not fit a ${this.layout.subbufSize}-byte sub-buffer`);
    }
    const p = this.page(cpu);
    let delta = 0;
    if (p.open) {
      delta = (tsHi - p.hi) * TWO32 + (tsLo - p.lo);
      const need = bytes + (delta > DELTA_MAX ? 8 : 0);
      if (delta < 0 || delta > EXTEND_MAX || p.pos + need > this.dataEnd) this.close(cpu, p);
    }
    if (!p.open) {
      this.open(p, tsHi, tsLo);
      delta = 0;
    }
    const dv = p.dv;
    const le = this.le;
    let pos = p.pos;
    if (delta > DELTA_MAX) {
      // time extend: the low 27 bits in its header, the rest in the word after it
      dv.setUint32(pos, headerWord(le, TYPE_TIME_EXTEND, delta % TS_SHIFT_MUL), le);
      dv.setUint32(pos + 4, Math.floor(delta / TS_SHIFT_MUL), le);
      pos += 8;
      delta = 0;
    }
    if (small) {
      dv.setUint32(pos, headerWord(le, padded / 4, delta), le);
      pos += 4;
    } else {
      dv.setUint32(pos, headerWord(le, 0, delta), le);
      dv.setUint32(pos + 4, padded + 4, le); // the length word counts itself
      pos += 8;
    }
    p.page.set(src.subarray(at, at + len), pos); // copy; the padding is already zero
    dv.setUint16(pos, id, le); // common_type
    p.pos = pos + padded;
    p.hi = tsHi;
    p.lo = tsLo;
  }

  /**
   * A batch in the source framing (see RecordSource in watch/record-source.ts): each record's common_type
   * is an index into `ids`. Records are added in time order per CPU (a stable sort when the
   * batch is not already in that order). Returns the number of records.
   */
  addBatch(batch: Uint8Array, ids: readonly number[]): number {
    const recs = walkBatch(batch, this.le);
    if (!inOrderPerCpu(recs)) recs.sort((a, b) => a.cpu - b.cpu || a.hi - b.hi || a.lo - b.lo || a.at - b.at);
    const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    for (const r of recs) {
      const index = dv.getUint16(r.at, this.le);
      const id = ids[index];
      if (id === undefined) throw new DecodeError(r.cpu, r.at, `a record names event ${index} (common_type) but its source declares ${ids.length}`);
      this.add(r.cpu, r.hi, r.lo, id, batch, r.at, r.len);
    }
    return recs.length;
  }

  /** Hand over every CPU's part-filled sub-buffer; the next record of a CPU starts a new one. */
  flush(): void {
    for (const [cpu, p] of this.pages) if (p.open) this.close(cpu, p);
  }

  private page(cpu: number): CpuPage {
    let p = this.pages.get(cpu);
    if (p === undefined) {
      const page = new Uint8Array(this.layout.subbufSize);
      p = { page, dv: new DataView(page.buffer), open: false, pos: 0, hi: 0, lo: 0 };
      this.pages.set(cpu, p);
    }
    return p;
  }

  private open(p: CpuPage, hi: number, lo: number): void {
    p.page.fill(0);
    const at = this.layout.header.timestampOffset;
    p.dv.setUint32(this.le ? at : at + 4, lo, this.le);
    p.dv.setUint32(this.le ? at + 4 : at, hi, this.le);
    p.pos = this.dataStart;
    p.hi = hi;
    p.lo = lo;
    p.open = true;
  }

  private close(cpu: number, p: CpuPage): void {
    const h = this.layout.header;
    const length = p.pos - this.dataStart;
    // commit is a long; its low 32 bits hold the length (no missed-events flags: the source
    // counts its losses itself)
    const at = h.commitOffset + (h.commitSize === 8 && !this.le ? 4 : 0);
    p.dv.setUint32(at, length, this.le);
    p.open = false;
    this.emit(cpu, p.page);
  }
}

/** A record header word: type_len in the low 5 bits on little-endian, the high 5 on big. */
function headerWord(le: boolean, typeLen: number, delta: number): number {
  return le ? (typeLen + delta * 32) >>> 0 : ((typeLen << 27) | delta) >>> 0;
}

/** Where a source record lies in its batch: `at` is its common header, `len` its bytes. */
export interface SourceRecordRef {
  cpu: number;
  hi: number;
  lo: number;
  at: number;
  len: number;
}

/** The records of a batch in the source framing, in order (views: offsets into the batch). */
export function walkBatch(batch: Uint8Array, littleEndian: boolean): SourceRecordRef[] {
  const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const out: SourceRecordRef[] = [];
  let pos = 0;
  while (pos + SOURCE_RECORD_HEAD <= batch.byteLength) {
    const lo = dv.getUint32(littleEndian ? pos : pos + 4, littleEndian);
    const hi = dv.getUint32(littleEndian ? pos + 4 : pos, littleEndian);
    const cpu = dv.getUint32(pos + 8, littleEndian);
    const len = dv.getUint32(pos + 12, littleEndian);
    const at = pos + SOURCE_RECORD_HEAD;
    if (at + len > batch.byteLength) throw new DecodeError(cpu, pos, `a source record claims ${len} bytes, past the end of its ${batch.byteLength}-byte batch`);
    out.push({ cpu, hi, lo, at, len });
    pos = at + Math.ceil(len / 8) * 8;
  }
  return out;
}

function inOrderPerCpu(recs: readonly SourceRecordRef[]): boolean {
  const last = new Map<number, SourceRecordRef>();
  for (const r of recs) {
    const p = last.get(r.cpu);
    if (p !== undefined && (r.hi < p.hi || (r.hi === p.hi && r.lo < p.lo))) return false;
    last.set(r.cpu, r);
  }
  return true;
}
