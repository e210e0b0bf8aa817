/**
 * Where the BPF backend gets a spec's object (bpfObjectFor): prebuilt, else cached, else clang.
 * Real files in a temporary directory stand for a package's dist/bpf and the object cache (their
 * bytes say which one was taken); clang is a program that does not exist, so nothing compiles.
 * The last case compiles for real, and is skipped without clang, bpftool or kernel BTF.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTwError } from '@tw/core';
import { modelOf } from '@tw/probe-spec';
import { afterAll, describe, expect, it } from 'vitest';
import { hostArch } from '../kprobe-events.js';
import { pluginShapes } from '../test-specs.js';
import { BPF_OBJECT_ORDER, bpfObjectFor } from './bpf-object.js';
import { bpfSourceHash } from './compile-bpf.js';
import { findPrebuiltBpf, prebuiltBpfName, prebuiltStamp, prebuiltStampName } from './prebuilt.js';
import { bpfCompileMissing } from '../testing/bpf-tools.js';

const spec = pluginShapes[1]!; // unlinkat
const m = modelOf(spec);
const arch = hostArch();
const NO_CLANG = '/nonexistent/clang';
const tmp = mkdtempSync(join(tmpdir(), 'tw-bpf-object-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** a fresh package dist/bpf and object cache */
function dirs(): { prebuilt: string; cache: string } {
  const base = join(tmp, String(n++));
  const d = { prebuilt: join(base, 'pkg', 'dist', 'bpf'), cache: join(base, 'cache') };
  mkdirSync(d.prebuilt, { recursive: true });
  mkdirSync(d.cache, { recursive: true });
  return d;
}

function putPrebuilt(dir: string, o: { name?: string; stamp?: Partial<ReturnType<typeof prebuiltStamp>> | false } = {}): string {
  const object = join(dir, o.name ?? prebuiltBpfName(spec));
  writeFileSync(object, 'prebuilt');
  if (o.stamp !== false) writeFileSync(join(dir, prebuiltStampName(spec)), JSON.stringify({ ...prebuiltStamp(spec, 'Debian clang version 14.0.6', arch), ...o.stamp }));
  return object;
}

/** a complete object cache entry as compileBpf leaves it, made by some clang */
function putCached(cache: string, clang = '13.0.1', builtAt = '2026-01-01T00:00:00.000Z'): string {
  const entry = join(cache, `${m.name}-${m.hash}-${arch}-clang${clang}-${bpfSourceHash(spec)}`);
  mkdirSync(entry, { recursive: true });
  writeFileSync(join(entry, `tw_${m.name}.bpf.o`), `cached ${clang}`);
  writeFileSync(join(entry, '.tw-bpf.json'), JSON.stringify({ spec: m.name, hash: m.hash, arch, clang: `clang version ${clang}`, builtAt }));
  return join(entry, `tw_${m.name}.bpf.o`);
}

const taken = (object: string) => readFileSync(object, 'utf8');

describe('bpfObjectFor: prebuilt, else cached, else clang', () => {
  it('states the order once', () => {
    expect(BPF_OBJECT_ORDER).toEqual(['prebuilt', 'cached', 'compiled']);
  });

  it('takes the prebuilt object for the spec hash over a cached one, without clang', async () => {
    const d = dirs();
    const object = putPrebuilt(d.prebuilt);
    putCached(d.cache);
    const r = await bpfObjectFor(spec, { prebuiltDirs: [d.prebuilt], objectCacheDir: d.cache, clang: NO_CLANG });
    expect(r).toEqual({ object, origin: 'prebuilt', clangVersion: 'Debian clang version 14.0.6', passedOver: [] });
  });

  it('the first of several prebuilt directories that has one wins', async () => {
    const a = dirs();
    const b = dirs();
    const object = putPrebuilt(b.prebuilt);
    const r = await bpfObjectFor(spec, { prebuiltDirs: [a.prebuilt, b.prebuilt], objectCacheDir: a.cache, clang: NO_CLANG });
    expect(r.object).toBe(object);
    expect(r.origin).toBe('prebuilt');
  });

  it('a stale object (another spec hash) is not used: the cache serves, nothing is noted', async () => {
    const d = dirs();
    putPrebuilt(d.prebuilt, { name: `${m.name}.0123456789abcdef.bpf.o` });
    putCached(d.cache);
    const r = await bpfObjectFor(spec, { prebuiltDirs: [d.prebuilt], objectCacheDir: d.cache, clang: NO_CLANG });
    expect(r.origin).toBe('cached');
    expect(taken(r.object)).toBe('cached 13.0.1');
    expect(r.passedOver).toEqual([]);
  });

  it.each([
    ['another architecture', { stamp: { arch: arch === 'x86_64' ? 'arm64' : 'x86_64' } } as const, /was built for (arm64|x86_64), this machine is/],
    ['C from another kprobe-gen', { stamp: { source: '0000000000' } } as const, /compiled from the C of another kprobe-gen version/],
    ['no stamp', { stamp: false } as const, /its stamp .*\.bpf\.json is missing or unreadable/],
  ])('an object for the spec hash built for %s is passed over, with a note', async (_what, o, why) => {
    const d = dirs();
    const object = putPrebuilt(d.prebuilt, o);
    putCached(d.cache);
    const r = await bpfObjectFor(spec, { prebuiltDirs: [d.prebuilt], objectCacheDir: d.cache, clang: NO_CLANG });
    expect(r.origin).toBe('cached');
    expect(r.passedOver).toHaveLength(1);
    expect(r.passedOver[0]).toContain(`${object} is not used: `);
    expect(r.passedOver[0]).toMatch(why);
  });

  it('of several cached objects (by different clangs) the most recently built is taken', async () => {
    const d = dirs();
    putCached(d.cache, '13.0.1', '2026-01-01T00:00:00.000Z');
    putCached(d.cache, '14.0.6', '2026-02-01T00:00:00.000Z');
    // another spec's and another version's entries are not this spec's
    mkdirSync(join(d.cache, `${m.name}-0123456789abcdef-${arch}-clang14.0.6-${bpfSourceHash(spec)}`));
    const r = await bpfObjectFor(spec, { objectCacheDir: d.cache, clang: NO_CLANG });
    expect(taken(r.object)).toBe('cached 14.0.6');
    expect(r.clangVersion).toBe('clang version 14.0.6');
  });

  it('with outDir the object is copied there next to its source', async () => {
    const d = dirs();
    putPrebuilt(d.prebuilt);
    const out = join(tmp, 'out');
    const r = await bpfObjectFor(spec, { prebuiltDirs: [d.prebuilt], objectCacheDir: d.cache, clang: NO_CLANG, outDir: out });
    expect(r.object).toBe(join(out, 'tw_unlinkat.bpf.o'));
    expect(taken(r.object)).toBe('prebuilt');
    expect(existsSync(join(out, 'tw_unlinkat.bpf.c'))).toBe(true);
  });

  it('none of the three: TOOL_START naming the prebuilt directory, the spec hash, the cache and clang', async () => {
    const d = dirs();
    putPrebuilt(d.prebuilt, { name: `${m.name}.0123456789abcdef.bpf.o` });
    let err: unknown;
    try {
      await bpfObjectFor(spec, { prebuiltDirs: [d.prebuilt], objectCacheDir: d.cache, clang: NO_CLANG });
    } catch (e) {
      err = e;
    }
    expect(isTwError(err) && err.code).toBe('TOOL_START');
    const msg = (err as Error).message;
    expect(msg).toContain(`no BPF object for probe 'unlinkat': no prebuilt object for spec hash ${m.hash} in ${d.prebuilt}`);
    expect(msg).toContain(`(it has ${m.name}.0123456789abcdef.bpf.o: another version of the spec)`);
    expect(msg).toContain(`none in the object cache (${d.cache})`);
    expect(msg).toMatch(/\/nonexistent\/clang cannot be started \(install clang, or a package built with it\)$/);
  });

  it('without clang on PATH the error says clang is not installed', async () => {
    const d = dirs();
    const path = process.env['PATH'];
    process.env['PATH'] = join(tmp, 'empty-path');
    try {
      await expect(bpfObjectFor(spec, { prebuiltDirs: [d.prebuilt], objectCacheDir: d.cache })).rejects.toThrow(
        new RegExp(`no prebuilt object for spec hash ${m.hash} in ${d.prebuilt}; none in the object cache \\(${d.cache}\\); and clang is not installed \\(install clang, or a package built with it\\)$`),
      );
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('a spec from no package (no prebuilt directory) says so', async () => {
    const d = dirs();
    await expect(bpfObjectFor(spec, { objectCacheDir: d.cache, clang: NO_CLANG })).rejects.toThrow(/no prebuilt object for spec hash \w+ \(no package directory of prebuilt objects was given for this spec\)/);
  });

  it('findPrebuiltBpf says, per directory, why none serves', () => {
    const a = dirs();
    const b = dirs();
    putPrebuilt(b.prebuilt, { stamp: { source: '0000000000' } });
    const r = findPrebuiltBpf(spec, [a.prebuilt, b.prebuilt], arch);
    expect(r.found).toBe(false);
    expect(!r.found && r.problems.map((p) => p.replace(tmp, 'TMP'))).toEqual([
      `no prebuilt object for spec hash ${m.hash} in ${a.prebuilt.replace(tmp, 'TMP')}`,
      `${join(b.prebuilt, prebuiltBpfName(spec)).replace(tmp, 'TMP')} is not used: it was compiled from the C of another kprobe-gen version`,
    ]);
  });
});

const reason = bpfCompileMissing();

describe.skipIf(reason !== '')(`bpfObjectFor with clang${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('no prebuilt, no cache: clang compiles it; the next time it is cached', { timeout: 120_000 }, async () => {
    const d = dirs();
    const first = await bpfObjectFor(spec, { prebuiltDirs: [d.prebuilt], objectCacheDir: d.cache });
    expect(first.origin).toBe('compiled');
    expect(readFileSync(first.object).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    const again = await bpfObjectFor(spec, { prebuiltDirs: [d.prebuilt], objectCacheDir: d.cache, clang: NO_CLANG });
    expect(again).toMatchObject({ object: first.object, origin: 'cached' });
  });
});
