// ctx.metrics: what a watch may declare and call (checked the same with or without a backend),
// the cardinality guard, MemoryMetrics' values. (A watch's metrics over a real recording:
// session/metrics-replay.test.ts, the watch layer not importing the session.)
import { describe, expect, it } from 'vitest';
import { isTwError, type TwError } from '../errors.js';
import { MemoryMetrics, RunMetrics, type MetricDeclaration, type MetricsBackend } from './metrics.js';

function thrown(fn: () => unknown): TwError {
  try {
    fn();
  } catch (e) {
    if (isTwError(e)) return e;
    throw e;
  }
  throw new Error('it did not throw');
}

describe('declaring metrics', () => {
  for (const withBackend of [false, true]) {
    const m = () => new RunMetrics('who-killed', 'who-killed', withBackend ? new MemoryMetrics() : undefined);
    const which = withBackend ? 'with a backend' : 'without a backend';

    it(`rejects bad names, labels, specs (${which})`, () => {
      const cases: Array<[() => unknown, RegExp]> = [
        [() => m().counter('Calls_total', { help: 'h' }), /metric 'Calls_total': the name must be lower-case/],
        [() => m().counter('9calls', { help: 'h' }), /metric '9calls': the name/],
        [() => m().counter('calls-total', { help: 'h' }), /metric 'calls-total': the name/],
        [() => m().counter('calls_total', { help: '' }), /needs a help text/],
        [() => m().counter('calls_total', { help: 'h', labels: ['watch'] }), /the label 'watch' is reserved/],
        [() => m().counter('calls_total', { help: 'h', labels: ['__name'] }), /label name '__name' must be/],
        [() => m().counter('calls_total', { help: 'h', labels: ['Comm'] }), /label name 'Comm' must be/],
        [() => m().counter('calls_total', { help: 'h', labels: ['comm', 'comm'] }), /label 'comm' is declared twice/],
        [() => m().counter('calls_total', { help: 'h', maxSeries: 0 }), /maxSeries must be an integer from 1 to 10000, got 0/],
        [() => m().counter('calls_total', { help: 'h', maxSeries: 10_001 }), /maxSeries must be an integer from 1 to 10000/],
        [() => m().counter('calls_total', { help: 'h', buckets: [1] }), /only a histogram has buckets, this is a counter/],
        [() => m().histogram('t_seconds', { help: 'h', buckets: [1, 0.5] }), /buckets must increase \(1 then 0.5\)/],
        [() => m().histogram('t_seconds', { help: 'h', buckets: [] }), /buckets must be a list of 1 to 100/],
        [() => m().histogram('t_seconds', { help: 'h', buckets: [0.1, Infinity] }), /bucket Infinity must be a finite number/],
      ];
      for (const [fn, re] of cases) {
        const e = thrown(fn);
        expect(e.code).toBe('INVALID_WATCH');
        expect(e.message).toMatch(/^watch 'who-killed': metric /);
        expect(e.message).toMatch(re);
      }
    });

    it(`gives the same handle for the same declaration, and refuses a different one (${which})`, () => {
      const r = m();
      const a = r.counter('culprits_total', { help: 'culprits', labels: ['comm'] });
      expect(r.counter('culprits_total', { help: 'culprits (again)', labels: ['comm'] })).toBe(a);
      const h = r.histogram('t_seconds', { help: 'h', buckets: [0.1, 1] });
      expect(r.histogram('t_seconds', { help: 'h', buckets: [0.1, 1] })).toBe(h);
      for (const fn of [
        () => r.gauge('culprits_total', { help: 'culprits', labels: ['comm'] }),
        () => r.counter('culprits_total', { help: 'culprits', labels: ['comm', 'uid'] }),
        () => r.counter('culprits_total', { help: 'culprits' }),
        () => r.histogram('t_seconds', { help: 'h', buckets: [0.1, 2] }),
      ]) {
        const e = thrown(fn);
        expect(e.code).toBe('INVALID_WATCH');
        expect(e.message).toMatch(/^watch 'who-killed': metric '(culprits_total|t_seconds)': declared again differently: first a (counter|histogram)/);
      }
    });

    it(`checks every call's labels and values (${which})`, () => {
      const r = m();
      const c = r.counter('culprits_total', { help: 'culprits', labels: ['comm', 'sig'] });
      const g = r.gauge('pending', { help: 'pending' });
      const h = r.histogram('t_seconds', { help: 'h', labels: ['syscall'] });
      c.inc({ comm: 'kill', sig: 9 });
      c.inc({ comm: 'kill', sig: 9 }, 0);
      g.set(undefined, -3);
      g.dec();
      h.observe({ syscall: 'read' }, 0.5);
      const cases: Array<[() => unknown, RegExp]> = [
        [() => c.inc(), /labels comm, sig must be given/],
        [() => c.inc({ comm: 'kill' }), /label 'sig' must be given/],
        [() => c.inc({ comm: 'kill', sig: 9, pid: 1 }), /unknown label 'pid' \(declared: comm, sig\)/],
        [() => c.inc({ comm: 'kill', sig: NaN }), /label 'sig' must be a string or a finite number, got NaN/],
        [() => c.inc({ comm: 'kill', sig: undefined } as never), /label 'sig' must be a string or a finite number, got undefined/],
        [() => c.inc({ comm: 'kill', sig: 9 }, -1), /the increment must be >= 0, got -1/],
        [() => c.inc({ comm: 'kill', sig: 9 }, Infinity), /the increment must be a finite number, got Infinity/],
        [() => g.set({ x: '1' }, 1), /unknown label 'x' \(declared: none\)/],
        [() => g.set(undefined, NaN), /the value must be a finite number, got NaN/],
        [() => g.dec(undefined, -2), /the decrement must be >= 0/],
        [() => h.observe({ syscall: 'read' }, Number.NEGATIVE_INFINITY), /the observed value must be a finite number/],
        [() => h.observe(undefined, 1), /labels syscall must be given/],
      ];
      for (const [fn, re] of cases) {
        const e = thrown(fn);
        expect(e.message).toMatch(/^watch 'who-killed': metric '(culprits_total|pending|t_seconds)': /);
        expect(e.message).toMatch(re);
      }
    });
  }
});

describe('MemoryMetrics', () => {
  it('keeps counters, gauges and histograms per label set, with the watch label', () => {
    const mem = new MemoryMetrics();
    const r = new RunMetrics('syscall-times', 'times-1', mem);
    const h = r.histogram('syscall_duration_seconds', { help: 'how long', labels: ['syscall'], buckets: [0.001, 0.01, 0.1] });
    for (const v of [0.0005, 0.001, 0.002, 0.05, 0.05, 3]) h.observe({ syscall: 'read' }, v);
    h.observe({ syscall: 'write' }, 0.2);
    const g = r.gauge('open_files', { help: 'open', labels: ['pid'] });
    g.set({ pid: 42 }, 7);
    g.dec({ pid: 42 }, 2);
    g.inc({ pid: 42 });
    r.counter('calls_total', { help: 'calls' }).inc(undefined, 5);

    const snap = mem.snapshot();
    const d = snap['tw_syscall_times_syscall_duration_seconds']!;
    expect(d.kind).toBe('histogram');
    expect(d.labels).toEqual(['syscall']);
    expect(d.series).toContainEqual({ labels: { watch: 'times-1', syscall: 'read' }, count: 6, sum: 0.0005 + 0.001 + 0.002 + 0.05 + 0.05 + 3, buckets: { '0.001': 2, '0.01': 3, '0.1': 5, '+Inf': 6 } });
    expect(d.series).toContainEqual({ labels: { watch: 'times-1', syscall: 'write' }, count: 1, sum: 0.2, buckets: { '0.001': 0, '0.01': 0, '0.1': 0, '+Inf': 1 } });
    expect(mem.value('tw_syscall_times_open_files', { pid: '42' })).toBe(6);
    expect(snap['tw_syscall_times_calls_total']!.series).toEqual([{ labels: { watch: 'times-1' }, value: 5 }]);
    // a histogram given no buckets gets Prometheus' defaults
    r.histogram('other_seconds', { help: 'h' }).observe(undefined, 1);
    expect(mem.snapshot()['tw_syscall_times_other_seconds']!.buckets).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  });

  it('keeps two runs of one watch apart by their watch label', () => {
    const mem = new MemoryMetrics();
    new RunMetrics('who-killed', 'a', mem).counter('culprits_total', { help: 'c', labels: ['comm'] }).inc({ comm: 'kill' });
    new RunMetrics('who-killed', 'b', mem).counter('culprits_total', { help: 'c', labels: ['comm'] }).inc({ comm: 'kill' }, 2);
    expect(mem.value('tw_who_killed_culprits_total', { watch: 'a', comm: 'kill' })).toBe(1);
    expect(mem.value('tw_who_killed_culprits_total', { watch: 'b', comm: 'kill' })).toBe(2);
  });

  it('refuses one full name from two watches', () => {
    const mem = new MemoryMetrics();
    new RunMetrics('a-b', 'a-b', mem).counter('c_total', { help: 'c' });
    expect(() => new RunMetrics('a', 'a', mem).counter('b_c_total', { help: 'c' })).toThrow("metric tw_a_b_c_total is declared by watch 'a' (metric 'b_c_total') and by watch 'a-b' (metric 'c_total')");
  });

  it('caps label values at 128 characters', () => {
    const mem = new MemoryMetrics();
    new RunMetrics('who-deleted', 'who-deleted', mem).counter('culprits_total', { help: 'c', labels: ['comm'] }).inc({ comm: 'x'.repeat(300) });
    expect(mem.snapshot()['tw_who_deleted_culprits_total']!.series[0]!.labels.comm).toBe('x'.repeat(128));
  });
});

describe('the cardinality guard', () => {
  it('folds new label sets beyond maxSeries into "_other", calling overflow once per folded call', () => {
    const mem = new MemoryMetrics();
    const overflows: MetricDeclaration[] = [];
    const backend: MetricsBackend = {
      declare: (d) => mem.declare(d),
      overflow: (d) => {
        overflows.push(d);
        mem.overflow(d);
      },
    };
    const c = new RunMetrics('who-killed', 'who-killed', backend).counter('culprits_total', { help: 'c', labels: ['comm', 'sig'], maxSeries: 3 });
    for (const comm of ['a', 'b', 'c']) c.inc({ comm, sig: 9 });
    c.inc({ comm: 'd', sig: 9 }); //  folded
    c.inc({ comm: 'e', sig: 15 }, 4); // folded
    c.inc({ comm: 'a', sig: 9 }); //  known: kept
    c.inc({ comm: 'd', sig: 9 }); //  still folded (it never got a series)
    expect(overflows.map((d) => d.fullName)).toEqual(['tw_who_killed_culprits_total', 'tw_who_killed_culprits_total', 'tw_who_killed_culprits_total']);
    const m = mem.snapshot()['tw_who_killed_culprits_total']!;
    expect(m.overflows).toBe(3);
    expect(m.series.map((s) => [s.labels.comm, s.labels.sig, s.value])).toEqual([
      ['a', '9', 2],
      ['b', '9', 1],
      ['c', '9', 1],
      ['_other', '_other', 6],
    ]);
  });

  it('passes the backend one array per label set', () => {
    const seen: Array<readonly string[]> = [];
    const backend: MetricsBackend = { declare: () => ({ add: (v) => seen.push(v), set() {}, observe() {} }) };
    const c = new RunMetrics('syscalls', 'syscalls', backend).counter('calls_total', { help: 'c', labels: ['syscall'], maxSeries: 1 });
    c.inc({ syscall: 'read' });
    c.inc({ syscall: 'read' });
    c.inc({ syscall: 'write' });
    c.inc({ syscall: 'close' });
    expect(seen.map((v) => v.join())).toEqual(['read', 'read', '_other', '_other']);
    expect(seen[1]).toBe(seen[0]);
    expect(seen[3]).toBe(seen[2]);
  });
});
