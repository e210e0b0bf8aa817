/**
 * openBpfProbe: loads one BPF object through the addon (libbpf), attaches its programs and
 * reads its ring buffer. The pool of batches is one ArrayBuffer shared with C++; a batch is
 * a view (subarray, not a copy) of its slot, valid until release() hands the slot back.
 */
import { validateBpfOptions } from './bpf-options.js';
import { bpfStatus } from './bpf-status.js';
import type { BpfProbe, BpfProbeOptions, BpfProbeStats, BpfProgramInfo, OnBpfBatch, OnBpfRound } from './bpf-types.js';
import { loadNative, type BpfProbeHandle } from './load-native.js';
import { reportError } from './native-reader.js';

const noRelease = (): void => undefined;

type State = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Opens, loads and attaches the object synchronously (its programs run from now on; records
 * wait in the ring buffer until start()). Throws an Error with `code`:
 *  - BPF_UNAVAILABLE: no addon, an addon built without libbpf, no privilege, no kernel BTF
 *  - BPF_OPEN, BPF_PARAM, BPF_CONTRACT: the file, a parameter, the tw_events/tw_lost maps
 *  - BPF_VERIFIER: a program was rejected; `verifierLog` holds the verifier's last lines
 *    (also quoted in the message), `program` and `section` name it
 *  - BPF_LOAD: the kernel refused a program otherwise (`errno`: EPERM for program types it forbids)
 *  - BPF_ATTACH: a program could not be attached (`program`, `section`, `errno`)
 * Bad options throw before anything is loaded.
 */
export function openBpfProbe(opts: BpfProbeOptions): BpfProbe {
  const o = validateBpfOptions(opts);
  const status = bpfStatus();
  const binding = loadNative().binding;
  if (status !== true || binding?.BpfProbe === undefined) {
    throw Object.assign(new Error(`openBpfProbe: ${status === true ? 'the BPF backend is unavailable' : status}`), { code: 'BPF_UNAVAILABLE' });
  }
  const handle = new binding.BpfProbe(o);
  return new NativeBpfProbe(handle, o.object, o.batchBytes);
}

class NativeBpfProbe implements BpfProbe {
  readonly object: string;
  readonly attachPoints: readonly string[];
  readonly programs: readonly BpfProgramInfo[];
  private readonly handle: BpfProbeHandle;
  private readonly batchBytes: number;
  private state: State = 'idle';
  private done = false;
  private stopped: Promise<void> | undefined;
  private resolveStop: (() => void) | undefined;

  constructor(handle: BpfProbeHandle, object: string, batchBytes: number) {
    this.handle = handle;
    this.object = object;
    this.batchBytes = batchBytes;
    this.programs = handle.programs.map((p) => ({ name: p.name, section: p.section }));
    this.attachPoints = this.programs.map((p) => p.section);
  }

  start(onBatch: OnBpfBatch, onError: (e: Error) => void, onRound?: OnBpfRound): void {
    if (onRound !== undefined && typeof onRound !== 'function') throw new TypeError('openBpfProbe: start(): onRound must be a function');
    if (this.state !== 'idle') throw new Error(`openBpfProbe: start() on a probe that is ${this.state}`);
    const { handle, batchBytes } = this;
    const pool = handle.pool;
    handle.start(
      (slot, bytes, records, extra) => {
        let data: Uint8Array;
        let release: () => void;
        if (extra !== undefined) {
          // a copy (the pool was full during the final drain, or one record bigger than a batch)
          data = new Uint8Array(extra);
          release = noRelease;
        } else {
          data = new Uint8Array(pool, slot * batchBytes, bytes);
          let held = true;
          release = () => {
            if (!held) return;
            held = false;
            handle.release(slot);
          };
        }
        try {
          onBatch(data, release, records);
        } catch (e) {
          reportError(onError, e, 'onBatch threw');
        }
      },
      (e) => reportError(onError, e, 'BPF reader error'),
      () => {
        this.done = true;
        this.state = 'stopped';
        this.resolveStop?.();
      },
      ...(onRound === undefined
        ? []
        : [
            (drainedNs: number) => {
              try {
                onRound(drainedNs);
              } catch (e) {
                reportError(onError, e, 'onRound threw');
              }
            },
          ]),
    );
    this.state = 'running';
  }

  stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    if (this.state === 'idle' || this.done) {
      this.state = 'stopped';
      this.handle.stop();
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

  lost(): number[] {
    return this.handle.lost();
  }

  stats(): BpfProbeStats {
    return this.handle.stats();
  }

  setParams(params: Readonly<Record<string, number | bigint | string | boolean>>): void {
    this.handle.setParams(params);
  }
}
