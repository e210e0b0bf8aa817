/**
 * Finds the addon: a prebuilt binary for this platform, then the one `npm install` built
 * (build/Release). When neither loads, the pure-JS reader is used, and `reason` says why,
 * once, for every reader that falls back. TW_RELAY_NATIVE=0 skips the addon on purpose.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReaderStats } from './types.js';

/** The addon as TS sees it (native/addon.cc). */
export interface NativeBinding {
  readonly abiVersion: number;
  /** true when built with libbpf, else why not */
  readonly bpf: true | string;
  /** libbpf's version ("v1.1"), when built with it */
  readonly libbpfVersion?: string;
  /** present when `bpf` is true (native/bpf-probe.cc) */
  readonly BpfProbe?: new (opts: {
    object: string;
    params: Record<string, number | bigint | string | boolean>;
    poolSize: number;
    batchBytes: number;
    latencyMs: number;
  }) => BpfProbeHandle;
  /** present when `bpf` is true (native/bpf-program-types.cc): per program type, true or why it does not load */
  readonly bpfProgramTypes?: () => Record<string, true | string>;
  probe(rawPipePath: string, subbufSize: number): { mmap: true | string; read: true | string };
  NativeReader: new (opts: {
    instance: string;
    cpus: number[];
    subbufSize: number;
    poolSize: number;
    latencyMs: number;
    backend: 'mmap' | 'read';
    /** SCHED_FIFO reader threads; absent: false (the addon accepts it absent) */
    realtime?: boolean;
  }) => NativeReaderHandle;
}

export interface NativeReaderHandle {
  /** one ArrayBuffer per CPU (in `cpus` order), poolSize slots of subbufSize bytes */
  readonly pools: ArrayBuffer[];
  readonly backend: 'mmap' | 'read';
  /** a delivery's pool slots (the first `count` entries), written by the addon before onData */
  readonly batch: Int32Array;
  /** slots given back by releaseMany(cpuIndex, count) (the first `count` entries) */
  readonly released: Int32Array;
  start(
    /** count slots in `batch`, or 0 with `extra` (a final-drain copy); drainedNs: a round's end, or -1 */
    onData: (cpuIndex: number, count: number, drainedNs: number, extra?: ArrayBuffer) => void,
    onError: (e: Error) => void,
    onDone: () => void,
  ): void;
  stop(): void;
  release(cpuIndex: number, slot: number): boolean;
  releaseMany(cpuIndex: number, count: number): boolean;
  close(): void;
  /** per CPU index (see ReaderStats; `cpu` is added by the wrapper) */
  stats(): Array<Omit<ReaderStats, 'cpu'>>;
}

export interface BpfProbeHandle {
  /** poolSize batches of batchBytes bytes */
  readonly pool: ArrayBuffer;
  /** the programs, attached */
  readonly programs: Array<{ name: string; section: string }>;
  start(
    /** a batch: `bytes` bytes at slot × batchBytes in `pool`, or `extra` (a copy) when slot is -1 */
    onBatch: (slot: number, bytes: number, records: number, extra?: ArrayBuffer) => void,
    onError: (e: Error) => void,
    onDone: () => void,
    /** rounds on the latency grid, each after the batch it ends (see BpfProbe.start) */
    onRound?: (drainedNs: number) => void,
  ): void;
  stop(): void;
  release(slot: number): boolean;
  lost(): number[];
  stats(): BpfProbeNativeStats;
  setParams(params: Readonly<Record<string, number | bigint | string | boolean>>): void;
}

export interface BpfProbeNativeStats {
  records: number;
  batches: number;
  bytes: number;
  malformed: number;
  poolWaits: number;
  poolWaitNs: number;
  wakeups: number;
}

export interface NativeStatus {
  binding: NativeBinding | undefined;
  /** the file that loaded */
  path: string | undefined;
  /** why the addon is not used (undefined when it loaded) */
  reason: string | undefined;
}

const ABI_VERSION = 7;
const ADDON = 'tw_relay_native.node';
let cached: NativeStatus | undefined;

/** Loads the addon once per process. */
export function loadNative(): NativeStatus {
  cached ??= tryLoad();
  return cached;
}

function tryLoad(): NativeStatus {
  const env = process.env['TW_RELAY_NATIVE'];
  if (env === '0' || env === 'off' || env === 'js') {
    return { binding: undefined, path: undefined, reason: `the native addon is disabled by TW_RELAY_NATIVE=${env}` };
  }
  if (process.platform !== 'linux') {
    return { binding: undefined, path: undefined, reason: `the native addon is for Linux (this is ${process.platform})` };
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const require = createRequire(import.meta.url);
  const candidates = [join(root, 'prebuilds', `${process.platform}-${process.arch}`, ADDON), join(root, 'build', 'Release', ADDON)];
  const tried: string[] = [];
  for (const file of candidates) {
    const shown = relative(root, file);
    if (!existsSync(file)) {
      tried.push(`${shown}: not built`);
      continue;
    }
    try {
      const binding = require(file) as NativeBinding;
      if (binding.abiVersion !== ABI_VERSION) {
        tried.push(`${shown}: built from another version (abi ${String(binding.abiVersion)}, want ${ABI_VERSION}); run npm rebuild`);
        continue;
      }
      return { binding, path: file, reason: undefined };
    } catch (e) {
      tried.push(`${shown}: ${(e as Error).message.split('\n')[0] ?? ''}`);
    }
  }
  return { binding: undefined, path: undefined, reason: `the native addon could not be loaded (${tried.join('; ')})` };
}
