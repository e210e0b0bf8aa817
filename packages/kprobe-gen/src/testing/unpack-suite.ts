/**
 * The checks of generated unpackers, over any list of specs (kprobe-gen's own, and the plugins'
 * shipped ones in test/src/shipped-probes): the TS type-checks and compiles on its own (no DOM or
 * Node typings), and both it and the shipped JS unpack synthetic records exactly as laid out, in
 * both byte orders, at an offset, reusing an object. Defines vitest tests: call it from a test file.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { layoutFor, makeUnpacker, modelOf, pascalCase, type ProbeSpec } from '@tw/probe-spec';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderProbe, renderUnpacker, renderUnpackerJs } from '../render.js';
import { buildRecord, sampleValues } from './records.js';

export function unpackSuite(ALL: readonly ProbeSpec[]): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

  type Unpack = (v: DataView, o: number, le: boolean, into?: object) => Record<string, unknown>;

  /**
   * For both byte orders: `unpack` reads a built record's fields back (pid from the common
   * header), the runtime unpacker and `others` agree with it, and refilling an object keeps its
   * identity.
   */
  function expectUnpacks(spec: ProbeSpec, unpack: Unpack, ...others: Unpack[]): void {
    for (const le of [true, false]) {
      const values = sampleValues(spec, le ? 3 : 11);
      const { view, offset } = buildRecord(spec, values, le, 40);
      const got = unpack(view, offset, le);
      for (const f of spec.fields) {
        const want = f.from.trim() === 'pid' ? view.getInt32(offset + 4, le) : values[f.name];
        expect(got[f.name], `${spec.name}.${f.name}`).toEqual(want);
      }
      expect(makeUnpacker(spec)(view, offset, le)).toEqual(got);
      for (const other of others) expect(other(view, offset, le)).toEqual(got);
      const into = unpack(view, offset, le);
      expect(unpack(view, offset, le, into)).toBe(into);
    }
  }
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tw-unpack-'));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    for (const s of ALL) writeFileSync(join(dir, `${s.name}.unpack.ts`), renderUnpacker(s));
    // the shipped JS (ts.transpileModule), beside the tsc-compiled out/
    mkdirSync(join(dir, 'js'));
    for (const s of ALL) writeFileSync(join(dir, 'js', `${s.name}.unpack.js`), renderProbe(s).files[`${s.name}.unpack.js`]!);
    // no DOM or Node typings: the generated files must stand on their own
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022', lib: ['ES2022'], module: 'NodeNext', moduleResolution: 'NodeNext', types: [],
          strict: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, noImplicitReturns: true,
          noUnusedLocals: true, noUnusedParameters: true, verbatimModuleSyntax: true, outDir: 'out',
        },
        include: ['*.ts'],
      }),
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('generated unpackers', () => {
    it('type-check with tsc --noEmit --strict (no DOM/Node typings)', async () => {
      const r = await execa(process.execPath, [tsc, '-p', dir, '--noEmit', '--strict'], { reject: false });
      expect(`${r.stdout}${r.stderr}`).toBe('');
      expect(r.exitCode).toBe(0);
    });

    it('emit and unpack synthetic records exactly as laid out (LE and BE, at an offset, reusing an object)', async () => {
      const r = await execa(process.execPath, [tsc, '-p', dir], { reject: false });
      expect(r.exitCode, r.stdout).toBe(0);
      mkdirSync(join(dir, 'out'), { recursive: true });
      for (const spec of ALL) {
        const mod = (await import(pathToFileURL(join(dir, 'out', `${spec.name}.unpack.js`)).href)) as Record<string, unknown>;
        const Name = pascalCase(spec.name);
        const unpack = mod[`unpack${Name}`] as Unpack;
        expect(mod[`${spec.name.toUpperCase()}_LAYOUT`]).toEqual(layoutFor(spec));
        expect(mod[`${spec.name.toUpperCase()}_EVENT`]).toBe(`tw:${spec.name}`);
        expectUnpacks(spec, unpack);
      }
    });

    it('the generated <name>.unpack.js, imported for real, unpacks the same records to the same values', async () => {
      for (const spec of ALL) {
        const file = join(dir, 'js', `${spec.name}.unpack.js`);
        expect(renderUnpackerJs(spec)).toBe(readFileSync(file, 'utf8'));
        const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
        const Name = pascalCase(spec.name);
        const PREFIX = spec.name.toUpperCase();
        const unpack = mod[`unpack${Name}`] as Unpack;
        expect(mod[`${PREFIX}_LAYOUT`]).toEqual(layoutFor(spec));
        expect(mod[`${PREFIX}_EVENT`]).toBe(`tw:${spec.name}`);
        expect(mod[`${PREFIX}_SPEC_HASH`]).toBe(modelOf(spec).hash);
        const compiled = (await import(pathToFileURL(join(dir, 'out', `${spec.name}.unpack.js`)).href)) as Record<string, unknown>;
        const byTsc = compiled[`unpack${Name}`] as typeof unpack;
        expectUnpacks(spec, unpack, byTsc);
      }
    });
  });
}
