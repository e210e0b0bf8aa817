/**
 * Compiles the generated BPF C of every test spec with the real clang against this machine's
 * vmlinux.h (made with bpftool from /sys/kernel/btf/vmlinux). Nothing is loaded: that is
 * bpf-load.kernel.test.ts. Skipped, saying why, without clang, bpftool or BTF.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTwError, type BpfBuildError } from '@tw/core';
import { modelOf, type ProbeSpec } from '@tw/probe-spec';
import { afterAll, describe, expect, it } from 'vitest';
import { broken, bpfOnlySpecs, pluginShapes, testSpecs } from '../test-specs.js';
import { compileBpf } from './compile-bpf.js';
import { tryRenderBpf } from './render-bpf.js';
import { vmlinuxHeader } from './vmlinux.js';
import { bpfCompileMissing } from '../testing/bpf-tools.js';


const reason = bpfCompileMissing();
const tmp = mkdtempSync(join(tmpdir(), 'tw-bpf-compile-'));
const cache = { cacheDir: join(tmp, 'vmlinux'), objectCacheDir: join(tmp, 'objects') };
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** the names in a BTF DATASEC of an object, from bpftool's dump */
function datasecVars(object: string, sec: string): string[] {
  const dump = execFileSync('bpftool', ['btf', 'dump', 'file', object], { encoding: 'utf8' });
  const lines = dump.split('\n');
  const at = lines.findIndex((l) => l.includes(`DATASEC '${sec}'`));
  if (at < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /^\s+type_id=\d+ offset=\d+ size=\d+ \(VAR '([^']+)'\)/.exec(l);
    if (!m) break;
    out.push(m[1]!);
  }
  return out;
}

describe.skipIf(reason !== '')(`clang compiles the generated BPF C${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const specs: ProbeSpec[] = [...testSpecs, ...pluginShapes, ...bpfOnlySpecs].filter((s) => typeof tryRenderBpf(s) === 'string');

  it('makes vmlinux.h once per BTF', { timeout: 120_000 }, async () => {
    const first = await vmlinuxHeader(cache);
    expect(first.cached).toBe(false);
    expect(readFileSync(first.path, 'utf8')).toContain('struct task_struct {');
    const again = await vmlinuxHeader({ ...cache, bpftool: '/nonexistent/bpftool' });
    expect(again).toEqual({ ...first, cached: true });
  });

  it.each(specs.map((spec) => ({ name: spec.name, spec })))('$name: -Wall -Werror, with the contract maps and params', { timeout: 120_000 }, async ({ spec }) => {
    const r = await compileBpf(spec, cache);
    expect(r.cached).toBe(false);
    expect(r.log).not.toMatch(/warning:/);
    expect(existsSync(r.object)).toBe(true);
    expect(r.key).toContain(`${spec.name}-${modelOf(spec).hash}-`);
    expect(datasecVars(r.object, '.maps')).toEqual(expect.arrayContaining(['tw_events', 'tw_lost']));
    const rodata = datasecVars(r.object, '.rodata');
    for (const p of modelOf(spec).params) expect(rodata).toContain(`tw_param_${p.name}`);
    // an ELF for BPF
    const elf = readFileSync(r.object);
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(elf.readUInt16LE(18)).toBe(247); // EM_BPF
  });

  it('reuses a cached object: clang only reports its version', async () => {
    const spec = specs[0]!;
    const again = await compileBpf(spec, { ...cache, vmlinux: '/nonexistent/vmlinux.h' });
    expect(again.cached).toBe(true);
    expect(again.log).toBe('');
  });

  it('writes the source and the object to outDir', async () => {
    const outDir = join(tmp, 'out');
    const r = await compileBpf(pluginShapes[1]!, { ...cache, outDir });
    expect(r.object).toBe(join(outDir, 'tw_unlinkat.bpf.o'));
    expect(existsSync(join(outDir, 'tw_unlinkat.bpf.c'))).toBe(true);
  });

  it('a broken spec fails with BpfBuildError carrying clang\'s error line', { timeout: 120_000 }, async () => {
    let err: BpfBuildError | undefined;
    try {
      await compileBpf(broken, cache);
    } catch (e) {
      err = e as BpfBuildError;
    }
    expect(isTwError(err)).toBe(true);
    expect(err!.code).toBe('BPF_BUILD');
    expect(err!.name).toBe('BpfBuildError');
    expect(err!.exitCode).not.toBe(0);
    expect(err!.command).toMatch(/^clang -target bpf -D__TARGET_ARCH_(x86|arm64) -g -O2 /);
    expect(err!.stderr).toMatch(/tw_broken\.bpf\.c:\d+:\d+: error: no member named 'no_such_member' in 'struct filename'/);
    expect(err!.message).toContain("no member named 'no_such_member'");
  });
});
