/**
 * The expression language of probe specs: a strict subset of C.
 *
 *   from:    identifiers, `->`, `.`, integer literals (decimal, 0x hex), binary `&` `|` `+` `-`,
 *            unary `-` and `&` (address of a member), parentheses, casts to whitelisted types;
 *            or a whole built-in: comm | pid | tgid | ppid | uid | gid | cwd | cmdline | ino(x) | dev(x) |
 *            path(x) | fd_ino(fd) | fd_dev(fd) | fd_path(fd) | user_string(e) | kernel_string(e)
 *   filter:  the same, plus `==` `!=` `<` `<=` `>` `>=` `&&` `||` and unary `!`
 *
 * Nothing else gets through: no calls (other than the built-ins, as the whole source), no
 * assignments, no `;` `{` `}` `[` `]` `,` `?` `#` `/`, no quotes, no comments, no `*` except in a
 * cast's pointer type. Violations are reported with the offending text and its column.
 */
import { parseCType, TYPE_START_WORDS, type CType } from './c-type.js';

export type BinOp = '+' | '-' | '&' | '|' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '&&' | '||';

export type Expr =
  | { readonly k: 'ident'; readonly name: string; readonly pos: number }
  | { readonly k: 'int'; readonly value: bigint; readonly text: string; readonly pos: number }
  | { readonly k: 'member'; readonly obj: Expr; readonly member: string; readonly arrow: boolean; readonly pos: number }
  | { readonly k: 'unary'; readonly op: '-' | '!' | '&'; readonly arg: Expr; readonly pos: number }
  | { readonly k: 'cast'; readonly type: CType; readonly arg: Expr; readonly pos: number }
  | { readonly k: 'binary'; readonly op: BinOp; readonly left: Expr; readonly right: Expr; readonly pos: number };

export type BareBuiltin = 'comm' | 'pid' | 'tgid' | 'ppid' | 'uid' | 'gid' | 'cwd' | 'cmdline';
export type CallBuiltin = 'ino' | 'dev' | 'path' | 'fd_ino' | 'fd_dev' | 'fd_path' | 'user_string' | 'kernel_string';

/** What a field's `from` is. */
export type Source =
  | { readonly k: 'expr'; readonly expr: Expr }
  | { readonly k: 'builtin'; readonly name: BareBuiltin }
  | { readonly k: 'call'; readonly fn: CallBuiltin; readonly arg: Expr };

export class ExprError extends Error {
  constructor(readonly rule: string) {
    super(rule);
  }
}

const MAX_LEN = 300;
const MAX_DEPTH = 24;

interface Token {
  t: 'id' | 'int' | 'op';
  v: string;
  pos: number;
}

const OPS = ['->', '==', '!=', '<=', '>=', '&&', '||', '.', '&', '|', '+', '-', '(', ')', '<', '>', '!', '*'];

function forbidden(ch: string, rest: string): string {
  if (ch === ';') return "';' is not allowed (one expression only)";
  if (ch === '"' || ch === "'") return 'quotes (string or character literals) are not allowed';
  if (ch === '{' || ch === '}') return 'braces are not allowed';
  if (ch === '#') return "'#' (preprocessor) is not allowed";
  if (ch === '/') return rest.startsWith('//') || rest.startsWith('/*') ? 'comments are not allowed' : "'/' (division) is not allowed";
  if (ch === '[' || ch === ']') return "subscripts '[ ]' are not allowed (use a member or &p->member)";
  if (ch === ',') return "',' is not allowed (no calls, no comma operator)";
  if (ch === '=') return "assignment '=' is not allowed (comparison is '==', in filters only)";
  if (ch === '?' || ch === ':') return "the conditional operator '?:' is not allowed";
  if (ch === '\\') return 'backslashes are not allowed';
  if (ch === '^' || ch === '~' || ch === '%') return `operator '${ch}' is not allowed (only & | + - in values)`;
  if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) > 0x7e) return `non-printable or non-ASCII character (code ${ch.charCodeAt(0)}) is not allowed`;
  return `character '${ch}' is not allowed`;
}

function tokenize(src: string): Token[] {
  if (src.length > MAX_LEN) throw new ExprError(`is longer than ${MAX_LEN} characters`);
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === ' ' || ch === '\t') {
      i++;
      continue;
    }
    const rest = src.slice(i);
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (id) {
      if (id[0].length > 64) throw new ExprError(`identifier at column ${i + 1} is longer than 64 characters`);
      out.push({ t: 'id', v: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const num = /^(0[xX][0-9a-fA-F]+|[0-9]+)/.exec(rest);
    if (num) {
      const after = rest[num[0].length];
      if (after !== undefined && /[A-Za-z0-9_.]/.test(after)) throw new ExprError(`malformed number '${rest.slice(0, num[0].length + 1)}' at column ${i + 1} (decimal or 0x hex, no suffixes)`);
      if (/^0[0-9]/.test(num[0])) throw new ExprError(`octal literal '${num[0]}' at column ${i + 1} is not allowed (use decimal or 0x hex)`);
      out.push({ t: 'int', v: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    if (rest.startsWith('<<') || rest.startsWith('>>')) throw new ExprError(`operator '${rest.slice(0, 2)}' at column ${i + 1} is not allowed`);
    if (rest.startsWith('++') || rest.startsWith('--')) throw new ExprError(`operator '${rest.slice(0, 2)}' at column ${i + 1} is not allowed (no side effects)`);
    const op = OPS.find((o) => rest.startsWith(o));
    if (op) {
      if (op.length === 1 && '&|+-*'.includes(op) && rest[1] === '=') {
        throw new ExprError(`assignment '${op}=' at column ${i + 1} is not allowed`);
      }
      out.push({ t: 'op', v: op, pos: i });
      i += op.length;
      continue;
    }
    throw new ExprError(`${forbidden(ch, rest)} (at column ${i + 1})`);
  }
  return out;
}

class Parser {
  private i = 0;
  private depth = 0;

  constructor(
    private readonly toks: Token[],
    private readonly filter: boolean,
  ) {}

  private peek(o = 0): Token | undefined {
    return this.toks[this.i + o];
  }

  private isOp(v: string, o = 0): boolean {
    const t = this.peek(o);
    return t !== undefined && t.t === 'op' && t.v === v;
  }

  private next(): Token {
    const t = this.toks[this.i++];
    if (!t) throw new ExprError('ends unexpectedly');
    return t;
  }

  private expect(v: string): Token {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v) throw new ExprError(`expected '${v}' at column ${t.pos + 1}, got '${t.v}'`);
    return t;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new ExprError(`is nested deeper than ${MAX_DEPTH} levels`);
  }

  parseAll(): Expr {
    const e = this.expr();
    const t = this.peek();
    if (t) throw new ExprError(`unexpected '${t.v}' at column ${t.pos + 1}`);
    return e;
  }

  private expr(): Expr {
    return this.filter ? this.lor() : this.bor();
  }

  private lor(): Expr {
    let l = this.land();
    while (this.isOp('||')) {
      const t = this.next();
      l = { k: 'binary', op: '||', left: l, right: this.land(), pos: t.pos };
    }
    return l;
  }

  private land(): Expr {
    let l = this.bor();
    while (this.isOp('&&')) {
      const t = this.next();
      l = { k: 'binary', op: '&&', left: l, right: this.bor(), pos: t.pos };
    }
    return l;
  }

  private bor(): Expr {
    let l = this.band();
    while (this.isOp('|')) {
      const t = this.next();
      l = { k: 'binary', op: '|', left: l, right: this.band(), pos: t.pos };
    }
    return l;
  }

  private band(): Expr {
    let l = this.filter ? this.equality() : this.additive();
    while (this.isOp('&')) {
      const t = this.next();
      l = { k: 'binary', op: '&', left: l, right: this.filter ? this.equality() : this.additive(), pos: t.pos };
    }
    return l;
  }

  private equality(): Expr {
    let l = this.relational();
    while (this.isOp('==') || this.isOp('!=')) {
      const t = this.next();
      l = { k: 'binary', op: t.v as BinOp, left: l, right: this.relational(), pos: t.pos };
    }
    return l;
  }

  private relational(): Expr {
    let l = this.additive();
    while (this.isOp('<') || this.isOp('<=') || this.isOp('>') || this.isOp('>=')) {
      const t = this.next();
      l = { k: 'binary', op: t.v as BinOp, left: l, right: this.additive(), pos: t.pos };
    }
    return l;
  }

  private additive(): Expr {
    let l = this.unary();
    while (this.isOp('+') || this.isOp('-')) {
      const t = this.next();
      l = { k: 'binary', op: t.v as BinOp, left: l, right: this.unary(), pos: t.pos };
    }
    return l;
  }

  private unary(): Expr {
    this.enter();
    try {
      const t = this.peek();
      if (!t) throw new ExprError('ends unexpectedly (expected a value)');
      if (t.t === 'op' && (t.v === '-' || t.v === '&' || t.v === '!')) {
        if (t.v === '!' && !this.filter) throw new ExprError(`'!' at column ${t.pos + 1} is only allowed in filters`);
        this.next();
        const arg = this.unary();
        if (t.v === '&' && arg.k !== 'member') throw new ExprError(`'&' at column ${t.pos + 1} must take the address of a member (&p->member)`);
        return { k: 'unary', op: t.v, arg, pos: t.pos };
      }
      if (t.t === 'op' && t.v === '*') throw new ExprError(`'*' at column ${t.pos + 1} is not allowed (no dereference or multiplication; use '->')`);
      if (t.t === 'op' && t.v === '(' && this.peek(1)?.t === 'id' && TYPE_START_WORDS.has(this.peek(1)!.v)) {
        this.next();
        const words: string[] = [];
        while (!this.isOp(')')) {
          const w = this.next();
          if (w.t === 'int' || (w.t === 'op' && w.v !== '*')) throw new ExprError(`unexpected '${w.v}' in a cast at column ${w.pos + 1}`);
          words.push(w.v);
        }
        this.expect(')');
        const type = parseCType(words.join(' '));
        if (typeof type === 'string') throw new ExprError(`cast at column ${t.pos + 1}: type ${type}`);
        return { k: 'cast', type, arg: this.unary(), pos: t.pos };
      }
      return this.postfix();
    } finally {
      this.depth--;
    }
  }

  private postfix(): Expr {
    let e = this.primary();
    for (;;) {
      if (this.isOp('->') || this.isOp('.')) {
        const op = this.next();
        const m = this.next();
        if (m.t !== 'id') throw new ExprError(`expected a member name after '${op.v}' at column ${op.pos + 1}`);
        if (TYPE_START_WORDS.has(m.v) || /^(if|else|for|while|do|return|goto|sizeof|typeof|asm|switch|case|default|break|continue)$/.test(m.v)) {
          throw new ExprError(`'${m.v}' at column ${m.pos + 1} is a reserved word, not a member name`);
        }
        e = { k: 'member', obj: e, member: m.v, arrow: op.v === '->', pos: op.pos };
        continue;
      }
      if (this.isOp('(')) {
        const t = this.peek()!;
        throw new ExprError(`function calls are not allowed ('(' at column ${t.pos + 1}); built-ins (ino, dev, path, fd_ino, fd_dev, fd_path, user_string, kernel_string) must be the whole field source`);
      }
      return e;
    }
  }

  private primary(): Expr {
    const t = this.next();
    if (t.t === 'id') {
      if (TYPE_START_WORDS.has(t.v)) throw new ExprError(`type name '${t.v}' at column ${t.pos + 1} outside a cast`);
      if (/^(if|else|for|while|do|return|goto|sizeof|typeof|__typeof__|asm|__asm__|switch|case|default|break|continue|__attribute__|__builtin_\w+)$/.test(t.v)) {
        throw new ExprError(`keyword '${t.v}' at column ${t.pos + 1} is not allowed`);
      }
      return { k: 'ident', name: t.v, pos: t.pos };
    }
    if (t.t === 'int') {
      const value = BigInt(t.v);
      if (value > 0xffff_ffff_ffff_ffffn) throw new ExprError(`integer '${t.v}' at column ${t.pos + 1} does not fit in 64 bits`);
      return { k: 'int', value, text: t.v, pos: t.pos };
    }
    if (t.v === '(') {
      this.enter();
      try {
        const e = this.expr();
        this.expect(')');
        const after = this.peek();
        if (e.k === 'ident' && after && (after.t !== 'op' || after.v === '(')) {
          throw new ExprError(`'(${e.name})' at column ${t.pos + 1} looks like a cast, but '${e.name}' is not an allowed type`);
        }
        return e;
      } finally {
        this.depth--;
      }
    }
    throw new ExprError(`unexpected '${t.v}' at column ${t.pos + 1}`);
  }
}

/** Parse a value expression (no comparisons or logical operators). */
export function parseValue(src: string): Expr {
  return new Parser(tokenize(src), false).parseAll();
}

/** Parse a filter expression. */
export function parseFilter(src: string): Expr {
  return new Parser(tokenize(src), true).parseAll();
}

const CALLS: readonly CallBuiltin[] = ['ino', 'dev', 'path', 'fd_ino', 'fd_dev', 'fd_path', 'user_string', 'kernel_string'];
const BARES: readonly BareBuiltin[] = ['comm', 'pid', 'tgid', 'ppid', 'uid', 'gid', 'cwd', 'cmdline'];

/** Parse a field's `from`: a bare built-in, a built-in call wrapping an expression, or an expression. */
export function parseSource(src: string): Source {
  const trimmed = src.trim();
  if ((BARES as readonly string[]).includes(trimmed)) return { k: 'builtin', name: trimmed as BareBuiltin };
  const m = /^([a-z_]+)\s*\(/.exec(trimmed);
  if (m && (CALLS as readonly string[]).includes(m[1]!)) {
    if (!trimmed.endsWith(')')) throw new ExprError(`${m[1]}(…) must be the whole source`);
    const inner = trimmed.slice(m[0].length, -1);
    // the inner text must itself be balanced: "ino(a) + ino(b)" is not one call
    let depth = 0;
    for (const ch of inner) {
      if (ch === '(') depth++;
      if (ch === ')' && --depth < 0) throw new ExprError(`${m[1]}(…) must be the whole source`);
    }
    if (inner.trim() === '') throw new ExprError(`${m[1]}() needs an argument`);
    return { k: 'call', fn: m[1] as CallBuiltin, arg: parseValue(inner) };
  }
  return { k: 'expr', expr: parseValue(src) };
}

/** Render an expression back as (fully parenthesised) C text, with identifiers mapped. */
export function exprToC(e: Expr, ident: (name: string) => string): string {
  switch (e.k) {
    case 'ident':
      return ident(e.name);
    case 'int':
      return e.text;
    case 'member':
      return `${exprToC(e.obj, ident)}${e.arrow ? '->' : '.'}${e.member}`;
    case 'unary':
      return `${e.op}(${exprToC(e.arg, ident)})`;
    case 'cast':
      return `((${e.type.text})(${exprToC(e.arg, ident)}))`;
    case 'binary':
      return `(${exprToC(e.left, ident)} ${e.op} ${exprToC(e.right, ident)})`;
  }
}

/** Every identifier an expression reads (not member names). */
export function identifiers(e: Expr, out: Array<{ name: string; pos: number }> = []): Array<{ name: string; pos: number }> {
  switch (e.k) {
    case 'ident':
      out.push({ name: e.name, pos: e.pos });
      break;
    case 'int':
      break;
    case 'member':
      identifiers(e.obj, out);
      break;
    case 'unary':
    case 'cast':
      identifiers(e.arg, out);
      break;
    case 'binary':
      identifiers(e.left, out);
      identifiers(e.right, out);
      break;
  }
  return out;
}
