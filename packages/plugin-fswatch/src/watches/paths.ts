/**
 * Paths for who-deleted: what the user watches (a path or a glob) and the names a deleting
 * process gave, both brought to one spelling before they are compared: absolute, `.`/`..` and
 * repeated slashes gone, symlinked directories replaced by their targets where the directory
 * exists here. The kernel reports a directory fd's path and the cwd already resolved (d_path
 * walks the real dentries), so the remaining symlinks are those inside the name the caller gave.
 */
import { realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';

export const AT_FDCWD = -100;

/** The file system the resolution may ask (replaced in tests; live only: a recording's paths are another machine's). */
export interface PathFs {
  /** the target of an existing path, or undefined */
  realpath(path: string): string | undefined;
  isDirectory(path: string): boolean;
}

export const hostFs: PathFs = {
  realpath(path) {
    try {
      return realpathSync.native(path);
    } catch {
      return undefined;
    }
  },
  isDirectory(path) {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
};

/** A file system that knows nothing: lexical resolution only (offline replays). */
export const noFs: PathFs = { realpath: () => undefined, isDirectory: () => false };

/** A path without trailing slashes (but `/` stays `/`), `.`, `..` and `//` resolved lexically. */
export function normal(path: string): string {
  const n = posix.normalize(path);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * An absolute path with its directory part's symlinks resolved where that directory exists (the
 * last component is left alone: it names what was deleted, or a symlink that is watched itself).
 * The `..` of an existing directory are resolved physically, as the kernel did.
 */
export function realParent(path: string, fs: PathFs): string {
  const raw = path.length > 1 ? path.replace(/\/+$/, '') : path;
  if (raw === '/') return '/';
  const dir = posix.dirname(raw);
  const base = posix.basename(raw);
  const real = base === '.' || base === '..' ? undefined : fs.realpath(dir);
  return real !== undefined ? normal(posix.join(real, base)) : normal(raw);
}

/** How a name given to a syscall was resolved. */
export interface Resolved {
  /** the absolute path, or null when the event does not carry the directory the name is relative to */
  path: string | null;
  /** for an unresolved relative name: what it is relative to ("fd 3", "cwd") */
  relativeTo?: string;
}

/**
 * Resolve `name` as the kernel did: absolute as is; relative to the directory of `dfd` (its full
 * path, `dir`) unless dfd is AT_FDCWD, then to `cwd`. `dir`/`cwd` undefined or empty: the probe
 * did not record it (or could not read it), so the name stays relative.
 */
export function resolveName(name: string, dfd: number, dir: string | undefined, cwd: string | undefined, fs: PathFs): Resolved {
  if (name.startsWith('/')) return { path: realParent(name, fs) };
  const base = dfd === AT_FDCWD ? cwd : dir;
  if (base === undefined || !base.startsWith('/')) return { path: null, relativeTo: dfd === AT_FDCWD ? 'cwd' : `fd ${dfd}` };
  return { path: realParent(`${base}/${name}`, fs) };
}

/** `*`, `?` or a `[...]` class: the pattern is a glob */
export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/**
 * A glob as a regular expression source (unanchored): `*` and `?` stay within one path
 * component, `**` crosses components (`**\/` also matches no directory at all), `[...]` (`[!...]`
 * or `[^...]` negated) is a class that never matches `/`. Everything else is literal.
 */
export function globSource(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        if (glob[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      let j = i + 1;
      const negated = glob[j] === '!' || glob[j] === '^';
      if (negated) j++;
      // a ']' right after the opening is a member, not the end
      const end = glob.indexOf(']', glob[j] === ']' ? j + 1 : j);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      const body = glob.slice(j, end).replace(/[\\\]^]/g, '\\$&');
      re += negated ? `[^/${body}]` : `(?!/)[${body}]`;
      i = end;
    } else {
      re += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return re;
}

/** What the user watches, resolved once at the start. */
export interface Watched {
  /** as given */
  pattern: string;
  /** plain path: the paths that match exactly (the path; for a directory also its real path) */
  exact: string[];
  /** plain path naming a directory: prefixes (ending in /) of everything below it */
  below: string[];
  /** glob: the whole resolved path must match */
  glob?: RegExp;
  /** glob: each component as a regular expression source (the literal directory part escaped), for names that cannot be resolved */
  globParts?: string[];
}

/**
 * Resolve a watched path or glob against `cwd` (tw's): absolute, normalised, its literal
 * directory part's symlinks resolved when that exists. A plain path that names a directory (a
 * trailing slash, or an existing directory here) also covers everything below it.
 */
export function watchPattern(pattern: string, cwd: string, fs: PathFs): Watched {
  const abs = pattern.startsWith('/') ? pattern : `${cwd}/${pattern}`;
  if (isGlob(pattern)) {
    const parts = normal(abs).split('/').slice(1);
    const at = parts.findIndex(isGlob);
    const literal = `/${parts.slice(0, at).join('/')}`;
    const dir = fs.realpath(literal) ?? literal;
    const tail = parts.slice(at);
    // the literal part matches as it is written (escaped), the rest is glob syntax
    const escaped = (dir === '/' ? '' : dir).replace(/[.+^${}()|\\*?[\]]/g, '\\$&');
    const globParts = [...(dir === '/' ? [] : dir.split('/').slice(1).map((x) => x.replace(/[.+^${}()|\\*?[\]]/g, '\\$&'))), ...tail.map(globSource)];
    return { pattern, exact: [], below: [], glob: new RegExp(`^${escaped}/${globSource(tail.join('/'))}$`), globParts };
  }
  const named = realParent(abs, fs);
  const exact = [named];
  const below: string[] = [];
  if (pattern.endsWith('/') || fs.isDirectory(named)) {
    const real = fs.realpath(named) ?? named;
    if (!exact.includes(real)) exact.push(real);
    for (const d of exact) below.push(d === '/' ? '/' : `${d}/`);
  }
  return { pattern, exact, below };
}

/** Does a resolved (absolute, normal) path match? */
export function matchesPath(w: Watched, path: string): boolean {
  if (w.glob) return w.glob.test(path);
  return w.exact.includes(path) || w.below.some((b) => path.startsWith(b));
}

/**
 * Could a name that cannot be resolved (relative, and the probe did not record the directory it is
 * relative to) be the watched path? Its components must be the last ones of the watched path (a
 * name below a watched directory: some leading components of the name are the last ones of the
 * directory), or match the glob's last components. A guess from the name alone: it can match a
 * file elsewhere that has the same name.
 */
export function mayMatchRelative(w: Watched, name: string): boolean {
  const n = normal(name);
  if (n.startsWith('..') || n === '.') return false;
  const segs = n.split('/');
  if (w.globParts) {
    // after a ** any number of components may come before: only the components after the last one count
    const deep = w.globParts.map((x) => x.includes('.*')).lastIndexOf(true);
    if (deep >= 0) return new RegExp(`(?:^|/)${w.globParts.slice(deep + 1).join('/')}$`).test(n);
    if (segs.length > w.globParts.length) return false;
    return new RegExp(`^${w.globParts.slice(w.globParts.length - segs.length).join('/')}$`).test(n);
  }
  const endsWith = (path: string, s: readonly string[]) => {
    const p = path.split('/');
    return s.length < p.length && s.every((x, i) => p[p.length - s.length + i] === x);
  };
  if (w.exact.some((e) => endsWith(e, segs))) return true;
  // below a watched directory: a leading part of the name is the directory's last components
  return w.below.length > 0 && w.exact.some((e) => segs.some((_, j) => j > 0 && j < segs.length && endsWith(e, segs.slice(0, j))));
}
