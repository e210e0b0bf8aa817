/**
 * Where tw watch's alerts go. Every sink sits behind AlertSink; chooseSinks() is the one place
 * that decides which run, from the flags (stderr line, --json lines, --exec, --notify); AlertSinks
 * hands each alert to every chosen sink. A sink that throws is reported once and counted: the
 * alert still reaches the other sinks and the run's result (core keeps every alert).
 */
import { alertRecord, type Alert, type AlertRecord } from '@tw/core';
import { ExecSink, EXEC_LIMITS } from './exec-sink.js';
import { JsonLinesSink } from './json-lines-sink.js';
import { notifyAvailability, NotifySink } from './notify-sink.js';
import { ProcessQueue } from './process-queue.js';
import { StderrSink } from './stderr-sink.js';

export interface AlertSink {
  /** names it in messages: "stderr", "--json", "--exec", "--notify" */
  readonly name: string;
  /** one alert, as it happens: returns at once (a sink with slow work queues it) */
  alert(a: Alert, record: AlertRecord, json: string): void;
  /** the run is over: finish (bounded); returns lines to say on stderr */
  end?(): Promise<string[]>;
}

export interface SinkChoice {
  /** --json: alerts as JSON lines on stdout (and no stderr line) */
  json: boolean;
  /** --quiet: no stderr line */
  quiet: boolean;
  /** --exec CMD */
  exec?: string | undefined;
  /** --notify */
  notify: boolean;
  /** live trace or a recording (--input): the --exec limits differ */
  mode: 'live' | 'file';
}

export interface SinkIo {
  /** a line on tw's stderr (with its newline added) */
  stderr: (line: string) => void;
  /** clears the live status line before an alert line is printed */
  beforeStderrLine?: () => void;
  /** for the notifier's checks (default: this process's) */
  env?: NodeJS.ProcessEnv;
  uid?: number;
}

/** The sinks these flags ask for, and what to say at the start about them (a --notify that cannot work here). */
export function chooseSinks(c: SinkChoice, io: SinkIo): { sinks: AlertSink[]; notes: string[] } {
  const sinks: AlertSink[] = [];
  const notes: string[] = [];
  if (c.json) sinks.push(new JsonLinesSink());
  else if (!c.quiet) sinks.push(new StderrSink(io.stderr, io.beforeStderrLine));
  if (c.exec !== undefined) {
    const limits = EXEC_LIMITS[c.mode];
    const queue = new ProcessQueue({ label: '--exec', ...limits, output: 'stderr', warn: io.stderr });
    sinks.push(new ExecSink(c.exec, queue, limits.endWaitMs));
  }
  if (c.notify) {
    const env = io.env ?? process.env;
    const got = notifyAvailability(env, io.uid ?? process.getuid?.() ?? -1);
    if (got.ok) {
      const queue = new ProcessQueue({ label: '--notify', concurrency: 2, queueLimit: 16, timeoutMs: 10_000, output: 'ignore', warn: io.stderr });
      sinks.push(new NotifySink(got.command, got.env, queue));
    } else {
      notes.push(`tw: note: --notify sends no desktop notifications here: ${got.why}`);
    }
  }
  return { sinks, notes };
}

/** Hands every alert to every sink; a sink's failure is said once, counted, and never loses the alert elsewhere. */
export class AlertSinks {
  private readonly failures = new Map<AlertSink, number>();

  constructor(
    readonly sinks: readonly AlertSink[],
    private readonly stderr: (line: string) => void,
  ) {}

  readonly onAlert = (a: Alert): void => {
    const record = alertRecord(a);
    const json = JSON.stringify(record);
    for (const s of this.sinks) {
      try {
        s.alert(a, record, json);
      } catch (e) {
        const n = (this.failures.get(s) ?? 0) + 1;
        this.failures.set(s, n);
        if (n === 1) this.stderr(`tw: warning: the ${s.name} alert output failed (${(e as Error).message}); the alert is kept in the other outputs and the result (further failures are counted)`);
      }
    }
  };

  /** The run is over: every sink finishes (--exec waits, bounded, for its commands); what they say goes to stderr. */
  async end(): Promise<void> {
    for (const s of this.sinks) {
      let lines: string[] = [];
      try {
        lines = (await s.end?.()) ?? [];
      } catch (e) {
        lines = [`tw: warning: the ${s.name} alert output failed at the end: ${(e as Error).message}`];
      }
      for (const l of lines) this.stderr(l);
      const n = this.failures.get(s) ?? 0;
      if (n > 1) this.stderr(`tw: warning: the ${s.name} alert output failed for ${n} alerts`);
    }
  }
}
