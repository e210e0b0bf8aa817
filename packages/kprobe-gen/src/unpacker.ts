/**
 * The generated unpacker as tw runs it. `<name>.unpack.ts` compiled to `<name>.unpack.js` is
 * stored in a cache entry (like built modules, but kernel-independent, so one entry serves both
 * backends):
 *
 *   $XDG_CACHE_HOME/tw/unpackers/<name>-<spec hash>-<source hash>/
 *       <name>.unpack.ts  <name>.unpack.js  package.json ({"type":"module"})
 *
 * where <source hash> covers the rendered TS and the TypeScript version, so a changed generator
 * or compiler never reuses an older file, and finding a stored entry needs no TypeScript at all.
 * Entries are written to a temporary directory and renamed into place (atomic; a lost race
 * keeps the winner's). importUnpacker() imports the JS for real and checks what it exports
 * against the spec (event, spec hash, layout table) before anyone trusts it.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TwError, type EventFormat } from '@tw/core';
import { checkFormatLayout, layoutFor, modelOf, pascalCase, sha256Hex, type ProbeSpec, type UnpackedValue } from '@tw/probe-spec';
import { twCacheDir, workDirFor } from './cache.js';
import { renderUnpacker } from './render.js';
import { transpileUnpacker, typescriptVersion } from './transpile.js';

export interface UnpackerStoreOptions {
  /** where unpackers are kept; default $XDG_CACHE_HOME/tw/unpackers (~/.cache/tw/unpackers) */
  cacheDir?: string;
}

export interface StoredUnpacker {
  /** the cache entry's directory */
  readonly dir: string;
  readonly key: string;
  /** <dir>/<name>.unpack.js */
  readonly js: string;
  /** <dir>/<name>.unpack.ts */
  readonly ts: string;
  /** true when the entry was there already (nothing compiled) */
  readonly cached: boolean;
}

/** A generated unpacker, imported and checked against its spec. */
export interface GeneratedUnpacker {
  /** tw:<name> */
  readonly event: string;
  /** the spec hash the file carries (equal to the spec's) */
  readonly specHash: string;
  /** the imported <name>.unpack.js */
  readonly file: string;
  /** the entry was there already */
  readonly cached: boolean;
  /** the file's unpack<Name>(view, offset, littleEndian): offset is the record's start (common_type) */
  unpack(view: DataView, offset: number, littleEndian: boolean): Record<string, UnpackedValue>;
  /** why the file's layout does not fit this format of the event (checkLayout's message), or undefined when it does */
  layoutProblem(format: EventFormat): string | undefined;
}

export function defaultUnpackerCacheDir(): string {
  return twCacheDir('unpackers');
}

/** The cache key: spec name + hash, and a hash of the rendered TS and the TypeScript version. */
export function unpackerKey(spec: ProbeSpec): string {
  return keyOf(spec, renderUnpacker(spec));
}

function keyOf(spec: ProbeSpec, tsText: string): string {
  const m = modelOf(spec);
  return `${m.name}-${m.hash}-${sha256Hex(`${tsText}\0typescript ${typescriptVersion()}`).slice(0, 10)}`;
}

/** Make sure the spec's compiled unpacker is stored (compiling it only when it is not). */
export function storeUnpacker(spec: ProbeSpec, opts: UnpackerStoreOptions = {}): StoredUnpacker {
  const name = modelOf(spec).name;
  const cacheDir = resolve(opts.cacheDir ?? defaultUnpackerCacheDir());
  const tsText = renderUnpacker(spec);
  const key = keyOf(spec, tsText);
  const dir = join(cacheDir, key);
  const files = { ts: join(dir, `${name}.unpack.ts`), js: join(dir, `${name}.unpack.js`) };
  if (existsSync(files.js)) return { dir, key, ...files, cached: true };

  const jsText = transpileUnpacker(tsText, `${name}.unpack.ts`);
  const work = workDirFor(dir);
  try {
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, `${name}.unpack.ts`), tsText);
    writeFileSync(join(work, `${name}.unpack.js`), jsText);
    // an ES module wherever the cache lives, without relying on Node's syntax detection
    writeFileSync(join(work, 'package.json'), '{ "type": "module" }\n');
  } catch (e) {
    removeQuietly(work);
    throw new TwError('UNPACKER', `cannot store the unpacker of probe '${name}' in ${cacheDir}: ${(e as Error).message}`, { cause: e });
  }
  try {
    renameSync(work, dir);
  } catch (e) {
    // another tw stored the same key first: use its entry
    removeQuietly(work);
    if (!existsSync(files.js)) throw new TwError('UNPACKER', `cannot store the unpacker of probe '${name}' in ${dir}: ${(e as Error).message}`, { cause: e });
    return { dir, key, ...files, cached: true };
  }
  return { dir, key, ...files, cached: false };
}

/** Remove a temporary directory; never throws (it may not exist, or its parent may not be a directory). */
function removeQuietly(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // nothing to remove
  }
}

function sameLayout(a: unknown, b: readonly { field: string; offset: number; size: number; type: string }[]): boolean {
  if (!Array.isArray(a) || a.length !== b.length) return false;
  return b.every((e, i) => {
    const x = a[i] as Record<string, unknown> | undefined;
    return x !== undefined && x['field'] === e.field && x['offset'] === e.offset && x['size'] === e.size && x['type'] === e.type;
  });
}

/**
 * Store (if needed) and import the spec's generated `<name>.unpack.js`; check that it is the
 * unpacker of this spec: tw:<name>, the spec's hash, the spec's layout table, an unpack<Name>
 * function. Throws UNPACKER naming the file and what differs.
 */
export async function importUnpacker(spec: ProbeSpec, opts: UnpackerStoreOptions = {}): Promise<GeneratedUnpacker> {
  const m = modelOf(spec);
  const stored = storeUnpacker(spec, opts);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(stored.js).href)) as Record<string, unknown>;
  } catch (e) {
    throw new TwError('UNPACKER', `cannot import the generated unpacker ${stored.js}: ${(e as Error).message}`, { cause: e });
  }
  const prefix = m.name.toUpperCase();
  const fn = `unpack${pascalCase(m.name)}`;
  const unpack = mod[fn];
  const wrong =
    mod[`${prefix}_EVENT`] !== `tw:${m.name}`
      ? `${prefix}_EVENT is ${JSON.stringify(mod[`${prefix}_EVENT`])}, not "tw:${m.name}"`
      : mod[`${prefix}_SPEC_HASH`] !== m.hash
        ? `${prefix}_SPEC_HASH is ${JSON.stringify(mod[`${prefix}_SPEC_HASH`])}, the spec's hash is ${m.hash}`
        : !sameLayout(mod[`${prefix}_LAYOUT`], layoutFor(spec))
          ? `${prefix}_LAYOUT differs from the spec's layout`
          : typeof unpack !== 'function'
            ? `it exports no function ${fn}`
            : undefined;
  if (wrong !== undefined) throw new TwError('UNPACKER', `${stored.js} is not the unpacker of probe spec '${m.name}' (${m.hash}): ${wrong}`);
  return {
    event: `tw:${m.name}`,
    specHash: m.hash,
    file: stored.js,
    cached: stored.cached,
    unpack: unpack as GeneratedUnpacker['unpack'],
    layoutProblem(format) {
      try {
        checkFormatLayout(spec, format);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    },
  };
}
