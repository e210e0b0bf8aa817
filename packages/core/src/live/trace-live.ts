/**
 * Live tracing: a private tracefs instance with only the events asked for (and their kernel
 * filters), a ring-buffer reader per CPU handing whole sub-buffers over, the CPUs merged by
 * timestamp up to a watermark, and a consumer (watches, a dump, a recorder) fed in order.
 * The instance is removed on every exit path: normal end, ctx.stop(), duration, abort
 * (SIGINT/SIGTERM/SIGHUP through the signal), an exception anywhere.
 *
 * The steps: setup.ts (instance, events, filters), watermark.ts (how far to merge), pump.ts
 * (the merge loop), status-timer.ts, losses.ts (why events were lost); teardown is below.
 * Record sources (BPF probes: LiveOptions.sources) join as one extra buffer each: their
 * records become sub-buffers (bpf-pages.ts), one stream per CPU, merged with the kernel's.
 */
import { readdirSync } from 'node:fs';
import { arch as osArch, endianness } from 'node:os';
import { DecodeError, TwError } from '../errors.js';
import { CpuStream } from '../decode/cpu-stream.js';
import { Engine, type TraceSource } from '../session/engine.js';
import { liveExecFacts, seedFromProc } from '../session/proc-scan.js';
import { isMonotonicClock, measureRealtimeOffset } from '../session/wall-clock.js';
import { Instance, removeStaleInstances } from '../tracefs/instance.js';
import { checkTracefsAccess, findTracefs } from '../tracefs/tracefs.js';
import { collectLosses } from './losses.js';
import { BpfPages } from './bpf-pages.js';
import { LivePump, type CpuQueue } from './pump.js';
import { PushPages } from './push-pages.js';
import { setUpInstance, type InstanceSetup } from './setup.js';
import { startStatusTimer } from './status-timer.js';
import type { BoundSource } from './sources.js';
import type { CpuLoss, LiveConsumer, LiveEndReason, LiveInfo, LiveOptions, LiveResult, RecordSource, SubBufferReader } from './types.js';
import { DelayWatermark, RoundsWatermark, type Watermark } from './watermark.js';

export type * from './types.js';

const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

function ownThreads(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number).filter((n) => Number.isInteger(n));
  } catch {
    return [process.pid];
  }
}

/**
 * The latency budget. With the trace clock "mono", CPUs are merged up to the point every CPU
 * has been read to, with a reader round every `latency - margin` ms, so an event waits at most
 * about the latency. With other clocks the reader hands data over within half of it and the
 * watermark waits the whole of it (so a CPU's late sub-buffer is still merged in order).
 */
function latencyPlan(clock: string, latencyMs: number): { byRounds: boolean; marginMs: number; readerLatencyMs: number; tickMs: number } {
  const byRounds = clock === 'mono';
  const marginMs = Math.max(1, Math.min(5, Math.floor(latencyMs / 10)));
  const readerLatencyMs = byRounds ? Math.max(1, latencyMs - marginMs) : Math.max(1, Math.floor(latencyMs / 2));
  // the shortest re-arm: events arriving continuously are delivered in batches this often
  const tickMs = Math.max(2, Math.min(10, Math.floor(latencyMs / 5)));
  return { byRounds, marginMs, readerLatencyMs, tickMs };
}

/**
 * A CPU stream per CPU, fed by pushed pages, and the engine that merges them; then, per record
 * source, a stream per CPU in a buffer named after the source (its place in the watermark is
 * one, after the CPUs': see LivePump.onSourceRound). Kernel streams come first: on equal
 * timestamps their events go first.
 */
function makeEngine(setup: InstanceSetup, realtimeOffset: bigint | undefined): { engine: Engine; queues: CpuQueue[]; sourceQueues: Array<Map<number, CpuQueue>>; littleEndian: boolean } {
  const layout = { littleEndian: endianness() === 'LE', longSize: setup.headerPage.commitSize as 4 | 8, header: setup.headerPage };
  const queues: CpuQueue[] = setup.cpus.map((cpu, index) => {
    const pages = new PushPages();
    return { pages, stream: new CpuStream(cpu, '', pages, layout), index };
  });
  const sourceQueues = setup.sources.map((b, i) => {
    const byCpu = new Map<number, CpuQueue>();
    for (const cpu of setup.cpus) {
      const pages = new PushPages();
      byCpu.set(cpu, { pages, stream: new CpuStream(cpu, b.source.name, pages, layout), index: setup.cpus.length + i });
    }
    return byCpu;
  });
  const allStreams = [...queues, ...sourceQueues.flatMap((m) => [...m.values()])].map((q) => q.stream);
  const source: TraceSource = {
    littleEndian: layout.littleEndian,
    formats: setup.formats,
    arch: ARCH[osArch()] ?? osArch(),
    tsOffset: 0n,
    realtimeOffset,
    cmdlines: new Map(),
    tgids: new Map(),
    streams: () => allStreams,
  };
  const engine = new Engine(source);
  seedFromProc(engine.procs);
  engine.procs.onExec = (pid, exe) => liveExecFacts(pid, exe);
  // lifecycle events nobody asked for keep the process table current, unseen
  for (const ev of setup.lifecycle) {
    const f = setup.formats.all().find((x) => x.system === ev.system && x.name === ev.name);
    if (f && engine.type(f.id).tracker !== undefined) engine.hide(f.id);
  }
  return { engine, queues, sourceQueues, littleEndian: layout.littleEndian };
}

/**
 * The error an aborted session fails with: an Error given to abort(). Any other reason (a
 * signal's name, or none: abort() alone gives the standard AbortError) ends it gracefully.
 */
export function abortFailure(signal: AbortSignal | undefined): Error | undefined {
  if (signal?.aborted !== true) return undefined;
  const r: unknown = signal.reason;
  return r instanceof Error && r.name !== 'AbortError' ? r : undefined;
}

/** Why an aborted session ends (see abortFailure). */
function abortReason(signal: AbortSignal | undefined): LiveEndReason | Error {
  return abortFailure(signal) ?? 'signal';
}

/** The end of a session: settled once, by the first of stop, duration, signal or an error. */
function endSignal(): { done: Promise<LiveEndReason>; finish: (why: LiveEndReason | Error) => void } {
  let finish: (why: LiveEndReason | Error) => void = () => undefined;
  const done = new Promise<LiveEndReason>((resolve, reject) => {
    let settled = false;
    finish = (why) => {
      if (settled) return;
      settled = true;
      if (why instanceof Error) reject(why);
      else resolve(why);
    };
  });
  return { done, finish };
}

export async function traceLive<T>(opts: LiveOptions, makeConsumer: (engine: Engine, info: LiveInfo) => LiveConsumer<T>): Promise<LiveResult<T>> {
  const latencyMs = opts.latencyMs ?? 50;
  const clock = opts.clock ?? 'mono';
  const sources = opts.sources ?? [];
  if (sources.length > 0 && clock !== 'mono') {
    // bpf_ktime_get_ns() is CLOCK_MONOTONIC: only the "mono" trace clock orders them with the
    // kernel's events (converting would need the other clock's offset to CLOCK_MONOTONIC,
    // which for local/global/x86-tsc drifts and for boot jumps at each suspend)
    throw new TwError('BAD_ARGUMENT', `BPF probes (${sources.map((x) => x.name).join(', ')}) stamp their events with CLOCK_MONOTONIC, so they need the trace clock 'mono', not '${clock}'`);
  }
  // aborted with an error before it began (a watch failed while its probes came up): nothing to start
  const failedEarly = abortFailure(opts.signal);
  if (failedEarly !== undefined) throw failedEarly;
  const root = findTracefs();
  checkTracefsAccess(root);
  removeStaleInstances(root);
  const inst = Instance.create(root, { clock, ...(opts.bufferKb !== undefined ? { bufferKb: opts.bufferKb } : {}) });
  let reader: SubBufferReader | undefined;
  let queues: CpuQueue[] = [];
  let sourceQueues: Array<Map<number, CpuQueue>> = [];
  try {
    const setup = setUpInstance(inst, { events: opts.events, filters: opts.filters, lifecycle: opts.lifecycle ?? opts.decode !== false, sources });
    const plan = latencyPlan(clock, latencyMs);
    reader = opts.reader({ instance: inst.dir, cpus: setup.cpus, subbufSize: setup.subbufSize, latencyMs: plan.readerLatencyMs, ringSubbufs: setup.ringSubbufs });
    const current = inst.clocks().current;
    const info: LiveInfo = {
      root, instance: inst, cpus: setup.cpus, subbufSize: setup.subbufSize, clock: current,
      events: setup.events, lifecycle: setup.lifecycle, sources: setup.sources.map((b) => b.info), backend: reader.backend, fallbackReason: reader.fallbackReason,
      formats: setup.formats, headerPage: setup.headerPageText, headerEvent: setup.headerEventText,
      realtimeOffset: isMonotonicClock(current) ? measureRealtimeOffset() : undefined,
    };
    const built = makeEngine(setup, info.realtimeOffset);
    const { engine } = built;
    queues = built.queues;
    sourceQueues = built.sourceQueues;
    // records are only counted when nothing needs them decoded in order (see LiveOptions.decode)
    const light = opts.decode === false && setup.formats.all().every((f) => engine.type(f.id).tracker === undefined);
    const consumer = makeConsumer(engine, info);
    consumer.start?.();
    await opts.onReady?.(info);
    return await runSession(opts, { inst, info, setup, engine, queues, sourceQueues, reader, consumer, light, plan, littleEndian: built.littleEndian });
  } finally {
    await teardown(inst, reader, sources, [...queues, ...sourceQueues.flatMap((m) => [...m.values()])]);
  }
}

interface Session<T> {
  inst: Instance;
  info: LiveInfo;
  setup: InstanceSetup;
  engine: Engine;
  queues: CpuQueue[];
  /** per record source (setup.sources order): its stream per CPU */
  sourceQueues: Array<Map<number, CpuQueue>>;
  reader: SubBufferReader;
  consumer: LiveConsumer<T>;
  light: boolean;
  plan: ReturnType<typeof latencyPlan>;
  littleEndian: boolean;
}

/** Start the readers and tracing, wait for the end, then stop, drain and account. */
async function runSession<T>(opts: LiveOptions, s: Session<T>): Promise<LiveResult<T>> {
  const { inst, engine, reader, consumer, light, setup } = s;
  // with record sources (clock "mono" only): one more place per source, after the CPUs
  const watermark: Watermark = s.plan.byRounds ? new RoundsWatermark(setup.cpus.length + setup.sources.length, s.plan.marginMs, s.littleEndian) : new DelayWatermark(opts.latencyMs ?? 50);
  const { done, finish } = endSignal();
  const pump = new LivePump({
    engine, queues: s.queues, watermark, subbufSize: setup.subbufSize, light, tickMs: s.plan.tickMs,
    graceSeconds: opts.graceSeconds ?? 60,
    visit: consumer.visit.bind(consumer),
    stopped: () => consumer.stopped === true,
    onEnd: finish,
  });
  const onSubBuffer = opts.onSubBuffer;
  reader.start(
    onSubBuffer ? (cpu, data, release) => (onSubBuffer(cpu, data), pump.onSubBuffer(cpu, data, release)) : pump.onSubBuffer,
    (e) => finish(new TwError('READER', `the ${reader.backend} ring-buffer reader failed: ${e.message}`, { cause: e })),
    pump.onRound,
  );
  const builders = setup.sources.map((b, i) => startSource(b, s.sourceQueues[i]!, { opts, setup, pump, finish }));
  // Never trace ourselves (our reads would be traced, and feed back): every thread of this
  // process, the reader's threads included, goes into the instance's notrace pid list.
  inst.excludePids(ownThreads());
  inst.tracing(true);
  opts.onTracing?.(s.info);

  let lostFromStats = 0;
  const sourceLost = (): number => setup.sources.reduce((n, b) => n + b.source.lost().reduce((a, x) => a + x, 0), 0);
  const lostNow = () => Math.max(engine.stats.lost, lostFromStats) + (setup.sources.length > 0 ? sourceLost() : 0);
  const stops: Array<() => void> = [];
  const onAbort = () => finish(abortReason(opts.signal));
  if (consumer.stopped === true) finish('stop');
  if (opts.durationMs !== undefined) {
    const t = setTimeout(() => finish('duration'), opts.durationMs);
    stops.push(() => clearTimeout(t));
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) finish(abortReason(opts.signal));
  if (opts.onStatus) {
    const source = { events: () => engine.events, lost: () => ((lostFromStats = inst.lostEvents(setup.cpus)), lostNow()) };
    stops.push(startStatusTimer(source, opts.onStatus, opts.statusEveryMs ?? 1000, finish));
  }
  let reason: LiveEndReason;
  try {
    reason = await done;
  } finally {
    for (const stop of stops) stop();
    opts.signal?.removeEventListener('abort', onAbort);
    // no more pumps from the reader's late sub-buffers
    pump.close();
  }

  // stop: no new events, hand over what the kernel still holds, drain everything
  inst.tracing(false);
  await reader.stop();
  // the sources hand over what they still hold (a BPF probe detaches first), then the rest of
  // their part-filled sub-buffers goes in
  await Promise.all(setup.sources.map((b) => b.source.stop()));
  for (const b of builders) b.flush();
  // after ctx.stop() the consumer wants nothing more
  if (reason !== 'stop' && !light) pump.pump(true);
  if (light) {
    // no event told us the names of processes that started meanwhile: the kernel's saved
    // cmdlines have them (as trace-cmd record takes them)
    for (const [pid, comm] of inst.top.savedCmdlines()) if (engine.procs.comm(pid) === '<...>') engine.procs.set(pid, { comm });
  }
  // per CPU: the kernel's counts next to the reader's, so the caller can say why
  const { total, losses } = collectLosses(inst, setup.cpus, reader.stats?.() ?? [], setup.ringSubbufs);
  lostFromStats = total;
  losses.push(...sourceLosses(setup.sources));
  const result = consumer.finish();
  const counts = new Map<number, number>();
  if (light) pump.idCounts.forEach((n, id) => n > 0 && counts.set(id, n));
  return { result, info: s.info, stats: engine.stats, lost: lostNow(), losses, reason, decoded: !light, counts };
}

/**
 * Start a record source: its batches become sub-buffers (BpfPages) of its per-CPU streams, its
 * rounds hand over the part-filled ones and then move the watermark. Returns the builder (the
 * session flushes it after the source stopped).
 */
function startSource(
  b: BoundSource,
  byCpu: ReadonlyMap<number, CpuQueue>,
  o: { opts: LiveOptions; setup: InstanceSetup; pump: LivePump; finish: (why: Error) => void },
): BpfPages {
  const { opts, setup, pump, finish } = o;
  const name = b.source.name;
  const onSourcePage = opts.onSourcePage;
  const layout = { littleEndian: endianness() === 'LE', longSize: setup.headerPage.commitSize as 4 | 8, header: setup.headerPage, subbufSize: setup.subbufSize };
  const builder = new BpfPages(layout, (cpu, page) => {
    const q = byCpu.get(cpu);
    if (q === undefined) throw new DecodeError(cpu, 0, `record source '${name}' delivered a record of CPU ${cpu}, which the session does not trace (CPUs ${setup.cpus.join(',')})`);
    onSourcePage?.(name, cpu, page);
    pump.onSourcePage(q, page);
  });
  const index = setup.cpus.length + setup.sources.indexOf(b);
  b.source.start(
    (records, release) => {
      try {
        builder.addBatch(records, b.ids);
      } catch (e) {
        finish(e as Error);
      } finally {
        release();
      }
    },
    (e) => finish(new TwError('READER', `record source '${name}' failed: ${e.message}`, { cause: e })),
    (drainedNs) => {
      try {
        // every record before drainedNs is in a page now: hand the part-filled ones over first
        builder.flush();
        pump.onSourceRound(index, drainedNs);
      } catch (e) {
        finish(e as Error);
      }
    },
  );
  return builder;
}

/** The CPUs on which a record source lost records: its ring buffer was full. */
function sourceLosses(sources: readonly BoundSource[]): CpuLoss[] {
  const out: CpuLoss[] = [];
  for (const b of sources) {
    b.source.lost().forEach((lost, cpu) => {
      if (lost > 0) {
        out.push({
          cpu, lost, overrun: 0, dropped: lost, commitOverrun: 0, ringSubbufs: 0, reader: undefined, source: b.source.name,
          cause: 'the BPF ring buffer was full (bpf_ringbuf_reserve failed): tw fell behind reading it, or events came faster than it holds',
        });
      }
    });
  }
  return out;
}

/** Stop the reader and the record sources (if started), release the page queues, remove the instance. */
async function teardown(inst: Instance, reader: SubBufferReader | undefined, sources: readonly RecordSource[], queues: readonly CpuQueue[]): Promise<void> {
  try {
    await reader?.stop();
  } catch {
    // already reported, or already stopped
  }
  for (const src of sources) {
    try {
      await src.stop();
    } catch {
      // already reported, or already stopped
    }
  }
  for (const q of queues) q.pages.close();
  await inst.remove();
}
