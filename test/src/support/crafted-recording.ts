// Small trace.dat recordings with formats and records chosen by the test, written by tw's own
// TraceDatWriter (which, like trace-cmd, stores the format texts as given): for the hardening
// tests and the fuzz harness, which need files that say impossible things in a well-formed way.
//
// Record layout (x86-64, little-endian), as the kernel writes sched_switch and friends:
//   0 common_type u16 | 2 common_flags u8 | 3 common_preempt_count u8 | 4 common_pid s32 | 8 own fields
// Sub-buffer: u64 timestamp, u64 commit (data length), then per record a u32 header with
// type_len 0 and the time delta (10 ns), a u32 length word (payload + itself), the payload
// padded to 4 bytes.
import { TraceDatWriter } from '@tw/core';

const PAGE = 4096;

/** events/header_page and header_event of an x86-64 kernel. */
const HEADER_PAGE = [
  '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;',
  '\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;',
  '\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;',
  '\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;',
  '',
].join('\n');
const HEADER_EVENT = [
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

const COMMON = [
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
];

/** A format file's text: the common fields, then `own` (field lines, without the leading tab). */
export function formatText(name: string, id: number | string, own: readonly string[], printFmt = '"x"'): string {
  return [`name: ${name}`, `ID: ${id}`, 'format:', ...COMMON, '', ...own.map((l) => `\t${l}`), '', `print fmt: ${printFmt}`, ''].join('\n');
}

/** sched_switch as an x86-64 6.x kernel describes it. */
export const SCHED_SWITCH_OWN = [
  'field:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;',
  'field:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;',
  'field:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;',
  'field:long prev_state;\toffset:32;\tsize:8;\tsigned:1;',
  'field:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;',
  'field:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;',
  'field:int next_prio;\toffset:60;\tsize:4;\tsigned:1;',
];

/** sched_process_exec: __data_loc filename, pid, old_pid. */
export const SCHED_PROCESS_EXEC_OWN = [
  'field:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;',
  'field:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;',
  'field:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;',
];

/** signal_generate: sig, errno, code, comm, pid, group, result. */
export const SIGNAL_GENERATE_OWN = [
  'field:int sig;\toffset:8;\tsize:4;\tsigned:1;',
  'field:int errno;\toffset:12;\tsize:4;\tsigned:1;',
  'field:int code;\toffset:16;\tsize:4;\tsigned:1;',
  'field:char comm[16];\toffset:20;\tsize:16;\tsigned:0;',
  'field:pid_t pid;\toffset:36;\tsize:4;\tsigned:1;',
  'field:int group;\toffset:40;\tsize:4;\tsigned:1;',
  'field:int result;\toffset:44;\tsize:4;\tsigned:1;',
];

/** One record: common fields for `id` and `pid`, then `own` bytes written by the caller. */
export function record(id: number, pid: number, size: number, own: (dv: DataView, bytes: Uint8Array) => void = () => undefined): Uint8Array {
  const rec = new Uint8Array(size);
  const dv = new DataView(rec.buffer);
  dv.setUint16(0, id, true); //   common_type
  dv.setInt32(4, pid, true); //   common_pid
  own(dv, rec);
  return rec;
}

/** A sched_switch record (64 bytes) from `prev` to `next`. */
export function switchRecord(id: number, prev: number, next: number): Uint8Array {
  const enc = new TextEncoder();
  return record(id, prev, 64, (dv, b) => {
    b.set(enc.encode(`task${prev}`.slice(0, 15)), 8); //  prev_comm[16]
    dv.setInt32(24, prev, true); //                      prev_pid
    dv.setInt32(28, 120, true); //                       prev_prio
    b.set(enc.encode(`task${next}`.slice(0, 15)), 40); // next_comm[16]
    dv.setInt32(56, next, true); //                      next_pid
    dv.setInt32(60, 120, true); //                       next_prio
  });
}

/** A sched_process_exec record of `pid` running `filename` (the string after the fixed part). */
export function execRecord(id: number, pid: number, filename: string): Uint8Array {
  const name = new TextEncoder().encode(`${filename}\0`);
  return record(id, pid, 20 + name.length, (dv, b) => {
    dv.setUint32(8, 20 | (name.length << 16), true); // filename: offset 20, length with the NUL
    dv.setInt32(12, pid, true); //                      pid
    dv.setInt32(16, pid, true); //                      old_pid
    b.set(name, 20);
  });
}

export interface Crafted {
  /** system → format texts */
  formats: Map<string, string[]>;
  /** record payloads, in time order, 10 ns apart, all on CPU 0 */
  records: readonly Uint8Array[];
  /** saved cmdlines text ("pid comm" lines) */
  cmdlines?: string;
  version?: 6 | 7;
}

/** Write `path`: one CPU, the records packed into as many sub-buffers as they need. */
export async function writeCrafted(path: string, c: Crafted): Promise<void> {
  const w = await TraceDatWriter.create(path, c.version ?? 7, {
    littleEndian: true,
    longSize: 8,
    pageSize: PAGE,
    headerPage: HEADER_PAGE,
    headerEvent: HEADER_EVENT,
    ftraceFormats: [],
    eventFormats: c.formats,
    cpus: 1,
    clock: 'mono',
  });
  let page = new Uint8Array(PAGE);
  let dv = new DataView(page.buffer);
  let at = 16;
  let ts = 1_000_000n;
  const flush = () => {
    if (at === 16) return;
    dv.setBigUint64(0, ts, true); //                  timestamp of the sub-buffer
    dv.setBigUint64(8, BigInt(at - 16), true); //     commit: the data length
    w.addSubBuffer(0, page);
    ts += 1_000_000n;
    page = new Uint8Array(PAGE);
    dv = new DataView(page.buffer);
    at = 16;
  };
  for (const rec of c.records) {
    const padded = Math.ceil(rec.length / 4) * 4;
    if (at + 8 + padded > PAGE) flush();
    dv.setUint32(at, (at === 16 ? 0 : 10) << 5, true); // type_len 0 (low 5 bits), time delta
    dv.setUint32(at + 4, rec.length + 4, true); //         length word
    page.set(rec, at + 8);
    at += 8 + padded;
  }
  flush();
  await w.finish({ cmdlines: c.cmdlines ?? '' });
}
