/**
 * Validate-then-use, safely: a spec is validated as a deep copy of plain data, frozen, and only
 * that copy is used afterwards. A spec object from a plugin could otherwise pass the checks and
 * then say something else when read again (a getter for `name` that answers 'ok' once and
 * '../../etc' after), or be changed after it was checked. The copy holds only strings, numbers,
 * booleans, bigints, null, arrays and plain objects, read once each through their property
 * descriptors (a getter is never called: it is an error).
 */
import { ProbeSpecError } from '@tw/core';

const MAX_DEPTH = 16;
const MAX_NODES = 10_000;

/** A frozen deep copy of `input` as plain data; throws ProbeSpecError naming the first thing that is not. */
export function plainCopy(input: unknown, specName = ''): unknown {
  let nodes = 0;
  const seen = new Set<object>();
  const fail = (path: string, rule: string): never => {
    throw new ProbeSpecError(specName, path === '' ? 'spec' : path, rule);
  };
  const copy = (v: unknown, path: string, depth: number): unknown => {
    if (++nodes > MAX_NODES) fail(path, `the spec has more than ${MAX_NODES} values; specs are small`);
    switch (typeof v) {
      case 'string': case 'number': case 'boolean': case 'bigint': case 'undefined':
        return v;
      case 'function':
        return fail(path, 'must be data, not a function');
      case 'symbol':
        return fail(path, 'must be data, not a symbol');
      default:
        break;
    }
    if (v === null) return null;
    const o = v as object;
    if (depth > MAX_DEPTH) fail(path, `nested more than ${MAX_DEPTH} levels deep`);
    if (seen.has(o)) fail(path, 'refers to itself (a circular structure)');
    const proto: unknown = Object.getPrototypeOf(o);
    const isArray = Array.isArray(o);
    if (!isArray && proto !== Object.prototype && proto !== null) fail(path, 'must be a plain object (not a class instance or a proxy of one)');
    seen.add(o);
    const descriptors = Object.getOwnPropertyDescriptors(o) as Record<string | symbol, PropertyDescriptor>;
    if (Object.getOwnPropertySymbols(descriptors).length > 0) fail(path, 'has symbol-keyed properties; a spec is plain data');
    const out: Record<string, unknown> | unknown[] = isArray ? [] : {};
    for (const key of Object.keys(descriptors)) {
      const d = descriptors[key]!;
      if (isArray && key === 'length') continue;
      const at = isArray ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
      if (d.get !== undefined || d.set !== undefined) fail(at, 'is an accessor (get/set); a spec must be plain data');
      if (!d.enumerable) continue;
      (out as Record<string, unknown>)[key] = copy(d.value, at, depth + 1);
    }
    seen.delete(o);
    return Object.freeze(out);
  };
  return copy(input, '', 0);
}
