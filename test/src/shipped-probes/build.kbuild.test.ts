/**
 * Builds the plugins' generated modules with the real Kbuild (-Werror) against every kernel in
 * /lib/modules that has a build tree (kprobe-gen's own test specs: packages/kprobe-gen); the specs
 * only BPF can express have none. Nothing is loaded: that needs the qemu guest.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModuleBuildError } from '@tw/core';
import { buildModule, listKernelTrees, moduleTakesMountOffsets, specNeedsMountOffsets } from '@tw/kprobe-gen';
import { modelOf } from '@tw/probe-spec';
import { afterAll, describe, expect, it } from 'vitest';
import { moduleSpecs } from '../support/shipped-specs.js';

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
  it('builds every shipped spec that has a module with -Werror against every installed kernel', { timeout: 240_000 }, async () => {
    const jobs = trees.flatMap((tree) => moduleSpecs.map((spec) => ({ tree, spec })));
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
});
