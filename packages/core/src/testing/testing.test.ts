// The testing kit against real formats: examples/sample.dat (a recording of this project's
// 6.18 kernel, with every format of that kernel) and tw's own replay of it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineWatch, describeFile, type WatchEvent } from '../index.js';
import { eventKit, fakeClock, runWatch } from './index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const sample = join(root, 'examples/sample.dat');

/** Collects what it sees of the events it is given, and counts them by name. */
const probe = defineWatch({
  name: 'kit-probe',
  summary: 'test watch',
  args: { only: { type: 'string', required: false } },
  events: ['*'],
  state: () => ({ seen: [] as Array<{ name: string; pid: number; cpu: number; ts: bigint; comm: string; fields: Record<string, unknown> }>, counts: {} as Record<string, number> }),
  on: {
    '*': (e: WatchEvent, ctx) => {
      ctx.state.counts[e.event] = (ctx.state.counts[e.event] ?? 0) + 1;
      if (ctx.args.only !== undefined && e.event !== ctx.args.only) return;
      if (ctx.state.seen.length < 50) {
        const fields: Record<string, unknown> = {};
        for (const k of Object.keys(e.fields)) fields[k] = e.fields[k];
        ctx.state.seen.push({ name: e.event, pid: e.pid, cpu: e.cpu, ts: e.ts, comm: ctx.proc(e.pid).comm, fields });
      }
    },
  },
  end: (ctx) => ctx.state,
});

/** Counts getppid entries in a metric. */
const counter = defineWatch({
  name: 'kit-counter',
  summary: 'test watch',
  events: ['syscalls:sys_enter_getppid'],
  state: () => ({ n: 0 }),
  start: (ctx) => void ctx.metrics.counter('calls_total', { help: 'getppid calls', labels: ['comm'] }),
  on: {
    'syscalls:sys_enter_getppid': (e, ctx) => {
      ctx.state.n++;
      ctx.metrics.counter('calls_total', { help: 'getppid calls', labels: ['comm'] }).inc({ comm: e.comm });
    },
  },
  end: (ctx) => ctx.state.n,
});

describe('runWatch over a recording', () => {
  it('sees every event the recording has, as the replay engine counts them', async () => {
    const r = await runWatch(probe, { input: sample });
    const desc = await describeFile(sample);
    const counts = (r.result as { counts: Record<string, number> }).counts;
    for (const ev of desc.events) expect(counts[ev.event]).toBe(ev.count);
    expect(r.events).toBe(desc.total);
    expect(r.stopped).toBe(false);
  });

  it('keeps the watch\'s metrics', async () => {
    const r = await runWatch(counter, { input: sample });
    const series = r.metrics.snapshot()['tw_kit_counter_calls_total']!.series;
    expect(series.reduce((n, s) => n + (s.value ?? 0), 0)).toBe(r.result);
    expect(r.result).toBeGreaterThan(0);
  });
});

describe('synthetic events from a recording\'s formats', () => {
  it('round-trips integers, char arrays and longs through the real decoder', async () => {
    const kit = await eventKit(sample);
    const e = kit.make('sched:sched_switch', { prev_comm: 'bash', prev_pid: 4242, prev_prio: 120, prev_state: 1n, next_comm: 'swapper/1', next_pid: 0, next_prio: -1 }, { pid: 4242, cpu: 1, ts: 5_000n });
    const r = await runWatch(probe, { events: [e] });
    const seen = (r.result as { seen: Array<Record<string, unknown>> }).seen;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ name: 'sched:sched_switch', pid: 4242, cpu: 1, ts: 5_000n });
    expect(seen[0]!['fields']).toMatchObject({ prev_comm: 'bash', prev_pid: 4242, prev_prio: 120, prev_state: 1n, next_comm: 'swapper/1', next_pid: 0, next_prio: -1 });
  });

  it('writes __data_loc strings and arrays after the fixed part', async () => {
    const kit = await eventKit(sample);
    const exec = kit.make('sched:sched_process_exec', { filename: '/usr/bin/some-long-program-name', pid: 77, old_pid: 77 }, { pid: 77 });
    const r = await runWatch(probe, { events: [exec] });
    const f = (r.result as { seen: Array<{ fields: Record<string, unknown> }> }).seen[0]!.fields;
    expect(f).toMatchObject({ filename: '/usr/bin/some-long-program-name', pid: 77, old_pid: 77 });
  });

  it('merges CPUs by time, whatever order the events are given in, across gaps beyond a time delta', async () => {
    const clock = fakeClock({ start: 0n });
    const kit = await eventKit(sample, { clock });
    const a = kit.make('syscalls:sys_enter_getppid', {}, { pid: 1, cpu: 0, ts: clock.tick('1s') });
    const b = kit.make('syscalls:sys_exit_getppid', { ret: 7 }, { pid: 1, cpu: 0, ts: clock.tick('2s') });
    const c = kit.make('syscalls:sys_enter_getppid', {}, { pid: 2, cpu: 1, ts: 1_500_000_000n });
    const d = kit.make('syscalls:sys_exit_getppid', { ret: 9 }, { pid: 2, cpu: 1 }); // the clock: 1 µs after b
    const r = await runWatch(probe, { events: [d, b, c, a] });
    const seen = (r.result as { seen: Array<{ name: string; pid: number; ts: bigint }> }).seen;
    expect(seen.map((s) => [s.pid, s.ts])).toEqual([
      [1, 1_000_000_000n],
      [2, 1_500_000_000n],
      [1, 3_000_000_000n],
      [2, 3_000_001_000n],
    ]);
  });

  it('gives the process table, alerts with culprits, wall-clock time, stop and args', async () => {
    const kit = await eventKit(sample);
    const killer = defineWatch({
      name: 'kit-killer',
      summary: 'test watch',
      args: { pid: { type: 'integer', required: true } },
      events: ['signal:signal_generate'],
      on: {
        'signal:signal_generate': (e, ctx) => {
          if (e.fields['pid'] !== ctx.args.pid) return;
          ctx.alert(`signal ${String(e.fields['sig'])} to ${ctx.args.pid}`, { pid: e.pid });
          ctx.stop();
        },
      },
      end: (ctx) => ({ events: ctx.events }),
    });
    const events = [
      kit.make('signal:signal_generate', { sig: 15, pid: 99, comm: 'other' }, { pid: 500 }),
      kit.make('signal:signal_generate', { sig: 9, pid: 42, comm: 'victim' }, { pid: 501 }),
      kit.make('signal:signal_generate', { sig: 9, pid: 42, comm: 'victim' }, { pid: 502 }),
    ];
    const procs = [
      { pid: 501, comm: 'killer', ppid: 500, uid: 0, exe: '/usr/bin/killer', cmdline: 'killer -9 42' },
      { pid: 500, comm: 'bash', ppid: 1 },
      { pid: 1, comm: 'systemd', ppid: 0 },
    ];
    const r = await runWatch(killer, { events, args: { pid: 42 }, procs, realtime: new Date('2026-01-02T03:04:05.000Z') });
    expect(r.stopped).toBe(true);
    expect(r.alerts).toHaveLength(1);
    const a = r.alerts[0]!;
    expect(a.message).toBe('signal 9 to 42');
    expect(a.culprit).toMatchObject({ pid: 501, comm: 'killer', ppid: 500, exe: '/usr/bin/killer', cmdline: 'killer -9 42' });
    expect(a.culprit?.parents?.map((p) => p.comm)).toEqual(['bash', 'systemd']);
    // the second event is 1 µs (the default step) after the first, which is at `realtime`
    expect(a.time).toBe('2026-01-02T03:04:05.000Z');
    expect(r.result).toEqual({ events: 2 });
    // string args, as on the command line
    const r2 = await runWatch(killer, { events, args: ['99'] });
    expect(r2.alerts[0]!.culprit).toMatchObject({ pid: 500 });
  });

  it('names the event and the field when a value does not fit the format', async () => {
    const kit = await eventKit(sample);
    expect(() => kit.make('sched:sched_switch', { prev_pidd: 1 })).toThrow(/sched:sched_switch has no field 'prev_pidd' \(its fields: prev_comm, prev_pid/);
    expect(() => kit.make('sched:sched_switch', { prev_comm: 'x'.repeat(16) })).toThrow(/field 'prev_comm'.*holds 15/);
    expect(() => kit.make('sched:sched_switch', { prev_pid: 2 ** 31 })).toThrow(/field 'prev_pid': 2147483648 does not fit in 4 signed byte/);
    expect(() => kit.make('sched:no_such_event', {})).toThrow(/no event 'sched:no_such_event'/);
    await expect(runWatch(probe, { events: [] })).rejects.toThrow(/events is empty/);
    await expect(runWatch(probe, { events: [kit.make('sched:sched_switch')], args: { nope: 1 } })).rejects.toThrow(/has no argument or option 'nope'/);
  });

  it('reports a throwing handler as tw watch does', async () => {
    const kit = await eventKit(sample);
    const bad = defineWatch({ name: 'kit-bad', summary: 't', events: ['sched:sched_switch'], on: { 'sched:sched_switch': () => { throw new Error('boom'); } } });
    await expect(runWatch(bad, { events: [kit.make('sched:sched_switch')] })).rejects.toThrow(/watch 'kit-bad'.*boom/);
  });
});

describe('from node --test', () => {
  it('runs under node:test, importing @tw/core/testing', async () => {
    const getppids = (await describeFile(sample)).events.find((e) => e.event === 'syscalls:sys_enter_getppid')!.count;
    const dir = mkdtempSync(join(root, 'node_modules/.tw-kit-'));
    const file = join(dir, 'kit.test.mjs');
    writeFileSync(
      file,
      `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineWatch } from '@tw/core';
import { eventKit, runWatch } from '@tw/core/testing';
const w = defineWatch({ name: 'n', summary: 's', events: ['syscalls:sys_enter_getppid'], state: () => ({ n: 0 }),
  on: { 'syscalls:sys_enter_getppid': (e, ctx) => { ctx.state.n++; } }, end: (ctx) => ctx.state.n });
test('counts', async () => {
  const r = await runWatch(w, { input: ${JSON.stringify(sample)} });
  assert.equal(r.result, ${getppids});
  const kit = await eventKit(${JSON.stringify(sample)});
  const r2 = await runWatch(w, { events: [kit.make('syscalls:sys_enter_getppid'), kit.make('syscalls:sys_enter_getppid')] });
  assert.equal(r2.result, 2);
});
`,
    );
    const r = spawnSync(process.execPath, ['--test', file], { encoding: 'utf8', cwd: tmpdir() });
    expect(r.stdout + r.stderr).toMatch(/# pass 1/);
    expect(r.status).toBe(0);
  });
});
