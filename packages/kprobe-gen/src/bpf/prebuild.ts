/**
 * The build step of a package that ships probe specs (bin/kprobe-gen-prebuild.js, run by the
 * plugins' `build` script after tsc): every spec of the package ("tw": { "probes": "<module>" } in
 * its package.json) that BPF can express is compiled into <root>/dist/bpf/ as a prebuilt object
 * with its stamp (see prebuilt.ts), so the installed package needs no clang. The directory is
 * the build's own: it is emptied first, so it never holds objects of older specs.
 *
 * Without clang, bpftool or the build machine's BTF (what vmlinux.h is made from) nothing is
 * compiled and the result says why: the package still builds, and tw compiles on the user's
 * machine if it can. A spec that fails to compile where clang exists fails the build.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TwError, isTwError } from '@tw/core';
import { validateProbeSpec, type ProbeSpec } from '@tw/probe-spec';
import { hostArch } from '../kprobe-events.js';
import { clangVersion, compileBpf, type CompileBpfOptions } from './compile-bpf.js';
import { prebuiltBpfDir, prebuiltBpfName, prebuiltStamp, prebuiltStampName } from './prebuilt.js';
import { tryRenderBpf } from './render-bpf.js';
import { vmlinuxHeader } from './vmlinux.js';

export interface PrebuildResult {
  /** the package's name */
  package: string;
  /** <root>/dist/bpf */
  dir: string;
  /** the objects written (file names in dir) */
  built: string[];
  /** specs BPF cannot express, with why */
  inexpressible: Array<{ spec: string; why: string }>;
  /** why nothing was compiled (no clang, no bpftool, no BTF), when so */
  skipped?: string;
}

/** The probe specs a package declares, imported from its built module. */
export async function packageProbeSpecs(root: string): Promise<{ name: string; specs: ProbeSpec[] }> {
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string; tw?: { probes?: string } };
  const name = pjson.name ?? root;
  const entry = pjson.tw?.probes;
  if (entry === undefined) throw new TwError('PROBE_SPEC', `${name}: package.json has no "tw": { "probes": "<module>" }: there are no probe specs to prebuild`);
  let mod: { default?: unknown; probes?: unknown };
  try {
    mod = (await import(pathToFileURL(join(root, entry)).href)) as typeof mod;
  } catch (e) {
    throw new TwError('PROBE_SPEC', `${name}: cannot load its probe specs from ${entry}: ${(e as Error).message}`, { cause: e });
  }
  const list = Array.isArray(mod.probes) ? mod.probes : Array.isArray(mod.default) ? mod.default : [];
  return { name, specs: (list as unknown[]).map((raw) => validateProbeSpec(raw)) };
}

/**
 * Compile the package's specs into <root>/dist/bpf. Returns what was built, or why nothing was
 * (without clang and the like this is no error).
 */
export async function prebuildPackage(root: string, opts: CompileBpfOptions = {}): Promise<PrebuildResult> {
  const abs = resolve(root);
  const { name, specs } = await packageProbeSpecs(abs);
  const dir = prebuiltBpfDir(abs);
  rmSync(dir, { recursive: true, force: true });
  const result: PrebuildResult = { package: name, dir, built: [], inexpressible: [] };
  const expressible: ProbeSpec[] = [];
  for (const spec of specs) {
    const c = tryRenderBpf(spec);
    if (typeof c === 'string') expressible.push(spec);
    else result.inexpressible.push({ spec: spec.name, why: c.unsupported });
  }
  if (expressible.length === 0) return result;

  const clang = opts.clang ?? 'clang';
  let version: string;
  try {
    version = await clangVersion(clang);
    // vmlinux.h comes from this machine's BTF through bpftool: made once, before any compile
    if (opts.vmlinux === undefined) await vmlinuxHeader(opts);
  } catch (e) {
    const why = missingTool(e, clang);
    if (why === undefined) throw e;
    return { ...result, skipped: why };
  }
  const arch = opts.arch ?? hostArch();
  mkdirSync(dir, { recursive: true });
  for (const spec of expressible) {
    const c = await compileBpf(spec, { ...opts, arch });
    copyFileSync(c.object, join(dir, prebuiltBpfName(spec)));
    writeFileSync(join(dir, prebuiltStampName(spec)), `${JSON.stringify(prebuiltStamp(spec, version, arch), null, 2)}\n`);
    result.built.push(prebuiltBpfName(spec));
  }
  return result;
}

/** The one line the build prints. */
export function prebuildSummary(r: PrebuildResult): string {
  const left = r.inexpressible.length > 0 ? `; not for BPF: ${r.inexpressible.map((x) => `${x.spec} (${x.why})`).join(', ')}` : '';
  if (r.skipped !== undefined) return `${r.package}: prebuilt BPF objects not built: ${r.skipped}; tw will compile them where it runs if clang is there${left}`;
  if (r.built.length === 0) return `${r.package}: no spec BPF can express: no prebuilt BPF objects${left}`;
  return `${r.package}: ${r.built.length} prebuilt BPF object${r.built.length === 1 ? '' : 's'} in ${r.dir} (${r.built.map((f) => modelName(f)).join(', ')})${left}`;
}

function modelName(file: string): string {
  return file.replace(/\.[0-9a-f]{16}\.bpf\.o$/, '');
}

/** why a missing tool or file stops the prebuild (undefined: a real failure) */
function missingTool(e: unknown, clang: string): string | undefined {
  if (!isTwError(e)) return undefined;
  const first = e.message.split('\n')[0] ?? '';
  if (e.code === 'TOOL_START') return /clang/.test(first) && !/bpftool/.test(first) ? `${clang === 'clang' ? 'clang is not installed' : `${clang} cannot be started`} (${first})` : first;
  // no BTF on the build machine (a container), or bpftool could not dump it
  if (e.code === 'FILE_NOT_FOUND' || (e.code === 'BPF_BUILD' && /vmlinux\.h/.test(first))) return first;
  return undefined;
}
