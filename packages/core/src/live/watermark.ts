/**
 * How far the live merge may go: the watermark. Events before it are known to have arrived
 * from every CPU, so they can be handed to the consumer in timestamp order.
 *
 * - RoundsWatermark (trace clock "mono", CLOCK_MONOTONIC — the clock the readers report their
 *   rounds in): each CPU is known to be read up to the start of its reader's last round that
 *   caught up with the kernel's writer (less a margin for an event being written while the round
 *   read), or to the timestamp of the newest sub-buffer it delivered (a CPU's events are in time
 *   order). The watermark is the smallest of those points. Readers report a round at least every
 *   `latency - margin` ms, with or without events, so an idle CPU holds nobody back for longer.
 *   One pump runs after each turn of the event loop in which something arrived.
 *   Record sources (BPF probes, see RecordSource) take one place each, for all their CPU
 *   streams together, moved only by the source's rounds (the CLOCK_MONOTONIC time at which its
 *   ring buffer was found empty, less the same margin: a program may have taken its time stamp
 *   and not yet submitted its record). Their records' own timestamps prove nothing: one BPF
 *   ring buffer serves every CPU, filled in reservation order, not per CPU in time order
 *   (see LivePump.onSourceRound). Their sub-buffers are therefore not passed to subBuffer().
 * - DelayWatermark (any other clock; the readers' rounds are not comparable): the newest
 *   timestamp delivered, extrapolated by the time elapsed since, minus the whole latency (a CPU's
 *   sub-buffer may reach us up to the reader's latency late). A timer pumps, and re-arms itself
 *   each tick while events are held back.
 */
import type { EventView } from '../session/engine.js';

/** Nanoseconds now, as the process sees CLOCK_MONOTONIC (tests pass a fake). */
export type MonoClock = () => bigint;
export const monoNow: MonoClock = () => process.hrtime.bigint();

const TWO32 = 4294967296;
const TWO32N = 4294967296n;

/** A timestamp as two unsigned 32-bit halves (how the merge compares them without bigint). */
export interface TsHalves {
  hi: number;
  lo: number;
}

export interface Watermark {
  /** how pumps are scheduled: once per event-loop turn after deliveries, or by a re-armed timer */
  readonly schedule: 'immediate' | 'timer';
  /** a kernel sub-buffer of the CPU at `index` (its place in the session's CPU list) arrived */
  subBuffer(index: number, data: Uint8Array): void;
  /**
   * the reader of the CPU at `index` (or the record source at `index`, after the CPUs) caught
   * up at `drainedNs`; true when that may move the watermark
   */
  round(index: number, drainedNs: number): boolean;
  /** the consumer's visit, wrapped when the watermark must see each event's timestamp */
  wrap(visit: (e: EventView) => boolean | void): (e: EventView) => boolean | void;
  /** merge up to here */
  limit(): TsHalves;
  /** after a drain: the newest timestamp visited may have moved */
  drained(): void;
  /** now, in the trace clock (for retiring exited processes) */
  traceNow(): bigint;
}

/** A sub-buffer's own timestamp (its first 8 bytes, a u64 in the host's order), as a double. */
export function subbufTs(d: Uint8Array, littleEndian: boolean): number {
  // the 32-bit word at byte `at` (no DataView: the bytes come from many ArrayBuffers)
  const word = (at: number): number =>
    littleEndian
      ? d[at]! + d[at + 1]! * 0x100 + d[at + 2]! * 0x10000 + d[at + 3]! * 0x1000000
      : d[at + 3]! + d[at + 2]! * 0x100 + d[at + 1]! * 0x10000 + d[at]! * 0x1000000;
  return littleEndian ? word(4) * TWO32 + word(0) : word(0) * TWO32 + word(4);
}

export class RoundsWatermark implements Watermark {
  readonly schedule = 'immediate' as const;
  /** how far each CPU (by its index) is known to be read, in ns */
  private readonly readTo: Float64Array;
  private readonly marginNs: number;

  constructor(
    cpus: number,
    marginMs: number,
    private readonly littleEndian: boolean,
    private readonly now: MonoClock = monoNow,
  ) {
    this.readTo = new Float64Array(cpus);
    this.marginNs = marginMs * 1e6;
  }

  subBuffer(index: number, data: Uint8Array): void {
    // every event of this CPU before the sub-buffer's own timestamp is here now
    const ts = subbufTs(data, this.littleEndian);
    if (ts > this.readTo[index]!) this.readTo[index] = ts;
  }

  round(index: number, drainedNs: number): boolean {
    const to = drainedNs - this.marginNs;
    if (to > this.readTo[index]!) this.readTo[index] = to;
    return true;
  }

  wrap(visit: (e: EventView) => boolean | void): (e: EventView) => boolean | void {
    return visit;
  }

  limit(): TsHalves {
    let wm = Infinity;
    const r = this.readTo;
    for (let i = 0; i < r.length; i++) if (r[i]! < wm) wm = r[i]!;
    wm = Math.floor(wm);
    const hi = Math.floor(wm / TWO32);
    return { hi, lo: wm - hi * TWO32 };
  }

  drained(): void {}

  traceNow(): bigint {
    return this.now();
  }
}

export class DelayWatermark implements Watermark {
  readonly schedule = 'timer' as const;
  private maxHi = 0;
  private maxLo = 0;
  private seenHi = 0;
  private seenLo = 0;
  private maxSeenAt: bigint;
  private readonly delayNs: bigint;

  constructor(
    latencyMs: number,
    private readonly now: MonoClock = monoNow,
  ) {
    this.delayNs = BigInt(Math.max(5, latencyMs)) * 1_000_000n;
    this.maxSeenAt = now();
  }

  subBuffer(): void {}

  round(): boolean {
    return false;
  }

  wrap(visit: (e: EventView) => boolean | void): (e: EventView) => boolean | void {
    return (e) => {
      const c = e.c;
      this.maxHi = c.tsHi;
      this.maxLo = c.tsLo;
      return visit(e);
    };
  }

  /** the newest timestamp visited (for tests and pruning) */
  newest(): bigint {
    return (BigInt(this.maxHi) << 32n) | BigInt(this.maxLo);
  }

  limit(): TsHalves {
    let wm = this.newest() + (this.now() - this.maxSeenAt) - this.delayNs;
    if (wm < 0n) wm = 0n;
    return { hi: Number(wm / TWO32N), lo: Number(wm % TWO32N) };
  }

  drained(): void {
    if (this.maxHi !== this.seenHi || this.maxLo !== this.seenLo) {
      this.seenHi = this.maxHi;
      this.seenLo = this.maxLo;
      this.maxSeenAt = this.now();
    }
  }

  traceNow(): bigint {
    return this.newest();
  }
}
