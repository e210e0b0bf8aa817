// tw record and tw watch --record on the real kernel: the file is one trace-cmd reads, its
// counts equal those of a concurrent live tw watch allcounts, and replaying it through a watch
// gives the live result. Also the end-to-end latency of live events (default < 100 ms).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './support/proc.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';

const T = '/sys/kernel/tracing';
const reason = skipReason();
if (reason) console.warn(`[record.kernel] skipped: ${reason}`);
let dir: string;

interface Proc extends ChildProcess {
  out: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function start(cmd: string, args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): Proc {
  const p = spawn(cmd, args, { cwd: REPO_ROOT, stdio: [stdin, 'pipe', 'pipe'] }) as Proc;
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  p.out = new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
  return p;
}

function tracing(pid: number): boolean {
  const inst = readdirSync(`${T}/instances`).find((n) => n.startsWith(`tw-${pid}-`));
  if (!inst) return false;
  try {
    // a new instance starts with tracing_on = 1 before tw turns it off and enables its events:
    // tracing means on *and* events enabled
    return (
      readFileSync(`${T}/instances/${inst}/tracing_on`, 'utf8').trim() === '1' &&
      readFileSync(`${T}/instances/${inst}/set_event`, 'utf8').trim() !== ''
    );
  } catch {
    return false;
  }
}

async function waitTracing(...pids: number[]): Promise<void> {
  const t0 = Date.now();
  while (!pids.every(tracing)) {
    if (Date.now() - t0 > 20_000) throw new Error('tw did not start tracing');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** node child: waits for a byte, makes `n` calls of `call`, waits again. */
function child(n: number, call: string): Proc & { go: () => void } {
  const code = `const fs=require('fs'),os=require('os');const b=Buffer.alloc(1);fs.readSync(0,b);let x=0;for(let i=0;i<${n};i++)x+=${call};fs.readSync(0,b);`;
  const c = start(process.execPath, ['-e', code], 'pipe') as Proc & { go: () => void };
  c.go = () => c.stdin!.write('\n');
  return c;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-record-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(reason !== undefined)('tw record', () => {
  // v6 also records sched_process_exec, which keeps tw's process table current: those records
  // are decoded in order. v7 records only the syscall: tw record then counts the records without
  // decoding them, and the child starts after tracing has, so only the kernel's saved cmdlines
  // can name it in the file.
  for (const [version, events] of [['6', ['syscalls:sys_enter_getpriority', 'sched:sched_process_exec']], ['7', ['syscalls:sys_enter_getpriority']]] as const) {
    it(`v${version} (${events.join(', ')}): trace-cmd reads it, and its counts equal a concurrent tw watch allcounts`, async () => {
      const N = 500;
      const file = join(dir, `rec${version}.dat`);
      const late = events.length === 1;
      let w = late ? undefined : child(N, 'os.getPriority()'); // getpriority: a syscall nothing else here makes
      const rec = start(process.execPath, [twCliPath(), 'record', '-o', file, '--file-version', version, ...events.flatMap((e) => ['-e', e]), '--json']);
      const all = start(process.execPath, [twCliPath(), 'watch', 'allcounts', '--json']);
      await waitTracing(rec.pid!, all.pid!);
      w ??= child(N, 'os.getPriority()');
      w.go();
      await new Promise((r) => setTimeout(r, 600));
      rec.kill('SIGINT');
      all.kill('SIGINT');
      w.go();
      const [r, a] = await Promise.all([rec.out, all.out]);
      expect(r.code, r.stderr).toBe(0);
      expect(a.code, a.stderr).toBe(0);
      const recorded = JSON.parse(r.stdout) as { events: number; counts: Record<string, number>; lost: number };
      const counted = parseWatchJson<{ counts: Record<string, number> }>(a.stdout).result;
      expect(recorded.counts['syscalls:sys_enter_getpriority']).toBe(N);
      expect(counted.counts['syscalls:sys_enter_getpriority']).toBe(N);
      expect(recorded.lost).toBe(0);

      // trace-cmd reads the file and sees the same events
      const report = await run('trace-cmd', ['report', '-i', file], { check: false });
      expect(report.code, report.stderr).toBe(0);
      expect(report.stderr.trim()).toBe('');
      const lines = report.stdout.split('\n').filter((l) => /: sys_enter_getpriority:/.test(l));
      expect(lines).toHaveLength(N);
      // every event is the child's, named as the kernel named it (node)
      expect(lines.every((l) => l.trimStart().startsWith(`node-${w.pid} `))).toBe(true);
      // and tw replays it with the same counts
      const replay = parseWatchJson<{ counts: Record<string, number>; total: number }>((await run(process.execPath, [twCliPath(), 'watch', 'allcounts', '--input', file, '--json'])).stdout).result;
      expect(replay.counts).toEqual(recorded.counts);
      expect(replay.total).toBe(recorded.events);
    });
  }

  it('tw watch --record: replaying the file gives the live result', async () => {
    const file = join(dir, 'times.dat');
    const w = child(300, 'process.ppid');
    const live = start(process.execPath, [twCliPath(), 'watch', 'syscall-times', String(w.pid), '--record', file, '--json']);
    await waitTracing(live.pid!);
    w.go();
    await new Promise((r) => setTimeout(r, 500));
    live.kill('SIGINT');
    w.go();
    const l = await live.out;
    expect(l.code, l.stderr).toBe(0);
    const liveResult = parseWatchJson<{ syscalls: Array<{ name: string; calls: number }> }>(l.stdout).result;
    expect(liveResult.syscalls.find((s) => s.name === 'getppid')?.calls).toBe(300);
    const replay = await run(process.execPath, [twCliPath(), 'watch', 'syscall-times', String(w.pid), '--input', file, '--json']);
    expect(parseWatchJson(replay.stdout).result).toEqual(liveResult);
  });

  it('a live event reaches tw dump\'s output within 100 ms', async () => {
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
      const w = child(1, 'process.ppid');
      const dump = spawn(process.execPath, [twCliPath(), 'dump', '-e', 'syscalls:sys_enter_getppid', '--filter', `common_pid == ${w.pid}`], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      await waitTracing(dump.pid!);
      const got = new Promise<bigint>((resolve) => {
        dump.stdout!.once('data', (d: Buffer) => {
          const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, the session's "mono" trace clock
          resolve(now - BigInt((JSON.parse(d.toString().split('\n')[0]!) as { ts: string }).ts));
        });
      });
      w.go();
      const ns = await got;
      samples.push(Number(ns) / 1e6);
      dump.kill('SIGINT');
      w.go();
      await new Promise((r) => dump.on('close', r));
    }
    console.info(`[record.kernel] event-to-output latency ms: ${samples.map((s) => s.toFixed(1)).join(', ')}`);
    expect(Math.max(...samples)).toBeLessThan(100);
    expect(Math.min(...samples)).toBeGreaterThan(0);
  });
});
