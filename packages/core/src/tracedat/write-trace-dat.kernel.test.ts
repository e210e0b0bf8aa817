/**
 * TraceDatWriter on a real recording: a private instance (tw-wt-<pid>-<n>, clock "mono") with
 * sched, signal and syscall events, a workload pinned to CPUs 0 and 1, the sub-buffers read
 * from per_cpu/cpuN/trace_pipe_raw by this test, written as v6 and v7 (and a v7 named buffer),
 * then checked against `trace-cmd report`/`trace-cmd dump` and tw's own reader.
 * Needs root, tracefs with instances and syscall events, trace-cmd, taskset and two CPUs; the
 * instance is always removed (events disabled, rmdir) and the top-level buffer never touched.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpFile } from '../session/offline.js';
import { openTraceDat } from './read-trace-dat.js';
import { readTracefsMeta } from '../tracefs/meta.js';
import { Tracefs } from '../tracefs/tracefs.js';
import { TraceDatWriter, type TraceDatMeta } from './write-trace-dat.js';

const ROOT = '/sys/kernel/tracing';
const EVENTS = [
  'sched:sched_switch',
  'sched:sched_process_fork',
  'sched:sched_process_exec',
  'sched:sched_process_exit',
  'signal:signal_generate',
  'syscalls:sys_enter_getppid',
  'syscalls:sys_exit_getppid',
  'raw_syscalls',
];
const LOOPS = 300;

function onPath(cmd: string): boolean {
  return (process.env['PATH'] ?? '/usr/bin:/bin').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
}

function onlineCpus(): number[] {
  const out: number[] = [];
  for (const part of readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

const skipReason = ((): string | undefined => {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not running as root (tracefs instances need root)';
  if (!existsSync(join(ROOT, 'instances'))) return `no tracefs with instances at ${ROOT}`;
  for (const e of ['sched/sched_switch', 'signal/signal_generate', 'syscalls/sys_enter_getppid', 'raw_syscalls/sys_enter']) {
    if (!existsSync(join(ROOT, 'events', e))) return `kernel has no ${e.replace('/', ':')} event`;
  }
  if (!onPath('trace-cmd')) return 'trace-cmd is not installed';
  if (!onPath('taskset')) return 'taskset (util-linux) is not installed';
  const cpus = onlineCpus();
  if (!cpus.includes(0) || !cpus.includes(1)) return `CPUs 0 and 1 must be online (online: ${cpus.join(',')})`;
  return undefined;
})();

let instanceSeq = 0;

function writeTracefs(path: string, value: string): void {
  writeFileSync(path, value);
}

/** Disable events, stop tracing, remove the instance; never throws. */
function removeInstance(dir: string): void {
  if (!existsSync(dir)) return;
  for (const [file, v] of [['tracing_on', '0'], ['events/enable', '0'], ['set_event_pid', '']] as const) {
    try {
      writeTracefs(join(dir, file), v);
    } catch {
      // best effort: rmdir below is what matters
    }
  }
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // busy: retry shortly
    }
  }
}

/** Every sub-buffer of one CPU: non-blocking subbuf-size reads until EAGAIN (each read is one sub-buffer). */
function drainCpu(instDir: string, cpu: number, size: number): Uint8Array[] {
  const fd = openSync(join(instDir, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw'), constants.O_RDONLY | constants.O_NONBLOCK);
  const out: Uint8Array[] = [];
  try {
    for (;;) {
      const buf = Buffer.alloc(size);
      let n: number;
      try {
        n = readSync(fd, buf, 0, size, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
      if (n === 0) break;
      if (n !== size) throw new Error(`cpu ${cpu}: trace_pipe_raw read returned ${n} bytes, expected a whole ${size}-byte sub-buffer`);
      out.push(buf);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** The workload of one CPU, pinned with taskset; blocked on stdin until `go` is written. */
function startWorkload(cpu: number): { pid: number; go: () => void; done: Promise<void> } {
  const script = [
    'read -r _ || exit 1',
    'for i in 1 2 3; do /bin/true; done',
    `"$1" -e 'let s = 0; for (let i = 0; i < ${LOOPS}; i++) s += process.ppid'`,
    'sleep 30 & kill -TERM $!; wait $! 2>/dev/null',
    'exit 0',
  ].join('\n');
  const child = spawn('taskset', ['-c', String(cpu), 'bash', '-c', script, 'workload', process.execPath], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => (code === 0 ? resolve() : reject(new Error(`workload on cpu ${cpu} failed (${sig ?? `exit ${code}`}): ${stderr}`))));
  });
  if (child.pid === undefined) throw new Error('workload did not start');
  return { pid: child.pid, go: () => child.stdin.end('go\n'), done };
}

interface Recorded {
  meta: TraceDatMeta;
  subbufs: Map<number, Uint8Array[]>;
  /** "entries" of per_cpu/cpuN/stats when tracing stopped */
  entries: Map<number, number>;
  overrun: number;
  cmdlines: string;
  cpuStats: string[];
  workloadPids: number[];
  t0: bigint;
  t1: bigint;
}

async function record(opts: { subbufKb?: number } = {}): Promise<Recorded> {
  const name = `tw-wt-${process.pid}-${instanceSeq++}`;
  const inst = join(ROOT, 'instances', name);
  if (existsSync(inst)) removeInstance(inst);
  mkdirSync(inst);
  try {
    writeTracefs(join(inst, 'tracing_on'), '0');
    writeTracefs(join(inst, 'buffer_size_kb'), '8192');
    if (opts.subbufKb !== undefined) writeTracefs(join(inst, 'buffer_subbuf_size_kb'), String(opts.subbufKb));
    writeTracefs(join(inst, 'trace_clock'), 'mono');
    for (const e of EVENTS) {
      const [sys, ev] = e.split(':');
      writeTracefs(join(inst, 'events', sys!, ...(ev ? [ev] : []), 'enable'), '1');
    }
    const work = [startWorkload(0), startWorkload(1)];
    // Only the workload (and its children) is traced, so other activity cannot flood the buffer.
    writeTracefs(join(inst, 'options', 'event-fork'), '1');
    writeTracefs(join(inst, 'set_event_pid'), work.map((w) => w.pid).join(' '));
    const t0 = process.hrtime.bigint(); // CLOCK_MONOTONIC, the "mono" trace clock
    writeTracefs(join(inst, 'tracing_on'), '1');
    try {
      for (const w of work) w.go();
      await Promise.all(work.map((w) => w.done));
    } finally {
      writeTracefs(join(inst, 'tracing_on'), '0');
    }
    const t1 = process.hrtime.bigint();
    writeTracefs(join(inst, 'events', 'enable'), '0');

    const top = new Tracefs(ROOT);
    const dir = top.instanceDir(name);
    const meta = await readTracefsMeta(top, dir, EVENTS);
    const entries = new Map<number, number>();
    let overrun = 0;
    for (let cpu = 0; cpu < meta.cpus; cpu++) {
      const stats = readFileSync(join(inst, 'per_cpu', `cpu${cpu}`, 'stats'), 'utf8');
      entries.set(cpu, Number(/^entries: (\d+)/m.exec(stats)?.[1] ?? NaN));
      overrun += Number(/^overrun: (\d+)/m.exec(stats)?.[1] ?? 0);
    }
    const subbufs = new Map<number, Uint8Array[]>();
    for (let cpu = 0; cpu < meta.cpus; cpu++) subbufs.set(cpu, drainCpu(inst, cpu, meta.pageSize));
    // what a writer's finish() takes at the end: the saved cmdlines and each CPU's stats
    const cmdlines = top.readOptional('saved_cmdlines') ?? '';
    const cpuStats = Array.from({ length: meta.cpus }, (_, cpu) => dir.readOptional(`per_cpu/cpu${cpu}/stats`) ?? '');
    return { meta, subbufs, entries, overrun, cmdlines, cpuStats: [...(cpuStats ?? [])], workloadPids: work.map((w) => w.pid), t0, t1 };
  } finally {
    removeInstance(inst);
  }
}

/** Write the recorded sub-buffers, interleaving CPUs as a live reader would. */
async function write(path: string, version: 6 | 7, rec: Recorded, bufferName = ''): Promise<void> {
  const w = await TraceDatWriter.create(path, version, { ...rec.meta, bufferName });
  try {
    const lists = [...rec.subbufs.entries()];
    const most = Math.max(0, ...lists.map(([, l]) => l.length));
    for (let i = 0; i < most; i++) {
      for (const [cpu, l] of lists) {
        const b = l[i];
        if (b) w.addSubBuffer(cpu, b);
      }
    }
    await w.finish({ cmdlines: rec.cmdlines, cpuStats: rec.cpuStats });
  } catch (e) {
    await w.abort();
    throw e;
  }
}

interface Ev {
  ts: bigint;
  cpu: number;
  pid: number;
  /** event name without the system */
  name: string;
  buffer: string;
}

function traceCmd(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('trace-cmd', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `trace-cmd report -R -t`: "cpus=N", then `[buffer: ]comm-pid [cpu] sec.nsec: name: fields` lines. */
function reportEvents(path: string): { cpus: number; events: Ev[]; stderr: string; status: number | null } {
  const r = traceCmd(['report', '-R', '-t', '-i', path]);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const head = /^cpus=(\d+)$/.exec(lines[0] ?? '');
  if (!head) throw new Error(`${path}: trace-cmd report's first line is not cpus=N: ${lines[0]}`);
  const events = lines.slice(1).map((l) => {
    const m = /^(?:(\S+): )?\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d{9}):\s+(\S+):/.exec(l);
    if (!m) throw new Error(`${path}: unexpected trace-cmd report line: ${l}`);
    return { buffer: m[1] ?? '', pid: Number(m[3]), cpu: Number(m[4]), ts: BigInt(m[5]!) * 1_000_000_000n + BigInt(m[6]!), name: m[7]! };
  });
  return { cpus: Number(head[1]), events, stderr: r.stderr, status: r.status };
}

async function twDump(path: string): Promise<string[]> {
  const lines: string[] = [];
  await dumpFile(path, (l) => lines.push(l));
  return lines;
}

function twEvents(lines: readonly string[]): Ev[] {
  return lines.map((l) => {
    const j = JSON.parse(l) as { ts: string; cpu: number; pid: number; event: string; buffer?: string };
    return { ts: BigInt(j.ts), cpu: j.cpu, pid: j.pid, name: j.event.slice(j.event.indexOf(':') + 1), buffer: j.buffer ?? '' };
  });
}

const byCpu = (evs: readonly Ev[], cpu: number): string[] => evs.filter((e) => e.cpu === cpu).map((e) => `${e.ts} ${e.pid} ${e.name}`);
const countBy = (evs: readonly Ev[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const e of evs) out[e.name] = (out[e.name] ?? 0) + 1;
  return out;
};

describe.skipIf(skipReason !== undefined)(`TraceDatWriter on a live recording${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let dir = '';
  let rec: Recorded;
  const f6 = () => join(dir, 'rec.v6.dat');
  const f7 = () => join(dir, 'rec.v7.dat');
  const f7named = () => join(dir, 'rec.v7.named.dat');
  let expected = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tw-write-kernel-'));
    rec = await record();
    expected = [...rec.entries.values()].reduce((a, b) => a + b, 0);
    await write(f6(), 6, rec);
    await write(f7(), 7, rec);
    await write(f7named(), 7, rec, 'tw-recording');
  });

  afterAll(() => {
    // instances are removed by record(); sweep any of ours left by an interrupted run
    for (const n of existsSync(join(ROOT, 'instances')) ? readdirSync(join(ROOT, 'instances')) : []) {
      if (n.startsWith(`tw-wt-${process.pid}-`)) removeInstance(join(ROOT, 'instances', n));
    }
    // TW_WT_KEEP=DIR keeps the files written (for looking at them with trace-cmd by hand)
    const keep = process.env['TW_WT_KEEP'];
    if (keep && dir) for (const f of [f6(), f7(), f7named()]) if (existsSync(f)) copyFileSync(f, join(keep, basename(f)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('recorded the workload on both CPUs without losses', () => {
    expect(rec.overrun).toBe(0);
    expect(rec.meta.clock).toBe('mono');
    expect(rec.meta.cpus).toBeGreaterThanOrEqual(2);
    expect(rec.subbufs.get(0)!.length).toBeGreaterThan(0);
    expect(rec.subbufs.get(1)!.length).toBeGreaterThan(0);
    expect(expected).toBeGreaterThan(4 * LOOPS);
    expect(statSync(f6()).size).toBeGreaterThan(0);
  });

  for (const [label, file, buffer] of [['v6', f6, ''], ['v7', f7, ''], ['v7 named buffer', f7named, 'tw-recording']] as const) {
    it(`${label}: trace-cmd report reads it without warnings, with every event and the CPU count`, () => {
      const r = reportEvents(file());
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.cpus).toBe(rec.meta.cpus);
      expect(r.events.length).toBe(expected);
      expect(r.events.every((e) => e.buffer === buffer)).toBe(true);
    });

    it(`${label}: trace-cmd report and tw's reader agree on every event's time, CPU, pid and name`, async () => {
      const tc = reportEvents(file()).events;
      const tw = twEvents(await twDump(file()));
      expect(tw.length).toBe(expected);
      expect(countBy(tw)).toEqual(countBy(tc));
      for (let cpu = 0; cpu < rec.meta.cpus; cpu++) expect(byCpu(tw, cpu), `cpu ${cpu}`).toEqual(byCpu(tc, cpu));
      expect(tw.every((e) => e.buffer === buffer)).toBe(true);
    });
  }

  it('timestamps are in the instance clock (mono = the monotonic clock around the recording)', async () => {
    const tw = twEvents(await twDump(f7()));
    const ts = tw.map((e) => e.ts);
    const min = ts.reduce((a, b) => (a < b ? a : b));
    const max = ts.reduce((a, b) => (a > b ? a : b));
    expect(min >= rec.t0 && max <= rec.t1, `events ${min}..${max} within ${rec.t0}..${rec.t1}`).toBe(true);
  });

  it('holds the workload: getppid loops on each CPU, exec, fork, exit, SIGTERM', async () => {
    const lines = await twDump(f6());
    const evs = lines.map((l) => JSON.parse(l) as { cpu: number; event: string; fields: Record<string, unknown> });
    for (const cpu of [0, 1]) {
      const n = evs.filter((e) => e.cpu === cpu && e.event === 'syscalls:sys_enter_getppid').length;
      expect(n, `getppid calls on cpu ${cpu}`).toBeGreaterThanOrEqual(LOOPS);
    }
    expect(evs.some((e) => e.event === 'sched:sched_process_exec')).toBe(true);
    expect(evs.some((e) => e.event === 'sched:sched_process_fork')).toBe(true);
    expect(evs.some((e) => e.event === 'sched:sched_process_exit')).toBe(true);
    expect(evs.some((e) => e.event === 'signal:signal_generate' && e.fields['sig'] === 15)).toBe(true);
  });

  it('tw reads the v6 and v7 files identically (and the named buffer but for the buffer name)', async () => {
    const a = await twDump(f6());
    const b = await twDump(f7());
    expect(b).toEqual(a);
    const named = (await twDump(f7named())).map((l) => l.replace(',"buffer":"tw-recording"', ''));
    expect(named).toEqual(a);
    for (const f of [f6(), f7()]) {
      const dat = await openTraceDat(f);
      try {
        expect(dat.clock).toBe('mono');
        expect(dat.cpuCount).toBe(rec.meta.cpus);
        expect(dat.pageSize).toBe(rec.meta.pageSize);
        expect(dat.cmdlines.size).toBeGreaterThan(0);
        expect(dat.arch).toBe(process.arch === 'x64' ? 'x86_64' : dat.arch);
      } finally {
        dat.close();
      }
    }
  });

  it('trace-cmd dump shows the clock that was written', () => {
    const s6 = traceCmd(['dump', '--summary', '-i', f6()]);
    expect(s6.status).toBe(0);
    expect(s6.stdout).toMatch(/\[Tracing clock\]\s+\[mono\]/);
    const s7 = traceCmd(['dump', '--summary', '-i', f7()]);
    expect(s7.status).toBe(0);
    expect(s7.stdout).toContain(`[buffer "", "mono" clock, ${rec.meta.pageSize} page size, ${rec.meta.cpus} cpus`);
    for (const f of [f6(), f7()]) {
      const o = traceCmd(['dump', '--options', '-i', f]);
      expect(o.status).toBe(0);
      expect(o.stdout).toMatch(/\[Option TRACECLOCK, \d+ bytes\]\n.*\[mono\]/);
    }
  });
});

const noSubbufSize = skipReason ?? (existsSync(join(ROOT, 'buffer_subbuf_size_kb')) ? undefined : 'kernel without buffer_subbuf_size_kb (before 6.8)');

describe.skipIf(noSubbufSize !== undefined)(`TraceDatWriter with 8 KiB sub-buffers${noSubbufSize ? ` (skipped: ${noSubbufSize})` : ''}`, () => {
  let dir = '';
  let rec: Recorded;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tw-write-kernel-8k-'));
    rec = await record({ subbufKb: 8 });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores the sub-buffer size as the page size, and both readers agree', async () => {
    expect(rec.meta.pageSize).toBe(8192);
    const expected = [...rec.entries.values()].reduce((a, b) => a + b, 0);
    for (const version of [6, 7] as const) {
      const file = join(dir, `rec8k.v${version}.dat`);
      await write(file, version, rec);
      const dat = await openTraceDat(file);
      try {
        expect(dat.pageSize).toBe(8192);
        for (const b of dat.buffers) for (const c of b.cpus) if (c.size > 0) expect(c.offset % 8192).toBe(0);
      } finally {
        dat.close();
      }
      const r = reportEvents(file);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.events.length).toBe(expected);
      const tw = twEvents(await twDump(file));
      for (let cpu = 0; cpu < rec.meta.cpus; cpu++) expect(byCpu(tw, cpu), `v${version} cpu ${cpu}`).toEqual(byCpu(r.events, cpu));
    }
  });
});
