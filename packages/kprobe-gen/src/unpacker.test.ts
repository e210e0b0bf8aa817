// The compiled unpacker as tw runs it: stored in the unpacker cache, imported for real, checked
// against its spec, and used by a watch session for custom_event (core's runWatches over
// in-memory ring-buffer records laid out as the module's format says).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineWatch, isTwError, parseEventFormat, runWatches, type CustomProbeEvent, type ProbeUnpacker } from '@tw/core';
import { makeUnpacker, modelOf, type ProbeSpec } from '@tw/probe-spec';
import { afterAll, describe, expect, it } from 'vitest';
import { renderProbe } from './render.js';
import { pluginShapes, testSpecs } from './test-specs.js';
import { moduleFormat } from './testing/formats.js';
import { buildRecord, sampleValues } from './testing/records.js';
import { memoryTrace } from './testing/trace.js';
import { importUnpacker, storeUnpacker, unpackerKey } from './unpacker.js';

/** kprobe-gen's own specs (the plugins' shipped ones: test/src/shipped-probes) */
const ALL: ProbeSpec[] = testSpecs;
const unlink = pluginShapes.find((s) => s.name === 'unlink')!;
const tmp = mkdtempSync(join(tmpdir(), 'tw-unpackers-'));
let n = 0;
/** a fresh cache directory (Node caches imported modules by URL: a new path is a new import) */
const freshCache = () => join(tmp, `cache-${n++}`);

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** The format the module publishes for the spec's event, with the id the test records carry (0x1234). */
function formatOf(spec: ProbeSpec): string {
  return moduleFormat(renderProbe(spec).files[`tw_${spec.name}_trace.h`]!, spec.name).replace(/^ID: \d+$/m, `ID: ${0x1234}`);
}

/** The bytes of a test record (buildRecord places it at `at` in a buffer with 16 spare bytes). */
function recordBytes(spec: ProbeSpec, values: ReturnType<typeof sampleValues>, le: boolean): Uint8Array {
  const { view, offset } = buildRecord(spec, values, le, 0);
  return new Uint8Array(view.buffer, offset, view.byteLength - offset - 16);
}

describe('storeUnpacker', () => {
  it('stores <name>.unpack.ts/.js (the JS renderProbe writes) once, as an ES module, keyed by spec hash', () => {
    const cacheDir = freshCache();
    const first = storeUnpacker(unlink, { cacheDir });
    expect(first.cached).toBe(false);
    expect(first.key).toBe(unpackerKey(unlink));
    expect(first.key).toMatch(new RegExp(`^unlink-${modelOf(unlink).hash}-[0-9a-f]{10}$`));
    const files = renderProbe(unlink).files;
    expect(readFileSync(first.js, 'utf8')).toBe(files['unlink.unpack.js']);
    expect(readFileSync(first.ts, 'utf8')).toBe(files['unlink.unpack.ts']);
    expect(JSON.parse(readFileSync(join(first.dir, 'package.json'), 'utf8'))).toEqual({ type: 'module' });
    const again = storeUnpacker(unlink, { cacheDir });
    expect(again).toEqual({ ...first, cached: true });
    // no temporary directories left behind
    expect(readdirSync(cacheDir)).toEqual([first.key]);
  });

  it('keys differ between specs, and between spec versions of the same name', () => {
    const changed: ProbeSpec = { ...unlink, fields: unlink.fields.filter((f) => f.name !== 'dfd') };
    expect(unpackerKey(changed)).not.toBe(unpackerKey(unlink));
    expect(new Set(ALL.map(unpackerKey)).size).toBe(ALL.length);
  });
});

describe('importUnpacker', () => {
  it.each(ALL.map((s) => [s.name, s] as const))('%s: imports the stored JS and unpacks the test records like makeUnpacker', async (_n, spec) => {
    const u = await importUnpacker(spec, { cacheDir: freshCache() });
    expect(u.event).toBe(`tw:${spec.name}`);
    expect(u.specHash).toBe(modelOf(spec).hash);
    expect(u.cached).toBe(false);
    for (const le of [true, false]) {
      const values = sampleValues(spec, le ? 5 : 9);
      const { view, offset } = buildRecord(spec, values, le, 24);
      const got = u.unpack(view, offset, le);
      expect(got).toEqual(makeUnpacker(spec)(view, offset, le));
      for (const f of spec.fields) {
        const want = f.from.trim() === 'pid' ? view.getInt32(offset + 4, le) : values[f.name];
        expect(got[f.name], `${spec.name}.${f.name}`).toEqual(want);
      }
    }
  });

  it('says whether a format of the event fits the layout (checkLayout)', async () => {
    const u = await importUnpacker(unlink, { cacheDir: freshCache() });
    expect(u.layoutProblem(parseEventFormat(formatOf(unlink), 'tw/unlink/format', 'tw'))).toBeUndefined();
    const moved = formatOf(unlink).replace('field:s32 dfd;\toffset:16;', 'field:s32 dfd;\toffset:20;');
    expect(u.layoutProblem(parseEventFormat(moved, 'tw/unlink/format', 'tw'))).toContain("field 'dfd': expected offset 16 size 4 (s32), the kernel's format has offset 20 size 4");
  });

  it('refuses a stored file that is not the unpacker of the spec (hash, layout, event, function)', async () => {
    const cases: Array<[string, (js: string) => string, RegExp]> = [
      ['hash', (js) => js.replace(/UNLINK_SPEC_HASH = '[0-9a-f]+'/, "UNLINK_SPEC_HASH = '0000000000000000'"), /UNLINK_SPEC_HASH is "0000000000000000", the spec's hash is [0-9a-f]{16}/],
      ['layout', (js) => js.replace("{ field: 'dfd', offset: 16,", "{ field: 'dfd', offset: 20,"), /UNLINK_LAYOUT differs from the spec's layout/],
      ['event', (js) => js.replace("UNLINK_EVENT = 'tw:unlink'", "UNLINK_EVENT = 'tw:other'"), /UNLINK_EVENT is "tw:other", not "tw:unlink"/],
      ['function', (js) => js.replace('export function unpackUnlink(', 'export function unpackOther('), /exports no function unpackUnlink/],
    ];
    for (const [what, edit, message] of cases) {
      const cacheDir = freshCache();
      const stored = storeUnpacker(unlink, { cacheDir });
      writeFileSync(stored.js, edit(readFileSync(stored.js, 'utf8')));
      let err: unknown;
      try {
        await importUnpacker(unlink, { cacheDir });
      } catch (e) {
        err = e;
      }
      expect(isTwError(err) && err.code, what).toBe('UNPACKER');
      expect((err as Error).message, what).toMatch(message);
      expect((err as Error).message, what).toContain(stored.js);
    }
  });

  it('an unwritable cache is an UNPACKER error naming the directory', async () => {
    const file = join(tmp, 'not-a-dir');
    writeFileSync(file, '');
    const err = await importUnpacker(unlink, { cacheDir: join(file, 'cache') }).catch((e: unknown) => e);
    expect(isTwError(err) && err.code).toBe('UNPACKER');
    expect((err as Error).message).toContain(`cannot store the unpacker of probe 'unlink' in ${join(file, 'cache')}`);
    expect(existsSync(join(file, 'cache'))).toBe(false);
  });
});

describe('a watch session with the generated unpacker', () => {
  it.each([true, false])('custom_event data comes from the generated JS, for every spec (little-endian: %s)', async (le) => {
    const seen: CustomProbeEvent[] = [];
    const watch = defineWatch({
      name: 'probe-payloads',
      summary: 'keeps every probe event',
      events: ['tw:*'],
      on: {
        custom_event(e) {
          seen.push(e as CustomProbeEvent);
        },
      },
    });
    for (const spec of ALL) {
      seen.length = 0;
      const u = await importUnpacker(spec, { cacheDir: freshCache() });
      const unpacker: ProbeUnpacker = { specHash: u.specHash, unpack: u.unpack, accepts: (f) => u.layoutProblem(f) === undefined };
      const values = sampleValues(spec, le ? 2 : 7);
      const rec = recordBytes(spec, values, le);
      const source = memoryTrace({ [spec.name]: formatOf(spec) }, [rec, rec], le);
      runWatches(source, [{ watch, args: {} }], { unpackers: new Map([[u.event, unpacker]]) });
      expect(seen.map((e) => [e.event, e.unpacker, e.specHash]), spec.name).toEqual([
        [`tw:${spec.name}`, 'generated', modelOf(spec).hash],
        [`tw:${spec.name}`, 'generated', modelOf(spec).hash],
      ]);
      const pid = new DataView(rec.buffer, rec.byteOffset).getInt32(4, le);
      const want = Object.fromEntries(spec.fields.map((f) => [f.name, f.from.trim() === 'pid' ? pid : values[f.name]]));
      expect(seen[0]!.data, spec.name).toEqual(want);
      // raw: the payload after the common header, as the ring buffer holds it (padded to 4 bytes)
      expect([...seen[0]!.raw], spec.name).toEqual([...rec.subarray(8), ...new Array<number>(seen[0]!.raw.length - (rec.length - 8)).fill(0)]);
      expect(seen[0]!.raw.length - (rec.length - 8)).toBeLessThan(4);
      // the session copied bytes fields out of the sub-buffer
      for (const v of Object.values(seen[0]!.data)) if (v instanceof Uint8Array) expect(v.byteOffset).toBe(0);
    }
  });

  it('without a registered unpacker, or when the format does not fit, data is the format-decoded fields', async () => {
    const u = await importUnpacker(unlink, { cacheDir: freshCache() });
    const seen: CustomProbeEvent[] = [];
    const watch = defineWatch({ name: 'payloads', summary: 's', events: ['tw:*'], on: { custom_event: (e) => void seen.push(e as CustomProbeEvent) } });
    const values = sampleValues(unlink, 4);
    const rec = recordBytes(unlink, values, true);
    // a recording made with another spec version: here dfd is unsigned, which the spec's layout rejects
    const other = formatOf(unlink).replace('field:s32 dfd;\toffset:16;\tsize:4;\tsigned:1;', 'field:u32 dfd;\toffset:16;\tsize:4;\tsigned:0;');
    expect(u.layoutProblem(parseEventFormat(other, 'tw/unlink/format', 'tw'))).toContain("field 'dfd'");
    const unpacker: ProbeUnpacker = { specHash: u.specHash, unpack: u.unpack, accepts: (f) => u.layoutProblem(f) === undefined };
    runWatches(memoryTrace({ unlink: other }, [rec], true), [{ watch, args: {} }], { unpackers: new Map([[u.event, unpacker]]) });
    runWatches(memoryTrace({ unlink: formatOf(unlink) }, [rec], true), [{ watch, args: {} }]);
    expect(seen.map((e) => [e.unpacker, e.specHash])).toEqual([
      ['format', undefined],
      ['format', undefined],
    ]);
    expect(seen[0]!.data).toEqual({ __probe_ip: expect.any(String), dfd: (values['dfd'] as number) >>> 0, pathname: values['pathname'], comm: values['comm'] });
    expect(seen[1]!.data).toEqual({ __probe_ip: expect.any(String), dfd: values['dfd'], pathname: values['pathname'], comm: values['comm'] });
  });
});
