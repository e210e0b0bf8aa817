/**
 * Compiling a spec's BPF C into a CO-RE object: `clang -target bpf -D__TARGET_ARCH_<arch> -g -O2
 * -c tw_<name>.bpf.c -o tw_<name>.bpf.o` with vmlinux.h on the include path (execa through
 * run.ts, no shell). CO-RE objects are relocated when loaded, so they are not per kernel: the
 * cache key is the spec (name, hash), the target architecture, the clang version and a hash of
 * the rendered source (a changed generator never reuses an older object), in
 * `$XDG_CACHE_HOME/tw/bpf/objects/<key>/` (built in a temporary sibling, then renamed).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BpfBuildError } from '@tw/core';
import { modelOf, sha256Hex, type ProbeSpec } from '@tw/probe-spec';
import { twCacheDir, workDirFor } from '../cache.js';
import { compilerErrorLines } from '../build.js';
import { hostArch, type Arch } from '../kprobe-events.js';
import { commandLine, run } from '../run.js';
import { bpfFileName, renderBpf } from './render-bpf.js';
import { vmlinuxHeader, type VmlinuxOptions } from './vmlinux.js';

export interface CompileBpfOptions extends VmlinuxOptions {
  /** the clang program (default "clang") */
  clang?: string;
  /** a vmlinux.h to compile against (default: made from the BTF with bpftool, cached) */
  vmlinux?: string;
  /** the target architecture (default: this machine's); kprobe argument registers depend on it */
  arch?: Arch;
  /** where objects are kept; default $XDG_CACHE_HOME/tw/bpf/objects */
  objectCacheDir?: string;
  /** also write the source and the object here */
  outDir?: string;
  /** kill clang after this long (default 2 minutes) */
  timeoutMs?: number;
}

export interface CompiledBpf {
  /** the object (in outDir when given, else in the cache) */
  readonly object: string;
  /** the C it was compiled from */
  readonly source: string;
  readonly key: string;
  readonly cacheEntry: string;
  /** e.g. "Debian clang version 14.0.6" */
  readonly clangVersion: string;
  /** true when the object came from the cache and clang did not run */
  readonly cached: boolean;
  /** clang's output (empty when cached) */
  readonly log: string;
}

export function defaultBpfObjectCacheDir(): string {
  return join(twCacheDir('bpf'), 'objects');
}

/** clang's -D__TARGET_ARCH_ value (bpf_tracing.h's register names) */
const TARGET_ARCH: Record<Arch, string> = { x86_64: 'x86', arm64: 'arm64' };

const versions = new Map<string, string>();

/** The first line of `clang --version` (memoised per program). Throws TOOL_START when clang cannot be started. */
export async function clangVersion(clang = 'clang'): Promise<string> {
  let v = versions.get(clang);
  if (v === undefined) {
    const r = await run(clang, ['--version'], { timeoutMs: 30_000 });
    v = (r.stdout.split('\n')[0] ?? '').trim();
    if (r.exitCode !== 0 || !/clang version/.test(v)) throw new BpfBuildError(commandLine(clang, ['--version']), r.exitCode, r.stderr, `'${clang} --version' does not look like clang: ${v || r.stderr.trim()}`);
    versions.set(clang, v);
  }
  return v;
}

/**
 * A hash of the BPF C this generator renders for the spec (10 hex digits): an object compiled
 * from other C (another kprobe-gen) is never taken for this one.
 */
export function bpfSourceHash(spec: ProbeSpec): string {
  return sha256Hex(renderBpf(spec)).slice(0, 10);
}

/** The cache key of a spec's object: name, spec hash, arch, clang version, source hash. */
export function bpfKey(spec: ProbeSpec, clang: string, arch: Arch): string {
  const m = modelOf(spec);
  const cv = (/clang version (\S+)/.exec(clang)?.[1] ?? sha256Hex(clang).slice(0, 8)).replace(/[^A-Za-z0-9.+_-]/g, '_');
  return `${m.name}-${m.hash}-${arch}-clang${cv}-${bpfSourceHash(spec)}`;
}

const STAMP = '.tw-bpf.json';

/**
 * Compile a spec's BPF program (or reuse a cached object). Throws PROBE_UNSUPPORTED when BPF
 * cannot express the spec, TOOL_START when clang or bpftool cannot be started, and
 * BpfBuildError (stderr: clang's lines) when compiling fails.
 */
export async function compileBpf(spec: ProbeSpec, opts: CompileBpfOptions = {}): Promise<CompiledBpf> {
  const m = modelOf(spec);
  const source = renderBpf(spec);
  const file = bpfFileName(m);
  const objFile = file.replace(/\.c$/, '.o');
  const clang = opts.clang ?? 'clang';
  const arch = opts.arch ?? hostArch();
  const version = await clangVersion(clang);
  const key = bpfKey(spec, version, arch);
  const entry = join(resolve(opts.objectCacheDir ?? defaultBpfObjectCacheDir()), key);
  const cachedObj = join(entry, objFile);

  const deliver = (cached: boolean, log: string): CompiledBpf => {
    let object = cachedObj;
    if (opts.outDir !== undefined) {
      const outDir = resolve(opts.outDir);
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, file), source);
      object = join(outDir, objFile);
      copyFileSync(cachedObj, object);
    }
    return { object, source, key, cacheEntry: entry, clangVersion: version, cached, log };
  };
  if (existsSync(join(entry, STAMP)) && existsSync(cachedObj)) return deliver(true, '');

  const vmlinux = opts.vmlinux !== undefined ? resolve(opts.vmlinux) : (await vmlinuxHeader(opts)).path;
  const work = workDirFor(entry);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, file), source);
  const args = ['-target', 'bpf', `-D__TARGET_ARCH_${TARGET_ARCH[arch]}`, '-g', '-O2', '-Wall', '-Werror', '-I', dirname(vmlinux), '-c', file, '-o', objFile];
  let r;
  try {
    r = await run(clang, args, { cwd: work, timeoutMs: opts.timeoutMs ?? 120_000 });
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  const log = `${r.stdout}${r.stderr}`;
  if (r.exitCode !== 0 || !existsSync(join(work, objFile))) {
    const command = commandLine(clang, args);
    const lines = compilerErrorLines(r.stderr);
    const failed = `${entry}.failed`;
    rmSync(failed, { recursive: true, force: true });
    try {
      renameSync(work, failed);
    } catch {
      rmSync(work, { recursive: true, force: true });
    }
    throw new BpfBuildError(
      command,
      r.exitCode,
      r.stderr,
      `compiling ${file} for probe '${m.name}' failed (clang exited with ${r.exitCode})${lines.length > 0 ? `:\n${lines.join('\n')}` : ''}\n(source kept in ${failed})`,
    );
  }
  writeFileSync(join(work, STAMP), `${JSON.stringify({ spec: m.name, hash: m.hash, arch, clang: version, builtAt: new Date().toISOString() }, null, 2)}\n`);
  try {
    renameSync(work, entry);
  } catch {
    // another compile of the same key won the race: use it
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(cachedObj)) throw new BpfBuildError(commandLine(clang, args), 0, '', `compiled ${objFile} but could not store it in ${entry}`);
  }
  return deliver(false, log);
}

/**
 * A complete cache entry for the spec made by any clang (the object is CO-RE: which clang made
 * it does not matter to the kernel), without running clang; the most recently built when there
 * are several. Undefined when there is none.
 */
export function findCachedBpf(spec: ProbeSpec, opts: { objectCacheDir?: string; arch?: Arch } = {}): { object: string; cacheEntry: string; clangVersion: string } | undefined {
  const m = modelOf(spec);
  const arch = opts.arch ?? hostArch();
  const dir = resolve(opts.objectCacheDir ?? defaultBpfObjectCacheDir());
  const prefix = `${m.name}-${m.hash}-${arch}-clang`;
  const suffix = `-${bpfSourceHash(spec)}`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const objFile = bpfFileName(m).replace(/\.c$/, '.o');
  let best: { object: string; cacheEntry: string; clangVersion: string; builtAt: string } | undefined;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(suffix)) continue;
    const entry = join(dir, name);
    const stamp = readBpfStamp(entry);
    const object = join(entry, objFile);
    if (stamp === undefined || !existsSync(object)) continue;
    const builtAt = stamp['builtAt'] ?? '';
    if (best === undefined || builtAt > best.builtAt) best = { object, cacheEntry: entry, clangVersion: stamp['clang'] ?? '', builtAt };
  }
  return best && { object: best.object, cacheEntry: best.cacheEntry, clangVersion: best.clangVersion };
}

/** The stamp of an object cache entry (what was compiled, when), or undefined. */
export function readBpfStamp(entry: string): Record<string, string> | undefined {
  try {
    return JSON.parse(readFileSync(join(entry, STAMP), 'utf8')) as Record<string, string>;
  } catch {
    return undefined;
  }
}
