/**
 * For tests: an in-memory trace (one CPU, one sub-buffer, 64-bit kernel layout) holding the
 * given records, with the given tw event formats, so watches can run over probe records
 * exactly as the session decodes them from a ring buffer.
 *
 *   u64 timestamp | u64 commit (data length) | per record: u32 header (type_len 0, delta 0),
 *   u32 length word (payload + itself), payload zero-padded to 4 bytes   (ring_buffer.c)
 */
import { parseEventFormat, type TraceSource } from '@tw/core';
import { CpuStream, FormatRegistry, parseHeaderPage, type PageSource } from '@tw/core/internal';

/** events/header_page of an x86-64 kernel. */
const HEADER_PAGE_64 = [
  '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;',
  '\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;',
  '\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;',
  '\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;',
  '',
].join('\n');

export function memoryTrace(formats: Record<string, string>, records: readonly Uint8Array[], littleEndian: boolean, pageTs = 1000n): TraceSource {
  const registry = new FormatRegistry();
  for (const [name, text] of Object.entries(formats)) registry.add(parseEventFormat(text, `tw/${name}/format`, 'tw'));
  const size = 16 + records.reduce((n, r) => n + 8 + Math.ceil(r.length / 4) * 4, 0);
  const page = new Uint8Array(size);
  const dv = new DataView(page.buffer);
  dv.setBigUint64(0, pageTs, littleEndian); //      timestamp
  dv.setBigUint64(8, BigInt(size - 16), littleEndian); // commit: data length, no flags
  let at = 16;
  for (const r of records) {
    dv.setUint32(at, 0, littleEndian); //            type_len 0, time delta 0
    dv.setUint32(at + 4, r.length + 4, littleEndian); // length word: itself + the payload
    page.set(r, at + 8);
    at += 8 + Math.ceil(r.length / 4) * 4;
  }
  let used = false;
  const pages: PageSource = { buf: page, start: 0, size, fileOffset: 0, next: () => (used ? false : (used = true)) };
  const layout = { littleEndian, longSize: 8, header: parseHeaderPage(HEADER_PAGE_64) } as const;
  return {
    littleEndian,
    formats: registry,
    arch: 'x86_64',
    tsOffset: 0n,
    cmdlines: new Map(),
    tgids: new Map(),
    streams: () => [new CpuStream(0, '', pages, layout)],
  };
}
