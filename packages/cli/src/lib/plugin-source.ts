/**
 * What `tw plugins install <spec>` was given, and what is in it before anything is installed.
 * The spec is sorted the way npm itself reads it (npm-package-arg's kinds: registry, directory,
 * file, git, remote), with one difference that matters to a user: a path is a path. oclif's
 * installer took `./p-0.0.1.tgz` for a GitHub "user/repo" slug and waited for GitHub; here
 * anything that starts like a path, or names a tarball or a directory that exists, is local.
 *
 * A package's manifest comes from its tarball (local, or made by `npm pack --ignore-scripts`),
 * read here with a small tar reader, so no code of the package runs before the user says yes.
 */
import { existsSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { homedir } from 'node:os';
import { resolve } from 'node:path';

export type PluginSource =
  | { kind: 'registry'; spec: string; name: string; range: string | undefined }
  | { kind: 'directory'; spec: string; path: string }
  | { kind: 'tarball'; spec: string; path: string }
  | { kind: 'git'; spec: string }
  | { kind: 'remote'; spec: string };

/** An npm package name, scoped or not (npm's rules for new packages: lower case, url-safe). */
export const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

const GIT_PREFIX = /^(?:git\+(?:https?|ssh|file):\/\/|git:\/\/|(?:github|gitlab|bitbucket|gist):)/;
const TARBALL = /\.(?:tgz|tar\.gz)$/;

/** Sort a `tw plugins install` argument into the kind of source it names (see the file comment). */
export function pluginSource(spec: string, cwd: string = process.cwd()): PluginSource {
  if (spec.startsWith('file:')) {
    const path = resolve(cwd, expandHome(spec.slice('file:'.length).replace(/^\/\/(?=\/)/, '')));
    return TARBALL.test(path) || isFile(path) ? { kind: 'tarball', spec, path } : { kind: 'directory', spec, path };
  }
  if (GIT_PREFIX.test(spec) || /^[\w.-]+@[\w.-]+:.+/.test(spec) || /^https?:\/\/.+\.git(?:#.*)?$/.test(spec)) return { kind: 'git', spec };
  if (/^https?:\/\//.test(spec)) return { kind: 'remote', spec };
  const looksLikePath = /^(?:\.{1,2}(?:\/|$)|\/|~\/)/.test(spec);
  const path = resolve(cwd, expandHome(spec));
  if (looksLikePath || TARBALL.test(spec) || (spec.includes('/') && existsSync(path) && !spec.startsWith('@'))) {
    return TARBALL.test(spec) || isFile(path) ? { kind: 'tarball', spec, path } : { kind: 'directory', spec, path };
  }
  // name, name@version|range|tag, @scope/name[@…]
  const at = spec.indexOf('@', 1);
  const name = at < 0 ? spec : spec.slice(0, at);
  const range = at < 0 ? undefined : spec.slice(at + 1);
  if (PACKAGE_NAME.test(name) && (range === undefined || /^[\w.^~<>=| *+-]+$/.test(range))) return { kind: 'registry', spec, name, range };
  // user/repo: a GitHub slug, as npm reads it
  if (/^[\w.-]+\/[\w.-]+(?:#.*)?$/.test(spec)) return { kind: 'git', spec };
  return { kind: 'registry', spec, name, range };
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The scripts npm runs when it installs a package (prepare: for git and directory sources). */
export const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'] as const;

export interface PackageManifest {
  name?: unknown;
  version?: unknown;
  description?: unknown;
  license?: unknown;
  author?: unknown;
  scripts?: Record<string, unknown>;
  dependencies?: Record<string, unknown>;
  tw?: unknown;
  oclif?: unknown;
}

export interface TarballContents {
  manifest: PackageManifest;
  /** a binding.gyp next to package.json: npm then runs `node-gyp rebuild` as the install script */
  bindingGyp: boolean;
}

/**
 * The package.json (and whether there is a binding.gyp) at the top of an npm tarball: a gzipped
 * ustar archive whose entries share one top directory (`package/` from npm pack, any name from
 * other packers: npm strips the first path component, and so does this). POSIX pax ('x') and
 * GNU long-name ('L') headers are honoured for long paths.
 */
export function readTarball(gz: Uint8Array): TarballContents {
  let tar: Buffer;
  try {
    tar = gunzipSync(gz);
  } catch (e) {
    throw new Error(`not a gzipped tarball (${(e as Error).message})`, { cause: e });
  }
  let manifest: PackageManifest | undefined;
  let bindingGyp = false;
  let longName: string | undefined;
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break; // end of archive
    const text = (from: number, len: number) => header.subarray(from, from + len).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(text(124, 12).trim() || '0', 8);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`corrupt tar header at byte ${off}`);
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = text(345, 155);
    const body = tar.subarray(off + 512, off + 512 + size); // a view: read at once, never kept
    if (body.length < size) throw new Error('the tarball is truncated');
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    if (type === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      if (m) longName = m[1];
      continue;
    }
    const path = longName ?? (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100));
    longName = undefined;
    if (type !== '0' && type !== '\0') continue; // regular files only
    const inside = path.replace(/^\.?\/*/, '').split('/').slice(1).join('/');
    if (inside === 'package.json' && manifest === undefined) {
      try {
        manifest = JSON.parse(body.toString('utf8')) as PackageManifest;
      } catch (e) {
        throw new Error(`its package.json is not JSON (${(e as Error).message})`, { cause: e });
      }
    } else if (inside === 'binding.gyp') bindingGyp = true;
  }
  if (manifest === undefined || typeof manifest !== 'object' || manifest === null) throw new Error('it has no package.json at its top');
  return { manifest, bindingGyp };
}

/** The install scripts a package declares, as `name: command` (binding.gyp: npm's implicit one). */
export function installScripts({ manifest, bindingGyp }: TarballContents): string[] {
  const scripts = manifest.scripts ?? {};
  const out = INSTALL_SCRIPTS.filter((s) => typeof scripts[s] === 'string').map((s) => `${s}: ${String(scripts[s])}`);
  if (bindingGyp && typeof scripts['install'] !== 'string' && typeof scripts['preinstall'] !== 'string') out.push('install: node-gyp rebuild (implied by its binding.gyp)');
  return out;
}

/** package.json's author: a string, or { name, email, url }. */
export function authorText(author: unknown): string | undefined {
  if (typeof author === 'string') return author;
  if (typeof author === 'object' && author !== null) {
    const a = author as Record<string, unknown>;
    const parts = [a['name'], a['email'] ? `<${String(a['email'])}>` : undefined, a['url'] ? `(${String(a['url'])})` : undefined].filter((p) => typeof p === 'string' && p !== '');
    return parts.length ? parts.join(' ') : undefined;
  }
  return undefined;
}

/** A tw plugin's package.json has a "tw" key (watches, probes) or an "oclif" one (commands). */
export function isTwPlugin(manifest: PackageManifest): boolean {
  return (typeof manifest.tw === 'object' && manifest.tw !== null) || (typeof manifest.oclif === 'object' && manifest.oclif !== null);
}
