/**
 * A BPF probe as JS sees it: one object file loaded and attached through libbpf, its
 * `tw_events` ring buffer read by a thread of the addon, records handed over in batches.
 *
 * A batch is consecutive records, each as the program wrote it and padded to 8 bytes:
 *
 *   offset 0   u64 ts    bpf_ktime_get_ns() (CLOCK_MONOTONIC, ns)
 *   offset 8   u32 cpu
 *   offset 12  u32 len   bytes that follow (the 8-byte common header, then the payload)
 *   offset 16  len bytes
 *   then zeros up to the next multiple of 8: the next record starts at 16 + len rounded up to 8
 *
 * All fields are in the machine's byte order (the object was compiled for it). The loader
 * checks only that `len` fits the ring buffer record; it never looks at the bytes.
 */

export type BpfParamValue = number | bigint | string | boolean;

export interface BpfProbeOptions {
  /** path of the BPF object file (clang -target bpf -g -O2) */
  object: string;
  /**
   * values of the object's `const volatile` globals tw_param_<name>, set before load, by
   * <name>: integers (number or bigint) and booleans for integer/bool variables, strings for
   * char arrays (NUL-terminated, must fit). Unknown names and values that do not fit are refused.
   */
  params?: Readonly<Record<string, BpfParamValue>>;
  /** batches in the pool (default 16): with all of them held by JS, the reader waits */
  poolSize?: number;
  /** bytes per batch, a multiple of 8 (default 65536) */
  batchBytes?: number;
  /** a batch with records in it is handed over at most this long after its first record (default 50) */
  latencyMs?: number;
}

/**
 * Called on the JS thread with one batch. `data` is a view into the pool, valid until
 * release(); `records` is how many records it holds.
 */
export type OnBpfBatch = (data: Uint8Array, release: () => void, records: number) => void;

/** A round of the reader (see BpfProbe.start): every record committed before drainedNs is in. */
export type OnBpfRound = (drainedNs: number) => void;

export interface BpfProgramInfo {
  /** the program's function name */
  name: string;
  /** its ELF section, which names the attach point ("tracepoint/syscalls/sys_enter_getppid") */
  section: string;
}

export interface BpfProbeStats {
  /** records handed over (or being batched) */
  records: number;
  batches: number;
  bytes: number;
  /** ring buffer records too short for their own `len` (dropped) */
  malformed: number;
  /** how often every batch was held by JS so the reader had to wait */
  poolWaits: number;
  /** the time spent in those waits, ns */
  poolWaitNs: number;
  /** times the reader thread woke up */
  wakeups: number;
}

export interface BpfProbe {
  /** the object file, as an absolute path */
  readonly object: string;
  /** every program's section (its attach point), attached since openBpfProbe returned */
  readonly attachPoints: readonly string[];
  readonly programs: readonly BpfProgramInfo[];
  /**
   * Start handing batches to onBatch; errors of the reader thread go to onError.
   *
   * With `onRound`, the reader also reports rounds: it wakes on a grid of `latencyMs` on the
   * monotonic clock (the per-CPU readers' grid) and, when a read of the ring buffer there found
   * nothing more, hands over its batch and then calls `onRound(drainedNs)`: every record
   * committed to the ring buffer before `drainedNs` (CLOCK_MONOTONIC ns, the time just before
   * that read) has been given to onBatch. The ring buffer is shared by every CPU, so a round
   * covers them all; a record whose program was still writing it at that time (its `ts` taken,
   * not yet submitted) comes later, so a consumer ordering by `ts` allows a small margin.
   * Rounds come also when nothing was recorded (an idle probe then wakes every `latencyMs`);
   * without onRound an idle probe sleeps until a record comes.
   */
  start(onBatch: OnBpfBatch, onError: (e: Error) => void, onRound?: OnBpfRound): void;
  /**
   * Detach every program, hand over what the ring buffer still holds, close the object.
   * Resolves after the last onBatch. Nothing of the probe is left in the kernel then.
   */
  stop(): Promise<void>;
  /** records the programs could not reserve ring buffer room for, per possible CPU (tw_lost) */
  lost(): number[];
  stats(): BpfProbeStats;
  /**
   * Change live parameters (the object's `volatile` tw_param_<name> globals in .data) while the
   * programs run; the next event sees them. A fixed (const, .rodata) or unknown name, or a value
   * that does not fit, throws (code BPF_PARAM); so does a stopped probe.
   */
  setParams(params: Readonly<Record<string, number | bigint | string | boolean>>): void;
}
