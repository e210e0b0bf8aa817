/**
 * A watch from a file, anywhere on disk: `tw watch ./top.ts`, `tw watch /abs/w.mjs`,
 * `tw watch w.js`. TypeScript (.ts, .mts) is transpiled on load and `@tw/core` resolves to tw's
 * own copy (the module hooks of ../register), so a file in a directory with no node_modules
 * runs as it is. Errors a TypeScript file's code throws are reported at its own line (watchFileFrame).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TwError, type AnyWatch } from '@tw/core';
import { registerHooks } from '../register/register-hooks.js';
import { userDataDir } from './user-plugins.js';

/** The extensions a watch file may have. */
export const WATCH_FILE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

/** Is this `tw watch` name a file (a path, or a name ending in a watch file extension) rather than an installed watch? */
export function isWatchFileName(name: string): boolean {
  return name.includes('/') || /\.m?[jt]s$/.test(name);
}

/**
 * TypeScript watch files loaded in this process (absolute paths): where watchFileFrame looks.
 * Only TypeScript: its lines are not what Node runs, so the location is worth saying; messages
 * about .js/.mjs watch files stay as they were.
 */
const loaded = new Set<string>();
const isTypeScript = (path: string): boolean => /\.m?ts$/.test(path);

/**
 * Import a module of watch code (a watch file), TypeScript included: the hooks are registered
 * first (bin/run.js does so at start-up only when user plugins are installed).
 */
export async function importWatchModule(abs: string): Promise<unknown> {
  // any watch file may import @tw/core from a directory with no copy of it
  registerHooks();
  checkLoadable(abs);
  if (isTypeScript(abs)) loaded.add(abs);
  return import(pathToFileURL(abs).href);
}

/**
 * A plugin's watches or probes module: a user plugin's through the hooks (it may be TypeScript,
 * and its @tw/core is tw's copy), a shipped plugin's as it is (it has tw's copy already, and the
 * hooks' thread would cost every run memory).
 */
export async function importPluginModule(abs: string, shipped: boolean): Promise<unknown> {
  if (!shipped) {
    registerHooks();
    checkLoadable(abs);
  }
  return import(pathToFileURL(abs).href);
}

/** TypeScript needs the hooks, which need module.register (Node >= 20.6). */
function checkLoadable(abs: string): void {
  if (isTypeScript(abs) && !registerHooks()) throw new TwError('INVALID_WATCH', `${abs}: TypeScript watch files need Node >= 20.6 (module.register); this is ${process.version}`);
}

/** An ES module file whose default export is a defineWatch() object (a plain object of that shape works too). */
export async function loadWatchFile(path: string, isWatch: (w: unknown) => w is AnyWatch): Promise<{ watch: AnyWatch; plugin: string }> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new TwError('FILE_NOT_FOUND', `${path}: no such watch file`);
  checkLoadable(abs);
  let mod: { default?: unknown };
  try {
    mod = (await importWatchModule(abs)) as typeof mod;
  } catch (e) {
    throw new TwError('INVALID_WATCH', `${path}: cannot load the watch module: ${(e as Error).message}${isTypeScript(abs) ? watchFileFrame(e, abs) : ''}`, { cause: e });
  }
  if (!isWatch(mod.default)) throw new TwError('INVALID_WATCH', `${path}: the default export is not a watch (export default defineWatch({...}))`);
  return { watch: mod.default, plugin: abs };
}

/**
 * ` (at <file>:<line>:<column>)` for the innermost stack frame of an error (or of its causes)
 * that lies in a loaded TypeScript watch file, or in a TypeScript file of a user plugin (installed
 * in tw's data directory, or linked) — by source map, the file's own line — or '' when none does
 * (the message then says enough). `only` restricts it to one file.
 */
export function watchFileFrame(err: unknown, only?: string): string {
  const files = only !== undefined ? new Set([only]) : loaded;
  const roots = only !== undefined ? [] : userPluginRoots();
  if (files.size === 0 && roots.length === 0) return '';
  const ours = (file: string): boolean => files.has(file) || (isTypeScript(file) && !file.includes('/node_modules/@tw/') && roots.some((r) => file.startsWith(r)));
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    let stack: unknown;
    try {
      stack = (e as { stack?: unknown }).stack;
    } catch {
      continue;
    }
    if (typeof stack !== 'string') continue;
    for (const line of stack.split('\n')) {
      // "    at fn (/abs/file.ts:12:7)", "    at /abs/file.ts:12:7", or with file:// URLs
      const m = /^\s+at (?:.*?\()?(?:file:\/\/)?(\/[^():]+):(\d+):(\d+)\)?$/.exec(line);
      if (m && ours(decodeURIComponent(m[1]!))) return ` (at ${m[1]}:${m[2]}:${m[3]})`;
    }
  }
  return '';
}

/**
 * Where user plugins' code lives (with a trailing slash): tw's data directory (installed ones)
 * and the roots of linked ones, from oclif's user plugin list. Nothing when the list cannot be read.
 */
function userPluginRoots(): string[] {
  const dir = userDataDir();
  const roots = [`${dir}/`];
  try {
    const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { oclif?: { plugins?: Array<{ type?: string; root?: string }> } };
    for (const p of pj.oclif?.plugins ?? []) if (p.type === 'link' && typeof p.root === 'string') roots.push(`${p.root.replace(/\/$/, '')}/`);
  } catch {
    // no list (no user plugins) or unreadable: the data directory alone
  }
  return roots;
}
