/**
 * The record layout of a probe's event, shared by both backends:
 *
 *   0   common header (common_type, common_flags, common_preempt_count, common_pid)
 *   8   __probe_ip    (kprobe, syscall, tracepoint) | __probe_func, __probe_ret_ip (kretprobe, syscall exit)
 *   16+ the spec's fields, ordered by decreasing alignment (8, 4, 2, 1; spec order within a class)
 *
 * Because of that order the record has no padding, so the module's TRACE_EVENT struct (natural
 * alignment, checked by _Static_asserts) and a kprobe_events probe (fields packed in definition
 * order) produce the same offsets, and one unpacker reads both. Strings are __data_loc fields
 * (a u32: offset from the record start | length << 16). A `from: 'pid'` field is not stored: it
 * is the header's common_pid (the same value: the current task's pid).
 */
import { LayoutMismatchError, parseEventFormat, type EventFormat, type Field } from '@tw/core';
import { hasRetval, modelOf, SCALAR_SIZE, type FieldInfo, type ProbeModel, type ProbeSpec, type ScalarFieldType } from './spec.js';

export type LayoutType = ScalarFieldType | 'string' | 'bytes';

export interface LayoutEntry {
  readonly field: string;
  readonly offset: number;
  readonly size: number;
  readonly type: LayoutType;
}

/** the common header every trace event record starts with */
export const COMMON_HEADER_SIZE = 8;
export const COMMON_PID_OFFSET = 4;

export function fieldAlign(f: FieldInfo): number {
  if (f.kind === 'string') return 4;
  if (f.kind === 'bytes') return 1;
  return SCALAR_SIZE[f.scalar!];
}

export function fieldSize(f: FieldInfo): number {
  if (f.kind === 'string') return 4;
  if (f.kind === 'bytes') return f.len;
  return SCALAR_SIZE[f.scalar!];
}

/** the probe's own header fields after the common header */
export function probeHeader(m: ProbeModel): Array<{ name: string; offset: number }> {
  return hasRetval(m.kind)
    ? [{ name: '__probe_func', offset: 8 }, { name: '__probe_ret_ip', offset: 16 }]
    : [{ name: '__probe_ip', offset: 8 }];
}

/** Stored fields in record order, with their offsets. */
export function payloadOrder(m: ProbeModel): Array<{ f: FieldInfo; offset: number }> {
  const stored = m.fields.filter((f) => !f.alias);
  const sorted = [...stored].sort((a, b) => fieldAlign(b) - fieldAlign(a) || a.index - b.index);
  let off = COMMON_HEADER_SIZE + probeHeader(m).length * 8;
  return sorted.map((f) => {
    const offset = off;
    off += fieldSize(f);
    return { f, offset };
  });
}

/** End of the fixed part (where the kernel puts __data_loc string bytes, after padding). */
export function fixedEnd(m: ProbeModel): number {
  const order = payloadOrder(m);
  const last = order[order.length - 1];
  return last ? last.offset + fieldSize(last.f) : COMMON_HEADER_SIZE + probeHeader(m).length * 8;
}

function layoutOfModel(m: ProbeModel): LayoutEntry[] {
  const out: LayoutEntry[] = [];
  for (const f of m.fields) if (f.alias) out.push({ field: f.name, offset: COMMON_PID_OFFSET, size: 4, type: f.scalar! });
  for (const h of probeHeader(m)) out.push({ field: h.name, offset: h.offset, size: 8, type: 'u64' });
  for (const { f, offset } of payloadOrder(m)) {
    out.push({ field: f.name, offset, size: fieldSize(f), type: f.kind === 'scalar' ? f.scalar! : f.kind });
  }
  return out;
}

/** The expected layout of the probe's event record (same table as the generated unpacker's). */
export function layoutFor(spec: ProbeSpec): LayoutEntry[] {
  return layoutOfModel(modelOf(spec));
}

const SIGNED: ReadonlySet<string> = new Set(['s8', 's16', 's32', 's64', 'pid']);

function placement(f: Field): { offset: number; size: number; type: string } {
  return { offset: f.offset, size: f.size, type: `${f.type}${f.signed ? ' (signed)' : ''}` };
}

/**
 * Compare the expected layout with the kernel's `events/tw/<name>/format` text.
 * Throws LayoutMismatchError naming the field, the expected and the actual offset/size;
 * returns the parsed format when everything matches.
 */
export function checkLayout(spec: ProbeSpec, formatText: string, path = `events/tw/${spec.name}/format`): EventFormat {
  const fmt = parseEventFormat(formatText, path, 'tw');
  checkFormatLayout(spec, fmt);
  return fmt;
}

/**
 * The same check against an already parsed format (e.g. the one a trace.dat recording carries,
 * or a live session's registry). Throws LayoutMismatchError; returns nothing when it matches.
 */
export function checkFormatLayout(spec: ProbeSpec, fmt: EventFormat): void {
  const event = `tw:${spec.name}`;
  if (fmt.name !== spec.name) {
    throw new LayoutMismatchError(event, 'name', { offset: 0, size: 0, type: spec.name }, { offset: 0, size: 0, type: fmt.name });
  }
  const byName = new Map(fmt.fields.map((f) => [f.name, f]));
  const m = modelOf(spec);
  const aliases = new Set(m.fields.filter((f) => f.alias).map((f) => f.name));
  for (const e of layoutOfModel(m)) {
    const kname = aliases.has(e.field) ? 'common_pid' : e.field;
    const actual = byName.get(kname);
    const expected = { offset: e.offset, size: e.size, type: e.type === 'string' ? '__data_loc char[]' : e.type === 'bytes' ? `u8[${e.size}]` : e.type };
    if (!actual) throw new LayoutMismatchError(event, e.field, expected, null);
    let ok = actual.offset === e.offset && actual.size === e.size;
    if (e.type === 'string') ok &&= actual.kind === 'dyn-string';
    else if (e.type === 'bytes') ok &&= actual.kind === 'array' || actual.kind === 'string';
    // the probe header's unsigned longs and the common_pid alias: offset and size are what matter
    else ok &&= (actual.kind === 'int' || actual.kind === 'pointer') && (kname !== e.field || e.field.startsWith('__probe') || actual.signed === SIGNED.has(e.type));
    if (!ok) throw new LayoutMismatchError(event, e.field, expected, placement(actual));
  }
}

export type UnpackedValue = number | bigint | boolean | string | Uint8Array;

const utf8 = new TextDecoder('utf-8');

/** Decode a __data_loc string of the record at `rec`; stops at the first NUL. */
export function readDataLocString(view: DataView, rec: number, locOffset: number, littleEndian: boolean): string {
  const loc = view.getUint32(rec + locOffset, littleEndian);
  const start = rec + (loc & 0xffff);
  const stop = Math.min(start + (loc >>> 16), view.byteLength);
  let end = start;
  while (end < stop && view.getUint8(end) !== 0) end++;
  return utf8.decode(new Uint8Array(view.buffer, view.byteOffset + start, end - start));
}

/**
 * A runtime (non-generated) unpacker for a spec's records: the same result as the generated
 * unpack<Name>(), as a plain object keyed by field name. `offset` is the record's start (its
 * common_type) within the view.
 */
export function makeUnpacker(spec: ProbeSpec): (view: DataView, offset: number, littleEndian: boolean) => Record<string, UnpackedValue> {
  const m = modelOf(spec);
  const entries = layoutOfModel(m).filter((e) => m.fields.some((f) => f.name === e.field));
  return (view, offset, le) => {
    const out: Record<string, UnpackedValue> = {};
    for (const e of entries) {
      const at = offset + e.offset;
      switch (e.type) {
        case 'u8': out[e.field] = view.getUint8(at); break;
        case 's8': out[e.field] = view.getInt8(at); break;
        case 'bool': out[e.field] = view.getUint8(at) !== 0; break;
        case 'u16': out[e.field] = view.getUint16(at, le); break;
        case 's16': out[e.field] = view.getInt16(at, le); break;
        case 'u32': out[e.field] = view.getUint32(at, le); break;
        case 's32': case 'pid': out[e.field] = view.getInt32(at, le); break;
        case 'u64': out[e.field] = view.getBigUint64(at, le); break;
        case 's64': out[e.field] = view.getBigInt64(at, le); break;
        case 'string': out[e.field] = readDataLocString(view, offset, e.offset, le); break;
        case 'bytes': out[e.field] = new Uint8Array(view.buffer, view.byteOffset + at, e.size); break;
      }
    }
    return out;
  };
}
