/**
 * TEST SUPPORT ONLY (imported by *.test.ts files, never by the library): byte builders for
 * ring-buffer sub-buffers and event records, in the spirit of libtraceevent's unit tests —
 * every builder call writes one field and reads like an annotated line:
 *
 *   new SubBufferBuilder(BE64)
 *     .pageTimestamp(1_000n)            // u64 timestamp
 *     .data(5, [0x11, 0x22, 0x33, 0x44]) // type_len 1, delta 5, 4 data bytes
 *     .padding(3, 8)                     // type_len 29, delta 3, length word 8 (itself + 4 bytes)
 *     .timeExtend(0, 1)                  // type_len 30, delta += 1 << 27
 *     .build();
 *
 * Layout (kernel/trace/ring_buffer.c, events/header_page): u64 timestamp; local_t commit (a
 * long: 4 or 8 bytes) whose low 27 bits are the data length, bit 31 "events were missed before
 * this page", bit 30 "and their count is stored as a long right after the data"; then records.
 * A record header is one u32 holding type_len (5 bits) and time_delta (27 bits). The kernel
 * declares them as a C bitfield, so GCC puts type_len in the LOW 5 bits on little-endian and in
 * the TOP 5 bits on big-endian.
 */
import { parseHeaderPage, type HeaderPage } from '../format/header-page.js';
import type { KbufferLayout } from './kbuffer.js';

/** events/header_page as a 64-bit x86_64 kernel prints it (copied from /sys/kernel/tracing). */
export const HEADER_PAGE_64 = [
  '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;',
  '\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;',
  '\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;',
  '\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;',
  '',
].join('\n');

/** The same for a 32-bit kernel: commit is a 4-byte long, so data starts at 12. */
export const HEADER_PAGE_32 = [
  '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;',
  '\tfield: local_t commit;\toffset:8;\tsize:4;\tsigned:1;',
  '\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;',
  '\tfield: char data;\toffset:12;\tsize:4084;\tsigned:0;',
  '',
].join('\n');

/** events/header_event as the running kernel prints it (copied from /sys/kernel/tracing). */
export const HEADER_EVENT = [
  '# compressed entry header',
  '\ttype_len    :    5 bits',
  '\ttime_delta  :   27 bits',
  '\tarray       :   32 bits',
  '',
  '\tpadding     : type == 29',
  '\ttime_extend : type == 30',
  '\ttime_stamp : type == 31',
  '\tdata max type_len  == 28',
  '',
].join('\n');

export function headerPageFor(longSize: 4 | 8): HeaderPage {
  return parseHeaderPage(longSize === 8 ? HEADER_PAGE_64 : HEADER_PAGE_32);
}

export function layoutFor(littleEndian: boolean, longSize: 4 | 8): KbufferLayout {
  return { littleEndian, longSize, header: headerPageFor(longSize) };
}

/** The four ABIs a trace can come from: {little, big} endian × {32, 64}-bit longs. */
export interface Abi {
  readonly name: string;
  readonly littleEndian: boolean;
  readonly longSize: 4 | 8;
}
export const LE64: Abi = { name: 'little-endian, 8-byte long', littleEndian: true, longSize: 8 };
export const LE32: Abi = { name: 'little-endian, 4-byte long', littleEndian: true, longSize: 4 };
export const BE64: Abi = { name: 'big-endian, 8-byte long', littleEndian: false, longSize: 8 };
export const BE32: Abi = { name: 'big-endian, 4-byte long', littleEndian: false, longSize: 4 };
export const ALL_ABIS: readonly Abi[] = [LE64, LE32, BE64, BE32];

export const TYPE_PADDING = 29;
export const TYPE_TIME_EXTEND = 30;
export const TYPE_TIME_STAMP = 31;
const DELTA_MAX = (1 << 27) - 1;
const TWO32 = 4294967296;

/** Growable byte sink with endian-aware integer writers (the common part of both builders). */
class Bytes {
  private out: number[] = [];
  constructor(readonly littleEndian: boolean) {}

  get length(): number {
    return this.out.length;
  }
  u8(v: number): void {
    this.out.push(v & 0xff);
  }
  u16(v: number): void {
    const b = [v & 0xff, (v >>> 8) & 0xff];
    this.out.push(...(this.littleEndian ? b : b.reverse()));
  }
  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v >= TWO32) throw new RangeError(`u32 out of range: ${v}`);
    const b = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    this.out.push(...(this.littleEndian ? b : b.reverse()));
  }
  u64(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    const lo = Number(u & 0xffffffffn);
    const hi = Number(u >> 32n);
    if (this.littleEndian) {
      this.u32(lo);
      this.u32(hi);
    } else {
      this.u32(hi);
      this.u32(lo);
    }
  }
  long(v: bigint | number, longSize: 4 | 8): void {
    if (longSize === 8) this.u64(BigInt(v));
    else this.u32(Number(BigInt.asUintN(32, BigInt(v))));
  }
  raw(bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.out.push(bytes[i]! & 0xff);
  }
  zeros(n: number): void {
    for (let i = 0; i < n; i++) this.out.push(0);
  }
  toArray(): number[] {
    return this.out.slice();
  }
}

/** The 32-bit record header word: type_len low 5 bits on LE, top 5 bits on BE. */
export function recordHeaderWord(littleEndian: boolean, typeLen: number, delta: number): number {
  if (typeLen < 0 || typeLen > 31) throw new RangeError(`type_len ${typeLen}`);
  if (delta < 0 || delta > DELTA_MAX) throw new RangeError(`time_delta ${delta} does not fit in 27 bits`);
  return littleEndian ? ((delta << 5) | typeLen) >>> 0 : ((typeLen << 27) | delta) >>> 0;
}

export interface SubBufferOptions {
  /** total sub-buffer size in bytes (page size by default, but configurable in the kernel) */
  size?: number;
}

/**
 * Builds one sub-buffer byte by byte. Records are appended in order; `build()` writes the page
 * header (timestamp, commit = data length | flags), the records, the stored missed count if
 * requested, and zero-fills to the sub-buffer size.
 */
export class SubBufferBuilder {
  readonly littleEndian: boolean;
  readonly longSize: 4 | 8;
  readonly size: number;
  private ts = 0n;
  private missed: 'none' | 'unknown' | 'stored' = 'none';
  private missedCount: bigint = 0n;
  private commitOverride: number | undefined;
  private readonly body: Bytes;

  constructor(abi: Pick<Abi, 'littleEndian' | 'longSize'>, options: SubBufferOptions = {}) {
    this.littleEndian = abi.littleEndian;
    this.longSize = abi.longSize;
    this.size = options.size ?? 4096;
    this.body = new Bytes(abi.littleEndian);
  }

  /** where record data starts: after u64 timestamp + long commit */
  get dataOffset(): number {
    return 8 + this.longSize;
  }
  /** bytes of record data written so far (the commit length unless overridden) */
  get dataLength(): number {
    return this.body.length;
  }

  // ---- page header -------------------------------------------------------------------------

  /** u64 timestamp of the page: the time the first record's delta is added to */
  pageTimestamp(ts: bigint): this {
    this.ts = ts;
    return this;
  }
  /** commit bit 31: events were lost before this page, count unknown */
  missedEvents(): this {
    this.missed = 'unknown';
    return this;
  }
  /** commit bits 31 + 30: events were lost and their count is stored (a long) after the data */
  missedStored(count: bigint | number): this {
    this.missed = 'stored';
    this.missedCount = BigInt(count);
    return this;
  }
  /** commit length other than the bytes written (to build malformed pages) */
  commitLength(n: number): this {
    this.commitOverride = n;
    return this;
  }

  // ---- records -----------------------------------------------------------------------------

  /** a bare record header word (type_len, delta), nothing after it */
  header(typeLen: number, delta: number): this {
    this.body.u32(recordHeaderWord(this.littleEndian, typeLen, delta));
    return this;
  }
  /** a bare u32 in the data area (a length word, an extend word, garbage) */
  word(v: number): this {
    this.body.u32(v);
    return this;
  }
  /** raw bytes in the data area */
  bytes(b: ArrayLike<number>): this {
    this.body.raw(b);
    return this;
  }

  /** small data record: type_len = ceil(len / 4) (1..28), payload zero-padded to 4 bytes */
  data(delta: number, payload: ArrayLike<number>): this {
    const words = Math.max(1, Math.ceil(payload.length / 4));
    if (words > 28) throw new RangeError(`a small record holds at most 112 bytes, got ${payload.length}`);
    this.header(words, delta);
    this.body.raw(payload);
    this.body.zeros(words * 4 - payload.length);
    return this;
  }
  /**
   * large data record: type_len 0, then a u32 length word counting itself + the payload, then
   * the payload zero-padded to 4 bytes. `lengthWord` overrides the stored length.
   */
  large(delta: number, payload: ArrayLike<number>, lengthWord = payload.length + 4): this {
    this.header(0, delta);
    this.body.u32(lengthWord);
    this.body.raw(payload);
    this.body.zeros((4 - (payload.length % 4)) % 4);
    return this;
  }
  /**
   * padding (a discarded event): type_len 29 with a non-zero delta, then a u32 length counting
   * the bytes after the header (the length word included), then that many bytes minus 4.
   */
  padding(delta: number, length: number): this {
    this.header(TYPE_PADDING, delta);
    this.body.u32(length);
    this.body.zeros(Math.max(0, length - 4));
    return this;
  }
  /** the null event: type_len 29 with delta 0 — the rest of the page is empty */
  endPadding(): this {
    return this.header(TYPE_PADDING, 0);
  }
  /** time extend: type_len 30, low 27 bits of the delta in the header, the next u32 << 27 */
  timeExtend(deltaLow: number, high: number): this {
    this.header(TYPE_TIME_EXTEND, deltaLow);
    this.body.u32(high);
    return this;
  }
  /** time extend carrying a whole delta (split into the 27-bit header part and the u32 part) */
  timeExtendBy(delta: bigint): this {
    return this.timeExtend(Number(delta & BigInt(DELTA_MAX)), Number((delta >> 27n) & 0xffffffffn));
  }
  /** absolute timestamp: type_len 31, low 27 bits in the header, bits 27..58 in the next u32 */
  absolute(ts: bigint): this {
    this.header(TYPE_TIME_STAMP, Number(ts & BigInt(DELTA_MAX)));
    this.body.u32(Number((ts >> 27n) & 0xffffffffn));
    return this;
  }

  /** the finished sub-buffer, `size` bytes */
  build(): Uint8Array {
    const out = new Bytes(this.littleEndian);
    out.u64(this.ts);
    const len = this.commitOverride ?? this.body.length;
    let commit = len;
    if (this.missed !== 'none') commit += 0x80000000;
    if (this.missed === 'stored') commit += 0x40000000;
    out.long(commit, this.longSize);
    out.raw(this.body.toArray());
    if (this.missed === 'stored') out.long(this.missedCount, this.longSize);
    if (out.length > this.size) {
      throw new RangeError(`sub-buffer content is ${out.length} bytes, more than its ${this.size}-byte size`);
    }
    out.zeros(this.size - out.length);
    return Uint8Array.from(out.toArray());
  }
}

/**
 * Builds one event record payload (what follows the record header): common fields, then the
 * event's own, each call one field, at explicit offsets when a layout has holes.
 */
export class RecordBuilder {
  private readonly b: Bytes;
  constructor(readonly littleEndian: boolean) {
    this.b = new Bytes(littleEndian);
  }
  get length(): number {
    return this.b.length;
  }
  /** zero-fill up to `offset` (a field's declared offset) */
  at(offset: number): this {
    if (offset < this.b.length) throw new RangeError(`offset ${offset} is behind the write position ${this.b.length}`);
    this.b.zeros(offset - this.b.length);
    return this;
  }
  u8(v: number): this {
    this.b.u8(v);
    return this;
  }
  u16(v: number): this {
    this.b.u16(v);
    return this;
  }
  u32(v: number): this {
    this.b.u32(v >>> 0);
    return this;
  }
  u64(v: bigint): this {
    this.b.u64(v);
    return this;
  }
  /** a __data_loc / __rel_loc locator: u32 with the offset in the low 16 bits, length in the high */
  loc(offset: number, length: number): this {
    return this.u32(((length & 0xffff) << 16) | (offset & 0xffff));
  }
  bytes(b: ArrayLike<number>): this {
    this.b.raw(b);
    return this;
  }
  /** text as UTF-8 bytes, optionally NUL-terminated, zero-filled to `fieldSize` if given */
  str(text: string, fieldSize?: number, nul = true): this {
    const enc = Buffer.from(text, 'utf8');
    this.b.raw(enc);
    let n = enc.length;
    if (nul) {
      this.b.u8(0);
      n++;
    }
    if (fieldSize !== undefined) {
      if (n > fieldSize) throw new RangeError(`'${text}' needs ${n} bytes, field has ${fieldSize}`);
      this.b.zeros(fieldSize - n);
    }
    return this;
  }
  zeros(n: number): this {
    this.b.zeros(n);
    return this;
  }
  /** zero-fill to a multiple of 4 (records are 4-byte aligned) */
  align4(): this {
    this.b.zeros((4 - (this.b.length % 4)) % 4);
    return this;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.b.toArray());
  }
}

/** The common_* header every event record starts with (common_type, flags, preempt, pid). */
export function commonFields(r: RecordBuilder, type: number, pid: number, flags = 0, preempt = 0): RecordBuilder {
  return r
    .u16(type) // common_type          offset 0, size 2
    .u8(flags) // common_flags         offset 2, size 1
    .u8(preempt) // common_preempt_count offset 3, size 1
    .u32(pid); // common_pid           offset 4, size 4
}

// ---------------------------------------------------------------------------------------------
// tracefs event format texts. The first group is copied byte for byte from the running kernel's
// /sys/kernel/tracing/events/<sys>/<name>/format (x86_64, Linux 6.18); the second group is
// synthetic but written in exactly the kernel's layout, for shapes this kernel does not show.
// ---------------------------------------------------------------------------------------------

/** events/sched/sched_switch/format, copied from the running kernel (x86_64, 6.18). */
export const SCHED_SWITCH = [
  "name: sched_switch",
  "ID: 372",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;",
  "\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;",
  "\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;",
  "\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;",
  "\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;",
  "\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;",
  "\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;",
  "",
  "print fmt: \"prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d\", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1), \"|\", { 0x00000001, \"S\" }, { 0x00000002, \"D\" }, { 0x00000004, \"T\" }, { 0x00000008, \"t\" }, { 0x00000010, \"X\" }, { 0x00000020, \"Z\" }, { 0x00000040, \"P\" }, { 0x00000080, \"I\" }) : \"R\", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? \"+\" : \"\", REC->next_comm, REC->next_pid, REC->next_prio",
  '',
].join('\n');

/** events/raw_syscalls/sys_enter/format, copied from the running kernel (x86_64, 6.18). */
export const SYS_ENTER = [
  "name: sys_enter",
  "ID: 443",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;",
  "\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;",
  "",
  "print fmt: \"NR %ld (%lx, %lx, %lx, %lx, %lx, %lx)\", REC->id, REC->args[0], REC->args[1], REC->args[2], REC->args[3], REC->args[4], REC->args[5]",
  '',
].join('\n');

/** events/sched/sched_process_exec/format, copied from the running kernel (x86_64, 6.18). */
export const SCHED_PROCESS_EXEC = [
  "name: sched_process_exec",
  "ID: 365",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;",
  "\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;",
  "\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;",
  "",
  "print fmt: \"filename=%s pid=%d old_pid=%d\", __get_str(filename), REC->pid, REC->old_pid",
  '',
].join('\n');

/** events/dma/dma_map_sg/format, copied from the running kernel (x86_64, 6.18). */
export const DMA_MAP_SG = [
  "name: dma_map_sg",
  "ID: 431",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:__data_loc char[] device;\toffset:8;\tsize:4;\tsigned:0;",
  "\tfield:int full_nents;\toffset:12;\tsize:4;\tsigned:1;",
  "\tfield:int full_ents;\toffset:16;\tsize:4;\tsigned:1;",
  "\tfield:bool truncated;\toffset:20;\tsize:1;\tsigned:0;",
  "\tfield:__data_loc u64[] phys_addrs;\toffset:24;\tsize:4;\tsigned:0;",
  "\tfield:__data_loc u64[] dma_addrs;\toffset:28;\tsize:4;\tsigned:0;",
  "\tfield:__data_loc unsigned int[] lengths;\toffset:32;\tsize:4;\tsigned:0;",
  "\tfield:enum dma_data_direction dir;\toffset:36;\tsize:4;\tsigned:0;",
  "\tfield:unsigned long attrs;\toffset:40;\tsize:8;\tsigned:0;",
  "",
  "print fmt: \"%s dir=%s nents=%d/%d ents=%d/%d%s dma_addrs=%s sizes=%s phys_addrs=%s attrs=%s\", __get_str(device), __print_symbolic(REC->dir, { 0, \"BIDIRECTIONAL\" }, { 1, \"TO_DEVICE\" }, { 2, \"FROM_DEVICE\" }, { 3, \"NONE\" }), ({ int __UNIQUE_ID_x_920 = (REC->full_nents); int __UNIQUE_ID_y_921 = (128); ((__UNIQUE_ID_x_920) < (__UNIQUE_ID_y_921) ? (__UNIQUE_ID_x_920) : (__UNIQUE_ID_y_921)); }), REC->full_nents, ({ int __UNIQUE_ID_x_922 = (REC->full_ents); int __UNIQUE_ID_y_923 = (128); ((__UNIQUE_ID_x_922) < (__UNIQUE_ID_y_923) ? (__UNIQUE_ID_x_922) : (__UNIQUE_ID_y_923)); }), REC->full_ents, REC->truncated ? \" [TRUNCATED]\" : \"\", __print_array(__get_dynamic_array(dma_addrs), __get_dynamic_array_len(dma_addrs) / sizeof(u64), sizeof(u64)), __print_array(__get_dynamic_array(lengths), __get_dynamic_array_len(lengths) / sizeof(unsigned int), sizeof(unsigned int)), __print_array(__get_dynamic_array(phys_addrs), __get_dynamic_array_len(phys_addrs) / sizeof(u64), sizeof(u64)), __print_flags(REC->attrs, \"|\", { (1UL << 1), \"WEAK_ORDERING\" }, { (1UL << 2), \"WRITE_COMBINE\" }, { (1UL << 4), \"NO_KERNEL_MAPPING\" }, { (1UL << 5), \"SKIP_CPU_SYNC\" }, { (1UL << 6), \"FORCE_CONTIGUOUS\" }, { (1UL << 7), \"ALLOC_SINGLE_PAGES\" }, { (1UL << 8), \"NO_WARN\" }, { (1UL << 9), \"PRIVILEGED\" }, { (1UL << 10), \"MMIO\" }, { (1UL << 11), \"CACHE_CLEAN\" })",
  '',
].join('\n');

/** events/ipi/ipi_send_cpumask/format, copied from the running kernel (x86_64, 6.18). */
export const IPI_SEND_CPUMASK = [
  "name: ipi_send_cpumask",
  "ID: 353",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:__data_loc cpumask_t cpumask;\toffset:8;\tsize:4;\tsigned:0;",
  "\tfield:void * callsite;\toffset:16;\tsize:8;\tsigned:0;",
  "\tfield:void * callback;\toffset:24;\tsize:8;\tsigned:0;",
  "",
  "print fmt: \"cpumask=%s callsite=%pS callback=%pS\", __get_cpumask(cpumask), REC->callsite, REC->callback",
  '',
].join('\n');

/** events/alarmtimer/alarmtimer_fired/format, copied from the running kernel (x86_64, 6.18). */
export const ALARMTIMER_FIRED = [
  "name: alarmtimer_fired",
  "ID: 472",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:void * alarm;\toffset:8;\tsize:8;\tsigned:0;",
  "\tfield:unsigned char alarm_type;\toffset:16;\tsize:1;\tsigned:0;",
  "\tfield:s64 expires;\toffset:24;\tsize:8;\tsigned:1;",
  "\tfield:s64 now;\toffset:32;\tsize:8;\tsigned:1;",
  "",
  "print fmt: \"alarmtimer:%p type:%s expires:%llu now:%llu\", REC->alarm, __print_flags((1 << REC->alarm_type), \" | \", { 1 << 0, \"REALTIME\" }, { 1 << 1, \"BOOTTIME\" }, { 1 << 3, \"REALTIME Freezer\" }, { 1 << 4, \"BOOTTIME Freezer\" }), REC->expires, REC->now",
  '',
].join('\n');

/** events/ftrace/print/format, copied from the running kernel (x86_64, 6.18). */
export const FTRACE_PRINT = [
  "name: print",
  "ID: 5",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;",
  "\tfield:char buf[];\toffset:16;\tsize:0;\tsigned:0;",
  "",
  "print fmt: \"%ps: %s\", (void *)REC->ip, REC->buf",
  '',
].join('\n');

/** events/ras/arm_event/format, copied from the running kernel (x86_64, 6.18). */
export const ARM_EVENT = [
  "name: arm_event",
  "ID: 2205",
  "format:",
  "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;",
  "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;",
  "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;",
  "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;",
  "",
  "\tfield:u64 mpidr;\toffset:8;\tsize:8;\tsigned:0;",
  "\tfield:u64 midr;\toffset:16;\tsize:8;\tsigned:0;",
  "\tfield:u32 running_state;\toffset:24;\tsize:4;\tsigned:0;",
  "\tfield:u32 psci_state;\toffset:28;\tsize:4;\tsigned:0;",
  "\tfield:u8 affinity;\toffset:32;\tsize:1;\tsigned:0;",
  "\tfield:u32 pei_len;\toffset:36;\tsize:4;\tsigned:0;",
  "\tfield:__data_loc u8[] pei_buf;\toffset:40;\tsize:4;\tsigned:0;",
  "\tfield:u32 ctx_len;\toffset:44;\tsize:4;\tsigned:0;",
  "\tfield:__data_loc u8[] ctx_buf;\toffset:48;\tsize:4;\tsigned:0;",
  "\tfield:u32 oem_len;\toffset:52;\tsize:4;\tsigned:0;",
  "\tfield:__data_loc u8[] oem_buf;\toffset:56;\tsize:4;\tsigned:0;",
  "\tfield:u8 sev;\toffset:60;\tsize:1;\tsigned:0;",
  "\tfield:int cpu;\toffset:64;\tsize:4;\tsigned:1;",
  "",
  "print fmt: \"cpu: %d; error: %d; affinity level: %d; MPIDR: %016llx; MIDR: %016llx; running state: %d; PSCI state: %d; %s: %d; %s: %s; %s: %d; %s: %s; %s: %d; %s: %s\", REC->cpu, REC->sev, REC->affinity, REC->mpidr, REC->midr, REC->running_state, REC->psci_state, \"ARM Processor Err Info data len\", REC->pei_len, \"ARM Processor Err Info raw data\", __print_hex(__get_dynamic_array(pei_buf), REC->pei_len), \"ARM Processor Err Context Info data len\", REC->ctx_len, \"ARM Processor Err Context Info raw data\", __print_hex(__get_dynamic_array(ctx_buf), REC->ctx_len), \"Vendor Specific Err Info data len\", REC->oem_len, \"Vendor Specific Err Info raw data\", __print_hex(__get_dynamic_array(oem_buf), REC->oem_len)",
  '',
].join('\n');

const COMMON_LINES = [
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
];

/** A format text in the kernel's layout: name, ID, the common fields, a blank, own fields. */
export function formatText(name: string, id: number, own: readonly string[], printFmt: string): string {
  return [`name: ${name}`, `ID: ${id}`, 'format:', ...COMMON_LINES, '', ...own, '', `print fmt: ${printFmt}`, ''].join('\n');
}

/** Synthetic: raw_syscalls/sys_enter as a 32-bit kernel prints it (long = 4 bytes). */
export const SYS_ENTER_32 = formatText(
  'sys_enter',
  21,
  ['\tfield:long id;\toffset:8;\tsize:4;\tsigned:1;', '\tfield:unsigned long args[6];\toffset:12;\tsize:24;\tsigned:0;'],
  '"NR %ld (%lx, %lx, %lx, %lx, %lx, %lx)", REC->id, REC->args[0], REC->args[1], REC->args[2], REC->args[3], REC->args[4], REC->args[5]',
);

/** Synthetic: sched_switch as older kernels printed it, array counts as macros. */
export const SCHED_SWITCH_SYMBOLIC = formatText(
  'sched_switch',
  316,
  [
    '\tfield:char prev_comm[TASK_COMM_LEN];\toffset:8;\tsize:16;\tsigned:1;',
    '\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;',
    '\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;',
    '\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;',
    '\tfield:char next_comm[TASK_COMM_LEN];\toffset:40;\tsize:16;\tsigned:1;',
    '\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;',
    '\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;',
    '\tfield:unsigned long stack[STACK_DEPTH];\toffset:64;\tsize:32;\tsigned:0;',
  ],
  '"prev_comm=%s prev_pid=%d ==> next_comm=%s next_pid=%d", REC->prev_comm, REC->prev_pid, REC->next_comm, REC->next_pid',
);

/** Synthetic: an event using __rel_loc fields (the shape of the kernel's foo_rel_loc sample). */
export const FOO_REL_LOC = formatText(
  'foo_rel_loc',
  1500,
  [
    '\tfield:__rel_loc char[] foo;\toffset:8;\tsize:4;\tsigned:0;',
    '\tfield:int bar;\toffset:12;\tsize:4;\tsigned:1;',
    '\tfield:__rel_loc unsigned long[] bitmask;\toffset:16;\tsize:4;\tsigned:0;',
    '\tfield:__rel_loc u16[] ports;\toffset:20;\tsize:4;\tsigned:0;',
  ],
  '"foo_rel_loc %s, %d", __get_rel_str(foo), REC->bar',
);

/** Synthetic: one integer field of each size and signedness, plus dynamic arrays of them. */
export const INTS = formatText(
  'tw_ints',
  1501,
  [
    '\tfield:s8 s8v;\toffset:8;\tsize:1;\tsigned:1;',
    '\tfield:u8 u8v;\toffset:9;\tsize:1;\tsigned:0;',
    '\tfield:s16 s16v;\toffset:10;\tsize:2;\tsigned:1;',
    '\tfield:u16 u16v;\toffset:12;\tsize:2;\tsigned:0;',
    '\tfield:s32 s32v;\toffset:16;\tsize:4;\tsigned:1;',
    '\tfield:u32 u32v;\toffset:20;\tsize:4;\tsigned:0;',
    '\tfield:s64 s64v;\toffset:24;\tsize:8;\tsigned:1;',
    '\tfield:u64 u64v;\toffset:32;\tsize:8;\tsigned:0;',
    '\tfield:const char * ptr;\toffset:40;\tsize:8;\tsigned:0;',
    '\tfield:short shorts[3];\toffset:48;\tsize:6;\tsigned:1;',
    '\tfield:__data_loc unsigned long[] ulongs;\toffset:56;\tsize:4;\tsigned:0;',
    '\tfield:__data_loc s32[] s32s;\toffset:60;\tsize:4;\tsigned:1;',
  ],
  '"s8=%d u8=%u", REC->s8v, REC->u8v',
);

/** What a call threw (fails the test when it did not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}
