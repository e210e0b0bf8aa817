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
  /** wake the readers, hand over everything still in the kernel buffers (partial sub-buffers too), stop; resolves when every onData has been delivered */
  stop(): Promise<void>;
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
