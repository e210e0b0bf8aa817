// The fuzz cases: a corpus of real recordings (the shipped trace-cmd recording examples/sample.dat
// and small recordings written here, v6 and v7), structured corruptions of each (truncation at
// every boundary, header fields, every size and count field set to edge values up to 2^64-1,
// format texts that say impossible things), random files, then seeded random mutations up to
// the number of cases asked for. Every case is bytes plus the operation to run on them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SCHED_PROCESS_EXEC_OWN,
  SCHED_SWITCH_OWN,
  SIGNAL_GENERATE_OWN,
  execRecord,
  formatText,
  record,
  switchRecord,
  writeCrafted,
} from '../support/crafted-recording.js';
import { REPO_ROOT } from '../support/tw.js';
import { layoutOf, type Layout } from './layout.js';
import { Rng } from './rng.js';

export type Op = 'events' | 'dump' | 'watch';
export const OPS: readonly Op[] = ['events', 'dump', 'watch'];

export interface FuzzCase {
  /** what was done, to reproduce and to read in a failure */
  name: string;
  /** a clean corpus file, a structured corruption, a random file or a random mutation */
  kind?: 'clean' | 'structured' | 'random' | 'mutation';
  bytes: Uint8Array;
  op: Op;
}

interface CorpusFile {
  name: string;
  bytes: Uint8Array;
  layout: Layout;
}

const SWITCH_ID = 372;
const EXEC_ID = 365;
const SIGNAL_ID = 180;
const SYS_ENTER_ID = 22;

const SYS_ENTER_OWN = ['field:long id;\toffset:8;\tsize:8;\tsigned:1;', 'field:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;'];

/** The format texts of the small recordings, by system. */
function craftedFormats(edit: (system: string, text: string, i: number) => string = (_s, t) => t): Map<string, string[]> {
  const systems: Array<[string, string[]]> = [
    ['sched', [formatText('sched_switch', SWITCH_ID, SCHED_SWITCH_OWN), formatText('sched_process_exec', EXEC_ID, SCHED_PROCESS_EXEC_OWN)]],
    ['signal', [formatText('signal_generate', SIGNAL_ID, SIGNAL_GENERATE_OWN)]],
    ['raw_syscalls', [formatText('sys_enter', SYS_ENTER_ID, SYS_ENTER_OWN)]],
  ];
  let i = 0;
  return new Map(systems.map(([sys, texts]) => [sys, texts.map((t) => edit(sys, t, i++))]));
}

/** 300 records over two sub-buffers: switches, execs, signals and syscall entries of a few pids. */
function craftedRecords(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    const pid = 100 + (i % 7);
    switch (i % 4) {
      case 0: out.push(switchRecord(SWITCH_ID, pid, pid + 1)); break;
      case 1: out.push(execRecord(EXEC_ID, pid, `/usr/bin/prog${i % 5}`)); break;
      case 2: out.push(record(SIGNAL_ID, pid, 48, (dv) => { dv.setInt32(8, 15, true); dv.setInt32(36, pid + 1, true); })); break;
      default: out.push(record(SYS_ENTER_ID, pid, 64, (dv) => { dv.setBigInt64(8, BigInt(i % 300), true); })); break;
    }
  }
  return out;
}

const CMDLINES = Array.from({ length: 8 }, (_, i) => `${100 + i} prog${i}\n`).join('');

async function crafted(dir: string, name: string, version: 6 | 7, formats = craftedFormats()): Promise<Uint8Array> {
  const path = join(dir, `${name}.dat`);
  await writeCrafted(path, { version, formats, records: craftedRecords(), cmdlines: CMDLINES });
  return plain(readFileSync(path));
}

/** The clean corpus: the shipped trace-cmd recording and tw-written v6 and v7 recordings. */
export async function corpus(dir: string): Promise<CorpusFile[]> {
  const files: Array<[string, Uint8Array]> = [
    ['crafted-v7', await crafted(dir, 'crafted-v7', 7)],
    ['crafted-v6', await crafted(dir, 'crafted-v6', 6)],
    ['sample.dat', plain(readFileSync(join(REPO_ROOT, 'examples/sample.dat')))],
  ];
  return files.map(([name, bytes]) => ({ name, bytes, layout: layoutOf(bytes) }));
}

/** A plain Uint8Array copy: a Buffer's slice() is a view, and cases must never share bytes. */
function plain(b: Buffer): Uint8Array {
  return new Uint8Array(b);
}

function withValue(b: Uint8Array, offset: number, width: 1 | 2 | 4 | 8, v: bigint, le: boolean): Uint8Array {
  const c = b.slice();
  const dv = new DataView(c.buffer);
  if (offset + width > c.length) return c;
  if (width === 1) c[offset] = Number(v & 0xffn);
  else if (width === 2) dv.setUint16(offset, Number(v & 0xffffn), le);
  else if (width === 4) dv.setUint32(offset, Number(v & 0xffff_ffffn), le);
  else dv.setBigUint64(offset, v & 0xffff_ffff_ffff_ffffn, le);
  return c;
}

const EDGE: Record<2 | 4 | 8, bigint[]> = {
  2: [0n, 1n, 0x7fffn, 0xffffn],
  4: [0n, 1n, 0x7fff_ffffn, 0x8000_0000n, 0xffff_ffffn],
  8: [0n, 1n, 2n ** 32n, 2n ** 52n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n],
};

/** Text edits of one format: IDs, sizes, offsets, field counts and names no kernel writes. */
const FORMAT_EDITS: Array<[string, (t: string, others: number[]) => string]> = [
  ['id 0', (t) => t.replace(/^ID: \d+$/m, 'ID: 0')],
  ['id 65535', (t) => t.replace(/^ID: \d+$/m, 'ID: 65535')],
  ['id 65536', (t) => t.replace(/^ID: \d+$/m, 'ID: 65536')],
  ['id 2^53+1', (t) => t.replace(/^ID: \d+$/m, 'ID: 9007199254740993')],
  ['id of 30 digits', (t) => t.replace(/^ID: \d+$/m, `ID: ${'9'.repeat(30)}`)],
  ['id taken by another format', (t, others) => t.replace(/^ID: \d+$/m, `ID: ${others[0] ?? 1}`)],
  ['id not a number', (t) => t.replace(/^ID: \d+$/m, 'ID: 0x10')],
  ['no id', (t) => t.replace(/^ID: \d+\n/m, '')],
  ['no format: line', (t) => t.replace('format:\n', '')],
  ['field sizes 0', (t) => t.replace(/size:\d+;/g, 'size:0;')],
  ['field sizes 3', (t) => t.replace(/size:(\d+);/g, (m, s: string) => (Number(s) <= 8 ? 'size:3;' : m))],
  ['field size 99999999', (t) => t.replace(/(\n\n\t[^\n]*)size:\d+;/, '$1size:99999999;')],
  ['field size 2^64-1', (t) => t.replace(/(\n\n\t[^\n]*)size:\d+;/, '$1size:18446744073709551615;')],
  ['field offsets 4096', (t) => t.replace(/(\n\n\t[^\n]*)offset:\d+;/, '$1offset:4096;')],
  ['field offsets 2^64', (t) => t.replace(/offset:(\d+);/g, (m, o: string) => (Number(o) >= 8 ? 'offset:18446744073709551616;' : m))],
  ['common_type moved', (t) => t.replace('common_type;\toffset:0;', 'common_type;\toffset:6;')],
  ['common_pid 8 bytes', (t) => t.replace('int common_pid;\toffset:4;\tsize:4;', 'long common_pid;\toffset:4;\tsize:8;')],
  ['own fields x300', (t) => t.replace(/\n\n((?:\t[^\n]*\n)+)\n/, (_m, own: string) => `\n\n${own.repeat(300)}\n`)],
  ['own fields x3000', (t) => t.replace(/\n\n((?:\t[^\n]*\n)+)\n/, (_m, own: string) => `\n\n${own.repeat(3000)}\n`)],
  ['name with escapes', (t) => t.replace(/^name: (\w+)$/m, 'name: $1\u001b]0;pwned\u0007')],
  ['name empty', (t) => t.replace(/^name: \w+$/m, 'name: ')],
  ['strings become ints', (t) => t.replace(/char (\w+)\[16\]/g, 'int $1').replace(/__data_loc char\[\] (\w+)/g, 'int $1')],
  ['ints become strings', (t) => t.replace(/pid_t (\w+);/g, '__data_loc char[] $1;')],
  ['data_loc 8 bytes', (t) => t.replace(/__data_loc char\[\] (\w+);\toffset:(\d+);\tsize:4;/, '__data_loc char[] $1;\toffset:$2;\tsize:8;')],
  ['array count 2^32', (t) => t.replace(/\[(16|6)\]/, '[4294967296]')],
  ['array of pointers', (t) => t.replace(/char (\w+)\[16\]/, 'char * $1[16]')],
  ['print fmt 2 MiB', (t) => t.replace(/print fmt: .*/, `print fmt: "${'%s'.repeat(1 << 20)}"`)],
  ['binary garbage inside', (t) => t.replace('format:', 'format:\u0000\u00ff\u0001')],
];

/** Every structured corruption of the corpus (deterministic). */
export async function structuredCases(dir: string, files: readonly CorpusFile[]): Promise<Omit<FuzzCase, 'op'>[]> {
  const out: Omit<FuzzCase, 'op'>[] = [];
  for (const f of files) {
    const { bytes: b, layout: l } = f;
    // truncation at every boundary, one byte either side, and inside the first page of CPU data
    const cuts = new Set<number>([0, 1, 9, 10, 16, l.metaEnd + 100, Math.floor(b.length / 2), b.length - 1]);
    for (const x of l.boundaries) for (const d of [-1, 0, 1]) if (x + d >= 0 && x + d < b.length) cuts.add(x + d);
    for (const cut of [...cuts].sort((x, y) => x - y)) out.push({ name: `${f.name}: truncated at ${cut}`, bytes: b.slice(0, cut) });
    // header fields: endianness, long size, page size
    for (const v of [1n, 2n, 255n]) out.push({ name: `${f.name}: endianness byte ${v}`, bytes: withValue(b, l.header.endian, 1, l.littleEndian ? v : v - 1n, l.littleEndian) });
    for (const v of [0n, 2n, l.littleEndian ? 4n : 8n, 16n, 255n]) out.push({ name: `${f.name}: long size ${v}`, bytes: withValue(b, l.header.longSize, 1, v, l.littleEndian) });
    for (const v of [0n, 1n, 63n, 65n, 4095n, 1n << 25n, 0xffff_ffffn]) out.push({ name: `${f.name}: page size ${v}`, bytes: withValue(b, l.header.pageSize, 4, v, l.littleEndian) });
    // every size, count and offset field at its edge values
    for (const fld of l.fields) {
      for (const v of EDGE[fld.width]) out.push({ name: `${f.name}: ${fld.what} at ${fld.offset} = ${v}`, bytes: withValue(b, fld.offset, fld.width, v, l.littleEndian) });
    }
  }
  // format texts that lie, in both versions (written by tw's writer, which stores them as given)
  const ids = [SWITCH_ID, EXEC_ID, SIGNAL_ID, SYS_ENTER_ID];
  let n = 0;
  for (const [what, edit] of FORMAT_EDITS) {
    for (let target = 0; target < ids.length; target++) {
      const version = (n++ % 2 === 0 ? 7 : 6) as 6 | 7;
      const formats = craftedFormats((_sys, text, i) => (i === target ? edit(text, ids.filter((_, k) => k !== target)) : text));
      out.push({ name: `crafted-v${version}: format #${target} ${what}`, bytes: await crafted(dir, 'edit', version, formats) });
    }
  }
  const escaped = new Map([['sys\u001b[2J\u009b', [formatText('sched_switch', SWITCH_ID, SCHED_SWITCH_OWN)]]]);
  out.push({ name: 'crafted-v7: system name with escapes', bytes: await crafted(dir, 'edit', 7, escaped) });
  out.push({ name: 'crafted-v6: system name with escapes', bytes: await crafted(dir, 'edit', 6, escaped) });
  out.push({ name: 'crafted-v7: no formats at all', bytes: await crafted(dir, 'edit', 7, new Map()) });
  return out;
}

/** Random files: noise, noise after the magic, noise after magic and version. */
function randomFile(rng: Rng, i: number): Omit<FuzzCase, 'op'> {
  const magic = Uint8Array.from([0x17, 0x08, 0x44, ...Buffer.from('tracing')]);
  const noise = rng.bytes(rng.int(rng.chance(0.2) ? 65536 : 512));
  switch (i % 3) {
    case 0: return { name: `random ${noise.length} bytes`, bytes: noise };
    case 1: return { name: `magic + random ${noise.length} bytes`, bytes: concat(magic, noise) };
    default: {
      const v = rng.pick(['6', '7']);
      return { name: `magic + "${v}" + random ${noise.length} bytes`, bytes: concat(magic, Buffer.from(`${v}\0`), Uint8Array.of(rng.int(2), rng.pick([4, 8])), noise) };
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];

/** One random mutation of a corpus file (1-4 edits), biased towards its metadata. */
function mutate(rng: Rng, f: CorpusFile): Omit<FuzzCase, 'op'> {
  let b: Uint8Array = f.bytes.slice();
  const edits: string[] = [];
  const where = () => (rng.chance(0.7) ? rng.int(Math.min(b.length, f.layout.metaEnd)) : rng.int(b.length));
  for (let k = 1 + rng.int(4); k > 0; k--) {
    const at = where();
    switch (rng.int(7)) {
      case 0: {
        b[at] = (b[at] ?? 0) ^ (1 << rng.int(8));
        edits.push(`flip bit at ${at}`);
        break;
      }
      case 1: {
        b[at] = rng.pick([0, 0xff, 0x7f, 0x80, 0x1b, 0x0a]);
        edits.push(`byte at ${at}`);
        break;
      }
      case 2: {
        const v = rng.pick(INTERESTING_32);
        if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at, v, rng.chance(0.5));
        edits.push(`u32 ${v} at ${at}`);
        break;
      }
      case 3: {
        const v = rng.pick([0n, 2n ** 64n - 1n, 2n ** 53n, 2n ** 32n]);
        if (at + 8 <= b.length) new DataView(b.buffer).setBigUint64(at, v, rng.chance(0.5));
        edits.push(`u64 ${v} at ${at}`);
        break;
      }
      case 4: {
        const len = 1 + rng.int(64);
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + len)));
        edits.push(`delete ${len} at ${at}`);
        break;
      }
      case 5: {
        const len = 1 + rng.int(64);
        b = concat(b.subarray(0, at), rng.bytes(len), b.subarray(at));
        edits.push(`insert ${len} at ${at}`);
        break;
      }
      default: {
        b = b.slice(0, at);
        edits.push(`truncate at ${at}`);
        break;
      }
    }
  }
  return { name: `${f.name}: ${edits.join(', ')}`, bytes: b };
}

/**
 * `count` cases for a seed: the structured corruptions and random files first (as many as fit),
 * then random mutations; each case's operation rotates over events, dump and watch.
 */
export async function fuzzCases(dir: string, seed: number, count: number): Promise<FuzzCase[]> {
  const rng = new Rng(seed);
  const files = await corpus(dir);
  const base: Omit<FuzzCase, 'op'>[] = [
    ...files.map((f) => ({ name: `${f.name}: as it is`, bytes: f.bytes, kind: 'clean' as const })),
    ...(await structuredCases(dir, files)).map((c) => ({ ...c, kind: 'structured' as const })),
  ];
  for (let i = 0; i < 60; i++) base.push({ ...randomFile(rng, i), kind: 'random' });
  // the shipped recording is large (2,323 formats): fewer random mutations of it
  const weights = files.flatMap((f) => (f.name === 'sample.dat' ? [f] : [f, f, f]));
  const chosen = base.slice(0, count);
  while (chosen.length < count) chosen.push({ ...mutate(rng, rng.pick(weights)), kind: 'mutation' });
  return chosen.map((c, i) => ({ ...c, op: OPS[(i + seed) % OPS.length]! }));
}
