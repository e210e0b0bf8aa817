/**
 * openTraceDat error paths, on tiny files synthesized into a temp directory (recordings made by
 * trace-cmd itself are tested elsewhere). Each case names the error code the CLI will map.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTwError, type ErrorCode, type TwError } from '../errors.js';
import { HEADER_EVENT, HEADER_PAGE_64 } from '../decode/test-bytes.js';
import { openTraceDat } from './read-trace-dat.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-read-trace-dat-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const MAGIC = [0x17, 0x08, 0x44, ...Buffer.from('tracing', 'latin1')];

/** Byte writer for trace.dat headers, one call per field. */
class DatBytes {
  private out: number[] = [];
  constructor(private readonly le = true) {}
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]!);
    return this;
  }
  cstr(s: string): this {
    return this.raw(Buffer.from(`${s}\0`, 'utf8'));
  }
  u8(v: number): this {
    return this.raw([v]);
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v);
    else b.writeUInt32BE(v);
    return this.raw(b);
  }
  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    if (this.le) b.writeBigUInt64LE(v);
    else b.writeBigUInt64BE(v);
    return this.raw(b);
  }
  text(s: string): this {
    return this.raw(Buffer.from(s, 'utf8'));
  }
  get length(): number {
    return this.out.length;
  }
  bytes(): Buffer {
    return Buffer.from(this.out);
  }
}

/** The fixed start of a trace.dat: magic, version string, endianness, long size, page size. */
function head(version: string, le = true, longSize = 8, pageSize = 4096): DatBytes {
  return new DatBytes(le)
    .raw(MAGIC) //                 \x17\x08D tracing
    .cstr(version) //              "6\0"
    .u8(le ? 0 : 1) //             endianness: 0 little, 1 big
    .u8(longSize) //               long size
    .u32(pageSize); //             page size
}

let n = 0;
function file(content: Uint8Array | string): string {
  const p = join(dir, `f${n++}.dat`);
  writeFileSync(p, content);
  return p;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await p;
  } catch (e) {
    return e;
  }
  (value as { close?: () => void } | undefined)?.close?.();
  throw new Error('expected openTraceDat to reject');
}

/** openTraceDat(path) rejects with a TwError of this code, naming the path, saying `why`. */
async function expectOpenError(path: string, code: ErrorCode, why: RegExp | string): Promise<TwError> {
  const e = await rejection(openTraceDat(path));
  expect(isTwError(e)).toBe(true);
  const t = e as TwError;
  expect({ code: t.code, message: t.message }).toEqual({ code, message: expect.stringContaining(path) });
  if (typeof why === 'string') expect(t.message).toBe(why);
  else expect(t.message).toMatch(why);
  return t;
}

describe('openTraceDat: not a trace.dat at all', () => {
  it('a missing file is FILE_NOT_FOUND', async () => {
    const p = join(dir, 'no-such.dat');
    await expectOpenError(p, 'FILE_NOT_FOUND', `${p}: no such file`);
  });

  it('a directory is FILE_NOT_FOUND', async () => {
    const p = join(dir, 'a-directory.dat');
    mkdirSync(p);
    await expectOpenError(p, 'FILE_NOT_FOUND', `${p}: is a directory, not a trace.dat file`);
  });

  it('an empty file and a file shorter than 16 bytes are NOT_TRACE_DAT', async () => {
    const empty = file('');
    await expectOpenError(empty, 'NOT_TRACE_DAT', `${empty}: not a trace.dat file (only 0 bytes)`);
    const short = file(Uint8Array.from([...MAGIC, 0x36, 0]));
    await expectOpenError(short, 'NOT_TRACE_DAT', `${short}: not a trace.dat file (only 12 bytes)`);
  });

  it('a text file and an ELF file are NOT_TRACE_DAT', async () => {
    const txt = file('name: sched_switch\nID: 372\nformat:\n');
    await expectOpenError(txt, 'NOT_TRACE_DAT', `${txt}: not a trace.dat file (no trace-cmd magic at offset 0)`);
    const elf = file(Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, ...new Array<number>(56).fill(0)]));
    await expectOpenError(elf, 'NOT_TRACE_DAT', /no trace-cmd magic at offset 0/);
  });

  it('a magic with a differing last byte is NOT_TRACE_DAT', async () => {
    const almost = [...MAGIC.slice(0, 9), 0x47, 0x36, 0, 0, 8, 0, 0x10, 0, 0, 0, 0];
    await expectOpenError(file(Uint8Array.from(almost)), 'NOT_TRACE_DAT', /no trace-cmd magic/);
  });

  it('the magic without a NUL-terminated version string in the first 64 bytes is NOT_TRACE_DAT', async () => {
    const p = file(Uint8Array.from([...MAGIC, ...Buffer.from('6'.repeat(60))]));
    await expectOpenError(p, 'NOT_TRACE_DAT', `${p}: not a trace.dat file (no version string)`);
  });
});

describe('openTraceDat: versions', () => {
  it.each(['5', '8', '', '6a'])('version "%s" is UNSUPPORTED_VERSION', async (v) => {
    const p = file(head(v).cstr('header_page').bytes());
    await expectOpenError(p, 'UNSUPPORTED_VERSION', `${p}: trace.dat version '${v}'; tw reads versions 6 and 7`);
  });
});

describe('openTraceDat: truncated or inconsistent headers are CORRUPT_FILE', () => {
  it('an invalid endianness byte', async () => {
    const p = file(new DatBytes().raw(MAGIC).cstr('6').u8(2).u8(8).u32(4096).bytes());
    await expectOpenError(p, 'CORRUPT_FILE', `${p}: invalid endianness byte 2 at offset 12`);
  });

  it('an invalid long size', async () => {
    const p = file(new DatBytes().raw(MAGIC).cstr('6').u8(0).u8(3).u32(4096).bytes());
    await expectOpenError(p, 'CORRUPT_FILE', `${p}: invalid long size 3 at offset 13`);
  });

  it.each([0, 1000, 32, 1 << 25])('page size %i is implausible', async (size) => {
    const p = file(head('6', true, 8, size).bytes());
    await expectOpenError(p, 'CORRUPT_FILE', `${p}: implausible page size ${size}`);
  });

  it('the file ends right after the page size (no header_page tag)', async () => {
    const p = file(head('6').text('he').bytes()); // the 18-byte fixed part, then 'he' and nothing more
    await expectOpenError(p, 'CORRUPT_FILE', `${p}: unexpected end of file reading header_page tag`);
  });

  it('a v6 header_page cut short (the text is shorter than its stated size)', async () => {
    const b = head('6')
      .cstr('header_page') //                                   tag at 18
      .u64(BigInt(HEADER_PAGE_64.length)) //                    size at 30
      .text(HEADER_PAGE_64.slice(0, 50)); //                    text at 38, only 50 bytes of it
    const p = file(b.bytes());
    expect(b.length).toBe(88);
    await expectOpenError(p, 'CORRUPT_FILE', `${p}: truncated: header_page needs bytes 38..${38 + HEADER_PAGE_64.length} but the file has 88`);
  });

  it('a big-endian v6 header_page cut short: sizes are read big-endian', async () => {
    const b = head('6', false)
      .cstr('header_page')
      .u64(BigInt(HEADER_PAGE_64.length)) //  big-endian u64
      .text(HEADER_PAGE_64.slice(0, 10));
    const p = file(b.bytes());
    await expectOpenError(p, 'CORRUPT_FILE', `${p}: truncated: header_page needs bytes 38..${38 + HEADER_PAGE_64.length} but the file has 48`);
  });

  it('a wrong tag where header_page belongs', async () => {
    const p = file(head('6').cstr('header_pages').u64(0n).bytes());
    await expectOpenError(p, 'CORRUPT_FILE', /expected 'header_page' at offset 18, found 'header_pages'/);
  });

  it('a v6 file cut after header_page and header_event (no ftrace format count)', async () => {
    const b = head('6')
      .cstr('header_page')
      .u64(BigInt(HEADER_PAGE_64.length))
      .text(HEADER_PAGE_64) //        the real 64-bit header_page
      .cstr('header_event')
      .u64(BigInt(HEADER_EVENT.length))
      .text(HEADER_EVENT) //          the real header_event
      .raw([1, 0]); //                2 of the 4 bytes of the ftrace format count
    const p = file(b.bytes());
    await expectOpenError(p, 'CORRUPT_FILE', `${p}: truncated: ftrace format count needs bytes ${b.length - 2}..${b.length + 2} but the file has ${b.length}`);
  });

  it('a header_page that does not parse is FORMAT_PARSE, naming the file', async () => {
    const broken = HEADER_PAGE_64.replace('\tfield: local_t commit;', '\tfield local_t commit;');
    const b = head('6')
      .cstr('header_page')
      .u64(BigInt(broken.length))
      .text(broken)
      .cstr('header_event')
      .u64(BigInt(HEADER_EVENT.length))
      .text(HEADER_EVENT);
    const p = file(b.bytes());
    const e = await expectOpenError(p, 'FORMAT_PARSE', /unrecognised line 'field local_t commit;/);
    expect(e).toMatchObject({ path: `${p}:header_page`, line: 2 });
  });

  it('a v7 file whose options section lies past the end', async () => {
    const b = head('7')
      .cstr('none') //             compression name
      .cstr('') //                 compression version
      .u64(10_000n); //            first options section offset
    const p = file(b.bytes());
    await expectOpenError(p, 'CORRUPT_FILE', `${p}: truncated: section header needs bytes 10000..10016 but the file has ${b.length}`);
  });

  it('a v7 file compressed with an unknown algorithm is UNSUPPORTED_COMPRESSION', async () => {
    const p = file(head('7').cstr('lzma').cstr('5.4').u64(0n).bytes());
    await expectOpenError(p, 'UNSUPPORTED_COMPRESSION', `${p}: compressed with 'lzma'; tw reads zstd and zlib`);
  });

  it('failed opens do not leak file descriptors', async () => {
    const bad = [
      file(head('6').text('he').bytes()),
      file(head('5').cstr('x').bytes()),
      file('not a trace file at all, just some text'),
    ];
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 50; i++) for (const p of bad) await rejection(openTraceDat(p));
    expect(fds() - before).toBeLessThan(10);
  });
});
