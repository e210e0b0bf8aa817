/**
 * `tw plugins install`: fetch the package without running any of its code (`npm pack
 * --ignore-scripts`, or the tarball as given), show what it is and what it would run, ask, then
 * install it into tw's data directory the way oclif's installer does (npm install there, an entry
 * in <data dir>/package.json's oclif.plugins), so that `tw plugins`, `tw plugins uninstall` and
 * oclif's plugin loading keep working unchanged.
 *
 * npm is the one oclif's plugin installer pins (a dependency of @oclif/plugin-plugins), else the
 * npm on PATH. Install scripts, the package's and its dependencies', run only with
 * allowScripts: `--ignore-scripts`, and npm_config_ignore_scripts for the npm that npm itself
 * starts to prepare a git dependency.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Plugin, type Config } from '@oclif/core';
import { quoted, TwError } from '@tw/core';
import { authorText, installScripts, isTwPlugin, PACKAGE_NAME, pluginSource, readTarball, type PluginSource, type TarballContents } from './plugin-source.js';
import { loadWatches, pluginWatches } from './watches.js';

export interface PluginInstallOptions {
  /** install without asking */
  yes: boolean;
  /** let npm run the install scripts of the package and of its dependencies */
  allowScripts: boolean;
  /** one line of the summary (stdout) */
  log: (line: string) => void;
  /** ask a yes/no question; undefined when there is nobody to ask (no terminal) */
  ask: ((question: string) => Promise<boolean>) | undefined;
}

export interface InstalledPlugin {
  name: string;
  version: string;
  source: PluginSource['kind'];
  installScripts: string[];
  scriptsRan: boolean;
  /** the watches it brought: `run` is what to type after "tw watch" */
  watches: Array<{ name: string; run: string; summary: string }>;
}

export async function installPlugin(config: Config, spec: string, opts: PluginInstallOptions): Promise<InstalledPlugin> {
  const source = pluginSource(spec);
  const tmp = mkdtempSync(join(tmpdir(), 'tw-plugin-'));
  try {
    const tarball = await fetchTarball(source, tmp);
    let contents: TarballContents;
    try {
      contents = readTarball(readFileSync(tarball));
    } catch (e) {
      throw new TwError('PLUGIN_INSTALL', `${quoted(spec)}: cannot read the package: ${(e as Error).message}`, { cause: e });
    }
    const { manifest } = contents;
    const name = typeof manifest.name === 'string' ? manifest.name : '';
    const version = typeof manifest.version === 'string' ? manifest.version : '';
    if (!PACKAGE_NAME.test(name) || version === '') throw new TwError('PLUGIN_INSTALL', `${quoted(spec)}: its package.json has no valid "name" and "version"`);
    if (name === config.name || config.getPluginsList().some((p) => p.type === 'core' && p.name === name)) {
      // a user plugin of a shipped plugin's name would replace it (oclif prefers user plugins)
      throw new TwError('PLUGIN_INSTALL', `${quoted(name)} is the name of a package tw ships with: not installing it over tw's own`);
    }
    if (!isTwPlugin(manifest)) {
      throw new TwError('PLUGIN_INSTALL', `${name}@${version} is not a tw plugin (its package.json has neither a "tw" nor an "oclif" key): not installed`);
    }
    const scripts = installScripts(contents);
    summary(opts.log, source, name, version, contents, scripts, opts.allowScripts);
    if (!opts.yes) {
      if (!opts.ask) throw new TwError('NOT_CONFIRMED', `not installing ${name}@${version}: there is no terminal to ask on; run again with --yes to install it`);
      if (!(await opts.ask('Install? [y/N] '))) throw new TwError('NOT_CONFIRMED', `${name}@${version} not installed`);
    }

    const dataDir = config.dataDir;
    ensureDataPackage(dataDir, config.name);
    let installSpec: string;
    let entry: { name: string; type: 'user'; tag?: string; url?: string };
    if (source.kind === 'registry') {
      installSpec = `${name}@${version}`; // the version shown, not whatever the tag points to by now
      entry = { name, type: 'user', tag: version };
    } else if (source.kind === 'directory' || source.kind === 'tarball') {
      // a copy kept in the data directory: npm may need it again when other plugins are installed
      const kept = join('tarballs', `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
      mkdirSync(join(dataDir, 'tarballs'), { recursive: true });
      copyFileSync(tarball, join(dataDir, kept));
      installSpec = `file:${kept}`;
      entry = { name, type: 'user', url: installSpec };
    } else {
      installSpec = source.spec;
      entry = { name, type: 'user', url: source.spec };
    }
    const args = ['install', installSpec, '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error', '--legacy-peer-deps'];
    // --legacy-peer-deps: a plugin's peer dependencies (@tw/core) are tw's to provide, not npm's to fetch
    if (!opts.allowScripts) args.push('--ignore-scripts');
    // an installed copy goes first: npm would call the same version from the same spec up to
    // date and skip it (its install scripts too, when this time they are allowed)
    if (existsSync(join(dataDir, 'node_modules', name))) await npm(['uninstall', name, '--no-audit', '--no-fund', '--loglevel=error', '--ignore-scripts'], dataDir, false);
    const code = await npm(args, dataDir, opts.allowScripts);
    if (code !== 0) throw new TwError('PLUGIN_INSTALL', `npm install ${installSpec} failed (exit code ${code}); nothing was added`);
    const root = join(dataDir, 'node_modules', name);
    let watches;
    try {
      const plugin = new Plugin({ root, name, type: 'user', isRoot: false, errorOnManifestCreate: false, respectNoCacheDefault: true });
      await plugin.load();
      watches = await pluginWatches(plugin);
    } catch (e) {
      // not left half-installed: every later tw run would warn about it
      await npm(['uninstall', name, '--no-audit', '--no-fund', '--loglevel=error', '--ignore-scripts'], dataDir, false);
      const hint = scripts.length && !opts.allowScripts ? ' (its install scripts did not run: --allow-scripts runs them)' : '';
      throw new TwError('PLUGIN_INSTALL', `${name}@${version} was installed but ${(e as Error).message}${hint}; uninstalled it again`, { cause: e });
    }
    addPluginEntry(dataDir, entry);
    pruneTarballs(dataDir);
    const before = await loadWatches(config, () => {});
    const out = watches.map((w) => {
      const clash = before.find((b) => b.watch.name === w.name && b.plugin !== name);
      return { name: w.name, run: clash ? `${name}:${w.name}` : w.name, summary: w.summary, clashWith: clash?.plugin };
    });
    opts.log(`Installed ${name}@${version}.`);
    if (out.length === 0) opts.log('It provides no watches.');
    for (const w of out) {
      opts.log(`  watch ${w.run}${w.clashWith ? ` (${quoted(w.name)} is also ${w.clashWith}'s${before.some((b) => b.shipped && b.watch.name === w.name) ? ', which keeps the bare name' : ''})` : ''}: ${w.summary}`);
    }
    return { name, version, source: source.kind, installScripts: scripts, scriptsRan: opts.allowScripts && scripts.length > 0, watches: out.map(({ name: n, run, summary: s }) => ({ name: n, run, summary: s })) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function summary(log: (l: string) => void, source: PluginSource, name: string, version: string, { manifest }: TarballContents, scripts: string[], allowScripts: boolean): void {
  const from = { registry: 'the npm registry', directory: 'a directory', tarball: 'a tarball', git: 'a git repository', remote: 'a tarball URL' }[source.kind];
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  log(`${name}@${version}  (from ${from}: ${source.spec})`);
  const row = (k: string, v: string | undefined) => log(`  ${k.padEnd(17)}${v ?? '(none given)'}`);
  row('description', text(manifest.description));
  row('author', authorText(manifest.author));
  row('license', text(manifest.license));
  const deps = Object.keys(manifest.dependencies ?? {});
  row('dependencies', deps.length ? `${deps.join(', ')} (from the npm registry)` : 'none');
  if (scripts.length === 0) row('install scripts', 'none');
  else {
    row('install scripts', scripts[0]);
    for (const s of scripts.slice(1)) log(`  ${''.padEnd(17)}${s}`);
    log(allowScripts ? '  These scripts WILL run (--allow-scripts), with your privileges.' : '  These scripts will not run (its dependencies\' neither); --allow-scripts runs them.');
  }
}

/** The package's tarball in tmp: the local one as given, else made by npm pack without running scripts. */
async function fetchTarball(source: PluginSource, tmp: string): Promise<string> {
  if (source.kind === 'tarball') {
    if (!existsSync(source.path) || !statSync(source.path).isFile()) throw new TwError('FILE_NOT_FOUND', `${quoted(source.spec)}: no such tarball`);
    return source.path;
  }
  if (source.kind === 'directory' && !existsSync(join(source.path, 'package.json'))) {
    throw new TwError('FILE_NOT_FOUND', `${quoted(source.spec)}: no such directory, or it has no package.json`);
  }
  const what = source.kind === 'directory' ? source.path : source.spec;
  const code = await npm(['pack', what, '--ignore-scripts', '--pack-destination', tmp, '--loglevel=error', '--json'], tmp, false, true);
  const made = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  if (code !== 0 || made.length !== 1) throw new TwError('PLUGIN_INSTALL', `${quoted(source.spec)}: npm could not fetch the package (npm pack: exit code ${code})`);
  return join(tmp, made[0]!);
}

/** The command that runs npm: oclif's pinned npm when it is there, else npm from PATH. */
function npmCommand(): [string, string[]] {
  try {
    const pp = createRequire(import.meta.url).resolve('@oclif/plugin-plugins');
    const pjson = createRequire(pp).resolve('npm/package.json');
    const bin = (JSON.parse(readFileSync(pjson, 'utf8')) as { bin?: { npm?: string } }).bin?.npm;
    if (bin) return [process.execPath, [join(dirname(pjson), bin)]];
  } catch {
    // not there: the npm on PATH
  }
  return ['npm', []];
}

/** Run npm in cwd, its output on our stderr (stdout stays the command's); resolves to its exit code. */
function npm(args: string[], cwd: string, allowScripts: boolean, quietStdout = false): Promise<number> {
  const [cmd, pre] = npmCommand();
  const env: NodeJS.ProcessEnv = { ...process.env, HUSKY: '0' };
  if (!allowScripts) env['npm_config_ignore_scripts'] = 'true';
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], { cwd, env, stdio: ['ignore', quietStdout ? 'ignore' : process.stderr, process.stderr] });
    child.on('error', (e) => reject(new TwError('TOOL_START', `cannot start npm (${cmd}): ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/**
 * Remove the kept tarballs no installed plugin names any more (older versions, uninstalled
 * plugins: `tw plugins uninstall` is oclif's and knows nothing of them).
 */
function pruneTarballs(dataDir: string): void {
  const deps = (JSON.parse(readFileSync(join(dataDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
  if (!existsSync(join(dataDir, 'tarballs'))) return;
  const used = new Set(Object.values(deps).filter((v) => v.startsWith('file:tarballs/')).map((v) => v.slice('file:tarballs/'.length)));
  for (const f of readdirSync(join(dataDir, 'tarballs'), { withFileTypes: true })) {
    if (f.isFile() && f.name.endsWith('.tgz') && !used.has(f.name)) rmSync(join(dataDir, 'tarballs', f.name), { force: true });
  }
}

/** <data dir>/package.json as oclif's installer first writes it. */
function ensureDataPackage(dataDir: string, cliName: string): void {
  const path = join(dataDir, 'package.json');
  if (existsSync(path)) return;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path, JSON.stringify({ name: cliName, private: true, oclif: { schema: 1, plugins: [] }, dependencies: {} }, null, 2));
}

/** Add the plugin to oclif.plugins in <data dir>/package.json (npm wrote its dependency there). */
function addPluginEntry(dataDir: string, entry: { name: string; type: 'user'; tag?: string; url?: string }): void {
  const path = join(dataDir, 'package.json');
  const pjson = JSON.parse(readFileSync(path, 'utf8')) as { oclif?: { schema?: number; plugins?: Array<string | { name: string }> } };
  const plugins = (pjson.oclif?.plugins ?? []).filter((p) => (typeof p === 'string' ? p : p.name) !== entry.name);
  pjson.oclif = { ...pjson.oclif, schema: 1, plugins: [...plugins, entry] };
  writeFileSync(path, JSON.stringify(pjson, null, 2));
}
