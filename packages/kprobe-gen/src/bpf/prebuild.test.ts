/**
 * The build step of a package that ships probe specs (prebuildPackage, the code of
 * bin/kprobe-gen-prebuild.js) on a package in a temporary directory: without clang it builds
 * nothing, says why and leaves no stale objects; with clang (skipped without clang, bpftool or
 * kernel BTF) it writes the objects and stamps the BPF backend then finds.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelOf } from '@tw/probe-spec';
import { afterAll, describe, expect, it } from 'vitest';
import { hostArch } from '../kprobe-events.js';
import { pluginShapes } from '../test-specs.js';
import { bpfSourceHash } from './compile-bpf.js';
import { prebuildPackage, prebuildSummary } from './prebuild.js';
import { findPrebuiltBpf, prebuiltStampName } from './prebuilt.js';
import { bpfCompileMissing } from '../testing/bpf-tools.js';

const tmp = mkdtempSync(join(tmpdir(), 'tw-prebuild-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// unlinkat (BPF can express it) and a spec BPF cannot (a kprobe with six used arguments)
const unlinkat = pluginShapes[1]!;
const sixArgs = {
  name: 'six_args',
  attach: { kprobe: 'six' },
  args: ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => ({ name, type: 'long' })),
  fields: ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => ({ name, type: 's64', from: name })),
};

let n = 0;
/** a package whose built probes module exports these specs */
function makePackage(specs: unknown[]): string {
  const root = join(tmp, `pkg${n++}`);
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: `test-probes-${n}`, type: 'module', tw: { probes: './dist/probes.js' } }));
  writeFileSync(join(root, 'dist', 'probes.js'), `export const probes = ${JSON.stringify(specs)};\n`);
  return root;
}

describe('prebuildPackage', () => {
  it('without clang: builds nothing, says why in one line, and removes the objects of an earlier build', async () => {
    const root = makePackage([unlinkat, sixArgs]);
    mkdirSync(join(root, 'dist', 'bpf'));
    writeFileSync(join(root, 'dist', 'bpf', 'unlinkat.0123456789abcdef.bpf.o'), 'old');
    const r = await prebuildPackage(root, { clang: '/nonexistent/clang' });
    expect(r.built).toEqual([]);
    expect(r.skipped).toMatch(/^\/nonexistent\/clang cannot be started \(could not start '\/nonexistent\/clang --version'/);
    expect(r.inexpressible.map((x) => x.spec)).toEqual(['six_args']);
    expect(existsSync(join(root, 'dist', 'bpf'))).toBe(false);
    const line = prebuildSummary(r);
    expect(line).not.toContain('\n');
    expect(line).toMatch(new RegExp(`^test-probes-\\d+: prebuilt BPF objects not built: /nonexistent/clang cannot be started .*; tw will compile them where it runs if clang is there; not for BPF: six_args \\(`));
  });

  it('a package without probe specs is an error', async () => {
    const root = join(tmp, 'none');
    mkdirSync(root);
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'no-probes' }));
    await expect(prebuildPackage(root)).rejects.toThrow(/no-probes: package.json has no "tw": \{ "probes": "<module>" \}/);
  });
});

const reason = bpfCompileMissing();

describe.skipIf(reason !== '')(`prebuildPackage with clang${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('writes <name>.<spec hash>.bpf.o with its stamp, which the lookup then finds', { timeout: 120_000 }, async () => {
    const root = makePackage([unlinkat, sixArgs]);
    const r = await prebuildPackage(root, { objectCacheDir: join(tmp, 'cache') });
    const m = modelOf(unlinkat);
    expect(r.skipped).toBeUndefined();
    expect(r.built).toEqual([`unlinkat.${m.hash}.bpf.o`]);
    expect(readdirSync(join(root, 'dist', 'bpf')).sort()).toEqual([`unlinkat.${m.hash}.bpf.json`, `unlinkat.${m.hash}.bpf.o`]);
    const stamp = JSON.parse(readFileSync(join(root, 'dist', 'bpf', prebuiltStampName(unlinkat)), 'utf8')) as Record<string, string>;
    expect(stamp).toMatchObject({ spec: 'unlinkat', hash: m.hash, arch: hostArch(), source: bpfSourceHash(unlinkat) });
    expect(stamp['clang']).toMatch(/clang version/);
    const found = findPrebuiltBpf(unlinkat, [join(root, 'dist', 'bpf')]);
    expect(found.found).toBe(true);
    expect(prebuildSummary(r)).toMatch(/: 1 prebuilt BPF object in .*dist\/bpf \(unlinkat\); not for BPF: six_args/);
  });
});
