/**
 * TraceDatWriter on synthetic sub-buffers (built with the annotated byte builders): the files it
 * writes, v6 and v7, top-level and named buffer, little- and big-endian (extra buffers, as a
 * recording of a BPF probe stores them: live/bpf-record.test.ts), read back by tw's
 * reader and — when trace-cmd is installed (no root needed to read files) — by
 * `trace-cmd report` and `trace-cmd dump`; and its error handling.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTwError, type TwError } from '../errors.js';
import {
  BE64,
  HEADER_EVENT,
  HEADER_PAGE_64,
  LE64,
  RecordBuilder,
  SCHED_SWITCH,
  SubBufferBuilder,
  commonFields,
  type Abi,
} from '../decode/test-bytes.js';
import { dumpFile } from '../session/offline.js';
import { openTraceDat } from './read-trace-dat.js';
import { TraceDatWriter, type TraceDatMeta } from './write-trace-dat.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-write-trace-dat-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const PAGE = 4096;
const SWITCH_ID = 372; // the ID in SCHED_SWITCH
const CLOCK_TEXT = 'local global counter uptime perf [mono] mono_raw boot tai x86-tsc\n';

const traceCmd = (() => {
  const r = spawnSync('trace-cmd', ['--version'], { encoding: 'utf8' });
  return r.error ? undefined : 'trace-cmd';
})();
const noTraceCmd = traceCmd ? undefined : 'trace-cmd is not installed';

function meta(abi: Abi, over: Partial<TraceDatMeta> = {}): TraceDatMeta {
  return {
    littleEndian: abi.littleEndian,
    longSize: abi.longSize,
    pageSize: PAGE,
    headerPage: HEADER_PAGE_64,
    headerEvent: HEADER_EVENT,
    ftraceFormats: [],
    eventFormats: new Map([['sched', [SCHED_SWITCH]]]),
    kallsyms: 'ffffffff81000000 T _stext\n',
    printk: '',
    cpus: 3,
    clock: 'mono',
    traceClock: CLOCK_TEXT,
    uname: 'Linux testhost 6.18.0 x86_64',
    ...over,
  };
}

interface Expected {
  ts: bigint;
  cpu: number;
  pid: number;
  nextPid: number;
}

/** One sched_switch record (64 bytes: common fields, then the event's own, at their offsets). */
function switchRecord(le: boolean, pid: number, nextPid: number): Uint8Array {
  return commonFields(new RecordBuilder(le), SWITCH_ID, pid)
    .at(8).str(`task${pid}`, 16) //   prev_comm[16]
    .at(24).u32(pid) //               prev_pid
    .at(28).u32(120) //               prev_prio
    .at(32).u64(1n) //                prev_state (long)
    .at(40).str(`task${nextPid}`, 16) // next_comm[16]
    .at(56).u32(nextPid) //           next_pid
    .at(60).u32(120) //               next_prio
    .build();
}

/**
 * Sub-buffers for CPUs 0 and 1 (CPU 2 stays empty): `pages` pages per CPU of `perPage` records,
 * with a time extend in every page, and the list of records they hold.
 */
function synthesize(abi: Abi, pages: number, perPage: number): { subbufs: Array<[number, Uint8Array]>; expected: Expected[] } {
  const subbufs: Array<[number, Uint8Array]> = [];
  const expected: Expected[] = [];
  for (const cpu of [0, 1]) {
    let ts = 5_000_000_000n + BigInt(cpu) * 1_000n;
    for (let p = 0; p < pages; p++) {
      const page = new SubBufferBuilder(abi).pageTimestamp(ts);
      for (let i = 0; i < perPage; i++) {
        const pid = 1000 + cpu * 100 + i;
        if (i === 1) {
          page.timeExtendBy(200_000_000n); // a delta too large for 27 bits
          ts += 200_000_000n;
        }
        page.data(i === 0 ? 0 : 777, switchRecord(abi.littleEndian, pid, pid + 1));
        ts += i === 0 ? 0n : 777n;
        expected.push({ ts, cpu, pid, nextPid: pid + 1 });
      }
      subbufs.push([cpu, page.build()]);
      ts += 1_000_000n;
    }
  }
  return { subbufs, expected };
}

/** Feed sub-buffers to a writer, interleaving CPUs as a live reader does. */
async function writeFile(path: string, version: 6 | 7, m: TraceDatMeta, subbufs: Array<[number, Uint8Array]>, stagingBytes?: number): Promise<void> {
  const w = await TraceDatWriter.create(path, version, m, stagingBytes !== undefined ? { stagingBytes } : {});
  const byCpu = [0, 1, 2].map((c) => subbufs.filter(([cpu]) => cpu === c));
  for (let i = 0; i < Math.max(...byCpu.map((l) => l.length)); i++) {
    for (const l of byCpu) {
      const s = l[i];
      if (s) w.addSubBuffer(s[0], s[1]);
    }
  }
  w.addSubBuffer(2, new SubBufferBuilder(m).build()); // an empty sub-buffer: dropped
  await w.finish({ cmdlines: '1000 task1000\n1100 task1100\n', cpuStats: ['entries: 0\n', 'entries: 0\n', 'entries: 0\n'] });
}

async function twEvents(path: string): Promise<Array<{ ts: string; cpu: number; pid: number; comm: string; event: string; buffer?: string; fields: Record<string, unknown> }>> {
  const lines: string[] = [];
  await dumpFile(path, (l) => lines.push(l));
  return lines.map((l) => JSON.parse(l) as { ts: string; cpu: number; pid: number; comm: string; event: string; buffer?: string; fields: Record<string, unknown> });
}

/** `[buffer: ]comm-pid [cpu] sec.nsec: name:` of each event line of `trace-cmd report -R -t`. */
function parseReport(stdout: string): { cpus: number; events: Array<{ buffer: string; pid: number; cpu: number; ts: bigint; name: string }> } {
  const lines = stdout.split('\n').filter((l) => l !== '');
  const head = /^cpus=(\d+)$/.exec(lines[0] ?? '');
  if (!head) throw new Error(`trace-cmd report: first line is not cpus=N: ${lines[0]}`);
  const events = lines.slice(1).map((l) => {
    const m = /^(?:(\S+): )?\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d{9}):\s+(\S+):/.exec(l);
    if (!m) throw new Error(`trace-cmd report: unexpected line: ${l}`);
    return { buffer: m[1] ?? '', pid: Number(m[3]), cpu: Number(m[4]), ts: BigInt(m[5]!) * 1_000_000_000n + BigInt(m[6]!), name: m[7]! };
  });
  return { cpus: Number(head[1]), events };
}

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(traceCmd!, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('TraceDatWriter output', () => {
  const variants: Array<{ name: string; abi: Abi; version: 6 | 7; bufferName: string }> = [
    { name: 'v6', abi: LE64, version: 6, bufferName: '' },
    { name: 'v7', abi: LE64, version: 7, bufferName: '' },
    { name: 'v6 named buffer', abi: LE64, version: 6, bufferName: 'tw-inst' },
    { name: 'v7 named buffer', abi: LE64, version: 7, bufferName: 'tw-inst' },
    { name: 'v6 big-endian', abi: BE64, version: 6, bufferName: '' },
    { name: 'v7 big-endian', abi: BE64, version: 7, bufferName: '' },
  ];
  for (const v of variants) {
    describe(v.name, () => {
      const { subbufs, expected } = synthesize(v.abi, 5, 20);
      const path = () => join(dir, `${v.name.replace(/ /g, '-')}.dat`);
      beforeAll(async () => {
        // staging of one sub-buffer: every page goes through the spill file on its own
        await writeFile(path(), v.version, meta(v.abi, { bufferName: v.bufferName }), subbufs, PAGE);
      });

      it('is read back by tw with every record, timestamp, CPU and pid', async () => {
        const dat = await openTraceDat(path());
        try {
          expect(dat.version).toBe(v.version);
          expect(dat.littleEndian).toBe(v.abi.littleEndian);
          expect(dat.clock).toBe('mono');
          expect(dat.cpuCount).toBe(3);
          expect(dat.pageSize).toBe(PAGE);
          expect(dat.cmdlines.get(1100)).toBe('task1100');
          expect(dat.uname).toBe('Linux testhost 6.18.0 x86_64');
          expect(dat.cpuStats).toHaveLength(v.bufferName ? 4 : 3);
          const withData = dat.buffers.filter((b) => b.cpus.some((c) => c.size > 0));
          expect(withData.map((b) => [b.name, b.clock])).toEqual([[v.bufferName, 'mono']]);
          for (const c of withData[0]!.cpus) {
            if (c.size > 0) expect(c.offset % PAGE, `cpu ${c.cpu} data is page-aligned`).toBe(0);
          }
        } finally {
          dat.close();
        }
        const got = await twEvents(path());
        const key = (e: { ts: bigint | string; cpu: number; pid: number }) => `${e.cpu} ${e.ts} ${e.pid}`;
        expect(got.map(key).sort()).toEqual(expected.map(key).sort());
        expect(got.every((e) => e.event === 'sched:sched_switch' && (e.buffer ?? '') === v.bufferName)).toBe(true);
        const first = got.find((e) => e.pid === 1100)!;
        expect(first.comm).toBe('task1100');
        expect(first.fields).toMatchObject({ prev_comm: 'task1100', next_pid: 1101, prev_state: 1 });
      });

      it.skipIf(noTraceCmd !== undefined)(`is read by trace-cmd report without warnings (${noTraceCmd ?? 'trace-cmd found'})`, () => {
        const r = run(['report', '-R', '-t', '-i', path()]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const rep = parseReport(r.stdout);
        expect(rep.cpus).toBe(3);
        const key = (e: { ts: bigint; cpu: number; pid: number }) => `${e.cpu} ${e.ts} ${e.pid}`;
        expect(rep.events.map(key).sort()).toEqual(expected.map(key).sort());
        expect(rep.events.every((e) => e.name === 'sched_switch' && e.buffer === v.bufferName)).toBe(true);
      });

      it.skipIf(noTraceCmd !== undefined)(`is walked by trace-cmd dump, which shows the clock (${noTraceCmd ?? 'trace-cmd found'})`, () => {
        const summary = run(['dump', '--summary', '-i', path()]);
        expect(summary.stderr).toBe('');
        expect(summary.status).toBe(0);
        if (v.version === 6) {
          expect(summary.stdout).toContain('[mono]');
        } else {
          expect(summary.stdout).toContain(`[buffer "${v.bufferName}", "mono" clock, ${PAGE} page size, 3 cpus`);
          const sections = run(['dump', '--sections', '-i', path()]);
          expect(sections.status).toBe(0);
          // every section found by walking headers from the file start, with its description
          expect(sections.stdout).not.toContain('Unknown');
          for (const d of ['headers', 'ftrace events', 'events format', 'kallsyms', 'printk', 'command lines', 'options', 'strings']) {
            expect(sections.stdout).toContain(`"${d}"`);
          }
        }
        const options = run(['dump', '--options', '-i', path()]);
        expect(options.status).toBe(0);
        expect(options.stdout).toContain(CLOCK_TEXT.trim());
      });
    });
  }

  it('keeps memory bounded by spilling to a file that is unlinked at once', async () => {
    const path = join(dir, 'spill.dat');
    const m = meta(LE64);
    const w = await TraceDatWriter.create(path, 7, m, { stagingBytes: 2 * PAGE });
    const { subbufs } = synthesize(LE64, 3, 4);
    for (const [cpu, b] of subbufs) w.addSubBuffer(cpu, b);
    expect(readdirSync(dir).filter((n) => n.includes('.tw-'))).toEqual([]);
    expect(w.stats()).toEqual({ pages: [3, 3, 0], bytes: 6 * PAGE });
    await w.finish({ cmdlines: '' });
    expect((await twEvents(path)).length).toBe(24);
  });

  for (const version of [6, 7] as const) {
    it(`writes a valid v${version} file for a recording without any sub-buffer`, async () => {
      const path = join(dir, `empty.v${version}.dat`);
      const w = await TraceDatWriter.create(path, version, meta(LE64));
      await w.finish({ cmdlines: '' });
      const dat = await openTraceDat(path);
      try {
        expect(dat.cpuCount).toBe(3);
        expect(dat.buffers.flatMap((b) => b.cpus).every((c) => c.size === 0)).toBe(true);
      } finally {
        dat.close();
      }
      expect(await twEvents(path)).toEqual([]);
      if (traceCmd) {
        const r = run(['report', '-i', path]);
        expect([r.status, r.stderr, r.stdout.trim()]).toEqual([0, '', 'cpus=3']);
      }
    });
  }

  for (const version of [6, 7] as const) {
    it(`v${version}: keeps the session's realtime offset next to the task table, for tw only (trace-cmd reads the file as before)`, async () => {
      const { subbufs, expected } = synthesize(LE64, 1, 3);
      const read = async (path: string) => {
        const dat = await openTraceDat(path);
        try {
          return { offset: dat.realtimeOffset, tgid: dat.tgids.get(1000), task: dat.tasks.get(1000) };
        } finally {
          dat.close();
        }
      };
      for (const [name, extra, want] of [
        ['with-tasks', { tasks: '1000\t999\t1\t/bin/x\n', realtimeOffset: -1_234_567_890_123n }, { offset: -1_234_567_890_123n, tgid: 999, task: { ppid: 1, exe: '/bin/x' } }],
        ['offset-only', { realtimeOffset: 1_700_000_000_000_000_000n }, { offset: 1_700_000_000_000_000_000n, tgid: undefined, task: undefined }],
        ['neither', {}, { offset: undefined, tgid: undefined, task: undefined }],
      ] as const) {
        const path = join(dir, `realtime-${name}.v${version}.dat`);
        const w = await TraceDatWriter.create(path, version, meta(LE64));
        for (const [cpu, b] of subbufs) w.addSubBuffer(cpu, b);
        await w.finish({ cmdlines: '', ...extra });
        expect(await read(path), name).toEqual(want);
        expect((await twEvents(path)).length).toBe(expected.length);
        if (traceCmd) {
          const r = run(['report', '-i', path]);
          expect([r.status, r.stderr], name).toEqual([0, '']);
        }
      }
    });
  }

  it('overwrites an existing, longer file', async () => {
    const path = join(dir, 'reuse.dat');
    writeFileSync(path, Buffer.alloc(10 * 1024 * 1024, 0xab));
    const { subbufs, expected } = synthesize(LE64, 1, 3);
    await writeFile(path, 7, meta(LE64), subbufs);
    expect(statSync(path).size).toBeLessThan(64 * 1024);
    expect((await twEvents(path)).length).toBe(expected.length);
  });
});

describe('TraceDatWriter errors', () => {
  const codeOf = (e: unknown) => (isTwError(e) ? (e as TwError).code : String(e));
  const rejection = async (p: Promise<unknown>): Promise<TwError> => {
    try {
      await p;
    } catch (e) {
      return e as TwError;
    }
    throw new Error('expected the promise to reject');
  };
  const throwing = (fn: () => unknown): TwError => {
    try {
      fn();
    } catch (e) {
      return e as TwError;
    }
    throw new Error('expected the call to throw');
  };

  it('names the path it cannot create', async () => {
    const path = join(dir, 'no-such-dir', 'out.dat');
    const e = await rejection(TraceDatWriter.create(path, 6, meta(LE64)));
    expect(isTwError(e)).toBe(true);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/cannot create/);
  });

  it('names a spill directory it cannot use, at create()', async () => {
    const path = join(dir, 'no-spill.dat');
    const tmp = join(dir, 'no-such-spill-dir');
    const e = await rejection(TraceDatWriter.create(path, 7, meta(LE64), { tmpDir: tmp }));
    expect(e.message).toContain(tmp);
    expect(existsSync(path)).toBe(false);
  });

  it('names a directory given as the output', async () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    const e = await rejection(TraceDatWriter.create(path, 7, meta(LE64)));
    expect(e.message).toContain(path);
  });

  it('rejects metadata that does not describe the sub-buffers', async () => {
    const path = join(dir, 'bad-meta.dat');
    const e1 = await rejection(TraceDatWriter.create(path, 7, meta(LE64, { pageSize: 8192 })));
    expect(codeOf(e1)).toBe('BAD_ARGUMENT');
    expect(e1.message).toMatch(/4096-byte sub-buffers.*8192/);
    const e2 = await rejection(TraceDatWriter.create(path, 7, meta(LE64, { traceClock: '[local] mono\n' })));
    expect(e2.message).toMatch(/does not select clock 'mono'/);
    const e3 = await rejection(TraceDatWriter.create(path, 5 as 6, meta(LE64)));
    expect(e3.message).toMatch(/version 5/);
    expect(existsSync(path)).toBe(false);
  });

  it('rejects a sub-buffer of the wrong size or CPU, and a corrupt one', async () => {
    const path = join(dir, 'wrong-size.dat');
    const w = await TraceDatWriter.create(path, 6, meta(LE64));
    const e = throwing(() => w.addSubBuffer(0, new Uint8Array(100)));
    expect(codeOf(e)).toBe('BAD_ARGUMENT');
    expect(e.message).toMatch(/100 bytes for cpu 0.*4096/);
    expect(codeOf(throwing(() => w.addSubBuffer(3, new Uint8Array(PAGE))))).toBe('BAD_ARGUMENT');
    const corrupt = new SubBufferBuilder(LE64).commitLength(5000).build();
    expect(codeOf(throwing(() => w.addSubBuffer(1, corrupt)))).toBe('DECODE');
    await w.abort();
  });

  it('rejects extra buffers without a name or named twice, and sub-buffers for a buffer it does not declare', async () => {
    const path = join(dir, 'extra-buffers.dat');
    expect(codeOf(await rejection(TraceDatWriter.create(path, 7, meta(LE64, { extraBuffers: [''] }))))).toBe('BAD_ARGUMENT');
    expect((await rejection(TraceDatWriter.create(path, 7, meta(LE64, { bufferName: 'a', extraBuffers: ['b', 'a'] })))).message).toMatch(/two buffers are named 'a'/);
    const w = await TraceDatWriter.create(path, 6, meta(LE64, { extraBuffers: ['bpf-x'] }));
    const e = throwing(() => w.addSubBuffer(0, new SubBufferBuilder(LE64).build(), 'bpf-y'));
    expect(codeOf(e)).toBe('BAD_ARGUMENT');
    expect(e.message).toMatch(/buffer 'bpf-y', which the file does not declare \('', 'bpf-x'\)/);
    await w.abort();
  });

  it('refuses finish() twice and addSubBuffer() after finish()', async () => {
    const path = join(dir, 'twice.dat');
    const w = await TraceDatWriter.create(path, 7, meta(LE64));
    await w.finish({ cmdlines: '' });
    const e = await rejection(w.finish({ cmdlines: '' }));
    expect(codeOf(e)).toBe('BAD_ARGUMENT');
    expect(e.message).toMatch(/finish\(\) called twice/);
    expect(throwing(() => w.addSubBuffer(0, new Uint8Array(PAGE))).message).toMatch(/after finish\(\)/);
    await w.abort(); // a no-op on a finished file
    expect(existsSync(path)).toBe(true);
  });

  it('abort() removes the partial file and its spill files', async () => {
    const path = join(dir, 'aborted.dat');
    const w = await TraceDatWriter.create(path, 6, meta(LE64));
    for (const [cpu, b] of synthesize(LE64, 2, 3).subbufs) w.addSubBuffer(cpu, b);
    expect(existsSync(path)).toBe(true);
    await w.abort();
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('.aborted.dat'))).toEqual([]);
    await w.abort(); // twice is fine
    expect((await rejection(w.finish({ cmdlines: '' }))).message).toMatch(/after abort\(\)/);
  });
});
