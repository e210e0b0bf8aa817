/**
 * Prebuilt BPF objects: a package that ships probe specs may also ship their CO-RE objects,
 * compiled where its build had clang (as bpftool-generated skeletons embed theirs), so that the
 * user's machine needs no clang. They sit in the package at dist/bpf/ as
 * `<name>.<spec hash>.bpf.o`, each with a stamp `<name>.<spec hash>.bpf.json` saying what it was
 * compiled from: the architecture (kprobe register names differ) and the hash of the generated
 * C (an object from another kprobe-gen's C is not this generator's). An object is only ever
 * taken for the spec whose hash it names; others in the directory are left alone.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { modelOf, type ProbeSpec } from '@tw/probe-spec';
import { hostArch, type Arch } from '../kprobe-events.js';
import { bpfSourceHash } from './compile-bpf.js';

/** Where a package keeps its prebuilt objects, relative to its root. */
export const PREBUILT_BPF_SUBDIR = 'dist/bpf';

/** A package's prebuilt object directory. */
export function prebuiltBpfDir(packageRoot: string): string {
  return join(resolve(packageRoot), PREBUILT_BPF_SUBDIR);
}

/** `<name>.<spec hash>.bpf.o` */
export function prebuiltBpfName(spec: ProbeSpec): string {
  const m = modelOf(spec);
  return `${m.name}.${m.hash}.bpf.o`;
}

/** The stamp beside a prebuilt object. */
export interface PrebuiltBpfStamp {
  spec: string;
  hash: string;
  arch: Arch;
  /** bpfSourceHash of the C it was compiled from */
  source: string;
  /** the first line of `clang --version` */
  clang: string;
}

export function prebuiltStampName(spec: ProbeSpec): string {
  return prebuiltBpfName(spec).replace(/\.o$/, '.json');
}

/** What a stamp must say for the object to serve this spec here. */
export function prebuiltStamp(spec: ProbeSpec, clang: string, arch: Arch = hostArch()): PrebuiltBpfStamp {
  const m = modelOf(spec);
  return { spec: m.name, hash: m.hash, arch, source: bpfSourceHash(spec), clang };
}

export type PrebuiltLookup =
  | { found: true; object: string; dir: string; stamp: PrebuiltBpfStamp }
  /** one sentence per directory, saying what it holds for the spec and why none serves */
  | { found: false; problems: string[] };

/** The first directory (in order) holding a usable object for the spec; else why not, per directory. */
export function findPrebuiltBpf(spec: ProbeSpec, dirs: readonly string[], arch: Arch = hostArch()): PrebuiltLookup {
  const m = modelOf(spec);
  const problems: string[] = [];
  const want = prebuiltStamp(spec, '', arch);
  for (const d of dirs) {
    const dir = resolve(d);
    const object = join(dir, prebuiltBpfName(spec));
    if (!existsSync(object)) {
      const others = otherHashes(dir, m.name);
      problems.push(
        `no prebuilt object for spec hash ${m.hash} in ${dir}${others.length > 0 ? ` (it has ${others.map((h) => `${m.name}.${h}.bpf.o`).join(', ')}: another version of the spec)` : ''}`,
      );
      continue;
    }
    const stamp = readStamp(join(dir, prebuiltStampName(spec)));
    const why = stampProblem(spec, stamp, want);
    if (stamp === undefined || why !== undefined) {
      problems.push(`${object} is not used: ${why ?? 'no stamp'}`);
      continue;
    }
    return { found: true, object, dir, stamp };
  }
  return { found: false, problems };
}

/** why an object with this stamp does not serve the spec (wanting `want`), or undefined */
function stampProblem(spec: ProbeSpec, stamp: PrebuiltBpfStamp | undefined, want: PrebuiltBpfStamp): string | undefined {
  if (stamp === undefined) return `its stamp ${prebuiltStampName(spec)} is missing or unreadable`;
  if (stamp.spec !== want.spec || stamp.hash !== want.hash) return `its stamp names ${stamp.spec} ${stamp.hash}`;
  if (stamp.arch !== want.arch) return `it was built for ${stamp.arch}, this machine is ${want.arch}`;
  if (stamp.source !== want.source) return 'it was compiled from the C of another kprobe-gen version';
  return undefined;
}

function readStamp(path: string): PrebuiltBpfStamp | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<PrebuiltBpfStamp>;
    if (typeof o.spec !== 'string' || typeof o.hash !== 'string' || typeof o.arch !== 'string' || typeof o.source !== 'string') return undefined;
    return { spec: o.spec, hash: o.hash, arch: o.arch, source: o.source, clang: typeof o.clang === 'string' ? o.clang : '' };
  } catch {
    return undefined;
  }
}

/** the spec hashes of `<name>.<hash>.bpf.o` files in dir (other versions of the spec) */
function otherHashes(dir: string, name: string): string[] {
  try {
    return readdirSync(dir)
      .map((f) => /^(.+)\.([0-9a-f]{16})\.bpf\.o$/.exec(f))
      .filter((x): x is RegExpExecArray => x !== null && x[1] === name)
      .map((x) => x[2]!)
      .sort();
  } catch {
    return [];
  }
}
