/**
 * How `tw watch` shows a watch's outcome: alerts as they happen (stderr), the result as the
 * watch formats it (or JSON), and under --json the result object with its alerts and losses.
 */
import { formatSeconds, type Alert, type AnyWatch, type CpuLoss, type RunReport } from '@tw/core';

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
