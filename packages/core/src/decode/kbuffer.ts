/**
 * Ring-buffer sub-buffer decoder. Mirrors libtraceevent's kbuffer (kbuffer-parse.c) and the
 * kernel's ring_buffer.c record layout: a sub-buffer header (u64 timestamp, local_t commit whose
 * low 27 bits are the data length and whose bits 31/30 flag missed events / a stored missed
 * count), then records each starting with a 32-bit header of type_len (5 bits) and time_delta
 * (27 bits; TS_SHIFT = 27):
 *   1..28  data of type_len*4 bytes        0   data length in the next u32 (includes that u32)
 *   29     padding (delta 0: rest empty)   30  time extend: delta += next_u32 << 27
 *   31     absolute timestamp (next_u32 << 27 | delta, top 5 bits kept from the current time)
 *
 * Timestamps are 64-bit; to keep the hot path free of bigint arithmetic the cursor carries the
 * current time as two unsigned 32-bit halves (tsHi, tsLo) and only builds a bigint on request.
 *
 * The cursor is reused: load() points it at a sub-buffer (a view into the caller's buffer — no
 * copy is made, so the caller must not overwrite those bytes until the cursor moves on), and
 * next() steps to the next data record, skipping padding and time records.
 */
import { DecodeError } from '../errors.js';
import type { HeaderPage } from '../format/header-page.js';

const TWO32 = 4294967296;
const TS_SHIFT_MUL = 134217728; // 2^27
const COMMIT_MASK = (1 << 27) - 1;
const MISSED_EVENTS = 0x80000000;
const MISSED_STORED = 0x40000000;
const TYPE_PADDING = 29;
const TYPE_TIME_EXTEND = 30;
const TYPE_TIME_STAMP = 31;

export interface KbufferLayout {
  littleEndian: boolean;
  /** the traced kernel's long size (commit and stored missed count are longs) */
  longSize: 4 | 8;
  header: HeaderPage;
}

export class SubBufferCursor {
  readonly littleEndian: boolean;
  readonly longSize: 4 | 8;
  readonly cpu: number;
  private readonly header: HeaderPage;

  /** the bytes the current sub-buffer lives in (a view, not a copy) */
  buf: Uint8Array = new Uint8Array(0);
  dv: DataView = new DataView(new ArrayBuffer(0));
  /** where the current sub-buffer starts in buf, and where that is in the file (for errors) */
  private pageStart = 0;
  private fileOffset = 0;
  private dataEnd = 0;
  private pos = 0;

  /** current time: high and low unsigned 32-bit halves of the 64-bit timestamp */
  tsHi = 0;
  tsLo = 0;
  /** the current record's payload: offset in buf and length in bytes */
  recOffset = 0;
  recLength = 0;
  /**
   * Events the kernel dropped before the current sub-buffer: 0 none, n > 0 the stored count,
   * -1 some were lost but the count was not stored.
   */
  missed = 0;
  /** the data length of the current sub-buffer (from commit) */
  dataSize = 0;

  constructor(layout: KbufferLayout, cpu: number) {
    this.littleEndian = layout.littleEndian;
    this.longSize = layout.longSize;
    this.header = layout.header;
    this.cpu = cpu;
    if (layout.header.commitSize !== layout.longSize) {
      throw new DecodeError(cpu, 0, `header_page commit size ${layout.header.commitSize} does not match the long size ${layout.longSize}`);
    }
  }

  /**
   * Point the cursor at a sub-buffer of `size` bytes at `start` in `buf`.
   * @param fileOffset where this sub-buffer came from (file offset), only for error messages
   */
  load(buf: Uint8Array, start: number, size: number, fileOffset = start): void {
    if (this.buf !== buf) {
      this.buf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.pageStart = start;
    this.fileOffset = fileOffset;
    const h = this.header;
    const le = this.littleEndian;
    const dv = this.dv;
    if (h.dataOffset > size || start + size > buf.length) {
      throw new DecodeError(this.cpu, fileOffset, `sub-buffer of ${size} bytes is smaller than its ${h.dataOffset}-byte header`);
    }
    const tsAt = start + h.timestampOffset;
    this.tsLo = dv.getUint32(le ? tsAt : tsAt + 4, le);
    this.tsHi = dv.getUint32(le ? tsAt + 4 : tsAt, le);
    const cAt = start + h.commitOffset;
    // The flag bits live in the low 32 bits of the commit long.
    const commit = this.longSize === 8 ? dv.getUint32(le ? cAt : cAt + 4, le) : dv.getUint32(cAt, le);
    const dataSize = commit & COMMIT_MASK;
    const dataStart = start + h.dataOffset;
    if (h.dataOffset + dataSize > size) {
      throw new DecodeError(this.cpu, fileOffset, `sub-buffer commit says ${dataSize} data bytes but only ${size - h.dataOffset} fit`);
    }
    this.dataSize = dataSize;
    this.dataEnd = dataStart + dataSize;
    this.pos = dataStart;
    if ((commit & MISSED_EVENTS) !== 0) {
      if ((commit & MISSED_STORED) !== 0) {
        const at = this.dataEnd;
        if (at + this.longSize > start + size) {
          throw new DecodeError(this.cpu, fileOffset + (at - start), 'missed-events count is stored past the end of the sub-buffer');
        }
        this.missed = this.readLong(at);
      } else {
        this.missed = -1;
      }
    } else {
      this.missed = 0;
    }
  }

  private readLong(at: number): number {
    const dv = this.dv;
    const le = this.littleEndian;
    if (this.longSize === 4) return dv.getUint32(at, le);
    const lo = dv.getUint32(le ? at : at + 4, le);
    const hi = dv.getUint32(le ? at + 4 : at, le);
    return hi * TWO32 + lo;
  }

  private fail(at: number, why: string): never {
    throw new DecodeError(this.cpu, this.fileOffset + (at - this.pageStart), why);
  }

  private addDelta(hiPart: number, loPart: number): void {
    let lo = this.tsLo + loPart;
    let hi = this.tsHi + hiPart;
    if (lo >= TWO32) {
      lo -= TWO32;
      hi += 1;
    }
    this.tsLo = lo;
    this.tsHi = hi >>> 0;
  }

  /** Step to the next data record. Returns false at the end of the sub-buffer. */
  next(): boolean {
    const dv = this.dv;
    const le = this.littleEndian;
    const end = this.dataEnd;
    let pos = this.pos;
    while (pos < end) {
      if (pos + 4 > end) this.fail(pos, 'record header runs past the end of the data');
      const word = dv.getUint32(pos, le);
      // The kernel lays the bitfield out low bits first on little-endian, high bits first on big.
      let typeLen: number;
      let delta: number;
      if (le) {
        typeLen = word & 31;
        delta = word >>> 5;
      } else {
        typeLen = word >>> 27;
        delta = word & COMMIT_MASK;
      }
      if (typeLen >= 1 && typeLen <= 28) {
        const len = typeLen * 4;
        if (pos + 4 + len > end) this.fail(pos, `record of ${len} bytes runs past the end of the data`);
        this.addDelta(0, delta);
        this.recOffset = pos + 4;
        this.recLength = len;
        this.pos = pos + 4 + len;
        return true;
      }
      switch (typeLen) {
        case 0: {
          if (pos + 8 > end) this.fail(pos, 'large record header runs past the end of the data');
          const stored = dv.getUint32(pos + 4, le);
          if (stored < 4) this.fail(pos, `large record has invalid length word ${stored}`);
          // stored is unsigned (up to 2^32 - 1): round up without 32-bit bit operations
          const len = Math.ceil((stored - 4) / 4) * 4;
          if (pos + 8 + len > end) this.fail(pos, `record of ${len} bytes runs past the end of the data`);
          this.addDelta(0, delta);
          this.recOffset = pos + 8;
          this.recLength = len;
          this.pos = pos + 8 + len;
          return true;
        }
        case TYPE_PADDING: {
          if (delta === 0) {
            // A null event: the rest of the sub-buffer is empty.
            this.pos = end;
            return false;
          }
          if (pos + 8 > end) this.fail(pos, 'padding header runs past the end of the data');
          const len = dv.getUint32(pos + 4, le);
          // Like libtraceevent, a discarded event's delta still moves time forward.
          this.addDelta(0, delta);
          pos = pos + 4 + len;
          if (pos > end) this.fail(pos - len - 4, `padding of ${len} bytes runs past the end of the data`);
          if (len < 4) this.fail(pos - len - 4, `padding has invalid length ${len}`);
          continue;
        }
        case TYPE_TIME_EXTEND: {
          if (pos + 8 > end) this.fail(pos, 'time-extend record runs past the end of the data');
          const ext = dv.getUint32(pos + 4, le);
          // delta + ext << 27, split into 32-bit halves without leaving integer precision
          this.addDelta(ext >>> 5, (ext & 31) * TS_SHIFT_MUL + delta);
          pos += 8;
          continue;
        }
        case TYPE_TIME_STAMP: {
          if (pos + 8 > end) this.fail(pos, 'absolute-timestamp record runs past the end of the data');
          const ext = dv.getUint32(pos + 4, le);
          // 59-bit absolute time; the top 5 bits come from the current time (kernel TS_MSB).
          const msb = this.tsHi & 0xf8000000;
          this.tsHi = ((ext >>> 5) | msb) >>> 0;
          this.tsLo = (ext & 31) * TS_SHIFT_MUL + delta;
          pos += 8;
          continue;
        }
        default:
          // type_len is 5 bits: every value is handled above.
          this.fail(pos, `impossible type_len ${typeLen satisfies number}`);
      }
    }
    this.pos = end;
    return false;
  }

  /** The current record's timestamp in the trace clock's units (ns for the usual clocks). */
  get timestamp(): bigint {
    return (BigInt(this.tsHi) << 32n) | BigInt(this.tsLo);
  }
}

/** Compare two (hi, lo) timestamps: negative if a < b. */
export function compareTs(aHi: number, aLo: number, bHi: number, bLo: number): number {
  return aHi !== bHi ? aHi - bHi : aLo - bLo;
}
