// A small trace.dat holding tw:unlink events as tw_unlink.ko (kprobe-gen's module for
// plugin-fswatch's `unlink` spec) writes them, made with tw's own TraceDatWriter: for replaying
// probe watches offline without a kernel that has kprobes.
//
// Record layout (struct trace_event_raw_unlink; the format below is the one Debian's 6.12
// kernel printed for the module, from events/tw/unlink/format in the qemu guest):
//   0 common_type u16 | 2 flags u8 | 3 preempt_count u8 | 4 common_pid s32 | 8 __probe_ip u64 |
//   16 dfd s32 | 20 __data_loc pathname | 24 __data_loc comm | 28 the strings' bytes
// Sub-buffer: u64 timestamp, u64 commit (data length), then per record a u32 header with
// type_len 0 and the time delta, a u32 length word (payload + itself), the payload padded to 4.
import { TraceDatWriter } from '@tw/core';

export const UNLINK_ID = 1529;

/** events/tw/unlink/format of tw_unlink.ko on Debian 6.12 (x86-64). */
export const TW_UNLINK_FORMAT = [
  'name: unlink',
  `ID: ${UNLINK_ID}`,
  'format:',
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
  '',
  '\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;',
  '\tfield:s32 dfd;\toffset:16;\tsize:4;\tsigned:1;',
  '\tfield:__data_loc char[] pathname;\toffset:20;\tsize:4;\tsigned:0;',
  '\tfield:__data_loc char[] comm;\toffset:24;\tsize:4;\tsigned:0;',
  '',
  'print fmt: "(%lx) dfd=%d pathname=%s comm=%s", REC->__probe_ip, REC->dfd, __get_str(pathname), __get_str(comm)',
  '',
].join('\n');

/**
 * events/tw/open_write/format as kprobe-gen lays out plugin-fswatch's `open_write` spec (the
 * offsets of layoutFor(openWrite)): for recordings that describe the event without holding any.
 */
export const TW_OPEN_WRITE_FORMAT = [
  'name: open_write',
  `ID: ${UNLINK_ID + 1}`,
  'format:',
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
  '',
  '\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;',
  '\tfield:u64 ino;\toffset:16;\tsize:8;\tsigned:0;',
  '\tfield:u32 dev;\toffset:24;\tsize:4;\tsigned:0;',
  '\tfield:u32 flags;\toffset:28;\tsize:4;\tsigned:0;',
  '\tfield:u32 mode;\toffset:32;\tsize:4;\tsigned:0;',
  '\tfield:__data_loc char[] comm;\toffset:36;\tsize:4;\tsigned:0;',
  '\tfield:__data_loc char[] path;\toffset:40;\tsize:4;\tsigned:0;',
  '',
  'print fmt: "(%lx) ino=%llu dev=%u flags=%u mode=%u comm=%s path=%s", REC->__probe_ip, REC->ino, REC->dev, REC->flags, REC->mode, __get_str(comm), __get_str(path)',
  '',
].join('\n');

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

const PAGE = 4096;

export interface Unlink {
  pid: number;
  dfd: number;
  pathname: string;
  comm: string;
}

/** One tw:unlink record (little-endian). */
export function unlinkRecord(u: Unlink): Uint8Array {
  const enc = new TextEncoder();
  const path = enc.encode(`${u.pathname}\0`);
  const comm = enc.encode(`${u.comm}\0`);
  const rec = new Uint8Array(28 + path.length + comm.length);
  const dv = new DataView(rec.buffer);
  dv.setUint16(0, UNLINK_ID, true); //                  common_type
  dv.setInt32(4, u.pid, true); //                       common_pid
  dv.setBigUint64(8, 0xffffffff81234560n, true); //     __probe_ip
  dv.setInt32(16, u.dfd, true); //                      dfd
  dv.setUint32(20, 28 | (path.length << 16), true); //  pathname: offset 28, length with the NUL
  dv.setUint32(24, (28 + path.length) | (comm.length << 16), true); // comm: after it
  rec.set(path, 28);
  rec.set(comm, 28 + path.length);
  return rec;
}

/**
 * Write `path`: one CPU, one sub-buffer with these records 10 ns apart from `ts`, the given
 * tw:unlink format (default: the module's) and `moreFormats` (other tw:* events, no records),
 * saved cmdlines for their pids.
 */
export async function writeUnlinkRecording(path: string, events: readonly Unlink[], format = TW_UNLINK_FORMAT, ts = 1_000_000n, moreFormats: readonly string[] = []): Promise<void> {
  const page = new Uint8Array(PAGE);
  const dv = new DataView(page.buffer);
  dv.setBigUint64(0, ts, true); // timestamp
  let at = 16;
  events.forEach((e, i) => {
    const rec = unlinkRecord(e);
    dv.setUint32(at, (i === 0 ? 0 : 10) << 5, true); // type_len 0 (low 5 bits), time delta
    dv.setUint32(at + 4, rec.length + 4, true); //       length word
    page.set(rec, at + 8);
    at += 8 + Math.ceil(rec.length / 4) * 4;
  });
  dv.setBigUint64(8, BigInt(at - 16), true); // commit: the data length
  const w = await TraceDatWriter.create(path, 7, {
    littleEndian: true,
    longSize: 8,
    pageSize: PAGE,
    headerPage: HEADER_PAGE,
    headerEvent: HEADER_EVENT,
    ftraceFormats: [],
    eventFormats: new Map([['tw', [format, ...moreFormats]]]),
    cpus: 1,
    clock: 'mono',
  });
  w.addSubBuffer(0, page);
  await w.finish({ cmdlines: events.map((e) => `${e.pid} ${e.comm}\n`).join('') });
}
