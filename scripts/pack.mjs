#!/usr/bin/env node
// `npm run pack`: tarballs to install tw from without a registry that has @tw/* (they are not
// published). In packed/ (or the directory given as the first argument):
//   tracewatch-<version>.tgz       the one to install: `npm install -g ./packed/tracewatch-<version>.tgz`
//                                  gives `tw` on the PATH. It is @tw/cli with its whole production
//                                  dependency tree bundled (the other @tw packages, oclif, ...), so
//                                  installing it needs no registry.
//   parts/tw-<name>-<version>.tgz  `npm pack` of each publishable package, as a registry would get it
// Each part is checked first: its dist/ is there (`npm run pack` builds first), no test files, and
// the plugins that ship prebuilt BPF objects have them (dist/bpf/*.bpf.o). relay-native goes in as
// source (native/, binding.gyp): where the tarball is installed, its install script builds the
// addon with node-gyp and that machine's node headers, or says the build failed and tw uses the
// pure-JS reader, as in the repository (`npm install -g --ignore-scripts` skips the build: JS reader).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'packed'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// the packages @tw/cli depends on, directly or not; the plugins with prebuilt BPF objects
const PARTS = ['core', 'probe-spec', 'kprobe-gen', 'relay-native', 'plugin-syscalls', 'plugin-fswatch', 'plugin-kill'];
const WITH_BPF = new Set(['plugin-fswatch', 'plugin-kill']);

function fail(message) {
  console.error(`tw-pack: ${message}`);
  process.exit(1);
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit code ${r.status})`);
  return r.stdout;
}

/** npm pack DIR into dest; returns npm's report of it (name, version, filename, files). */
function pack(dir, dest) {
  const [report] = JSON.parse(run(npm, ['pack', dir, '--json', '--ignore-scripts', '--pack-destination', dest, '--loglevel=error'], root));
  return report;
}

/** npm pack of packages/<dir> for each dir, checked (see check); returns dir → npm's report. */
function packWorkspaces(dirs, dest) {
  const args = ['pack', ...dirs.flatMap((d) => ['--workspace', `packages/${d}`]), '--json', '--ignore-scripts', '--pack-destination', dest, '--loglevel=error'];
  const reports = JSON.parse(run(npm, args, root));
  const byDir = new Map();
  for (const dir of dirs) {
    const { name } = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
    const report = reports.find((r) => r.name === name);
    if (!report) fail(`npm pack made nothing for ${name}`);
    check(dir, report);
    byDir.set(dir, report);
  }
  return byDir;
}

function check(name, report) {
  const files = report.files.map((f) => f.path);
  const tests = files.filter((f) => /(^|\/)[^/]*\.test\.[cm]?[jt]s(\.map)?$|\.test\.d\.ts$/.test(f));
  if (tests.length) fail(`${report.name}: test files in the package: ${tests.slice(0, 3).join(', ')}`);
  if (!files.some((f) => f.startsWith('dist/'))) fail(`${report.name}: no dist/ in the package (run npm run build first)`);
  if (WITH_BPF.has(name) && !files.some((f) => /^dist\/bpf\/.+\.bpf\.o$/.test(f))) {
    fail(`${report.name}: no prebuilt BPF objects (dist/bpf/*.bpf.o): its build makes them with clang (see README)`);
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'parts'), { recursive: true });
const stage = mkdtempSync(join(tmpdir(), 'tw-pack-'));
try {
  // every package in one npm run (each npm start costs seconds)
  const reports = packWorkspaces(['cli', ...PARTS], join(out, 'parts'));
  const cli = reports.get('cli');
  // @tw/cli, unpacked: the whole tree goes into its node_modules
  const cliDir = join(stage, 'cli');
  mkdirSync(cliDir);
  run('tar', ['-xzf', join(out, 'parts', cli.filename), '-C', cliDir, '--strip-components=1'], root);
  const pjson = JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8'));
  const parts = {};
  for (const name of PARTS) parts[reports.get(name).name] = join(out, 'parts', reports.get(name).filename);
  const missing = Object.keys(pjson.dependencies).filter((d) => d.startsWith('@tw/') && !parts[d]);
  if (missing.length) fail(`@tw/cli depends on ${missing.join(', ')}, which this script does not pack`);
  // The whole production tree goes into the tarball (bundleDependencies: every dependency): npm
  // takes whatever is reachable from a bundled package as bundled too, so the @tw packages cannot
  // be bundled alone with their registry dependencies left to npm. A side effect worth having: the
  // install needs no registry at all. No scripts run here: relay-native's install script (the
  // addon build, or its fallback) runs where the tarball is installed.
  run(npm, ['install', ...Object.values(parts), '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], cliDir);
  pjson.bundleDependencies = Object.keys(pjson.dependencies);
  writeFileSync(join(cliDir, 'package.json'), `${JSON.stringify(pjson, null, 2)}\n`); // the dependencies as they were: versions, not the file: paths npm saved
  const whole = pack(cliDir, stage);
  const file = join(out, `tracewatch-${whole.version}.tgz`);
  renameSync(join(stage, whole.filename), file);
  console.log(`tw-pack: ${file} (${(whole.size / 1024 / 1024).toFixed(1)} MiB, ${whole.entryCount} files)`);
  console.log(`tw-pack: install with: npm install -g ${file}`);
  console.log(`tw-pack: the packages one by one: ${readdirSync(join(out, 'parts')).join(', ')} in ${join(out, 'parts')}`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
