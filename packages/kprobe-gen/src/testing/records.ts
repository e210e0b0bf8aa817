/**
 * For tests: synthesise a record the way the kernel lays out the probe's event (common header,
 * probe header, fields at layoutFor() offsets, __data_loc strings after the fixed part), with
 * known values per field.
 */
import { fixedEnd, layoutFor, modelOf, type LayoutEntry, type ProbeSpec } from '@tw/probe-spec';

export type Sample = number | bigint | boolean | string | Uint8Array;

/** A value for each field, chosen to exercise sign and width. */
export function sampleValues(spec: ProbeSpec, seed = 1): Record<string, Sample> {
  const out: Record<string, Sample> = {};
  for (const e of layoutFor(spec)) {
    const f = spec.fields.find((x) => x.name === e.field);
    if (!f) continue;
    out[e.field] = sampleFor(e, seed++);
  }
  return out;
}

function sampleFor(e: LayoutEntry, n: number): Sample {
  switch (e.type) {
    case 'u8': return 200 + (n % 50);
    case 's8': return -100 - (n % 20);
    case 'bool': return n % 2 === 1;
    case 'u16': return 60000 + n;
    case 's16': return -30000 - n;
    case 'u32': return 4_000_000_000 + n;
    case 's32': case 'pid': return -2_000_000_000 + n;
    case 'u64': return 0xfedc_ba98_7654_3210n + BigInt(n);
    case 's64': return -0x1234_5678_9abc_def0n - BigInt(n);
    case 'string': return `value-${n}-${'x'.repeat(n % 7)}/é`;
    case 'bytes': return Uint8Array.from({ length: e.size }, (_, i) => (i * 37 + n) & 0xff);
  }
}

/** The record bytes, placed at `at` in a buffer of `at + size + 16` bytes. */
export function buildRecord(spec: ProbeSpec, values: Record<string, Sample>, littleEndian: boolean, at = 0): { view: DataView; offset: number } {
  const m = modelOf(spec);
  const enc = new TextEncoder();
  const layout = layoutFor(spec);
  const strings = layout.filter((e) => e.type === 'string').map((e) => ({ e, bytes: enc.encode(`${String(values[e.field])}\0`) }));
  const fixed = (fixedEnd(m) + 7) & ~7;
  const size = fixed + strings.reduce((s, x) => s + x.bytes.length, 0);
  const buf = new ArrayBuffer(at + size + 16);
  const view = new DataView(buf);
  const u8 = new Uint8Array(buf);
  view.setUint16(at, 0x1234, littleEndian); // common_type
  let data = fixed;
  for (const e of layout) {
    const v = values[e.field];
    const o = at + e.offset;
    if (e.field.startsWith('__probe')) {
      view.setBigUint64(o, 0xffff_ffff_8100_0000n + BigInt(e.offset), littleEndian);
      continue;
    }
    switch (e.type) {
      case 'u8': view.setUint8(o, v as number); break;
      case 's8': view.setInt8(o, v as number); break;
      case 'bool': view.setUint8(o, v ? 1 : 0); break;
      case 'u16': view.setUint16(o, v as number, littleEndian); break;
      case 's16': view.setInt16(o, v as number, littleEndian); break;
      case 'u32': view.setUint32(o, v as number, littleEndian); break;
      case 's32': case 'pid': view.setInt32(o, v as number, littleEndian); break;
      case 'u64': view.setBigUint64(o, v as bigint, littleEndian); break;
      case 's64': view.setBigInt64(o, v as bigint, littleEndian); break;
      case 'bytes': u8.set(v as Uint8Array, o); break;
      case 'string': {
        const s = strings.find((x) => x.e === e)!;
        view.setUint32(o, (data & 0xffff) | (s.bytes.length << 16), littleEndian);
        u8.set(s.bytes, at + data);
        data += s.bytes.length;
        break;
      }
    }
  }
  return { view, offset: at };
}
