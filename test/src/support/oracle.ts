// The oracle: `trace-cmd report -R -t -i FILE`, parsed strictly into records.
//
// Line format (trace-cmd 3.1 `report`):
//   [BUF: ]<comm %16s>-<pid %-5d> [<cpu %03d>] <sec>.<nsec 9 digits>: <name>: [pad to 20] { " field=value" }
// * When the file has named (instance) buffers every line starts with a column of
//   width W = longest buffer name: "<name right-aligned to W>: " for instance
//   buffers, W+2 spaces for the top-level buffer.
// * A line "CPU:<n> [<count> EVENTS DROPPED]" (or "CPU:<n> [EVENTS DROPPED]") comes
//   right before the first event after a loss; that following event line then has
//   no buffer column.
// * The first line is "cpus=<n>".
// Field values are split using the event's field list (so strings may contain
// spaces and "x=y"), checking each value against how trace-cmd renders that field.

import { spawnLines } from './proc.js';
import { loadTraceMeta, type EventFormat, type FieldFormat, type FieldSpec, type TraceMeta } from './formats.js';

export interface OracleRecord {
  /** Instance buffer name (absent for the top-level buffer). */
  buffer?: string;
  comm: string;
  pid: number;
  cpu: number;
  /** Timestamp in ns, as a decimal string. */
  ts: string;
  /** Event name without the system. */
  name: string;
  /** Field name -> value text exactly as trace-cmd printed it. */
  fields: Map<string, string>;
  /** 1-based line number in the report output (for messages). */
  line: number;
}

export interface OracleLost {
  buffer?: string;
  cpu: number;
  /** Number of dropped events, when trace-cmd knows it. */
  count?: number;
  line: number;
}

export type OracleItem = { type: 'event'; rec: OracleRecord } | { type: 'lost'; lost: OracleLost };

export class OracleParseError extends Error {
  constructor(message: string, readonly lineNo: number, readonly lineText: string) {
    super(`${message} (report line ${lineNo}: ${JSON.stringify(lineText.length > 300 ? lineText.slice(0, 300) + '…' : lineText)})`);
  }
}

// ---------------------------------------------------------------------------
// Value shapes (for splitting the field list)

const HEX = /^0x[0-9a-f]+$/;
const DEC = /^-?\d+$/;
const UDEC = /^\d+$/;
const ARRAY_RE = /^ARRAY\[(?:[0-9a-f]{2}(?:, [0-9a-f]{2})*)?\]$/;

/** Whether `text` can be trace-cmd's rendering of a field with this spec. */
export function plausibleValue(spec: FieldSpec, field: FieldFormat, text: string): boolean {
  switch (spec.kind) {
    case 'array':
      if (ARRAY_RE.test(text)) return true;
      if (!field.isString) return false;
      // a fixed char array printed with %s: at most size-1 bytes, no NUL
      if (!field.isDynamic && field.elemSize === 1 && Buffer.byteLength(text, 'latin1') > field.size - 1) return false;
      return !text.includes('\0');
    case 'raw':
      switch (spec.how) {
        case 'hex':
        case 'hex32':
          return HEX.test(text);
        case 'int16':
          return /^ ?-?\d+$/.test(text);
        case 'int8':
        case 'int32':
        case 'int64':
          return DEC.test(text);
        case 'uint':
          return UDEC.test(text);
      }
      return false;
    case 'digit': {
      let t = text;
      if (spec.has0x) {
        if (!t.startsWith('0x')) return false;
        t = t.slice(2);
      }
      t = t.trim();
      switch (spec.conv) {
        case 'd':
        case 'i':
          return DEC.test(t);
        case 'u':
          return UDEC.test(t);
        case 'x':
        case 'X':
          return /^(?:0[xX])?[0-9a-fA-F]+$/.test(t);
        case 'o':
          return /^[0-7]+$/.test(t);
      }
      return false;
    }
    case 'pointer': {
      let t = text;
      if (spec.has0x) {
        if (!t.startsWith('0x')) return false;
        t = t.slice(2);
      }
      switch (spec.ptr) {
        case 'plain':
          return HEX.test(t) || t === '(nil)';
        case 'sym':
          return /^\S+$/.test(t);
        case 'symoff':
          return HEX.test(t) || /^\S+\+0x[0-9a-f]+$/.test(t);
        case 'other':
          return true;
      }
      return false;
    }
    case 'strptr':
    case 'opaque':
      return true;
  }
}

/**
 * Split " a=1 b=two words c=3" into values using the field list. Throws on
 * no parse or an ambiguous parse.
 */
export function splitFields(ev: EventFormat, text: string): string[] {
  const fields = ev.fields;
  const n = fields.length;
  if (n === 0) {
    if (text !== '') throw new Error(`event ${ev.name} has no fields but the line has "${text}"`);
    return [];
  }
  const ok = (i: number, v: string): boolean => {
    const f = fields[i] as FieldFormat;
    const spec = ev.specs[i] as FieldSpec;
    if (plausibleValue(spec, f, v)) return true;
    return ev.uncertain && plausibleValue(ev.rawSpecs[i] as FieldSpec, f, v);
  };
  const results: string[][] = [];
  const acc: string[] = [];
  const rec = (i: number, pos: number): void => {
    if (results.length > 1) return;
    const prefix = ` ${(fields[i] as FieldFormat).name}=`;
    if (!text.startsWith(prefix, pos)) return;
    const vstart = pos + prefix.length;
    if (i === n - 1) {
      const v = text.slice(vstart);
      if (ok(i, v)) results.push([...acc, v]);
      return;
    }
    const next = ` ${(fields[i + 1] as FieldFormat).name}=`;
    for (let q = text.indexOf(next, vstart); q >= 0; q = text.indexOf(next, q + 1)) {
      const v = text.slice(vstart, q);
      if (!ok(i, v)) continue;
      acc.push(v);
      rec(i + 1, q);
      acc.pop();
      if (results.length > 1) return;
    }
  };
  rec(0, 0);
  if (results.length === 0) {
    throw new Error(`cannot split the fields of ${ev.name} (${fields.map((f) => f.name).join(',')}) in "${text}"`);
  }
  if (results.length > 1) {
    throw new Error(`ambiguous field values for ${ev.name} in "${text}"`);
  }
  return results[0] as string[];
}

// ---------------------------------------------------------------------------
// Line parser

export class ReportParser {
  private sawCpus = false;
  private noPrefixNext = false;
  private prefixes = new Map<string, string | undefined>();
  private prefixWidth: number;

  constructor(private readonly meta: TraceMeta) {
    const w = meta.bufferColumn;
    this.prefixWidth = meta.buffers.length > 0 ? w + 2 : 0;
    if (this.prefixWidth > 0) {
      this.prefixes.set(' '.repeat(w + 2), undefined);
      for (const b of meta.buffers) this.prefixes.set(`${b.padStart(w)}: `, b);
    }
  }

  /** Parse one line of `report -R -t` output; returns undefined for the header line. */
  parseLine(line: string, lineNo: number): OracleItem | undefined {
    if (!this.sawCpus) {
      if (/^cpus=\d+$/.test(line)) {
        this.sawCpus = true;
        return undefined;
      }
      throw new OracleParseError('expected "cpus=N" as the first line', lineNo, line);
    }
    let body = line;
    let buffer: string | undefined;
    if (this.prefixWidth > 0 && !this.noPrefixNext) {
      const p = line.slice(0, this.prefixWidth);
      if (!this.prefixes.has(p)) throw new OracleParseError('unknown buffer column', lineNo, line);
      buffer = this.prefixes.get(p);
      body = line.slice(this.prefixWidth);
    } else if (this.noPrefixNext) {
      buffer = this.pendingBuffer;
    }
    const wasAfterDrop = this.noPrefixNext;
    this.noPrefixNext = false;

    const drop = /^CPU:(\d+) \[(?:(\d+) )?EVENTS DROPPED\]$/.exec(body);
    if (drop) {
      if (wasAfterDrop) throw new OracleParseError('two "EVENTS DROPPED" lines in a row', lineNo, line);
      const lost: OracleLost = { cpu: Number(drop[1]), line: lineNo };
      if (buffer !== undefined) lost.buffer = buffer;
      if (drop[2] !== undefined) lost.count = Number(drop[2]);
      this.noPrefixNext = true;
      this.pendingBuffer = buffer;
      return { type: 'lost', lost };
    }

    const h = /^(.{16,}?)-(\d+) +\[(\d+)\] +(\d+)\.(\d{9}): ([^\s:]+): /.exec(body);
    if (!h) throw new OracleParseError('cannot parse the event header', lineNo, line);
    const [whole, commPadded, pidS, cpuS, sec, nsec, name] = h as unknown as [string, string, string, string, string, string, string];
    const ev = this.meta.events.get(name);
    if (!ev) throw new OracleParseError(`event "${name}" is not in the file's format list`, lineNo, line);
    let rest = body.slice(whole.length);
    if (name.length < 20) {
      const pad = ' '.repeat(20 - name.length);
      if (!rest.startsWith(pad)) throw new OracleParseError('event name padding missing', lineNo, line);
      rest = rest.slice(pad.length);
    }
    let values: string[];
    try {
      values = splitFields(ev, rest);
    } catch (e) {
      throw new OracleParseError((e as Error).message, lineNo, line);
    }
    const fields = new Map<string, string>();
    ev.fields.forEach((f, i) => fields.set(f.name, values[i] as string));
    const ts = (sec + nsec).replace(/^0+(?=\d)/, '');
    const rec: OracleRecord = {
      comm: commPadded.replace(/^ +/, ''),
      pid: Number(pidS),
      cpu: Number(cpuS),
      ts,
      name,
      fields,
      line: lineNo,
    };
    if (buffer !== undefined) rec.buffer = buffer;
    return { type: 'event', rec };
  }

  private pendingBuffer: string | undefined;

  /** Call at end of input. */
  finish(lineNo: number): void {
    if (!this.sawCpus) throw new OracleParseError('empty report output', lineNo, '');
    if (this.noPrefixNext) throw new OracleParseError('report ended right after an EVENTS DROPPED line', lineNo, '');
  }
}

/** The argv used for the oracle. */
export function oracleCommand(file: string): [string, string[]] {
  return ['trace-cmd', ['report', '-R', '-t', '-i', file]];
}

/** Stream the oracle's records for a file (metadata loaded first if not given). */
export async function* streamOracle(file: string, meta?: TraceMeta): AsyncGenerator<OracleItem> {
  const m = meta ?? (await loadTraceMeta(file));
  const [cmd, args] = oracleCommand(file);
  const p = spawnLines(cmd, args);
  const parser = new ReportParser(m);
  let lineNo = 0;
  let finished = false;
  try {
    for await (const line of p.lines) {
      lineNo++;
      const item = parser.parseLine(line, lineNo);
      if (item) yield item;
    }
    finished = true;
  } finally {
    if (!finished) p.kill();
  }
  const d = await p.done;
  if (d.spawnError) throw new Error(`cannot run ${p.command}: ${d.spawnError.message}`);
  if (d.code !== 0) throw new Error(`${p.command} failed (${d.signal ?? `exit ${d.code}`}): ${d.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  parser.finish(lineNo);
}

export interface OracleResult {
  meta: TraceMeta;
  records: OracleRecord[];
  lost: OracleLost[];
}

/** Parse a whole file's oracle output into memory (fine for test-sized recordings). */
export async function parseOracle(file: string, meta?: TraceMeta): Promise<OracleResult> {
  const m = meta ?? (await loadTraceMeta(file));
  const records: OracleRecord[] = [];
  const lost: OracleLost[] = [];
  for await (const item of streamOracle(file, m)) {
    if (item.type === 'event') records.push(item.rec);
    else lost.push(item.lost);
  }
  return { meta: m, records, lost };
}
