/**
 * Picks the backend: the addon's read() reader, else its mmap reader, else the pure-JS
 * reader, and says in `fallbackReason` why a preferred one was not used.
 *
 * read() comes first because it measured cheaper: on kernel 6.18 (bench/live.sh, docs/
 * performance.md) the mmap reader's TRACE_MMAP_IOCTL_GET_READER costs more per sub-buffer
 * than read()'s copy of it, and at the highest rates it lost events where read() did not.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { JsRingReader, errnoError } from './js-reader.js';
import { loadNative } from './load-native.js';
import { NativeRingReader } from './native-reader.js';
import { instanceSubbufSize, listCpus, rawPipePath } from './paths.js';
import type { Backend, OpenOptions, RingReader } from './types.js';
import { validateOptions } from './validate.js';

/**
 * What 'auto' tries, in order — the one place that says it (doctor and --help read it here).
 * read() first: it measured cheaper than mmap (see the top of this file); the JS reader last,
 * where the addon cannot load.
 */
export const READER_ORDER: readonly Backend[] = ['read', 'mmap', 'js'];

/**
 * Opens a reader on the instance's per-CPU buffers (nothing is read before start()).
 * 'auto' (the default) tries the backends in READER_ORDER; naming a backend insists on it. Errors that no backend can get around (a missing CPU, no permission) are thrown
 * as they are, naming the file and the errno.
 */
export function openRingReader(opts: OpenOptions): RingReader {
  const o = validateOptions(opts);
  if (o.backend === 'js') return new JsRingReader(o, undefined);
  const native = loadNative();
  if (!native.binding) {
    if (o.backend === 'auto') return new JsRingReader(o, native.reason);
    throw new Error(`openRingReader: backend '${o.backend}' needs the native addon: ${native.reason ?? 'not loaded'}`);
  }
  if (o.backend !== 'auto') return new NativeRingReader(native.binding, o, o.backend, undefined);
  const tried: string[] = [];
  for (const b of READER_ORDER) {
    if (b === 'js') return new JsRingReader(o, tried.join('; '));
    try {
      return new NativeRingReader(native.binding, o, b, tried.length > 0 ? tried.join('; ') : undefined);
    } catch (e) {
      // the file itself cannot be opened: no other backend would do better
      if ((e as NodeJS.ErrnoException).syscall === 'open') throw e;
      tried.push(`${b}: ${(e as Error).message}`);
    }
  }
  throw new Error(`openRingReader: no reader works here (${tried.join('; ')})`);
}

/** The backend 'auto' takes, given which backends work (see probeBackends). */
export function autoReader(works: Readonly<Record<Backend, true | string>>): Backend | undefined {
  return READER_ORDER.find((b) => works[b] === true);
}

/**
 * Which backends work for this instance (tried on one CPU, `cpu` or the first one): true,
 * or the reason it does not. Nothing is consumed from the buffer.
 */
export async function probeBackends(instance: string, cpu?: number): Promise<Record<Backend, true | string>> {
  const c = cpu ?? listCpus(instance)[0] ?? 0;
  if (!Number.isInteger(c) || c < 0) throw new Error(`probeBackends: cpu must be a non-negative integer, got ${String(cpu)}`);
  const path = rawPipePath(instance, c);
  const subbuf = instanceSubbufSize(instance) ?? 4096;
  let js: true | string = true;
  try {
    closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
  } catch (e) {
    js = errnoError(`cannot open ${path}`, e, path).message;
  }
  const native = loadNative();
  if (!native.binding) {
    const why = native.reason ?? 'the native addon is not loaded';
    return { mmap: why, read: why, js };
  }
  const r = native.binding.probe(path, subbuf);
  return { mmap: r.mmap, read: r.read, js };
}
