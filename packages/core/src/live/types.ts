/**
 * The live engine's contracts: what a ring-buffer reader must do, what a live session is
 * given (LiveOptions) and returns (LiveResult), and what it tells its callers on the way.
 */
import type { EngineStats, EventView } from '../session/engine.js';
import type { FormatRegistry } from '../format/registry.js';
import type { Instance } from '../tracefs/instance.js';
import type { EventName } from '../tracefs/events.js';
import type { RecordSource } from '../watch/record-source.js';

// the record source interface lives with the watch API (ProbeProvider hands sources out)
export type { OnSourceBatch, RecordSource, SourceEvent } from '../watch/record-source.js';

/**
 * What tw needs of a ring-buffer reader (the relay-native addon or its JS fallback). onRound is
 * called after a CPU's reader round caught up with the kernel's writer, at least every
 * `latencyMs` (also when it read nothing): every event that CPU recorded before `drainedNs`
 * (CLOCK_MONOTONIC ns) has been given to onData by then.
 */
export interface SubBufferReader {
  readonly backend: string;
  readonly fallbackReason: string | undefined;
  start(
    onData: (cpu: number, data: Uint8Array, release: () => void) => void,
    onError: (e: Error) => void,
    onRound: (cpu: number, drainedNs: number) => void,
  ): void;
  stop(): Promise<void>;
  /** per-CPU counters of the reader, when it keeps them (relay-native's readers do) */
  stats?(): ReaderCpuStats[];
}

/** What a CPU's reader did: see @tw/relay-native's ReaderStats. */
export interface ReaderCpuStats {
  cpu: number;
  rounds: number;
  maxRound: number;
  poolWaits: number;
  poolWaitNs: number;
}

/**
 * A CPU that lost events, with what is needed to say why: the kernel's counts (overrun: the
 * ring was full and the oldest page was overwritten; dropped / commitOverrun: the kernel could
 * not store an event at all) next to the ring's size and the reader's own counters. Losses of
 * a record source (a BPF probe) name it in `source`, count its records as `dropped` and say in
 * `cause` why they were lost.
 */
export interface CpuLoss {
  cpu: number;
  lost: number;
  overrun: number;
  dropped: number;
  commitOverrun: number;
  /** sub-buffers in the CPU's kernel ring */
  ringSubbufs: number;
  /** undefined when the reader keeps no counters */
  reader: ReaderCpuStats | undefined;
  /** the record source that lost them (RecordSource.name); absent for the kernel's ring buffer */
  source?: string;
  /** why, in words (record sources: "the BPF ring buffer was full …") */
  cause?: string;
}

/** What a session made of a record source: its events with the ids and formats it used. */
export interface LiveSourceInfo {
  /** RecordSource.name: the buffer its events are in */
  name: string;
  events: Array<{ system: string; name: string; id: number; format: string }>;
}

/**
 * `ringSubbufs` is how many sub-buffers each CPU's kernel ring holds: a reader's pool should hold
 * at least that many, since tw keeps sub-buffers until the merge watermark has passed them.
 */
export type ReaderFactory = (o: { instance: string; cpus: readonly number[]; subbufSize: number; latencyMs: number; ringSubbufs: number }) => SubBufferReader;

export interface LiveInfo {
  root: string;
  instance: Instance;
  cpus: number[];
  subbufSize: number;
  clock: string;
  /** the events asked for, as the kernel has them */
  events: EventName[];
  /**
   * process lifecycle events tw enabled on top of those (they keep the process table current;
   * visitors never see them). A recording stores them too.
   */
  lifecycle: EventName[];
  /** the record sources (BPF probes) merged into the stream, with their events' ids and formats */
  sources: LiveSourceInfo[];
  backend: string;
  fallbackReason: string | undefined;
  formats: FormatRegistry;
  headerPage: string;
  headerEvent: string;
  /**
   * ns to add to a timestamp to get wall-clock ns since the epoch: measured at the start of the
   * session with the trace clock "mono" (CLOCK_MONOTONIC); undefined with other clocks (alerts
   * then carry the time they were raised). A recording stores it.
   */
  realtimeOffset: bigint | undefined;
}

export interface LiveStatus {
  elapsedMs: number;
  events: number;
  eventsPerSec: number;
  lost: number;
}

export interface LiveOptions {
  /** event patterns: system:event, globs, "*" */
  events: readonly string[];
  /** kernel filters by event pattern ("system:event" → filter expression) */
  filters?: Record<string, string>;
  /** trace clock (default "mono", so the watermark can use the monotonic clock) */
  clock?: string;
  bufferKb?: number;
  /** how long an event may wait before reaching its consumer (default 50 ms) */
  latencyMs?: number;
  durationMs?: number;
  reader: ReaderFactory;
  /**
   * aborting ends the trace gracefully (the consumer still finishes); aborting with an Error as
   * the reason fails it with that error instead, after the same teardown
   */
  signal?: AbortSignal;
  onStatus?: (s: LiveStatus) => void;
  statusEveryMs?: number;
  /** every sub-buffer as it arrives (for recording), before decoding */
  onSubBuffer?: (cpu: number, data: Uint8Array) => void;
  /**
   * Extra sources of events (BPF probes), merged with the kernel's events in timestamp order.
   * Their events satisfy the `events` patterns that name them ("tw:open_write", or the first
   * alternative of "tw:kill|signal:signal_generate"); kernel `filters` cannot name them. Only
   * with the clock "mono" (their records are stamped with CLOCK_MONOTONIC): other clocks are
   * refused (BAD_ARGUMENT). The session starts them with the readers and stops them at its end.
   */
  sources?: readonly RecordSource[];
  /**
   * every sub-buffer the session builds from a record source's records (for recording), by the
   * source's buffer name and CPU; the bytes are valid during the call
   */
  onSourcePage?: (buffer: string, cpu: number, data: Uint8Array) => void;
  /** after the instance is set up and before tracing starts */
  onReady?: (info: LiveInfo) => void | Promise<void>;
  /** once the events are enabled and the readers run: tracing has started */
  onTracing?: (info: LiveInfo) => void;
  /** seconds an exited process stays resolvable (default 60) */
  graceSeconds?: number;
  /**
   * false (a recorder): records are not merged across CPUs, decoded or handed to the consumer;
   * each sub-buffer goes to onSubBuffer and its records are only counted per event id
   * (LiveResult.counts), which costs a fraction of decoding. Ignored when a traced event keeps
   * the process table current (sched_switch, sched_process_fork/exec, task_newtask/rename …):
   * those are decoded in order as usual. Default true.
   */
  decode?: boolean;
  /**
   * Also enable the process lifecycle events (sched_process_fork/exec/exit, task_newtask, task_rename) so the
   * process table stays current (names of processes that lived only milliseconds included);
   * those the caller did not ask for are hidden from the consumer. Default: when decoding.
   */
  lifecycle?: boolean;
}

export interface LiveConsumer<T> {
  start?(): void;
  /** false ends the trace (ctx.stop()) */
  visit(e: EventView): boolean;
  finish(): T;
  /** is the consumer done without seeing more events (e.g. a watch called stop)? */
  readonly stopped?: boolean;
}

export type LiveEndReason = 'end' | 'stop' | 'duration' | 'signal';

export interface LiveResult<T> {
  result: T;
  info: LiveInfo;
  stats: EngineStats;
  /** events lost: the larger of the sub-buffer flags' count and the kernel's per-CPU stats */
  lost: number;
  /** the CPUs on which the kernel counted lost events, and why (empty when none were) */
  losses: CpuLoss[];
  reason: LiveEndReason;
  /** whether records were decoded and given to the consumer (see LiveOptions.decode) */
  decoded: boolean;
  /** records per event id when they were not decoded (empty when they were: the consumer saw each) */
  counts: Map<number, number>;
}
