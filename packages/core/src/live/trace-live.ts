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

/** What tw needs of a ring-buffer reader (the relay-native addon or its JS fallback). */
export interface SubBufferReader {
  readonly backend: string;
  readonly fallbackReason: string | undefined;
  start(onData: (cpu: number, data: Uint8Array, release: () => void) => void, onError: (e: Error) => void): void;
  stop(): Promise<void>;
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
  reason: 'end' | 'stop' | 'duration' | 'signal';
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
const NO_RELEASE = (): void => undefined;

export async function traceLive<T>(opts: LiveOptions, makeConsumer: (engine: Engine, info: LiveInfo) => LiveConsumer<T>): Promise<LiveResult<T>> {
  const root = findTracefs();
  checkTracefsAccess(root);
  removeStaleInstances(root);
  const latencyMs = opts.latencyMs ?? 50;
  const clock = opts.clock ?? 'mono';
  const inst = Instance.create(root, { clock, ...(opts.bufferKb !== undefined ? { bufferKb: opts.bufferKb } : {}) });
  let reader: SubBufferReader | undefined;
  const streams: Array<{ pages: PushPages; stream: CpuStream }> = [];
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
    // Latency budget: the reader hands data over within half of it, the watermark waits the
    // whole of it (so a CPU's late sub-buffer is still merged in order), the pump runs often.
    const ringSubbufs = Math.max(1, Math.floor((Number(inst.read('buffer_size_kb').trim().split(/\s+/)[0]) * 1024) / subbufSize) || 1);
    reader = opts.reader({ instance: inst.dir, cpus, subbufSize, latencyMs: Math.max(1, Math.floor(latencyMs / 2)), ringSubbufs });
    const info: LiveInfo = {
      root, instance: inst, cpus, subbufSize, clock: inst.clocks().current, events,
      backend: reader.backend, fallbackReason: reader.fallbackReason, formats,
      headerPage: headerPageText, headerEvent: headerEventText,
    };

    const layout = { littleEndian: endianness() === 'LE', longSize, header: headerPage };
    for (const cpu of cpus) {
      const pages = new PushPages();
      streams.push({ pages, stream: new CpuStream(cpu, '', pages, layout) });
    }
    const byCpu = new Map(streams.map((s) => [s.stream.cpu, s.pages]));
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
    const consumer = makeConsumer(engine, info);
    consumer.start?.();
    await opts.onReady?.(info);

    // --- read, merge to a watermark, feed the consumer
    let readerError: Error | undefined;
    let maxHi = 0, maxLo = 0;
    let maxSeenAt = process.hrtime.bigint();
    reader.start(
      (cpu, data, release) => {
        opts.onSubBuffer?.(cpu, data);
        const q = byCpu.get(cpu);
        // Copy and give the reader its buffer back at once: tw holds sub-buffers until the
        // merge watermark passes them, and a reader waiting for its pool lets the kernel drop
        // events. The copies are bounded by rate x latency.
        if (q) q.push(data.slice(), NO_RELEASE);
        release();
      },
      (e) => {
        readerError ??= e;
      },
    );
    // Never trace ourselves (our reads would be traced, and feed back): every thread of this
    // process, the reader's threads included, goes into the instance's notrace pid list.
    inst.excludePids(ownThreads());
    inst.tracing(true);
    const t0 = process.hrtime.bigint();
    const delayNs = BigInt(Math.max(5, latencyMs)) * 1_000_000n;
    const monotonic = clock === 'mono' || clock === 'mono_raw';
    let lostFromStats = 0;
    const lostNow = () => Math.max(engine.stats.lost, lostFromStats);
    let keepGoing = true;
    const pump = (final: boolean): void => {
      engine.refill();
      let hi = Infinity, lo = 0;
      if (!final) {
        let wm: bigint;
        if (monotonic) {
          wm = process.hrtime.bigint() - delayNs;
        } else {
          // other ns clocks: extrapolate from the newest timestamp seen
          wm = ((BigInt(maxHi) << 32n) | BigInt(maxLo)) + (process.hrtime.bigint() - maxSeenAt) - delayNs;
        }
        if (wm < 0n) wm = 0n;
        hi = Number(wm / TWO32);
        lo = Number(wm % TWO32);
      }
      const more = engine.drain((e) => {
        const c = (e as EventView).c;
        if (c.tsHi > maxHi || (c.tsHi === maxHi && c.tsLo > maxLo)) {
          maxHi = c.tsHi;
          maxLo = c.tsLo;
          maxSeenAt = process.hrtime.bigint();
        }
        return consumer.visit(e);
      }, hi, lo);
      if (!more) keepGoing = false;
    };

    let reason = 'end' as LiveResult<T>['reason'];
    const tick = Math.max(2, Math.min(10, Math.floor(latencyMs / 5)));
    const statusEvery = opts.statusEveryMs ?? 1000;
    let lastStatus = 0;
    let lastEvents = 0;
    let lastPrune = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        try {
          if (readerError) throw new TwError('READER', `the ${reader!.backend} ring-buffer reader failed: ${readerError.message}`, { cause: readerError });
          pump(false);
          const elapsedMs = Number((process.hrtime.bigint() - t0) / 1_000_000n);
          if (elapsedMs - lastStatus >= statusEvery) {
            lostFromStats = inst.lostEvents(cpus);
            const events = engine.events;
            opts.onStatus?.({ elapsedMs, events, eventsPerSec: ((events - lastEvents) * 1000) / Math.max(1, elapsedMs - lastStatus), lost: lostNow() });
            lastStatus = elapsedMs;
            lastEvents = events;
          }
          if (elapsedMs - lastPrune > 5000) {
            const grace = BigInt(opts.graceSeconds ?? 60) * 1_000_000_000n;
            const now = (BigInt(maxHi) << 32n) | BigInt(maxLo);
            if (now > grace) engine.procs.prune(now - grace);
            lastPrune = elapsedMs;
          }
          if (!keepGoing) reason = 'stop';
          else if (opts.durationMs !== undefined && elapsedMs >= opts.durationMs) reason = 'duration';
          else if (opts.signal?.aborted) reason = 'signal';
          else return;
          clearInterval(timer);
          resolve();
        } catch (e) {
          clearInterval(timer);
          reject(e);
        }
      }, tick);
    });

    // --- stop: no new events, hand over what the kernel still holds, drain everything
    inst.tracing(false);
    await reader.stop();
    // after ctx.stop() the consumer wants nothing more
    if (reason !== 'stop') pump(true);
    lostFromStats = inst.lostEvents(cpus);
    const result = consumer.finish();
    return { result, info, stats: engine.stats, lost: lostNow(), reason };
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
