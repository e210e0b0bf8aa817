// ctx.metrics in a session: runs over a real recording (examples/sample.dat) whose metrics must
// say what the watch's handlers counted, the watch label, and failures naming watch and metric.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineWatch } from '../watch/define-watch.js';
import { MemoryMetrics } from '../watch/metrics.js';
import { replayFile } from './offline.js';

const SAMPLE = fileURLToPath(new URL('../../../../examples/sample.dat', import.meta.url));

describe('ctx.metrics over a real recording', () => {
  /** counts raw_syscalls:sys_enter per syscall number, in its state and in a counter */
  const counting = defineWatch({
    name: 'count-enters',
    summary: 'counts syscall entries',
    events: ['raw_syscalls:sys_enter'],
    state: () => new Map<string, number>(),
    start(ctx) {
      ctx.metrics.counter('enters_total', { help: 'syscall entries', labels: ['nr'] });
    },
    on: {
      'raw_syscalls:sys_enter'(e, ctx) {
        const nr = String(e.fields.id);
        ctx.state.set(nr, (ctx.state.get(nr) ?? 0) + 1);
        // declared in start(): the same handle again
        ctx.metrics.counter('enters_total', { help: 'syscall entries', labels: ['nr'] }).inc({ nr });
      },
    },
    end: (ctx) => Object.fromEntries(ctx.state),
  });

  it("a watch's counter equals what its handler counted (examples/sample.dat)", async () => {
    const mem = new MemoryMetrics();
    const report = await replayFile(SAMPLE, [{ watch: counting, args: {}, id: 'enters' }], { metrics: mem });
    const counted = report.outcomes[0]!.result as Record<string, number>;
    const total = Object.values(counted).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(1000); // the recording has thousands of syscalls
    const m = mem.snapshot()['tw_count_enters_enters_total']!;
    expect(m.kind).toBe('counter');
    expect(Object.fromEntries(m.series.map((s) => [s.labels.nr, s.value]))).toEqual(counted);
    expect(m.series.every((s) => s.labels.watch === 'enters')).toBe(true);
  });

  it('without a backend the same run works and the watch label defaults to the name', async () => {
    const report = await replayFile(SAMPLE, [{ watch: counting, args: {} }]);
    expect(Object.keys(report.outcomes[0]!.result as object).length).toBeGreaterThan(5);
    const mem = new MemoryMetrics();
    await replayFile(SAMPLE, [{ watch: counting, args: {} }], { metrics: mem });
    expect(mem.snapshot()['tw_count_enters_enters_total']!.series[0]!.labels.watch).toBe('count-enters');
  });

  it('runs sharing a backend need distinct ids', async () => {
    await expect(replayFile(SAMPLE, [{ watch: counting, args: {} }, { watch: counting, args: {} }], { metrics: new MemoryMetrics() })).rejects.toThrow(
      "two runs of watch 'count-enters' have the id 'count-enters': give each its own (WatchRun.id), their metrics are told apart by it",
    );
    const mem = new MemoryMetrics();
    await replayFile(SAMPLE, [{ watch: counting, args: {}, id: 'a' }, { watch: counting, args: {}, id: 'b' }], { metrics: mem });
    const m = mem.snapshot()['tw_count_enters_enters_total']!;
    const a = m.series.filter((s) => s.labels.watch === 'a').map((s) => [s.labels.nr, s.value]);
    expect(a.length).toBeGreaterThan(5);
    expect(m.series.filter((s) => s.labels.watch === 'b').map((s) => [s.labels.nr, s.value])).toEqual(a);
  });

  it("a handler's bad call fails the run naming the watch and the metric", async () => {
    const bad = defineWatch({
      name: 'bad-metric',
      summary: 'passes an undeclared label',
      events: ['raw_syscalls:sys_enter'],
      on: {
        'raw_syscalls:sys_enter'(e, ctx) {
          ctx.metrics.counter('enters_total', { help: 'x' }).inc({ nr: Number(e.fields.id) });
        },
      },
    });
    await expect(replayFile(SAMPLE, [{ watch: bad, args: {} }])).rejects.toThrow(/^watch 'bad-metric': metric 'enters_total': unknown label 'nr' \(declared: none\)$/);
  });
});
