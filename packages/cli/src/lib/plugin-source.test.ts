// What `tw plugins install` makes of its argument, and what it reads from a package before
// installing it. Git URLs are only recognised here (no git host is reachable from the tests);
// tarballs are real ones, made by npm pack and by tar.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authorText, installScripts, isTwPlugin, pluginSource, readTarball } from './plugin-source.js';

const tmp = mkdtempSync(join(tmpdir(), 'tw-plugin-source-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('pluginSource', () => {
  mkdirSync(join(tmp, 'sub/dir'), { recursive: true });
  writeFileSync(join(tmp, 'sub/p-0.0.1.tgz'), '');

  it.each([
    ['my-plugin', { kind: 'registry', name: 'my-plugin', range: undefined }],
    ['my-plugin@1.2.0', { kind: 'registry', name: 'my-plugin', range: '1.2.0' }],
    ['my-plugin@^1.2', { kind: 'registry', name: 'my-plugin', range: '^1.2' }],
    ['my-plugin@next', { kind: 'registry', name: 'my-plugin', range: 'next' }],
    ['@scope/plugin', { kind: 'registry', name: '@scope/plugin', range: undefined }],
    ['@scope/plugin@latest', { kind: 'registry', name: '@scope/plugin', range: 'latest' }],
  ])('%s is a registry package', (spec, want) => {
    expect(pluginSource(spec, tmp)).toEqual({ spec, ...want });
  });

  it.each([
    'git+https://example.com/me/p.git',
    'git+https://example.com/me/p.git#v1.0.0',
    'git+ssh://git@example.com/me/p.git',
    'git://example.com/me/p.git',
    'github:me/p',
    'github:me/p#main',
    'gitlab:me/p',
    'https://example.com/me/p.git',
    'git@github.com:me/p.git',
    'me/p', // a GitHub slug, as npm reads it, when no such path exists
  ])('%s is a git repository', (spec) => {
    expect(pluginSource(spec, tmp)).toEqual({ kind: 'git', spec });
  });

  it('an http(s) URL that is not a .git one is a remote tarball', () => {
    expect(pluginSource('https://example.com/p-1.0.0.tgz', tmp)).toEqual({ kind: 'remote', spec: 'https://example.com/p-1.0.0.tgz' });
  });

  it.each([
    ['./p-0.0.1.tgz', 'tarball', 'p-0.0.1.tgz'], // the one oclif took for a GitHub slug: a tarball, even when missing
    ['sub/p-0.0.1.tgz', 'tarball', 'sub/p-0.0.1.tgz'],
    ['p.tar.gz', 'tarball', 'p.tar.gz'],
    ['file:sub/p-0.0.1.tgz', 'tarball', 'sub/p-0.0.1.tgz'],
    ['./sub/dir', 'directory', 'sub/dir'],
    ['sub/dir', 'directory', 'sub/dir'], // exists: a path, not a GitHub slug
    ['../x', 'directory', '../x'],
    ['file:sub/dir', 'directory', 'sub/dir'],
  ])('%s is a local %s', (spec, kind, rel) => {
    expect(pluginSource(spec, tmp)).toEqual({ kind, spec, path: join(tmp, rel) });
  });

  it('an absolute path is local', () => {
    expect(pluginSource(join(tmp, 'sub/dir'), '/')).toEqual({ kind: 'directory', spec: join(tmp, 'sub/dir'), path: join(tmp, 'sub/dir') });
  });
});

describe('readTarball', () => {
  it('reads package.json from an npm pack tarball, with its install scripts', () => {
    const dir = join(tmp, 'pkg');
    mkdirSync(dir);
    const manifest = {
      name: '@me/tw-plugin-x',
      version: '1.2.3',
      author: { name: 'A. Author', email: 'a@example.com' },
      scripts: { postinstall: 'node setup.js', prepare: 'tsc', test: 'vitest' },
      tw: { watches: './w.js' },
    };
    writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
    writeFileSync(join(dir, 'w.js'), 'export default [];\n');
    const name = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], { cwd: dir, encoding: 'utf8' }).trim();
    const contents = readTarball(readFileSync(join(tmp, name)));
    expect(contents.manifest).toMatchObject(manifest);
    expect(contents.bindingGyp).toBe(false);
    expect(installScripts(contents)).toEqual(['postinstall: node setup.js', 'prepare: tsc']);
    expect(authorText(contents.manifest.author)).toBe('A. Author <a@example.com>');
    expect(isTwPlugin(contents.manifest)).toBe(true);
  });

  it('any top directory (as in a git host tarball), long paths, and a binding.gyp as the implied install script', () => {
    const topName = `repo-${'0123abcd'.repeat(14)}`; // its package.json's path is over ustar's 100 bytes: a long-name header
    const top = join(tmp, topName);
    const deep = join(top, 'a'.repeat(90));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'package.json'), '{"name":"not-this-one","version":"0.0.0"}');
    writeFileSync(join(top, 'package.json'), JSON.stringify({ name: 'native-thing', version: '0.1.0', oclif: {} }));
    writeFileSync(join(top, 'binding.gyp'), '{}');
    execFileSync('tar', ['-czf', join(tmp, 'gh.tar.gz'), '-C', tmp, topName]);
    const contents = readTarball(readFileSync(join(tmp, 'gh.tar.gz')));
    expect(contents.manifest.name).toBe('native-thing');
    expect(contents.bindingGyp).toBe(true);
    expect(installScripts(contents)).toEqual(['install: node-gyp rebuild (implied by its binding.gyp)']);
  });

  it('says what is wrong with what is not a package tarball', () => {
    expect(() => readTarball(Buffer.from('plain text'))).toThrow(/^not a gzipped tarball/);
    const empty = join(tmp, 'empty');
    mkdirSync(join(empty, 'package'), { recursive: true });
    writeFileSync(join(empty, 'package/README'), 'x');
    execFileSync('tar', ['-czf', join(tmp, 'empty.tgz'), '-C', empty, 'package']);
    expect(() => readTarball(readFileSync(join(tmp, 'empty.tgz')))).toThrow('it has no package.json at its top');
  });

  it('a package with neither "tw" nor "oclif" is not a tw plugin', () => {
    expect(isTwPlugin({ name: 'left-pad', version: '1.3.0' })).toBe(false);
    expect(isTwPlugin({ name: 'x', tw: 'watches.js' })).toBe(false);
  });
});
