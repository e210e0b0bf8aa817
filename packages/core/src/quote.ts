/**
 * How tw shows a string it did not write itself (a name, a line or a tag read from a trace file,
 * a spec or the command line) inside a message: in single quotes, with every byte that could act
 * on a terminal (C0 controls, DEL, C1 controls, the quote and backslash themselves) written as
 * an escape, and cut to a bounded length. One helper, used wherever such a string is echoed, so
 * that a crafted file cannot set a terminal's title, clear its screen or forge lines of output.
 */

/** At most this many characters of the string are shown (a whole format line fits). */
const MAX_SHOWN = 160;

/** Control characters: C0 (0x00-0x1f), DEL (0x7f), C1 (0x80-0x9f); and the bidi overrides. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  switch (c) {
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
    case '\u001b': return '\\e';
    default: {
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    }
  }
}

/** `s` with every terminal-active character escaped (no quotes added, no length limit). */
export function printable(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/**
 * `s` as it appears in a message: 'like this', escaped (see above; a quote or backslash inside
 * is escaped too), and at most MAX_SHOWN characters followed by "… (N characters)" when longer.
 * Anything that is not a string (a number read where a name was expected) is shown through
 * String() first.
 */
export function quoted(s: unknown, max = MAX_SHOWN): string {
  const text = typeof s === 'string' ? s : String(s);
  const cut = text.length > max ? text.slice(0, max) : text;
  const body = printable(cut.replace(/[\\']/g, (c) => `\\${c}`));
  return text.length > max ? `'${body}'… (${text.length} characters)` : `'${body}'`;
}
