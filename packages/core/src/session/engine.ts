/**
 * The replay engine: per-CPU streams of a trace (one per CPU per buffer) merged by timestamp,
 * each record resolved to its event type by common_type, the process table kept current, and
 * every record handed to a visitor through one reusable EventView.
 */
import { DecodeError, TwError, isTwError } from '../errors.js';
import type { CpuStream } from '../decode/cpu-stream.js';
import type { SubBufferCursor } from '../decode/kbuffer.js';
import { Merger } from '../decode/merge.js';
import { jsonSafe, makeFieldJsonWriter, makeFieldReader, type FieldJsonWriter, type FieldReader, type FieldValue } from '../decode/read-field.js';
import type { EventFormat } from '../format/parse-format.js';
import type { FormatRegistry } from '../format/registry.js';
import type { EventRecord, TaskFacts, WatchEvent } from '../watch/define-watch.js';
import { ProcessTable } from './process-table.js';
import { syscallNamer, type SyscallNamer } from './syscalls.js';

const TWO32 = 4294967296;

/** Everything compiled once per event format. */
export interface EventType {
  readonly id: number;
  readonly format: EventFormat;
  readonly fullName: string;
  readonly readers: ReadonlyMap<string, FieldReader>;
  readonly ownReaders: readonly (readonly [string, FieldReader])[];
  readonly pidOffset: number;
  /** JSON text of the event's own fields: '{"a":1,"b":"x"}' */
  readonly fieldsJson: (dv: DataView, buf: Uint8Array, rec: number, len: number) => string;
  tracker: ((dv: DataView, buf: Uint8Array, rec: number, len: number, pid: number, ts: () => bigint) => void) | undefined;
  /** the lazily-decoding `fields` object, bound to the engine's view */
  accessor: Record<string, FieldValue> | undefined;
  /**
   * kept from visitors: the event only keeps the process table current (a live session's
   * lifecycle events that nothing asked for), see Engine.hide
   */
  hidden: boolean;
}

function compileType(format: EventFormat, le: boolean): EventType {
  const readers = new Map<string, FieldReader>();
  for (const f of format.fields) readers.set(f.name, makeFieldReader(f, le));
  const pidField = format.fields.find((f) => f.name === 'common_pid');
  const writers: Array<[string, FieldJsonWriter]> = format.ownFields.map((f) => [JSON.stringify(f.name), makeFieldJsonWriter(f, le)]);
  const fieldsJson = (dv: DataView, buf: Uint8Array, rec: number, len: number): string => {
    let s = '{';
    for (let i = 0; i < writers.length; i++) {
      const w = writers[i]!;
      s += (i === 0 ? '' : ',') + w[0] + ':' + w[1](dv, buf, rec, len);
    }
    return s + '}';
  };
  return {
    id: format.id,
    format,
    fullName: format.fullName,
    readers,
    ownReaders: format.ownFields.map((f) => [f.name, readers.get(f.name)!] as const),
    pidOffset: pidField ? pidField.offset : 4,
    fieldsJson,
    tracker: undefined,
    accessor: undefined,
    hidden: false,
  };
}

function unknownFormat(id: number): EventFormat {
  const common = [
    { type: 'unsigned short', name: 'common_type', offset: 0, size: 2, signed: false, kind: 'int', elementSize: 2, arrayLength: 0, common: true },
    { type: 'unsigned char', name: 'common_flags', offset: 2, size: 1, signed: false, kind: 'int', elementSize: 1, arrayLength: 0, common: true },
    { type: 'unsigned char', name: 'common_preempt_count', offset: 3, size: 1, signed: false, kind: 'int', elementSize: 1, arrayLength: 0, common: true },
    { type: 'int', name: 'common_pid', offset: 4, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: true },
  ] as const;
  return { system: 'unknown', name: `id_${id}`, fullName: `unknown:id_${id}`, id, fields: common, ownFields: [], printFmt: '', fixedSize: 8 };
}

/**
 * A source of per-CPU page streams and the metadata to decode them. The engine only consumes
 * one: a trace.dat file's is made by traceDatSource (session/offline), a live one by traceLive.
 */
export interface TraceSource {
  readonly littleEndian: boolean;
  readonly formats: FormatRegistry;
  readonly arch: string | undefined;
  readonly tsOffset: bigint;
  /**
   * ns to add to a timestamp (tsOffset included) to get wall-clock ns since the epoch, when the
   * trace gives a way to know it (see session/wall-clock.ts); undefined otherwise
   */
  readonly realtimeOffset?: bigint | undefined;
  readonly cmdlines: Map<number, string>;
  readonly tgids: Map<number, number>;
  /** pid → ppid/exe where the trace carries them */
  readonly tasks?: Map<number, TaskFacts>;
  streams(buffers?: readonly string[]): CpuStream[];
}

/** The reusable per-event view handed to visitors and watch handlers. */
export class EventView implements WatchEvent {
  c!: SubBufferCursor;
  t!: EventType;
  s!: CpuStream;

  constructor(private readonly engine: Engine) {}

  get ts(): bigint {
    const c = this.c;
    return ((BigInt(c.tsHi) << 32n) | BigInt(c.tsLo)) + this.engine.tsOffset;
  }
  get cpu(): number {
    return this.s.cpu;
  }
  get buffer(): string {
    return this.s.buffer;
  }
  get pid(): number {
    const c = this.c;
    return c.dv.getInt32(c.recOffset + this.t.pidOffset, c.littleEndian);
  }
  get comm(): string {
    return this.engine.procs.comm(this.pid);
  }
  get event(): string {
    return this.t.fullName;
  }
  get id(): number {
    return this.t.id;
  }
  get fields(): Readonly<Record<string, FieldValue>> {
    const t = this.t;
    if (t.accessor) return t.accessor;
    const obj: Record<string, FieldValue> = {};
    for (const [name, rd] of t.ownReaders) {
      Object.defineProperty(obj, name, {
        enumerable: true,
        get: () => {
          const c = this.c;
          return rd(c.dv, c.buf, c.recOffset, c.recLength);
        },
      });
    }
    Object.freeze(obj);
    t.accessor = obj;
    return obj;
  }
  /** Read any field, common_* included; undefined when the event has no such field. */
  field(name: string): FieldValue | undefined {
    const rd = this.t.readers.get(name);
    if (!rd) return undefined;
    const c = this.c;
    return rd(c.dv, c.buf, c.recOffset, c.recLength);
  }
  /** ts as a decimal string without bigint when it fits in 53 bits */
  tsString(): string {
    const c = this.c;
    if (c.tsHi < 0x200000 && this.engine.tsOffset === 0n) return String(c.tsHi * TWO32 + c.tsLo);
    return this.ts.toString();
  }
  toJSON(): EventRecord {
    const fields: Record<string, unknown> = {};
    const c = this.c;
    for (const [name, rd] of this.t.ownReaders) fields[name] = jsonSafe(rd(c.dv, c.buf, c.recOffset, c.recLength));
    const rec: EventRecord = { ts: this.tsString(), cpu: this.cpu, pid: this.pid, comm: this.comm, event: this.event, fields };
    if (this.s.buffer !== '') rec.buffer = this.s.buffer;
    return rec;
  }
  /** The same record as toJSON(), as JSON text, built without intermediate objects. */
  toJSONLine(): string {
    const c = this.c;
    const t = this.t;
    const pid = this.pid;
    let s = '{"ts":"' + this.tsString() + '","cpu":' + this.s.cpu + ',"pid":' + pid + ',"comm":' + this.engine.commJson(pid) + ',"event":"' + t.fullName + '"';
    if (this.s.buffer !== '') s += ',"buffer":' + JSON.stringify(this.s.buffer);
    return s + ',"fields":' + t.fieldsJson(c.dv, c.buf, c.recOffset, c.recLength) + '}';
  }
}

export interface EngineStats {
  events: number;
  lost: number;
  lostUnknown: number;
  pages: number;
}

export class Engine {
  readonly procs = new ProcessTable();
  readonly syscallName: SyscallNamer;
  readonly tsOffset: bigint;
  readonly formats: FormatRegistry;
  readonly view: EventView;
  private readonly types: (EventType | undefined)[] = [];
  private readonly typeMap = new Map<number, EventType>();
  private readonly streams: CpuStream[];
  private readonly merger: Merger;
  private readonly commJsonCache = new Map<string, string>();
  events = 0;

  constructor(
    readonly source: TraceSource,
    opts: { buffers?: readonly string[] } = {},
  ) {
    this.formats = source.formats;
    this.tsOffset = source.tsOffset;
    this.syscallName = syscallNamer(source.arch);
    this.procs.seed(source.cmdlines, source.tgids);
    for (const [pid, t] of source.tasks ?? []) {
      this.procs.set(pid, { ppid: t.ppid, exe: t.exe, ...(t.uid !== undefined ? { uid: t.uid } : {}), ...(t.cmdline !== undefined ? { cmdline: t.cmdline } : {}) });
    }
    this.streams = source.streams(opts.buffers);
    this.merger = new Merger(this.streams);
    this.view = new EventView(this);
  }

  private addType(t: EventType): void {
    if (t.id < 65536) this.types[t.id] = t;
    this.typeMap.set(t.id, t);
    t.tracker = this.procs.trackerFor(t.format, (n) => t.readers.get(n));
  }

  /**
   * The compiled type for an event id. Types are compiled on first use: a trace.dat carries
   * thousands of formats, of which a recording uses a handful.
   */
  type(id: number): EventType {
    let t = this.types[id] ?? this.typeMap.get(id);
    if (!t) {
      const f = this.formats.get(id);
      const broken = this.formats.brokenError(id);
      if (broken) throw broken;
      if (f) {
        const ct = f.fields.find((x) => x.name === 'common_type');
        if (ct && (ct.offset !== 0 || ct.size !== 2)) {
          throw new TwError('FORMAT_PARSE', `event ${f.fullName}: common_type at offset ${ct.offset} size ${ct.size}; tw expects offset 0 size 2`);
        }
      }
      t = compileType(f ?? unknownFormat(id), this.source.littleEndian);
      this.addType(t);
    }
    return t;
  }

  commJson(pid: number): string {
    const comm = this.procs.comm(pid);
    let j = this.commJsonCache.get(comm);
    if (j === undefined) {
      j = JSON.stringify(comm);
      if (this.commJsonCache.size > 100_000) this.commJsonCache.clear();
      this.commJsonCache.set(comm, j);
    }
    return j;
  }

  get stats(): EngineStats {
    let lost = 0, lostUnknown = 0, pages = 0;
    for (const s of this.streams) {
      lost += s.lost;
      lostUnknown += s.lostUnknown;
      pages += s.pages;
    }
    return { events: this.events, lost, lostUnknown, pages };
  }

  /**
   * Keep an event from visitors: it still updates the process table (a live session enables
   * the process lifecycle events whatever the consumer asked for, and hides those it did not).
   * Only events with a process-table tracker can be hidden.
   */
  hide(id: number): void {
    const t = this.type(id);
    if (t.tracker === undefined) throw new TwError('BAD_ARGUMENT', `event ${t.fullName} does not update the process table: it cannot be hidden`);
    t.hidden = true;
  }

  /**
   * Hand every record, in timestamp order, to `visit` (the view is valid during the call).
   * Stops early when `visit` returns false.
   */
  run(visit: (e: EventView) => boolean | void): EngineStats {
    this.drain(visit);
    return this.stats;
  }

  /**
   * Live: the timestamp (ns, as unsigned 32-bit halves) of the earliest record the last drain()
   * held back at its limit, or undefined when none is waiting.
   */
  pendingTs(): { hi: number; lo: number } | undefined {
    const s = this.merger.pending();
    return s === undefined ? undefined : { hi: s.cursor.tsHi, lo: s.cursor.tsLo };
  }

  /** Live: let streams that were waiting for pages join the merge again. */
  refill(): void {
    this.merger.refill();
  }

  /**
   * Hand records to `visit` in timestamp order while they are earlier than the limit (a live
   * watermark, as unsigned 32-bit halves; default: no limit). Returns false if `visit` asked to
   * stop, true when no record before the limit is pending.
   */
  drain(visit: (e: EventView) => boolean | void, limitHi = Infinity, limitLo = 0): boolean {
    const merger = this.merger;
    const view = this.view;
    const types = this.types;
    const tsOf = () => view.ts;
    let s: CpuStream | undefined;
    try {
      for (s = merger.next(limitHi, limitLo); s !== undefined; s = merger.next(limitHi, limitLo)) {
        const c = s.cursor;
        if (c.recLength < 8) throw new DecodeError(s.cpu, c.recOffset, `record of ${c.recLength} bytes is too short for the common header`);
        const id = c.dv.getUint16(c.recOffset, c.littleEndian);
        const t = types[id] ?? this.type(id);
        view.c = c;
        view.t = t;
        view.s = s;
        const tr = t.tracker;
        if (tr !== undefined) {
          tr(c.dv, c.buf, c.recOffset, c.recLength, c.dv.getInt32(c.recOffset + t.pidOffset, c.littleEndian), tsOf);
          if (t.hidden) continue;
        }
        this.events++;
        if (visit(view) === false) return false;
      }
    } catch (e) {
      if (isTwError(e) && e.code === 'DECODE' && !(e instanceof DecodeError) && s) {
        throw new DecodeError(s.cpu, s.cursor.recOffset, `${view.t?.fullName ?? 'record'}: ${e.message}`, { cause: e });
      }
      throw e;
    }
    return true;
  }
}
