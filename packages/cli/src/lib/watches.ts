/**
 * Watch discovery: every loaded oclif plugin (core plugins listed in our package.json and those
 * installed with `tw plugins install`) whose package.json has `"tw": { "watches": "<module>" }`
 * provides watches; the module's default export (or its `watches` export) is an array of them.
 */
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '@oclif/core';
import { TwError, type AnyWatch } from '@tw/core';

export interface InstalledWatch {
  watch: AnyWatch;
  plugin: string;
}

function isWatch(w: unknown): w is AnyWatch {
  return typeof w === 'object' && w !== null && typeof (w as AnyWatch).name === 'string' && typeof (w as AnyWatch).on === 'object';
}

export async function loadWatches(config: Config): Promise<InstalledWatch[]> {
  const out: InstalledWatch[] = [];
  const seen = new Map<string, string>();
  for (const plugin of config.getPluginsList()) {
    const entry = (plugin.pjson as { tw?: { watches?: string } }).tw?.watches;
    if (!entry) continue;
    let mod: { default?: unknown; watches?: unknown };
    try {
      mod = (await import(pathToFileURL(join(plugin.root, entry)).href)) as typeof mod;
    } catch (e) {
      throw new TwError('INVALID_WATCH', `plugin ${plugin.name}: cannot load its watches from ${entry}: ${(e as Error).message}`, { cause: e });
    }
    const list = Array.isArray(mod.watches) ? mod.watches : Array.isArray(mod.default) ? mod.default : [];
    for (const w of list as unknown[]) {
      if (!isWatch(w)) throw new TwError('INVALID_WATCH', `plugin ${plugin.name}: an exported watch is not a defineWatch() object`);
      const prev = seen.get(w.name);
      if (prev) throw new TwError('INVALID_WATCH', `watch '${w.name}' is provided by both ${prev} and ${plugin.name}`);
      seen.set(w.name, plugin.name);
      out.push({ watch: w, plugin: plugin.name });
    }
  }
  return out.sort((a, b) => a.watch.name.localeCompare(b.watch.name));
}

/**
 * A watch from a file (`tw watch ./my-watch.js`): a path (it contains a slash or ends in .js /
 * .mjs) to an ES module whose default export is a defineWatch() object.
 */
async function watchFromFile(path: string): Promise<InstalledWatch> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new TwError('FILE_NOT_FOUND', `${path}: no such watch file`);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(abs).href)) as typeof mod;
  } catch (e) {
    throw new TwError('INVALID_WATCH', `${path}: cannot load the watch module: ${(e as Error).message}`, { cause: e });
  }
  if (!isWatch(mod.default)) throw new TwError('INVALID_WATCH', `${path}: the default export is not a watch (export default defineWatch({...}))`);
  return { watch: mod.default, plugin: abs };
}

export async function findWatch(config: Config, name: string): Promise<InstalledWatch> {
  if (name.includes('/') || /\.m?js$/.test(name)) return watchFromFile(name);
  const all = await loadWatches(config);
  const hit = all.find((w) => w.watch.name === name);
  if (!hit) {
    const names = all.map((w) => w.watch.name);
    const close = names.filter((n) => n.startsWith(name.slice(0, 3)));
    throw new TwError(
      'UNKNOWN_WATCH',
      `no watch named '${name}'${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}; installed: ${names.join(', ') || 'none'} (see: tw watches)`,
    );
  }
  return hit;
}
