/**
 * A watch from a file, anywhere on disk: `tw watch ./top.ts`, `tw watch /abs/w.mjs`,
 * `tw watch w.js`. TypeScript (.ts, .mts) is transpiled on load and `@tw/core` resolves to tw's
 * own copy (the module hooks of ../register), so a file in a directory with no node_modules
 * runs as it is. Errors the file's code throws are reported at its own line (watchFileFrame).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TwError, type AnyWatch } from '@tw/core';
import { registerHooks } from '../register/index.js';

/** The extensions a watch file may have. */
export const WATCH_FILE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

/** Is this `tw watch` name a file (a path, or a name ending in a watch file extension) rather than an installed watch? */
export function isWatchFileName(name: string): boolean {
  return name.includes('/') || /\.m?[jt]s$/.test(name);
}

/** Files watches were loaded from in this process (absolute paths): where watchFileFrame looks. */
const loaded = new Set<string>();

/**
 * Import a module of watch code (a watch file or a plugin's watches module), TypeScript
 * included: the hooks are registered first (bin/run.js has done so already; a program that
 * uses the cli's API in-process has not).
 */
export async function importWatchModule(abs: string): Promise<unknown> {
  if (/\.m?ts$/.test(abs) && !registerHooks()) {
    throw new TwError('INVALID_WATCH', `${abs}: TypeScript watch files need Node >= 20.6 (module.register); this is ${process.version}`);
  }
  loaded.add(abs);
  return import(pathToFileURL(abs).href);
}

/** An ES module file whose default export is a defineWatch() object (a plain object of that shape works too). */
export async function loadWatchFile(path: string, isWatch: (w: unknown) => w is AnyWatch): Promise<{ watch: AnyWatch; plugin: string }> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new TwError('FILE_NOT_FOUND', `${path}: no such watch file`);
  let mod: { default?: unknown };
  try {
    mod = (await importWatchModule(abs)) as typeof mod;
  } catch (e) {
    if (e instanceof TwError || (e as TwError)?.code === 'INVALID_WATCH') throw e;
    throw new TwError('INVALID_WATCH', `${path}: cannot load the watch module: ${(e as Error).message}${watchFileFrame(e, abs)}`, { cause: e });
  }
  if (!isWatch(mod.default)) throw new TwError('INVALID_WATCH', `${path}: the default export is not a watch (export default defineWatch({...}))`);
  return { watch: mod.default, plugin: abs };
}

/**
 * ` (at <file>:<line>:<column>)` for the innermost stack frame of an error (or of its causes)
 * that lies in a loaded watch file — with source maps on, the TypeScript file's own line — or
 * '' when none does (the message then says enough). `only` restricts it to one file.
 */
export function watchFileFrame(err: unknown, only?: string): string {
  const files = only !== undefined ? new Set([only]) : loaded;
  if (files.size === 0) return '';
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
      if (m && files.has(decodeURIComponent(m[1]!))) return ` (at ${m[1]}:${m[2]}:${m[3]})`;
    }
  }
  return '';
}
