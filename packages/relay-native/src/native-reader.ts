/**
 * The addon's reader (backends 'mmap' and 'read') behind the RingReader interface. Each CPU's
 * pool is one ArrayBuffer shared with C++; a delivery names a slot, and `data` is a view
 * (subarray, not a copy) of that slot, valid until release() hands the slot back.
 */
import type { NativeBinding, NativeReaderHandle } from './load-native.js';
import type { OnData, OnError, OnRound, ReaderStats, ResolvedOptions, RingReader } from './types.js';

const noRelease = (): void => undefined;

type State = 'idle' | 'running' | 'stopping' | 'stopped';

export class NativeRingReader implements RingReader {
  readonly backend: 'mmap' | 'read';
  readonly fallbackReason: string | undefined;
  private readonly handle: NativeReaderHandle;
  private readonly views: Array<Array<Uint8Array | undefined>>;
  private readonly subbufSize: number;
  private readonly cpus: number[];
  private state: State = 'idle';
  /** every thread has finished and every delivery ran (after stop(), or after all of them failed) */
  private done = false;
  private stopped: Promise<void> | undefined;
  private resolveStop: (() => void) | undefined;

  /** Opens (and for mmap, maps) every CPU's trace_pipe_raw; throws if any cannot be. */
  constructor(binding: NativeBinding, o: ResolvedOptions, backend: 'mmap' | 'read', fallbackReason: string | undefined) {
    this.backend = backend;
    this.fallbackReason = fallbackReason;
    this.cpus = o.cpus;
    this.handle = new binding.NativeReader({
      instance: o.instance,
      cpus: o.cpus,
      subbufSize: o.subbufSize,
      poolSize: o.poolSize,
      latencyMs: o.latencyMs,
      backend,
      realtime: o.realtime,
    });
    // one view per slot, made the first time the slot is delivered and kept: a delivery
    // allocates nothing once the slots it uses have been seen, and a large pool whose far
    // slots are never needed costs no objects
    this.subbufSize = o.subbufSize;
    this.views = this.handle.pools.map(() => new Array<Uint8Array | undefined>(o.poolSize));
  }

  start(onData: OnData, onError: OnError, onRound?: OnRound): void {
    if (this.state !== 'idle') throw new Error(`relay-native: start() on a reader that is ${this.state}`);
    const { handle, views, cpus } = this;
    const { batch, released } = handle;
    const maxReleased = released.length;
    // which slots JS holds, and one release function per slot, made once: a delivery allocates nothing
    const out = views.map((v) => new Uint8Array(v.length));
    // releases made while a delivery is dispatched go back in one call afterwards
    let dispatching = -1;
    let nReleased = 0;
    const flushReleased = (cpuIndex: number): void => {
      if (nReleased > 0) handle.releaseMany(cpuIndex, nReleased);
      nReleased = 0;
    };
    const releaser = (cpuIndex: number, slot: number) => (): void => {
      const held = out[cpuIndex]!;
      if (held[slot] === 0) return;
      held[slot] = 0;
      if (dispatching !== cpuIndex) {
        handle.release(cpuIndex, slot);
        return;
      }
      released[nReleased++] = slot;
      if (nReleased === maxReleased) flushReleased(cpuIndex);
    };
    const releasers = views.map((v) => new Array<(() => void) | undefined>(v.length));
    const { subbufSize } = this;
    const pools = handle.pools;
    handle.start(
      (cpuIndex, count, drainedNs, extra) => {
        const cpu = cpus[cpuIndex] ?? -1;
        if (extra !== undefined) {
          // a final-drain sub-buffer that found the pool full: its own copy, nothing to give back
          try {
            onData(cpu, new Uint8Array(extra), noRelease);
          } catch (e) {
            reportError(onError, e, `onData threw for CPU ${cpu}`);
          }
        } else if (count > 0) {
          const held = out[cpuIndex]!;
          const cpuViews = views[cpuIndex]!;
          const cpuReleasers = releasers[cpuIndex]!;
          dispatching = cpuIndex;
          try {
            for (let i = 0; i < count; i++) {
              const slot = batch[i]!;
              held[slot] = 1;
              const view = (cpuViews[slot] ??= new Uint8Array(pools[cpuIndex]!, slot * subbufSize, subbufSize));
              const release = (cpuReleasers[slot] ??= releaser(cpuIndex, slot));
              try {
                onData(cpu, view, release);
              } catch (e) {
                reportError(onError, e, `onData threw for CPU ${cpu}`);
              }
            }
          } finally {
            dispatching = -1;
            flushReleased(cpuIndex);
          }
        }
        if (drainedNs >= 0 && onRound !== undefined) {
          try {
            onRound(cpu, drainedNs);
          } catch (e) {
            reportError(onError, e, `onRound threw for CPU ${cpu}`);
          }
        }
      },
      (e) => reportError(onError, e, 'reader error'),
      () => {
        this.done = true;
        this.state = 'stopped';
        this.resolveStop?.();
      },
    );
    this.state = 'running';
  }

  stats(): ReaderStats[] {
    return this.handle.stats().map((s, i) => ({ cpu: this.cpus[i] ?? -1, ...s }));
  }

  stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    if (this.state === 'idle') {
      this.state = 'stopped';
      this.handle.close();
      this.stopped = Promise.resolve();
      return this.stopped;
    }
    if (this.done) {
      this.stopped = Promise.resolve();
      return this.stopped;
    }
    this.stopped = new Promise<void>((resolve) => {
      this.resolveStop = resolve;
    });
    this.state = 'stopping';
    this.handle.stop();
    return this.stopped;
  }
}

export function reportError(onError: OnError, e: unknown, what: string): void {
  try {
    onError(e instanceof Error ? e : new Error(`relay-native: ${what}: ${String(e)}`));
  } catch (again) {
    // an onError that throws has nowhere left to report to but the process
    queueMicrotask(() => {
      throw again;
    });
  }
}
