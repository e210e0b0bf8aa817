// `tw plugins install` through the real tw CLI, with real npm, into a data directory of the
// test's own (TW_DATA_DIR): the user's plugins are never touched. Plugins are minimal packages
// made here (a JS watch, no dependencies). Covered: a directory, an npm pack tarball, the trust
// step (no terminal and no --yes: refused, nothing installed; install scripts only with
// --allow-scripts; a terminal answering n and y), a registry package that is not a tw plugin,
// `tw plugins link|uninstall`, and watch name clashes (shipped vs user, user vs user).
// Git URLs are not installed here (no git host is reachable): plugin-source.test.ts checks that
// they are recognised.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { endingProblem, runTwBounded, type BoundedRun } from './support/tw-bounded.js';

const SAMPLE = join(REPO_ROOT, 'examples/sample.dat');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-plugins-install-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A plugin package in dir/<name>: one watch per name in `watches` (each counts sched_switch), optionally a postinstall script that writes `marker`. */
function makePlugin(name: string, watches: string[], opts: { marker?: string } = {}): string {
  const root = join(dir, 'src', name);
  mkdirSync(root, { recursive: true });
  const pjson: Record<string, unknown> = {
    name,
    version: '1.0.0',
    description: `test plugin ${name}`,
    author: 'Tess Ter <tess@example.com>',
    license: 'MIT',
    type: 'module',
    tw: { watches: './watches.mjs' },
    oclif: {},
  };
  if (opts.marker) pjson['scripts'] = { postinstall: `node -e "require('fs').writeFileSync('${opts.marker}', 'ran')"` };
  writeFileSync(join(root, 'package.json'), JSON.stringify(pjson, null, 2));
  const list = watches.map(
    (w) => `{ name: '${w}', summary: '${name}/${w}', events: ['sched:sched_switch'], state: () => ({ n: 0 }), on: { 'sched:sched_switch'(e, ctx) { ctx.state.n++; } }, end: (ctx) => ({ from: '${name}', switches: ctx.state.n }) }`,
  );
  writeFileSync(join(root, 'watches.mjs'), `export default [${list.join(',\n')}];\n`);
  return root;
}

/** A fresh data directory (no plugins) and the environment that points tw at it. */
function freshData(label: string): { data: string; env: NodeJS.ProcessEnv } {
  const data = join(dir, 'data', label);
  mkdirSync(data, { recursive: true });
  return { data, env: { ...process.env, TW_DATA_DIR: data } };
}

async function tw(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<BoundedRun> {
  const r = await runTwBounded(args, { env, timeoutMs });
  expect(endingProblem(r), `tw ${args.join(' ')}: ${r.stderr}`).toBeUndefined();
  return r;
}

function installed(data: string): string[] {
  const path = join(data, 'package.json');
  if (!existsSync(path)) return [];
  const pjson = JSON.parse(readFileSync(path, 'utf8')) as { oclif?: { plugins?: Array<{ name: string }> } };
  return (pjson.oclif?.plugins ?? []).map((p) => p.name);
}

async function watchIds(env: NodeJS.ProcessEnv): Promise<Array<{ name: string; id: string; plugin: string }>> {
  const r = await tw(['watches', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { watches: Array<{ name: string; id: string; plugin: string }> }).watches;
}

async function runWatch(name: string, env: NodeJS.ProcessEnv): Promise<{ r: BoundedRun; result: Record<string, unknown> }> {
  const r = await tw(['watch', name, '--input', SAMPLE, '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return { r, result: JSON.parse(r.stdout) as Record<string, unknown> };
}

describe('tw plugins install', () => {
  it('a directory: shown, installed with --yes, its watch listed and run, then uninstalled', async () => {
    const src = makePlugin('tw-test-dir', ['dir-switches']);
    const { data, env } = freshData('dir');
    const r = await tw(['plugins', 'install', src, '--yes'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^tw-test-dir@1\.0\.0 {2}\(from a directory: /m);
    expect(r.stdout).toMatch(/^ {2}author +Tess Ter <tess@example\.com>$/m);
    expect(r.stdout).toMatch(/^ {2}license +MIT$/m);
    expect(r.stdout).toMatch(/^ {2}install scripts +none$/m);
    expect(r.stdout).toMatch(/^ {2}watch dir-switches: tw-test-dir\/dir-switches$/m);
    expect(installed(data)).toEqual(['tw-test-dir']);
    expect((await watchIds(env)).filter((w) => w.plugin === 'tw-test-dir').map((w) => w.id)).toEqual(['dir-switches']);
    const { result } = await runWatch('dir-switches', env);
    expect(result).toEqual({ from: 'tw-test-dir', switches: 251 });
    const u = await tw(['plugins', 'uninstall', 'tw-test-dir'], env);
    expect(u.code, u.stderr).toBe(0);
    expect(installed(data)).toEqual([]);
    expect((await watchIds(env)).map((w) => w.name)).not.toContain('dir-switches');
  });

  it('an npm pack tarball path: local, in seconds (never looked up as a GitHub slug)', async () => {
    const src = makePlugin('tw-test-tgz', ['tgz-switches']);
    const file = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], { cwd: src, encoding: 'utf8' }).trim();
    const { data, env } = freshData('tgz');
    // relative, as a user types it (`./x.tgz`), from the directory it is in
    const t0 = Date.now();
    const p = spawnSync(process.execPath, [twCliPath(), 'plugins', 'install', `./${file}`, '-y'], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    expect(p.status, p.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(p.stdout).toMatch(/^tw-test-tgz@1\.0\.0 {2}\(from a tarball: \.\/tw-test-tgz-1\.0\.0\.tgz\)$/m);
    expect(installed(data)).toEqual(['tw-test-tgz']);
    const { result } = await runWatch('tgz-switches', env);
    expect(result).toEqual({ from: 'tw-test-tgz', switches: 251 });
    expect((await tw(['plugins', 'uninstall', 'tw-test-tgz'], env)).code).toBe(0);
    expect(installed(data)).toEqual([]);
    // the copy tw kept of the tarball goes with the next install, which keeps only its own
    expect(readdirSync(join(data, 'tarballs'))).toEqual(['tw-test-tgz-1.0.0.tgz']);
    expect((await tw(['plugins', 'install', makePlugin('tw-test-next', ['next-switches']), '--yes'], env)).code).toBe(0);
    expect(readdirSync(join(data, 'tarballs'))).toEqual(['tw-test-next-1.0.0.tgz']);
  });

  it('no terminal and no --yes: refused with one line and exit code 10, nothing installed', async () => {
    const src = makePlugin('tw-test-ask', ['ask-switches']);
    const { data, env } = freshData('ask');
    const r = await tw(['plugins', 'install', src], env);
    expect(r.code).toBe(10);
    expect(r.stderr).toBe("tw: not installing tw-test-ask@1.0.0: there is no terminal to ask on; run again with --yes to install it\n");
    expect(r.stdout).toMatch(/^tw-test-ask@1\.0\.0 /m); // what it would have installed was shown
    expect(installed(data)).toEqual([]);
    expect(existsSync(join(data, 'node_modules/tw-test-ask'))).toBe(false);
  });

  it("a postinstall script runs only with --allow-scripts, and the summary says which", async () => {
    const marker = join(dir, 'postinstall-ran');
    const src = makePlugin('tw-test-scripts', ['scripts-switches'], { marker });
    const { data, env } = freshData('scripts');
    const r = await tw(['plugins', 'install', src, '--yes'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}install scripts +postinstall: node -e /m);
    expect(r.stdout).toMatch(/These scripts will not run .*--allow-scripts runs them\.$/m);
    expect(existsSync(join(data, 'node_modules/tw-test-scripts/watches.mjs'))).toBe(true);
    expect(existsSync(marker)).toBe(false);
    // (with --json: the summary on stderr, the result on stdout)
    const again = await tw(['plugins', 'install', src, '--yes', '--allow-scripts', '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/These scripts WILL run \(--allow-scripts\)/);
    expect(JSON.parse(again.stdout)).toMatchObject({ name: 'tw-test-scripts', version: '1.0.0', source: 'directory', scriptsRan: true, watches: [{ name: 'scripts-switches', run: 'scripts-switches' }] });
    expect(readFileSync(marker, 'utf8')).toBe('ran');
    expect(installed(data)).toEqual(['tw-test-scripts']);
  });

  it('on a terminal it asks: n installs nothing, y installs', () => {
    const src = makePlugin('tw-test-tty', ['tty-switches']);
    const { data, env } = freshData('tty');
    // script(1) gives tw a terminal; the answer is typed on it
    const onTty = (answer: string) =>
      spawnSync('script', ['-qec', `${process.execPath} ${twCliPath()} plugins install ${src}`, '/dev/null'], { env, input: `${answer}\n`, encoding: 'utf8', timeout: 60_000 });
    const no = onTty('n');
    expect(no.stdout).toContain('Install? [y/N]');
    expect(no.stdout).toContain('tw: tw-test-tty@1.0.0 not installed');
    expect(no.status).toBe(10);
    expect(installed(data)).toEqual([]);
    const yes = onTty('y');
    expect(yes.status, yes.stdout).toBe(0);
    expect(yes.stdout).toContain('Installed tw-test-tty@1.0.0.');
    expect(installed(data)).toEqual(['tw-test-tty']);
  });

  it('a registry package that is not a tw plugin is refused before anything is installed', async () => {
    // is-number@7.0.0: a small real package from the npm registry with no dependencies
    const { data, env } = freshData('registry');
    const r = await tw(['plugins', 'install', 'is-number@7.0.0', '--yes'], env);
    expect(r.code).toBe(11);
    expect(r.stderr).toBe('tw: is-number@7.0.0 is not a tw plugin (its package.json has neither a "tw" nor an "oclif" key): not installed\n');
    expect(installed(data)).toEqual([]);
    expect(existsSync(join(data, 'node_modules/is-number'))).toBe(false);
  });

  it('a missing tarball is a missing file, at once', async () => {
    const { env } = freshData('missing');
    const r = await tw(['plugins', 'install', './p-0.0.1.tgz'], env, 10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("tw: './p-0.0.1.tgz': no such tarball\n");
  });

  it('tw plugins link and uninstall still work', async () => {
    const src = makePlugin('tw-test-link', ['link-switches']);
    const { data, env } = freshData('link');
    const l = await tw(['plugins', 'link', src, '--no-install'], env);
    expect(l.code, l.stderr).toBe(0);
    expect(installed(data)).toEqual(['tw-test-link']);
    expect((await runWatch('link-switches', env)).result).toEqual({ from: 'tw-test-link', switches: 251 });
    expect((await tw(['plugins', 'uninstall', 'tw-test-link'], env)).code).toBe(0);
    expect(installed(data)).toEqual([]);
  });
});

describe('watch name clashes', () => {
  it("a plugin's watch named like a shipped one: both run by qualified name, the bare name is the shipped one's (with a note), other watches unaffected", async () => {
    const src = makePlugin('tw-test-clash', ['syscalls', 'clash-switches']);
    const { env } = freshData('clash-shipped');
    const i = await tw(['plugins', 'install', src, '--yes'], env);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/^ {2}watch tw-test-clash:syscalls \('syscalls' is also @tw\/plugin-syscalls's, which keeps the bare name\)/m);
    const bare = await runWatch('syscalls', env);
    expect(bare.result['total']).toBe(11731); // the shipped watch
    expect(bare.r.stderr).toBe("tw: note: 'syscalls' is also provided by tw-test-clash; run it as tw-test-clash:syscalls\n");
    expect((await runWatch('tw-test-clash:syscalls', env)).result).toEqual({ from: 'tw-test-clash', switches: 251 });
    const shipped = await runWatch('@tw/plugin-syscalls:syscalls', env);
    expect(shipped.result['total']).toBe(11731);
    expect(shipped.r.stderr).toBe('');
    expect((await runWatch('clash-switches', env)).result).toEqual({ from: 'tw-test-clash', switches: 251 });
    const other = await runWatch('allcounts', env);
    expect(other.result['total']).toBe(47463);
    expect(other.r.stderr).toBe('');
    const ids = (await watchIds(env)).filter((w) => w.name === 'syscalls').map((w) => w.id);
    expect(ids).toEqual(['@tw/plugin-syscalls:syscalls', 'tw-test-clash:syscalls']);
    const text = await tw(['watches'], env);
    expect(text.stdout).toMatch(/^tw-test-clash:syscalls +tw-test-clash\/syscalls$/m);
  });

  it('two user plugins with one watch name: the bare name is an error listing both, each runs by qualified name', async () => {
    const a = makePlugin('tw-test-a', ['twin']);
    const b = makePlugin('@tw-test/b', ['twin']);
    const { env } = freshData('clash-users');
    expect((await tw(['plugins', 'install', a, '--yes'], env)).code).toBe(0);
    const ib = await tw(['plugins', 'install', b, '--yes'], env);
    expect(ib.code, ib.stderr).toBe(0);
    expect(ib.stdout).toMatch(/^ {2}watch @tw-test\/b:twin \('twin' is also tw-test-a's\)/m);
    const bare = await tw(['watch', 'twin', '--input', SAMPLE], env);
    expect(bare.code).toBe(4);
    expect(bare.stderr).toBe("tw: watch 'twin' is provided by @tw-test/b and tw-test-a: run one of @tw-test/b:twin, tw-test-a:twin\n");
    expect((await runWatch('tw-test-a:twin', env)).result).toEqual({ from: 'tw-test-a', switches: 251 });
    expect((await runWatch('@tw-test/b:twin', env)).result).toEqual({ from: '@tw-test/b', switches: 251 });
    expect((await runWatch('syscalls', env)).result['total']).toBe(11731);
    const unknown = await tw(['watch', 'tw-test-a:nope', '--input', SAMPLE], env);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toBe("tw: plugin 'tw-test-a' has no watch named 'nope'; its watches: twin\n");
  });
});
