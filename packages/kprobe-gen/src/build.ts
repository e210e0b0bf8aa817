/**
 * Building a probe's kernel module with the real Kbuild: `make -C <kdir> M=<dir> modules`
 * (execa, no shell). Built modules are cached by spec hash + kernel release (+ generator id):
 * a module built on the host against a guest kernel's headers is reused inside that guest.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModuleBuildError } from '@tw/core';
import { modelOf, sha256Hex, type ProbeSpec } from '@tw/probe-spec';
import { twCacheDir, workDirFor } from './cache.js';
import { defaultKdir, kernelTree } from './kernels.js';
import { renderModuleFiles } from './render.js';
import { commandLine, run } from './run.js';
import { checkSymbols } from './symbols.js';

export interface BuildOptions {
  /** the kernel build tree; default /lib/modules/$(uname -r)/build */
  kdir?: string;
  /** also write the sources (and the .ko) here, e.g. for `tw probe gen --out` */
  outDir?: string;
  /** where built modules are kept; default $XDG_CACHE_HOME/tw/modules (~/.cache/tw/modules) */
  cacheDir?: string;
  /** the make program (default "make") */
  make?: string;
  /** kill make after this long (default 5 minutes) */
  timeoutMs?: number;
}

export interface BuildResult {
  /** path of the built module (in outDir when given, else in the cache) */
  readonly ko: string;
  /** tw_<name> */
  readonly module: string;
  readonly kdir: string;
  /** include/config/kernel.release of kdir */
  readonly release: string;
  /** UTS release (uname -r of the kernel the module is for) */
  readonly utsRelease: string;
  /** the cache entry's directory (sources + .ko) */
  readonly cacheEntry: string;
  readonly key: string;
  /** true when the module came from the cache and make did not run */
  readonly cached: boolean;
  /** make's output (empty when cached) */
  readonly log: string;
}

export function defaultCacheDir(): string {
  return twCacheDir('modules');
}

/**
 * The cache key: spec name + hash, kernel release, and a hash of the rendered sources (so a
 * changed generator never reuses a module built from older output).
 */
export function buildKey(spec: ProbeSpec, release: string): string {
  const m = modelOf(spec);
  const files = renderModuleFiles(spec);
  const sources = sha256Hex(Object.keys(files).sort().map((k) => `${k}\0${files[k]!}`).join('\0')).slice(0, 10);
  return `${m.name}-${m.hash}-${release}-${sources}`;
}

const STAMP = '.tw-build.json';

/** Compiler and modpost lines worth showing in a message (errors first, then warnings). */
export function compilerErrorLines(output: string, max = 12): string[] {
  const lines = output.split('\n');
  const errors = lines.filter((l) => /\berror\b:|^ERROR: |undefined!|\*\*\* /.test(l) && !/^make(\[\d+\])?: \*\*\*/.test(l));
  const picked = errors.length > 0 ? errors : lines.filter((l) => /warning:/.test(l));
  return picked.slice(0, max);
}

function writeSources(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

/**
 * Build the module of a spec for the kernel at `kdir` (or reuse a cached build).
 * Throws KERNEL_HEADERS (no usable tree), MISSING_SYMBOL (checked against Module.symvers
 * before building), TOOL_START (make could not be started) or ModuleBuildError (make failed;
 * `stderr` carries the compiler's lines).
 */
export async function buildModule(spec: ProbeSpec, opts: BuildOptions = {}): Promise<BuildResult> {
  const m = modelOf(spec);
  const kdir = resolve(opts.kdir ?? defaultKdir());
  const tree = kernelTree(kdir);
  checkSymbols(spec, kdir);
  const module = `tw_${m.name}`;
  const files = renderModuleFiles(spec);
  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir());
  const key = buildKey(spec, tree.utsRelease === tree.release ? tree.release : `${tree.release}-${tree.utsRelease}`); // Debian 6.1 flavours share kernel.release
  const entry = join(cacheDir, key);
  const cachedKo = join(entry, `${module}.ko`);

  const deliver = (ko: string, cached: boolean, log: string): BuildResult => {
    let out = ko;
    if (opts.outDir !== undefined) {
      const outDir = resolve(opts.outDir);
      writeSources(outDir, files);
      out = join(outDir, `${module}.ko`);
      if (resolve(ko) !== out) copyFileSync(ko, out);
    }
    return { ko: out, module, kdir, release: tree.release, utsRelease: tree.utsRelease, cacheEntry: entry, key, cached, log };
  };

  if (existsSync(join(entry, STAMP)) && existsSync(cachedKo)) return deliver(cachedKo, true, '');

  mkdirSync(cacheDir, { recursive: true });
  const work = workDirFor(entry);
  rmSync(work, { recursive: true, force: true });
  writeSources(work, files);
  const make = opts.make ?? 'make';
  const args = ['-C', kdir, `M=${work}`, 'modules'];
  let r;
  try {
    r = await run(make, args, { timeoutMs: opts.timeoutMs ?? 300_000 });
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  const log = `${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}`;
  const built = join(work, `${module}.ko`);
  if (r.exitCode !== 0 || !existsSync(built)) {
    const lines = compilerErrorLines(`${r.stderr}\n${r.stdout}`);
    const command = commandLine(make, args);
    const msg = `building ${module}.ko for kernel ${tree.utsRelease} failed (${command} exited with ${r.exitCode})${lines.length > 0 ? `:\n${lines.join('\n')}` : ''}`;
    // keep the failed tree for inspection next to the cache entry
    const failed = `${entry}.failed`;
    rmSync(failed, { recursive: true, force: true });
    try {
      renameSync(work, failed);
    } catch {
      rmSync(work, { recursive: true, force: true });
    }
    throw new ModuleBuildError(command, r.exitCode, r.stderr, `${msg}\n(build tree kept in ${failed})`);
  }
  writeFileSync(join(work, STAMP), `${JSON.stringify({ spec: m.name, hash: m.hash, release: tree.release, utsRelease: tree.utsRelease, kdir, builtAt: new Date().toISOString() }, null, 2)}\n`);
  try {
    renameSync(work, entry);
  } catch {
    // another build of the same key won the race: use it
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(cachedKo)) throw new ModuleBuildError(commandLine(make, args), 0, '', `built ${module}.ko but could not store it in ${entry}`);
  }
  return deliver(cachedKo, false, log);
}

/** The stamp of a cache entry (what was built, when), or undefined. */
export function readBuildStamp(entry: string): Record<string, string> | undefined {
  try {
    return JSON.parse(readFileSync(join(entry, STAMP), 'utf8')) as Record<string, string>;
  } catch {
    return undefined;
  }
}
