/**
 * The wall-clock time of an alert. Trace timestamps count on the trace clock, not the wall
 * clock; a session knows how to turn one into the other in one of three ways, chosen in one
 * place (wallClockFor):
 * - a realtime offset (ns to add to a trace timestamp to get ns since the epoch): live with the
 *   trace clock "mono" (CLOCK_MONOTONIC, which Node's hrtime also reads) it is measured when the
 *   session starts; a recording tw made so stores it; a recording made with
 *   `trace-cmd record --date` has wall-clock timestamps already (offset 0). The time is then
 *   that of the event itself, and a replay of a tw recording gives the live run's times.
 * - live with another trace clock: the time the alert was raised (dispatch, up to --latency
 *   after the event).
 * - a recording without a reference: null (unknown).
 */
export type WallClock = (ts: bigint | undefined) => string | null;

const NS_PER_MS = 1_000_000n;
/** the range of a JavaScript Date, in ms */
const MAX_DATE_MS = 8_640_000_000_000_000n;

/** ISO 8601 (UTC, milliseconds) of a time in ns since the epoch; null when a Date cannot hold it. */
export function isoFromEpochNs(ns: bigint): string | null {
  const ms = ns / NS_PER_MS;
  if (ms < -MAX_DATE_MS || ms > MAX_DATE_MS) return null;
  return new Date(Number(ms)).toISOString();
}

/**
 * The offset from CLOCK_MONOTONIC to the wall clock (CLOCK_REALTIME), in ns, measured now.
 * Date.now() only has milliseconds: waiting for it to tick (at most 1 ms) puts the
 * monotonic reading next to the start of a millisecond, so the offset is good to a few µs.
 * (A wall clock set or slewed later in the session is not followed.)
 */
export function measureRealtimeOffset(): bigint {
  const first = Date.now();
  let mono = process.hrtime.bigint();
  let now = Date.now();
  for (let i = 0; now === first && i < 1_000_000; i++) {
    mono = process.hrtime.bigint();
    now = Date.now();
  }
  return BigInt(now) * NS_PER_MS - mono;
}

/** The trace clocks whose timestamps are CLOCK_MONOTONIC (live: a realtime offset can be measured). */
export function isMonotonicClock(clock: string): boolean {
  return clock === 'mono';
}

/** How a session dates its alerts (see the top of this file). */
export function wallClockFor(realtimeOffset: bigint | undefined, mode: 'live' | 'file'): WallClock {
  const dispatch = (): string => new Date().toISOString();
  if (realtimeOffset !== undefined) {
    return (ts) => (ts !== undefined ? isoFromEpochNs(ts + realtimeOffset) : mode === 'live' ? dispatch() : null);
  }
  return mode === 'live' ? dispatch : () => null;
}
