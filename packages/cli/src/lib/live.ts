/**
 * What every live command shares: the reader (relay-native addon, or its pure-JS fallback),
 * the flags, the exit paths (exit-paths.ts: Ctrl-C ends gracefully, a second one forces the exit
 * and leaves the rest to the guardian; errors nothing caught fail the session with one line),
 * and the status line.
 */
import { Flags } from '@oclif/core';
import { abortFailure, onGuardianProblem, runningGuardian, TwError, type CpuLoss, type LiveInfo, type LiveOptions, type LiveStatus, type ReaderFactory } from '@tw/core';
import { openRingReader, READER_ORDER, type Backend } from '@tw/relay-native';
import { exitCallOf, ExitPaths } from './exit-paths.js';

export const liveFlags = {
  duration: Flags.string({ char: 'd', summary: 'Stop after this long: seconds, or 500ms / 30s / 2m / 1h (at most 596h).', helpValue: 'TIME' }),
  clock: Flags.string({ summary: 'Trace clock of the session\'s instance (the kernel\'s list: tw doctor, or trace_clock in tracefs).', default: 'mono', helpValue: 'CLOCK' }),
  'buffer-kb': Flags.integer({ summary: 'Ring-buffer size per CPU, in KiB.', default: 4096, min: 64, helpValue: 'KB' }),
  latency: Flags.integer({ summary: 'Longest time (ms) an event may wait before reaching its handler; larger trades latency for throughput.', default: 50, min: 1, max: 10_000, helpValue: 'MS' }),
  backend: Flags.string({ summary: `Ring-buffer reader: auto (${READER_ORDER.join(', else ')}), ${READER_ORDER.join(', ')}.`, default: 'auto', options: ['auto', ...READER_ORDER] }),
  'process-events': Flags.boolean({
    summary: 'Also trace process fork/exec/exit/rename and new threads, so process names and thread groups stay current.',
    description:
      'These events are rare and the consumer never sees them unless it asked for them; they let tw name every process, even one that lived only milliseconds (sh -c "exec kill …" shows as kill). With --no-process-events only the asked events are traced: names come from /proc at start and from the events themselves, and the kernel\'s per-CPU loss counts cover only those events.',
    default: true,
    allowNo: true,
  }),
  'rt-readers': Flags.boolean({
    summary: 'Run the per-CPU reader threads at real-time priority (SCHED_FIFO 1) when allowed.',
    description:
      'The readers only copy sub-buffers out of the kernel and sleep. At the lowest real-time priority a woken reader runs at once, ahead of tw\'s own JavaScript and V8 threads; in the normal class it can wait for the next scheduler tick, long enough for a busy CPU to overwrite its ring. Without CAP_SYS_NICE, or with --no-rt-readers, they run 10 nice levels above the process instead. The JS reader (--backend js) has no threads of its own.',
    default: true,
    allowNo: true,
  }),
};

/** --quiet for the live commands that have no other use for it (watch has its own). */
export const quietFlag = Flags.boolean({ char: 'q', summary: 'Do not print the "tw: tracing" line once tracing has started, nor notes on how probes came up.' });

/**
 * The one line every live command prints on stderr once its events are enabled and its readers
 * run ("tw: tracing …"): what it traces, on how many CPUs, with which reader (and probes).
 * Scripts wait for it.
 */
export function tracingLine(info: LiveInfo, extra: readonly string[] = []): string {
  const names = [...info.events.map((e) => `${e.system}:${e.name}`), ...(info.sources ?? []).flatMap((s) => s.events.map((e) => `${e.system}:${e.name}`))];
  const shown = names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
  const what = `${names.length} event${names.length === 1 ? '' : 's'} (${shown})`;
  return `tw: tracing ${what} on ${info.cpus.length} CPUs, ${info.backend} reader${extra.length ? `; ${extra.join('; ')}` : ''}`;
}

/** The longest timeout Node's timers hold (2^31-1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function parseDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new TwError('BAD_ARGUMENT', `--duration '${text}' is not a duration (examples: 5, 500ms, 30s, 2m, 1h)`);
  const v = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? v : unit === 's' ? v * 1000 : unit === 'm' ? v * 60_000 : v * 3_600_000;
  if (ms <= 0) throw new TwError('BAD_ARGUMENT', `--duration must be positive, got '${text}'`);
  if (ms > MAX_TIMER_MS) {
    throw new TwError('BAD_ARGUMENT', `--duration '${text}' is too long: at most 596h (${MAX_TIMER_MS} ms, about 24.8 days); for a longer run leave it out and stop tw with Ctrl-C or SIGTERM`);
  }
  return ms;
}

export function readerFactory(backend: string, realtime = true): ReaderFactory {
  // tw copies each sub-buffer out and releases its slot when the JS thread takes it, so the pool
  // only has to cover the JS thread being busy (a long drain, a GC pause, compiling at start):
  // while the pool is full the reader cannot take sub-buffers and the kernel ring fills. Seven
  // rings' worth on top of one, at most 8192 extra slots (8 MiB per CPU for a 1 MiB ring, 32
  // for the default 4 MiB). The pool is mapped memory taken last-freed-first: only the slots
  // the busiest moment needed are ever backed by RAM.
  return (o) =>
    openRingReader({
      instance: o.instance,
      cpus: o.cpus,
      subbufSize: o.subbufSize,
      latencyMs: o.latencyMs,
      backend: backend as Backend | 'auto',
      poolSize: o.ringSubbufs + Math.min(8192, Math.max(64, o.ringSubbufs * 7)),
      realtime,
    });
}

/** A one-line status on stderr, redrawn in place, when stderr is a terminal. */
export class StatusLine {
  private shown = false;
  constructor(readonly enabled = process.stderr.isTTY === true) {}

  update(s: LiveStatus): void {
    if (!this.enabled) return;
    const secs = (s.elapsedMs / 1000).toFixed(0);
    process.stderr.write(`\r\x1b[K[tw] ${secs}s  ${Math.round(s.eventsPerSec)} events/s  ${s.events} events  ${s.lost} lost`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}

/**
 * One sentence per CPU that lost events, saying which of the kernel's counters rose and what
 * the reader saw, so the remedy follows: tw fell behind (the reader waited for free buffers),
 * the reader itself ran late (it found most of the ring full without ever waiting for tw), or
 * the kernel could not store events at all.
 */
export function explainLosses(losses: readonly CpuLoss[], o: { bufferKb: number; rtReaders: boolean; backend: string }): string[] {
  const { bufferKb, rtReaders, backend } = o;
  return losses.map((l) => {
    // a record source (a BPF probe) says itself why
    if (l.source !== undefined) return `${l.source}: CPU ${l.cpu} lost ${l.lost} events: ${l.cause ?? 'the source could not store them'}`;
    const head = `CPU ${l.cpu} lost ${l.lost} events`;
    const r = l.reader;
    if (l.overrun === 0) {
      const what = [l.dropped > 0 ? `${l.dropped} dropped` : '', l.commitOverrun > 0 ? `${l.commitOverrun} commit overruns` : ''].filter(Boolean).join(', ');
      return `${head} (${what}): the kernel could not store them (events written faster than, or nested deeper than, its sub-buffers take); the reader did not cause this`;
    }
    if (r === undefined) return `${head} (the ring overwrote unread pages): try a larger --buffer-kb (now ${bufferKb})`;
    if (r.poolWaits > 0) {
      const ms = (r.poolWaitNs / 1e6).toFixed(1);
      return `${head} (the ring overwrote unread pages): tw fell behind — its reader waited ${ms} ms in all (${r.poolWaits === 1 ? 'once' : `${r.poolWaits} times`}) for tw's JavaScript thread to take what it had read. A kernel filter, fewer events or a larger --buffer-kb (now ${bufferKb}) helps`;
    }
    const found = r.maxRound >= l.ringSubbufs ? `the whole ring (${l.ringSubbufs} sub-buffers) full` : `${r.maxRound} of the ring's ${l.ringSubbufs} sub-buffers full`;
    if (backend === 'js') {
      return `${head} (the ring overwrote unread pages): the JS reader runs on tw's JavaScript thread, and once found ${found}: the watch or tw itself kept it from reading in time. The native readers (see tw doctor) or a larger --buffer-kb (now ${bufferKb}) help`;
    }
    const late = `the reader never waited for tw, but once found ${found}: it ran too late (other work on that CPU)`;
    return `${head} (the ring overwrote unread pages): ${late}. A larger --buffer-kb (now ${bufferKb})${rtReaders ? '' : ' or --rt-readers'} helps`;
  });
}

export interface LiveFlagValues {
  duration?: string | undefined;
  quiet?: boolean | undefined;
  clock: string;
  'buffer-kb': number;
  latency: number;
  backend: string;
  'rt-readers': boolean;
  'process-events'?: boolean | undefined;
}

/**
 * One live command run: the status line, the exit paths and the options every live command
 * passes to traceLive. dispose() in a finally (it throws a failure that came while the session
 * was already ending, so that it is reported).
 */
export class LiveRun {
  readonly status: StatusLine;
  /** more to say on the "tw: tracing" line (e.g. the probes and their backends) */
  readonly tracingExtra: string[] = [];
  private readonly ac = new AbortController();
  private readonly exits: ExitPaths;

  /** `watch`: the watch whose code runs (its name is in the messages; process.exit() in it is caught) */
  constructor(
    private readonly flags: LiveFlagValues,
    showStatus: boolean,
    private readonly onForce: () => void = () => undefined,
    watch?: string,
  ) {
    this.status = new StatusLine(showStatus && process.stderr.isTTY === true);
    onGuardianProblem((m) => process.stderr.write(`tw: warning: ${m}\n`));
    this.exits = new ExitPaths({
      watch,
      end: (reason) => this.ac.abort(reason),
      fail: (err) => {
        if (!this.ac.signal.aborted) this.ac.abort(err);
        // (a process.exit() of watch code reaches the command through the session's own error)
        else if (exitCallOf(err) === undefined) this.exits.lateFailure ??= err;
      },
      ending: () => this.ac.signal.aborted,
      onForce: () => {
        this.status.clear();
        this.onForce();
      },
    });
  }

  options(o: Pick<LiveOptions, 'events' | 'filters' | 'onSubBuffer' | 'onSourcePage' | 'onReady' | 'decode' | 'sources'>): LiveOptions {
    return { ...this.sessionOptions(), ...o, onReady: this.wrapReady(o.onReady) };
  }

  /** What every live command passes to core, besides its events and consumers. */
  sessionOptions(): Omit<LiveOptions, 'events'> {
    const durationMs = parseDuration(this.flags.duration);
    return {
      clock: this.flags.clock,
      bufferKb: this.flags['buffer-kb'],
      latencyMs: this.flags.latency,
      ...(durationMs !== undefined ? { durationMs } : {}),
      reader: readerFactory(this.flags.backend, this.flags['rt-readers']),
      ...(this.flags['process-events'] === false ? { lifecycle: false } : {}),
      signal: this.ac.signal,
      // no status line, no timer: a session without one wakes only for events
      ...(this.status.enabled ? { onStatus: (st: LiveStatus) => this.status.update(st) } : {}),
      onReady: this.wrapReady(undefined),
      onTracing: (info) => {
        if (this.flags.quiet !== true) process.stderr.write(`${tracingLine(info, this.tracingExtra)}\n`);
      },
    };
  }

  /** onReady for traceLive (kept for the commands that pass their own). */
  wrapReady(then: LiveOptions['onReady']): NonNullable<LiveOptions['onReady']> {
    return async (info) => {
      await then?.(info);
    };
  }

  /** One stderr warning per CPU that lost events (see explainLosses); also with --json, whose output is stdout. */
  warnLosses(live: { losses: readonly CpuLoss[]; info: { backend: string } }, write = (line: string) => process.stderr.write(`${line}\n`)): void {
    this.status.clear();
    const o = { bufferKb: this.flags['buffer-kb'], rtReaders: this.flags['rt-readers'], backend: live.info.backend };
    for (const line of explainLosses(live.losses, o)) write(`tw: warning: ${line}`);
  }

  /** The latency a reader gets (the session's less a margin for merging): BPF probes' too. */
  readerLatencyMs(): number {
    const l = this.flags.latency;
    return Math.max(1, l - Math.max(1, Math.min(5, Math.floor(l / 10))));
  }

  /** End the session gracefully, as a first Ctrl-C does (e.g. when stdout was closed). */
  end(): void {
    if (!this.ac.signal.aborted) this.ac.abort('end');
  }

  /**
   * The command is done with the kernel: the exit paths go, the guardian is told (it exits once
   * nothing is held), and a failure that came while the session was ending is thrown.
   */
  dispose(): void {
    this.status.clear();
    this.exits.dispose();
    runningGuardian()?.done();
    // (a failure that aborted a session which had already ended, e.g. during tw dump's teardown,
    // is reported too: when the session failed with it, this is the same error again)
    const reason = abortFailure(this.ac.signal);
    // (not a process.exit() of watch code: that one reached the command through the session)
    const late = this.exits.lateFailure ?? (reason !== undefined && exitCallOf(reason) === undefined ? reason : undefined);
    this.exits.lateFailure = undefined;
    if (late !== undefined) throw late;
  }
}
