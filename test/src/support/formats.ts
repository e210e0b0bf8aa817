// Event formats as trace-cmd sees them, read from trace-cmd's own output
// (`trace-cmd dump --events/--ftrace-events`, `trace-cmd report -E`), and a
// model of how `trace-cmd report -R` (libtraceevent 1.7's raw field printer)
// renders each field, so the oracle text can be turned back into exact values.
//
// How `report -R` prints a field (observed, and confirmed against the libtraceevent
// 1.7 behaviour):
//  * arrays (fixed or __data_loc) are printed "raw": a char/u8/s8 array whose bytes
//    up to the first NUL are all printable/space is printed as a C string, anything
//    else as `ARRAY[xx, yy, ...]` (hex bytes). Once a string field was printed as
//    ARRAY, that field is printed as ARRAY for the rest of the run.
//  * a scalar field that appears as a plain argument of the event's print fmt
//    (`REC->f`, optionally wrapped in parentheses and casts) is printed with that
//    conversion (e.g. `%llx` gives hex WITHOUT "0x", `%03d` gives "000", `%ps`
//    gives a kernel symbol name); a "0x" written just before the conversion in the
//    format is printed too. The print fmt is searched from just after the previous
//    field's match (wrapping around), and once the last conversion has been used
//    the remaining fields fall back to the raw form.
//    `%s` of a pointer-sized field prints the string at that address from the file's
//    printk list (else the address as %llx). Pointer extensions: %ps/%pf symbol,
//    %pS/%pF symbol+0xoff (unresolved: 0x%llx), plain %p is 0x... or "(nil)".
//  * otherwise the raw form: pointers and unsigned "long" types as 0x%llx, other
//    unsigned as %llu, signed 4-byte as %d (or 0x%x if its type contains "long"),
//    signed 2-byte as %2d, signed 1-byte as %1d, signed 8-byte as %lld.
//  * events whose print fmt libtraceevent cannot parse print every field raw. One
//    such case we model exactly: a string literal in the format containing a
//    character that is not printable ASCII (e.g. a real TAB, as in maple_tree's
//    ma_write). Events libtraceevent warns about (--check-events --verbose=warn)
//    are "uncertain": either rendering is accepted.

import { run } from './proc.js';

export interface FieldFormat {
  name: string;
  /** Type as libtraceevent builds it, e.g. "char[16]", "__data_loc char[]", "const char *". */
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  isArray: boolean;
  isDynamic: boolean;
  isString: boolean;
  isPointer: boolean;
  isLong: boolean;
  /** Number of elements of a fixed array (0 when unknown / dynamic). */
  arrayLen: number;
  /** Size in bytes of one array element, when known. */
  elemSize?: number;
}

/** How trace-cmd renders a field's value in `report -R` output. */
export type FieldSpec =
  | { kind: 'array' }
  | { kind: 'raw'; how: RawHow }
  | { kind: 'digit'; conv: 'd' | 'i' | 'u' | 'x' | 'X' | 'o'; bits: number; has0x: boolean; alt0x: boolean; casts: string[]; format: string }
  | { kind: 'pointer'; ptr: 'plain' | 'sym' | 'symoff' | 'other'; has0x: boolean; casts: string[]; format: string }
  /** %s of a pointer-sized non-array field: the string of that address in the file's printk list, else %llx */
  | { kind: 'strptr'; has0x: boolean; format: string }
  | { kind: 'opaque'; why: string };

/** Raw (print-fmt independent) rendering of a scalar field. */
export type RawHow = 'hex' | 'hex32' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint';

export interface EventFormat {
  /** System (e.g. "sched"), from `trace-cmd report -E`; undefined if ambiguous/unknown. */
  system: string | undefined;
  name: string;
  id: number;
  /** The event's own fields (common_* excluded), in format order. */
  fields: FieldFormat[];
  fieldIndex: Map<string, number>;
  printFmt: string;
  /** One spec per field (same order as fields). */
  specs: FieldSpec[];
  /**
   * True when libtraceevent reported a problem with this event's print fmt (or our
   * model could not analyse it): its fields may then be printed raw instead, so
   * either rendering is accepted.
   */
  uncertain: boolean;
  /** Raw rendering of each field (used as the alternative when uncertain). */
  rawSpecs: FieldSpec[];
}

// ---------------------------------------------------------------------------
// Field declarations

const ELEM_SIZES: Record<string, number> = {
  char: 1,
  'signed char': 1,
  'unsigned char': 1,
  bool: 1,
  _Bool: 1,
  u8: 1,
  s8: 1,
  __u8: 1,
  __s8: 1,
  short: 2,
  'unsigned short': 2,
  u16: 2,
  s16: 2,
  __u16: 2,
  __s16: 2,
  __le16: 2,
  __be16: 2,
  int: 4,
  'unsigned int': 4,
  unsigned: 4,
  u32: 4,
  s32: 4,
  __u32: 4,
  __s32: 4,
  __le32: 4,
  __be32: 4,
  pid_t: 4,
  uid_t: 4,
  gid_t: 4,
  long: 8,
  'unsigned long': 8,
  'long long': 8,
  'unsigned long long': 8,
  u64: 8,
  s64: 8,
  __u64: 8,
  __s64: 8,
  __le64: 8,
  __be64: 8,
  size_t: 8,
};

/** Parse a "field:..." declaration the way libtraceevent classifies it. */
export function parseFieldDecl(decl: string, offset: number, size: number, signed: boolean): FieldFormat {
  const d = decl.trim().replace(/\s+/g, ' ');
  let type: string;
  let name: string;
  let isArray = false;
  let arrayLen = 0;
  // "TYPE NAME[LEN]" / "TYPE NAME" / "__data_loc TYPE[] NAME"
  const m = /^(.*?)\s*\b([A-Za-z_]\w*)\s*((?:\[[^\]]*\])+)?$/.exec(d);
  if (!m || m[1] === undefined || m[2] === undefined) throw new Error(`cannot parse field declaration "${decl}"`);
  type = m[1].trim();
  name = m[2];
  if (m[3] !== undefined) {
    isArray = true;
    const nums = [...m[3].matchAll(/\[([^\]]*)\]/g)].map((x) => x[1] ?? '');
    const last = nums[nums.length - 1] ?? '';
    arrayLen = /^\s*(0x[0-9a-f]+|\d+)\s*$/i.test(last) ? Number(last) : 0;
    type = `${type}${m[3].replace(/\s+/g, '')}`;
  }
  if (type.includes('[')) isArray = true;
  if (type === '') throw new Error(`no type in field declaration "${decl}"`);
  const isDynamic = /^__data_loc\b/.test(type) || /^__rel_loc\b/.test(type);
  const isString = isArray && (type.includes('char') || type.includes('u8') || type.includes('s8'));
  const isPointer = /\*/.test(type.replace(/\[.*$/, ''));
  const isLong = type.includes('long');
  const f: FieldFormat = { name, type, offset, size, signed, isArray, isDynamic, isString, isPointer, isLong, arrayLen };
  if (isArray) {
    if (!isDynamic && arrayLen > 0 && size % arrayLen === 0) {
      f.elemSize = size / arrayLen;
    } else {
      const base = type
        .replace(/^__(data|rel)_loc\s+/, '')
        .replace(/\[.*$/, '')
        .replace(/\b(const|volatile)\b/g, '')
        .replace(/\s+/g, ' ')
        .trim();
      const es = isPointer ? 8 : ELEM_SIZES[base];
      if (es !== undefined) f.elemSize = es;
    }
  }
  return f;
}

// ---------------------------------------------------------------------------
// Format listing (`trace-cmd dump --events` / `--ftrace-events`)

interface RawEventBlock {
  name: string;
  id: number;
  fields: FieldFormat[];
  printFmt: string;
}

/** Parse the text of `trace-cmd dump --events` (or `--ftrace-events`). Strict. */
export function parseFormatListing(text: string): RawEventBlock[] {
  const lines = text.split('\n');
  const out: RawEventBlock[] = [];
  let i = 0;
  // leading "\t[Section ...]" / "\t[Events format, N systems]" headers
  while (i < lines.length && !/^name: /.test(lines[i] ?? '')) {
    const l = lines[i] ?? '';
    if (l.trim() !== '' && !/^\s*\[.*\]\s*$/.test(l)) throw new Error(`unexpected line in event format listing: ${JSON.stringify(l)}`);
    i++;
  }
  const isBlockStart = (k: number) => /^name: \S+$/.test(lines[k] ?? '') && /^ID: \d+$/.test(lines[k + 1] ?? '');
  while (i < lines.length) {
    const l = lines[i] ?? '';
    if (l.trim() === '') {
      i++;
      continue;
    }
    if (!isBlockStart(i)) throw new Error(`expected "name:"/"ID:" in event format listing at line ${i + 1}: ${JSON.stringify(l)}`);
    const name = l.slice('name: '.length);
    const id = Number((lines[i + 1] ?? '').slice('ID: '.length));
    i += 2;
    if (lines[i] !== 'format:') throw new Error(`expected "format:" for event ${name}, got ${JSON.stringify(lines[i])}`);
    i++;
    const fields: FieldFormat[] = [];
    while (i < lines.length && !/^print fmt: /.test(lines[i] ?? '')) {
      const fl = lines[i] ?? '';
      i++;
      if (fl.trim() === '') continue;
      const fm = /^\s*field:(.*?);\s*offset:(\d+);\s*size:(\d+);(?:\s*signed:(\d+);)?\s*$/.exec(fl);
      if (!fm || fm[1] === undefined) throw new Error(`cannot parse field line of event ${name}: ${JSON.stringify(fl)}`);
      // old ftrace formats may say "field special:..."; drop such a prefix
      const decl = fm[1].replace(/^special\s*:\s*/, '');
      const f = parseFieldDecl(decl, Number(fm[2]), Number(fm[3]), fm[4] === '1');
      fields.push(f);
    }
    if (i >= lines.length) throw new Error(`event ${name}: no "print fmt:" line`);
    const pf: string[] = [(lines[i] ?? '').slice('print fmt: '.length)];
    i++;
    // the print fmt can span lines (string literals containing real newlines)
    while (i < lines.length && !isBlockStart(i)) {
      pf.push(lines[i] ?? '');
      i++;
    }
    while (pf.length > 1 && (pf[pf.length - 1] ?? '').trim() === '') pf.pop();
    out.push({ name, id, fields: fields.filter((f) => !f.name.startsWith('common_')), printFmt: pf.join('\n') });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Print fmt analysis

/**
 * Split `"fmt" "more", arg, arg` into the concatenated format and the top-level
 * args. `broken` is set when libtraceevent's tokenizer cannot read the format
 * string: it ends a string literal at the first character that is neither
 * printable ASCII nor '\n' (e.g. a real TAB, or a byte >= 0x80) unless it follows
 * a backslash, and the event then fails to parse (all fields are printed raw).
 */
export function splitPrintFmt(text: string): { fmt: string; args: string[]; broken?: string } {
  let i = 0;
  const n = text.length;
  const skipWs = () => {
    while (i < n && /\s/.test(text[i] ?? '')) i++;
  };
  const isprint = (c: string) => c >= ' ' && c <= '~';
  skipWs();
  if (text[i] !== '"') throw new Error(`print fmt does not start with a string: ${text.slice(0, 60)}`);
  let fmt = '';
  while (text[i] === '"') {
    i++;
    // libtraceevent's string scanning, including its handling of "\\"
    let ch = '"';
    let last = '';
    for (;;) {
      last = ch;
      const c = text[i];
      if (c === undefined) throw new Error('unterminated string in print fmt');
      ch = c;
      i++;
      if (ch === '\\' && last === '\\') last = '';
      if ((ch !== '"' && isprint(ch)) || last === '\\' || ch === '\n') {
        fmt += ch;
        continue;
      }
      break;
    }
    if (ch !== '"') {
      return { fmt, args: [], broken: `character ${JSON.stringify(ch)} in the format string` };
    }
    skipWs();
  }
  const args: string[] = [];
  if (i >= n) return { fmt, args };
  if (text[i] !== ',') throw new Error(`unexpected text after print fmt string: ${text.slice(i, i + 40)}`);
  i++;
  let depth = 0;
  let cur = '';
  while (i < n) {
    const c = text[i] ?? '';
    if (c === '"' || c === "'") {
      // copy a string/char literal verbatim
      let j = i + 1;
      while (j < n && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      cur += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    if (c === ',' && depth === 0) {
      args.push(cur.trim());
      cur = '';
    } else {
      cur += c;
    }
    i++;
  }
  if (cur.trim() !== '' || args.length > 0) args.push(cur.trim());
  return { fmt, args };
}

function matchParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Normalise a cast type the way libtraceevent's tokenizer joins it ("char *", "unsigned long"). */
function normType(t: string): string {
  return t.replace(/\s*\*\s*/g, ' * ').replace(/\s+/g, ' ').trim();
}

/**
 * If `arg` is `REC->field`, possibly inside parentheses and typecasts, return the
 * field name and the casts (innermost first); otherwise undefined.
 */
export function unwrapFieldArg(arg: string): { field: string; casts: string[] } | undefined {
  const s = arg.trim();
  const m = /^REC\s*->\s*([A-Za-z_]\w*)$/.exec(s);
  if (m && m[1] !== undefined) return { field: m[1], casts: [] };
  if (!s.startsWith('(')) return undefined;
  const close = matchParen(s, 0);
  if (close < 0) return undefined;
  const inner = s.slice(1, close).trim();
  const rest = s.slice(close + 1).trim();
  if (rest === '') return unwrapFieldArg(inner);
  if (!/^[A-Za-z_][\w\s*]*$/.test(inner)) return undefined; // not a type: an expression
  const r = unwrapFieldArg(rest);
  if (!r) return undefined;
  return { field: r.field, casts: [...r.casts, normType(inner)] };
}

/** libtraceevent's typecast evaluation (note: it never sign-extends). */
export function applyCast(val: bigint, type: string): bigint {
  if (type.length < 2) return val;
  if (type.endsWith('*')) return val;
  if (type.startsWith('struct')) return val;
  switch (type) {
    case 'u8':
    case 's8':
      return val & 0xffn;
    case 'u16':
    case 's16':
      return val & 0xffffn;
    case 'u32':
    case 's32':
      return val & 0xffffffffn;
    case 'u64':
    case 's64':
      return val;
  }
  const base = type.startsWith('unsigned ') ? type.slice('unsigned '.length) : type;
  if (base === 'char') return val & 0xffn;
  if (base === 'short') return val & 0xffffn;
  if (base === 'int') return val & 0xffffffffn;
  return val;
}

interface Segment {
  type: 'string' | 'digit' | 'pointer' | 'str';
  /** literal text (string) or the conversion text, e.g. "%08lx" */
  text: string;
  /** index of the argument printed by this conversion */
  arg?: number;
  ls?: number;
}

function unescapeLiteral(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c));
}

/** Number of extra format characters libtraceevent consumes after "%p". */
function pointerExtLen(f: string): number {
  const c0 = f[0];
  const c1 = f[1];
  switch (c0) {
    case 'F':
    case 'S':
    case 'f':
    case 's':
      return 1;
    case 'M':
    case 'm':
      return c1 === 'R' || c1 === 'F' ? 2 : 1;
    case 'I':
    case 'i': {
      let ret = 0;
      let index = 2;
      if (c1 === 'S') {
        while ('pfs'.includes(f[index] ?? '#')) {
          ret++;
          index++;
        }
      }
      if (c1 === 'S' || c1 === '4') {
        if ('hnlb'.includes(f[index] ?? '#')) {
          ret++;
          index++;
        }
        if (c1 === '4') return ret + 2;
      }
      if (c1 === 'S' || c1 === '4' || c1 === '6') {
        if (f[index] === 'c') ret++;
        ret++;
      }
      return ret + 1;
    }
    case 'U':
      return 'LlBb'.includes(c1 ?? '#') ? 2 : 1;
    case 'h':
      return 'CDN'.includes(c1 ?? '#') ? 2 : 1;
    default:
      return 0;
  }
}

/**
 * Split a print format into literal and conversion segments the way
 * libtraceevent 1.7 does, assigning argument indexes to conversions.
 * `failed` is set when libtraceevent would mark the event as failed.
 */
export function segmentFormat(fmt: string, nargs: number): { segments: Segment[]; failed: boolean } {
  const segments: Segment[] = [];
  let failed = false;
  let argi = 0;
  let i = 0;
  while (i < fmt.length) {
    if (fmt[i] === '%' && fmt[i + 1] !== '%') {
      // conversion
      const start = i;
      let j = i + 1;
      let ls = 0;
      let done = false;
      for (; j < fmt.length && !done; j++) {
        const c = fmt[j] ?? '';
        switch (c) {
          case '#':
          case '.':
          case '-':
            break;
          case 'h':
            ls--;
            break;
          case 'l':
            ls++;
            break;
          case 'L':
            ls = 2;
            break;
          case 'z':
          case 'Z':
            ls = 1;
            break;
          case '*':
            if (argi >= nargs) failed = true;
            argi++;
            break;
          case 'p': {
            if (argi >= nargs) {
              failed = true;
              done = true;
              break;
            }
            const ext = pointerExtLen(fmt.slice(j + 1));
            const end = j + 1 + ext;
            segments.push({ type: 'pointer', text: fmt.slice(start, end), arg: argi++, ls });
            j = end - 1;
            done = true;
            break;
          }
          case 'd':
          case 'u':
          case 'i':
          case 'x':
          case 'X':
          case 'o':
            if (argi >= nargs) {
              failed = true;
              done = true;
              break;
            }
            if (ls < -2 || ls > 2) failed = true;
            segments.push({ type: 'digit', text: fmt.slice(start, j + 1), arg: argi++, ls });
            done = true;
            break;
          case 's':
            if (argi >= nargs) {
              failed = true;
              done = true;
              break;
            }
            segments.push({ type: 'str', text: fmt.slice(start, j + 1), arg: argi++, ls: 0 });
            done = true;
            break;
          default:
            if (c >= '0' && c <= '9') break;
            // unknown conversion (e.g. %c): becomes the literal ">c<", no argument used
            segments.push({ type: 'string', text: `>${c}<` });
            done = true;
        }
      }
      i = j;
      continue;
    }
    // literal up to the next lone '%'
    let j = i;
    let lit = '';
    while (j < fmt.length) {
      if (fmt[j] === '\\') {
        lit += fmt.slice(j, j + 2);
        j += 2;
        continue;
      }
      if (fmt[j] === '%') {
        if (fmt[j + 1] === '%') {
          lit += '%';
          j += 2;
          continue;
        }
        break;
      }
      lit += fmt[j];
      j++;
    }
    segments.push({ type: 'string', text: unescapeLiteral(lit) });
    i = j;
  }
  return { segments, failed };
}

/** The raw (print-fmt independent) rendering of a field. */
export function rawSpec(f: FieldFormat): FieldSpec {
  if (f.isArray) return { kind: 'array' };
  if (f.isPointer) return { kind: 'raw', how: 'hex' };
  if (f.signed) {
    switch (f.size) {
      case 4:
        return { kind: 'raw', how: f.isLong ? 'hex32' : 'int32' };
      case 2:
        return { kind: 'raw', how: 'int16' };
      case 1:
        return { kind: 'raw', how: 'int8' };
      default:
        return { kind: 'raw', how: 'int64' };
    }
  }
  return { kind: 'raw', how: f.isLong ? 'hex' : 'uint' };
}

const LS_BITS: Record<string, number> = { '-2': 8, '-1': 16, '0': 32, '1': 64, '2': 64 };

/** Work out how `report -R` renders each field of an event. */
export function analyseEvent(
  block: RawEventBlock,
  opts: { isFtrace: boolean; isBprint: boolean },
): { specs: FieldSpec[]; rawSpecs: FieldSpec[]; uncertain: boolean } {
  const rawSpecs = block.fields.map(rawSpec);
  if (opts.isBprint) return { specs: rawSpecs, rawSpecs, uncertain: false };
  let fmt: string;
  let args: string[];
  try {
    const sp = splitPrintFmt(block.printFmt);
    // libtraceevent cannot parse this print fmt: the event prints all fields raw
    if (sp.broken !== undefined) return { specs: rawSpecs, rawSpecs, uncertain: false };
    ({ fmt, args } = sp);
  } catch {
    return { specs: rawSpecs, rawSpecs, uncertain: true };
  }
  // old-style ftrace events without arguments print all fields in order
  if (opts.isFtrace && args.length === 0) args = block.fields.map((f) => `REC->${f.name}`);
  const { segments, failed } = segmentFormat(fmt, args.length);
  if (failed) return { specs: rawSpecs, rawSpecs, uncertain: true };
  if (segments.length === 0) return { specs: rawSpecs, rawSpecs, uncertain: false };
  const argInfo = args.map((a) => unwrapFieldArg(a));
  const specs: FieldSpec[] = [];
  // Emulate the search: start at the saved position, walk the (circular) list
  // once; a match saves the position after it (which may be "nothing left").
  let pos: number | undefined = 0;
  for (const f of block.fields) {
    if (f.isArray || pos === undefined) {
      specs.push(rawSpecs[specs.length] ?? rawSpec(f));
      continue;
    }
    const start: number = pos;
    let k: number = start;
    let has0x = false;
    let found: FieldSpec | undefined;
    do {
      const seg = segments[k];
      if (seg === undefined) break;
      if (seg.type === 'string') {
        has0x = seg.text.length > 1 && seg.text.endsWith('0x');
      } else {
        const info = seg.arg !== undefined ? argInfo[seg.arg] : undefined;
        if (info && info.field === f.name) {
          found = segSpec(seg, has0x, info.casts, f);
          pos = k + 1 < segments.length ? k + 1 : undefined;
          break;
        }
        has0x = false;
      }
      k = k + 1 < segments.length ? k + 1 : 0;
    } while (k !== start);
    specs.push(found ?? rawSpecs[specs.length] ?? rawSpec(f));
  }
  return { specs, rawSpecs, uncertain: false };
}

function segSpec(seg: Segment, has0x: boolean, casts: string[], f: FieldFormat): FieldSpec {
  if (seg.type === 'digit') {
    const conv = seg.text[seg.text.length - 1] as 'd' | 'i' | 'u' | 'x' | 'X' | 'o';
    const bits = LS_BITS[String(seg.ls ?? 0)] ?? 64;
    return { kind: 'digit', conv, bits, has0x, alt0x: seg.text.includes('#'), casts, format: seg.text };
  }
  if (seg.type === 'pointer') {
    const after = seg.text.slice(seg.text.indexOf('p') + 1);
    const c = after[0];
    let ptr: 'plain' | 'sym' | 'symoff' | 'other' = 'plain';
    if (c === 'f' || c === 's') ptr = 'sym';
    else if (c === 'F' || c === 'S') ptr = 'symoff';
    else if (c !== undefined && 'MmIiUh'.includes(c)) ptr = 'other';
    return { kind: 'pointer', ptr, has0x, casts, format: seg.text };
  }
  // %s: libtraceevent looks a pointer-sized field up in the printk strings
  if (f.size === 8) return { kind: 'strptr', has0x, format: seg.text };
  return { kind: 'opaque', why: `printed with "${seg.text}"` };
}

// ---------------------------------------------------------------------------
// Loading everything for one trace file

export interface TraceMeta {
  file: string;
  events: Map<string, EventFormat>;
  /** Names of the named (instance) buffers in the file, in file order. */
  buffers: string[];
  /** Width of the buffer-name column trace-cmd prints (0 when it prints none). */
  bufferColumn: number;
  /** Events libtraceevent complained about (system:event), from --verbose=warn. */
  warnedEvents: Set<string>;
  kallsyms: Kallsyms;
  /** Address -> string(s) of the file's printk list (`trace-cmd dump --printk`). */
  printk: Map<bigint, string[]>;
}

/** Parse `trace-cmd dump --printk` the way trace-cmd/libtraceevent load it. */
export function parsePrintk(text: string): Map<bigint, string[]> {
  const map = new Map<bigint, string[]>();
  for (const line of text.split('\n')) {
    if (line === '' || /^\s*\[.*\]\s*$/.test(line)) continue;
    const colon = line.indexOf(':');
    const addrText = colon >= 0 ? line.slice(0, colon).trim() : '';
    if (!/^(0x)?[0-9a-fA-F]+$/.test(addrText)) throw new Error(`cannot parse printk line ${JSON.stringify(line)}`);
    const addr = BigInt(addrText.startsWith('0x') ? addrText : '0x' + addrText);
    // skip the one character after ':', strip a leading and a trailing quote, then a trailing "\\n"
    let str = line.slice(colon + 2);
    if (str.startsWith('"')) str = str.slice(1);
    if (str.endsWith('"')) {
      str = str.slice(0, -1);
      if (str.endsWith('\\n')) str = str.slice(0, -2);
    }
    const list = map.get(addr);
    if (list) {
      if (!list.includes(str)) list.push(str);
    } else map.set(addr, [str]);
  }
  return map;
}

/** Map from kernel address to symbol names, as libtraceevent resolves %ps/%pS. */
export class Kallsyms {
  private addrs: bigint[] = [];
  private names: string[][] = [];

  static parse(text: string): Kallsyms {
    const entries: Array<[bigint, string]> = [];
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('\t[') || /^\s*\[.*\]\s*$/.test(line)) continue;
      const m = /^([0-9a-fA-F]{1,16}) (\S) (\S+)(?:\t\[\S*\])?\s*$/.exec(line);
      if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) {
        throw new Error(`cannot parse kallsyms line ${JSON.stringify(line)}`);
      }
      // libtraceevent skips absolute symbols and ARM "$a"-style ones
      if (m[3].startsWith('$') || m[2] === 'A' || m[2] === 'a') continue;
      entries.push([BigInt('0x' + m[1]), m[3]]);
    }
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const k = new Kallsyms();
    for (const [addr, name] of entries) {
      const last = k.addrs.length - 1;
      if (last >= 0 && k.addrs[last] === addr) k.names[last]?.push(name);
      else {
        k.addrs.push(addr);
        k.names.push([name]);
      }
    }
    return k;
  }

  get size(): number {
    return this.addrs.length;
  }

  /**
   * Resolve like libtraceevent: the symbol(s) starting at the greatest address
   * <= addr; past the last symbol only an exact match resolves.
   */
  resolve(addr: bigint): { start: bigint; names: string[] } | undefined {
    let lo = 0;
    let hi = this.addrs.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const a = this.addrs[mid] as bigint;
      if (a <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return undefined;
    const start = this.addrs[best] as bigint;
    if (best === this.addrs.length - 1 && start !== addr) return undefined;
    return { start, names: this.names[best] ?? [] };
  }
}

/** Read the event formats, buffer names, kallsyms and parse warnings of a trace file via trace-cmd. */
export async function loadTraceMeta(file: string): Promise<TraceMeta> {
  const [evText, ftText, sysText, optText, ksText, warnText, printkText] = await Promise.all([
    run('trace-cmd', ['dump', '--events', file]).then((r) => r.stdout),
    run('trace-cmd', ['dump', '--ftrace-events', file]).then((r) => r.stdout),
    run('trace-cmd', ['report', '-E', '-i', file]).then((r) => r.stdout),
    run('trace-cmd', ['dump', '--options', file]).then((r) => r.stdout),
    run('trace-cmd', ['dump', '--kallsyms', file]).then((r) => r.stdout),
    run('trace-cmd', ['report', '--check-events', '--verbose=warn', '-i', file], { check: false }).then((r) => r.stderr),
    run('trace-cmd', ['dump', '--printk', file]).then((r) => r.stdout),
  ]);
  return buildTraceMeta(file, { evText, ftText, sysText, optText, ksText, warnText, printkText });
}

export function buildTraceMeta(
  file: string,
  t: { evText: string; ftText: string; sysText: string; optText: string; ksText: string; warnText: string; printkText?: string },
): TraceMeta {
  // system of each event name, from `report -E` ("system:event" per line)
  const systemsOf = new Map<string, Set<string>>();
  for (const line of t.sysText.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^([^:\s]+):(\S+)$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) throw new Error(`unexpected line from trace-cmd report -E: ${JSON.stringify(line)}`);
    let s = systemsOf.get(m[2]);
    if (!s) systemsOf.set(m[2], (s = new Set()));
    s.add(m[1]);
  }
  const warnedEvents = new Set<string>();
  for (const m of t.warnText.matchAll(/\[([\w-]+):([\w-]+)\]/g)) warnedEvents.add(`${m[1]}:${m[2]}`);

  const events = new Map<string, EventFormat>();
  const add = (blocks: RawEventBlock[], isFtrace: boolean) => {
    for (const b of blocks) {
      const systems = systemsOf.get(b.name);
      const system = isFtrace ? 'ftrace' : systems && systems.size === 1 ? [...systems][0] : undefined;
      const a = analyseEvent(b, { isFtrace, isBprint: isFtrace && b.name === 'bprint' });
      const ev: EventFormat = {
        system,
        name: b.name,
        id: b.id,
        fields: b.fields,
        fieldIndex: new Map(b.fields.map((f, i) => [f.name, i])),
        printFmt: b.printFmt,
        specs: a.specs,
        rawSpecs: a.rawSpecs,
        uncertain: a.uncertain || (system !== undefined && warnedEvents.has(`${system}:${b.name}`)),
      };
      const prev = events.get(b.name);
      if (prev) {
        // same name in two systems: the report line cannot tell them apart
        prev.system = undefined;
        if (prev.fields.length !== ev.fields.length) prev.uncertain = true;
        continue;
      }
      events.set(b.name, ev);
    }
  };
  add(parseFormatListing(t.evText), false);
  add(parseFormatListing(t.ftText), true);

  const buffers: string[] = [];
  const lines = t.optText.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*\[Option BUFFER(_TEXT)?, /.test(lines[i] ?? '')) {
      for (let j = i + 1; j < Math.min(lines.length, i + 6); j++) {
        const m = /^"(.*)" \[name\]$/.exec(lines[j] ?? '');
        if (m && m[1] !== undefined) {
          if (m[1] !== '') buffers.push(m[1]);
          break;
        }
      }
    }
  }
  const bufferColumn = buffers.length > 0 ? Math.max(...buffers.map((b) => b.length)) : 0;
  return {
    file,
    events,
    buffers,
    bufferColumn,
    warnedEvents,
    kallsyms: Kallsyms.parse(t.ksText),
    printk: parsePrintk(t.printkText ?? ''),
  };
}
