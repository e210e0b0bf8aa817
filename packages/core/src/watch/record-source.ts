/**
 * An extra source of events for live sessions: what a BPF probe is to the session. Lives with
 * the watch API because a ProbeProvider hands sources out (LiveProbe.source); live sessions
 * (live/trace-live.ts) consume them. Core never imports the addon that implements them.
 */

/**
 * An event a record source produces: `tw:<name>` for a BPF probe. Its records decode with the
 * format `format(id)` returns: a format file in the kernel's syntax (`name:`, `ID:`, `format:`
 * with the four common fields first, then the payload's, then `print fmt:`), so
 * parseEventFormat reads it and recordings store it (trace-cmd report prints its fields).
 */
export interface SourceEvent {
  system: string;
  name: string;
  /**
   * The format text for the event id the session picked (see RecordSource). Called once per
   * session, before start(); the text's `ID:` must be `id`.
   */
  format(id: number): string;
}

/** Records of a source reach the session in batches, released when it is done with them. */
export type OnSourceBatch = (records: Uint8Array, release: () => void) => void;

/**
 * An extra source of events next to the kernel's ring buffers: a BPF probe's ring buffer (the
 * CLI wraps @tw/relay-native's openBpfProbe; core does not import the addon). The session
 * merges its records with the ftrace events in timestamp order, as the events it declares.
 *
 * Records: a batch is consecutive records in the host's byte order, each
 *   u64 ts   CLOCK_MONOTONIC ns (bpf_ktime_get_ns)   u32 cpu   u32 len
 *   len bytes: the 8-byte common header {u16 common_type, u8 flags, u8 preempt, s32 pid}, then
 *             the payload laid out as the event's format says (offsets from the common header)
 *   zeros up to the next multiple of 8 (the next record starts 8-byte aligned)
 * — @tw/relay-native's BPF batch layout. `common_type` is the index of the record's event in
 * `events` (0 for a source of one event); the session writes the event's id in its place.
 *
 * Event ids: the session picks each event's id from a range the kernel's events do not use
 * (0xff00 up, skipping any id the session's kernel events have) and hands it to `format(id)`.
 */
export interface RecordSource {
  /**
   * Unique in the session, [A-Za-z0-9_.-]+: the name of the trace buffer its events live in
   * (EventView.buffer, and the trace.dat buffer a recording stores them under), e.g. "bpf-open_write".
   */
  readonly name: string;
  /** the clock of the records' ts: CLOCK_MONOTONIC, the session's "mono" clock (no other is taken) */
  readonly clock: 'mono';
  readonly events: readonly SourceEvent[];
  /**
   * Start delivering. `onRound(drainedNs)` is a round as for SubBufferReader, but for all of
   * the source's CPUs at once: every record with a `ts` before `drainedNs` (CLOCK_MONOTONIC ns,
   * less a small margin for a record being written then) has been given to onBatch. The source
   * reports rounds at least every `latencyMs` it was made with, also when idle.
   */
  start(onBatch: OnSourceBatch, onError: (e: Error) => void, onRound: (drainedNs: number) => void): void;
  /**
   * Stop: hand over what is left (onBatch may still run), resolve after the last batch. May be
   * called more than once, and without start() (the session failed before starting it).
   */
  stop(): Promise<void>;
  /** per CPU (index = CPU number): records the source could not store (a full BPF ring buffer) */
  lost(): number[];
}
