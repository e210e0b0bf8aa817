// Watches side by side as tw serve runs them (WatchSlot), on the shipped recording: a watch
// that stops itself or fails ends alone, the others see every event; a watch carried over a
// reload keeps its state (the second session adds to the first one's counts); and the metrics
// they declare reach prom-client with the entry's id, without resetting across sessions.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineWatch, replayFile, type RunReport } from '@tw/core';
import { syscalls, type SyscallsResult } from '@tw/plugin-syscalls';
import type { ServeWatchConfig } from './config.js';
import { ServeMetrics } from './metrics.js';
import { WatchSlot, type SlotHooks } from './watch-slot.js';

const SAMPLE = fileURLToPath(new URL('../../../../../examples/sample.dat', import.meta.url));

function entry(watch: string, o: Partial<ServeWatchConfig> = {}): ServeWatchConfig {
  return { watch, id: watch, args: [], keepGoing: false, line: 1, ...o };
}

function recordingHooks(): SlotHooks & { logs: Array<{ level: string; msg: string; extra?: Record<string, unknown> }>; stops: string[] } {
  const logs: Array<{ level: string; msg: string; extra?: Record<string, unknown> }> = [];
  const stops: string[] = [];
  return {
    logs,
    stops,
    log: (level, msg, extra) => logs.push({ level, msg, ...(extra ? { extra } : {}) }),
    alerting: () => undefined,
    stopped: (s, why) => stops.push(`${s.id}:${why}`),
  };
}

/** A watch that counts raw_syscalls:sys_enter and calls ctx.stop() (or throws) at the n-th. */
function after(n: number, what: 'stop' | 'throw') {
  return defineWatch({
    name: `after-${what}`,
    summary: 'test watch',
    events: ['raw_syscalls:sys_enter'],
    state: () => ({ seen: 0 }),
    on: {
      'raw_syscalls:sys_enter'(_e, ctx) {
        ctx.state.seen++;
        if (ctx.state.seen === n) {
          if (what === 'stop') ctx.stop();
          else throw new Error('boom');
        }
      },
    },
    end: (ctx) => ({ seen: ctx.state.seen }),
  });
}

describe('WatchSlot: watches side by side in one session', () => {
  it('a watch that stops itself or fails ends alone; the others see every event', async () => {
    const alone = (await replayFile(SAMPLE, [{ watch: syscalls, args: {} }])).outcomes[0]!.result as SyscallsResult;
    const hooks = recordingHooks();
    const a = new WatchSlot(entry('syscalls'), syscalls, {}, hooks);
    const b = new WatchSlot(entry('after-stop'), after(10, 'stop'), {}, hooks);
    const c = new WatchSlot(entry('after-throw'), after(5, 'throw'), {}, hooks);
    const report: RunReport = await replayFile(SAMPLE, [a.run(), b.run(), c.run()]);
    expect(report.stopped).toBe(false);
    expect(hooks.stops).toEqual(['after-throw:error', 'after-stop:stop']);
    const results = Object.fromEntries(hooks.logs.filter((l) => l.msg === 'watch result').map((l) => [l.extra!['watch'], l.extra!['result']]));
    expect((results['syscalls'] as SyscallsResult).total).toBe(alone.total);
    expect(results['after-stop']).toEqual({ seen: 10 });
    expect(results['after-throw']).toEqual({ seen: 5 });
    const failed = hooks.logs.find((l) => l.level === 'error');
    expect(failed?.extra).toMatchObject({ watch: 'after-throw', hook: "'raw_syscalls:sys_enter'", error: 'boom' });
    expect(a.seconds).toBeGreaterThan(0);
  });

  it('across a reload a kept watch keeps its state and its counters; a removed one ends', async () => {
    const metrics = new ServeMetrics({ version: 't', labels: {} });
    const hooks = recordingHooks();
    const a = new WatchSlot(entry('syscalls', { id: 'sys-a' }), syscalls, {}, hooks);
    const gone = new WatchSlot(entry('after-stop'), after(1_000_000, 'stop'), {}, hooks);
    // session 1: at its end, a goes on (no end(), state kept), the other one ends (a reload
    // marks the kept ones while the session runs, after run())
    const runs = [a.run(), gone.run()];
    a.continues = true;
    await replayFile(SAMPLE, runs, { metrics: metrics.backend });
    expect(hooks.logs.filter((l) => l.msg === 'watch result').map((l) => l.extra!['watch'])).toEqual(['after-stop']);
    const counter = () => (metrics.registry.getSingleMetric('tw_syscalls_calls_total') as unknown as { get(): Promise<{ values: Array<{ labels: Record<string, string>; value: number }> }> }).get();
    const once = (await counter()).values.reduce((n, v) => n + v.value, 0);
    expect(once).toBeGreaterThan(10_000);
    expect((await counter()).values.every((v) => v.labels['watch'] === 'sys-a')).toBe(true);
    // session 2: the state of session 1 goes on
    await replayFile(SAMPLE, [a.run()], { metrics: metrics.backend });
    const results = hooks.logs.filter((l) => l.msg === 'watch result' && l.extra!['watch'] === 'sys-a');
    expect(results).toHaveLength(1);
    const total = (results[0]!.extra!['result'] as SyscallsResult).total;
    expect(total).toBe(2 * once);
    expect((await counter()).values.reduce((n, v) => n + v.value, 0)).toBe(2 * once);
    // a watch that goes: its series go with it
    metrics.backend.forget('sys-a');
    expect((await counter()).values).toEqual([]);
  });
});
