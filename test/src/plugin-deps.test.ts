// A plugin that declares probes needs their specs' types, validation and layout helpers at run
// time, which @tw/probe-spec provides; it must not declare or load the probe generator
// (@tw/kprobe-gen) or the generator's heavy dependencies (typescript, handlebars, execa).
// Checked twice: on the dependency closure that package.json files declare (what installing the
// plugin brings), and on the modules a Node process really loads when it imports the plugin's
// entry points (test/fixtures/record-modules.mjs records them).
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './support/proc.js';
import { REPO_ROOT } from './support/tw.js';

const PLUGINS = ['@tw/plugin-fswatch', '@tw/plugin-kill'];
const GENERATOR_ONLY = ['@tw/kprobe-gen', 'typescript', 'handlebars', 'execa'];
const RECORD_MODULES = join(REPO_ROOT, 'test/fixtures/record-modules.mjs');

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const readPackage = (dir: string): PackageJson => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;

/** The directory of package `name` as Node finds it from `from` (node_modules up the tree). */
function packageDir(name: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) throw new Error(`package ${name} is not installed (looked up from ${from})`);
  }
}

/** Every package installing `name` brings: its run-time dependencies, transitively, by name. */
function dependencyClosure(name: string): Map<string, string> {
  const seen = new Map<string, string>();
  const queue: Array<[string, string]> = [[name, REPO_ROOT]];
  while (queue.length > 0) {
    const [n, from] = queue.shift()!;
    if (seen.has(n)) continue;
    const dir = packageDir(n, from);
    seen.set(n, dir);
    const pkg = readPackage(dir);
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies })) queue.push([dep, dir]);
  }
  return seen;
}

/** The name in the nearest package.json that has one, above a loaded file. */
function packageOf(file: string): string | undefined {
  for (let dir = dirname(file); dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      const name = readPackage(dir).name;
      if (name !== undefined) return name;
    }
  }
  return undefined;
}

const tmp = mkdtempSync(join(tmpdir(), 'tw-plugin-deps-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The packages of every file a fresh Node process loads to import `specifiers` (from the repository root). */
async function loadedPackages(specifiers: string[]): Promise<Set<string>> {
  const log = join(tmp, `${specifiers[0]!.replace(/\W+/g, '_')}.log`);
  const code = specifiers.map((s) => `await import(${JSON.stringify(s)});`).join('\n');
  const r = await run(process.execPath, ['--import', RECORD_MODULES, '--input-type=module', '-e', code], {
    cwd: REPO_ROOT,
    env: { ...process.env, TW_MODULE_LOG: log },
    check: false,
  });
  expect(r.code, r.stderr).toBe(0);
  const files = readFileSync(log, 'utf8').split('\n').filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u));
  expect(files.length).toBeGreaterThan(0);
  return new Set(files.map(packageOf).filter((n): n is string => n !== undefined && n !== 'tracewatch'));
}

describe.each(PLUGINS)('%s at run time', (plugin) => {
  const closure = dependencyClosure(plugin);

  it('declares @tw/probe-spec, not the generator, and installs none of the generator-only packages', () => {
    const deps = readPackage(closure.get(plugin)!).dependencies ?? {};
    expect(Object.keys(deps)).not.toContain('@tw/kprobe-gen');
    expect([...closure.keys()].filter((n) => GENERATOR_ONLY.includes(n))).toEqual([]);
    expect(Object.keys(deps)).toContain('@tw/probe-spec');
  });

  it('loads only packages it declares, none of them generator-only, to import its watches and probes', async () => {
    const loaded = await loadedPackages([plugin, `${plugin}/probes`]);
    expect([...loaded].filter((n) => GENERATOR_ONLY.includes(n))).toEqual([]);
    expect([...loaded].filter((n) => !closure.has(n))).toEqual([]);
    expect(loaded).toContain(plugin);
    expect(loaded).toContain('@tw/probe-spec');
  });
});
