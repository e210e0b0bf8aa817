// A watch's metrics on the live kernel: watchLive hands ctx.metrics' values to the backend it is
// given (RunOptions.metrics through WatchLiveOptions). A child makes exactly N getppid() calls; the
// watch counts them in its state and in a counter, and the counter must hold what the watch
// counted, which must be N (none lost).

import { spawn, type ChildProcess } from 'node:child_process';
import { arch } from 'node:os';
import { describe, expect, it } from 'vitest';
import { MemoryMetrics, defineWatch, watchLive } from '@tw/core';
import { openRingReader } from '@tw/relay-native';
import { skipReason } from './support/tracefs.js';

const reason = skipReason();
if (reason) console.warn(`[watch-metrics.kernel] skipped: ${reason}`);
const N = 3000;
const GETPPID_NR: Record<string, number> = { x64: 110, arm64: 173 };
const nr = GETPPID_NR[arch()];

const reader = (o: { instance: string; cpus: readonly number[]; subbufSize: number; latencyMs: number; ringSubbufs: number }) =>
  openRingReader({ instance: o.instance, cpus: [...o.cpus], subbufSize: o.subbufSize, latencyMs: o.latencyMs, poolSize: o.ringSubbufs * 8 });

/** A child that waits for a line on stdin, makes exactly n getppid() calls (process.ppid) and exits. */
function getppidChild(n: number): { child: ChildProcess; go: () => void; done: Promise<void> } {
  const js = `process.stdin.once('data', () => { for (let i = 0; i < ${n}; i++) process.ppid; process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', js], { stdio: ['pipe', 'ignore', 'inherit'] });
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return { child, go: () => child.stdin!.write('go\n'), done };
}

describe.skipIf(reason !== undefined || nr === undefined)(`watch metrics, live${reason ? ` — skipped: ${reason}` : ''}`, () => {
  it(`a child's ${N} getppid() calls: the watch's counter holds what its handler counted`, async () => {
    const c = getppidChild(N);
    const pid = c.child.pid!;
    const spec = { help: 'getppid calls, by pid', labels: ['pid'] } as const;
    const watch = defineWatch({
      name: 'getppid-metrics',
      summary: "counts one process's getppid calls",
      events: ['raw_syscalls:sys_enter'],
      filter: () => ({ 'raw_syscalls:sys_enter': `common_pid == ${pid} && id == ${nr}` }),
      state: () => ({ n: 0 }),
      start(ctx) {
        ctx.metrics.counter('calls_total', spec);
      },
      on: {
        'raw_syscalls:sys_enter'(e, ctx) {
          ctx.state.n++;
          ctx.metrics.counter('calls_total', spec).inc({ pid: e.pid });
        },
      },
      end: (ctx) => ctx.state.n,
    });
    const metrics = new MemoryMetrics();
    const ac = new AbortController();
    const live = await watchLive(
      { watch, args: {}, id: 'child' },
      {
        reader,
        metrics,
        signal: ac.signal,
        durationMs: 60_000,
        onTracing: () => {
          c.go();
          void c.done.then(() => setTimeout(() => ac.abort(), 300));
        },
      },
    );
    const counted = live.report.outcomes[0]!.result as number;
    console.log(`[watch-metrics.kernel] counted ${counted} getppid calls, metric ${metrics.value('tw_getppid_metrics_calls_total', { watch: 'child', pid: String(pid) })}, lost ${live.lost}`);
    expect(live.lost).toBe(0);
    expect(counted).toBe(N);
    expect(metrics.snapshot()['tw_getppid_metrics_calls_total']!.series).toEqual([{ labels: { watch: 'child', pid: String(pid) }, value: N }]);
  });
});
