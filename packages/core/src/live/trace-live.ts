/**
 * Live tracing: a private tracefs instance with only the events asked for (and their kernel
 * filters), a ring-buffer reader per CPU handing whole sub-buffers over, the CPUs merged by
 * timestamp up to a watermark, and a consumer (watches, a dump, a recorder) fed in order.
 * The instance is removed on every exit path: normal end, ctx.stop(), duration, abort
 * (SIGINT/SIGTERM/SIGHUP through the signal), an exception anywhere.
 */
import { existsSync, readdirSync } from 'node:fs';
import { arch as osArch, endianness } from 'node:os';
import { TwError } from '../errors.js';
import { CpuStream } from '../decode/cpu-stream.js';
import { parseHeaderPage } from '../format/header-page.js';
import { parseEventFormat } from '../format/parse-format.js';
import { FormatRegistry } from '../format/registry.js';
import { Engine, type EngineStats, type EventView, type TraceSource } from '../session/engine.js';
import { seedFromProc } from '../session/proc-scan.js';
import { Instance, removeStaleInstances } from '../tracefs/instance.js';
import { checkTracefsAccess, findTracefs, readText } from '../tracefs/tracefs.js';
import { PushPages } from './push-pages.js';

/**
 * What tw needs of a ring-buffer reader (the relay-native addon or its JS fallback). onRound is
 * called after a CPU's reader round caught up with the kernel's writer, at least every
 * `latencyMs` (also when it read nothing): every event that CPU recorded before `drainedNs`
 * (CLOCK_MONOTONIC ns) has been given to onData by then.
 */
export interface SubBufferReader {
  readonly backend: string;
  readonly fallbackReason: string | undefined;
  start(
    onData: (cpu: number, data: Uint8Array, release: () => void) => void,
    onError: (e: Error) => void,
    onRound: (cpu: number, drainedNs: number) => void,
  ): void;
  stop(): Promise<void>;
  /** per-CPU counters of the reader, when it keeps them (relay-native's readers do) */
  stats?(): ReaderCpuStats[];
}

/** What a CPU's reader did: see @tw/relay-native's ReaderStats. */
export interface ReaderCpuStats {
  cpu: number;
  rounds: number;
  maxRound: number;
  poolWaits: number;
  poolWaitNs: number;
}

/**
 * A CPU that lost events, with what is needed to say why: the kernel's counts (overrun: the
 * ring was full and the oldest page was overwritten; dropped / commitOverrun: the kernel could
 * not store an event at all) next to the ring's size and the reader's own counters.
 */
export interface CpuLoss {
  cpu: number;
  lost: number;
  overrun: number;
  dropped: number;
  commitOverrun: number;
  /** sub-buffers in the CPU's kernel ring */
  ringSubbufs: number;
  /** undefined when the reader keeps no counters */
  reader: ReaderCpuStats | undefined;
}

/**
 * `ringSubbufs` is how many sub-buffers each CPU's kernel ring holds: a reader's pool should hold
 * at least that many, since tw keeps sub-buffers until the merge watermark has passed them.
 */
export type ReaderFactory = (o: { instance: string; cpus: readonly number[]; subbufSize: number; latencyMs: number; ringSubbufs: number }) => SubBufferReader;

export interface LiveInfo {
  root: string;
  instance: Instance;
  cpus: number[];
  subbufSize: number;
  clock: string;
  events: Array<{ system: string; name: string }>;
  backend: string;
  fallbackReason: string | undefined;
  formats: FormatRegistry;
  headerPage: string;
  headerEvent: string;
}

export interface LiveStatus {
  elapsedMs: number;
  events: number;
  eventsPerSec: number;
  lost: number;
}

export interface LiveOptions {
  /** event patterns: system:event, globs, "*" */
  events: readonly string[];
  /** kernel filters by event pattern ("system:event" → filter expression) */
  filters?: Record<string, string>;
  /** trace clock (default "mono", so the watermark can use the monotonic clock) */
  clock?: string;
  bufferKb?: number;
  /** how long an event may wait before reaching its consumer (default 50 ms) */
  latencyMs?: number;
  durationMs?: number;
  reader: ReaderFactory;
  /** aborting ends the trace gracefully (the consumer still finishes) */
  signal?: AbortSignal;
  onStatus?: (s: LiveStatus) => void;
  statusEveryMs?: number;
  /** every sub-buffer as it arrives (for recording), before decoding */
  onSubBuffer?: (cpu: number, data: Uint8Array) => void;
  /** after the instance is set up and before tracing starts */
  onReady?: (info: LiveInfo) => void | Promise<void>;
  /** seconds an exited process stays resolvable (default 60) */
  graceSeconds?: number;
  /**
   * false (a recorder): records are not merged across CPUs, decoded or handed to the consumer;
   * each sub-buffer goes to onSubBuffer and its records are only counted per event id
   * (LiveResult.counts), which costs a fraction of decoding. Ignored when a traced event keeps
   * the process table current (sched_switch, sched_process_fork/exec, task_newtask/rename …):
   * those are decoded in order as usual. Default true.
   */
  decode?: boolean;
}

export interface LiveConsumer<T> {
  start?(): void;
  /** false ends the trace (ctx.stop()) */
  visit(e: EventView): boolean;
  finish(): T;
  /** is the consumer done without seeing more events (e.g. a watch called stop)? */
  readonly stopped?: boolean;
}

export interface LiveResult<T> {
  result: T;
  info: LiveInfo;
  stats: EngineStats;
  /** events lost: the larger of the sub-buffer flags' count and the kernel's per-CPU stats */
  lost: number;
  /** the CPUs on which the kernel counted lost events, and why (empty when none were) */
  losses: CpuLoss[];
  reason: 'end' | 'stop' | 'duration' | 'signal';
  /** whether records were decoded and given to the consumer (see LiveOptions.decode) */
  decoded: boolean;
  /** records per event id when they were not decoded (empty when they were: the consumer saw each) */
  counts: Map<number, number>;
}

const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

function ownThreads(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number).filter((n) => Number.isInteger(n));
  } catch {
    return [process.pid];
  }
}
const TWO32 = 4294967296n;

/**
 * Sub-buffer-sized pages cut from 1 MiB-ish ArrayBuffers and handed out again when given back:
 * the live copies cost no allocation once the slab has grown to rate x latency.
 */
class PageSlab {
  private readonly free: Uint8Array[] = [];
  private readonly perChunk: number;

  constructor(private readonly size: number) {
    this.perChunk = Math.max(1, Math.floor((1 << 20) / size));
  }

  take(): Uint8Array {
    let page = this.free.pop();
    if (page === undefined) {
      const chunk = new ArrayBuffer(this.size * this.perChunk);
      for (let i = 1; i < this.perChunk; i++) this.free.push(new Uint8Array(chunk, i * this.size, this.size));
      page = new Uint8Array(chunk, 0, this.size);
    }
    return page;
  }

  give(page: Uint8Array): void {
    this.free.push(page);
  }
}

/** The kernel's saved cmdlines (pid → comm), from the top-level buffer's file (read only). */
function savedCmdlines(root: string): Map<number, string> {
  const out = new Map<number, string>();
  let text = '';
  try {
    text = readText(`${root}/saved_cmdlines`);
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^(\d+) (.*)$/.exec(line);
    if (m && m[2] !== '<...>') out.set(Number(m[1]), m[2]!);
  }
  return out;
}
const NO_RELEASE = (): void => undefined;

/** A sub-buffer's own timestamp (its first 8 bytes, a u64 in the host's order), as a double. */
function subbufTs(d: Uint8Array, littleEndian: boolean): number {
  // the 32-bit word at byte `at` (no DataView: the bytes come from many ArrayBuffers)
  const word = (at: number): number =>
    littleEndian
      ? d[at]! + d[at + 1]! * 0x100 + d[at + 2]! * 0x10000 + d[at + 3]! * 0x1000000
      : d[at + 3]! + d[at + 2]! * 0x100 + d[at + 1]! * 0x10000 + d[at]! * 0x1000000;
  return littleEndian ? word(4) * 4294967296 + word(0) : word(0) * 4294967296 + word(4);
}

export async function traceLive<T>(opts: LiveOptions, makeConsumer: (engine: Engine, info: LiveInfo) => LiveConsumer<T>): Promise<LiveResult<T>> {
  const root = findTracefs();
  checkTracefsAccess(root);
  removeStaleInstances(root);
  const latencyMs = opts.latencyMs ?? 50;
  const clock = opts.clock ?? 'mono';
  const inst = Instance.create(root, { clock, ...(opts.bufferKb !== undefined ? { bufferKb: opts.bufferKb } : {}) });
  let reader: SubBufferReader | undefined;
  // index: the CPU's place in `cpus` (and in readTo below)
  const streams: Array<{ pages: PushPages; stream: CpuStream; index: number }> = [];
  try {
    const events = inst.expandEvents(opts.events);
    // the instance's own header_page: its sub-buffer size may differ from the top level's
    const hpPath = existsSync(inst.path('events/header_page')) ? inst.path('events/header_page') : `${root}/events/header_page`;
    const headerPageText = readText(hpPath);
    const headerEventText = readText(`${root}/events/header_event`);
    const headerPage = parseHeaderPage(headerPageText, hpPath);
    const formats = new FormatRegistry();
    const longSize = headerPage.commitSize as 4 | 8;
    for (const ev of events) {
      const path = inst.path(`events/${ev.system}/${ev.name}/format`);
      formats.add(parseEventFormat(readText(path), path, ev.system, longSize));
    }
    for (const [pattern, expr] of Object.entries(opts.filters ?? {})) {
      const targets = events.filter((e) => formats.match(pattern).some((f) => f.system === e.system && f.name === e.name));
      if (targets.length === 0) {
        // a filter for an alternative the kernel did not have (a|b resolved to b) has nothing to do
        const alternative = opts.events.some((p) => p.includes('|') && p.split('|').includes(pattern));
        if (alternative) continue;
        throw new TwError('UNKNOWN_EVENT', `a filter names '${pattern}', which is not among the traced events`);
      }
      for (const t of targets) inst.setFilter(t.system, t.name, expr);
    }
    inst.enableEvents(events);

    const cpus = inst.cpus();
    const subbufSize = inst.subbufSize(headerPage.dataOffset + headerPage.dataSize);
    // Latency budget. With the trace clock "mono" (CLOCK_MONOTONIC, the clock the readers report
    // their rounds in), CPUs are merged up to the point every CPU has been read to: a reader
    // round every `latency - margin` ms, so an event waits at most about the latency. With other
    // clocks the reader hands data over within half of it and the watermark waits the whole of
    // it (so a CPU's late sub-buffer is still merged in order).
    const byRounds = clock === 'mono';
    const marginMs = Math.max(1, Math.min(5, Math.floor(latencyMs / 10)));
    const readerLatencyMs = byRounds ? Math.max(1, latencyMs - marginMs) : Math.max(1, Math.floor(latencyMs / 2));
    const ringSubbufs = Math.max(1, Math.floor((Number(inst.read('buffer_size_kb').trim().split(/\s+/)[0]) * 1024) / subbufSize) || 1);
    reader = opts.reader({ instance: inst.dir, cpus, subbufSize, latencyMs: readerLatencyMs, ringSubbufs });
    const info: LiveInfo = {
      root, instance: inst, cpus, subbufSize, clock: inst.clocks().current, events,
      backend: reader.backend, fallbackReason: reader.fallbackReason, formats,
      headerPage: headerPageText, headerEvent: headerEventText,
    };

    const layout = { littleEndian: endianness() === 'LE', longSize, header: headerPage };
    for (const cpu of cpus) {
      const pages = new PushPages();
      streams.push({ pages, stream: new CpuStream(cpu, '', pages, layout), index: streams.length });
    }
    const streamOf = new Map(streams.map((s) => [s.stream.cpu, s]));
    const slab = new PageSlab(subbufSize);
    const source: TraceSource = {
      littleEndian: layout.littleEndian,
      formats,
      arch: ARCH[osArch()] ?? osArch(),
      tsOffset: 0n,
      cmdlines: new Map(),
      tgids: new Map(),
      streams: () => streams.map((s) => s.stream),
    };
    const engine = new Engine(source);
    seedFromProc(engine.procs);
    // records are only counted when nothing needs them decoded in order (see LiveOptions.decode)
    const light = opts.decode === false && formats.all().every((f) => engine.type(f.id).tracker === undefined);
    const idCounts = new Float64Array(65536); // by event id (a u16)
    const consumer = makeConsumer(engine, info);
    consumer.start?.();
    await opts.onReady?.(info);

    // --- read, merge to a watermark, feed the consumer
    //
    // Nothing polls. With the clock "mono", each CPU is known to be read up to a point: the start
    // of the last reader round that caught up with the kernel's writer (less a margin for an event
    // being written while the round read), or the timestamp of the newest sub-buffer it delivered
    // (a CPU's events are in time order). Every delivery schedules one pump, which merges all CPUs
    // up to the smallest of those points: the watermark. Readers report a round at least every
    // `latency - margin` ms, with or without events, so nothing waits longer than the latency and
    // an idle CPU holds nobody back for longer than that.
    //
    // Other clocks (the readers' rounds are in CLOCK_MONOTONIC, not comparable): a sub-buffer
    // arriving arms a timer, the timer drains every CPU up to the newest timestamp seen,
    // extrapolated by elapsed time, minus the latency (a CPU's sub-buffer may reach us up to the
    // reader's latency late, so an earlier event may still be on its way), and re-arms itself
    // (a tick) while events are held back.
    const delayNs = BigInt(Math.max(5, latencyMs)) * 1_000_000n;
    const marginNs = marginMs * 1e6;
    // the shortest re-arm: events arriving continuously are delivered in batches this often
    const tick = Math.max(2, Math.min(10, Math.floor(latencyMs / 5)));
    let lostFromStats = 0;
    const lostNow = () => Math.max(engine.stats.lost, lostFromStats);
    let maxHi = 0, maxLo = 0;
    let maxSeenAt = process.hrtime.bigint();
    let keepGoing = consumer.stopped !== true;
    // by rounds: how far each CPU (by its index in `cpus`) is known to be read, in ns
    const readTo = new Float64Array(cpus.length);
    const le = layout.littleEndian;
    // other clocks: the watermark extrapolates from the newest timestamp delivered ("mono_raw"
    // too: it is not CLOCK_MONOTONIC, which is slewed)
    const visit = byRounds
      ? consumer.visit.bind(consumer)
      : (e: EventView) => {
        const c = e.c;
        maxHi = c.tsHi;
        maxLo = c.tsLo;
        return consumer.visit(e);
      };
    const pump = (final: boolean): void => {
      engine.refill();
      let hi = Infinity, lo = 0;
      if (!final) {
        if (byRounds) {
          let wm = Infinity;
          for (let i = 0; i < readTo.length; i++) if (readTo[i]! < wm) wm = readTo[i]!;
          wm = Math.floor(wm);
          hi = Math.floor(wm / 4294967296);
          lo = wm - hi * 4294967296;
        } else {
          let wm = ((BigInt(maxHi) << 32n) | BigInt(maxLo)) + (process.hrtime.bigint() - maxSeenAt) - delayNs;
          if (wm < 0n) wm = 0n;
          hi = Number(wm / TWO32);
          lo = Number(wm % TWO32);
        }
      }
      const beforeHi = maxHi, beforeLo = maxLo;
      if (!engine.drain(visit, hi, lo)) keepGoing = false;
      if (maxHi !== beforeHi || maxLo !== beforeLo) maxSeenAt = process.hrtime.bigint();
    };

    let reason = 'end' as LiveResult<T>['reason'];
    let timer: ReturnType<typeof setTimeout> | undefined;
    let lastPrune = 0;
    let t0 = 0n;
    let finish: (why: LiveResult<T>['reason'] | Error) => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
      let settled = false;
      finish = (why) => {
        if (settled) return;
        settled = true;
        if (why instanceof Error) reject(why);
        else {
          reason = why;
          resolve();
        }
      };
    });
    /** pump, then: a stopped consumer ends the trace; exited processes older than the grace go */
    const pumpAndTend = (): boolean => {
      pump(false);
      if (!keepGoing || consumer.stopped === true) {
        finish('stop');
        return false;
      }
      const elapsedMs = Number((process.hrtime.bigint() - t0) / 1_000_000n);
      if (elapsedMs - lastPrune > 5000) {
        const grace = BigInt(opts.graceSeconds ?? 60) * 1_000_000_000n;
        const now = byRounds ? process.hrtime.bigint() : (BigInt(maxHi) << 32n) | BigInt(maxLo);
        if (now > grace) engine.procs.prune(now - grace);
        lastPrune = elapsedMs;
      }
      return true;
    };
    const onTimer = (): void => {
      timer = undefined;
      try {
        if (!pumpAndTend()) return;
        // held-back events: come back in a tick (the watermark moves with time)
        if (engine.pendingTs() !== undefined) arm(tick);
      } catch (e) {
        finish(e as Error);
      }
    };
    let pumpQueued = false;
    let ended = false;
    const onImmediate = (): void => {
      pumpQueued = false;
      if (ended) return;
      try {
        pumpAndTend();
      } catch (e) {
        finish(e as Error);
      }
    };
    // by rounds: one pump after whatever the readers delivered in this turn of the event loop;
    // otherwise: a timer
    let arm = byRounds
      ? (): void => {
        if (!pumpQueued) {
          pumpQueued = true;
          setImmediate(onImmediate);
        }
      }
      : (ms: number): void => {
        if (timer === undefined) timer = setTimeout(onTimer, ms);
      };
    reader.start(
      (cpu, data, release) => {
        opts.onSubBuffer?.(cpu, data);
        const st = streamOf.get(cpu);
        if (light) {
          // count the records now, in place; the reader gets its buffer back at once
          if (st) {
            st.pages.push(data, NO_RELEASE);
            const stream = st.stream;
            const c = stream.cursor;
            let n = 0;
            while (stream.advance()) {
              const id = c.dv.getUint16(c.recOffset, c.littleEndian);
              idCounts[id]!++;
              n++;
            }
            engine.events += n;
          }
          release();
          return;
        }
        // Copy and give the reader its buffer back at once: tw holds sub-buffers until the
        // merge watermark passes them, and a reader waiting for its pool lets the kernel drop
        // events. The copies (bounded by rate x latency) come from a slab that is reused, not
        // from a new ArrayBuffer each (hundreds of MB/s of garbage at high rates).
        if (st) {
          const copy = slab.take();
          copy.set(data);
          st.pages.push(copy, () => slab.give(copy));
          if (byRounds) {
            // every event of this CPU before the sub-buffer's own timestamp is here now
            const ts = subbufTs(data, le);
            if (ts > readTo[st.index]!) readTo[st.index] = ts;
          }
        }
        release();
        arm(tick);
      },
      (e) => {
        finish(new TwError('READER', `the ${reader!.backend} ring-buffer reader failed: ${e.message}`, { cause: e }));
      },
      (cpu, drainedNs) => {
        const st = streamOf.get(cpu);
        if (!byRounds || light || st === undefined) return;
        const to = drainedNs - marginNs;
        if (to > readTo[st.index]!) readTo[st.index] = to;
        arm(tick);
      },
    );
    // Never trace ourselves (our reads would be traced, and feed back): every thread of this
    // process, the reader's threads included, goes into the instance's notrace pid list.
    inst.excludePids(ownThreads());
    inst.tracing(true);
    t0 = process.hrtime.bigint();

    const timers: Array<ReturnType<typeof setTimeout>> = [];
    const onAbort = () => finish('signal');
    if (!keepGoing) finish('stop');
    if (opts.durationMs !== undefined) timers.push(setTimeout(() => finish('duration'), opts.durationMs));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) finish('signal');
    if (opts.onStatus) {
      const statusEvery = opts.statusEveryMs ?? 1000;
      let lastStatus = 0;
      let lastEvents = 0;
      timers.push(setInterval(() => {
        try {
          const elapsedMs = Number((process.hrtime.bigint() - t0) / 1_000_000n);
          lostFromStats = inst.lostEvents(cpus);
          const events = engine.events;
          opts.onStatus?.({ elapsedMs, events, eventsPerSec: ((events - lastEvents) * 1000) / Math.max(1, elapsedMs - lastStatus), lost: lostNow() });
          lastStatus = elapsedMs;
          lastEvents = events;
        } catch (e) {
          finish(e as Error);
        }
      }, statusEvery));
    }
    try {
      await done;
    } finally {
      for (const t of timers) clearTimeout(t);
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      opts.signal?.removeEventListener('abort', onAbort);
      // no more pumps from the reader's late sub-buffers
      ended = true;
      arm = () => undefined;
    }

    // --- stop: no new events, hand over what the kernel still holds, drain everything
    inst.tracing(false);
    await reader.stop();
    // after ctx.stop() the consumer wants nothing more
    if (reason !== 'stop' && !light) pump(true);
    if (light) {
      // no event told us the names of processes that started meanwhile: the kernel's saved
      // cmdlines have them (as trace-cmd record takes them)
      for (const [pid, comm] of savedCmdlines(root)) if (engine.procs.comm(pid) === '<...>') engine.procs.set(pid, { comm });
    }
    // per CPU: the kernel's counts next to the reader's, so the CLI can say why
    const readerStats = reader.stats?.() ?? [];
    const losses: CpuLoss[] = [];
    lostFromStats = 0;
    for (const cpu of cpus) {
      const s = inst.stats(cpu);
      const lost = s.overrun + s.dropped + s.commitOverrun;
      lostFromStats += lost;
      if (lost > 0) losses.push({ cpu, lost, overrun: s.overrun, dropped: s.dropped, commitOverrun: s.commitOverrun, ringSubbufs, reader: readerStats.find((r) => r.cpu === cpu) });
    }
    const result = consumer.finish();
    const counts = new Map<number, number>();
    if (light) idCounts.forEach((n, id) => n > 0 && counts.set(id, n));
    return { result, info, stats: engine.stats, lost: lostNow(), losses, reason, decoded: !light, counts };
  } finally {
    try {
      await reader?.stop();
    } catch {
      // already reported, or already stopped
    }
    for (const s of streams) s.pages.close();
    await inst.remove();
  }
}
