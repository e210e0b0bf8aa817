/**
 * The values a watch gives its probes' parameters (WatchDefinition.probeParams), taken from the
 * watch and checked for shape before any probe comes up: every probe named is one the watch
 * declares, every value is a type some parameter can take. Whether a parameter exists in the
 * probe's spec, and whether the value fits its type, is the ProbeProvider's to check (core knows
 * no spec): see ProbeProvider.checkParams.
 */
import { TwError, isTwError } from '../errors.js';
import type { AnyWatch, ProbeParams, ProbeParamValue } from './define-watch.js';

const PARAM_NAME = /^[a-z][a-z0-9_]{0,31}$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

function valueProblem(v: unknown): string | undefined {
  if (typeof v === 'bigint' || typeof v === 'boolean' || typeof v === 'string') return undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? undefined : `must be an integer (a bigint beyond 2^53), got ${v}`;
  return `must be a number, bigint, boolean or string, got ${describe(v)}`;
}

/**
 * The parameters the watch gives each probe, by probe name (probes it gives none are absent).
 * Throws PROBE_PARAM naming the watch, and the probe and parameter at fault.
 */
export function watchProbeParams(watch: AnyWatch, args: Record<string, unknown>): Map<string, ProbeParams> {
  const out = new Map<string, ProbeParams>();
  if (watch.probeParams === undefined) return out;
  const fail: (what: string) => never = (what) => {
    throw new TwError('PROBE_PARAM', `watch '${watch.name}': ${what}`);
  };
  if (typeof watch.probeParams !== 'function') fail('probeParams must be a function of the args');
  let given: unknown;
  try {
    given = watch.probeParams(args as never);
  } catch (e) {
    if (isTwError(e)) throw e;
    throw new TwError('PROBE_PARAM', `watch '${watch.name}': probeParams threw: ${(e as Error).message}`, { cause: e });
  }
  if (!isPlainObject(given)) fail(`probeParams must return { <probe>: { <param>: value } }, got ${describe(given)}`);
  const declared: readonly string[] = watch.probes ?? [];
  for (const [probe, params] of Object.entries(given)) {
    if (!declared.includes(probe)) fail(`probeParams names probe '${probe}', which the watch does not declare (its probes: ${declared.join(', ') || 'none'})`);
    if (!isPlainObject(params)) fail(`probe '${probe}': its parameters must be { <param>: value }, got ${describe(params)}`);
    const values: Record<string, ProbeParamValue> = {};
    for (const [name, v] of Object.entries(params)) {
      if (!PARAM_NAME.test(name)) fail(`probe '${probe}': '${name}' is not a parameter name ([a-z][a-z0-9_]*, at most 32 characters)`);
      const problem = valueProblem(v);
      if (problem) fail(`probe '${probe}', parameter ${name}: ${problem}`);
      values[name] = v as ProbeParamValue;
    }
    out.set(probe, values);
  }
  return out;
}

/** "watch_ino=12, watch_dev=45" */
export function formatProbeParams(params: ProbeParams): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}
