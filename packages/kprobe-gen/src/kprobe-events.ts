/**
 * The tracefs kprobe_events backend: a probe definition line
 *
 *   p:tw/<name> <symbol> <field>=<fetcharg>:<type> …     (r:tw/<name> for a kretprobe)
 *
 * for kernels with kprobe events but no way to build a module, plus the spec's filter
 * translated to an ftrace event filter. Fields are written in record order, so the event has
 * the same layout as the module's (see layout.ts). What kprobe events cannot express is a
 * PROBE_UNSUPPORTED error naming the field and why: full paths, `current` (tgid, uid, gid),
 * arithmetic, a kretprobe's entry arguments, and struct members whose offsets are unknown
 * (pass `members`, e.g. from memberLayoutsFromBtf()).
 */
import { TwError } from '@tw/core';
import { modelOf, paramValueProblem, payloadOrder, SCALAR_SIZE, type CType, type Expr, type FieldInfo, type ProbeModel, type ProbeSpec, type ScalarFieldType } from '@tw/probe-spec';
import { devOf, inoOf } from './desugar.js';

export type Arch = 'x86_64' | 'arm64';

export interface MemberInfo {
  readonly offset: number;
  readonly size: number;
  /** the member's C type as the kernel's BTF spells it, e.g. "const char *", "struct path" */
  readonly type: string;
}

/** Member offsets by struct: { "struct filename": { name: { offset: 0, size: 8, type: "const char *" } } } */
export type MemberLayouts = Readonly<Record<string, Readonly<Record<string, MemberInfo>>>>;

export type ParamValues = Readonly<Record<string, number | bigint | boolean | string>>;

export interface KprobeEventOptions {
  /** the target's architecture (default: this machine's) */
  arch?: Arch;
  /** struct member layouts of the target kernel, for `->`/`.` */
  members?: MemberLayouts;
  /** values for the spec's params (used in the filter); defaults otherwise */
  params?: ParamValues;
}

export interface KprobeEventDefinition {
  /** "tw:<name>" */
  readonly event: string;
  /** the line to append to kprobe_events */
  readonly line: string;
  /** the line that removes it ("-:tw/<name>") */
  readonly removeLine: string;
  /** an ftrace filter for events/tw/<name>/filter, when the spec has a filter that is not always true */
  readonly filter?: string;
  /** the kernel symbol probed */
  readonly symbol: string;
}

/** Thrown internally when a struct's layout is needed but not given. */
export class MissingStructError extends Error {
  constructor(readonly struct: string) {
    super(`the layout of ${struct} is needed`);
  }
}

export function hostArch(): Arch {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

const ARG_REGS: Record<Arch, readonly string[]> = {
  x86_64: ['%di', '%si', '%dx', '%cx', '%r8', '%r9'],
  arm64: ['%x0', '%x1', '%x2', '%x3', '%x4', '%x5'],
};

/** offsets of the syscall argument registers in struct pt_regs (arch ABI) */
const SYSCALL_REG_OFFSETS: Record<Arch, readonly number[]> = {
  // di, si, dx, r10, r8, r9
  x86_64: [112, 104, 96, 56, 72, 64],
  // regs[0..5]
  arm64: [0, 8, 16, 24, 32, 40],
};

export function syscallSymbol(name: string, arch: Arch): string {
  return arch === 'arm64' ? `__arm64_sys_${name}` : `__x64_sys_${name}`;
}

/** a loose view of a BTF type string: pointer depth and struct/union tag */
interface LooseType {
  pointer: number;
  tag?: string;
  text: string;
}

function looseType(text: string): LooseType {
  const pointer = (text.match(/\*/g) ?? []).length;
  const m = /\b(struct|union)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(text);
  return { pointer, text, ...(m ? { tag: `${m[1]} ${m[2]}` } : {}) };
}

function fromCType(t: CType): LooseType {
  return { pointer: t.pointer, text: t.text, ...(t.tag !== undefined ? { tag: t.base } : {}) };
}

type FV =
  /** a value: a fetcharg that yields it */
  | { k: 'val'; fetch: string; type?: LooseType }
  /** memory at base+off, not read yet */
  | { k: 'mem'; base: string; off: number; type?: LooseType; size?: number }
  /** the address base+off (from &p->member) */
  | { k: 'addr'; base: string; off: number };

class Unsupported extends Error {}

function deref(base: string, off: number): string {
  return `${off >= 0 ? '+' : ''}${off}(${base})`;
}

class FetchCompiler {
  constructor(
    private readonly m: ProbeModel,
    private readonly arch: Arch,
    private readonly members: MemberLayouts,
  ) {}

  private arg(name: string): FV {
    if (name === 'current') throw new Unsupported("kprobe events cannot read 'current'");
    if (name === 'retval') {
      if (this.m.kind !== 'kretprobe') throw new Unsupported("'retval' outside a kretprobe");
      return { k: 'val', fetch: '$retval', type: fromCType(this.m.returns!) };
    }
    const a = this.m.args.find((x) => x.name === name);
    if (!a) throw new Unsupported(`unknown identifier '${name}'`);
    if (this.m.kind === 'kretprobe') {
      throw new Unsupported(`a return probe cannot read the entry argument '${name}' with kprobe events on the kernels tw supports; use the module backend`);
    }
    if (this.m.kind === 'syscall') {
      const off = SYSCALL_REG_OFFSETS[this.arch][a.index]!;
      return { k: 'mem', base: ARG_REGS[this.arch][0]!, off, type: fromCType(a.type), size: 8 };
    }
    return { k: 'val', fetch: ARG_REGS[this.arch][a.index]!, type: fromCType(a.type) };
  }

  value(v: FV): { fetch: string; type?: LooseType } {
    if (v.k === 'val') return v.type ? { fetch: v.fetch, type: v.type } : { fetch: v.fetch };
    if (v.k === 'mem') return { fetch: deref(v.base, v.off), ...(v.type ? { type: v.type } : {}) };
    throw new Unsupported('an address (&…) is only usable as the source of a string or bytes field');
  }

  private member(type: LooseType | undefined, name: string, ctx: string): MemberInfo {
    const structTag = type?.tag;
    if (structTag === undefined) {
      throw new Unsupported(`'${ctx}': ${type ? `${type.text} is` : 'the type is'} not known to be a struct or union (typedefs are not resolved; cast to the struct)`);
    }
    const s = this.members[structTag];
    if (!s) throw new MissingStructError(structTag);
    const mi = s[name];
    if (!mi) throw new Unsupported(`${structTag} has no member '${name}' in the given layouts`);
    return mi;
  }

  compile(e: Expr): FV {
    switch (e.k) {
      case 'ident':
        return this.arg(e.name);
      case 'int':
        throw new Unsupported('integer constants are not fetchargs');
      case 'member': {
        if (e.arrow) {
          const base = this.value(this.compile(e.obj));
          if (base.type && base.type.pointer !== 1) throw new Unsupported(`'->${e.member}' on ${base.type.text}`);
          const mi = this.member(base.type, e.member, `->${e.member}`);
          return { k: 'mem', base: base.fetch, off: mi.offset, type: looseType(mi.type), size: mi.size };
        }
        const obj = this.compile(e.obj);
        if (obj.k !== 'mem') throw new Unsupported(`'.${e.member}' needs a struct member`);
        if (obj.type && obj.type.pointer !== 0) throw new Unsupported(`'.${e.member}' on a pointer (${obj.type.text}); use '->'`);
        const mi = this.member(obj.type, e.member, `.${e.member}`);
        return { k: 'mem', base: obj.base, off: obj.off + mi.offset, type: looseType(mi.type), size: mi.size };
      }
      case 'unary':
        if (e.op === '&') {
          const inner = this.compile(e.arg);
          if (inner.k !== 'mem') throw new Unsupported("'&' needs a member");
          return { k: 'addr', base: inner.base, off: inner.off };
        }
        throw new Unsupported(`operator '${e.op}': kprobe events have no arithmetic`);
      case 'cast': {
        // casts only re-type a pointer for the next member access (or are implied by the field's type)
        const inner = this.compile(e.arg);
        if (inner.k === 'addr') return inner;
        return { ...inner, type: fromCType(e.type) };
      }
      case 'binary':
        throw new Unsupported(`operator '${e.op}': kprobe events have no arithmetic`);
    }
  }
}

const FETCH_TYPE: Record<ScalarFieldType, string> = {
  u8: 'u8', u16: 'u16', u32: 'u32', u64: 'u64', s8: 's8', s16: 's16', s32: 's32', s64: 's64', bool: 'u8', pid: 's32',
};

function fieldFetch(fc: FetchCompiler, m: ProbeModel, f: FieldInfo): string {
  const s = f.source;
  const identType = (name: string): CType => (name === 'retval' ? m.returns! : m.args.find((a) => a.name === name)!.type);
  const scalar = (v: FV): string => {
    const t = FETCH_TYPE[f.scalar!];
    if (v.k === 'mem') {
      if (v.size !== undefined && v.size < SCALAR_SIZE[f.scalar!]) {
        throw new Unsupported(`the member is ${v.size} bytes but the field type ${f.scalar} reads ${SCALAR_SIZE[f.scalar!]} (declare the field with the member's size)`);
      }
      return `${deref(v.base, v.off)}:${t}`;
    }
    return `${fc.value(v).fetch}:${t}`;
  };
  const stringAt = (v: FV, type: string): string => {
    if (v.k === 'addr') return `${deref(v.base, v.off)}:${type}`;
    return `+0(${fc.value(v).fetch}):${type}`;
  };
  if (s.k === 'builtin') {
    if (s.name === 'comm') return '$comm:string';
    throw new Unsupported(`'${s.name}' needs 'current', which kprobe events cannot read`);
  }
  if (s.k === 'call') {
    switch (s.fn) {
      case 'path':
        throw new Unsupported('a full path needs a dentry walk; kprobe events can only fetch one name (use the module backend, or kernel_string(<dentry>->d_name.name) for the last component)');
      case 'ino':
      case 'dev': {
        const id = (s.arg as Extract<Expr, { k: 'ident' }>).name;
        return scalar(fc.compile(s.fn === 'ino' ? inoOf(id, identType(id)) : devOf(id, identType(id))));
      }
      case 'fd_ino':
      case 'fd_dev':
      case 'fd_path':
        throw new Unsupported(`${s.fn}(…) looks the descriptor up in the task's file table (current->files), which kprobe events cannot walk (use the BPF backend)`);
      case 'user_string':
        return stringAt(fc.compile(s.arg), 'ustring');
      case 'kernel_string':
        return stringAt(fc.compile(s.arg), 'string');
    }
  }
  if (f.kind === 'bytes') return stringAt(fc.compile(s.expr), `u8[${f.len}]`);
  return scalar(fc.compile(s.expr));
}

// ----------------------------------------------------------------------------------------------
// filter → ftrace event filter

type FF = { k: 'const'; v: bigint | string } | { k: 'field'; name: string; str: boolean } | { k: 'pred'; s: string } | { k: 'bitand'; s: string };

function ftraceFilter(m: ProbeModel, e: Expr, params: ParamValues): string | boolean {
  const fields = new Map(m.fields.map((f) => [f.name, f]));
  const pvals = new Map(m.params.map((p) => [p.name, p]));
  const pred = (x: FF): FF => {
    if (x.k === 'field') {
      if (x.str) throw new Unsupported(`string field '${x.name}' used as a condition`);
      return { k: 'pred', s: `${x.name} != 0` };
    }
    if (x.k === 'bitand') return { k: 'pred', s: x.s };
    return x;
  };
  const truth = (x: FF): boolean | undefined => (x.k === 'const' ? (typeof x.v === 'string' ? x.v !== '' : x.v !== 0n) : undefined);
  const FLIP: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '==': '==', '!=': '!=' };
  const walk = (x: Expr): FF => {
    switch (x.k) {
      case 'int':
        return { k: 'const', v: x.value };
      case 'ident': {
        const f = fields.get(x.name);
        if (f) {
          if (f.kind === 'bytes') throw new Unsupported(`bytes field '${f.name}'`);
          return { k: 'field', name: f.alias ? 'common_pid' : f.name, str: f.kind === 'string' };
        }
        const p = pvals.get(x.name);
        if (p) {
          const raw = params[p.name] ?? p.default;
          const problem = paramValueProblem(p.type, raw);
          if (problem) throw new TwError('BAD_ARGUMENT', `param ${p.name}: ${problem}`);
          if (p.type === 'charp') return { k: 'const', v: String(raw) };
          if (typeof raw === 'boolean') return { k: 'const', v: raw ? 1n : 0n };
          if (typeof raw === 'string') return { k: 'const', v: /^[YyNn]$/.test(raw) ? (/^[Yy]$/.test(raw) ? 1n : 0n) : BigInt(raw) };
          return { k: 'const', v: BigInt(raw) };
        }
        throw new Unsupported(`the filter reads '${x.name}', which is not a field; kprobe event filters can only test fields`);
      }
      case 'unary': {
        if (x.op === '!') {
          const a = pred(walk(x.arg));
          const t = truth(a);
          if (t !== undefined) return { k: 'const', v: t ? 0n : 1n };
          return { k: 'pred', s: `!(${(a as { s: string }).s})` };
        }
        if (x.op === '-') {
          const a = walk(x.arg);
          if (a.k === 'const' && typeof a.v === 'bigint') return { k: 'const', v: -a.v };
        }
        throw new Unsupported(`operator '${x.op}' in the filter`);
      }
      case 'binary': {
        const l = walk(x.left);
        const r = walk(x.right);
        switch (x.op) {
          case '&&':
          case '||': {
            const a = pred(l);
            const b = pred(r);
            const ta = truth(a);
            const tb = truth(b);
            if (x.op === '&&') {
              if (ta === false || tb === false) return { k: 'const', v: 0n };
              if (ta === true) return b;
              if (tb === true) return a;
            } else {
              if (ta === true || tb === true) return { k: 'const', v: 1n };
              if (ta === false) return b;
              if (tb === false) return a;
            }
            return { k: 'pred', s: `(${(a as { s: string }).s}) ${x.op} (${(b as { s: string }).s})` };
          }
          case '&': {
            if (l.k === 'const' && r.k === 'const' && typeof l.v === 'bigint' && typeof r.v === 'bigint') return { k: 'const', v: l.v & r.v };
            const [f, c] = l.k === 'field' && r.k === 'const' ? [l, r] : r.k === 'field' && l.k === 'const' ? [r, l] : [undefined, undefined];
            if (!f || !c || f.str || typeof c.v !== 'bigint') throw new Unsupported("'&' in a kprobe event filter must be <field> & <constant>");
            return { k: 'bitand', s: `${f.name} & ${c.v}` };
          }
          case '==':
          case '!=':
          case '<':
          case '<=':
          case '>':
          case '>=': {
            if (l.k === 'const' && r.k === 'const') {
              if (typeof l.v === 'string' || typeof r.v === 'string') {
                const eq = String(l.v) === String(r.v);
                return { k: 'const', v: (x.op === '==' ? eq : !eq) ? 1n : 0n };
              }
              const res = { '==': l.v === r.v, '!=': l.v !== r.v, '<': l.v < r.v, '<=': l.v <= r.v, '>': l.v > r.v, '>=': l.v >= r.v }[x.op];
              return { k: 'const', v: res ? 1n : 0n };
            }
            // (field & c) != 0  /  (field & c) == 0
            const band = l.k === 'bitand' && r.k === 'const' ? l : r.k === 'bitand' && l.k === 'const' ? r : undefined;
            if (band) {
              const c = (band === l ? r : l) as Extract<FF, { k: 'const' }>;
              if (c.v === 0n && x.op === '!=') return { k: 'pred', s: band.s };
              if (c.v === 0n && x.op === '==') return { k: 'pred', s: `!(${band.s})` };
              throw new Unsupported('a masked field can only be compared with 0');
            }
            let op: string = x.op;
            let f: FF = l;
            let c: FF = r;
            if (l.k === 'const' && r.k === 'field') {
              f = r;
              c = l;
              op = FLIP[op]!;
            }
            if (f.k !== 'field' || c.k !== 'const') throw new Unsupported('kprobe event filters compare a field with a constant');
            if (f.str) {
              if (typeof c.v !== 'string' || (op !== '==' && op !== '!=')) throw new Unsupported('string fields compare with == or != to a charp param');
              return { k: 'pred', s: `${f.name} ${op} "${c.v}"` };
            }
            if (typeof c.v !== 'bigint') throw new Unsupported('a number field compared with a string');
            return { k: 'pred', s: `${f.name} ${op} ${c.v}` };
          }
          default:
            throw new Unsupported(`operator '${x.op}' in the filter: kprobe event filters have no arithmetic`);
        }
      }
      case 'member':
      case 'cast':
        throw new Unsupported('the filter reads argument memory; kprobe event filters can only test fields');
    }
  };
  const out = pred(walk(e));
  const t = truth(out);
  if (t !== undefined) return t;
  return (out as { s: string }).s;
}

/**
 * Render the kprobe_events definition of a spec. Throws PROBE_UNSUPPORTED naming the field (or
 * "filter") and why, when kprobe events cannot express it.
 */
export function renderKprobeEvent(spec: ProbeSpec, opts: KprobeEventOptions = {}): KprobeEventDefinition {
  const m = modelOf(spec);
  if (m.kind === 'tracepoint') {
    throw new TwError('PROBE_UNSUPPORTED', `probe '${m.name}': not expressible as a kprobe event: it attaches to the tracepoint ${m.target}, not to a kernel function (use the BPF backend)`);
  }
  if (m.kind === 'syscall_exit') {
    throw new TwError('PROBE_UNSUPPORTED', `probe '${m.name}': not expressible as a kprobe event: a syscall exit carries the entry's arguments, which a return probe cannot read with kprobe events (use the BPF backend)`);
  }
  const arch = opts.arch ?? hostArch();
  const members = opts.members ?? {};
  const fc = new FetchCompiler(m, arch, members);
  const symbol = m.kind === 'syscall' ? syscallSymbol(m.target, arch) : m.target;
  const parts: string[] = [`${m.kind === 'kretprobe' ? 'r' : 'p'}:tw/${m.name}`, symbol];
  for (const { f } of payloadOrder(m)) {
    try {
      parts.push(`${f.name}=${fieldFetch(fc, m, f)}`);
    } catch (e) {
      if (e instanceof MissingStructError) {
        throw new TwError('PROBE_UNSUPPORTED', `probe '${m.name}', field '${f.name}': kprobe events need the offsets of ${e.struct}'s members; pass members (memberLayoutsFromBtf() reads them from the kernel's BTF), or use the module backend`, { cause: e });
      }
      if (e instanceof Unsupported) throw new TwError('PROBE_UNSUPPORTED', `probe '${m.name}', field '${f.name}' (from: ${f.source.k === 'builtin' ? f.source.name : spec.fields[f.index]!.from}): not expressible as a kprobe event: ${e.message}`, { cause: e });
      throw e;
    }
  }
  let filter: string | undefined;
  if (m.filter) {
    try {
      const f = ftraceFilter(m, m.filter, opts.params ?? {});
      if (f === false) filter = 'common_pid < 0';
      else if (f !== true) filter = f;
    } catch (e) {
      if (e instanceof Unsupported) throw new TwError('PROBE_UNSUPPORTED', `probe '${m.name}', filter: not expressible as a kprobe event filter: ${e.message} (use the module backend)`, { cause: e });
      throw e;
    }
  }
  return {
    event: `tw:${m.name}`,
    line: parts.join(' '),
    removeLine: `-:tw/${m.name}`,
    ...(filter !== undefined ? { filter } : {}),
    symbol,
  };
}

/** Like renderKprobeEvent, but returns the reason instead of throwing PROBE_UNSUPPORTED. */
export function tryRenderKprobeEvent(spec: ProbeSpec, opts: KprobeEventOptions = {}): KprobeEventDefinition | { unsupported: string } {
  try {
    return renderKprobeEvent(spec, opts);
  } catch (e) {
    if (e instanceof TwError && e.code === 'PROBE_UNSUPPORTED') return { unsupported: e.message };
    throw e;
  }
}

/** Every struct/union whose members the kprobe event definition needs (resolved one at a time). */
export function missingStruct(spec: ProbeSpec, opts: KprobeEventOptions): string | undefined {
  try {
    renderKprobeEvent(spec, opts);
    return undefined;
  } catch (e) {
    if (e instanceof TwError && e.cause instanceof MissingStructError) return e.cause.struct;
    return undefined;
  }
}
