/**
 * Field readers compiled once per field (endianness and kind chosen up front, not per read):
 * each reader takes (dv, buf, rec, len) — the record payload at byte `rec` of `buf`, `len` bytes
 * long — and returns the field's value. Mirrors libtraceevent's tep_read_number /
 * dynamic_offset_field. Every read is checked against the record length.
 *
 * Value types: 1/2/4-byte integers → number; 8-byte integers and pointers → bigint;
 * char arrays and __data_loc/__rel_loc char[] → string (up to the first NUL);
 * other arrays → arrays of number (or bigint for 8-byte elements).
 */
import { TwError } from '../errors.js';
import type { Field } from '../format/field.js';

export type FieldValue = number | bigint | string | Array<number | bigint>;
export type FieldReader = (dv: DataView, buf: Uint8Array, rec: number, len: number) => FieldValue;

const TWO32 = 4294967296;

function outOfRecord(field: Field, at: number, n: number, len: number): never {
  throw new TwError('DECODE', `field '${field.name}' needs bytes ${at}..${at + n} of a ${len}-byte record`);
}

/** Decode bytes as text: ASCII fast path, UTF-8 otherwise (kernel strings are bytes). */
export function readCString(buf: Uint8Array, start: number, max: number): string {
  let end = start;
  const stop = start + max;
  let ascii = true;
  while (end < stop) {
    const b = buf[end]!;
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    end++;
  }
  if (ascii) {
    if (end - start < 64) {
      let s = '';
      for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
      return s;
    }
    return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
  }
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');
}

function intReader(size: number, signed: boolean, le: boolean): (dv: DataView, at: number) => number | bigint {
  switch (size) {
    case 1:
      return signed ? (dv, at) => dv.getInt8(at) : (dv, at) => dv.getUint8(at);
    case 2:
      return signed ? (dv, at) => dv.getInt16(at, le) : (dv, at) => dv.getUint16(at, le);
    case 4:
      return signed ? (dv, at) => dv.getInt32(at, le) : (dv, at) => dv.getUint32(at, le);
    case 8:
      return signed ? (dv, at) => dv.getBigInt64(at, le) : (dv, at) => dv.getBigUint64(at, le);
    default:
      throw new TwError('FORMAT_PARSE', `integer of ${size} bytes`);
  }
}

/** Reader for one field of one format. */
export function makeFieldReader(field: Field, le: boolean): FieldReader {
  const { offset, size } = field;
  switch (field.kind) {
    case 'int':
    case 'pointer': {
      const rd = intReader(size, field.signed && field.kind === 'int', le);
      const need = offset + size;
      return (dv, _buf, rec, len) => {
        if (need > len) outOfRecord(field, offset, size, len);
        return rd(dv, rec + offset);
      };
    }
    case 'string':
      // A zero-sized array (ftrace/print's `char buf[]`) holds the rest of the record.
      return (_dv, buf, rec, len) => {
        if (offset + size > len) outOfRecord(field, offset, size, len);
        return readCString(buf, rec + offset, size === 0 ? len - offset : size);
      };
    case 'array': {
      const es = field.elementSize;
      const rd = intReader(es, field.signed, le);
      return (dv, _buf, rec, len) => {
        if (offset + size > len) outOfRecord(field, offset, size, len);
        const n = Math.floor((size === 0 ? len - offset : size) / es);
        const out: Array<number | bigint> = new Array(n);
        for (let i = 0; i < n; i++) out[i] = rd(dv, rec + offset + i * es);
        return out;
      };
    }
    case 'dyn-string':
    case 'rel-string':
    case 'dyn-array':
    case 'rel-array': {
      const rel = field.kind.startsWith('rel');
      const str = field.kind.endsWith('string');
      const es = field.elementSize;
      const rd = str ? undefined : intReader(es, field.signed, le);
      return (dv, buf, rec, len) => {
        if (offset + 4 > len) outOfRecord(field, offset, 4, len);
        const loc = dv.getUint32(rec + offset, le);
        const at = (loc & 0xffff) + (rel ? offset + 4 : 0);
        const n = loc >>> 16;
        if (at + n > len) outOfRecord(field, at, n, len);
        if (rd === undefined) return readCString(buf, rec + at, n);
        const count = Math.floor(n / es);
        const out: Array<number | bigint> = new Array(count);
        for (let i = 0; i < count; i++) out[i] = rd(dv, rec + at + i * es);
        return out;
      };
    }
    default: {
      const never: never = field.kind;
      throw new TwError('FORMAT_PARSE', `unknown field kind ${String(never)}`);
    }
  }
}

/** JSON-safe form of a value: bigints that fit in 53 bits become numbers, larger ones strings. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') {
    return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString();
  }
  if (Array.isArray(v)) return v.map(jsonSafe);
  return v;
}

/**
 * Writer of a field's JSON text, for the dump hot path: avoids bigint for 8-byte integers
 * whose value fits in 53 bits.
 */
export type FieldJsonWriter = (dv: DataView, buf: Uint8Array, rec: number, len: number) => string;

export function makeFieldJsonWriter(field: Field, le: boolean): FieldJsonWriter {
  if ((field.kind === 'int' || field.kind === 'pointer') && field.size === 8) {
    const { offset } = field;
    const signed = field.signed && field.kind === 'int';
    return (dv, _buf, rec, len) => {
      if (offset + 8 > len) outOfRecord(field, offset, 8, len);
      const at = rec + offset;
      const lo = dv.getUint32(le ? at : at + 4, le);
      const hi = dv.getUint32(le ? at + 4 : at, le);
      if (hi < 0x200000) return String(hi * TWO32 + lo);
      if (signed && (hi > 0xffe00000 || (hi === 0xffe00000 && lo > 0))) {
        // negative and within 53 bits: -(2^64 - v)
        return String(-((0xffffffff - hi) * TWO32 + (TWO32 - lo)));
      }
      const big = signed ? dv.getBigInt64(at, le) : dv.getBigUint64(at, le);
      return `"${big.toString()}"`;
    };
  }
  const rd = makeFieldReader(field, le);
  if (field.kind === 'int' || field.kind === 'pointer') return (dv, buf, rec, len) => String(rd(dv, buf, rec, len));
  return (dv, buf, rec, len) => JSON.stringify(jsonSafe(rd(dv, buf, rec, len)));
}
