/**
 * The live merge loop: sub-buffers from the readers go (copied) into each CPU's page queue, the
 * watermark learns how far each CPU is read, and a pump merges every CPU up to the watermark
 * into the consumer. Nothing polls: deliveries schedule pumps (see watermark.ts for when).
 *
 * In "light" mode (a recorder that needs no decoding) records are only counted per event id, in
 * place, and the reader gets its buffer back at once.
 */
import type { CpuStream } from '../decode/cpu-stream.js';
import type { Engine, EventView } from '../session/engine.js';
import { PageSlab } from './page-slab.js';
import type { PushPages } from './push-pages.js';
import type { Watermark } from './watermark.js';

export interface CpuQueue {
  pages: PushPages;
  stream: CpuStream;
  /** the CPU's place in the session's CPU list (the watermark's index) */
  index: number;
}

const NO_RELEASE = (): void => undefined;

export interface PumpOptions {
  engine: Engine;
  queues: readonly CpuQueue[];
  watermark: Watermark;
  subbufSize: number;
  /** only count records per event id (see LiveOptions.decode) */
  light: boolean;
  /** how often (ms) a timer-scheduled pump comes back while events are held back */
  tickMs: number;
  /** seconds an exited process stays resolvable */
  graceSeconds: number;
  visit: (e: EventView) => boolean | void;
  /** is the consumer done (ctx.stop())? */
  stopped: () => boolean;
  /** the consumer asked to stop, or a pump failed */
  onEnd: (why: 'stop' | Error) => void;
}

export class LivePump {
  /** records per event id in light mode (an id is a u16) */
  readonly idCounts = new Float64Array(65536);
  private readonly byCpu: Map<number, CpuQueue>;
  private readonly slab: PageSlab;
  private readonly visit: (e: EventView) => boolean | void;
  private keepGoing = true;
  private ended = false;
  private pumpQueued = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastPrune = 0;
  private readonly t0 = process.hrtime.bigint();

  constructor(private readonly o: PumpOptions) {
    this.byCpu = new Map(o.queues.map((q) => [q.stream.cpu, q]));
    this.slab = new PageSlab(o.subbufSize);
    this.visit = o.watermark.wrap(o.visit);
  }

  /** A reader's sub-buffer (valid until `release`). */
  readonly onSubBuffer = (cpu: number, data: Uint8Array, release: () => void): void => {
    const q = this.byCpu.get(cpu);
    if (this.o.light) {
      if (q) this.count(q, data);
      release();
      return;
    }
    // Copy and give the reader its buffer back at once: tw holds sub-buffers until the merge
    // watermark passes them, and a reader waiting for its pool lets the kernel drop events. The
    // copies (bounded by rate x latency) come from a slab that is reused, not from a new
    // ArrayBuffer each (hundreds of MB/s of garbage at high rates).
    if (q) {
      const copy = this.slab.take();
      copy.set(data);
      q.pages.push(copy, () => this.slab.give(copy));
      this.o.watermark.subBuffer(q.index, data);
    }
    release();
    this.arm();
  };

  /**
   * A sub-buffer built from a record source's records (BpfPages; valid during the call) for
   * the CPU stream `q` of that source. Unlike the kernel's, it tells the watermark nothing:
   * see onSourceRound.
   */
  readonly onSourcePage = (q: CpuQueue, data: Uint8Array): void => {
    if (this.o.light) {
      // counted in place, right away: the page is the builder's, reused after this call
      this.count(q, data);
      return;
    }
    const copy = this.slab.take();
    copy.set(data);
    q.pages.push(copy, () => this.slab.give(copy));
    this.arm();
  };

  /**
   * A record source's round: every record it stamped before `drainedNs` (CLOCK_MONOTONIC) has
   * been delivered, on every CPU. `index` is the source's one place in the watermark.
   *
   * Why one place for all of a source's CPU streams, moved only by rounds: a kernel CPU's
   * sub-buffer proves that CPU is read up to its timestamp, because each CPU has its own ring
   * written in time order. A BPF ring buffer is one ring for all CPUs, filled in the order
   * programs reserve room, not in timestamp order: a record stamped X on CPU 3 proves nothing
   * about CPU 5, and not even about CPU 3 (a program interrupted between taking its time and
   * reserving room lands after a later one). Only the reader's round — the ring was empty at
   * `drainedNs` — says anything, and it says it for every CPU at once.
   */
  readonly onSourceRound = (index: number, drainedNs: number): void => {
    if (this.o.light) return;
    if (this.o.watermark.round(index, drainedNs)) this.arm();
  };

  /** A reader's round caught up with the kernel at `drainedNs` (CLOCK_MONOTONIC). */
  readonly onRound = (cpu: number, drainedNs: number): void => {
    const q = this.byCpu.get(cpu);
    if (this.o.light || q === undefined) return;
    if (this.o.watermark.round(q.index, drainedNs)) this.arm();
  };

  /** Count the records of a sub-buffer in place (light mode). */
  private count(q: CpuQueue, data: Uint8Array): void {
    // `data` is released right after: the stream must be done with it (it is: every record read)
    q.pages.push(data, NO_RELEASE);
    const stream = q.stream;
    const c = stream.cursor;
    let n = 0;
    while (stream.advance()) {
      this.idCounts[c.dv.getUint16(c.recOffset, c.littleEndian)]!++;
      n++;
    }
    this.o.engine.events += n;
  }

  /** Merge to the watermark (`final`: everything) into the consumer. */
  pump(final: boolean): void {
    const { engine, watermark } = this.o;
    engine.refill();
    const lim = final ? { hi: Infinity, lo: 0 } : watermark.limit();
    if (!engine.drain(this.visit, lim.hi, lim.lo)) this.keepGoing = false;
    watermark.drained();
  }

  /** Stop scheduling pumps (the session is ending). */
  close(): void {
    this.ended = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Pump, then: a stopped consumer ends the trace; exited processes older than the grace go. */
  private pumpAndTend(): boolean {
    this.pump(false);
    if (!this.keepGoing || this.o.stopped()) {
      this.o.onEnd('stop');
      return false;
    }
    const elapsedMs = Number((process.hrtime.bigint() - this.t0) / 1_000_000n);
    if (elapsedMs - this.lastPrune > 5000) {
      const grace = BigInt(this.o.graceSeconds) * 1_000_000_000n;
      const now = this.o.watermark.traceNow();
      if (now > grace) this.o.engine.procs.prune(now - grace);
      this.lastPrune = elapsedMs;
    }
    return true;
  }

  private readonly onImmediate = (): void => {
    this.pumpQueued = false;
    if (this.ended) return;
    try {
      this.pumpAndTend();
    } catch (e) {
      this.o.onEnd(e as Error);
    }
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (this.ended) return;
    try {
      if (!this.pumpAndTend()) return;
      // held-back events: come back in a tick (the watermark moves with time)
      if (this.o.engine.pendingTs() !== undefined) this.arm();
    } catch (e) {
      this.o.onEnd(e as Error);
    }
  };

  /** Schedule a pump: after this turn of the event loop, or by the tick timer. */
  private arm(): void {
    if (this.ended) return;
    if (this.o.watermark.schedule === 'immediate') {
      if (!this.pumpQueued) {
        this.pumpQueued = true;
        setImmediate(this.onImmediate);
      }
    } else if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, this.o.tickMs);
    }
  }
}
