/**
 * Bounds-checked readers over trace.dat bytes: `FileBytes` reads at absolute file offsets
 * (positional reads, nothing mapped or slurped), `ByteCursor` walks an in-memory block.
 * Endianness is chosen once per file. Every read past the end raises CORRUPT_FILE naming the
 * file, the offset and what was being read.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { TwError } from '../errors.js';

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

export class FileBytes {
  readonly fd: number;
  readonly size: number;

  /**
   * Opens without blocking (a FIFO with no writer would block open() forever) and takes only a
   * regular file: a FIFO, socket or device has no size to check offsets against, and reading
   * one could wait forever or never end.
   */
  constructor(readonly path: string) {
    this.fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const st = fstatSync(this.fd);
    if (!st.isFile()) {
      closeSync(this.fd);
      throw new TwError('FILE_NOT_FOUND', `${path}: is ${kindOf(st)}, not a regular file: tw reads recordings from regular files`);
    }
    this.size = st.size;
  }

  /** A fresh copy of `len` bytes at `offset`. */
  read(offset: number, len: number, what: string): Buffer {
    // checked before allocating: a size field read from the file may be anything (up to 2^53)
    this.check(offset, len, what);
    const out = Buffer.allocUnsafe(len);
    this.readInto(out, 0, offset, len, what);
    return out;
  }

  /** Read exactly `len` bytes at file `offset` into `out` at `at`. */
  readInto(out: Uint8Array, at: number, offset: number, len: number, what: string): void {
    this.check(offset, len, what);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, out, at + done, len - done, offset + done);
      if (n === 0) throw new TwError('CORRUPT_FILE', `${this.path}: unexpected end of file reading ${what} at ${offset + done}`);
      done += n;
    }
  }

  private check(offset: number, len: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len < 0 || offset + len > this.size) {
      throw new TwError('CORRUPT_FILE', `${this.path}: truncated: ${what} needs bytes ${offset}..${offset + len} but the file has ${this.size}`);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

export class ByteCursor {
  pos: number;
  private readonly dv: DataView;

  /**
   * @param base the file offset of bytes[0] (for error messages; -1 for decompressed blocks)
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly le: boolean,
    readonly path: string,
    readonly what: string,
    readonly base = 0,
  ) {
    this.pos = 0;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) {
      const where = this.base >= 0 ? `file offset ${this.base + this.pos}` : `offset ${this.pos} of the ${this.what} block`;
      throw new TwError('CORRUPT_FILE', `${this.path}: truncated ${this.what}: ${what} at ${where} needs ${n} bytes, ${this.bytes.length - this.pos} left`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.dv.getUint16(this.pos, this.le);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos, this.le);
    this.pos += 4;
    return v;
  }
  /** u64 as a number; offsets and sizes beyond 2^53 are corrupt for our purposes */
  u64(what: string): number {
    this.need(8, what);
    const v = this.dv.getBigUint64(this.pos, this.le);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new TwError('CORRUPT_FILE', `${this.path}: ${what} is ${v}, larger than any file`);
    }
    return Number(v);
  }
  bytesOf(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.pos, this.pos + n); // view: metadata blocks stay alive while parsed
    this.pos += n;
    return v;
  }
  text(n: number, what: string): string {
    return Buffer.from(this.bytesOf(n, what)).toString('utf8');
  }
  /** a NUL-terminated string */
  cstring(what: string): string {
    const end = this.bytes.indexOf(0, this.pos);
    if (end < 0) this.need(this.bytes.length - this.pos + 1, what);
    const s = Buffer.from(this.bytes.subarray(this.pos, end)).toString('utf8');
    this.pos = end + 1;
    return s;
  }
}

/** Sequential reads from a file at a moving offset (for v6 metadata, which has no section table). */
export class FileSeq {
  constructor(
    readonly file: FileBytes,
    readonly le: boolean,
    public pos: number,
  ) {}

  private block(n: number, what: string): ByteCursor {
    const b = this.file.read(this.pos, n, what);
    const c = new ByteCursor(b, this.le, this.file.path, what, this.pos);
    this.pos += n;
    return c;
  }
  u8(what: string): number { return this.block(1, what).u8(what); }
  u16(what: string): number { return this.block(2, what).u16(what); }
  u32(what: string): number { return this.block(4, what).u32(what); }
  u64(what: string): number { return this.block(8, what).u64(what); }
  bytes(n: number, what: string): Buffer {
    const b = this.file.read(this.pos, n, what);
    this.pos += n;
    return b;
  }
  skip(n: number, what: string): void {
    if (this.pos + n > this.file.size) {
      throw new TwError('CORRUPT_FILE', `${this.file.path}: truncated: ${what} needs bytes ${this.pos}..${this.pos + n} but the file has ${this.file.size}`);
    }
    this.pos += n;
  }
  cstring(what: string, max = 4096): string {
    const parts: Buffer[] = [];
    for (let total = 0; total < max; ) {
      const n = Math.min(256, this.file.size - this.pos);
      if (n <= 0) throw new TwError('CORRUPT_FILE', `${this.file.path}: unexpected end of file reading ${what}`);
      const b = this.file.read(this.pos, n, what);
      const z = b.indexOf(0);
      if (z >= 0) {
        parts.push(b.subarray(0, z));
        this.pos += z + 1;
        return Buffer.concat(parts).toString('utf8');
      }
      parts.push(b);
      this.pos += n;
      total += n;
    }
    throw new TwError('CORRUPT_FILE', `${this.file.path}: ${what} is not NUL-terminated within ${max} bytes`);
  }
}
