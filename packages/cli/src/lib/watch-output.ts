/**
 * How `tw watch` shows a watch's run: warnings about handlers it never gets, notes, alerts as
 * they happen (through the alert sinks: the stderr line, --json lines on stdout, --exec,
 * --notify), and at the end the result as the watch formats it (or JSON) — under --json the
 * result object with its alerts and losses, as the last line of stdout.
 */
import { alertRecord, callHook, unreachableHandlers, type Alert, type AnyWatch, type CpuLoss, type LiveInfo, type RunReport } from '@tw/core';
import { AlertSinks, chooseSinks } from './alerts/sink.js';
import type { StatusLine } from './live.js';
import { safeMessage } from './base.js';

export { alertLine } from './alerts/stderr-sink.js';

/** The text a watch's result prints as (its own format(), else JSON). */
export function resultText(watch: AnyWatch, result: unknown): string | undefined {
  if (result === undefined) return undefined;
  if (watch.format) return callHook(watch, 'format', () => String(watch.format!(result as never)));
  return JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** The --json value: the result object, plus "alerts" and "losses" when there were any. */
export function resultJson(report: RunReport, losses: readonly CpuLoss[]): unknown {
  const result = report.outcomes[0]?.result;
  if ((report.alerts.length > 0 || losses.length > 0) && typeof result === 'object' && result !== null && !Array.isArray(result)) {
    return {
      ...result,
      ...(report.alerts.length > 0 ? { alerts: report.alerts.map((a) => alertRecord(a)) } : {}),
      ...(losses.length > 0 ? { losses } : {}),
    };
  }
  return result ?? {};
}

export interface WatchOutputOptions {
  json: boolean;
  quiet: boolean;
  log: (line: string) => void;
  /** --exec CMD */
  exec?: string | undefined;
  /** --notify */
  notify?: boolean;
  mode: 'live' | 'file';
}

export class WatchOutput {
  /** a status line to clear before an alert is printed (live, on a terminal) */
  status: StatusLine | undefined;
  readonly alerts: AlertSinks;

  constructor(
    private readonly watch: AnyWatch,
    args: Record<string, unknown>,
    private readonly o: WatchOutputOptions,
  ) {
    const stderr = (line: string) => process.stderr.write(`${line}\n`);
    // also under --json (stdout stays JSON)
    for (const p of unreachableHandlers(watch, args)) stderr(`tw: warning: watch '${watch.name}': ${p.message}`);
    const { sinks, notes } = chooseSinks({ json: o.json, quiet: o.quiet, exec: o.exec, notify: o.notify ?? false, mode: o.mode }, { stderr, beforeStderrLine: () => this.status?.clear() });
    for (const n of notes) stderr(n);
    this.alerts = new AlertSinks(sinks, stderr);
  }

  private say(line: string): void {
    if (!this.o.json) process.stderr.write(`${line}\n`);
  }

  /** What watchLive/replayWatch report on the way: alerts, notes, warnings. */
  get hooks(): { onAlert?: (a: Alert) => void; onNote: (m: string) => void; onWarning: (m: string) => void } {
    return {
      ...(this.alerts.sinks.length > 0 ? { onAlert: this.alerts.onAlert } : {}),
      onNote: (m) => this.say(`tw: note: ${m}`),
      onWarning: (m) => process.stderr.write(`tw: ${m}\n`),
    };
  }

  /** Live: say which reader is used when it is not the first choice. */
  readonly onReady = (info: LiveInfo): void => {
    if (info.fallbackReason) this.say(`tw: note: using the ${info.backend} reader (${info.fallbackReason})`);
  };

  /** The end: the result (text or the --json value, which is returned). */
  render(report: RunReport, losses: readonly CpuLoss[]): unknown {
    // (live, the kernel's own counts said it per CPU already)
    if (report.stats.lostUnknown > 0 && losses.length === 0) this.say(`tw: warning: ${report.stats.lostUnknown} sub-buffers report lost events without a count`);
    if (this.o.json) return resultJson(report, losses);
    const result = report.outcomes[0]?.result;
    const text = resultText(this.watch, result);
    // a table or text made of what the trace said (comms, paths): its lines kept, control bytes escaped
    if (text !== undefined) this.o.log(safeMessage(text));
    return result;
  }
}
