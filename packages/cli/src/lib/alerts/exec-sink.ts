/**
 * --exec CMD: per alert, `/bin/sh -c CMD` with the alert's JSON (one line) on stdin and the
 * TW_* variables in its environment; its output goes to tw's stderr. Through a ProcessQueue:
 * 4 at a time, a bounded number waiting, 30 s each at most; at the end tw waits for them
 * (live at most 10 s more).
 */
import type { Alert, AlertRecord } from '@tw/core';
import type { ProcessQueue } from './process-queue.js';
import type { AlertSink } from './sink.js';

/**
 * The limits, live and for a recording: live an alert storm must not pile up processes or
 * memory while the trace runs; a replay has no kernel buffer to overrun, so more may wait and
 * tw waits for all of them (each still killed after its timeout).
 */
export const EXEC_LIMITS = {
  live: { concurrency: 4, queueLimit: 64, timeoutMs: 30_000, endWaitMs: 10_000 },
  file: { concurrency: 4, queueLimit: 100_000, timeoutMs: 30_000, endWaitMs: Infinity },
} as const;

/** The variables a command gets (each set, empty when unknown, so none leaks in from tw's own environment). */
export const ALERT_ENV = ['TW_WATCH', 'TW_MESSAGE', 'TW_TIME', 'TW_TS', 'TW_PID', 'TW_COMM', 'TW_TGID', 'TW_PPID', 'TW_UID', 'TW_EXE', 'TW_CMDLINE'] as const;

export function alertEnv(r: AlertRecord): Record<(typeof ALERT_ENV)[number], string> {
  const c = r.culprit;
  return {
    TW_WATCH: r.watch,
    TW_MESSAGE: r.message,
    TW_TIME: r.time ?? '',
    TW_TS: r.ts,
    TW_PID: c ? String(c.pid) : '',
    TW_COMM: c ? c.comm : '',
    TW_TGID: c?.tgid !== undefined ? String(c.tgid) : '',
    TW_PPID: c?.ppid !== undefined ? String(c.ppid) : '',
    TW_UID: c?.uid !== undefined ? String(c.uid) : '',
    TW_EXE: c?.exe ?? '',
    TW_CMDLINE: c?.cmdline ?? '',
  };
}

export class ExecSink implements AlertSink {
  readonly name = '--exec';

  constructor(
    readonly command: string,
    private readonly queue: ProcessQueue,
    private readonly endWaitMs: number,
  ) {}

  alert(_a: Alert, r: AlertRecord, json: string): void {
    this.queue.push({ file: '/bin/sh', args: ['-c', this.command], input: `${json}\n`, env: alertEnv(r), what: `an alert of ${r.watch}` });
  }

  end(): Promise<string[]> {
    return this.queue.end(this.endWaitMs);
  }
}
