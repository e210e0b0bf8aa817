/**
 * Where the BPF backend gets a spec's object, in one stated order: an object prebuilt into the
 * package that ships the spec (no clang needed), else one compiled earlier on this machine (the
 * object cache, by any clang), else clang compiles it now. When none of the three works the
 * error says what was looked for and where.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TwError, isTwError } from '@tw/core';
import { modelOf, type ProbeSpec } from '@tw/probe-spec';
import { hostArch } from '../kprobe-events.js';
import { clangVersion, compileBpf, defaultBpfObjectCacheDir, findCachedBpf, type CompileBpfOptions } from './compile-bpf.js';
import { findPrebuiltBpf } from './prebuilt.js';
import { bpfFileName, renderBpf } from './render-bpf.js';

/** Where an object came from: the spec's package, the object cache, or clang just now. */
export type BpfObjectOrigin = 'prebuilt' | 'cached' | 'compiled';

/** The order bpfObjectFor tries (the one place it is said). */
export const BPF_OBJECT_ORDER: readonly BpfObjectOrigin[] = ['prebuilt', 'cached', 'compiled'];

export interface BpfObjectOptions extends CompileBpfOptions {
  /** directories of prebuilt objects (the spec's package's dist/bpf), tried in order */
  prebuiltDirs?: readonly string[];
}

export interface BpfObject {
  /** the object to load (in outDir when given) */
  readonly object: string;
  readonly origin: BpfObjectOrigin;
  /** the clang that made it (as its stamp says, for a prebuilt or cached object) */
  readonly clangVersion: string;
  /** why a prebuilt object that exists for the spec was not used (empty when none was passed over) */
  readonly passedOver: readonly string[];
}

/**
 * The spec's BPF object: prebuilt, else cached, else compiled (BPF_OBJECT_ORDER). Throws TwError
 * TOOL_START when there is none and clang is not installed; compiling's own errors otherwise.
 */
export async function bpfObjectFor(spec: ProbeSpec, opts: BpfObjectOptions = {}): Promise<BpfObject> {
  const arch = opts.arch ?? hostArch();
  const dirs = opts.prebuiltDirs ?? [];
  const prebuilt = findPrebuiltBpf(spec, dirs, arch);
  if (prebuilt.found) return { object: deliver(spec, prebuilt.object, opts.outDir), origin: 'prebuilt', clangVersion: prebuilt.stamp.clang, passedOver: [] };
  // a prebuilt object of another version of the spec is expected (the spec changed); one for
  // this hash that cannot be used is worth a note
  const passedOver = prebuilt.problems.filter((p) => !p.startsWith('no prebuilt object'));
  const cacheDir = opts.objectCacheDir ?? defaultBpfObjectCacheDir();
  const cached = findCachedBpf(spec, { objectCacheDir: cacheDir, arch });
  if (cached) return { object: deliver(spec, cached.object, opts.outDir), origin: 'cached', clangVersion: cached.clangVersion, passedOver };
  const clang = opts.clang ?? 'clang';
  try {
    await clangVersion(clang);
  } catch (e) {
    if (!isTwError(e) || e.code !== 'TOOL_START') throw e;
    const m = modelOf(spec);
    const where = dirs.length > 0 ? prebuilt.problems.join('; ') : `no prebuilt object for spec hash ${m.hash} (no package directory of prebuilt objects was given for this spec)`;
    throw new TwError(
      'TOOL_START',
      `no BPF object for probe '${m.name}': ${where}; none in the object cache (${resolve(cacheDir)}); and ${clang === 'clang' ? 'clang is not installed' : `${clang} cannot be started`} (install clang, or a package built with it)`,
      { cause: e },
    );
  }
  const c = await compileBpf(spec, { ...opts, arch });
  return { object: c.object, origin: c.cached ? 'cached' : 'compiled', clangVersion: c.clangVersion, passedOver };
}

/** The object itself, or (with outDir) a copy there next to its source, as compileBpf does. */
function deliver(spec: ProbeSpec, object: string, outDir: string | undefined): string {
  if (outDir === undefined) return object;
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const file = bpfFileName(modelOf(spec));
  writeFileSync(join(dir, file), renderBpf(spec));
  const copy = join(dir, file.replace(/\.c$/, '.o'));
  copyFileSync(object, copy);
  return copy;
}
