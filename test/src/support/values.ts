// Exact comparison of a tw field value (JSON) with trace-cmd's printed text.
//
// Rather than guessing what a printed string "means", the tw value is pushed
// through the same transformation trace-cmd applied (field size, signedness,
// print-fmt casts and printf conversion, symbol lookup) and the results are
// compared exactly. Nothing here is specific to any one event.

import { applyCast, type EventFormat, type FieldFormat, type FieldSpec, type Kallsyms } from './formats.js';

/** What trace-cmd's symbol and string lookups need from the file. */
export interface Lookups {
  kallsyms: Kallsyms;
  printk: Map<bigint, string[]>;
}

export interface CompareStats {
  /** Field renderings that carry no checkable value (e.g. %pM), by "system:event.field (why)". */
  uncompared: Map<string, number>;
  /** Fields only partly checkable (e.g. a u8 array trace-cmd printed as a C string). */
  partial: Map<string, number>;
}

export function newStats(): CompareStats {
  return { uncompared: new Map(), partial: new Map() };
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** A tw JSON integer: a safe-integer number, or a decimal string when it does not fit in 53 bits. */
export function twInteger(v: unknown): bigint | string {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return `expected an integer, got ${JSON.stringify(v)}`;
    return BigInt(v);
  }
  if (typeof v === 'string') {
    if (!/^-?\d+$/.test(v)) return `expected an integer, got the string ${JSON.stringify(v)}`;
    const b = BigInt(v);
    if (b >= -BigInt(Number.MAX_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)) {
      return `integer ${v} fits in 53 bits and should be a JSON number, not a string`;
    }
    return b;
  }
  return `expected an integer, got ${JSON.stringify(v)}`;
}

/** Check that a tw integer is in the range of a `bits`-wide field of the given signedness. */
function rangeError(v: bigint, bits: number, signed: boolean): string | undefined {
  const canon = signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
  if (canon === v) return undefined;
  return `${v} is out of range for a ${signed ? 'signed' : 'unsigned'} ${bits / 8}-byte field (expected ${canon})`;
}

export function parseArrayText(text: string): Uint8Array | undefined {
  const m = /^ARRAY\[(.*)\]$/.exec(text);
  if (!m || m[1] === undefined) return undefined;
  if (m[1] === '') return new Uint8Array(0);
  const parts = m[1].split(', ');
  const out = new Uint8Array(parts.length);
  parts.forEach((p, i) => {
    out[i] = parseInt(p, 16);
  });
  return out;
}

function readLE(bytes: Uint8Array, off: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[off + i] ?? 0);
  return v;
}

/** The oracle text of a number printed with a digit conversion, as a bigint. */
function parseDigitText(spec: Extract<FieldSpec, { kind: 'digit' }>, text: string): bigint | undefined {
  let t = text;
  if (spec.has0x) {
    if (!t.startsWith('0x')) return undefined;
    t = t.slice(2);
  }
  t = t.trim();
  try {
    switch (spec.conv) {
      case 'x':
      case 'X':
        if (/^0[xX]/.test(t)) t = t.slice(2);
        return /^[0-9a-fA-F]+$/.test(t) ? BigInt('0x' + t) : undefined;
      case 'o':
        return /^[0-7]+$/.test(t) ? BigInt('0o' + t) : undefined;
      default:
        return /^-?\d+$/.test(t) ? BigInt(t) : undefined;
    }
  } catch {
    return undefined;
  }
}

function specLabel(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'array':
      return 'raw array';
    case 'raw':
      return `raw ${spec.how}`;
    case 'digit':
      return `print fmt ${spec.has0x ? '0x' : ''}${spec.format}${spec.casts.length ? ` cast (${spec.casts.join(')(')})` : ''}`;
    case 'pointer':
      return `print fmt ${spec.has0x ? '0x' : ''}${spec.format}`;
    case 'strptr':
      return `print fmt ${spec.format} (printk string lookup)`;
    case 'opaque':
      return spec.why;
  }
}

/**
 * Compare one field. Returns undefined when equal, else a description of the
 * difference. `text` is what trace-cmd printed, `tw` what tw emitted.
 */
export function compareFieldValue(
  ev: EventFormat,
  index: number,
  text: string,
  tw: unknown,
  lookups: Lookups,
  stats: CompareStats,
): string | undefined {
  const f = ev.fields[index] as FieldFormat;
  const spec = ev.specs[index] as FieldSpec;
  const first = compareWithSpec(ev, f, spec, text, tw, lookups, stats);
  if (first === undefined) return undefined;
  if (ev.uncertain) {
    const alt = ev.rawSpecs[index] as FieldSpec;
    if (compareWithSpec(ev, f, alt, text, tw, lookups, stats) === undefined) return undefined;
  }
  return first;
}

function compareWithSpec(
  ev: EventFormat,
  f: FieldFormat,
  spec: FieldSpec,
  text: string,
  tw: unknown,
  lookups: Lookups,
  stats: CompareStats,
): string | undefined {
  const label = `${ev.system ?? '?'}:${ev.name}.${f.name}`;
  if (spec.kind === 'array') return compareArray(label, f, text, tw, stats);
  if (spec.kind === 'opaque') {
    bump(stats.uncompared, `${label} (${spec.why})`);
    return undefined;
  }
  if (spec.kind === 'pointer' && spec.ptr === 'other') {
    bump(stats.uncompared, `${label} (printed with "${spec.format}")`);
    return undefined;
  }
  const v = twInteger(tw);
  if (typeof v === 'string') return v;
  const sized = f.size === 1 || f.size === 2 || f.size === 4 || f.size === 8;
  if (sized) {
    const re = rangeError(v, f.size * 8, f.signed);
    if (re) return re;
  }
  // what libtraceevent reads from the record: the field's bytes as an unsigned number
  const raw = sized ? BigInt.asUintN(f.size * 8, v) : 0n;
  const fail = (expected: string) => `trace-cmd printed "${text}" (${specLabel(spec)}), tw's ${JSON.stringify(tw)} would print as ${expected}`;
  switch (spec.kind) {
    case 'raw': {
      let expected: bigint;
      let shown: string;
      switch (spec.how) {
        case 'hex':
          expected = raw;
          shown = `0x${expected.toString(16)}`;
          break;
        case 'hex32':
          expected = raw & 0xffffffffn;
          shown = `0x${expected.toString(16)}`;
          break;
        case 'int8':
          expected = BigInt.asIntN(8, raw);
          shown = `${expected}`;
          break;
        case 'int16':
          expected = BigInt.asIntN(16, raw);
          shown = `${expected}`.padStart(2);
          break;
        case 'int32':
          expected = BigInt.asIntN(32, raw);
          shown = `${expected}`;
          break;
        case 'int64':
          expected = BigInt.asIntN(64, raw);
          shown = `${expected}`;
          break;
        case 'uint':
          expected = raw;
          shown = `${expected}`;
          break;
      }
      return text === shown ? undefined : fail(JSON.stringify(shown));
    }
    case 'digit': {
      const val = spec.casts.reduce(applyCast, raw);
      const u = BigInt.asUintN(spec.bits, val);
      const expected = spec.conv === 'd' || spec.conv === 'i' ? BigInt.asIntN(spec.bits, u) : u;
      const got = parseDigitText(spec, text);
      if (got === undefined) return `cannot read trace-cmd's "${text}" as ${specLabel(spec)}`;
      return got === expected ? undefined : fail(spec.conv === 'd' || spec.conv === 'i' || spec.conv === 'u' ? `${expected}` : spec.conv === 'o' ? `0o${expected.toString(8)}` : `0x${expected.toString(16)}`);
    }
    case 'pointer': {
      const val = spec.casts.reduce(applyCast, raw);
      let t = text;
      if (spec.has0x) {
        if (!t.startsWith('0x')) return fail('(a value after "0x")');
        t = t.slice(2);
      }
      if (spec.ptr === 'plain') {
        const shown = val === 0n ? '(nil)' : `0x${val.toString(16)}`;
        return t === shown ? undefined : fail(JSON.stringify(shown));
      }
      const r = lookups.kallsyms.resolve(val);
      if (!r) {
        const shown = `0x${val.toString(16)}`;
        return t === shown ? undefined : fail(`${JSON.stringify(shown)} (no symbol)`);
      }
      const options =
        spec.ptr === 'sym' ? r.names : r.names.map((n) => `${n}+0x${(val - r.start).toString(16)}`);
      return options.includes(t) ? undefined : fail(options.map((o) => JSON.stringify(o)).join(' or '));
    }
    case 'strptr': {
      let t = text;
      if (spec.has0x) {
        if (!t.startsWith('0x')) return fail('(a value after "0x")');
        t = t.slice(2);
      }
      const options = lookups.printk.get(raw) ?? [raw.toString(16)];
      return options.includes(t) ? undefined : fail(options.map((o) => JSON.stringify(o)).join(' or '));
    }
  }
}

function cString(bytes: Uint8Array): Uint8Array {
  const nul = bytes.indexOf(0);
  return nul >= 0 ? bytes.subarray(0, nul) : bytes;
}

function compareArray(label: string, f: FieldFormat, text: string, tw: unknown, stats: CompareStats): string | undefined {
  const bytes = parseArrayText(text);
  if (typeof tw === 'string') {
    if (bytes) {
      const s = cString(bytes);
      const utf8 = Buffer.from(s).toString('utf8');
      const latin1 = Buffer.from(s).toString('latin1');
      if (tw === utf8 || tw === latin1) return undefined;
      return `trace-cmd printed ${text.length > 120 ? text.slice(0, 120) + '…' : text} = ${JSON.stringify(utf8)}, tw ${JSON.stringify(tw)}`;
    }
    return tw === text ? undefined : `trace-cmd printed the string ${JSON.stringify(text)}, tw ${JSON.stringify(tw)}`;
  }
  if (!Array.isArray(tw)) return `expected a string or an array for array field, tw gave ${JSON.stringify(tw)}`;
  if (bytes) {
    const es = f.elemSize ?? (tw.length > 0 && bytes.length % tw.length === 0 ? bytes.length / tw.length : 1);
    if (bytes.length !== tw.length * es) {
      return `trace-cmd printed ${bytes.length} bytes (${bytes.length / es} elements of ${es} bytes), tw gave ${tw.length} elements`;
    }
    for (let i = 0; i < tw.length; i++) {
      const v = twInteger(tw[i]);
      if (typeof v === 'string') return `element [${i}]: ${v}`;
      const re = rangeError(v, es * 8, f.signed);
      if (re) return `element [${i}]: ${re}`;
      const want = readLE(bytes, i * es, es);
      if (BigInt.asUintN(es * 8, v) !== want) {
        const canon = f.signed ? BigInt.asIntN(es * 8, want) : want;
        return `element [${i}]: trace-cmd bytes give ${canon}, tw ${JSON.stringify(tw[i])}`;
      }
    }
    return undefined;
  }
  // a u8/s8 array that trace-cmd printed as a C string: only the bytes before the
  // first NUL are known
  bump(stats.partial, `${label} (u8 array printed as a string)`);
  const tb: number[] = [];
  for (let i = 0; i < tw.length; i++) {
    const v = twInteger(tw[i]);
    if (typeof v === 'string') return `element [${i}]: ${v}`;
    tb.push(Number(BigInt.asUintN(8, v)));
  }
  const s = Buffer.from(cString(Uint8Array.from(tb))).toString('latin1');
  return s === text ? undefined : `trace-cmd printed the string ${JSON.stringify(text)}, tw's bytes up to NUL are ${JSON.stringify(s)}`;
}

/**
 * The integer trace-cmd printed for a scalar field, as far as the text tells
 * (e.g. "0x1f" under %lx-with-0x, "1f" under %llx, "-3" under %d); the value is
 * the printed one (after any print-fmt cast/truncation). Undefined for symbols,
 * strings and arrays.
 */
export function oracleInteger(ev: EventFormat, index: number, text: string): bigint | undefined {
  const spec = ev.specs[index];
  if (!spec) return undefined;
  switch (spec.kind) {
    case 'raw':
      if (spec.how === 'hex' || spec.how === 'hex32') return /^0x[0-9a-f]+$/.test(text) ? BigInt(text) : undefined;
      return /^-?\d+$/.test(text.trim()) ? BigInt(text.trim()) : undefined;
    case 'digit':
      return parseDigitText(spec, text);
    case 'pointer': {
      if (spec.ptr !== 'plain') return undefined;
      const t = spec.has0x && text.startsWith('0x') ? text.slice(2) : text;
      if (t === '(nil)') return 0n;
      return /^0x[0-9a-f]+$/.test(t) ? BigInt(t) : undefined;
    }
    default:
      return undefined;
  }
}

/** A field of an oracle record as a number (see oracleInteger); throws if not readable. */
export function oracleField(ev: EventFormat, fields: Map<string, string>, name: string): bigint {
  const i = ev.fieldIndex.get(name);
  const text = fields.get(name);
  if (i === undefined || text === undefined) throw new Error(`${ev.name} has no field ${name}`);
  const v = oracleInteger(ev, i, text);
  if (v === undefined) throw new Error(`cannot read ${ev.name}.${name}="${text}" as an integer`);
  return v;
}
