// replayWatch (the one-watch replay tw watch --input runs) passes its metrics backend on: the
// watch's counter over examples/sample.dat holds what its handler counted.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineWatch } from '../watch/define-watch.js';
import { MemoryMetrics } from '../watch/metrics.js';
import { replayWatch } from './watch-live.js';

const SAMPLE = fileURLToPath(new URL('../../../../examples/sample.dat', import.meta.url));

const spec = { help: 'syscalls entered, by number', labels: ['nr'] } as const;
const counting = defineWatch({
  name: 'count-enters',
  summary: 'counts syscall entries',
  events: ['raw_syscalls:sys_enter'],
  state: () => new Map<string, number>(),
  on: {
    'raw_syscalls:sys_enter'(e, ctx) {
      const nr = String(e.fields.id);
      ctx.state.set(nr, (ctx.state.get(nr) ?? 0) + 1);
      ctx.metrics.counter('enters_total', spec).inc({ nr });
    },
  },
  end: (ctx) => Object.fromEntries(ctx.state),
});

describe('replayWatch', () => {
  it('passes its metrics backend on', async () => {
    const mem = new MemoryMetrics();
    const report = await replayWatch(SAMPLE, { watch: counting, args: {}, id: 'one' }, { metrics: mem });
    const counted = report.outcomes[0]!.result as Record<string, number>;
    expect(Object.keys(counted).length).toBeGreaterThan(5);
    const series = mem.snapshot()['tw_count_enters_enters_total']!.series;
    expect(Object.fromEntries(series.map((s) => [s.labels.nr, s.value]))).toEqual(counted);
    expect(series.every((s) => s.labels.watch === 'one')).toBe(true);
  });
});
