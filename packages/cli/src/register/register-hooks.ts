/**
 * Registering tw's module hooks (./hooks.ts) in this process, once: tw's own @tw/core and
 * @tw/probe-spec for every importer, TypeScript transpiled on load, source maps on so errors
 * point at TypeScript lines. The hooks run in a loader thread of their own (some 14 MB), so tw
 * registers them only when watch code from outside tw may load: a watch file (watch-file.ts),
 * user plugins (bin/run.js, see userPluginsInstalled), a plugin's tests (`tw test` imports
 * ./index.ts, which calls this).
 */
// a namespace import: a named import of `register` would fail to link on a Node without it
import * as nodeModule from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { userDataDir } from '../lib/user-plugins.js';

const REGISTERED = Symbol.for('tracewatch.register');

/** False on a Node without module.register (before 20.6): only .js/.mjs files can be loaded then. */
export function registerHooks(): boolean {
  const g = globalThis as { [REGISTERED]?: boolean };
  if (g[REGISTERED] !== undefined) return g[REGISTERED];
  // module.register is Node >= 20.6 (and 18.19); tw runs on 20, where older minors lack it
  if (typeof nodeModule.register !== 'function') return (g[REGISTERED] = false);
  nodeModule.register('./hooks.js', import.meta.url);
  process.setSourceMapsEnabled(true);
  return (g[REGISTERED] = true);
}

/**
 * Does oclif's user plugin list (<data dir>/package.json) name any plugin (installed or
 * linked)? Their code may import @tw/core from where no copy is, or be TypeScript. An unreadable
 * or malformed list: no (oclif loads no user plugin from it either).
 */
export function userPluginsInstalled(dataDir: string = userDataDir()): boolean {
  const file = join(dataDir, 'package.json');
  if (!existsSync(file)) return false;
  try {
    const pj = JSON.parse(readFileSync(file, 'utf8')) as { oclif?: { plugins?: unknown[] }; dependencies?: Record<string, unknown> };
    return (pj.oclif?.plugins?.length ?? 0) > 0 || Object.keys(pj.dependencies ?? {}).length > 0;
  } catch {
    return false;
  }
}
