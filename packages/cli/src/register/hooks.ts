/**
 * Node module customization hooks (module.register, Node >= 20.6) that let a watch file or a
 * plugin live anywhere, the way an editor hands its extensions their API:
 *
 * - resolve: `@tw/core`, `@tw/probe-spec` and their subpaths (`@tw/core/testing`) resolve as if
 *   imported from this package, i.e. to tw's own copies, wherever the importing file lives (a
 *   temp dir with no node_modules, a user plugin installed in tw's data dir). One copy also means
 *   one watch API: what a watch file builds is what tw runs.
 * - load: `.ts` and `.mts` files are ES modules transpiled with esbuild (a transform: types are
 *   stripped, never checked) with an inline source map, so stack traces and tw's messages point
 *   at the TypeScript file's own line:column once source maps are enabled (see ./index.ts).
 *   A syntax error is reported as `<file>:<line>:<column>: <what esbuild says>`.
 *
 * A relative `./x.js` import from a TypeScript file that has no x.js next to it but has x.ts
 * gets the .ts (TypeScript's NodeNext convention: imports name the emitted file).
 *
 * These run in Node's loader thread: no tw state, nothing but node: modules and esbuild (loaded
 * on the first TypeScript file, so plain JavaScript never pays for it).
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The packages whose imports always mean tw's own copy. */
const OWN = /^@tw\/(core|probe-spec)(\/.*)?$/;
const TS_FILE = /\.m?ts$/;

interface ResolveContext {
  conditions: string[];
  importAttributes?: Record<string, string>;
  parentURL?: string;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context?: Partial<ResolveContext>) => Promise<ResolveResult>;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<ResolveResult> {
  // resolved from here: this file belongs to @tw/cli, whose dependencies are tw's copies
  if (OWN.test(specifier)) return { ...(await next(specifier, { ...context, parentURL: import.meta.url })), shortCircuit: true };
  try {
    return await next(specifier, context);
  } catch (e) {
    const parent = context.parentURL;
    if (parent !== undefined && TS_FILE.test(parent) && /^\.\.?\//.test(specifier) && /\.m?js$/.test(specifier)) {
      const url = new URL(specifier.replace(/js$/, 'ts'), parent);
      if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
    }
    throw e;
  }
}

interface LoadContext {
  format?: string | null;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
interface LoadResult {
  format: string;
  source?: string | ArrayBuffer | Uint8Array;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context?: Partial<LoadContext>) => Promise<LoadResult>;

interface EsbuildMessage {
  text: string;
  location: { file: string; line: number; column: number } | null;
}

export async function load(url: string, context: LoadContext, next: NextLoad): Promise<LoadResult> {
  if (!url.startsWith('file:') || !TS_FILE.test(new URL(url).pathname)) return next(url, context);
  const path = fileURLToPath(url);
  const text = await readFile(path, 'utf8');
  const esbuild = await import('esbuild');
  let code: string;
  try {
    ({ code } = await esbuild.transform(text, {
      loader: 'ts',
      format: 'esm',
      target: 'node20',
      // the map names the file by its path: Node prints that path in stack traces
      sourcefile: path,
      sourcemap: 'inline',
      sourcesContent: false,
    }));
  } catch (e) {
    const first = (e as { errors?: EsbuildMessage[] }).errors?.[0];
    if (first === undefined) throw e;
    const at = first.location ? `${path}:${first.location.line}:${first.location.column + 1}: ` : `${path}: `;
    throw new SyntaxError(`${at}${first.text}`);
  }
  return { format: 'module', source: code, shortCircuit: true };
}
