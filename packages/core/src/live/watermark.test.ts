import { describe, expect, it } from 'vitest';
import type { EventView } from '../session/engine.js';
import { DelayWatermark, RoundsWatermark, subbufTs, type TsHalves } from './watermark.js';

const ns = (w: TsHalves): number => w.hi * 4294967296 + w.lo;

/** A sub-buffer whose header timestamp is `ts` (u64 little-endian in its first 8 bytes). */
function subbuf(ts: number): Uint8Array {
  const b = new Uint8Array(64);
  new DataView(b.buffer).setBigUint64(0, BigInt(ts), true);
  return b;
}

/** A fake monotonic clock the test moves by hand. */
function fakeClock(start = 1_000_000_000n): { now: () => bigint; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += BigInt(ms) * 1_000_000n) };
}

/** An event view with only what the watermark reads: the cursor's timestamp halves. */
function eventAt(ts: number): EventView {
  const hi = Math.floor(ts / 4294967296);
  return { c: { tsHi: hi, tsLo: ts - hi * 4294967296 } } as unknown as EventView;
}

describe('subbufTs', () => {
  it('reads the u64 header timestamp in either byte order, beyond 32 bits', () => {
    const ts = 0x1_2345_6789 * 1000;
    expect(subbufTs(subbuf(ts), true)).toBe(ts);
    const be = new Uint8Array(8);
    new DataView(be.buffer).setBigUint64(0, BigInt(ts), false);
    expect(subbufTs(be, false)).toBe(ts);
  });
});

describe('RoundsWatermark (clock mono)', () => {
  it('is the least of what every CPU is known to be read to', () => {
    const w = new RoundsWatermark(3, 2, true);
    expect(ns(w.limit())).toBe(0); // nothing known of any CPU: nothing may pass
    w.subBuffer(0, subbuf(5_000_000));
    w.subBuffer(1, subbuf(9_000_000));
    expect(ns(w.limit())).toBe(0); // CPU 2 has said nothing yet
    expect(w.round(2, 7_000_000)).toBe(true);
    // CPU 2's round counts less the 2 ms margin: 5 ms
    expect(ns(w.limit())).toBe(5_000_000);
    w.subBuffer(0, subbuf(20_000_000));
    expect(ns(w.limit())).toBe(5_000_000);
    w.round(2, 30_000_000);
    expect(ns(w.limit())).toBe(9_000_000); // now CPU 1 is the laggard
  });

  it('never moves a CPU back (an older sub-buffer or round does not lower it)', () => {
    const w = new RoundsWatermark(1, 1, true);
    w.subBuffer(0, subbuf(50_000_000));
    w.subBuffer(0, subbuf(10_000_000));
    w.round(0, 20_000_000);
    expect(ns(w.limit())).toBe(50_000_000);
  });

  it('schedules pumps per event-loop turn, leaves visits unwrapped, and prunes by the monotonic clock', () => {
    const clock = fakeClock(123n);
    const w = new RoundsWatermark(1, 1, true, clock.now);
    const visit = () => true;
    expect(w.schedule).toBe('immediate');
    expect(w.wrap(visit)).toBe(visit);
    expect(w.traceNow()).toBe(123n);
  });
});

describe('DelayWatermark (other clocks)', () => {
  it('trails the newest visited timestamp by the latency, moving on with elapsed time', () => {
    const clock = fakeClock();
    const w = new DelayWatermark(50, clock.now);
    expect(w.schedule).toBe('timer');
    expect(w.round()).toBe(false); // the readers' rounds are in another clock
    expect(ns(w.limit())).toBe(0); // clamped at 0 before anything was seen
    const visit = w.wrap(() => true);
    visit(eventAt(1_000_000_000));
    w.drained();
    expect(ns(w.limit())).toBe(950_000_000);
    clock.advance(20);
    // nothing newer arrived: the watermark moves on with time
    expect(ns(w.limit())).toBe(970_000_000);
    visit(eventAt(1_100_000_000));
    w.drained(); // newest changed: extrapolate from now
    expect(ns(w.limit())).toBe(1_050_000_000);
    clock.advance(10);
    w.drained(); // nothing new: still extrapolating from when it was seen
    expect(ns(w.limit())).toBe(1_060_000_000);
    expect(w.traceNow()).toBe(1_100_000_000n);
  });

  it('waits at least 5 ms whatever the latency', () => {
    const clock = fakeClock();
    const w = new DelayWatermark(1, clock.now);
    w.wrap(() => true)(eventAt(100_000_000));
    w.drained();
    expect(ns(w.limit())).toBe(95_000_000);
  });
});
