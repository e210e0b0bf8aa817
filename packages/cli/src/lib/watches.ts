/**
 * Watch discovery: every loaded oclif plugin (core plugins listed in our package.json and those
 * installed with `tw plugins install`) whose package.json has `"tw": { "watches": "<module>" }`
 * provides watches; the module's default export (or its `watches` export) is an array of them.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { Config } from '@oclif/core';
import { TwError, printable, quoted, type AnyWatch } from '@tw/core';
import { isWatchFileName, loadWatchFile } from './watch-file.js';

export interface InstalledWatch {
  watch: AnyWatch;
  plugin: string;
}

function isWatch(w: unknown): w is AnyWatch {
  return typeof w === 'object' && w !== null && typeof (w as AnyWatch).name === 'string' && /^[a-z0-9][a-z0-9-]*$/.test((w as AnyWatch).name) && typeof (w as AnyWatch).on === 'object' && (w as AnyWatch).on !== null;
}

/** A plugin shipped with tw (listed in its own package.json), as opposed to one a user installed or linked. */
export function isShipped(plugin: { type: string }): boolean {
  return plugin.type === 'core';
}

/** How a plugin problem that must not stop the command is said: one line on stderr. */
export type Warn = (message: string) => void;
export const warnOnStderr: Warn = (m) => {
  process.stderr.write(`tw: warning: ${printable(m)}\n`);
};

/**
 * Every installed watch. Shipped plugins come first and their watches' names are theirs: a
 * user plugin's watch of the same name is ignored (with a warning), so it can never stand in for
 * a shipped one. A user plugin that cannot be loaded, or exports something that is not a watch,
 * is skipped with a warning naming it: the other plugins and commands go on. (A shipped plugin
 * that cannot be loaded is tw's own bug, and an error.)
 */
export async function loadWatches(config: Config, warn: Warn = warnOnStderr): Promise<InstalledWatch[]> {
  const out: InstalledWatch[] = [];
  const seen = new Map<string, { plugin: string; shipped: boolean }>();
  const plugins = [...config.getPluginsList()].sort((a, b) => Number(isShipped(b)) - Number(isShipped(a)));
  for (const plugin of plugins) {
    const entry = (plugin.pjson as { tw?: { watches?: string } }).tw?.watches;
    if (!entry) continue;
    const shipped = isShipped(plugin);
    const problem = (m: string, cause?: unknown): void => {
      if (shipped) throw new TwError('INVALID_WATCH', `plugin ${plugin.name}: ${m}`, { cause });
      warn(`plugin ${quoted(plugin.name)}: ${m}; its watches are skipped`);
    };
    let mod: { default?: unknown; watches?: unknown };
    try {
      mod = (await import(pathToFileURL(join(plugin.root, entry)).href)) as typeof mod;
    } catch (e) {
      problem(`cannot load its watches from ${quoted(entry)}: ${errorText(e)}`, e);
      continue;
    }
    const list = Array.isArray(mod.watches) ? mod.watches : Array.isArray(mod.default) ? mod.default : [];
    if (!(list as unknown[]).every(isWatch)) {
      problem('an exported watch is not a defineWatch() object');
      continue;
    }
    for (const w of list as AnyWatch[]) {
      const prev = seen.get(w.name);
      if (prev) {
        if (shipped) throw new TwError('INVALID_WATCH', `watch '${w.name}' is provided by both ${prev.plugin} and ${plugin.name}`);
        warn(`plugin ${quoted(plugin.name)}: its watch ${quoted(w.name)} is ignored: ${prev.shipped ? 'a watch shipped with tw' : `plugin ${quoted(prev.plugin)}'s watch`} has that name`);
        continue;
      }
      seen.set(w.name, { plugin: plugin.name, shipped });
      out.push({ watch: w, plugin: plugin.name });
    }
  }
  return out.sort((a, b) => a.watch.name.localeCompare(b.watch.name));
}

function errorText(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return 'an error that cannot be shown as text';
  }
}

export async function findWatch(config: Config, name: string): Promise<InstalledWatch> {
  // a file: a path, or a name ending in .ts/.mts/.js/.mjs (TypeScript transpiled on load)
  if (isWatchFileName(name)) return loadWatchFile(name, isWatch);
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
