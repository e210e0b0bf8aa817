/**
 * `@tw/core/testing`: run a watch the way `tw watch` does, from a test — over a recording, or
 * over synthetic events built from the real formats of a recording or of the running kernel —
 * and get its result, alerts and metrics back. Plain async functions: usable from vitest, from
 * `node --test`, from anything.
 *
 *   const kit = await eventKit('test/fixture.dat');            // or eventKit('kernel') (root)
 *   const clock = fakeClock();                                  // 1 µs per event unless told
 *   const events = [
 *     kit.make('sched:sched_process_exec', { filename: '/bin/sh', pid: 42, old_pid: 42 }, { pid: 42, ts: clock.tick('1ms') }),
 *     kit.make('signal:signal_generate', { sig: 9, pid: 42 }, { pid: 7 }),
 *   ];
 *   const r = await runWatch(myWatch, { events, args: ['42'], procs: [{ pid: 7, comm: 'killer', ppid: 1 }] });
 *   r.result; r.alerts; r.stopped; r.events; r.metrics (a MemoryMetrics)
 *
 * Synthetic events go through the same decoder, engine and watch session as a recording: they
 * are encoded into ring-buffer sub-buffers with the kit's formats (its byte order and long
 * size), so `e.fields` gives what it would give on the real kernel. Nothing here touches the
 * kernel but eventKit('kernel'), which only reads format files.
 */
import { readFileSync } from 'node:fs';
import { TwError } from '../errors.js';
import { CpuStream } from '../decode/cpu-stream.js';
import type { PageSource } from '../decode/page-source.js';
import type { FieldValue } from '../decode/read-field.js';
import type { Field } from '../format/field.js';
import { parseHeaderPage, type HeaderPage } from '../format/header-page.js';
import { parseEventFormat, type EventFormat } from '../format/parse-format.js';
import { FormatRegistry } from '../format/registry.js';
import { runWatches, type RunReport } from '../session/run-watches.js';
import { replayFile } from '../session/offline.js';
import type { TraceSource } from '../session/engine.js';
import { openTraceDat } from '../tracedat/read-trace-dat.js';
import { findTracefs } from '../tracefs/tracefs.js';
import type { Alert, AnyWatch, Culprit, TaskFacts, WatchDefinition } from '../watch/define-watch.js';
import { MemoryMetrics } from '../watch/metrics.js';
import { parseWatchArgs, watchOptions, type ArgSpecs } from '../watch/define-watch.js';

const PAGE = 4096;
/** a record's time delta has 27 bits; a larger gap starts a new sub-buffer (its own timestamp) */
const MAX_DELTA = (1n << 27n) - 1n;

/** Values for an event's fields, by field name: numbers or bigints, strings for char arrays, arrays for arrays. */
export type FieldInput = Readonly<Record<string, number | bigint | boolean | string | readonly (number | bigint)[] | Uint8Array>>;

export interface MakeOptions {
  /** common_pid: the task the event happened in (default 0) */
  pid?: number;
  /** the CPU it happened on (default 0) */
  cpu?: number;
  /** its timestamp in ns; default: the kit's clock (fakeClock) ticks once */
  ts?: bigint;
}

/** One synthetic record, ready for runWatch (or writeEvents). */
export interface SyntheticEvent {
  readonly event: string;
  readonly pid: number;
  readonly cpu: number;
  readonly ts: bigint;
  /** the record's bytes: common header, fields, dynamic data */
  readonly bytes: Uint8Array;
  /** the kit that made it (runWatch takes all events from one kit) */
  readonly kit: EventKit;
}

/** A clock for synthetic events: `now` in ns, advanced by tick(). */
export interface FakeClock {
  readonly now: bigint;
  /** advance by `by` (ns as a bigint or number, or a duration text: "1ms", "2s"; default the step) and return the new time */
  tick(by?: bigint | number | string): bigint;
}

export function fakeClock(opts: { start?: bigint; step?: bigint | number | string } = {}): FakeClock {
  const ns = (v: bigint | number | string): bigint => {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) throw new TwError('BAD_ARGUMENT', `fakeClock: ${v} is not a whole number of ns`);
      return BigInt(v);
    }
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)$/.exec(v.trim());
    if (m === null) throw new TwError('BAD_ARGUMENT', `fakeClock: '${v}' is not a duration (e.g. 500ns, 20us, 1.5ms, 2s)`);
    const per = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9 }[m[2] as 'ns'];
    return BigInt(Math.round(Number(m[1]) * per));
  };
  const step = ns(opts.step ?? 1000n);
  let now = opts.start ?? 1_000_000_000n;
  return {
    get now() {
      return now;
    },
    tick(by?: bigint | number | string) {
      now += by === undefined ? step : ns(by);
      return now;
    },
  };
}

/** The formats synthetic events are built from: a recording's, or the running kernel's. */
export class EventKit {
  private readonly cache = new Map<string, EventFormat>();

  private constructor(
    /** where the formats came from: a file path, or "kernel" */
    readonly source: string,
    readonly littleEndian: boolean,
    readonly longSize: 4 | 8,
    private readonly lookup: (name: string) => EventFormat | undefined,
    /** the clock events without a `ts` take their time from */
    readonly clock: FakeClock,
  ) {}

  /** A kit with the formats of a trace.dat recording. */
  static async fromFile(path: string, clock: FakeClock = fakeClock()): Promise<EventKit> {
    const dat = await openTraceDat(path);
    try {
      const formats = dat.formats;
      return new EventKit(path, dat.littleEndian, dat.longSize === 4 ? 4 : 8, (n) => formats.byFullName(n), clock);
    } finally {
      dat.close();
    }
  }

  /** A kit with the running kernel's formats (read from tracefs as needed: root, or a readable tracefs). */
  static fromKernel(clock: FakeClock = fakeClock()): EventKit {
    const root = findTracefs();
    const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    const longSize = process.arch === 'ia32' || process.arch === 'arm' ? 4 : 8;
    return new EventKit('kernel', le, longSize, (name) => {
      const [system, event] = name.split(':');
      if (!system || !event || !/^[\w.-]+$/.test(system) || !/^[\w.-]+$/.test(event)) return undefined;
      const path = `${root}/events/${system}/${event}/format`;
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
      return parseEventFormat(text, path, system, longSize);
    }, clock);
  }

  /** The format of an event ("system:event"); a TwError naming the source when there is none. */
  format(event: string): EventFormat {
    let f = this.cache.get(event);
    if (f === undefined) {
      f = this.lookup(event);
      if (f === undefined) throw new TwError('UNKNOWN_EVENT', `${this.source}: no event '${event}' (synthetic events need a format from the recording or the kernel)`);
      this.cache.set(event, f);
    }
    return f;
  }

  /**
   * One record of `event` with these field values (fields left out are 0 or empty). Each field
   * is encoded as the format says: integers of its size and sign, char[N] strings (cut to N-1
   * bytes), arrays, __data_loc/__rel_loc strings and arrays after the fixed part.
   */
  make(event: string, fields: FieldInput = {}, opts: MakeOptions = {}): SyntheticEvent {
    const format = this.format(event);
    const pid = opts.pid ?? (typeof fields['common_pid'] === 'number' ? fields['common_pid'] : 0);
    const cpu = opts.cpu ?? 0;
    if (!Number.isInteger(cpu) || cpu < 0 || cpu > 4095) throw new TwError('BAD_ARGUMENT', `${event}: cpu ${cpu} is not a CPU number`);
    const ts = opts.ts ?? this.clock.tick();
    const bytes = encodeRecord(format, { ...fields, common_pid: pid, common_type: format.id }, this.littleEndian);
    return { event, pid, cpu, ts, bytes, kit: this };
  }
}

/** A kit from a recording's formats (a path) or the running kernel's ("kernel"). */
export async function eventKit(from: string, opts: { clock?: FakeClock } = {}): Promise<EventKit> {
  return from === 'kernel' ? EventKit.fromKernel(opts.clock) : EventKit.fromFile(from, opts.clock);
}

function fieldError(format: EventFormat, field: string, m: string): TwError {
  return new TwError('BAD_ARGUMENT', `${format.fullName}: field '${field}': ${m}`);
}

function toBigInt(format: EventFormat, f: Field, v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw fieldError(format, f.name, `${typeof v === 'number' ? v : typeof v} is not an integer`);
}

function putInt(dv: DataView, at: number, size: number, v: bigint, le: boolean, format: EventFormat, f: Field): void {
  const bits = BigInt(size * 8);
  const signed = f.signed && f.kind !== 'pointer';
  // an unsigned field also takes a negative value, stored in two's complement as the kernel
  // stores an int argument in a syscall event's unsigned long slot (it reads back unsigned)
  const min = -(1n << (bits - 1n));
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (v < min || v > max) throw fieldError(format, f.name, `${v} does not fit in ${size} ${signed ? 'signed' : 'unsigned'} byte(s)`);
  const u = BigInt.asUintN(size * 8, v);
  switch (size) {
    case 1:
      dv.setUint8(at, Number(u));
      return;
    case 2:
      dv.setUint16(at, Number(u), le);
      return;
    case 4:
      dv.setUint32(at, Number(u), le);
      return;
    case 8:
      dv.setBigUint64(at, u, le);
      return;
    default:
      throw fieldError(format, f.name, `integers of ${size} bytes cannot be written`);
  }
}

function elementsOf(format: EventFormat, f: Field, v: unknown): bigint[] {
  if (v instanceof Uint8Array) return [...v].map((b) => BigInt(b));
  if (Array.isArray(v)) return v.map((x) => toBigInt(format, f, x));
  throw fieldError(format, f.name, 'an array field takes an array of numbers');
}

function encodeRecord(format: EventFormat, values: Record<string, unknown>, le: boolean): Uint8Array {
  const known = new Map(format.fields.map((f) => [f.name, f]));
  for (const k of Object.keys(values)) {
    if (!known.has(k)) {
      const own = format.ownFields.map((f) => f.name).join(', ');
      throw new TwError('BAD_ARGUMENT', `${format.fullName} has no field '${k}' (its fields: ${own || 'none'})`);
    }
  }
  const enc = new TextEncoder();
  // dynamic parts first, to know the record's size
  const tail: Array<{ f: Field; bytes: Uint8Array }> = [];
  for (const f of format.fields) {
    if (!f.kind.startsWith('dyn') && !f.kind.startsWith('rel')) continue;
    const v = values[f.name];
    let bytes: Uint8Array;
    if (f.kind.endsWith('string')) {
      if (v !== undefined && typeof v !== 'string') throw fieldError(format, f.name, 'a string field takes a string');
      bytes = enc.encode(`${(v as string | undefined) ?? ''}\0`);
    } else {
      const els = v === undefined ? [] : elementsOf(format, f, v);
      const es = f.elementSize || 1;
      bytes = new Uint8Array(els.length * es);
      const dv = new DataView(bytes.buffer);
      els.forEach((x, i) => putInt(dv, i * es, es, x, le, format, f));
    }
    if (bytes.length > 0xffff) throw fieldError(format, f.name, `${bytes.length} bytes do not fit a 16-bit length`);
    tail.push({ f, bytes });
  }
  let size = format.fixedSize;
  for (const t of tail) size += t.bytes.length;
  if (size > PAGE - 16 - 8) throw new TwError('BAD_ARGUMENT', `${format.fullName}: a ${size}-byte record does not fit in a ${PAGE}-byte sub-buffer`);
  const rec = new Uint8Array(size);
  const dv = new DataView(rec.buffer);
  let at = format.fixedSize;
  for (const t of tail) {
    if (at > 0xffff) throw fieldError(format, t.f.name, 'its data starts beyond a 16-bit offset');
    const off = t.f.kind.startsWith('rel') ? at - (t.f.offset + 4) : at;
    dv.setUint32(t.f.offset, (t.bytes.length << 16) | off, le);
    rec.set(t.bytes, at);
    at += t.bytes.length;
  }
  for (const f of format.fields) {
    const v = values[f.name];
    if (v === undefined) continue;
    switch (f.kind) {
      case 'int':
      case 'pointer':
        putInt(dv, f.offset, f.size, toBigInt(format, f, v), le, format, f);
        break;
      case 'string': {
        if (typeof v !== 'string') throw fieldError(format, f.name, 'a char array takes a string');
        const b = enc.encode(v);
        if (f.size > 0 && b.length >= f.size) throw fieldError(format, f.name, `"${v}" is ${b.length} bytes; the field holds ${f.size - 1} and a NUL`);
        rec.set(b, f.offset);
        break;
      }
      case 'array': {
        const els = elementsOf(format, f, v);
        const es = f.elementSize || 1;
        const n = f.size === 0 ? els.length : Math.floor(f.size / es);
        if (els.length > n) throw fieldError(format, f.name, `${els.length} elements; the field holds ${n}`);
        els.forEach((x, i) => putInt(dv, f.offset + i * es, es, x, le, format, f));
        break;
      }
      default:
        break; // dynamic: written above
    }
  }
  return rec;
}

/** The sub-buffers of one CPU: records packed with their time deltas, 4 KiB each. */
function pagesOf(events: readonly SyntheticEvent[], le: boolean, longSize: 4 | 8): Uint8Array[] {
  const data = 8 + longSize;
  const pages: Uint8Array[] = [];
  let page = new Uint8Array(PAGE);
  let dv = new DataView(page.buffer);
  let at = data;
  let prev = 0n;
  const flush = (): void => {
    if (at === data) return;
    if (longSize === 8) dv.setBigUint64(8, BigInt(at - data), le);
    else dv.setUint32(8, at - data, le);
    pages.push(page);
    page = new Uint8Array(PAGE);
    dv = new DataView(page.buffer);
    at = data;
  };
  for (const e of events) {
    const padded = Math.ceil(e.bytes.length / 4) * 4;
    if (at !== data && (at + 8 + padded > PAGE || e.ts - prev > MAX_DELTA)) flush();
    let delta = 0;
    if (at === data) dv.setBigUint64(0, e.ts, le); // the sub-buffer's timestamp: its first record's
    else delta = Number(e.ts - prev);
    // type_len 0 (length in the next word): GCC puts the 5-bit type_len low on little-endian, high on big-endian
    dv.setUint32(at, le ? delta << 5 : delta, le);
    dv.setUint32(at + 4, e.bytes.length + 4, le);
    page.set(e.bytes, at + 8);
    at += 8 + padded;
    prev = e.ts;
  }
  flush();
  return pages;
}

function headerPageText(longSize: 4 | 8): string {
  const data = 8 + longSize;
  return [
    '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;',
    `\tfield: local_t commit;\toffset:8;\tsize:${longSize};\tsigned:1;`,
    '\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;',
    `\tfield: char data;\toffset:${data};\tsize:${PAGE - data};\tsigned:0;`,
    '',
  ].join('\n');
}

function memoryPages(pages: readonly Uint8Array[]): PageSource {
  let i = -1;
  const src: PageSource = {
    buf: new Uint8Array(0),
    start: 0,
    size: PAGE,
    fileOffset: 0,
    next() {
      i++;
      if (i >= pages.length) return false;
      src.buf = pages[i]!;
      src.fileOffset = i * PAGE;
      return true;
    },
  };
  return src;
}

/**
 * A process the watch's process table knows from the start (as a recording's saved cmdlines and
 * tw's task table give): what an alert's culprit can say of it, but its parents, which come
 * from the ppids of the processes given.
 */
export type TestProcess = Omit<Culprit, 'parents'>;

/** A TraceSource over synthetic events (all made by one kit). */
function syntheticSource(events: readonly SyntheticEvent[], procs: readonly TestProcess[], realtime: Date | undefined): TraceSource {
  const kit = events[0]?.kit;
  if (kit === undefined) throw new TwError('BAD_ARGUMENT', 'runWatch: events is empty (give at least one event, or input: a recording)');
  const formats = new FormatRegistry();
  const byCpu = new Map<number, SyntheticEvent[]>();
  for (const e of events) {
    if (e.kit !== kit) throw new TwError('BAD_ARGUMENT', 'runWatch: the events come from different kits (make them all with one eventKit)');
    if (formats.byFullName(e.event) === undefined) formats.add(kit.format(e.event));
    const list = byCpu.get(e.cpu) ?? [];
    list.push(e);
    byCpu.set(e.cpu, list);
  }
  const header: HeaderPage = parseHeaderPage(headerPageText(kit.longSize));
  const layout = { littleEndian: kit.littleEndian, longSize: kit.longSize, header };
  const cmdlines = new Map<number, string>();
  const tgids = new Map<number, number>();
  const tasks = new Map<number, TaskFacts>();
  for (const p of procs) {
    cmdlines.set(p.pid, p.comm);
    if (p.tgid !== undefined) tgids.set(p.pid, p.tgid);
    const facts: TaskFacts = { ppid: p.ppid, exe: p.exe, ...(p.uid !== undefined ? { uid: p.uid } : {}), ...(p.cmdline !== undefined ? { cmdline: p.cmdline } : {}) };
    tasks.set(p.pid, facts);
  }
  const first = events.reduce((m, e) => (e.ts < m ? e.ts : m), events[0]!.ts);
  return {
    littleEndian: kit.littleEndian,
    formats,
    arch: kit.source === 'kernel' ? process.arch : undefined,
    tsOffset: 0n,
    realtimeOffset: realtime === undefined ? undefined : BigInt(realtime.getTime()) * 1_000_000n - first,
    cmdlines,
    tgids,
    tasks,
    streams() {
      return [...byCpu.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([cpu, list]) => {
          // a CPU's records are in time order, as the kernel writes them (stable for equal times)
          const sorted = list.map((e, i) => ({ e, i })).sort((a, b) => (a.e.ts < b.e.ts ? -1 : a.e.ts > b.e.ts ? 1 : a.i - b.i)).map((x) => x.e);
          return new CpuStream(cpu, '', memoryPages(pagesOf(sorted, kit.littleEndian, kit.longSize)), layout);
        });
    },
  };
}

export interface RunWatchOptions {
  /** a trace.dat recording to replay */
  input?: string;
  /** or synthetic events (eventKit().make), in any order: each CPU's are sorted by time */
  events?: readonly SyntheticEvent[];
  /**
   * the watch's arguments: strings in positional order as on the command line (["1234"]), or
   * values by name ({ pid: 1234, fatal: true }) — checked as `tw watch` checks them
   */
  args?: readonly string[] | Readonly<Record<string, unknown>>;
  /** options by name, with string[] args: { fatal: true } is --fatal */
  options?: Readonly<Record<string, string | boolean>>;
  /** ctx.keepGoing (`--keep-going`) */
  keepGoing?: boolean;
  /** with events: processes known before the first event (comm, tgid, ppid, uid, exe, cmdline) */
  procs?: readonly TestProcess[];
  /** with events: the wall-clock time of the first event, so alerts carry `time` (default: none, time null) */
  realtime?: Date;
}

export interface TestRunResult<R = unknown> {
  /** what the watch's end() returned (typed as its end() is) */
  result: R;
  /** every ctx.alert(), in order */
  alerts: Alert[];
  /** true when the watch called ctx.stop() */
  stopped: boolean;
  /** events dispatched to the watch's handlers' session */
  events: number;
  /** the watch's ctx.metrics, as kept in memory: value(fullName, labels), snapshot() */
  metrics: MemoryMetrics;
  /** the run's whole report (stats: records, lost, per event) */
  report: RunReport;
}

function argsFor(watch: AnyWatch, o: RunWatchOptions): Record<string, unknown> {
  if (o.args === undefined || Array.isArray(o.args)) return parseWatchArgs(watch, (o.args ?? []) as readonly string[], o.options ?? {});
  const byName = o.args as Readonly<Record<string, unknown>>;
  const positional = Object.entries((watch.args ?? {}) as ArgSpecs).filter(([, s]) => s.option !== true).map(([k]) => k);
  const optionNames = new Set(watchOptions(watch).map(([k]) => k));
  for (const k of Object.keys(byName)) {
    if (!positional.includes(k) && !optionNames.has(k)) throw new TwError('BAD_ARGUMENT', `watch '${watch.name}' has no argument or option '${k}'`);
  }
  const values: string[] = [];
  for (const k of positional) {
    const v = byName[k];
    if (v === undefined) break;
    values.push(String(v));
  }
  const options: Record<string, string | boolean> = { ...(o.options ?? {}) };
  for (const k of optionNames) {
    const v = byName[k];
    if (v !== undefined) options[k] = typeof v === 'boolean' ? v : String(v);
  }
  return parseWatchArgs(watch, values, options);
}

/**
 * Run one watch over a recording (`input`) or synthetic events (`events`) as `tw watch` does
 * offline, and return what it produced. A hook that throws rejects with the same error `tw watch`
 * reports (a WatchError naming the watch and the hook).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function runWatch<R = unknown>(watch: WatchDefinition<any, any, R>, o: RunWatchOptions): Promise<TestRunResult<R>> {
  if ((o.input === undefined) === (o.events === undefined)) throw new TwError('BAD_ARGUMENT', 'runWatch: give exactly one of input (a recording) and events (synthetic events)');
  const run = { watch, args: argsFor(watch, o), keepGoing: o.keepGoing ?? false };
  const metrics = new MemoryMetrics();
  const report =
    o.input !== undefined
      ? await replayFile(o.input, [run], { metrics })
      : runWatches(syntheticSource(o.events!, o.procs ?? [], o.realtime), [run], { mode: 'file', metrics });
  return { result: report.outcomes[0]?.result as R, alerts: report.alerts, stopped: report.stopped, events: report.stats.events, metrics, report };
}

export type { FieldValue };
