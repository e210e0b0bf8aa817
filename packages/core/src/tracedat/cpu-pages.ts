/**
 * Per-CPU page sources over trace.dat CPU data: yield one sub-buffer at a time from a bounded
 * window, so memory stays the same however large the file is.
 * - uncompressed data is read in windows of whole pages (positional reads);
 * - v7 compressed data is a chunk table (u32 count, then per chunk u32 compressed size,
 *   u32 uncompressed size, data), decompressed one chunk at a time into a reused buffer.
 * The page handed out is a view (subarray) of the window: valid until the next call to next().
 */
import { TwError } from '../errors.js';
import type { PageSource } from '../decode/page-source.js';
import type { Decompressor } from './compression.js';
import type { FileBytes } from './byte-reader.js';
import type { CpuData, TraceBuffer, TraceDat } from './read-trace-dat.js';
import { MAX_BLOCK_BYTES } from './compression.js';

const WINDOW_BYTES = 1 << 20;

/** The page source for one CPU of one buffer of the file: chunked when the buffer is compressed. */
export function cpuPages(dat: TraceDat, buffer: TraceBuffer, data: CpuData): PageSource {
  if (!buffer.compressed) return new FilePages(dat.file, data, buffer.pageSize);
  if (!dat.decompress) throw new TwError('CORRUPT_FILE', `${dat.path}: buffer '${buffer.name}' is compressed but the file names no compression`);
  return new CompressedPages(dat.file, data, buffer.pageSize, dat.decompress, dat.littleEndian);
}

export class FilePages implements PageSource {
  buf: Uint8Array;
  start = 0;
  size = 0;
  fileOffset = 0;
  private winFileOffset = 0;
  private winLen = 0;
  private nextFile: number;
  private readonly end: number;

  constructor(
    private readonly file: FileBytes,
    data: CpuData,
    private readonly pageSize: number,
  ) {
    this.nextFile = data.offset;
    this.end = data.offset + data.size;
    const pages = Math.max(1, Math.floor(WINDOW_BYTES / pageSize));
    this.buf = new Uint8Array(Math.min(pages * pageSize, Math.max(pageSize, data.size)));
    this.start = 0;
    this.winLen = 0;
  }

  next(): boolean {
    const nextStart = this.start + this.size;
    if (nextStart < this.winLen) {
      this.start = nextStart;
      this.size = Math.min(this.pageSize, this.winLen - nextStart);
      this.fileOffset = this.winFileOffset + nextStart;
      return true;
    }
    if (this.nextFile >= this.end) return false;
    const len = Math.min(this.buf.length, this.end - this.nextFile);
    this.file.readInto(this.buf, 0, this.nextFile, len, 'cpu data');
    this.winFileOffset = this.nextFile;
    this.nextFile += len;
    this.winLen = len;
    this.start = 0;
    this.size = Math.min(this.pageSize, len);
    this.fileOffset = this.winFileOffset;
    return true;
  }
}

export class CompressedPages implements PageSource {
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  size = 0;
  fileOffset = 0;
  private out: Uint8Array = new Uint8Array(0);
  private input: Uint8Array = new Uint8Array(0);
  private chunkLen = 0;
  private chunksLeft: number;
  private nextChunk: number;
  private readonly end: number;
  private readonly dv4 = new Uint8Array(8);

  constructor(
    private readonly file: FileBytes,
    data: CpuData,
    private readonly pageSize: number,
    private readonly decompress: Decompressor,
    private readonly le: boolean,
  ) {
    // The recorded size counts the chunks but not the leading u32 chunk count.
    this.end = data.offset + 4 + data.size;
    if (data.size === 0) {
      this.chunksLeft = 0;
      this.nextChunk = this.end;
      return;
    }
    this.file.readInto(this.dv4, 0, data.offset, 4, 'chunk count');
    this.chunksLeft = new DataView(this.dv4.buffer).getUint32(0, le);
    this.nextChunk = data.offset + 4;
  }

  next(): boolean {
    const nextStart = this.start + this.size;
    if (this.chunkLen > 0 && nextStart < this.chunkLen) {
      this.start = nextStart;
      this.size = Math.min(this.pageSize, this.chunkLen - nextStart);
      return true;
    }
    for (;;) {
      if (this.chunksLeft === 0) return false;
      this.chunksLeft--;
      const at = this.nextChunk;
      this.file.readInto(this.dv4, 0, at, 8, 'chunk header');
      const dv = new DataView(this.dv4.buffer);
      const csize = dv.getUint32(0, this.le);
      const usize = dv.getUint32(4, this.le);
      if (at + 8 + csize > this.end) {
        throw new TwError('CORRUPT_FILE', `${this.file.path}: compressed chunk at ${at} (${csize} bytes) runs past its CPU data`);
      }
      // The compressed bytes go into one reused buffer (a view is passed on, never kept).
      if (this.input.length < csize) this.input = new Uint8Array(Math.max(csize, this.input.length * 2));
      this.file.readInto(this.input, 0, at + 8, csize, 'compressed chunk');
      if (usize > MAX_BLOCK_BYTES) {
        throw new TwError('CORRUPT_FILE', `${this.file.path}: compressed chunk at ${at} claims ${usize} bytes uncompressed; tw takes at most ${MAX_BLOCK_BYTES} per chunk`);
      }
      if (this.out.length < usize) this.out = new Uint8Array(usize);
      this.buf = this.decompress(this.input.subarray(0, csize), usize, this.out);
      this.nextChunk = at + 8 + csize;
      this.chunkLen = usize;
      this.fileOffset = at;
      this.start = 0;
      this.size = Math.min(this.pageSize, usize);
      if (usize > 0) return true;
    }
  }
}
