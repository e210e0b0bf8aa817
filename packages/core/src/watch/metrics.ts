/**
 * Metrics a watch declares (ctx.metrics): counters, gauges and histograms with labels. core only
 * checks and bounds them; where the values go is the host's choice (a MetricsBackend): `tw serve`
 * exports them to Prometheus, a test keeps them in a MemoryMetrics, and `tw watch` has no backend
 * at all — the calls are still checked there, so a watch's misuse shows wherever it runs.
 *
 * Everything a backend receives is already valid: a known metric, every declared label given
 * (in declaration order, as strings), at most maxSeries distinct label sets per metric plus the
 * "_other" one, finite values. A backend therefore never needs to check a watch's input.
 */
import { TwError } from '../errors.js';

export type MetricLabels = Readonly<Record<string, string | number>>;

export interface MetricSpec {
  /** one line for the metric's HELP */
  help: string;
  /** label names (besides `watch`, which the host adds), in the order backends receive values */
  labels?: readonly string[];
  /** distinct label-value sets kept (default 500, at most 10000); more fold into "_other" */
  maxSeries?: number;
  /** histogram only: upper bounds, increasing, in the unit the metric's name says (default: DEFAULT_BUCKETS) */
  buckets?: readonly number[];
}

export interface CounterMetric {
  /** add `by` (default 1; finite, >= 0) */
  inc(labels?: MetricLabels, by?: number): void;
}

export interface GaugeMetric {
  set(labels: MetricLabels | undefined, value: number): void;
  inc(labels?: MetricLabels, by?: number): void;
  dec(labels?: MetricLabels, by?: number): void;
}

export interface HistogramMetric {
  observe(labels: MetricLabels | undefined, value: number): void;
}

export interface WatchMetrics {
  counter(name: string, spec: MetricSpec): CounterMetric;
  gauge(name: string, spec: MetricSpec): GaugeMetric;
  histogram(name: string, spec: MetricSpec): HistogramMetric;
}

export type MetricKind = 'counter' | 'gauge' | 'histogram';

/** what a host (tw serve, the testing kit) plugs in; core validates every call before it gets here */
export interface MetricDeclaration {
  /** the run's id: the value of the `watch` label the host adds */
  watchId: string;
  /** the watch's name (part of fullName) */
  watch: string;
  kind: MetricKind;
  /** as the watch declared it, e.g. "calls_total" */
  name: string;
  /** the exported name: "tw_" + watch name with "-" → "_" + "_" + name */
  fullName: string;
  help: string;
  /** the declared label names (without `watch`) */
  labels: readonly string[];
  /** histograms: the bucket upper bounds (the watch's, or DEFAULT_BUCKETS), without +Inf */
  buckets?: readonly number[];
  /** the guard's bound (MetricSpec.maxSeries, defaulted) */
  maxSeries: number;
}

/**
 * One declared metric of one watch run, on the backend's side. labelValues are in the order of
 * MetricDeclaration.labels; the same array is passed for the same label set each time (a
 * backend may key a cache on it).
 */
export interface MetricSink {
  /** counter or gauge: add `by` (a gauge's dec is a negative `by`) */
  add(labelValues: readonly string[], by: number): void;
  /** gauge */
  set(labelValues: readonly string[], value: number): void;
  /** histogram */
  observe(labelValues: readonly string[], value: number): void;
}

export interface MetricsBackend {
  /** called once per metric and watch run, when the watch declares it (mostly in start()) */
  declare(d: MetricDeclaration): MetricSink;
  /** a new label set beyond maxSeries was folded into the "_other" series */
  overflow?(d: MetricDeclaration): void;
}

/** Prometheus' own default buckets (seconds), for a histogram that gives none. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const DEFAULT_MAX_SERIES = 500;
export const MAX_SERIES_LIMIT = 10_000;
/** the value every label takes in the series that new label sets beyond maxSeries fold into */
export const OTHER_LABEL_VALUE = '_other';
/** longer label values are cut to this many characters */
export const MAX_LABEL_VALUE_LENGTH = 128;

const METRIC_NAME = /^[a-z][a-z0-9_]*$/;
const LABEL_NAME = /^[a-z][a-z0-9_]*$/;
const MAX_NAME_LENGTH = 100;
const MAX_BUCKETS = 100;

/** The name a watch's metric is exported under. */
export function metricFullName(watch: string, name: string): string {
  return `tw_${watch.replaceAll('-', '_')}_${name}`;
}

const noSink: MetricSink = { add() {}, set() {}, observe() {} };

/** One declared metric of one run: its declaration, the backend's sink and the guard's state. */
class Declared {
  readonly labelCount: number;
  /** label-set key → the values array passed to the sink; undefined without a backend (nothing to bound) */
  private readonly series: Map<string, readonly string[]> | undefined;
  private readonly other: readonly string[];
  private readonly otherKey: string;
  handle: CounterMetric | GaugeMetric | HistogramMetric | undefined;

  constructor(
    readonly decl: MetricDeclaration,
    readonly sink: MetricSink,
    private readonly backend: MetricsBackend | undefined,
  ) {
    this.labelCount = decl.labels.length;
    this.series = backend === undefined ? undefined : new Map();
    this.other = decl.labels.map(() => OTHER_LABEL_VALUE);
    this.otherKey = this.labelCount === 1 ? OTHER_LABEL_VALUE : JSON.stringify(this.other);
  }

  private fail(message: string): never {
    throw new TwError('WATCH_FAILED', `watch '${this.decl.watch}': metric '${this.decl.name}': ${message}`);
  }

  /** The checked label values of a call, in declaration order, bounded by the guard. */
  values(labels: MetricLabels | undefined): readonly string[] {
    const names = this.decl.labels;
    if (labels === undefined || labels === null) {
      if (this.labelCount === 0) return this.other; // the one, empty, label set
      this.fail(`labels ${names.join(', ')} must be given`);
    }
    if (typeof labels !== 'object') this.fail(`labels must be an object of label → value, got a ${typeof labels}`);
    if (this.labelCount === 0) {
      for (const k in labels) if (Object.prototype.hasOwnProperty.call(labels, k)) this.fail(`unknown label '${k}' (declared: none)`);
      return this.other;
    }
    let given = 0;
    for (const k in labels) {
      if (!Object.prototype.hasOwnProperty.call(labels, k)) continue;
      given++;
      if (!names.includes(k)) this.fail(`unknown label '${k}' (declared: ${names.length > 0 ? names.join(', ') : 'none'})`);
    }
    const vals: string[] = new Array<string>(this.labelCount);
    for (let i = 0; i < this.labelCount; i++) {
      const k = names[i]!;
      const v = labels[k];
      let s: string;
      if (typeof v === 'string') s = v;
      else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
      else if (v === undefined && !Object.prototype.hasOwnProperty.call(labels, k)) this.fail(`label '${k}' must be given`);
      else this.fail(`label '${k}' must be a string or a finite number, got ${describe(v)}`);
      vals[i] = s.length > MAX_LABEL_VALUE_LENGTH ? s.slice(0, MAX_LABEL_VALUE_LENGTH) : s;
    }
    if (given !== this.labelCount) this.fail(`labels ${names.join(', ')} must all be given`);
    if (this.series === undefined) return vals;
    const key = this.labelCount === 1 ? vals[0]! : JSON.stringify(vals);
    const known = this.series.get(key);
    if (known !== undefined) return known;
    if (this.series.size >= this.decl.maxSeries && key !== this.otherKey) {
      // the guard: a watch keyed on something unbounded (pids, paths) cannot grow the host's
      // memory or the monitoring system's series without limit; what it loses is counted
      this.backend!.overflow?.(this.decl);
      const other = this.series.get(this.otherKey);
      if (other !== undefined) return other;
      this.series.set(this.otherKey, this.other);
      return this.other;
    }
    this.series.set(key, vals);
    return vals;
  }

  amount(by: number | undefined, what: string, nonNegative: boolean): number {
    if (by === undefined) return 1;
    if (typeof by !== 'number' || !Number.isFinite(by)) this.fail(`${what} must be a finite number, got ${describe(by)}`);
    if (nonNegative && by < 0) this.fail(`${what} must be >= 0, got ${by}`);
    return by;
  }

  value(v: number, what: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${what} must be a finite number, got ${describe(v)}`);
    return v;
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * ctx.metrics of one watch run. Declaring the same metric again (same kind and labels) gives the
 * same handle, so a watch may declare in start() or lazily in a handler.
 */
export class RunMetrics implements WatchMetrics {
  private readonly declared = new Map<string, Declared>();

  /**
   * @param watch the watch's name (fullName, messages)
   * @param watchId the run's id (the `watch` label)
   * @param backend where values go; none: checked, then dropped
   */
  constructor(
    readonly watch: string,
    readonly watchId: string,
    private readonly backend?: MetricsBackend,
  ) {}

  counter(name: string, spec: MetricSpec): CounterMetric {
    const m = this.declare('counter', name, spec);
    return (m.handle ??= {
      inc: (labels?: MetricLabels, by?: number) => m.sink.add(m.values(labels), m.amount(by, 'the increment', true)),
    }) as CounterMetric;
  }

  gauge(name: string, spec: MetricSpec): GaugeMetric {
    const m = this.declare('gauge', name, spec);
    return (m.handle ??= {
      set: (labels: MetricLabels | undefined, value: number) => m.sink.set(m.values(labels), m.value(value, 'the value')),
      inc: (labels?: MetricLabels, by?: number) => m.sink.add(m.values(labels), m.amount(by, 'the increment', true)),
      dec: (labels?: MetricLabels, by?: number) => m.sink.add(m.values(labels), -m.amount(by, 'the decrement', true)),
    }) as GaugeMetric;
  }

  histogram(name: string, spec: MetricSpec): HistogramMetric {
    const m = this.declare('histogram', name, spec);
    return (m.handle ??= {
      observe: (labels: MetricLabels | undefined, value: number) => m.sink.observe(m.values(labels), m.value(value, 'the observed value')),
    }) as HistogramMetric;
  }

  /** The metrics this run declared so far. */
  declarations(): MetricDeclaration[] {
    return [...this.declared.values()].map((m) => m.decl);
  }

  private declare(kind: MetricKind, name: string, spec: MetricSpec): Declared {
    const bad = (why: string): never => {
      throw new TwError('INVALID_WATCH', `watch '${this.watch}': metric '${String(name)}': ${why}`);
    };
    if (typeof name !== 'string' || !METRIC_NAME.test(name) || name.length > MAX_NAME_LENGTH) {
      bad(`the name must be lower-case letters, digits and '_', starting with a letter, at most ${MAX_NAME_LENGTH} characters`);
    }
    if (typeof spec !== 'object' || spec === null) bad('its spec must be an object ({ help, labels?, maxSeries?, buckets? })');
    if (typeof spec.help !== 'string' || spec.help.trim() === '') bad('it needs a help text (spec.help)');
    const labels = spec.labels ?? [];
    if (!Array.isArray(labels)) bad('spec.labels must be a list of label names');
    for (const l of labels) {
      if (typeof l !== 'string' || !LABEL_NAME.test(l) || l.length > MAX_NAME_LENGTH) bad(`label name ${describe(l)} must be lower-case letters, digits and '_', starting with a letter`);
      if (l === 'watch') bad("the label 'watch' is reserved (the host adds watch=\"<watch id>\")");
      if (labels.indexOf(l) !== labels.lastIndexOf(l)) bad(`label '${l}' is declared twice`);
    }
    const maxSeries = spec.maxSeries ?? DEFAULT_MAX_SERIES;
    if (!Number.isInteger(maxSeries) || maxSeries < 1 || maxSeries > MAX_SERIES_LIMIT) bad(`spec.maxSeries must be an integer from 1 to ${MAX_SERIES_LIMIT}, got ${describe(maxSeries)}`);
    let buckets: readonly number[] | undefined;
    if (kind === 'histogram') {
      buckets = spec.buckets ?? DEFAULT_BUCKETS;
      if (!Array.isArray(buckets) || buckets.length === 0 || buckets.length > MAX_BUCKETS) bad(`spec.buckets must be a list of 1 to ${MAX_BUCKETS} upper bounds`);
      buckets.forEach((b, i) => {
        if (typeof b !== 'number' || !Number.isFinite(b)) bad(`bucket ${describe(b)} must be a finite number (+Inf is always added)`);
        if (i > 0 && b <= buckets![i - 1]!) bad(`spec.buckets must increase (${buckets![i - 1]} then ${b})`);
      });
      buckets = [...buckets];
    } else if (spec.buckets !== undefined) {
      bad(`only a histogram has buckets, this is a ${kind}`);
    }

    const prev = this.declared.get(name);
    if (prev !== undefined) {
      const d = prev.decl;
      const same = d.kind === kind && sameList(d.labels, labels) && (kind !== 'histogram' || sameList(d.buckets!, buckets!));
      if (!same) {
        bad(`declared again differently: first a ${d.kind} with labels [${d.labels.join(', ')}]${d.buckets ? ` and buckets [${d.buckets.join(', ')}]` : ''}, now a ${kind} with labels [${labels.join(', ')}]${buckets ? ` and buckets [${buckets.join(', ')}]` : ''}`);
      }
      return prev;
    }
    const decl: MetricDeclaration = {
      watchId: this.watchId,
      watch: this.watch,
      kind,
      name,
      fullName: metricFullName(this.watch, name),
      help: spec.help,
      labels: [...labels],
      ...(buckets ? { buckets } : {}),
      maxSeries,
    };
    const sink = this.backend === undefined ? noSink : this.backend.declare(decl);
    const m = new Declared(decl, sink, this.backend);
    this.declared.set(name, m);
    return m;
  }
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** One series of a MemoryMetrics snapshot. */
export interface MemorySeries {
  /** `watch` and the declared labels */
  labels: Record<string, string>;
  /** counter, gauge */
  value?: number;
  /** histogram: observations, their sum, and the cumulative count per upper bound ("+Inf" included) */
  count?: number;
  sum?: number;
  buckets?: Record<string, number>;
}

export interface MemoryMetric {
  kind: MetricKind;
  help: string;
  /** the declared label names (the series also carry `watch`) */
  labels: readonly string[];
  /** histograms: the bucket upper bounds */
  buckets?: readonly number[];
  series: MemorySeries[];
  /** calls whose new label set the guard folded into "_other" */
  overflows: number;
}

interface MemoryEntry {
  decl: MetricDeclaration;
  /** watchId + label values → series */
  series: Map<string, { labels: Record<string, string>; value: number; count: number; sum: number; counts: number[] }>;
  overflows: number;
}

/**
 * A backend that keeps the values in memory: for tests (and anything that wants to read a watch's
 * metrics without a monitoring system). Runs of the same watch share a metric, told apart by
 * their `watch` label, as in the exported form.
 */
export class MemoryMetrics implements MetricsBackend {
  private readonly metrics = new Map<string, MemoryEntry>();

  declare(d: MetricDeclaration): MetricSink {
    let entry = this.metrics.get(d.fullName);
    if (entry === undefined) {
      entry = { decl: d, series: new Map(), overflows: 0 };
      this.metrics.set(d.fullName, entry);
    } else if (entry.decl.watch !== d.watch) {
      // 'a-b' with 'c' and 'a' with 'b_c' are both tw_a_b_c
      throw new TwError('INVALID_WATCH', `metric ${d.fullName} is declared by watch '${d.watch}' (metric '${d.name}') and by watch '${entry.decl.watch}' (metric '${entry.decl.name}')`);
    } else if (entry.decl.kind !== d.kind || !sameList(entry.decl.labels, d.labels) || !sameList(entry.decl.buckets ?? [], d.buckets ?? [])) {
      throw new TwError('INVALID_WATCH', `metric ${d.fullName} is declared as a ${d.kind} with labels [${d.labels.join(', ')}] by run '${d.watchId}', and differently by run '${entry.decl.watchId}'`);
    }
    const e = entry;
    const bounds = d.buckets ?? [];
    const at = (values: readonly string[]) => {
      const key = JSON.stringify([d.watchId, ...values]);
      let s = e.series.get(key);
      if (s === undefined) {
        const labels: Record<string, string> = { watch: d.watchId };
        d.labels.forEach((l, i) => (labels[l] = values[i]!));
        s = { labels, value: 0, count: 0, sum: 0, counts: bounds.map(() => 0) };
        e.series.set(key, s);
      }
      return s;
    };
    return {
      add: (values, by) => {
        at(values).value += by;
      },
      set: (values, value) => {
        at(values).value = value;
      },
      observe: (values, value) => {
        const s = at(values);
        s.count++;
        s.sum += value;
        for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) s.counts[i]!++;
      },
    };
  }

  overflow(d: MetricDeclaration): void {
    const e = this.metrics.get(d.fullName);
    if (e) e.overflows++;
  }

  /** Everything so far, by full name. */
  snapshot(): Record<string, MemoryMetric> {
    const out: Record<string, MemoryMetric> = {};
    for (const [name, e] of this.metrics) {
      const d = e.decl;
      out[name] = {
        kind: d.kind,
        help: d.help,
        labels: d.labels,
        ...(d.buckets ? { buckets: d.buckets } : {}),
        overflows: e.overflows,
        series: [...e.series.values()].map((s) => {
          if (d.kind !== 'histogram') return { labels: { ...s.labels }, value: s.value };
          const buckets: Record<string, number> = {};
          d.buckets!.forEach((b, i) => (buckets[String(b)] = s.counts[i]!));
          buckets['+Inf'] = s.count;
          return { labels: { ...s.labels }, count: s.count, sum: s.sum, buckets };
        }),
      };
    }
    return out;
  }

  /**
   * The series of a metric whose labels include these (e.g. `{ syscall: 'read' }`), or undefined.
   * With several matching, the first.
   */
  series(fullName: string, labels: Readonly<Record<string, string>> = {}): MemorySeries | undefined {
    return this.snapshot()[fullName]?.series.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** A counter's or gauge's value for these labels; 0 when that series never moved. */
  value(fullName: string, labels: Readonly<Record<string, string>> = {}): number {
    return this.series(fullName, labels)?.value ?? 0;
  }
}
