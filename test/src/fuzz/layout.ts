// Where the structure of a (well-formed) trace.dat lies, for structured corruption: the offsets
// of its section and item boundaries, and of its size and count fields with their widths.
// Written from trace-cmd.dat.v6(5) / trace-cmd.dat.v7(5); it walks only clean corpus files.

export interface SizeField {
  offset: number;
  width: 2 | 4 | 8;
  what: string;
}

export interface Layout {
  version: 6 | 7;
  littleEndian: boolean;
  /** offsets where one item ends and the next begins */
  boundaries: number[];
  /** size, count and offset fields */
  fields: SizeField[];
  /** offsets of the endianness byte, the long size byte and the page size (u32) */
  header: { endian: number; longSize: number; pageSize: number };
  /** the end of the metadata (the start of CPU data, as far as the walk got) */
  metaEnd: number;
}

class Walker {
  pos: number;
  readonly dv: DataView;
  readonly boundaries: number[] = [];
  readonly fields: SizeField[] = [];

  constructor(
    readonly b: Uint8Array,
    readonly le: boolean,
    start: number,
  ) {
    this.pos = start;
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  mark(): void {
    this.boundaries.push(this.pos);
  }
  u16(what: string): number {
    this.fields.push({ offset: this.pos, width: 2, what });
    const v = this.dv.getUint16(this.pos, this.le);
    this.pos += 2;
    return v;
  }
  u32(what: string, field = true): number {
    if (field) this.fields.push({ offset: this.pos, width: 4, what });
    const v = this.dv.getUint32(this.pos, this.le);
    this.pos += 4;
    return v;
  }
  u64(what: string, field = true): number {
    if (field) this.fields.push({ offset: this.pos, width: 8, what });
    const v = Number(this.dv.getBigUint64(this.pos, this.le));
    this.pos += 8;
    return v;
  }
  cstring(): string {
    const end = this.b.indexOf(0, this.pos);
    const s = Buffer.from(this.b.subarray(this.pos, end)).toString('latin1');
    this.pos = end + 1;
    return s;
  }
  skip(n: number): void {
    this.pos += n;
  }
}

/** The layout of a clean trace.dat (v6 or v7). */
export function layoutOf(b: Uint8Array): Layout {
  let pos = 10;
  const vEnd = b.indexOf(0, pos);
  const version = Number(Buffer.from(b.subarray(pos, vEnd)).toString('latin1'));
  if (version !== 6 && version !== 7) throw new Error(`corpus file has version ${version}`);
  pos = vEnd + 1;
  const header = { endian: pos, longSize: pos + 1, pageSize: pos + 2 };
  const le = b[pos] === 0;
  const w = new Walker(b, le, pos + 2);
  w.boundaries.push(10, vEnd + 1, pos + 1, pos + 2);
  w.u32('page size');
  w.mark();
  return version === 6 ? walkV6(w, header) : walkV7(w, header);
}

function walkV6(w: Walker, header: Layout['header']): Layout {
  for (const tag of ['header_page', 'header_event']) {
    w.cstring();
    w.mark();
    w.skip(w.u64(`${tag} size`));
    w.mark();
  }
  const nFtrace = w.u32('ftrace format count');
  for (let i = 0; i < nFtrace; i++) {
    w.mark();
    w.skip(w.u64('ftrace format size'));
  }
  w.mark();
  const systems = w.u32('event system count');
  for (let s = 0; s < systems; s++) {
    w.mark();
    w.cstring();
    const n = w.u32('event count');
    for (let i = 0; i < n; i++) {
      w.mark();
      w.skip(w.u64('format size'));
    }
  }
  w.mark();
  w.skip(w.u32('kallsyms size'));
  w.mark();
  w.skip(w.u32('printk size'));
  w.mark();
  w.skip(w.u64('cmdlines size'));
  w.mark();
  const cpus = w.u32('cpu count');
  w.mark();
  const kind = Buffer.from(w.b.subarray(w.pos, w.pos + 10)).toString('latin1');
  w.skip(10);
  if (kind.startsWith('options')) {
    for (;;) {
      w.mark();
      const id = w.u16('option id');
      if (id === 0) break;
      w.skip(w.u32('option size'));
    }
    w.mark();
    w.skip(10); // flyrecord
  }
  w.mark();
  for (let c = 0; c < cpus; c++) {
    w.u64('cpu data offset');
    w.u64('cpu data size');
  }
  w.mark();
  return { version: 6, littleEndian: w.le, boundaries: w.boundaries, fields: w.fields, header, metaEnd: w.pos };
}

function walkV7(w: Walker, header: Layout['header']): Layout {
  w.cstring(); // compression name
  w.mark();
  w.cstring(); // compression version
  w.mark();
  w.u64('first options section offset');
  w.mark();
  let metaEnd = w.pos;
  // sections follow one another to the end of the file
  while (w.pos + 16 <= w.b.length) {
    const at = w.pos;
    w.mark();
    const id = w.u16('section id');
    const flags = w.u16('section flags');
    w.u32('section description');
    const size = w.u64('section size');
    w.mark();
    if ((flags & 1) !== 0 && size >= 8) {
      // compressed: u32 compressed size, u32 uncompressed size, then the data
      w.u32('compressed size');
      w.u32('uncompressed size');
    }
    if (id === 0 && (flags & 1) === 0) {
      // an options section: options up to DONE (id 0)
      for (let p = w.pos; p + 6 <= at + 16 + size; ) {
        w.pos = p;
        w.mark();
        const oid = w.u16('option id');
        const osize = w.u32('option size');
        if (oid === 0) break;
        p = w.pos + osize;
      }
    }
    w.pos = at + 16 + size;
    if (id !== 3) metaEnd = Math.max(metaEnd, w.pos);
    if (size > w.b.length) break;
  }
  w.mark();
  return { version: 7, littleEndian: w.le, boundaries: w.boundaries, fields: w.fields, header, metaEnd };
}
