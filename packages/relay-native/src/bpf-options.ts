/**
 * Checks openBpfProbe's options before anything is loaded, with errors that say which option
 * is wrong and why. The addon checks them again (it may be called directly).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BpfParamValue, BpfProbeOptions } from './bpf-types.js';

export const BPF_DEFAULT_POOL_SIZE = 16;
export const BPF_DEFAULT_BATCH_BYTES = 65_536;
export const BPF_DEFAULT_LATENCY_MS = 50;
export const BPF_MIN_BATCH_BYTES = 4096;
export const BPF_MAX_BATCH_BYTES = 16 * 2 ** 20;
export const BPF_MAX_POOL_SIZE = 4096;
export const BPF_MAX_POOL_BYTES = 2 ** 30;
export const BPF_MAX_LATENCY_MS = 60_000;
/** the prefix of a parameter's variable in the object; names in `params` go without it */
export const BPF_PARAM_PREFIX = 'tw_param_';

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface ResolvedBpfOptions {
  object: string;
  params: Record<string, BpfParamValue>;
  poolSize: number;
  batchBytes: number;
  latencyMs: number;
}

function fail(msg: string): never {
  throw new Error(`openBpfProbe: ${msg}`);
}

function checkParam(name: string, v: unknown): BpfParamValue {
  if (!PARAM_NAME.test(name)) fail(`parameter name '${name}' is not a C identifier`);
  if (name.startsWith(BPF_PARAM_PREFIX)) fail(`give parameter '${name}' without its ${BPF_PARAM_PREFIX} prefix`);
  switch (typeof v) {
    case 'number':
      if (!Number.isSafeInteger(v)) fail(`parameter '${name}' must be a safe integer (a bigint beyond 2^53), got ${v}`);
      return v;
    case 'bigint':
      if (v < -(2n ** 63n) || v >= 2n ** 64n) fail(`parameter '${name}' does not fit 64 bits`);
      return v;
    case 'string':
      if (v.includes('\0')) fail(`parameter '${name}' contains a NUL byte`);
      return v;
    case 'boolean':
      return v;
    default:
      return fail(`parameter '${name}' must be a number, bigint, string or boolean, got ${typeof v}`);
  }
}

/** Validates the options and fills in the defaults. Throws an Error naming the bad option. */
export function validateBpfOptions(opts: BpfProbeOptions): ResolvedBpfOptions {
  if (typeof opts !== 'object' || opts === null) fail('options must be an object');
  if (typeof opts.object !== 'string' || opts.object === '') fail('object must be the path of a BPF object file');
  if (opts.object.includes('\0')) fail('object contains a NUL byte');
  const object = resolve(opts.object);
  let st;
  try {
    st = statSync(object);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? `BPF object ${object} does not exist` : `cannot access BPF object ${object}: ${(e as Error).message}`);
  }
  if (!st.isFile()) fail(`BPF object ${object} is not a file`);

  const params: Record<string, BpfParamValue> = {};
  const given = opts.params ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) fail('params must be an object of name: value');
  for (const [name, v] of Object.entries(given)) params[name] = checkParam(name, v);

  const poolSize = opts.poolSize ?? BPF_DEFAULT_POOL_SIZE;
  if (typeof poolSize !== 'number' || !Number.isInteger(poolSize) || poolSize < 1 || poolSize > BPF_MAX_POOL_SIZE)
    fail(`poolSize must be an integer from 1 to ${BPF_MAX_POOL_SIZE}, got ${String(poolSize)}`);
  const batchBytes = opts.batchBytes ?? BPF_DEFAULT_BATCH_BYTES;
  if (
    typeof batchBytes !== 'number' ||
    !Number.isInteger(batchBytes) ||
    batchBytes < BPF_MIN_BATCH_BYTES ||
    batchBytes > BPF_MAX_BATCH_BYTES ||
    batchBytes % 8 !== 0
  )
    fail(`batchBytes must be a multiple of 8 from ${BPF_MIN_BATCH_BYTES} to ${BPF_MAX_BATCH_BYTES}, got ${String(batchBytes)}`);
  if (poolSize * batchBytes > BPF_MAX_POOL_BYTES) fail(`poolSize × batchBytes is ${poolSize * batchBytes} bytes, more than 1 GiB`);
  const latencyMs = opts.latencyMs ?? BPF_DEFAULT_LATENCY_MS;
  if (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs) || latencyMs < 1 || latencyMs > BPF_MAX_LATENCY_MS)
    fail(`latencyMs must be a number of milliseconds from 1 to ${BPF_MAX_LATENCY_MS}, got ${String(latencyMs)}`);

  return { object, params, poolSize, batchBytes, latencyMs: Math.ceil(latencyMs) };
}
