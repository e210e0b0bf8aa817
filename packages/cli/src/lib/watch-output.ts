/**
 * How `tw watch` shows a watch's run: warnings about handlers it never gets, notes, alerts as
 * they happen (stderr), and at the end the result as the watch formats it (or JSON) — under
 * --json the result object with its alerts and losses.
 */
import { formatSeconds, unreachableHandlers, type Alert, type AnyWatch, type CpuLoss, type LiveInfo, type RunReport } from '@tw/core';
import type { StatusLine } from './live.js';

export function alertLine(a: Alert): string {
  return `[${formatSeconds(a.ts)}] ${a.watch}: ${a.message}`;
}

/** The text a watch's result prints as (its own format(), else JSON). */
export function resultText(watch: AnyWatch, result: unknown): string | undefined {
  if (result === undefined) return undefined;
  if (watch.format) return watch.format(result as never);
  return JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** The --json value: the result object, plus "alerts" and "losses" when there were any. */
export function resultJson(report: RunReport, losses: readonly CpuLoss[]): unknown {
  const result = report.outcomes[0]?.result;
  if ((report.alerts.length > 0 || losses.length > 0) && typeof result === 'object' && result !== null && !Array.isArray(result)) {
    return {
      ...result,
      ...(report.alerts.length > 0 ? { alerts: report.alerts.map((a) => ({ ts: a.ts.toString(), watch: a.watch, message: a.message })) } : {}),
      ...(losses.length > 0 ? { losses } : {}),
    };
  }
  return result ?? {};
}

export class WatchOutput {
  /** a status line to clear before an alert is printed (live, on a terminal) */
  status: StatusLine | undefined;

  constructor(
    private readonly watch: AnyWatch,
    args: Record<string, unknown>,
    private readonly o: { json: boolean; quiet: boolean; log: (line: string) => void },
  ) {
    // also under --json (stdout stays the result)
    for (const p of unreachableHandlers(watch, args)) process.stderr.write(`tw: warning: watch '${watch.name}': ${p.message}\n`);
  }

  private say(line: string): void {
    if (!this.o.json) process.stderr.write(`${line}\n`);
  }

  /** What watchLive/replayWatch report on the way: alerts, notes, warnings. */
  get hooks(): { onAlert?: (a: Alert) => void; onNote: (m: string) => void; onWarning: (m: string) => void } {
    return {
      ...(this.o.quiet ? {} : { onAlert: (a: Alert) => (this.status?.clear(), this.say(alertLine(a))) }),
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
    if (text !== undefined) this.o.log(text);
    return result;
  }
}
