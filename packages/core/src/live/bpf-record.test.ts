/**
 * Recording a record source (a BPF probe): the sub-buffers BpfPages builds, stored by
 * TraceDatWriter as a named buffer next to the kernel's (the Recorder's layout), with the tw
 * event's format in the file. Read back by tw (every record, in timestamp order with the
 * kernel's, fields decoded) and — when trace-cmd is installed — by `trace-cmd report`, the
 * oracle, which must print the events with their fields by name.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_EVENT, HEADER_PAGE_64, LE64, RecordBuilder, SCHED_SWITCH, SubBufferBuilder, commonFields, headerPageFor } from '../decode/test-bytes.js';
import { dumpFile } from '../session/offline.js';
import { openTraceDat } from '../tracedat/read-trace-dat.js';
import { TraceDatWriter, type TraceDatMeta } from '../tracedat/write-trace-dat.js';
import { BpfPages } from './bpf-pages.js';
import { SOURCE_ID_BASE } from './sources.js';

const PAGE = 4096;
const SWITCH_ID = 372; // the ID in SCHED_SWITCH
const BUFFER = 'bpf-getppid';
const ID = SOURCE_ID_BASE;

/** The format a BPF probe's source would declare for its event (payload of the relay-native fixture). */
const GETPPID_FORMAT = [
  'name: getppid',
  `ID: ${ID}`,
  'format:',
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
  '',
  '\tfield:s32 tgid;\toffset:8;\tsize:4;\tsigned:1;',
  '\tfield:u32 zero;\toffset:12;\tsize:4;\tsigned:0;',
  '\tfield:u64 cookie;\toffset:16;\tsize:8;\tsigned:0;',
  '\tfield:char tag[8];\toffset:24;\tsize:8;\tsigned:0;',
  '',
  'print fmt: "tgid=%d cookie=%llu tag=%s", REC->tgid, REC->cookie, REC->tag',
  '',
].join('\n');

const traceCmd = spawnSync('trace-cmd', ['--version'], { encoding: 'utf8' }).error ? undefined : 'trace-cmd';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-bpf-record-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function meta(): TraceDatMeta {
  return {
    littleEndian: true,
    longSize: 8,
    pageSize: PAGE,
    headerPage: HEADER_PAGE_64,
    headerEvent: HEADER_EVENT,
    ftraceFormats: [],
    eventFormats: new Map([
      ['sched', [SCHED_SWITCH]],
      ['tw', [GETPPID_FORMAT]],
    ]),
    cpus: 2,
    clock: 'mono',
    traceClock: 'local global [mono] boot\n',
    extraBuffers: [BUFFER],
  };
}

/** One source record in the BPF batch framing: ts, cpu, len, common header, payload (48 bytes). */
function bpfBatch(recs: ReadonlyArray<{ ts: bigint; cpu: number; pid: number; cookie: bigint }>): Uint8Array {
  const b = new Uint8Array(recs.length * 48);
  const dv = new DataView(b.buffer);
  recs.forEach((r, i) => {
    const at = i * 48;
    dv.setBigUint64(at, r.ts, true); //   ts
    dv.setUint32(at + 8, r.cpu, true); // cpu
    dv.setUint32(at + 12, 32, true); //   len: common header + 24-byte payload
    dv.setUint16(at + 16, 0, true); //    common_type: the source's event 0
    dv.setInt32(at + 20, r.pid, true); // common_pid
    dv.setInt32(at + 24, r.pid, true); // tgid
    dv.setBigUint64(at + 32, r.cookie, true); // cookie
    b.set(Buffer.from('tw-test'), at + 40); //   tag[8]
  });
  return b;
}

interface Ev {
  ts: string;
  cpu: number;
  pid: number;
  event: string;
  buffer?: string;
  fields: Record<string, unknown>;
}

describe('a recording with a record source (BPF probe) buffer', () => {
  // kernel: a sched_switch every 10 µs on CPUs 0 and 1; the probe: 300 records (several pages on
  // CPU 1), interleaved in time with them, one more 2 s later (a time extend), and one on CPU 0
  const base = 7_000_000_000n;
  const bpf = Array.from({ length: 300 }, (_, i) => ({ ts: base + 5_000n + BigInt(i) * 10_000n, cpu: 1, pid: 4000 + i, cookie: BigInt(i) }));
  bpf.push({ ts: base + 2_000_000_000n, cpu: 1, pid: 4999, cookie: 999n }, { ts: base + 1n, cpu: 0, pid: 5000, cookie: 5000n });
  const kernel: Array<{ ts: bigint; cpu: number; pid: number }> = [];

  for (const version of [6, 7] as const) {
    const path = (): string => join(dir, `bpf-v${version}.dat`);

    beforeAll(async () => {
      const w = await TraceDatWriter.create(path(), version, meta());
      for (const cpu of [0, 1]) {
        const page = new SubBufferBuilder(LE64).pageTimestamp(base);
        for (let i = 0; i < 50; i++) {
          const pid = 100 + cpu * 100 + i;
          page.data(i === 0 ? 0 : 10_000, commonFields(new RecordBuilder(true), SWITCH_ID, pid).at(8).str('k', 16).at(24).u32(pid).at(56).u32(pid + 1).at(60).u32(0).build());
          if (version === 6) kernel.push({ ts: base + BigInt(i) * 10_000n, cpu, pid });
        }
        w.addSubBuffer(cpu, page.build());
      }
      const pages = new BpfPages({ littleEndian: true, longSize: 8, header: headerPageFor(8), subbufSize: PAGE }, (cpu, p) => w.addSubBuffer(cpu, p, BUFFER));
      // two batches, as the reader hands them over, flushed at a "round" in between
      pages.addBatch(bpfBatch(bpf.slice(0, 100)), [ID]);
      pages.flush();
      pages.addBatch(bpfBatch(bpf.slice(100)), [ID]);
      pages.flush();
      await w.finish({ cmdlines: '4000 child\n' });
    });

    it(`v${version}: tw reads every record of both buffers, in timestamp order, the tw event's fields decoded`, async () => {
      const dat = await openTraceDat(path());
      try {
        expect(dat.buffers.filter((b) => b.cpus.some((c) => c.size > 0)).map((b) => b.name)).toEqual(['', BUFFER]);
        expect(dat.formats.get(ID)?.fullName).toBe('tw:getppid');
      } finally {
        dat.close();
      }
      const got: Ev[] = [];
      await dumpFile(path(), (l) => got.push(JSON.parse(l) as Ev));
      const mine = got.filter((e) => e.event === 'tw:getppid');
      expect(mine).toHaveLength(bpf.length);
      expect(got.filter((e) => e.event === 'sched:sched_switch')).toHaveLength(100);
      const sorted = [...bpf].sort((a, b) => (a.ts < b.ts ? -1 : 1));
      expect(mine.map((e) => [e.ts, e.cpu, e.pid, e.buffer])).toEqual(sorted.map((r) => [String(r.ts), r.cpu, r.pid, BUFFER]));
      expect(mine[1]!.fields).toEqual({ tgid: 4000, zero: 0, cookie: 0, tag: 'tw-test' });
      const ts = got.map((e) => BigInt(e.ts));
      expect(ts.every((t, i) => i === 0 || t >= ts[i - 1]!)).toBe(true);
    });

    it.skipIf(traceCmd === undefined)(`v${version}: trace-cmd report prints the tw events with their fields by name (${traceCmd ?? 'trace-cmd is not installed'})`, () => {
      const r = spawnSync('trace-cmd', ['report', '-t', '-i', path()], { encoding: 'utf8', maxBuffer: 1 << 26 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const lines = r.stdout.split('\n').filter((l) => l.includes('getppid:'));
      expect(lines).toHaveLength(bpf.length);
      // "bpf-getppid:            child-4000  [001]     7.000005000: getppid:              tgid=4000 cookie=0 tag=tw-test"
      const first = lines.find((l) => / 7\.000005000: /.test(l));
      expect(first).toMatch(new RegExp(`^${BUFFER}: +child-4000 +\\[001\\] +7\\.000005000: getppid: +tgid=4000 cookie=0 tag=tw-test$`));
      expect(lines.some((l) => /-4999 +\[001\] +9\.000000000: getppid: +tgid=4999 cookie=999 tag=tw-test$/.test(l))).toBe(true);
      const raw = spawnSync('trace-cmd', ['report', '-R', '-t', '-i', path()], { encoding: 'utf8', maxBuffer: 1 << 26 });
      expect(raw.stdout).toMatch(/getppid: +tgid=4000 zero=0 cookie=0 tag=/);
    });
  }
});
