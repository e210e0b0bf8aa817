/**
 * The C types a spec may name (argument types, the return type of a kretprobe target, casts):
 * a whitelist of scalar types, and pointers to those, to void or to a named struct/union.
 * Parsed into a normal form so the generator can reason about them (is it a pointer? to which
 * struct? user memory?).
 */

/** scalar type spellings → their size in bytes (LP64: x86-64, arm64) */
const SCALARS: Record<string, number> = {
  u8: 1, u16: 2, u32: 4, u64: 8, s8: 1, s16: 2, s32: 4, s64: 8,
  char: 1, 'signed char': 1, 'unsigned char': 1,
  short: 2, 'unsigned short': 2,
  int: 4, unsigned: 4, 'unsigned int': 4,
  long: 8, 'unsigned long': 8, 'long long': 8, 'unsigned long long': 8,
  bool: 1, pid_t: 4, uid_t: 4, gid_t: 4, dev_t: 4, ino_t: 8, loff_t: 8, size_t: 8, ssize_t: 8,
  umode_t: 2, fmode_t: 4,
};

const SIGNED = new Set(['s8', 's16', 's32', 's64', 'char', 'signed char', 'short', 'int', 'long', 'long long', 'pid_t', 'loff_t', 'ssize_t']);

/** words that may start a type (used by the expression parser to tell a cast from parentheses) */
export const TYPE_START_WORDS = new Set(['const', 'struct', 'union', 'unsigned', 'signed', 'void', ...Object.keys(SCALARS).filter((k) => !k.includes(' '))]);

export interface CType {
  /** normal form, e.g. "const struct path *", "unsigned long", "const char __user *" */
  readonly text: string;
  /** number of '*' */
  readonly pointer: number;
  /** the base: a scalar spelling, "void", or "struct <tag>" / "union <tag>" */
  readonly base: string;
  /** struct/union tag when the base is one */
  readonly tag?: string;
  readonly user: boolean;
  /** size of the value in bytes (8 for pointers) */
  readonly size: number;
  readonly signed: boolean;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Parse a C type from the whitelist; returns a message on failure. */
export function parseCType(text: string): CType | string {
  if (typeof text !== 'string') return 'must be a string';
  if (text.length > 80) return 'is longer than 80 characters';
  if (!/^[A-Za-z0-9_ *]+$/.test(text)) return `'${text}' may only contain identifiers, spaces and '*'`;
  const tokens = text.replace(/\*/g, ' * ').trim().split(/\s+/);
  let i = 0;
  let isConst = false;
  while (tokens[i] === 'const') {
    isConst = true;
    i++;
  }
  let base: string;
  let tag: string | undefined;
  const t0 = tokens[i];
  if (t0 === 'struct' || t0 === 'union') {
    const name = tokens[i + 1];
    if (name === undefined || !IDENT.test(name) || TYPE_START_WORDS.has(name)) return `'${text}': '${t0}' needs a tag name`;
    base = `${t0} ${name}`;
    tag = name;
    i += 2;
  } else if (t0 === 'void') {
    base = 'void';
    i++;
  } else {
    // longest scalar spelling from here (e.g. "unsigned long long")
    let found: string | undefined;
    for (let n = 3; n >= 1; n--) {
      const cand = tokens.slice(i, i + n).join(' ');
      if (tokens.length >= i + n && SCALARS[cand] !== undefined) {
        found = cand;
        break;
      }
    }
    if (found === undefined) return `'${text}' is not an allowed type (scalars like int, u32, unsigned long, pid_t; pointers to them, to void, or to struct/union <tag>)`;
    base = found;
    i += found.split(' ').length;
  }
  while (tokens[i] === 'const') {
    isConst = true;
    i++;
  }
  let user = false;
  if (tokens[i] === '__user') {
    user = true;
    i++;
  }
  let pointer = 0;
  while (tokens[i] === '*') {
    pointer++;
    i++;
    if (tokens[i] === 'const') i++;
  }
  if (i !== tokens.length) return `'${text}': unexpected '${tokens[i]}'`;
  if (pointer > 2) return `'${text}': at most two levels of pointers`;
  if (user && pointer === 0) return `'${text}': __user only qualifies pointers`;
  if (pointer === 0 && (tag !== undefined || base === 'void')) return `'${text}': a struct, union or void is not a value; use a pointer`;
  const parts = [isConst ? 'const' : '', base, user ? '__user' : '', pointer > 0 ? '*'.repeat(pointer) : ''].filter((s) => s !== '');
  return {
    text: parts.join(' '),
    pointer,
    base,
    ...(tag !== undefined ? { tag } : {}),
    user,
    size: pointer > 0 ? 8 : SCALARS[base]!,
    signed: pointer === 0 && SIGNED.has(base),
  };
}

/** The pointee of a pointer type (one '*' less). */
export function deref(t: CType): CType {
  const pointer = t.pointer - 1;
  return {
    ...t,
    pointer,
    text: t.text.replace(/ ?\*$/, ''),
    size: pointer > 0 ? 8 : t.base === 'void' || t.tag !== undefined ? 0 : SCALARS[t.base]!,
    signed: pointer === 0 && SIGNED.has(t.base),
  };
}

/** "struct path *" → "path", for the three kinds the ino/dev/path built-ins accept */
export function vfsKind(t: CType): 'path' | 'file' | 'dentry' | undefined {
  if (t.pointer !== 1 || t.user) return undefined;
  if (t.base === 'struct path') return 'path';
  if (t.base === 'struct file') return 'file';
  if (t.base === 'struct dentry') return 'dentry';
  return undefined;
}
