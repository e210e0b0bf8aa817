/**
 * The stderr line of an alert, as it happens:
 * "[2025-01-31 13:00:00.123 52.272524094] who-killed: kill[123] sent SIGTERM to 77" — the
 * wall-clock time in the local time zone (left out when unknown: a recording without one), then
 * the trace timestamp in seconds. Control characters in it are escaped.
 */
import { formatSeconds, printable, type Alert, type AlertRecord } from '@tw/core';
import type { AlertSink } from './sink.js';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** "2025-01-31 13:00:00.123" in the local time zone, from an ISO time. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function alertLine(a: Pick<Alert, 'time' | 'ts' | 'watch' | 'message'>): string {
  const when = a.time !== null ? `${localTime(a.time)} ${formatSeconds(a.ts)}` : formatSeconds(a.ts);
  // a message carries what the watch saw (comms, paths from the trace): no control byte of it
  // reaches the terminal
  return printable(`[${when}] ${a.watch}: ${a.message}`);
}

export class StderrSink implements AlertSink {
  readonly name = 'stderr';

  constructor(
    private readonly write: (line: string) => void,
    private readonly before?: () => void,
  ) {}

  alert(a: Alert, _r: AlertRecord): void {
    this.before?.();
    this.write(alertLine(a));
  }
}
