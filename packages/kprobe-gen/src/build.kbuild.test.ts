/**
 * Builds the generated modules with the real Kbuild (-Werror) against every kernel in
 * /lib/modules that has a build tree. Nothing is loaded: that needs the qemu guest.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTwError, type ModuleBuildError } from '@tw/core';
import { modelOf, type ProbeSpec } from '@tw/probe-spec';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModule } from './build.js';
import { listKernelTrees } from './kernels.js';
import { moduleTakesMountOffsets, specNeedsMountOffsets } from './mount-offsets.js';
import { broken, pluginShapes, testSpecs } from './test-specs.js';

const trees = listKernelTrees();
const reason = trees.length === 0 ? 'no kernel headers in /lib/modules/*/build (install linux-headers-* to run the Kbuild tests)' : '';
const cacheDir = mkdtempSync(join(tmpdir(), 'tw-kbuild-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** run jobs two at a time (the CI machine has 2 cores) */
async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

describe.skipIf(trees.length === 0)(`Kbuild ${reason || trees.map((t) => t.utsRelease).join(' + ')}`, () => {
  // the plugins' shipped specs are built in test/src/shipped-probes
  const specs: ProbeSpec[] = testSpecs;

  it('builds every test spec with -Werror against every installed kernel', { timeout: 240_000 }, async () => {
    const jobs = trees.flatMap((tree) => specs.map((spec) => ({ tree, spec })));
    const results = await pool(jobs, 2, async ({ tree, spec }) => {
      try {
        return await buildModule(spec, { kdir: tree.kdir, cacheDir });
      } catch (e) {
        throw new Error(`${spec.name} on ${tree.utsRelease}: ${(e as Error).message}\n${(e as Partial<ModuleBuildError>).stderr ?? ''}`);
      }
    });
    for (const [i, r] of results.entries()) {
      const { tree, spec } = jobs[i]!;
      expect(r.cached).toBe(false);
      expect(r.release).toBe(tree.release);
      expect(existsSync(r.ko)).toBe(true);
      const ko = readFileSync(r.ko).toString('latin1');
      // built for that kernel, carrying the spec it came from
      expect(ko).toContain(`vermagic=${tree.utsRelease} `);
      expect(ko).toContain(`tw_spec=${spec.name} ${modelOf(spec).hash}`);
      expect(ko).toContain(`name=tw_${spec.name}`);
      expect(r.log).not.toMatch(/warning:/);
      // loadModule finds the struct mount offset params in the modules whose path() crosses mounts
      expect(await moduleTakesMountOffsets(r.ko), spec.name).toBe(specNeedsMountOffsets(spec));
    }
  });

  it('reuses a cached build: second call is cached and runs no make', async () => {
    for (const tree of trees) {
      const again = await buildModule(specs[0]!, { kdir: tree.kdir, cacheDir, make: '/nonexistent/make' });
      expect(again.cached).toBe(true);
      expect(again.log).toBe('');
      expect(again.key).toContain(tree.release);
    }
  });

  it('also writes sources and the module to outDir', async () => {
    const outDir = join(cacheDir, 'out');
    const r = await buildModule(pluginShapes[0]!, { kdir: trees[0]!.kdir, cacheDir, outDir });
    expect(r.ko).toBe(join(outDir, 'tw_unlink.ko'));
    for (const f of ['tw_unlink.ko', 'tw_unlink.c', 'tw_unlink_trace.h', 'Kbuild', 'Makefile']) expect(existsSync(join(outDir, f)), f).toBe(true);
  });

  it('a broken spec fails with ModuleBuildError carrying the compiler error line', { timeout: 120_000 }, async () => {
    for (const tree of trees) {
      let err: ModuleBuildError | undefined;
      try {
        await buildModule(broken, { kdir: tree.kdir, cacheDir });
      } catch (e) {
        err = e as ModuleBuildError;
      }
      expect(isTwError(err)).toBe(true);
      expect(err!.code).toBe('MODULE_BUILD');
      expect(err!.name).toBe('ModuleBuildError');
      expect(err!.exitCode).not.toBe(0);
      expect(err!.command).toMatch(/^make -C \S+ M=\S+ modules$/);
      expect(err!.stderr).toMatch(/tw_broken\.c:\d+:\d+: error: .struct filename. has no member named .no_such_member./);
      expect(err!.message).toContain("has no member named");
      expect(err!.message).toContain(tree.utsRelease);
    }
  });
});
