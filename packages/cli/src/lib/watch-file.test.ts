// Which `tw watch` names are files, and when bin/run.js registers the module hooks at start-up
// (user plugins listed in oclif's user plugin file, a real file in a temp data directory).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { userPluginsInstalled } from '../register/register-hooks.js';
import { isWatchFileName } from './watch-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-watch-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('isWatchFileName', () => {
  it('takes paths and names ending in .ts, .mts, .js, .mjs as files, watch names as watches', () => {
    for (const f of ['./top.ts', 'top.ts', 'top.mts', 'w.js', 'w.mjs', '/abs/w.ts', 'dir/w', '../w']) expect(isWatchFileName(f), f).toBe(true);
    for (const n of ['syscalls', 'who-killed', 'syscall-times', 'top.json', 'plugin:watch']) expect(isWatchFileName(n), n).toBe(false);
  });
});

describe('userPluginsInstalled', () => {
  const data = (text: string | undefined): string => {
    const d = mkdtempSync(join(dir, 'data-'));
    if (text !== undefined) writeFileSync(join(d, 'package.json'), text);
    return d;
  };
  it('is false without a user plugin list, with an empty one, or an unreadable one', () => {
    expect(userPluginsInstalled(data(undefined))).toBe(false);
    // what oclif leaves after the last plugin is uninstalled
    expect(userPluginsInstalled(data(JSON.stringify({ name: '@tw/cli', dependencies: {}, oclif: { plugins: [], schema: 1 }, private: true })))).toBe(false);
    expect(userPluginsInstalled(data('{ not json'))).toBe(false);
  });
  it('is true with an installed or a linked plugin', () => {
    expect(userPluginsInstalled(data(JSON.stringify({ dependencies: { 'tw-plugin-x': 'file:../x' }, oclif: { plugins: [{ name: 'tw-plugin-x', type: 'user', url: 'file:../x' }] } })))).toBe(true);
    expect(userPluginsInstalled(data(JSON.stringify({ dependencies: {}, oclif: { plugins: [{ name: 'tw-plugin-y', type: 'link', root: '/src/y' }] } })))).toBe(true);
  });
});
