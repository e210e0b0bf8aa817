/**
 * `@tw/cli/register`: puts tw's module hooks (./hooks.ts: tw's own @tw/core and @tw/probe-spec
 * for every importer, TypeScript transpiled on load) in place for this process, and turns on
 * source maps so errors point at TypeScript lines. bin/run.js imports it before oclif loads any
 * plugin; a plugin's tests run with it as `node --import <this module> --test` (what `tw test`
 * does). Idempotent: the hooks are registered once per process.
 */
// a namespace import: a named import of `register` would fail to link on a Node without it
import * as nodeModule from 'node:module';

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

registerHooks();
