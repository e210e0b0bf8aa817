/**
 * trace.dat writer for trace-cmd file versions 6 and 7 (uncompressed), fed with raw ring-buffer
 * sub-buffers as a live reader takes them from per_cpu/cpuN/trace_pipe_raw. Mirrors the
 * concepts of trace-cmd's output side (trace-output.c: flyrecord, sections, options, the
 * strings table), written from trace-cmd.dat.v6(5) / trace-cmd.dat.v7(5) and from what
 * trace-cmd's reader (trace-input.c, trace-dump.c) actually checks.
 *
 * Layout (the metadata is written by create(), everything after it by finish()):
 * - v6: magic, "6", endianness, long size, page size, header_page/header_event, ftrace formats,
 *   event formats per system, kallsyms, printk formats                          ← create()
 *   saved cmdlines, CPU count, "options  " (TRACECLOCK, UNAME, VERSION, CPUSTAT…, BUFFER),
 *   "flyrecord" + (offset, size) per CPU + "[clock]", page-aligned CPU data      ← finish()
 *   A named buffer (meta.bufferName) gets an empty top-level flyrecord and a BUFFER option
 *   pointing at its own "flyrecord" block, as trace-cmd writes instance recordings. Each of
 *   meta.extraBuffers (tw's BPF probe events) gets a BUFFER option and "flyrecord" block too.
 * - v7: the same header, compression "none", the offset of the options section, then sections
 *   HEADER_INFO, FTRACE_EVENTS, EVENT_FORMATS, KALLSYMS, PRINTK                  ← create()
 *   CMDLINES, BUFFER (flyrecord: padding, page-aligned per-CPU data) per buffer, OPTIONS, STRINGS ← finish()
 *   Sections are contiguous and the file ends with the last one: trace-cmd finds the STRINGS
 *   section (section descriptions) by walking section headers from the start of the file.
 *
 * CPU data of one CPU must be contiguous in the file, but sub-buffers arrive interleaved, so
 * each CPU's pages are appended to its own temporary file (opened then unlinked at once, so a
 * crash leaves nothing behind) through a small per-CPU staging buffer; finish() copies them into
 * place. Memory stays bounded: one staging buffer per CPU that has data, and one copy buffer.
 */
import { closeSync, constants as fsConstants, openSync, read as fsRead, unlinkSync, writeSync } from 'node:fs';
import { access, open, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DecodeError, TwError, isTwError, type ErrorCode } from '../errors.js';
import { checkHeaderEvent, parseHeaderPage, type HeaderPage } from '../format/header-page.js';

const readAt = promisify(fsRead);

/**
 * The code of errors from the file system while writing (cannot create, disk full). The table
 * has no write-side code yet; FILE_NOT_FOUND ("cannot be read") is the nearest.
 */
const IO_ERROR: ErrorCode = 'WRITE_FAILED';

const MAGIC = Buffer.from([0x17, 0x08, 0x44, 0x74, 0x72, 0x61, 0x63, 0x69, 0x6e, 0x67]); // \x17\x08D + "tracing"

/** trace-cmd option / section ids (trace-cmd-private.h: TRACECMD_OPTION_*) that tw writes. */
const OPT = {
  DONE: 0, CPUSTAT: 2, BUFFER: 3, TRACECLOCK: 4, UNAME: 5, CPUCOUNT: 8, VERSION: 9, STRINGS: 15,
  HEADER_INFO: 16, FTRACE_EVENTS: 17, EVENT_FORMATS: 18, KALLSYMS: 19, PRINTK: 20, CMDLINES: 21,
} as const;

/** commit flag bits (kernel ring_buffer.c RB_MISSED_EVENTS | RB_MISSED_STORED); the rest is the length */
const COMMIT_FLAGS = 0xc0000000;

const DEFAULT_STAGING = 256 * 1024;
const COPY_CHUNK = 1 << 20;

export interface TraceDatMeta {
  littleEndian: boolean;
  /** the kernel's long size: the size of `commit` in header_page */
  longSize: 4 | 8;
  /** the sub-buffer size (buffer_subbuf_size_kb × 1024; the page size by default) */
  pageSize: number;
  /** texts of events/header_page (of the recorded instance) and events/header_event */
  headerPage: string;
  headerEvent: string;
  /** events/ftrace/<name>/format texts (may be empty) */
  ftraceFormats: string[];
  /** system → format texts of the events to describe (at least every event recorded) */
  eventFormats: Map<string, string[]>;
  /** /proc/kallsyms and printk_formats texts ("" or absent: stored empty) */
  kallsyms?: string;
  printk?: string;
  /** CPU count: sub-buffers come for CPUs 0 … cpus-1 */
  cpus: number;
  /** the trace clock name, e.g. "mono" */
  clock: string;
  /**
   * the whole trace_clock file ("local global [mono] …"), stored in the TRACECLOCK option;
   * "[clock]" when absent. Its bracketed name must be `clock`.
   */
  traceClock?: string;
  /** "sysname nodename release machine" for the UNAME option (trace-cmd's format) */
  uname?: string;
  /** instance name for a BUFFER option; "" or absent: the data is the top-level buffer */
  bufferName?: string;
  /**
   * more named buffers, after that one (same sub-buffer size, clock and CPUs): a live
   * session's record sources (BPF probes), whose sub-buffers tw builds. Their event formats
   * must be in eventFormats.
   */
  extraBuffers?: readonly string[];
  /** text of the VERSION option (the program that recorded), default "tw" */
  program?: string;
}

export interface TraceDatWriterOptions {
  /** directory for the per-CPU spill files (default: the output file's directory) */
  tmpDir?: string;
  /** staging bytes per CPU before a write to its spill file (default 256 KiB, at least one sub-buffer) */
  stagingBytes?: number;
}

export interface TraceDatFinish {
  /** saved_cmdlines text ("pid comm" lines), read at the END of the recording */
  cmdlines: string;
  /** per_cpu/cpuN/stats texts, index = CPU ("CPU: N" is prepended as trace-cmd does) */
  cpuStats?: readonly string[];
  /**
   * tw's task table, "pid<TAB>tgid<TAB>ppid<TAB>exe" lines: trace-cmd has no place for tgids,
   * so tw keeps them where trace-cmd does not look (see TW_TASKS in read-trace-dat.ts).
   */
  tasks?: string;
  /**
   * ns to add to a timestamp to get wall-clock ns since the epoch (LiveInfo.realtimeOffset):
   * kept in the same table as a "realtime-offset<TAB>ns" line (which a task-table reader that
   * does not know it skips: its first column is not a pid), so a replay dates alerts as the
   * live run did
   */
  realtimeOffset?: bigint;
}

/** tw's table (the trace-cmd-invisible one): the realtime offset line, then the tasks. */
function twTable(extra: TraceDatFinish): { tasks?: string } {
  const head = extra.realtimeOffset !== undefined ? `realtime-offset\t${extra.realtimeOffset}\n` : '';
  const text = head + (extra.tasks ?? '');
  return text === '' ? {} : { tasks: text };
}

export interface TraceDatWriterStats {
  /** sub-buffers kept per CPU (empty ones are dropped) */
  pages: number[];
  /** bytes of CPU data kept in all */
  bytes: number;
}

type State = 'open' | 'finishing' | 'finished' | 'failed' | 'aborted';

/** What finish() needs of the metadata (the formats and kallsyms are not kept: memory). */
type KeptMeta = Pick<TraceDatMeta, 'littleEndian' | 'pageSize' | 'cpus' | 'clock' | 'traceClock' | 'uname' | 'bufferName' | 'extraBuffers' | 'program'>;

function keptMeta(m: TraceDatMeta): KeptMeta {
  const k: KeptMeta = { littleEndian: m.littleEndian, pageSize: m.pageSize, cpus: m.cpus, clock: m.clock };
  if (m.traceClock !== undefined) k.traceClock = m.traceClock;
  if (m.uname !== undefined) k.uname = m.uname;
  if (m.bufferName !== undefined) k.bufferName = m.bufferName;
  if (m.extraBuffers !== undefined) k.extraBuffers = [...m.extraBuffers];
  if (m.program !== undefined) k.program = m.program;
  return k;
}

interface CpuSpill {
  fd: number;
  /** bytes in the spill file */
  size: number;
  /** staged bytes not yet in the spill file */
  staged: Buffer;
  used: number;
  pages: number;
}

/** A growable byte block at a known file offset, with endian-aware writers (copies in, view out). */
class Bytes {
  private buf: Buffer;
  length = 0;

  constructor(
    private readonly le: boolean,
    /** the file offset of byte 0 */
    readonly base: number,
    initial = 4096,
  ) {
    this.buf = Buffer.alloc(initial);
  }

  /** the file offset of the next byte */
  get pos(): number {
    return this.base + this.length;
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void {
    this.room(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  u16(v: number): void {
    this.room(2);
    if (this.le) this.buf.writeUInt16LE(v, this.length);
    else this.buf.writeUInt16BE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.room(4);
    if (this.le) this.buf.writeUInt32LE(v >>> 0, this.length);
    else this.buf.writeUInt32BE(v >>> 0, this.length);
    this.length += 4;
  }
  u64(v: number): void {
    this.room(8);
    this.setU64(this.pos, v);
    this.length += 8;
  }
  /** overwrite a u64 written earlier, by file offset */
  setU64(fileOffset: number, v: number): void {
    const at = fileOffset - this.base;
    if (at < 0 || at + 8 > this.buf.length) throw new RangeError(`u64 at file offset ${fileOffset} is outside this block`);
    if (this.le) this.buf.writeBigUInt64LE(BigInt(v), at);
    else this.buf.writeBigUInt64BE(BigInt(v), at);
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  /** a NUL-terminated string */
  cstr(s: string): void {
    this.bytes(Buffer.from(`${s}\0`, 'utf8'));
  }
  zeros(n: number): void {
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  /** the bytes written (a view: valid until the next write) */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** The v7 STRINGS table: section descriptions, referenced by their offset in the table. */
class StringTable {
  private readonly parts: Buffer[] = [];
  private size = 0;
  add(s: string): number {
    const b = Buffer.from(`${s}\0`, 'utf8');
    const id = this.size;
    this.parts.push(b);
    this.size += b.length;
    return id;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
const alignUp = (v: number, to: number): number => Math.ceil(v / to) * to;

function badArg(message: string): TwError {
  return new TwError('BAD_ARGUMENT', message);
}

/** The bracketed clock name in a trace_clock text ("local [mono] global" → "mono"). */
export function selectedClock(traceClock: string): string | undefined {
  return /\[([^\]\s]+)\]/.exec(traceClock)?.[1];
}

function validateMeta(path: string, version: number, meta: TraceDatMeta): HeaderPage {
  const where = `${path}: trace.dat metadata`;
  if (version !== 6 && version !== 7) throw badArg(`${path}: trace.dat version ${String(version)}; tw writes versions 6 and 7`);
  if (meta.longSize !== 4 && meta.longSize !== 8) throw badArg(`${where}: long size ${String(meta.longSize)}, expected 4 or 8`);
  const ps = meta.pageSize;
  if (!Number.isInteger(ps) || ps < 64 || ps > 1 << 24 || (ps & (ps - 1)) !== 0) {
    throw badArg(`${where}: sub-buffer size ${String(ps)} is not a power of two between 64 and 16 MiB`);
  }
  if (!Number.isInteger(meta.cpus) || meta.cpus < 1 || meta.cpus > 65536) throw badArg(`${where}: CPU count ${String(meta.cpus)}`);
  if (!/^[^\s[\]\0]+$/.test(meta.clock)) throw badArg(`${where}: clock name '${meta.clock}'`);
  if (meta.traceClock !== undefined && selectedClock(meta.traceClock) !== meta.clock) {
    throw badArg(`${where}: trace_clock text '${meta.traceClock.trim()}' does not select clock '${meta.clock}'`);
  }
  if ((meta.bufferName ?? '').includes('\0')) throw badArg(`${where}: buffer name contains a NUL`);
  const names = [meta.bufferName ?? ''];
  for (const extra of meta.extraBuffers ?? []) {
    if (extra === '' || extra.includes('\0')) throw badArg(`${where}: extra buffer name '${extra}'`);
    if (names.includes(extra)) throw badArg(`${where}: two buffers are named '${extra}'`);
    names.push(extra);
  }
  for (const sys of meta.eventFormats.keys()) {
    if (sys === '' || sys.includes('\0')) throw badArg(`${where}: event system name '${sys}'`);
  }
  let hp: HeaderPage;
  try {
    hp = parseHeaderPage(meta.headerPage, `${where}: header_page`);
    checkHeaderEvent(meta.headerEvent, `${where}: header_event`);
  } catch (e) {
    if (isTwError(e)) throw e;
    throw new TwError('FORMAT_PARSE', `${where}: header_page/header_event: ${(e as Error).message}`, { cause: e });
  }
  if (hp.commitSize !== meta.longSize) {
    throw badArg(`${where}: long size ${meta.longSize} but header_page has an ${hp.commitSize}-byte commit`);
  }
  if (hp.dataOffset + hp.dataSize !== ps) {
    throw badArg(`${where}: header_page describes ${hp.dataOffset + hp.dataSize}-byte sub-buffers, but the sub-buffer size is ${ps} (use the instance's own events/header_page)`);
  }
  return hp;
}

/**
 * Streaming trace.dat writer. Use: `create()` (writes the metadata), `addSubBuffer()` for every
 * sub-buffer read from trace_pipe_raw (in read order per CPU), then `finish()`; on any failure or
 * cancellation `abort()` removes the partial file.
 */
export class TraceDatWriter {
  private state: State = 'open';
  /** per buffer (0: the main one, then meta.extraBuffers in order), per CPU */
  private readonly spills: Array<(CpuSpill | undefined)[]>;
  private readonly bufferNames: string[];
  private readonly le: boolean;
  private readonly staging: number;
  private readonly tmpDir: string;
  private tmpSeq = 0;
  private bytesKept = 0;

  private constructor(
    readonly path: string,
    readonly version: 6 | 7,
    private readonly meta: KeptMeta,
    private readonly header: HeaderPage,
    private out: FileHandle | undefined,
    /** file offset where finish() continues (the end of the metadata) */
    private readonly headEnd: number,
    /** v7: the file offset of the first-options-section pointer; v7 section offsets so far */
    private readonly v7: { optionsPtrAt: number; sections: Array<[number, number]>; strings: StringTable } | undefined,
    opts: TraceDatWriterOptions,
  ) {
    this.le = meta.littleEndian;
    this.bufferNames = [meta.bufferName ?? '', ...(meta.extraBuffers ?? [])];
    this.spills = this.bufferNames.map(() => new Array<CpuSpill | undefined>(meta.cpus).fill(undefined));
    this.tmpDir = opts.tmpDir ?? dirname(path);
    const want = opts.stagingBytes ?? DEFAULT_STAGING;
    this.staging = Math.max(1, Math.floor(want / meta.pageSize)) * meta.pageSize;
  }

  /** Validate the metadata, create (truncate) `path` and write the metadata part of the file. */
  static async create(path: string, version: 6 | 7, meta: TraceDatMeta, opts: TraceDatWriterOptions = {}): Promise<TraceDatWriter> {
    const header = validateMeta(path, version, meta);
    const b = new Bytes(meta.littleEndian, 0, 64 * 1024);
    b.bytes(MAGIC);
    b.cstr(String(version));
    b.u8(meta.littleEndian ? 0 : 1);
    b.u8(meta.longSize);
    b.u32(meta.pageSize);
    let v7: { optionsPtrAt: number; sections: Array<[number, number]>; strings: StringTable } | undefined;
    if (version === 6) {
      writeHeaderInfo(b, meta);
      writeFtraceFormats(b, meta);
      writeEventFormats(b, meta);
      writeSized32(b, meta.kallsyms ?? '');
      writeSized32(b, meta.printk ?? '');
    } else {
      b.cstr('none'); // compression name
      b.cstr(''); // compression version
      const optionsPtrAt = b.pos;
      b.u64(0); // the first options section: patched by finish()
      const strings = new StringTable();
      const sections: Array<[number, number]> = [];
      const section = (id: number, desc: string, body: () => void) => {
        sections.push([id, b.pos]);
        const sizeAt = beginSection(b, id, strings.add(desc));
        body();
        b.setU64(sizeAt, b.pos - (sizeAt + 8));
      };
      section(OPT.HEADER_INFO, 'headers', () => writeHeaderInfo(b, meta));
      section(OPT.FTRACE_EVENTS, 'ftrace events', () => writeFtraceFormats(b, meta));
      section(OPT.EVENT_FORMATS, 'events format', () => writeEventFormats(b, meta));
      section(OPT.KALLSYMS, 'kallsyms', () => writeSized32(b, meta.kallsyms ?? ''));
      section(OPT.PRINTK, 'printk', () => writeSized32(b, meta.printk ?? ''));
      v7 = { optionsPtrAt, sections, strings };
    }
    const tmpDir = opts.tmpDir ?? dirname(path);
    let out: FileHandle;
    try {
      out = await open(path, 'w', 0o644);
    } catch (e) {
      throw new TwError(IO_ERROR, `${path}: cannot create the trace.dat file: ${(e as Error).message}`, { cause: e });
    }
    const w = new TraceDatWriter(path, version, keptMeta(meta), header, out, b.length, v7, { ...opts, tmpDir });
    try {
      await w.writeAt(b.view(), 0);
      // the spill files are created on first use: fail now, not in the middle of a recording
      await access(tmpDir, fsConstants.W_OK | fsConstants.X_OK);
    } catch (e) {
      await w.abort().catch(() => undefined);
      throw new TwError(IO_ERROR, `${path}: cannot write the trace.dat file${(e as NodeJS.ErrnoException).path === tmpDir ? ` (spill directory ${tmpDir})` : ''}: ${(e as Error).message}`, { cause: e });
    }
    return w;
  }

  /** Pages (per CPU, all buffers) and bytes kept so far. */
  stats(): TraceDatWriterStats {
    const pages = new Array<number>(this.meta.cpus).fill(0);
    for (const buf of this.spills) buf.forEach((s, cpu) => (pages[cpu]! += s?.pages ?? 0));
    return { pages, bytes: this.bytesKept };
  }

  /**
   * One whole sub-buffer of `cpu`, exactly the sub-buffer size, as read from trace_pipe_raw.
   * The bytes are copied (the caller may reuse `data`). Sub-buffers with nothing committed and
   * no missed-events flag are dropped. Writes to the CPU's spill file are synchronous, one per
   * staging buffer. `buffer` names one of meta.extraBuffers; default: the main buffer.
   */
  addSubBuffer(cpu: number, data: Uint8Array, buffer?: string): void {
    if (this.state !== 'open') throw badArg(`${this.path}: addSubBuffer() ${this.notOpen()}`);
    const bi = buffer === undefined ? 0 : this.bufferNames.indexOf(buffer);
    if (bi < 0) throw badArg(`${this.path}: sub-buffer for buffer '${buffer}', which the file does not declare (${this.bufferNames.map((n) => `'${n}'`).join(', ')})`);
    const spills = this.spills[bi]!;
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.meta.cpus) {
      throw badArg(`${this.path}: sub-buffer for cpu ${cpu}, but the file has CPUs 0..${this.meta.cpus - 1}`);
    }
    if (data.length !== this.meta.pageSize) {
      throw badArg(`${this.path}: sub-buffer of ${data.length} bytes for cpu ${cpu}; this file's sub-buffer size is ${this.meta.pageSize} (pass whole sub-buffers)`);
    }
    const h = this.header;
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    // The low 32 bits of `commit` hold the length and the missed-events flags.
    const lowAt = h.commitOffset + (h.commitSize === 8 && !this.le ? 4 : 0);
    const commit = dv.getUint32(lowAt, this.le);
    const len = (commit & ~COMMIT_FLAGS) >>> 0;
    if (len === 0 && (commit & COMMIT_FLAGS) === 0) return;
    if (len > h.dataSize) {
      const s = spills[cpu];
      throw new DecodeError(cpu, s ? s.size + s.used : 0, `sub-buffer commits ${len} bytes of data, more than the ${h.dataSize} a sub-buffer holds`);
    }
    const s = spills[cpu] ?? this.openSpill(bi, cpu);
    s.staged.set(data, s.used); // copy: the caller's buffer is reused for the next read
    s.used += data.length;
    s.pages++;
    this.bytesKept += data.length;
    if (s.used === s.staged.length) this.flushSpill(cpu, s);
  }

  /** Write the rest of the file (cmdlines, options, CPU data) and close it. */
  async finish(extra: TraceDatFinish): Promise<void> {
    if (this.state !== 'open') {
      throw badArg(`${this.path}: finish() ${this.state === 'finishing' || this.state === 'finished' ? 'called twice' : this.notOpen()}`);
    }
    if (typeof extra?.cmdlines !== 'string') throw badArg(`${this.path}: finish() needs the saved_cmdlines text`);
    this.state = 'finishing';
    try {
      for (const buf of this.spills) {
        buf.forEach((s, cpu) => {
          if (s) this.flushSpill(cpu, s);
        });
      }
      const table = { ...extra, ...twTable(extra) };
      if (this.version === 6) await this.finishV6(table);
      else await this.finishV7(table);
      const out = this.out;
      this.out = undefined;
      await out?.close();
      this.closeSpills();
      this.state = 'finished';
    } catch (e) {
      if (this.state === 'finishing') this.state = 'failed';
      this.closeSpills();
      const out = this.out;
      this.out = undefined;
      await out?.close().catch(() => undefined);
      if (isTwError(e)) throw e;
      throw new TwError(IO_ERROR, `${this.path}: cannot write the trace.dat file: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Remove the partial output and the spill files. A no-op once finish() has succeeded. */
  async abort(): Promise<void> {
    if (this.state === 'finished' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.closeSpills();
    const out = this.out;
    this.out = undefined;
    await out?.close().catch(() => undefined);
    try {
      await unlink(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new TwError(IO_ERROR, `${this.path}: cannot remove the partial trace.dat file: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  private notOpen(): string {
    switch (this.state) {
      case 'finishing':
      case 'finished':
        return 'after finish()';
      case 'aborted':
        return 'after abort()';
      case 'failed':
        return 'after a write failure (call abort())';
      case 'open':
        return 'while open';
      default: {
        const never: never = this.state;
        return never;
      }
    }
  }

  // ------------------------------------------------------------------ spill files

  private openSpill(bi: number, cpu: number): CpuSpill {
    const name = join(this.tmpDir, `.${basename(this.path)}.tw-${process.pid}-${this.tmpSeq++}-cpu${cpu}.tmp`);
    let fd: number;
    try {
      fd = openSync(name, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
      unlinkSync(name); // the open fd keeps the data; nothing is left behind on a crash
    } catch (e) {
      this.fail();
      throw new TwError(IO_ERROR, `${name}: cannot create a spill file for cpu ${cpu} of ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    const s: CpuSpill = { fd, size: 0, staged: Buffer.allocUnsafe(this.staging), used: 0, pages: 0 };
    this.spills[bi]![cpu] = s;
    return s;
  }

  private flushSpill(cpu: number, s: CpuSpill): void {
    let done = 0;
    try {
      while (done < s.used) done += writeSync(s.fd, s.staged, done, s.used - done, s.size + done);
    } catch (e) {
      this.fail();
      throw new TwError(IO_ERROR, `${this.path}: cannot spill cpu ${cpu} data to ${this.tmpDir}: ${(e as Error).message}`, { cause: e });
    }
    s.size += s.used;
    s.used = 0;
  }

  private fail(): void {
    if (this.state === 'open') this.state = 'failed';
  }

  private closeSpills(): void {
    for (const buf of this.spills) {
      buf.forEach((s, i) => {
        if (!s) return;
        try {
          closeSync(s.fd);
        } catch {
          // already closed
        }
        buf[i] = undefined;
      });
    }
  }

  /** bytes of CPU data of buffer `bi` (index in bufferNames) for `cpu` */
  private sizeOf(bi: number, cpu: number): number {
    return this.spills[bi]![cpu]?.size ?? 0;
  }

  // ------------------------------------------------------------------ output

  private async writeAt(buf: Uint8Array, position: number): Promise<void> {
    const out = this.out;
    if (!out) throw new Error('the output file is closed');
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await out.write(buf, done, buf.length - done, position + done);
      done += bytesWritten;
    }
  }

  /** Per-CPU (offset, size) of buffer `bi` placed from `start`: page-aligned when there is data. */
  private placeCpuData(bi: number, start: number): { offsets: number[]; end: number } {
    const offsets: number[] = [];
    let cur = start;
    for (let cpu = 0; cpu < this.meta.cpus; cpu++) {
      const size = this.sizeOf(bi, cpu);
      if (size === 0) {
        offsets.push(cur); // nothing there; never read
        continue;
      }
      const at = alignUp(cur, this.meta.pageSize);
      offsets.push(at);
      cur = at + size;
    }
    return { offsets, end: cur };
  }

  /** Copy each CPU's spill file of buffer `bi` to its place (one reused buffer: memory stays bounded). */
  private async copyCpuData(bi: number, offsets: readonly number[]): Promise<void> {
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    for (let cpu = 0; cpu < this.meta.cpus; cpu++) {
      const s = this.spills[bi]![cpu];
      if (!s || s.size === 0) continue;
      const at = offsets[cpu]!;
      for (let done = 0; done < s.size; ) {
        const want = Math.min(buf.length, s.size - done);
        const { bytesRead } = await readAt(s.fd, buf, 0, want, done);
        if (bytesRead <= 0) throw new Error(`spill file of cpu ${cpu} ended at ${done} of ${s.size} bytes`);
        await this.writeAt(buf.subarray(0, bytesRead), at + done); // view of the reused buffer, written before the next read
        done += bytesRead;
      }
    }
  }

  /** Options shared by both versions, in trace-cmd's order. */
  private commonOptions(b: Bytes, extra: TraceDatFinish): void {
    const meta = this.meta;
    let clockText = meta.traceClock ?? `[${meta.clock}]`;
    if (!clockText.endsWith('\n')) clockText += '\n';
    writeOption(b, OPT.TRACECLOCK, enc(`${clockText}\0`));
    if (meta.uname) writeOption(b, OPT.UNAME, enc(`${meta.uname}\0`));
    writeOption(b, OPT.VERSION, enc(`${meta.program ?? 'tw'}\0`));
    const name = meta.bufferName ?? '';
    const stats = extra.cpuStats ?? [];
    if (name !== '' && stats.length > 0) writeOption(b, OPT.CPUSTAT, enc(`\nBuffer: ${name}\n\n\0`));
    stats.forEach((text, cpu) => {
      const body = /^CPU:/.test(text) ? text : `CPU: ${cpu}\n${text}`;
      writeOption(b, OPT.CPUSTAT, enc(`${body}\0`));
    });
  }

  private async finishV6(extra: TraceDatFinish): Promise<void> {
    const meta = this.meta;
    const names = this.bufferNames;
    const b = new Bytes(this.le, this.headEnd, 64 * 1024);
    writeSized64(b, extra.cmdlines);
    b.u32(meta.cpus);
    b.bytes(enc('options  \0'));
    this.commonOptions(b, extra);
    // a BUFFER option per named buffer: its flyrecord's offset (patched below) and its name
    const offsetAt = names.map((name) => {
      if (name === '') return -1;
      const data = new Bytes(this.le, 0);
      data.u64(0);
      data.cstr(name);
      b.u16(OPT.BUFFER);
      b.u32(data.length);
      const at = b.pos;
      b.bytes(data.view());
      return at;
    });
    b.u16(OPT.DONE);
    const clock = enc(`[${meta.clock}]`);
    const flyrecord = (): number[] => {
      b.bytes(enc('flyrecord\0'));
      const at: number[] = [];
      for (let cpu = 0; cpu < meta.cpus; cpu++) {
        at.push(b.pos);
        b.u64(0); // offset
        b.u64(0); // size
      }
      // trace-cmd's reader expects the clock after every flyrecord table when TRACECLOCK is set
      b.u64(clock.length);
      b.bytes(clock);
      return at;
    };
    if (names[0] !== '') flyrecord(); // an empty top-level buffer first
    const tables = names.map((name, bi) => {
      if (name !== '') b.setU64(offsetAt[bi]!, b.pos);
      return flyrecord();
    });
    // every buffer's CPU data after the tables, one buffer after the other
    let end = b.pos;
    const placed = names.map((_, bi) => {
      const p = this.placeCpuData(bi, end);
      end = p.end;
      tables[bi]!.forEach((at, cpu) => {
        b.setU64(at, p.offsets[cpu]!);
        b.setU64(at + 8, this.sizeOf(bi, cpu));
      });
      return p.offsets;
    });
    await this.writeAt(b.view(), b.base);
    for (let bi = 0; bi < names.length; bi++) await this.copyCpuData(bi, placed[bi]!);
    if (extra.tasks) {
      // v6 readers stop at the CPU data; tw's task table trails the file with a footer
      const text = enc(extra.tasks);
      const f = new Bytes(this.le, Math.max(end, b.pos), text.length + 16);
      f.bytes(text);
      f.u64(text.length);
      f.bytes(enc(TW_TASKS_MAGIC));
      await this.writeAt(f.view(), f.base);
    }
  }

  private async finishV7(extra: TraceDatFinish): Promise<void> {
    const meta = this.meta;
    const v7 = this.v7!;
    const strings = v7.strings;
    const names = this.bufferNames;
    const b = new Bytes(this.le, this.headEnd, 64 * 1024);

    const cmdlinesAt = b.pos;
    let sizeAt = beginSection(b, OPT.CMDLINES, strings.add('command lines'));
    writeSized64(b, extra.cmdlines);
    b.setU64(sizeAt, b.pos - (sizeAt + 8));

    // A named buffer comes with an empty top-level one, as trace-cmd writes them: its reader
    // otherwise looks for the top-level buffer at offset 0.
    let emptyTopAt = -1;
    if (names[0] !== '') {
      emptyTopAt = b.pos;
      sizeAt = beginSection(b, OPT.BUFFER, strings.add('buffer flyrecord '));
      b.setU64(sizeAt, 0);
    }
    await this.writeAt(b.view(), b.base);
    // one BUFFER section per buffer: its header, then its padding and page-aligned CPU data
    let end = b.pos;
    const sections: Array<{ at: number; offsets: number[] }> = [];
    for (let bi = 0; bi < names.length; bi++) {
      const h = new Bytes(this.le, end, 64);
      const at = h.pos;
      sizeAt = beginSection(h, OPT.BUFFER, strings.add(`buffer flyrecord ${names[bi]!}`));
      const placed = this.placeCpuData(bi, h.pos);
      h.setU64(sizeAt, placed.end - (sizeAt + 8)); // the padding and all CPU data
      await this.writeAt(h.view(), h.base);
      await this.copyCpuData(bi, placed.offsets);
      end = Math.max(placed.end, h.pos);
      sections.push({ at, offsets: placed.offsets });
    }

    // tw's task table (a section trace-cmd skips: no option points at it), then the options
    // section, then the strings; the file ends with the last section.
    const tasksDesc = extra.tasks ? strings.add('tw tasks') : -1;
    const optionsDesc = strings.add('options');
    const stringsDesc = strings.add('strings');
    const o = new Bytes(this.le, end, 16 * 1024);
    if (extra.tasks) {
      const tSizeAt = beginSection(o, TW_TASKS_SECTION, tasksDesc);
      writeSized64(o, extra.tasks);
      o.setU64(tSizeAt, o.pos - (tSizeAt + 8));
    }
    const optionsAt = o.pos;
    const optSizeAt = beginSection(o, OPT.DONE, optionsDesc);
    for (const [id, at] of v7.sections) writeOptionU64(o, id, at);
    writeOptionU64(o, OPT.CMDLINES, cmdlinesAt);
    this.commonOptions(o, extra);
    const count = new Bytes(this.le, 0, 4);
    count.u32(meta.cpus);
    writeOption(o, OPT.CPUCOUNT, count.view());
    if (names[0] !== '') writeOption(o, OPT.BUFFER, this.bufferOptionV7(emptyTopAt, '', [], []));
    sections.forEach(({ at, offsets }, bi) => {
      writeOption(o, OPT.BUFFER, this.bufferOptionV7(at, names[bi]!, offsets, offsets.map((_, cpu) => this.sizeOf(bi, cpu))));
    });
    const next = new Bytes(this.le, 0, 8);
    next.u64(0); // no further options section
    writeOption(o, OPT.DONE, next.view());
    o.setU64(optSizeAt, o.pos - (optSizeAt + 8));
    const table = strings.bytes();
    const strSizeAt = beginSection(o, OPT.STRINGS, stringsDesc);
    o.bytes(table);
    o.setU64(strSizeAt, o.pos - (strSizeAt + 8));
    await this.writeAt(o.view(), o.base);

    const ptr = new Bytes(this.le, v7.optionsPtrAt, 8);
    ptr.u64(optionsAt);
    await this.writeAt(ptr.view(), ptr.base);
  }

  /** BUFFER option data: section offset, name, clock, page size, then (cpu, offset, size) per CPU. */
  private bufferOptionV7(sectionAt: number, name: string, offsets: readonly number[], sizes: readonly number[]): Buffer {
    const d = new Bytes(this.le, 0, 64 + offsets.length * 20);
    d.u64(sectionAt);
    d.cstr(name);
    d.cstr(this.meta.clock);
    d.u32(this.meta.pageSize);
    d.u32(offsets.length);
    offsets.forEach((at, cpu) => {
      d.u32(cpu);
      d.u64(at);
      d.u64(sizes[cpu]!);
    });
    return Buffer.from(d.view()); // copy: d is dropped
  }
}

// ------------------------------------------------------------------ metadata blocks

/** v7 section header: id, flags (0: not compressed), description string id, size (patched). */
/** Where tw keeps its task table (tgid, ppid, exe per pid), which trace-cmd has no place for. */
export const TW_TASKS_SECTION = 0x7477; // "tw"
export const TW_TASKS_MAGIC = 'TWTASKS1';

function beginSection(b: Bytes, id: number, desc: number): number {
  b.u16(id);
  b.u16(0);
  b.u32(desc);
  const sizeAt = b.pos;
  b.u64(0);
  return sizeAt;
}

function writeOption(b: Bytes, id: number, data: Uint8Array): void {
  b.u16(id);
  b.u32(data.length);
  b.bytes(data);
}

function writeOptionU64(b: Bytes, id: number, v: number): void {
  b.u16(id);
  b.u32(8);
  b.u64(v);
}

function writeSized32(b: Bytes, text: string): void {
  const t = enc(text);
  b.u32(t.length);
  b.bytes(t);
}

function writeSized64(b: Bytes, text: string): void {
  const t = enc(text);
  b.u64(t.length);
  b.bytes(t);
}

function writeHeaderInfo(b: Bytes, meta: TraceDatMeta): void {
  b.cstr('header_page');
  writeSized64(b, meta.headerPage);
  b.cstr('header_event');
  writeSized64(b, meta.headerEvent);
}

function writeFtraceFormats(b: Bytes, meta: TraceDatMeta): void {
  b.u32(meta.ftraceFormats.length);
  for (const f of meta.ftraceFormats) writeSized64(b, f);
}

function writeEventFormats(b: Bytes, meta: TraceDatMeta): void {
  const systems = [...meta.eventFormats].filter(([, fs]) => fs.length > 0);
  b.u32(systems.length);
  for (const [sys, formats] of systems) {
    b.cstr(sys);
    b.u32(formats.length);
    for (const f of formats) writeSized64(b, f);
  }
}
