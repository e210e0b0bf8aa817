// How a session dates its alerts: from the trace timestamp when it has a realtime offset (live
// with the clock "mono", a recording that stores one), else live at dispatch, else null.
import { describe, expect, it } from 'vitest';
import { isoFromEpochNs, measureRealtimeOffset, wallClockFor } from './wall-clock.js';

describe('wallClockFor', () => {
  it('with a realtime offset: the event\'s own time, ts + offset, in UTC with milliseconds', () => {
    const epoch = 1_738_324_800_000_000_000n; // 2025-01-31T12:00:00Z in ns
    const clock = wallClockFor(epoch - 5_000_000_000n, 'file');
    expect(clock(5_123_456_789n)).toBe('2025-01-31T12:00:00.123Z');
    expect(wallClockFor(0n, 'file')(epoch)).toBe('2025-01-31T12:00:00.000Z');
  });

  it('outside a handler (no event): live the time of the alert, from a recording null', () => {
    const t0 = Date.now();
    const live = wallClockFor(123n, 'live')(undefined);
    expect(Date.parse(live!)).toBeGreaterThanOrEqual(t0 - 1);
    expect(wallClockFor(123n, 'file')(undefined)).toBeNull();
  });

  it('without one: live the time of the alert (dispatch), a recording null', () => {
    const t0 = Date.now();
    const at = wallClockFor(undefined, 'live')(42n);
    expect(at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(at!) - t0)).toBeLessThan(1000);
    expect(wallClockFor(undefined, 'file')(42n)).toBeNull();
  });

  it('a time a Date cannot hold is null, not an exception', () => {
    expect(isoFromEpochNs(2n ** 90n)).toBeNull();
  });
});

describe('measureRealtimeOffset', () => {
  it('maps CLOCK_MONOTONIC (hrtime) to the wall clock within a couple of ms', () => {
    const off = measureRealtimeOffset();
    const mapped = Number((process.hrtime.bigint() + off) / 1_000_000n);
    expect(Math.abs(mapped - Date.now())).toBeLessThanOrEqual(2);
  });
});
