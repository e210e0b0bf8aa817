/**
 * Watch discovery: every loaded oclif plugin (core plugins listed in our package.json and those
 * installed with `tw plugins install`) whose package.json has `"tw": { "watches": "<module>" }`
 * provides watches; the module's default export (or its `watches` export) is an array of them.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
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

export async function findWatch(config: Config, name: string): Promise<InstalledWatch> {
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
