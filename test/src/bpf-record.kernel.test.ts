// tw record -e tw:<name> on the real kernel: the probe comes up by itself (BPF here: this kernel
// has neither kprobes nor modules), its events are recorded next to a static event, and it goes
// down on every exit path. The file is checked with trace-cmd report (which must print the tw
// fields by name) and with tw dump --input; a child's unlinks are exactly the events recorded.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { run } from './support/proc.js';
import { skipReason } from './support/tracefs.js';
import { twCliPath } from './support/tw.js';
import { loadedPrograms, startTw, twInstances } from './support/tw-live.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[bpf-record.kernel] skipped: ${reason}`);
const N = 100;
const PROGS = ['tw_unlinkat'];

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tw-bpfrec-'));
  dirs.push(d);
  return d;
}

/** N files in dir, in the order rm will remove them */
function files(dir: string, n: number): string[] {
  const out = Array.from({ length: n }, (_, i) => join(dir, `f${String(i).padStart(3, '0')}`));
  for (const f of out) writeFileSync(f, 'x');
  return out;
}

interface Dumped {
  pid: number;
  comm: string;
  event: string;
  buffer?: string;
  fields: Record<string, unknown>;
}

async function dumpFile(file: string, event: string): Promise<Dumped[]> {
  const r = await run(process.execPath, [twCliPath(), 'dump', '--input', file, '-e', event]);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Dumped);
}

describe.skipIf(reason !== undefined)('tw record -e tw:unlinkat (a BPF probe) with a static event', () => {
  it(`records exactly the ${N} unlinks a child makes, with their pathnames; trace-cmd report names the fields; nothing is left loaded`, async () => {
    const dir = workDir();
    const paths = files(dir, N);
    const out = join(dir, 'f.dat');
    expect(loadedPrograms(PROGS), 'no tw_unlinkat program before').toEqual([]);
    const tw = await startTw(['record', '-o', out, '-e', 'tw:unlinkat', '-e', 'sched:sched_process_exec', '--json']);
    expect(tw.line).toMatch(/^tw: tracing 2 events \((sched:sched_process_exec, tw:unlinkat|tw:unlinkat, sched:sched_process_exec)\) .*; tw:unlinkat via bpf \((prebuilt object|cached object|compiled with clang)\)$/);
    expect(loadedPrograms(PROGS)).toHaveLength(1);
    await run('rm', paths);
    await new Promise((r) => setTimeout(r, 300));
    tw.kill('SIGINT');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { output: string; events: number; lost: number; counts: Record<string, number>; probes: Array<{ event: string; backend: string; object: string }> };
    expect(res.lost).toBe(0);
    // the machine's other processes may unlink too: at least the child's
    expect(res.counts['tw:unlinkat']).toBeGreaterThanOrEqual(N);
    expect(res.counts['sched:sched_process_exec']).toBeGreaterThanOrEqual(1);
    expect(res.events).toBe(Object.values(res.counts).reduce((a, b) => a + b, 0));
    expect(res.probes).toEqual([{ event: 'tw:unlinkat', backend: 'bpf', object: expect.stringMatching(/^(prebuilt|cached|compiled)$/) }]);
    expect(loadedPrograms(PROGS), 'no tw_unlinkat program after').toEqual([]);
    expect(twInstances(tw.pid)).toEqual([]);

    // trace-cmd reads the probe's buffer and prints its fields by name
    const report = await run('trace-cmd', ['report', out]);
    const mine = report.stdout
      .split('\n')
      .map((l) => /^\s*bpf-unlinkat:\s+(\S+)-(\d+)\s.*\sunlinkat:\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && m[3]!.includes(`pathname=${dir}/`));
    expect(mine).toHaveLength(N);
    expect(mine.map((m) => /pathname=(\S+)/.exec(m[3]!)?.[1])).toEqual(paths);
    for (const m of mine) expect(m[3]).toMatch(/^__probe_ip=0 dfd=-100 flag=0 pathname=\S+ comm=rm$/);

    // and tw reads it back: the same N, from one rm, whose exec is in the file too
    const events = (await dumpFile(out, 'tw:unlinkat')).filter((e) => String(e.fields['pathname']).startsWith(`${dir}/`));
    expect(events.map((e) => e.fields['pathname'])).toEqual(paths);
    expect(new Set(events.map((e) => `${e.event} ${e.buffer} ${e.comm} ${e.pid}`))).toEqual(new Set([`tw:unlinkat bpf-unlinkat rm ${events[0]!.pid}`]));
    const execs = (await dumpFile(out, 'sched:sched_process_exec')).filter((e) => e.pid === events[0]!.pid);
    expect(execs.map((e) => e.fields['filename'])).toEqual([expect.stringMatching(/\/rm$/)]);
  });

  it('SIGTERM ends the recording like Ctrl-C: a whole file, counts per event, the probe down, the instance removed', async () => {
    const dir = workDir();
    const paths = files(dir, 3);
    const out = join(dir, 'term.dat');
    const tw = await startTw(['record', '-o', out, '-e', 'tw:unlinkat', '-e', 'sched:sched_process_exec']);
    await run('rm', paths);
    await new Promise((r) => setTimeout(r, 300));
    tw.kill('SIGTERM');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    // (the lost count is not checked here: the first test does, for its own unlinks)
    expect(r.stdout).toMatch(/^wrote .*term\.dat: trace\.dat v7, \d+ events, \d+ lost\n/);
    expect(r.stdout).toMatch(/^\s+\d+\s+tw:unlinkat$/m);
    expect(loadedPrograms(PROGS)).toEqual([]);
    expect(twInstances(tw.pid)).toEqual([]);
    const events = (await dumpFile(out, 'tw:unlinkat')).filter((e) => String(e.fields['pathname']).startsWith(`${dir}/`));
    expect(events.map((e) => e.fields['pathname'])).toEqual(paths);
  });

  it('an error after the probe came up (a kernel filter naming its events) takes it down and leaves no file', async () => {
    const dir = workDir();
    const out = join(dir, 'err.dat');
    const r = await run(process.execPath, [twCliPath(), 'record', '-o', out, '-e', 'tw:unlinkat', '-e', 'sched:sched_process_exec', '--filter', 'common_pid == 1', '--duration', '5s'], { check: false });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/a kernel filter names tw:unlinkat, whose events come from a record source \(a BPF probe\)/);
    expect(loadedPrograms(PROGS)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });
});
