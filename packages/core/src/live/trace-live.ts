/**
 * Live tracing: a private tracefs instance with only the events asked for (and their kernel
 * filters), a ring-buffer reader per CPU handing whole sub-buffers over, the CPUs merged by
 * timestamp up to a watermark, and a consumer (watches, a dump, a recorder) fed in order.
 * The instance is removed on every exit path: normal end, ctx.stop(), duration, abort
 * (SIGINT/SIGTERM/SIGHUP through the signal), an exception anywhere.
 *
 * The steps: setup.ts (instance, events, filters), watermark.ts (how far to merge), pump.ts
 * (the merge loop), status-timer.ts, losses.ts (why events were lost); teardown is below.
 */
import { readdirSync } from 'node:fs';
import { arch as osArch, endianness } from 'node:os';
import { TwError } from '../errors.js';
import { CpuStream } from '../decode/cpu-stream.js';
import { Engine, type TraceSource } from '../session/engine.js';
import { seedFromProc } from '../session/proc-scan.js';
import { Instance, removeStaleInstances } from '../tracefs/instance.js';
import { checkTracefsAccess, findTracefs } from '../tracefs/tracefs.js';
import { collectLosses } from './losses.js';
import { LivePump, type CpuQueue } from './pump.js';
import { PushPages } from './push-pages.js';
import { setUpInstance, type InstanceSetup } from './setup.js';
import { startStatusTimer } from './status-timer.js';
import type { LiveConsumer, LiveEndReason, LiveInfo, LiveOptions, LiveResult, SubBufferReader } from './types.js';
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

/** A CPU stream per CPU, fed by pushed pages, and the engine that merges them. */
function makeEngine(setup: InstanceSetup): { engine: Engine; queues: CpuQueue[]; littleEndian: boolean } {
  const layout = { littleEndian: endianness() === 'LE', longSize: setup.headerPage.commitSize as 4 | 8, header: setup.headerPage };
  const queues: CpuQueue[] = setup.cpus.map((cpu, index) => {
    const pages = new PushPages();
    return { pages, stream: new CpuStream(cpu, '', pages, layout), index };
  });
  const source: TraceSource = {
    littleEndian: layout.littleEndian,
    formats: setup.formats,
    arch: ARCH[osArch()] ?? osArch(),
    tsOffset: 0n,
    cmdlines: new Map(),
    tgids: new Map(),
    streams: () => queues.map((q) => q.stream),
  };
  const engine = new Engine(source);
  seedFromProc(engine.procs);
  // lifecycle events nobody asked for keep the process table current, unseen
  for (const ev of setup.lifecycle) {
    const f = setup.formats.all().find((x) => x.system === ev.system && x.name === ev.name);
    if (f && engine.type(f.id).tracker !== undefined) engine.hide(f.id);
  }
  return { engine, queues, littleEndian: layout.littleEndian };
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
  const root = findTracefs();
  checkTracefsAccess(root);
  removeStaleInstances(root);
  const latencyMs = opts.latencyMs ?? 50;
  const clock = opts.clock ?? 'mono';
  const inst = Instance.create(root, { clock, ...(opts.bufferKb !== undefined ? { bufferKb: opts.bufferKb } : {}) });
  let reader: SubBufferReader | undefined;
  let queues: CpuQueue[] = [];
  try {
    const setup = setUpInstance(inst, { events: opts.events, filters: opts.filters, lifecycle: opts.lifecycle ?? opts.decode !== false });
    const plan = latencyPlan(clock, latencyMs);
    reader = opts.reader({ instance: inst.dir, cpus: setup.cpus, subbufSize: setup.subbufSize, latencyMs: plan.readerLatencyMs, ringSubbufs: setup.ringSubbufs });
    const info: LiveInfo = {
      root, instance: inst, cpus: setup.cpus, subbufSize: setup.subbufSize, clock: inst.clocks().current,
      events: setup.events, lifecycle: setup.lifecycle, backend: reader.backend, fallbackReason: reader.fallbackReason,
      formats: setup.formats, headerPage: setup.headerPageText, headerEvent: setup.headerEventText,
    };
    const built = makeEngine(setup);
    const { engine } = built;
    queues = built.queues;
    // records are only counted when nothing needs them decoded in order (see LiveOptions.decode)
    const light = opts.decode === false && setup.formats.all().every((f) => engine.type(f.id).tracker === undefined);
    const consumer = makeConsumer(engine, info);
    consumer.start?.();
    await opts.onReady?.(info);
    return await runSession(opts, { inst, info, setup, engine, queues, reader, consumer, light, plan, littleEndian: built.littleEndian });
  } finally {
    await teardown(inst, reader, queues);
  }
}

interface Session<T> {
  inst: Instance;
  info: LiveInfo;
  setup: InstanceSetup;
  engine: Engine;
  queues: CpuQueue[];
  reader: SubBufferReader;
  consumer: LiveConsumer<T>;
  light: boolean;
  plan: ReturnType<typeof latencyPlan>;
  littleEndian: boolean;
}

/** Start the readers and tracing, wait for the end, then stop, drain and account. */
async function runSession<T>(opts: LiveOptions, s: Session<T>): Promise<LiveResult<T>> {
  const { inst, engine, reader, consumer, light, setup } = s;
  const watermark: Watermark = s.plan.byRounds ? new RoundsWatermark(setup.cpus.length, s.plan.marginMs, s.littleEndian) : new DelayWatermark(opts.latencyMs ?? 50);
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
  // Never trace ourselves (our reads would be traced, and feed back): every thread of this
  // process, the reader's threads included, goes into the instance's notrace pid list.
  inst.excludePids(ownThreads());
  inst.tracing(true);
  opts.onTracing?.(s.info);

  let lostFromStats = 0;
  const lostNow = () => Math.max(engine.stats.lost, lostFromStats);
  const stops: Array<() => void> = [];
  const onAbort = () => finish('signal');
  if (consumer.stopped === true) finish('stop');
  if (opts.durationMs !== undefined) {
    const t = setTimeout(() => finish('duration'), opts.durationMs);
    stops.push(() => clearTimeout(t));
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) finish('signal');
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
  const result = consumer.finish();
  const counts = new Map<number, number>();
  if (light) pump.idCounts.forEach((n, id) => n > 0 && counts.set(id, n));
  return { result, info: s.info, stats: engine.stats, lost: lostNow(), losses, reason, decoded: !light, counts };
}

/** Stop the reader (if it was started), release the page queues, remove the instance. */
async function teardown(inst: Instance, reader: SubBufferReader | undefined, queues: readonly CpuQueue[]): Promise<void> {
  try {
    await reader?.stop();
  } catch {
    // already reported, or already stopped
  }
  for (const q of queues) q.pages.close();
  await inst.remove();
}
