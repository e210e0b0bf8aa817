/**
 * Parser for tracefs event `format` files (events/<system>/<name>/format), the text the kernel
 * publishes to describe each event's record layout. Mirrors libtraceevent's event_read_format /
 * event_read_fields, written from the format as the kernel prints it (kernel/trace/trace_events.c).
 */
import { FormatParseError } from '../errors.js';
import type { Field, FieldKind } from './field.js';
import { quoted } from '../quote.js';

export interface EventFormat {
  readonly system: string;
  readonly name: string;
  /** "system:name" */
  readonly fullName: string;
  readonly id: number;
  /** common_* fields first, then the event's own, in file order */
  readonly fields: readonly Field[];
  /** the event's own fields (not common_*) */
  readonly ownFields: readonly Field[];
  readonly printFmt: string;
  /** smallest record size that holds every fixed field */
  readonly fixedSize: number;
}

/**
 * Limits that no kernel's format comes near (the largest have a few dozen fields and a few KiB of
 * text, mostly the print fmt): a format beyond them is crafted or corrupt, and its fields would
 * each cost a compiled reader.
 */
export const MAX_FORMAT_FIELDS = 1024;
export const MAX_FORMAT_BYTES = 1024 * 1024;
const MAX_RECORD_BYTES = 1 << 24;

const FIELD_LINE = /^\s*field(?:\s+special)?:\s*(.+?);\s*offset:\s*(\d+);\s*size:\s*(\d+);(?:\s*signed:\s*(\d+);)?\s*$/;

/** Element sizes of the base C types the kernel uses in formats; long/pointers depend on the ABI. */
function baseTypeSize(base: string, longSize: number): number | undefined {
  switch (base) {
    case 'char': case 'bool': case '_Bool': case 'u8': case 's8': case '__u8': case '__s8':
    case 'uint8_t': case 'int8_t':
      return 1;
    case 'short': case 'u16': case 's16': case '__u16': case '__s16': case '__le16': case '__be16':
    case 'uint16_t': case 'int16_t': case 'umode_t':
      return 2;
    case 'int': case 'u32': case 's32': case '__u32': case '__s32': case '__le32': case '__be32':
    case 'uint32_t': case 'int32_t': case 'pid_t': case 'uid_t': case 'gid_t': case 'dev_t':
    case 'gfp_t': case 'unsigned':
      return 4;
    case 'long long': case 'u64': case 's64': case '__u64': case '__s64': case '__le64': case '__be64':
    case 'uint64_t': case 'int64_t': case 'loff_t': case 'sector_t': case 'ktime_t':
      return 8;
    case 'long': case 'size_t': case 'ssize_t': case 'unsigned long': case 'ulong':
      return longSize;
    default:
      return undefined;
  }
}

/** "const unsigned long" → "long" family; strips qualifiers so the size table can match. */
function baseType(type: string): string {
  const t = type
    .replace(/\b(const|volatile|__user|__rcu|__percpu|struct|enum)\b/g, ' ')
    .replace(/\b(unsigned|signed)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return t === '' ? 'int' : t;
}

/**
 * Split a C declaration such as "char prev_comm[16]", "__data_loc char[] name",
 * "const char * filename" into its type, name and array part.
 */
function splitDeclaration(decl: string): { type: string; name: string; brackets: string | undefined } | undefined {
  // Dynamic arrays put the brackets on the type: "__data_loc char[] name".
  const m = /^(.*?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$/.exec(decl);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const type = m[1].trim();
  if (type === '') return undefined;
  return { type, name: m[2], brackets: m[3] };
}

function classify(
  type: string,
  brackets: string | undefined,
  size: number,
  longSize: number,
): { kind: FieldKind; elementSize: number; arrayLength: number } {
  const dynamic = /^__data_loc\b/.test(type) ? 'dyn' : /^__rel_loc\b/.test(type) ? 'rel' : undefined;
  if (dynamic) {
    const elem = type.replace(/^__(data|rel)_loc\s*/, '').replace(/\[\s*\]\s*$/, '').trim();
    const base = baseType(elem);
    const isChar = base === 'char' && !/\*/.test(elem);
    const elementSize = /\*/.test(elem) ? longSize : (baseTypeSize(base, longSize) ?? 1);
    return { kind: isChar ? `${dynamic}-string` : `${dynamic}-array`, elementSize, arrayLength: 0 };
  }
  if (brackets !== undefined) {
    const inner = brackets.slice(1, -1).trim();
    const base = baseType(type);
    // more elements than bytes cannot be: take the count from the size then (as for a symbolic count)
    const count = /^\d+$/.test(inner) ? Number(inner) : 0;
    const n = count <= size ? count : 0;
    const isChar = base === 'char' && !/\*/.test(type);
    let elementSize = n > 0 ? size / n : (/\*/.test(type) ? longSize : (baseTypeSize(base, longSize) ?? 1));
    if (!Number.isInteger(elementSize) || elementSize <= 0) elementSize = 1;
    return {
      kind: isChar ? 'string' : 'array',
      elementSize,
      arrayLength: n > 0 ? n : Math.floor(size / elementSize),
    };
  }
  if (/\*/.test(type)) return { kind: 'pointer', elementSize: size, arrayLength: 0 };
  return { kind: 'int', elementSize: size, arrayLength: 0 };
}

/**
 * Parse one event format file.
 * @param text the file's content
 * @param path where it came from (a tracefs path, or "trace.dat:<system>/<event>"), used in errors
 * @param system the event's system (the directory name; the format text does not say it)
 * @param longSize 4 or 8: the traced kernel's long size, for `long` arrays without a count
 */
export function parseEventFormat(text: string, path: string, system: string, longSize = 8): EventFormat {
  if (text.length > MAX_FORMAT_BYTES) {
    throw new FormatParseError(path, 1, `the format text is ${text.length} bytes; tw takes formats of at most ${MAX_FORMAT_BYTES} bytes`);
  }
  const lines = text.split('\n');
  let name: string | undefined;
  let id: number | undefined;
  let printFmt = '';
  const fields: Field[] = [];
  let inFormat = false;
  let sawBlank = false;

  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const line = raw.trimEnd();
    const lineNo = i + 1;
    if (line.startsWith('name:')) {
      name = line.slice(5).trim();
      if (!/^[A-Za-z0-9_.\-]+$/.test(name)) throw new FormatParseError(path, lineNo, `invalid event name ${quoted(name)}`);
    } else if (line.startsWith('ID:')) {
      const v = line.slice(3).trim();
      if (!/^\d+$/.test(v)) throw new FormatParseError(path, lineNo, `invalid event ID ${quoted(v)}`);
      id = Number(v);
    } else if (line.startsWith('format:')) {
      inFormat = true;
    } else if (line.startsWith('print fmt:')) {
      printFmt = line.slice(10).trim();
      inFormat = false;
    } else if (inFormat) {
      if (line.trim() === '') {
        sawBlank = true;
        continue;
      }
      const m = FIELD_LINE.exec(line);
      if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) {
        throw new FormatParseError(path, lineNo, `expected 'field:<decl>; offset:N; size:N; signed:N;', got ${quoted(line.trim())}`);
      }
      if (fields.length === MAX_FORMAT_FIELDS) {
        throw new FormatParseError(path, lineNo, `more than ${MAX_FORMAT_FIELDS} fields; no kernel event has that many`);
      }
      const decl = splitDeclaration(m[1]);
      if (!decl) throw new FormatParseError(path, lineNo, `cannot read the declaration ${quoted(m[1])}`);
      // an event's fields are read by name: two of one name would make one of them unreachable
      if (fields.some((f) => f.name === decl.name)) throw new FormatParseError(path, lineNo, `a second field named ${quoted(decl.name)}`);
      const offset = Number(m[2]);
      const size = Number(m[3]);
      // a record is at most one sub-buffer (16 MiB at the very most): bigger is not a layout
      if (m[2].length > 8 || m[3].length > 8 || offset + size > MAX_RECORD_BYTES) {
        throw new FormatParseError(path, lineNo, `field '${decl.name}' at offset ${quoted(m[2], 24)} with size ${quoted(m[3], 24)} lies beyond any record (at most ${MAX_RECORD_BYTES} bytes)`);
      }
      const signed = m[4] !== undefined ? m[4] !== '0' : false;
      // Older kernels print zero-length arrays without brackets: "field:char buf; size:0".
      const brackets = decl.brackets ?? (size === 0 && !/^__(data|rel)_loc\b/.test(decl.type) ? '[]' : undefined);
      const { kind, elementSize, arrayLength } = classify(decl.type, brackets, size, longSize);
      if ((kind === 'int' || kind === 'pointer') && size !== 1 && size !== 2 && size !== 4 && size !== 8) {
        throw new FormatParseError(path, lineNo, `scalar field '${decl.name}' has size ${size}; expected 1, 2, 4 or 8`);
      }
      if ((kind.startsWith('dyn') || kind.startsWith('rel')) && size !== 4) {
        throw new FormatParseError(path, lineNo, `dynamic field '${decl.name}' has size ${size}; expected a 4-byte locator`);
      }
      const type = brackets !== undefined ? `${decl.type}${brackets}` : decl.type;
      fields.push({
        type,
        name: decl.name,
        offset,
        size,
        signed,
        kind,
        elementSize,
        arrayLength,
        common: !sawBlank && decl.name.startsWith('common_'),
      });
    }
  }
  if (name === undefined) throw new FormatParseError(path, 1, "no 'name:' line");
  if (id === undefined) throw new FormatParseError(path, 1, "no 'ID:' line");
  if (fields.length === 0) throw new FormatParseError(path, 1, "no 'format:' fields");
  let fixedSize = 0;
  for (const f of fields) fixedSize = Math.max(fixedSize, f.offset + f.size);
  return {
    system,
    name,
    fullName: `${system}:${name}`,
    id,
    fields,
    ownFields: fields.filter((f) => !f.common),
    printFmt,
    fixedSize,
  };
}
