/**
 * Parsers for events/header_page (the sub-buffer header layout) and events/header_event (the
 * record header bit layout). Mirrors libtraceevent's parse_header_page / kbuffer constants.
 */
import { FormatParseError } from '../errors.js';
import { quoted } from '../quote.js';

export interface HeaderPage {
  timestampOffset: number;
  timestampSize: number;
  commitOffset: number;
  /** the size of `local_t commit`: the kernel's long size (4 or 8) */
  commitSize: number;
  /** where record data starts in a sub-buffer */
  dataOffset: number;
  /** bytes of record data a sub-buffer of the described size holds */
  dataSize: number;
}

const LINE = /^\s*field:\s*(.+?);\s*offset:\s*(\d+);\s*size:\s*(\d+);/;

export function parseHeaderPage(text: string, path = 'header_page'): HeaderPage {
  const found = new Map<string, { offset: number; size: number }>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const m = LINE.exec(line);
    if (!m || m[1] === undefined) throw new FormatParseError(path, i + 1, `unrecognised line ${quoted(line.trim())}`);
    const name = m[1].trim().split(/\s+/).pop() ?? '';
    if (!found.has(name)) found.set(name, { offset: Number(m[2]), size: Number(m[3]) });
  });
  const need = (n: string) => {
    const f = found.get(n);
    if (!f) throw new FormatParseError(path, 1, `missing field '${n}'`);
    return f;
  };
  const ts = need('timestamp');
  const commit = need('commit');
  const data = need('data');
  if (ts.size !== 8) throw new FormatParseError(path, 1, `timestamp has size ${ts.size}, expected 8`);
  if (commit.size !== 4 && commit.size !== 8) throw new FormatParseError(path, 1, `commit has size ${commit.size}, expected 4 or 8`);
  return {
    timestampOffset: ts.offset,
    timestampSize: ts.size,
    commitOffset: commit.offset,
    commitSize: commit.size,
    dataOffset: data.offset,
    dataSize: data.size,
  };
}

/**
 * Check that header_event describes the compressed 5/27-bit record header with the usual
 * special type_len values; anything else is a ring buffer tw does not know how to read.
 */
export function checkHeaderEvent(text: string, path = 'header_event'): void {
  const want: Array<[RegExp, string]> = [
    [/type_len\s*:\s*5 bits/, 'type_len : 5 bits'],
    [/time_delta\s*:\s*27 bits/, 'time_delta : 27 bits'],
    [/padding\s*:\s*type == 29/, 'padding : type == 29'],
    [/time_extend\s*:\s*type == 30/, 'time_extend : type == 30'],
  ];
  for (const [re, what] of want) {
    if (!re.test(text)) throw new FormatParseError(path, 1, `expected '${what}': this ring-buffer record header is not one tw understands`);
  }
}
