// Reading `tw watch --json` output: zero or more alert lines {"alert": {...}}, written as the
// alerts happen, then the result (or {"error": {...}}) as the last line.

import type { AlertRecord } from '@tw/core';

export interface WatchJson<R> {
  /** the alert lines' alerts, in order */
  alerts: AlertRecord[];
  /** the last line: the watch's result (with "alerts" too, when it is an object and there were any) */
  result: R;
}

/** One stdout line of `tw watch --json`: an alert line's alert, else undefined. */
export function alertOfLine(line: string): AlertRecord | undefined {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const keys = Object.keys(o);
  return keys.length === 1 && keys[0] === 'alert' ? ((o as { alert: AlertRecord }).alert) : undefined;
}

/** Split `tw watch --json` stdout into its alert lines and its result; throws saying what is wrong. */
export function parseWatchJson<R = Record<string, unknown>>(stdout: string): WatchJson<R> {
  const lines = stdout.split('\n').filter((l) => l !== '');
  if (lines.length === 0) throw new Error('tw watch --json printed nothing on stdout');
  const alerts: AlertRecord[] = [];
  lines.slice(0, -1).forEach((l, i) => {
    const a = alertOfLine(l);
    if (a === undefined) throw new Error(`tw watch --json line ${i + 1} is not an alert line ({"alert": {...}}), and only the last line may be something else: ${l.slice(0, 300)}`);
    alerts.push(a);
  });
  const last = lines[lines.length - 1]!;
  let result: R;
  try {
    result = JSON.parse(last) as R;
  } catch (e) {
    throw new Error(`tw watch --json: the last line is not JSON (${(e as Error).message}): ${last.slice(0, 300)}`);
  }
  return { alerts, result };
}
