import { defineWatch, formatTable, type CounterMetric, type MetricLabels } from '@tw/core';

export interface AllCountsResult {
  counts: Record<string, number>;
  total: number;
  lost: number;
}

export default defineWatch({
  name: 'allcounts',
  summary: 'Count every event in the trace by system:event',
  description: 'Counts each event type (by id, names resolved at the end), plus the events the kernel reported lost.',
  examples: ['tw watch allcounts --input examples/sample.dat', 'tw watch allcounts --input trace.dat --json'],
  events: ['*'],
  state: () => ({ counts: [] as number[], names: [] as string[], labels: [] as MetricLabels[], events: undefined as CounterMetric | undefined }),
  start(ctx) {
    // bounded by the kernel's event types (a few thousand with every system enabled)
    ctx.state.events = ctx.metrics.counter('events_total', { help: 'Events seen, by system:event', labels: ['event'], maxSeries: 5000 });
  },
  on: {
    '*'(e, ctx) {
      const { counts, names, labels } = ctx.state;
      const id = e.id;
      const n = counts[id];
      if (n === undefined) {
        counts[id] = 1;
        names[id] = e.event;
        labels[id] = { event: e.event };
      } else {
        counts[id] = n + 1;
      }
      ctx.state.events?.inc(labels[id]);
    },
  },
  end(ctx): AllCountsResult {
    const rows: Array<[string, number]> = [];
    let total = 0;
    ctx.state.counts.forEach((n, id) => {
      rows.push([ctx.state.names[id]!, n]);
      total += n;
    });
    rows.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    return { counts: Object.fromEntries(rows), total, lost: ctx.lost };
  },
  format(r) {
    const rows = Object.entries(r.counts);
    return `${formatTable(rows, [
      { header: 'EVENT', value: (x) => x[0] },
      { header: 'COUNT', value: (x) => x[1] },
    ])}\n\ntotal ${r.total} events, ${r.lost} lost`;
  },
});
