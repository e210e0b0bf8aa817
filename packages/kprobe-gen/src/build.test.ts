import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTwError, type TwError } from '@tw/core';
import { afterAll, describe, expect, it } from 'vitest';
import { buildKey, buildModule, compilerErrorLines } from './build.js';
import { pluginShapes } from './test-specs.js';
import { makeFakeTree } from './test-tree.js';

const tmp = mkdtempSync(join(tmpdir(), 'tw-build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const unlinkat = pluginShapes.find((s) => s.name === 'unlinkat')!;

async function twError(p: Promise<unknown>): Promise<TwError> {
  try {
    await p;
  } catch (e) {
    expect(isTwError(e)).toBe(true);
    return e as TwError;
  }
  throw new Error('expected an error');
}

describe('buildModule (no compiler needed)', () => {
  it('checks Module.symvers before running make', async () => {
    const e = await twError(buildModule(unlinkat, { kdir: makeFakeTree(tmp, ['copy_from_user_nofault']), cacheDir: join(tmp, 'c'), make: '/nonexistent/make' }));
    expect(e.code).toBe('MISSING_SYMBOL');
    expect(e.message).toContain('copy_from_user_nofault');
  });

  it('make that cannot be started is TOOL_START, not a build failure', async () => {
    const e = await twError(buildModule(unlinkat, { kdir: makeFakeTree(tmp, []), cacheDir: join(tmp, 'c'), make: '/nonexistent/make' }));
    expect(e.code).toBe('TOOL_START');
    expect(e.message).toContain('/nonexistent/make');
  });

  it('no headers is KERNEL_HEADERS', async () => {
    expect((await twError(buildModule(unlinkat, { kdir: join(tmp, 'none'), cacheDir: join(tmp, 'c') }))).code).toBe('KERNEL_HEADERS');
  });

  it('keys the cache by spec hash and kernel release', () => {
    const k = buildKey(unlinkat, '6.1.192');
    expect(k).toMatch(/^unlinkat-[0-9a-f]{16}-6\.1\.192-/);
    expect(buildKey(unlinkat, '6.12.117+deb12-amd64')).not.toBe(k);
  });

  it('picks the compiler and modpost lines out of make output', () => {
    const out = [
      'make[1]: Entering directory',
      '  CC [M]  /x/tw_a.o',
      "/x/tw_a.c:12:5: error: 'struct filename' has no member named 'x'",
      '   12 |   a->x',
      'make[2]: *** [scripts/Makefile.build:250: /x/tw_a.o] Error 1',
      'ERROR: modpost: "strncpy_from_user_nofault" [/x/tw_a.ko] undefined!',
    ].join('\n');
    expect(compilerErrorLines(out)).toEqual(["/x/tw_a.c:12:5: error: 'struct filename' has no member named 'x'", 'ERROR: modpost: "strncpy_from_user_nofault" [/x/tw_a.ko] undefined!']);
  });
});
