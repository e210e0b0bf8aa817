// The plugins' probe specs through the unpacker cache, as tw runs them: stored, imported for
// real, and used by a watch session for custom_event (kprobe-gen's own test specs, and the
// cache's error paths: packages/kprobe-gen).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineWatch, runWatches, type CustomProbeEvent, type ProbeUnpacker } from '@tw/core';
import { importUnpacker, renderProbe, unpackerKey } from '@tw/kprobe-gen';
import { buildRecord, memoryTrace, moduleFormat, sampleValues } from '@tw/kprobe-gen/testing';
import { eventFormatText, makeUnpacker, modelOf, type ProbeSpec } from '@tw/probe-spec';
import { afterAll, describe, expect, it } from 'vitest';
import { moduleSpecs, shippedSpecs } from '../support/shipped-specs.js';

const ALL: ProbeSpec[] = shippedSpecs;
const tmp = mkdtempSync(join(tmpdir(), 'tw-unpackers-'));
let n = 0;
/** a fresh cache directory (Node caches imported modules by URL: a new path is a new import) */
const freshCache = () => join(tmp, `cache-${n++}`);

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * The format the module publishes for the spec's event (for a spec only BPF can express, the one
 * its BPF source declares), with the id the test records carry (0x1234).
 */
function formatOf(spec: ProbeSpec): string {
  if (!moduleSpecs.includes(spec)) return eventFormatText(spec, 0x1234);
  return moduleFormat(renderProbe(spec).files[`tw_${spec.name}_trace.h`]!, spec.name).replace(/^ID: \d+$/m, `ID: ${0x1234}`);
}

/** The bytes of a test record (buildRecord places it at `at` in a buffer with 16 spare bytes). */
function recordBytes(spec: ProbeSpec, values: ReturnType<typeof sampleValues>, le: boolean): Uint8Array {
  const { view, offset } = buildRecord(spec, values, le, 0);
  return new Uint8Array(view.buffer, offset, view.byteLength - offset - 16);
}

describe('storeUnpacker', () => {
  it('keys differ between specs', () => {
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
});
