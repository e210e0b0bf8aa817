/**
 * The pure-JS fallback reader (backend 'js'): no addon, no threads. Every latencyMs a timer
 * reads each CPU's trace_pipe_raw (opened O_RDONLY|O_NONBLOCK) one sub-buffer at a time until
 * EAGAIN, into a bounded pool of sub-buffers per CPU, exactly as the native reader hands
 * them over. The reads are synchronous but never block: the kernel answers at once.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { reportError } from './native-reader.js';
import type { OnData, OnError, OnRound, ReaderStats, ResolvedOptions, RingReader } from './types.js';
import { rawPipePath, instanceBufferKb } from './paths.js';

type State = 'idle' | 'running' | 'stopped';

/** The data length in a sub-buffer's commit word (the rest are lost-event flags). */
const COMMIT_LENGTH_MASK = (1 << 27) - 1;
/** Sub-buffers in one round that mean "there is a backlog": poll again at once. */
const BUSY_ROUND = 4;

interface CpuPipe {
  cpu: number;
  path: string;
  fd: number;
  /** one block for the whole pool (zero pages until written); slots are views of it, made on first use */
  block: Uint8Array;
  slots: Array<Uint8Array | undefined>;
  free: number[];
  /** sub-buffers the final drain may still take (the ring's size, with room to spare) */
  drainLimit: number;
  failed: boolean;
  /** see ReaderStats; waitingSince: when a drain last found every slot out (undefined: not waiting) */
  rounds: number;
  maxRound: number;
  poolWaits: number;
  poolWaitNs: number;
  waitingSince: number | undefined;
}

export class JsRingReader implements RingReader {
  readonly backend = 'js' as const;
  readonly fallbackReason: string | undefined;
  private readonly pipes: CpuPipe[] = [];
  private readonly o: ResolvedOptions;
  private state: State = 'idle';
  private timer: NodeJS.Timeout | undefined;
  private onData: OnData | undefined;
  private onError: OnError | undefined;
  private onRound: OnRound | undefined;
  private stopped: Promise<void> | undefined;
  private soon = false;

  /** Opens every CPU's trace_pipe_raw; throws an Error naming the file if one cannot be. */
  constructor(o: ResolvedOptions, fallbackReason: string | undefined) {
    this.o = o;
    this.fallbackReason = fallbackReason;
    const kb = instanceBufferKb(o.instance);
    try {
      for (const cpu of o.cpus) {
        const path = rawPipePath(o.instance, cpu);
        let fd: number;
        try {
          fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
        } catch (e) {
          throw errnoError(`cannot open ${path}`, e, path);
        }
        const block = new Uint8Array(o.poolSize * o.subbufSize);
        const slots = new Array<Uint8Array | undefined>(o.poolSize);
        const free = Array.from({ length: o.poolSize }, (_, s) => o.poolSize - 1 - s);
        const drainLimit = kb !== undefined ? Math.floor((kb * 1024) / o.subbufSize) * 2 + 8 : 65_536;
        this.pipes.push({ cpu, path, fd, block, slots, free, drainLimit, failed: false, rounds: 0, maxRound: 0, poolWaits: 0, poolWaitNs: 0, waitingSince: undefined });
      }
    } catch (e) {
      this.closeAll();
      throw e;
    }
  }

  start(onData: OnData, onError: OnError, onRound?: OnRound): void {
    if (this.state !== 'idle') throw new Error(`relay-native: start() on a reader that is ${this.state}`);
    this.state = 'running';
    this.onData = onData;
    this.onError = onError;
    this.onRound = onRound;
    this.timer = setInterval(() => this.pollAll(), this.o.latencyMs);
    setImmediate(() => this.pollAll());
  }

  stats(): ReaderStats[] {
    return this.pipes.map(({ cpu, rounds, maxRound, poolWaits, poolWaitNs }) => ({ cpu, rounds, maxRound, poolWaits, poolWaitNs }));
  }

  stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    // a wait for the consumer that was still on ends here (the final drain does not wait)
    const now = Number(process.hrtime.bigint());
    for (const p of this.pipes) {
      if (p.waitingSince !== undefined) p.poolWaitNs += now - p.waitingSince;
      p.waitingSince = undefined;
    }
    // hand over what the kernel still holds, partial sub-buffers included, then close
    if (wasRunning) for (const p of this.pipes) this.drain(p, true);
    this.closeAll();
    this.stopped = Promise.resolve();
    return this.stopped;
  }

  private pollAll(): void {
    this.soon = false;
    if (this.state !== 'running') return;
    let busy = false;
    for (const p of this.pipes) if (this.drain(p, false) >= BUSY_ROUND) busy = true;
    // a backlog: come back as soon as the event loop has had its turn, not a whole tick later
    if (busy && !this.soon) {
      this.soon = true;
      setImmediate(() => this.pollAll());
    }
  }

  /** Hands over what the CPU's buffer holds; returns how many sub-buffers that was. */
  private drain(p: CpuPipe, final: boolean): number {
    if (p.failed || p.fd < 0) return 0;
    const taken = this.drainRound(p, final);
    if (taken > 0) {
      p.rounds++;
      if (taken > p.maxRound) p.maxRound = taken;
    }
    return taken;
  }

  private drainRound(p: CpuPipe, final: boolean): number {
    let taken = 0;
    let partials = 0;
    // the end of a round that caught up: every event before the last read's start is handed over
    const caughtUpAt = (t: number): number => {
      if (!final && this.onRound !== undefined) {
        try {
          this.onRound(p.cpu, t);
        } catch (e) {
          reportError(this.onError!, e, `onRound threw for CPU ${p.cpu}`);
        }
      }
      return taken;
    };
    for (;;) {
      if (final && taken >= p.drainLimit) return taken;
      const slot = p.free.pop();
      let buf: Uint8Array;
      if (slot !== undefined) buf = p.slots[slot] ??= p.block.subarray(slot * this.o.subbufSize, (slot + 1) * this.o.subbufSize);
      else if (final) buf = new Uint8Array(this.o.subbufSize); // the pool is out: the drain must not wait for a release
      else {
        // back-pressure: the kernel buffer holds the rest until a slot comes back
        if (p.waitingSince === undefined) {
          p.poolWaits++;
          p.waitingSince = Number(process.hrtime.bigint());
        }
        return taken;
      }
      if (slot !== undefined && p.waitingSince !== undefined) {
        p.poolWaitNs += Number(process.hrtime.bigint()) - p.waitingSince;
        p.waitingSince = undefined;
      }
      let n: number;
      const before = Number(process.hrtime.bigint());
      try {
        n = readSync(p.fd, buf, 0, buf.length, null);
      } catch (e) {
        if (slot !== undefined) p.free.push(slot);
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return caughtUpAt(before);
        if ((e as NodeJS.ErrnoException).code === 'EINTR') continue;
        p.failed = true;
        const err = errnoError(`cannot read ${p.path}`, e, p.path);
        (err as Error & { cpu?: number }).cpu = p.cpu;
        reportError(this.onError!, err, 'read');
        return taken;
      }
      if (n <= 0) {
        if (slot !== undefined) p.free.push(slot);
        return caughtUpAt(before);
      }
      if (n < buf.length) buf.fill(0, n);
      taken++;
      let released = slot === undefined;
      const release = (): void => {
        if (released) return;
        released = true;
        p.free.push(slot!);
      };
      // Less than half full: the kernel's write page (we caught up), or the rest of a page
      // taken in part last round (more may follow). One more read tells: nothing → this CPU is
      // read up to now; a second part-filled one in a row → we are at the writer, and reading on
      // would hand over a few records per sub-buffer: the next tick takes what follows.
      const partial = (new DataView(buf.buffer, buf.byteOffset, 16).getUint32(8, true) & COMMIT_LENGTH_MASK) < (buf.length - 16) / 2;
      partials = partial ? partials + 1 : 0;
      try {
        this.onData!(p.cpu, buf, release);
      } catch (e) {
        reportError(this.onError!, e, `onData threw for CPU ${p.cpu}`);
      }
      if (partials >= 2 && !final) return taken;
    }
  }

  private closeAll(): void {
    for (const p of this.pipes) {
      if (p.fd >= 0) {
        try {
          closeSync(p.fd);
        } catch {
          // already gone
        }
        p.fd = -1;
      }
    }
  }
}

/** An Error like the addon's: "<what>: <strerror> (<CODE>)", with code, errno, syscall, path. */
export function errnoError(what: string, e: unknown, path: string): Error {
  const ne = e as NodeJS.ErrnoException;
  const text = ne.code ? `${describeErrno(ne)} (${ne.code})` : String(ne.message ?? e);
  const err = new Error(`${what}: ${text}`, { cause: e }) as NodeJS.ErrnoException;
  if (ne.code !== undefined) err.code = ne.code;
  if (ne.errno !== undefined) err.errno = ne.errno;
  if (ne.syscall !== undefined) err.syscall = ne.syscall;
  err.path = path;
  return err;
}

/** Node's "ENOENT: no such file or directory, open '…'" → "No such file or directory". */
function describeErrno(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(e.message);
  const s = m?.[1] ?? e.message;
  return s.charAt(0).toUpperCase() + s.slice(1);
}
