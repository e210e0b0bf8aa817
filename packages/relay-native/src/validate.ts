/**
 * Checks openRingReader's options before anything touches the kernel, with errors that say
 * which option is wrong and why. The addon checks them again (it may be called directly).
 */
import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { instanceSubbufSize } from './paths.js';
import type { OpenOptions, ResolvedOptions } from './types.js';

export const DEFAULT_POOL_SIZE = 64;
export const DEFAULT_LATENCY_MS = 50;
export const MIN_SUBBUF = 4096;
/** the commit word keeps 27 bits of data length */
export const MAX_SUBBUF = 2 ** 27;
export const MAX_POOL_SIZE = 65_536;
export const MAX_POOL_BYTES = 2 ** 30;
export const MAX_LATENCY_MS = 60_000;
const BACKENDS = ['auto', 'mmap', 'read', 'js'] as const;

function fail(msg: string): never {
  throw new Error(`openRingReader: ${msg}`);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** Validates the options and fills in the defaults. Throws an Error naming the bad option. */
export function validateOptions(opts: OpenOptions): ResolvedOptions {
  if (typeof opts !== 'object' || opts === null) fail('options must be an object');

  const { instance } = opts;
  if (typeof instance !== 'string' || instance === '') fail('instance must be the path of a tracefs instance directory');
  if (!isAbsolute(instance)) fail(`instance must be an absolute path, got '${instance}'`);
  if (instance.includes('\0')) fail('instance contains a NUL byte');
  let st;
  try {
    st = statSync(instance);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? `instance directory ${instance} does not exist` : `cannot access instance directory ${instance}: ${(e as Error).message}`);
  }
  if (!st.isDirectory()) fail(`instance ${instance} is not a directory`);
  try {
    statSync(join(instance, 'per_cpu'));
  } catch {
    fail(`${instance} is not a tracefs instance (it has no per_cpu/ directory)`);
  }

  const { cpus } = opts;
  if (!Array.isArray(cpus)) fail('cpus must be an array of CPU numbers');
  if (cpus.length === 0) fail('cpus is empty: give at least one CPU to read');
  const seen = new Set<number>();
  for (const [i, c] of cpus.entries()) {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= 65_536) fail(`cpus[${i}] must be a non-negative integer CPU number, got ${String(c)}`);
    if (seen.has(c)) fail(`CPU ${c} is listed twice in cpus`);
    seen.add(c);
  }

  const { subbufSize } = opts;
  if (typeof subbufSize !== 'number' || !Number.isInteger(subbufSize)) fail(`subbufSize must be an integer number of bytes, got ${String(subbufSize)}`);
  if (subbufSize < MIN_SUBBUF || subbufSize > MAX_SUBBUF || !isPowerOfTwo(subbufSize))
    fail(`subbufSize must be a power of two from ${MIN_SUBBUF} to ${MAX_SUBBUF}, got ${subbufSize}`);
  const kernelSubbuf = instanceSubbufSize(instance);
  if (kernelSubbuf !== undefined && kernelSubbuf !== subbufSize)
    fail(`subbufSize ${subbufSize} does not match the instance's sub-buffer size (${kernelSubbuf} bytes, from buffer_subbuf_size_kb)`);

  const backend = opts.backend ?? 'auto';
  if (!(BACKENDS as readonly string[]).includes(backend)) fail(`backend must be one of ${BACKENDS.join(', ')}, got '${String(backend)}'`);

  const poolSize = opts.poolSize ?? DEFAULT_POOL_SIZE;
  if (typeof poolSize !== 'number' || !Number.isInteger(poolSize) || poolSize < 1 || poolSize > MAX_POOL_SIZE)
    fail(`poolSize must be an integer from 1 to ${MAX_POOL_SIZE}, got ${String(poolSize)}`);
  if (poolSize * subbufSize > MAX_POOL_BYTES) fail(`poolSize × subbufSize is ${poolSize * subbufSize} bytes per CPU, more than 1 GiB`);

  const latencyMs = opts.latencyMs ?? DEFAULT_LATENCY_MS;
  if (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs) || latencyMs < 1 || latencyMs > MAX_LATENCY_MS)
    fail(`latencyMs must be a number of milliseconds from 1 to ${MAX_LATENCY_MS}, got ${String(latencyMs)}`);

  const realtime = opts.realtime ?? false;
  if (typeof realtime !== 'boolean') fail(`realtime must be a boolean, got ${String(realtime)}`);

  return { instance: instance.replace(/\/+$/, '') || '/', cpus: [...cpus], subbufSize, backend, poolSize, latencyMs: Math.ceil(latencyMs), realtime };
}
