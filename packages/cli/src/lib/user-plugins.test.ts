// userDataDir must name the directory oclif itself reads the user plugin list from (its
// Config.dataDir), for each way of setting it; userPluginsReadable is false only when that list
// may exist but cannot be read (the CLI test checks that case as an unprivileged user).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Config } from '@oclif/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOptions, userDataDir, userPluginsReadable } from './user-plugins.js';

const CLI_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'tw-user-plugins-'));
afterAll(() => {
  chmodSync(tmp, 0o700);
  rmSync(tmp, { recursive: true, force: true });
});

async function oclifDataDir(env: Record<string, string | undefined>): Promise<string> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const set = (e: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(e)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(env);
  try {
    return (await Config.load({ root: CLI_ROOT, userPlugins: false })).dataDir;
  } finally {
    set(saved);
  }
}

describe('userDataDir', () => {
  it.each([
    [{ TW_DATA_DIR: '/d/tw', XDG_DATA_HOME: '/x', HOME: '/h' }],
    [{ TW_DATA_DIR: undefined, XDG_DATA_HOME: '/x', HOME: '/h' }],
    [{ TW_DATA_DIR: undefined, XDG_DATA_HOME: undefined, HOME: '/h' }],
  ])('is oclif\'s data directory for %j', async (env) => {
    const want = await oclifDataDir(env);
    expect(userDataDir(env)).toBe(want);
  });
});

describe('userPluginsReadable', () => {
  it('true when the list is absent or readable', () => {
    expect(userPluginsReadable(join(tmp, 'absent'))).toBe(true);
    mkdirSync(join(tmp, 'data'));
    writeFileSync(join(tmp, 'data', 'package.json'), '{}');
    expect(userPluginsReadable(join(tmp, 'data'))).toBe(true);
    expect(loadOptions(new URL('file:///x/bin/run.js').href)).toMatchObject({ root: '/x/bin/run.js' });
  });

  it.skipIf(process.getuid?.() === 0)('false when it may not be read (root may read anything)', () => {
    chmodSync(join(tmp, 'data'), 0o000);
    try {
      expect(userPluginsReadable(join(tmp, 'data'))).toBe(false);
    } finally {
      chmodSync(join(tmp, 'data'), 0o700);
    }
  });
});
