/**
 * Watch discovery: every loaded oclif plugin (core plugins listed in our package.json and those
 * installed with `tw plugins install`) whose package.json has `"tw": { "watches": "<module>" }`
 * provides watches; the module's default export (or its `watches` export) is an array of them.
 */
import { join } from 'node:path';
import type { Config } from '@oclif/core';
import { TwError, printable, quoted, type AnyWatch } from '@tw/core';
import { importPluginModule, isWatchFileName, loadWatchFile } from './watch-file.js';

export interface InstalledWatch {
  watch: AnyWatch;
  /** the npm package name of the plugin that provides it (a watch file: its absolute path) */
  plugin: string;
  /** `<plugin>:<watch>`: names this one watch whatever other plugins provide */
  qualified: string;
  shipped: boolean;
  /** another plugin provides a watch of the same name (see resolveWatch for who gets the bare name) */
  clash: boolean;
}

/** `<plugin>:<watch>`: the plugin part is an npm package name, the watch part a watch name (split at the last colon). */
const QUALIFIED = /^((?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*):([a-z0-9][a-z0-9-]*)$/;

/** How a watch is named on the command line: its bare name, or its qualified one when the name clashes. */
export function watchId(w: InstalledWatch): string {
  return w.clash ? w.qualified : w.watch.name;
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
 * Every installed watch, shipped plugins' first. Names may clash (two plugins each with a
 * `syscalls`): both watches stay, each reachable as `<plugin>:<watch>`, and a clash never stops
 * the other watches (resolveWatch says who gets the bare name). A user plugin that cannot be
 * loaded, or exports something that is not a watch, is skipped with a warning naming it: the
 * other plugins and commands go on. (A shipped plugin that cannot be loaded is tw's own bug, and
 * an error.)
 */
export async function loadWatches(config: Config, warn: Warn = warnOnStderr): Promise<InstalledWatch[]> {
  const out: InstalledWatch[] = [];
  const plugins = [...config.getPluginsList()].sort((a, b) => Number(isShipped(b)) - Number(isShipped(a)));
  for (const plugin of plugins) {
    const shipped = isShipped(plugin);
    let list: AnyWatch[];
    try {
      list = await pluginWatches(plugin);
    } catch (e) {
      if (shipped) throw new TwError('INVALID_WATCH', `plugin ${plugin.name}: ${errorText(e)}`, { cause: e });
      warn(`plugin ${quoted(plugin.name)}: ${errorText(e)}; its watches are skipped`);
      continue;
    }
    const own = new Set<string>();
    for (const w of list) {
      // one plugin, two watches of one name: even the qualified name could not tell them apart
      if (own.has(w.name)) {
        warn(`plugin ${quoted(plugin.name)}: it exports two watches named ${quoted(w.name)}; the second is skipped`);
        continue;
      }
      own.add(w.name);
      out.push({ watch: w, plugin: plugin.name, qualified: `${plugin.name}:${w.name}`, shipped, clash: false });
    }
  }
  const count = new Map<string, number>();
  for (const w of out) count.set(w.watch.name, (count.get(w.watch.name) ?? 0) + 1);
  for (const w of out) w.clash = (count.get(w.watch.name) ?? 0) > 1;
  // by name; of one name, the shipped one first (a stable sort keeps the plugins' order after it)
  return out.sort((a, b) => a.watch.name.localeCompare(b.watch.name) || Number(b.shipped) - Number(a.shipped));
}

/**
 * The watches a plugin provides ("tw": { "watches": "<module>" } in its package.json; none
 * without it). Throws (a plain Error saying what is wrong) when the module cannot be loaded or
 * exports something that is not a watch.
 */
export async function pluginWatches(plugin: { root: string; pjson: unknown; type?: string }): Promise<AnyWatch[]> {
  const entry = (plugin.pjson as { tw?: { watches?: unknown } }).tw?.watches;
  if (entry === undefined) return [];
  if (typeof entry !== 'string') throw new Error('"tw.watches" in its package.json is not a module path');
  let mod: { default?: unknown; watches?: unknown };
  try {
    mod = (await importPluginModule(join(plugin.root, entry), isShipped({ type: plugin.type ?? 'user' }))) as typeof mod;
  } catch (e) {
    throw new Error(`cannot load its watches from ${quoted(entry)}: ${errorText(e)}`, { cause: e });
  }
  const list = Array.isArray(mod.watches) ? mod.watches : Array.isArray(mod.default) ? mod.default : [];
  if (!(list as unknown[]).every(isWatch)) throw new Error('an exported watch is not a defineWatch() object');
  return list as AnyWatch[];
}

function errorText(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return 'an error that cannot be shown as text';
  }
}

/**
 * A watch from a file (`tw watch ./my-watch.ts`): a path, or a name ending in .ts, .mts, .js or
 * .mjs (watch-file.ts: TypeScript transpiled on load, @tw/core is tw's own copy).
 */
async function watchFromFile(path: string): Promise<InstalledWatch> {
  const { watch, plugin } = await loadWatchFile(path, isWatch);
  return { watch, plugin, qualified: plugin, shipped: false, clash: false };
}

export async function findWatch(config: Config, name: string, warn: Warn = noteOnStderr): Promise<InstalledWatch> {
  // before the file test below: a scoped plugin's qualified name (@tw/plugin-x:w) has a slash
  if (QUALIFIED.test(name)) return resolveWatch(await loadWatches(config), name, warn);
  if (isWatchFileName(name)) return watchFromFile(name);
  return resolveWatch(await loadWatches(config), name, warn);
}

const noteOnStderr: Warn = (m) => {
  process.stderr.write(`tw: note: ${printable(m)}\n`);
};

/**
 * The watch a name on the command line means. `<plugin>:<watch>` is that plugin's watch. A bare
 * name that only one plugin provides is its watch; when several do, it is the shipped one's (a
 * user plugin can never stand in for a watch tw ships), with a note naming the others; when no
 * shipped plugin is among them, the bare name is an error that lists the qualified names.
 */
export function resolveWatch(all: readonly InstalledWatch[], name: string, note: Warn = noteOnStderr): InstalledWatch {
  const q = QUALIFIED.exec(name);
  if (q) {
    const hit = all.find((w) => w.qualified === name);
    if (hit) return hit;
    const [, plugin, watch] = q;
    const theirs = all.filter((w) => w.plugin === plugin).map((w) => w.watch.name);
    if (theirs.length) throw new TwError('UNKNOWN_WATCH', `plugin ${quoted(plugin!)} has no watch named ${quoted(watch!)}; its watches: ${theirs.join(', ')}`);
    const named = all.filter((w) => w.watch.name === watch).map((w) => w.qualified);
    throw new TwError('UNKNOWN_WATCH', `no installed plugin named ${quoted(plugin!)} provides watches${named.length ? `; ${quoted(watch!)} is ${named.join(', ')}` : ''} (see: tw watches)`);
  }
  const same = all.filter((w) => w.watch.name === name);
  if (same.length === 1) return same[0]!;
  if (same.length > 1) {
    const shipped = same.find((w) => w.shipped);
    // by plugin name (code points): the same message whatever order the plugins were loaded in
    const others = same.filter((w) => w !== shipped).sort((a, b) => (a.plugin < b.plugin ? -1 : a.plugin > b.plugin ? 1 : 0));
    if (shipped) {
      const also = others.map((w) => w.plugin).join(', ');
      const as = others.map((w) => w.qualified).join(', ');
      note(`${quoted(name)} is also provided by ${also}; run ${others.length > 1 ? 'theirs' : 'it'} as ${as}`);
      return shipped;
    }
    throw new TwError('UNKNOWN_WATCH', `watch ${quoted(name)} is provided by ${others.map((w) => w.plugin).join(' and ')}: run one of ${others.map((w) => w.qualified).join(', ')}`);
  }
  const names = [...new Set(all.map(watchId))];
  const close = names.filter((n) => n.startsWith(name.slice(0, 3)));
  throw new TwError(
    'UNKNOWN_WATCH',
    `no watch named '${name}'${close.length ? ` (did you mean ${close.join(', ')}?)` : ''}; installed: ${names.join(', ') || 'none'} (see: tw watches)`,
  );
}
