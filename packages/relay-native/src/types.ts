/**
 * The reader interface every backend implements: whole ring-buffer sub-buffers (the
 * kernel's bytes as laid out in trace_pipe_raw: u64 timestamp, commit word, records) handed
 * to JS one at a time, from a bounded pool per CPU, until stop() has drained the kernel
 * buffers. Nothing here decodes events.
 */

export type Backend = 'mmap' | 'read' | 'js';

export interface OpenOptions {
  /** absolute path of the tracefs instance directory */
  instance: string;
  /** CPUs to read */
  cpus: readonly number[];
  /** bytes per sub-buffer (instance's buffer_subbuf_size_kb * 1024 when that file exists, else the page size) */
  subbufSize: number;
  /** default 'auto' */
  backend?: Backend | 'auto';
  /** sub-buffers per CPU in the pool (default 64) */
  poolSize?: number;
  /** default 50 */
  latencyMs?: number;
  /**
   * native backends: run the reader threads at SCHED_FIFO priority 1 when the process may
   * (CAP_SYS_NICE), else 10 nice levels above the process, as without it (default false)
   */
  realtime?: boolean;
}

export interface RingReader {
  readonly backend: Backend;
  /** why faster backends were not used (undefined when the preferred one runs) */
  readonly fallbackReason: string | undefined;
  /**
   * Start reading. onData is called on the JS thread with one whole sub-buffer; data is valid
   * until release(). onRound (optional) is called after a CPU's reader round caught up with the
   * kernel's writer: every event that CPU recorded before `drainedNs` (CLOCK_MONOTONIC, ns —
   * the trace clock "mono") has been handed to onData by then. Rounds happen at least every
   * latencyMs, also when there is nothing to read, so a consumer can merge CPUs by timestamp
   * up to the smallest of them.
   */
  start(onData: OnData, onError: OnError, onRound?: OnRound): void;
  /**
   * What each CPU's reader did so far (any time, also after stop()): the numbers that say why
   * a CPU lost events — tw fell behind (poolWaits), or the reader ran late (maxRound near the
   * ring's size in sub-buffers without a pool wait).
   */
  stats(): ReaderStats[];
  /** wake the readers, hand over everything still in the kernel buffers (partial sub-buffers too), stop; resolves when every onData has been delivered */
  stop(): Promise<void>;
}

export interface ReaderStats {
  cpu: number;
  /** reader rounds that took at least one sub-buffer */
  rounds: number;
  /** the most sub-buffers one round took: how far the ring had filled before the reader got to it */
  maxRound: number;
  /** how often every pool slot was out, so the reader had to wait for the consumer to release one */
  poolWaits: number;
  /** the time spent in those waits, ns (the JS reader: from finding the pool empty to its next read) */
  poolWaitNs: number;
}

/** Options after validation, defaults filled in. */
export interface ResolvedOptions {
  instance: string;
  cpus: number[];
  subbufSize: number;
  backend: Backend | 'auto';
  poolSize: number;
  latencyMs: number;
  realtime: boolean;
}

export type OnData = (cpu: number, data: Uint8Array, release: () => void) => void;
export type OnError = (e: Error) => void;
export type OnRound = (cpu: number, drainedNs: number) => void;
