/**
 * The periodic status of a live session (elapsed time, events, events/s, lost), for a status
 * line. Only runs when someone listens: a session without one wakes only for events.
 */
import type { LiveStatus } from './types.js';

export interface StatusSource {
  /** events handed on so far */
  events(): number;
  /** events lost so far (refreshes the kernel's count) */
  lost(): number;
}

/** Start reporting every `everyMs`; returns the stop function. Errors go to `onError`. */
export function startStatusTimer(source: StatusSource, onStatus: (s: LiveStatus) => void, everyMs: number, onError: (e: Error) => void, now = () => process.hrtime.bigint()): () => void {
  const t0 = now();
  let lastMs = 0;
  let lastEvents = 0;
  const timer = setInterval(() => {
    try {
      const elapsedMs = Number((now() - t0) / 1_000_000n);
      const lost = source.lost();
      const events = source.events();
      onStatus({ elapsedMs, events, eventsPerSec: ((events - lastEvents) * 1000) / Math.max(1, elapsedMs - lastMs), lost });
      lastMs = elapsedMs;
      lastEvents = events;
    } catch (e) {
      onError(e as Error);
    }
  }, everyMs);
  return () => clearInterval(timer);
}
