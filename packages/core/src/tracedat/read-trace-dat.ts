/**
 * trace.dat reader for trace-cmd file versions 6 and 7 (trace-cmd.dat.v6(5), trace-cmd.dat.v7(5)).
 * Reads the metadata (header_page/header_event, event formats, saved cmdlines, options) eagerly
 * and the per-CPU ring-buffer data lazily, page by page (see cpu-pages.ts), so memory stays
 * bounded however large the file is.
 *
 * v6: a fixed sequence of blocks, then "options  " and "flyrecord" with per-CPU (offset, size);
 *     named instance buffers are BUFFER options pointing at their own "flyrecord" block.
 * v7: a compression header, then sections located through OPTIONS sections; metadata sections
 *     and CPU data may be compressed (zstd, zlib); every buffer, the top one included, is a
 *     BUFFER option naming its clock, page size and per-CPU data.
 */
import { existsSync, statSync } from 'node:fs';
import { FormatParseError, TwError, isTwError } from '../errors.js';
import { checkHeaderEvent, parseHeaderPage, type HeaderPage } from '../format/header-page.js';
import { MAX_FORMAT_BYTES, parseEventFormat } from '../format/parse-format.js';
import { FormatRegistry } from '../format/registry.js';
import type { TaskFacts } from '../watch/define-watch.js';
import { ByteCursor, FileBytes, FileSeq } from './byte-reader.js';
import { decompressorFor, type Decompressor } from './compression.js';
import { printable, quoted } from '../quote.js';

const MAGIC = [0x17, 0x08, 0x44, 0x74, 0x72, 0x61, 0x63, 0x69, 0x6e, 0x67]; // \x17\x08D + "tracing"

/** trace-cmd option ids (trace-cmd-private.h: TRACECMD_OPTION_*) that tw reads. */
const OPT = {
  DONE: 0, DATE: 1, CPUSTAT: 2, BUFFER: 3, TRACECLOCK: 4, UNAME: 5, OFFSET: 7, CPUCOUNT: 8,
  VERSION: 9, TSC2NSEC: 14, HEADER_INFO: 16, FTRACE_EVENTS: 17, EVENT_FORMATS: 18,
  CMDLINES: 21, BUFFER_TEXT: 22,
} as const;
const SECTION_COMPRESSED = 1;

export interface CpuData {
  cpu: number;
  /** file offset of this CPU's data (v7 compressed: of its chunk table) */
  offset: number;
  /** bytes in the file */
  size: number;
}

export interface TraceBuffer {
  /** "" for the top-level buffer, else the instance name */
  name: string;
  clock: string;
  pageSize: number;
  compressed: boolean;
  cpus: CpuData[];
}

export interface TraceDat {
  path: string;
  version: 6 | 7;
  littleEndian: boolean;
  longSize: 4 | 8;
  pageSize: number;
  compression: { name: string; version: string } | undefined;
  headerPage: HeaderPage;
  formats: FormatRegistry;
  /** pid → comm from the saved cmdlines */
  cmdlines: Map<number, string>;
  /** pid → tgid, when the file carries them (trace-cmd files do not; tw's recordings do) */
  tgids: Map<number, number>;
  /** pid → ppid and exe, from tw's task table */
  tasks: Map<number, TaskFacts>;
  cpuCount: number;
  /** the trace clock of the top-level buffer (TRACECLOCK option), e.g. "local", "mono" */
  clock: string;
  uname: string | undefined;
  /** "x86_64", "aarch64", … from the UNAME option, when present */
  arch: string | undefined;
  traceCmdVersion: string | undefined;
  /** added to every timestamp (OFFSET and DATE options), as trace-cmd report does */
  tsOffset: bigint;
  /** a DATE option was present: timestamps (with tsOffset) are wall-clock ns since the epoch */
  dated: boolean;
  /**
   * ns to add to a timestamp (tsOffset included) to get wall-clock ns since the epoch: 0 with a
   * DATE option, else the offset a tw recording stores; undefined when the file has neither
   */
  realtimeOffset: bigint | undefined;
  /** per_cpu/cpuN/stats texts saved at record time (CPUSTAT options) */
  cpuStats: string[];
  buffers: TraceBuffer[];
  /** decompressor for CPU-data chunks, when the file is compressed */
  decompress: Decompressor | undefined;
  file: FileBytes;
  close(): void;
}

function fail(path: string, msg: string): never {
  throw new TwError('CORRUPT_FILE', `${path}: ${msg}`);
}

/** Open a trace.dat file and read its metadata (async only to set up a decompressor). */
export async function openTraceDat(path: string): Promise<TraceDat> {
  if (!existsSync(path)) throw new TwError('FILE_NOT_FOUND', `${path}: no such file`);
  if (statSync(path).isDirectory()) throw new TwError('FILE_NOT_FOUND', `${path}: is a directory, not a trace.dat file`);
  let file: FileBytes;
  try {
    file = new FileBytes(path);
  } catch (e) {
    if (isTwError(e)) throw e;
    throw new TwError('FILE_NOT_FOUND', `${path}: cannot open: ${(e as Error).message}`, { cause: e });
  }
  try {
    const dat = readHeader(file);
    if (dat.compression) dat.decompress = await decompressorFor(dat.compression.name, path);
    if (dat.version === 7) readV7Sections(dat);
    readTwTasks(dat);
    return dat;
  } catch (e) {
    file.close();
    if (isTwError(e)) throw e;
    throw new TwError('CORRUPT_FILE', `${path}: cannot read: ${(e as Error).message}`, { cause: e });
  }
}

function readHeader(file: FileBytes): TraceDat {
  const path = file.path;
  if (file.size < 16) throw new TwError('NOT_TRACE_DAT', `${path}: not a trace.dat file (only ${file.size} bytes)`);
  const head = file.read(0, Math.min(64, file.size), 'file header');
  for (let i = 0; i < MAGIC.length; i++) {
    if (head[i] !== MAGIC[i]) throw new TwError('NOT_TRACE_DAT', `${path}: not a trace.dat file (no trace-cmd magic at offset 0)`);
  }
  const vEnd = head.indexOf(0, 10);
  if (vEnd < 0) throw new TwError('NOT_TRACE_DAT', `${path}: not a trace.dat file (no version string)`);
  const versionText = head.subarray(10, vEnd).toString('latin1');
  const version = Number(versionText);
  if (version !== 6 && version !== 7) {
    throw new TwError('UNSUPPORTED_VERSION', `${path}: trace.dat version ${quoted(versionText)}; tw reads versions 6 and 7`);
  }
  let pos = vEnd + 1;
  const endian = head[pos++];
  const longSize = head[pos++];
  if (endian !== 0 && endian !== 1) fail(path, `invalid endianness byte ${endian} at offset ${pos - 2}`);
  if (longSize !== 4 && longSize !== 8) fail(path, `invalid long size ${longSize} at offset ${pos - 1}`);
  const le = endian === 0;
  const seq = new FileSeq(file, le, pos);
  const pageSize = seq.u32('page size');
  if (pageSize < 64 || pageSize > 1 << 24 || (pageSize & (pageSize - 1)) !== 0) fail(path, `implausible page size ${pageSize}`);

  const dat: TraceDat = {
    path,
    version,
    littleEndian: le,
    longSize,
    pageSize,
    compression: undefined,
    headerPage: undefined as unknown as HeaderPage,
    formats: new FormatRegistry(),
    cmdlines: new Map(),
    tgids: new Map(),
    tasks: new Map(),
    cpuCount: 0,
    clock: 'local',
    uname: undefined,
    arch: undefined,
    traceCmdVersion: undefined,
    tsOffset: 0n,
    dated: false,
    realtimeOffset: undefined,
    cpuStats: [],
    buffers: [],
    decompress: undefined,
    file,
    close: () => file.close(),
  };

  if (version === 6) {
    readV6(dat, seq);
    finish(dat);
  } else {
    readV7Header(dat, seq);
  }
  return dat;
}

/** Checks once all metadata is in. */
function finish(dat: TraceDat): void {
  const { path, file } = dat;
  if (dat.headerPage === undefined) fail(path, 'the file has no header_page');
  if (dat.arch === undefined && dat.uname) dat.arch = dat.uname.trim().split(/\s+/).pop();
  for (const b of dat.buffers) {
    for (const c of b.cpus) {
      if (c.size > 0 && c.offset + c.size > file.size) {
        fail(path, `truncated: buffer ${quoted(b.name)} cpu ${c.cpu} data needs bytes ${c.offset}..${c.offset + c.size} but the file has ${file.size}`);
      }
    }
  }
}

function readHeaderInfo(dat: TraceDat, c: ByteCursor): void {
  const tag1 = c.cstring('header_page tag');
  if (tag1 !== 'header_page') fail(dat.path, `expected 'header_page', found ${quoted(tag1)}`);
  const hp = c.text(c.u64('header_page size'), 'header_page');
  const tag2 = c.cstring('header_event tag');
  if (tag2 !== 'header_event') fail(dat.path, `expected 'header_event', found ${quoted(tag2)}`);
  const he = c.text(c.u64('header_event size'), 'header_event');
  dat.headerPage = parseHeaderPage(hp, `${dat.path}:header_page`);
  checkHeaderEvent(he, `${dat.path}:header_event`);
}

function readFtraceFormats(dat: TraceDat, c: ByteCursor): void {
  const n = c.u32('ftrace format count');
  for (let i = 0; i < n; i++) {
    const bytes = c.bytesOf(c.u64('ftrace format size'), 'ftrace format');
    addFormatBytes(dat, bytes.length, (n) => bytes.subarray(0, n), `${dat.path}:ftrace/#${i}`, 'ftrace');
  }
}

function readEventFormats(dat: TraceDat, c: ByteCursor): void {
  const systems = c.u32('event system count');
  for (let s = 0; s < systems; s++) {
    const system = c.cstring('event system name');
    checkSystemName(dat, system);
    const n = c.u32(`event count of system ${system}`);
    for (let i = 0; i < n; i++) {
      const bytes = c.bytesOf(c.u64(`format size in system ${system}`), `format in system ${system}`);
      addFormatBytes(dat, bytes.length, (n) => bytes.subarray(0, n), `${dat.path}:${system}/#${i}`, system);
    }
  }
}

/** Kernel event systems are C identifiers (tw's own and trace-cmd's: `ftrace`, `tw`, `bpf-*`). */
const SYSTEM_NAME = /^[A-Za-z0-9_.\-]+$/;

function checkSystemName(dat: TraceDat, system: string): void {
  if (!SYSTEM_NAME.test(system)) fail(dat.path, `event system name ${quoted(system)} is not a name (letters, digits, '_', '.', '-')`);
}

/** An instance buffer's name is shown and printed: it may hold no control characters. */
function checkBufferName(dat: TraceDat, name: string): void {
  if (printable(name) !== name || name.length > 255) fail(dat.path, `buffer name ${quoted(name)} is not a usable instance name`);
}

/** The largest event ID there can be: records carry it in common_type, 16 bits. */
const MAX_EVENT_ID = 0xffff;

/**
 * Parse one stored format. A format that does not parse (a kernel's text tw cannot read) does
 * not make the whole file unreadable: it is kept as an error raised if a record of it is met.
 * Its ID must still make sense: an ID no record can carry (above 16 bits), or one that another
 * format of the file claims too, means the file is corrupt or crafted, and every answer from it
 * would be wrong (records counted as another event, or as unknown): that fails the whole file.
 */
function addFormat(dat: TraceDat, text: string, where: string, system: string, tooLarge?: FormatParseError): void {
  const idLine = /^ID:\s*(\d+)\s*$/m.exec(text);
  if (idLine && idLine[1] !== undefined) {
    const digits = idLine[1].replace(/^0+(?=\d)/, '');
    if (digits.length > 5 || Number(digits) > MAX_EVENT_ID) {
      fail(dat.path, `${where}: event ID ${quoted(digits, 24)} is larger than ${MAX_EVENT_ID}, the largest a record's 16-bit common_type can name`);
    }
    const id = Number(digits);
    const other = dat.formats.get(id) ?? (dat.formats.brokenError(id) ? dat.formats.brokenWhere(id) : undefined);
    if (other !== undefined) {
      const name = typeof other === 'string' ? other : other.fullName;
      fail(dat.path, `${where}: event ID ${id} is claimed twice (also by ${quoted(name)}): each event's records must have an ID of their own`);
    }
  }
  try {
    if (tooLarge) throw tooLarge;
    dat.formats.add(parseEventFormat(text, where, system, dat.longSize));
  } catch (e) {
    if (!idLine || idLine[1] === undefined || !isTwError(e)) throw e;
    dat.formats.addBroken(Number(idLine[1]), e as Error, where);
  }
}

/**
 * A stored format of `size` bytes, of which `head(n)` gives the first n: one larger than any
 * kernel's (MAX_FORMAT_BYTES) is not decoded whole, only far enough to find its ID, and kept as
 * a format that does not parse.
 */
function addFormatBytes(dat: TraceDat, size: number, head: (n: number) => Uint8Array, where: string, system: string): void {
  if (size <= MAX_FORMAT_BYTES) {
    addFormat(dat, Buffer.from(head(size)).toString('utf8'), where, system);
    return;
  }
  const start = Buffer.from(head(4096)).toString('utf8');
  const text = start.slice(0, Math.max(0, start.lastIndexOf('\n'))); // whole lines only
  addFormat(dat, text, where, system, new FormatParseError(where, 1, `the format text is ${size} bytes; tw takes formats of at most ${MAX_FORMAT_BYTES} bytes`));
}

function readCmdlines(dat: TraceDat, text: string): void {
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (m && m[1] !== undefined && m[2] !== undefined) dat.cmdlines.set(Number(m[1]), m[2]);
  }
}

/** Options common to v6 and v7 (the v7-only section pointers are handled by the caller). */
function applyOption(dat: TraceDat, id: number, data: Uint8Array): void {
  const str = () => {
    const z = data.indexOf(0);
    return Buffer.from(z >= 0 ? data.subarray(0, z) : data).toString('utf8');
  };
  switch (id) {
    case OPT.TRACECLOCK: {
      const m = /\[([A-Za-z0-9_\-]+)\]/.exec(str());
      if (m && m[1]) dat.clock = m[1];
      break;
    }
    case OPT.UNAME:
      dat.uname = printable(str()); // shown as it is in `tw events --input`
      break;
    case OPT.VERSION:
      dat.traceCmdVersion = printable(str());
      break;
    case OPT.CPUSTAT:
      dat.cpuStats.push(str());
      break;
    case OPT.CPUCOUNT:
      if (data.length >= 4) dat.cpuCount = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, dat.littleEndian);
      break;
    case OPT.OFFSET:
      dat.tsOffset += BigInt.asIntN(64, BigInt(parseInt(str(), 0) || 0));
      break;
    case OPT.DATE: {
      const v = str().trim();
      const n = /^-?0x/i.test(v) ? BigInt(v.replace(/^-/, '')) * (v.startsWith('-') ? -1n : 1n) : BigInt(/^-?\d+$/.test(v) ? v : '0');
      dat.tsOffset += n * 1000n;
      dat.dated = true;
      dat.realtimeOffset = 0n;
      break;
    }
    case OPT.TSC2NSEC:
      throw new TwError('CORRUPT_FILE', `${dat.path}: timestamps are raw TSC counts to be converted with TSC2NSEC; tw does not support such files yet`);
    case OPT.BUFFER_TEXT:
      throw new TwError('CORRUPT_FILE', `${dat.path}: holds a latency-tracer text buffer, not ring-buffer data; tw reads flyrecord (event) traces`);
    default:
      break;
  }
}

// ---------------------------------------------------------------- v6

function readV6(dat: TraceDat, seq: FileSeq): void {
  const path = dat.path;
  const tag1 = seq.cstring('header_page tag');
  if (tag1 !== 'header_page') fail(path, `expected 'header_page' at offset ${seq.pos - tag1.length - 1}, found ${quoted(tag1)}`);
  const hp = seq.bytes(seq.u64('header_page size'), 'header_page').toString('utf8');
  const tag2 = seq.cstring('header_event tag');
  if (tag2 !== 'header_event') fail(path, `expected 'header_event', found ${quoted(tag2)}`);
  const he = seq.bytes(seq.u64('header_event size'), 'header_event').toString('utf8');
  dat.headerPage = parseHeaderPage(hp, `${path}:header_page`);
  checkHeaderEvent(he, `${path}:header_event`);

  const nFtrace = seq.u32('ftrace format count');
  for (let i = 0; i < nFtrace; i++) {
    const size = seq.u64('ftrace format size');
    const at = seq.pos;
    addFormatBytes(dat, size, (n) => dat.file.read(at, n, 'ftrace format'), `${path}:ftrace/#${i}`, 'ftrace');
    seq.skip(size, 'ftrace format');
  }
  const systems = seq.u32('event system count');
  for (let s = 0; s < systems; s++) {
    const system = seq.cstring('event system name');
    checkSystemName(dat, system);
    const n = seq.u32(`event count of system ${system}`);
    for (let i = 0; i < n; i++) {
      const size = seq.u64(`format size in ${system}`);
      const at = seq.pos;
      addFormatBytes(dat, size, (n) => dat.file.read(at, n, `format in ${system}`), `${path}:${system}/#${i}`, system);
      seq.skip(size, `format in ${system}`);
    }
  }
  seq.skip(seq.u32('kallsyms size'), 'kallsyms');
  seq.skip(seq.u32('printk formats size'), 'printk formats');
  readCmdlines(dat, seq.bytes(seq.u64('saved cmdlines size'), 'saved cmdlines').toString('utf8'));
  dat.cpuCount = seq.u32('cpu count');

  const instances: Array<{ name: string; offset: number }> = [];
  let kind = seq.bytes(10, 'data kind').toString('latin1');
  if (kind.startsWith('options')) {
    for (;;) {
      const id = seq.u16('option id');
      if (id === OPT.DONE) break;
      const size = seq.u32('option size');
      const data = seq.bytes(size, `option ${id}`);
      if (id === OPT.BUFFER) {
        const c = new ByteCursor(data, dat.littleEndian, path, 'BUFFER option');
        const inst = { offset: c.u64('buffer offset'), name: c.cstring('buffer name') };
        checkBufferName(dat, inst.name);
        instances.push(inst);
      } else {
        applyOption(dat, id, data);
      }
    }
    kind = seq.bytes(10, 'data kind').toString('latin1');
  }
  if (kind.startsWith('latency')) {
    throw new TwError('CORRUPT_FILE', `${path}: holds a latency-tracer text trace, not ring-buffer data; tw reads flyrecord (event) traces`);
  }
  if (!kind.startsWith('flyrecord')) fail(path, `expected 'flyrecord' at offset ${seq.pos - 10}, found ${quoted(kind.replace(/\0/g, ''))}`);
  dat.buffers.push(readV6Flyrecord(dat, seq, '', dat.clock));
  for (const inst of instances) {
    const s = new FileSeq(dat.file, dat.littleEndian, inst.offset);
    let k = s.bytes(10, `buffer ${quoted(inst.name)} data kind`).toString('latin1');
    if (k.startsWith('options')) {
      // An instance may carry its own options block before its flyrecord.
      for (;;) {
        const id = s.u16('option id');
        if (id === OPT.DONE) break;
        s.skip(s.u32('option size'), `option ${id}`);
      }
      k = s.bytes(10, `buffer ${quoted(inst.name)} data kind`).toString('latin1');
    }
    if (!k.startsWith('flyrecord')) fail(path, `buffer ${quoted(inst.name)}: expected 'flyrecord' at offset ${inst.offset}`);
    dat.buffers.push(readV6Flyrecord(dat, s, inst.name, dat.clock));
  }
}

function readV6Flyrecord(dat: TraceDat, seq: FileSeq, name: string, clock: string): TraceBuffer {
  const cpus: CpuData[] = [];
  for (let cpu = 0; cpu < dat.cpuCount; cpu++) {
    const offset = seq.u64(`cpu ${cpu} data offset`);
    const size = seq.u64(`cpu ${cpu} data size`);
    cpus.push({ cpu, offset, size });
  }
  return { name, clock, pageSize: dat.pageSize, compressed: false, cpus };
}

// ---------------------------------------------------------------- v7

interface SectionPtrs {
  headerInfo?: number;
  ftraceEvents?: number;
  eventFormats?: number;
  cmdlines?: number;
}

const firstOptions = new WeakMap<TraceDat, number>();
const firstSectionAt = new WeakMap<TraceDat, number>();

/** The v7 file header: compression, and where the first options section is. */
function readV7Header(dat: TraceDat, seq: FileSeq): void {
  const name = seq.cstring('compression name', 64);
  const cver = seq.cstring('compression version', 64);
  if (name !== 'none') dat.compression = { name, version: cver };
  firstOptions.set(dat, seq.u64('first options section offset'));
  firstSectionAt.set(dat, seq.pos);
}

function readV7Sections(dat: TraceDat): void {
  const path = dat.path;
  let optOffset = firstOptions.get(dat) ?? 0;
  const ptrs: SectionPtrs = {};
  const bufferOpts: Uint8Array[] = [];
  const seen = new Set<number>();
  while (optOffset !== 0) {
    if (seen.has(optOffset)) fail(path, `options sections form a loop at offset ${optOffset}`);
    seen.add(optOffset);
    const { id, body } = readSection(dat, optOffset);
    if (id !== OPT.DONE) fail(path, `expected an options section at offset ${optOffset}, found section id ${id}`);
    const c = new ByteCursor(body, dat.littleEndian, path, 'options section', -1);
    optOffset = 0;
    for (;;) {
      const oid = c.u16('option id');
      const size = c.u32('option size');
      const data = c.bytesOf(size, `option ${oid}`);
      if (oid === OPT.DONE) {
        optOffset = size >= 8 ? new ByteCursor(data, dat.littleEndian, path, 'DONE option').u64('next options offset') : 0;
        break;
      }
      const at = () => new ByteCursor(data, dat.littleEndian, path, `option ${oid}`).u64('section offset');
      switch (oid) {
        case OPT.HEADER_INFO: ptrs.headerInfo = at(); break;
        case OPT.FTRACE_EVENTS: ptrs.ftraceEvents = at(); break;
        case OPT.EVENT_FORMATS: ptrs.eventFormats = at(); break;
        case OPT.CMDLINES: ptrs.cmdlines = at(); break;
        case OPT.BUFFER: bufferOpts.push(data); break;
        default: applyOption(dat, oid, data);
      }
    }
  }
  if (ptrs.headerInfo === undefined) fail(path, 'no HEADER_INFO section (header_page/header_event)');
  readHeaderInfo(dat, sectionCursor(dat, ptrs.headerInfo, 16));
  if (ptrs.ftraceEvents !== undefined) readFtraceFormats(dat, sectionCursor(dat, ptrs.ftraceEvents, 17));
  if (ptrs.eventFormats !== undefined) readEventFormats(dat, sectionCursor(dat, ptrs.eventFormats, 18));
  if (ptrs.cmdlines !== undefined) {
    const c = sectionCursor(dat, ptrs.cmdlines, 21);
    readCmdlines(dat, c.text(c.u64('saved cmdlines size'), 'saved cmdlines'));
  }
  for (const data of bufferOpts) {
    const c = new ByteCursor(data, dat.littleEndian, path, 'BUFFER option');
    const offset = c.u64('buffer section offset');
    const bname = c.cstring('buffer name');
    checkBufferName(dat, bname);
    const clock = c.cstring('buffer clock');
    if (clock !== '' && !/^[A-Za-z0-9_\-]+$/.test(clock)) fail(path, `buffer ${quoted(bname)} names the trace clock ${quoted(clock)}, which is not a clock name`);
    const pageSize = c.u32('buffer page size');
    const n = c.u32('buffer cpu count');
    const cpus: CpuData[] = [];
    for (let i = 0; i < n; i++) {
      cpus.push({ cpu: c.u32('cpu id'), offset: c.u64('cpu data offset'), size: c.u64('cpu data size') });
    }
    let compressed = false;
    if (n > 0) {
      const h = readSectionHeader(dat, offset);
      compressed = (h.flags & SECTION_COMPRESSED) !== 0;
      if (compressed && !dat.decompress) fail(path, `buffer ${quoted(bname)} is marked compressed but the file names no compression`);
    }
    if (pageSize < 64 || (pageSize & (pageSize - 1)) !== 0) fail(path, `buffer ${quoted(bname)} has implausible page size ${pageSize}`);
    if (bname === '') dat.clock = clock || dat.clock;
    dat.buffers.push({ name: bname, clock: clock || dat.clock, pageSize, compressed, cpus });
  }
  if (dat.cpuCount === 0) dat.cpuCount = Math.max(0, ...dat.buffers.flatMap((b) => b.cpus.map((c) => c.cpu + 1)));
  finish(dat);
}

function readSectionHeader(dat: TraceDat, offset: number): { id: number; flags: number; size: number; dataAt: number } {
  const c = new ByteCursor(dat.file.read(offset, 16, 'section header'), dat.littleEndian, dat.path, 'section header', offset);
  const id = c.u16('section id');
  const flags = c.u16('section flags');
  c.u32('section description');
  const size = c.u64('section size');
  return { id, flags, size, dataAt: offset + 16 };
}

/** A v7 section's content, decompressed when its header says so. */
function readSection(dat: TraceDat, offset: number): { id: number; body: Uint8Array } {
  const h = readSectionHeader(dat, offset);
  if ((h.flags & SECTION_COMPRESSED) === 0) return { id: h.id, body: dat.file.read(h.dataAt, h.size, `section ${h.id}`) };
  if (!dat.decompress) fail(dat.path, `section ${h.id} at offset ${offset} is compressed but the file names no compression`);
  const c = new ByteCursor(dat.file.read(h.dataAt, 8, 'compression header'), dat.littleEndian, dat.path, 'compression header', h.dataAt);
  const csize = c.u32('compressed size');
  const usize = c.u32('uncompressed size');
  const input = dat.file.read(h.dataAt + 8, csize, `compressed section ${h.id}`);
  return { id: h.id, body: dat.decompress(input, usize) };
}

function sectionCursor(dat: TraceDat, offset: number, expectId: number): ByteCursor {
  const { id, body } = readSection(dat, offset);
  if (id !== expectId) fail(dat.path, `expected section ${expectId} at offset ${offset}, found section ${id}`);
  return new ByteCursor(body, dat.littleEndian, dat.path, `section ${id}`, -1);
}

// ---------------------------------------------------------------- tw's task table

const TW_TASKS_SECTION = 0x7477;
const TW_TASKS_MAGIC = 'TWTASKS1';

function parseTasks(dat: TraceDat, text: string): void {
  for (const line of text.split('\n')) {
    // pid, tgid, ppid, exe, uid, cmdline (tables written before uid and cmdline stop at exe)
    const [pid, tgid, ppid, exe, uid, cmdline] = line.split('\t');
    // the session's realtime offset (see TraceDatFinish.realtimeOffset); DATE wins over it
    if (pid === 'realtime-offset' && tgid && /^-?\d+$/.test(tgid)) {
      if (!dat.dated) dat.realtimeOffset = BigInt(tgid);
      continue;
    }
    if (!pid || !/^\d+$/.test(pid)) continue;
    if (tgid && /^\d+$/.test(tgid)) dat.tgids.set(Number(pid), Number(tgid));
    dat.tasks.set(Number(pid), {
      ppid: ppid && /^\d+$/.test(ppid) ? Number(ppid) : undefined,
      exe: exe || undefined,
      ...(uid && /^\d+$/.test(uid) ? { uid: Number(uid) } : {}),
      ...(cmdline ? { cmdline } : {}),
    });
  }
}

/**
 * tw's recordings carry a task table (pid, tgid, ppid, exe) that trace-cmd has no place for:
 * v7, a section no option points at (trace-cmd skips it); v6, a footer after the CPU data
 * ending in the magic "TWTASKS1". Files without one are fine.
 */
function readTwTasks(dat: TraceDat): void {
  const { file } = dat;
  if (dat.version === 6) {
    if (file.size < 16) return;
    const tail = file.read(file.size - 16, 16, 'tw task table footer');
    if (tail.subarray(8).toString('latin1') !== TW_TASKS_MAGIC) return;
    const len = Number(new DataView(tail.buffer, tail.byteOffset, 8).getBigUint64(0, dat.littleEndian));
    if (len > file.size - 16) fail(dat.path, `tw task table of ${len} bytes does not fit the file`);
    parseTasks(dat, file.read(file.size - 16 - len, len, 'tw task table').toString('utf8'));
    return;
  }
  // v7: walk the contiguous sections after the file header, as trace-cmd does for STRINGS
  let pos = firstSectionAt.get(dat) ?? 0;
  for (let n = 0; pos > 0 && pos + 16 <= file.size && n < 10_000; n++) {
    const h = readSectionHeader(dat, pos);
    if (h.id === TW_TASKS_SECTION) {
      const c = sectionCursor(dat, pos, TW_TASKS_SECTION);
      parseTasks(dat, c.text(c.u64('tw task table size'), 'tw task table'));
      return;
    }
    pos = h.dataAt + h.size;
  }
}
