/**
 * Where tw's own copies of the packages watch code imports (@tw/core, @tw/probe-spec) are, as
 * this installation resolves them: the module hooks hand them to watch files at run time, and
 * `tw new` points a project's tsconfig "paths" at their type declarations so tsc and editors
 * see the same API. Resolved with import.meta.resolve from this package (never a path relative
 * to a repository): right in the repo, in a global install and in a linked one alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The packages whose imports mean tw's own copy (the hooks' list too). */
export const OWN_PACKAGES = ['@tw/core', '@tw/probe-spec'] as const;

/** A package's root directory, from a file inside it. */
function packageRoot(file: string, name: string): string {
  for (let d = dirname(file); d !== dirname(d); d = dirname(d)) {
    const pj = join(d, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name) return d;
  }
  throw new Error(`${file}: not inside the package ${name}`);
}

type ExportTarget = string | { types?: string; default?: string } | undefined;

/**
 * tsconfig "paths" for tw's own packages: every subpath export that has types, e.g.
 * { "@tw/core": ["/…/core/dist/index.d.ts"], "@tw/core/testing": ["/…/core/dist/testing.d.ts"] }.
 */
export function ownTypePaths(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of OWN_PACKAGES) {
    const root = packageRoot(fileURLToPath(import.meta.resolve(name)), name);
    const pj = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports?: Record<string, ExportTarget>; types?: string };
    for (const [sub, target] of Object.entries(pj.exports ?? { '.': { types: pj.types } })) {
      const types = typeof target === 'object' ? target.types : undefined;
      // ./internal is tw's own tests' business, not an author's
      if (types === undefined || sub.includes('*') || sub === './internal') continue;
      out[sub === '.' ? name : `${name}${sub.slice(1)}`] = [join(root, types)];
    }
  }
  return out;
}
