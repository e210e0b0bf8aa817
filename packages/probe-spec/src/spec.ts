/**
 * Probe specs: the typed description of one dynamic probe (where it attaches, the probed
 * function's arguments, the fields of its event, an optional kernel-side filter and module
 * parameters), and their validation. Invalid specs throw ProbeSpecError naming the part of the
 * spec (e.g. "fields[2].from") and the rule it breaks.
 */
import { ProbeSpecError, TwError } from '@tw/core';
import { parseCType, vfsKind, type CType } from './c-type.js';
import { ExprError, identifiers, parseFilter, parseSource, type BareBuiltin, type Expr, type Source } from './expr.js';
import { specHash } from './hash.js';
import { plainCopy } from './plain.js';
import { clip, describe, isReserved, nameProblem, SYMBOL_RE, SYSCALL_RE, textProblem } from './names.js';

/** 'system:event' of a tracepoint */
const TRACEPOINT_RE = /^([a-z_][a-z0-9_]{0,63}):([a-z_][a-z0-9_]{0,63})$/;
/** an event class (struct trace_event_raw_<class>) or a tracepoint field name */
const CLASS_RE = /^[a-z_][a-z0-9_]{0,63}$/;

// ---------------------------------------------------------------------------------------------
// Types

export type ScalarFieldType = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64' | 'bool' | 'pid';
export type FieldType = ScalarFieldType | { readonly string: number } | { readonly bytes: number };

export interface ProbeField {
  /** the event's field name (lowercase C identifier) */
  readonly name: string;
  readonly type: FieldType;
  /**
   * where the value comes from: an argument name, an expression over arguments and `current`
   * (`->`, `.`, integer literals, `&`, `|`, `+`, `-`, casts), or a built-in: `comm`, `pid`,
   * `tgid`, `ppid`, `uid`, `gid`, `cwd` (the caller's working directory, a full path), `cmdline`
   * (the caller's arguments, space-separated, as far as the field holds them), `ino(arg)`,
   * `dev(arg)`, `path(arg)` (the full path for a struct path * or struct file *, across mounts;
   * inside its filesystem for a struct dentry *), `fd_ino(fd)`, `fd_dev(fd)`, `fd_path(fd)` (the
   * file behind a file descriptor of the current task), `user_string(expr)`,
   * `kernel_string(expr)`. A kretprobe and a syscall exit can also read `retval`.
   */
  readonly from: string;
  readonly description?: string;
}

export interface ProbeArg {
  readonly name: string;
  /** C type from the whitelist, e.g. "int", "const char __user *", "struct filename *" */
  readonly type: string;
  /**
   * tracepoints only: the event's field this argument reads, when it differs from `name` (a
   * field called `pid` or `comm` cannot be an argument name: those are built-in sources)
   */
  readonly field?: string;
}

export type ProbeAttach =
  | { readonly kprobe: string }
  /** `returns`: the C type of the return value (`retval` in expressions); default "long" */
  | { readonly kretprobe: string; readonly returns?: string }
  /**
   * a syscall (module and kprobe events: its arch wrapper, __x64_sys_<name> / __arm64_sys_<name>;
   * BPF: the syscalls:sys_enter_<name> tracepoint). With `returns` (the C type of the return
   * value, `retval`), the event is emitted when the syscall returns and carries the arguments
   * it was called with as well (BPF: syscalls:sys_exit_<name>, the arguments kept per thread).
   */
  | { readonly syscall: string; readonly returns?: string }
  /**
   * a kernel tracepoint 'system:event' (BPF only); the args are its fields, read by name from
   * struct trace_event_raw_<event> (or trace_event_raw_<class> for an event defined from an
   * event class, e.g. sched:sched_wakeup has class 'sched_wakeup_template')
   */
  | { readonly tracepoint: string; readonly class?: string };

export type ParamType = 'int' | 'uint' | 'long' | 'ulong' | 'short' | 'ushort' | 'bool' | 'charp';

export interface ProbeParam {
  readonly name: string;
  readonly type: ParamType;
  readonly default: number | bigint | boolean | string;
  readonly description?: string;
  /**
   * The watch may change it while the probe runs (`ctx.setProbeParams`): a BPF program reads
   * it from its .data map at every run instead of as a constant, a module from its parameter
   * (writable in sysfs). Not for charp. Default false.
   */
  readonly live?: boolean;
}

export interface ProbeSpec {
  /** event tw:<name>, module tw_<name> */
  readonly name: string;
  readonly description?: string;
  readonly attach: ProbeAttach;
  /** the probed function's arguments, in order (for syscalls: the syscall's own arguments) */
  readonly args: readonly ProbeArg[];
  readonly fields: readonly ProbeField[];
  /** C boolean expression over fields, args, params, `current` (and `retval`); events that fail it are not emitted */
  readonly filter?: string;
  readonly params?: readonly ProbeParam[];
}

/** The JS type a field unpacks to. */
export type FieldValueOf<T extends FieldType> = T extends 'u64' | 's64'
  ? bigint
  : T extends 'bool'
    ? boolean
    : T extends { readonly string: number }
      ? string
      : T extends { readonly bytes: number }
        ? Uint8Array
        : number;

/** The unpacked payload of a spec's event, derived from the spec's type (use with defineProbe). */
export type ProbePayload<S extends ProbeSpec> = {
  -readonly [F in S['fields'][number] as F['name']]: FieldValueOf<F['type']>;
};

// ---------------------------------------------------------------------------------------------
// The analysed spec the renderers work from

export type FieldKind = 'scalar' | 'string' | 'bytes';

export interface FieldInfo {
  readonly name: string;
  readonly index: number;
  readonly kind: FieldKind;
  /** scalar type, for kind 'scalar' */
  readonly scalar?: ScalarFieldType;
  /** string capacity incl. the NUL (kind 'string'), or byte count (kind 'bytes') */
  readonly len: number;
  readonly source: Source;
  /** a `from: 'pid'` field: not stored, it is the record's common_pid */
  readonly alias: boolean;
  readonly description?: string;
}

export interface ArgInfo {
  readonly name: string;
  readonly index: number;
  readonly type: CType;
  /** tracepoints: the event field it reads (the name unless `field` says otherwise) */
  readonly field?: string;
}

export interface ParamInfo {
  readonly name: string;
  readonly index: number;
  readonly type: ParamType;
  readonly default: number | bigint | boolean | string;
  readonly description?: string;
  readonly live?: boolean;
}

/**
 * Where a probe attaches: a kernel function (entry, return), a syscall (entry; exit with the
 * entry's arguments), a tracepoint.
 */
export type ProbeKind = 'kprobe' | 'kretprobe' | 'syscall' | 'syscall_exit' | 'tracepoint';

/** Kinds whose event is emitted on return, with `retval`. */
export function hasRetval(kind: ProbeKind): boolean {
  return kind === 'kretprobe' || kind === 'syscall_exit';
}

export interface ProbeModel {
  readonly spec: ProbeSpec;
  readonly name: string;
  readonly hash: string;
  readonly kind: ProbeKind;
  /** the kprobe target for kprobe/kretprobe; the syscall name for syscall/syscall_exit; 'system:event' for a tracepoint */
  readonly target: string;
  /** tracepoints: the name after trace_event_raw_ of the struct its fields are read from */
  readonly tracepointStruct?: string;
  /** kretprobe and syscall_exit: the type of `retval` */
  readonly returns?: CType;
  readonly args: readonly ArgInfo[];
  readonly fields: readonly FieldInfo[];
  readonly params: readonly ParamInfo[];
  readonly filter?: Expr;
  /** names of the fields the filter reads (computed before the filter runs) */
  readonly filterFields: ReadonlySet<string>;
}

// ---------------------------------------------------------------------------------------------
// Limits

export const LIMITS = {
  args: 6,
  fields: 32,
  params: 16,
  stringMax: 1024,
  bytesMax: 64,
  /** fixed part + all string capacities; a ring-buffer event must fit in one sub-buffer page */
  recordMax: 3072,
  filterLength: 500,
} as const;

const SCALAR_TYPES: readonly ScalarFieldType[] = ['u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'bool', 'pid'];
const PARAM_TYPES: readonly ParamType[] = ['int', 'uint', 'long', 'ulong', 'short', 'ushort', 'bool', 'charp'];
const CHARP_RE = /^[A-Za-z0-9_.,:/@+=-]{0,128}$/;

export const SCALAR_SIZE: Record<ScalarFieldType, number> = {
  u8: 1, s8: 1, bool: 1, u16: 2, s16: 2, u32: 4, s32: 4, pid: 4, u64: 8, s64: 8,
};

// ---------------------------------------------------------------------------------------------
// Validation

class Checker {
  constructor(readonly specName: string) {}

  fail(field: string, rule: string): never {
    throw new ProbeSpecError(this.specName, field, rule);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(c: Checker, path: string, o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) c.fail(path === '' ? k : `${path}.${k}`, `unknown property (allowed: ${allowed.join(', ')})`);
  }
}

function exprRule(e: unknown): string {
  return e instanceof ExprError ? e.message : String(e);
}

const CURRENT_TYPE = parseCType('struct task_struct *') as CType;

/**
 * Validate a spec and analyse it into the model the renderers use.
 * Throws ProbeSpecError on the first problem.
 */
export function analyzeProbeSpec(spec: unknown): ProbeModel {
  // the checks and the model read one frozen plain copy, never the caller's object again
  const input = frozenCopies.has(spec as object) ? spec : plainCopy(spec, nameOf(spec));
  const pre: Checker = new Checker(isObject(input) && typeof input.name === 'string' && /^[a-z][a-z0-9_]{0,31}$/.test(input.name) ? input.name : '');
  if (!isObject(input)) pre.fail('spec', `must be an object, got ${describe(input)}`);
  onlyKeys(pre, '', input, ['name', 'description', 'attach', 'args', 'fields', 'filter', 'params']);
  const np = nameProblem(input.name, 'spec');
  if (np) pre.fail('name', np);
  const name = input.name as string;
  const c: Checker = new Checker(name);
  if (input.description !== undefined) {
    const tp = textProblem(input.description);
    if (tp) c.fail('description', tp);
  }

  // attach
  const attach = input.attach;
  if (!isObject(attach)) c.fail('attach', `must be { kprobe: '<symbol>' }, { kretprobe: '<symbol>', returns? }, { syscall: '<name>', returns? } or { tracepoint: '<system>:<event>', class? }, got ${describe(attach)}`);
  const keys = (['kprobe', 'kretprobe', 'syscall', 'tracepoint'] as const).filter((k) => attach[k] !== undefined);
  if (keys.length !== 1) c.fail('attach', 'must have exactly one of kprobe, kretprobe, syscall, tracepoint');
  const key = keys[0]!;
  onlyKeys(c, 'attach', attach, key === 'kretprobe' || key === 'syscall' ? [key, 'returns'] : key === 'tracepoint' ? [key, 'class'] : [key]);
  const kind: ProbeKind = key === 'syscall' && attach.returns !== undefined ? 'syscall_exit' : key;
  const target = attach[key];
  if (typeof target !== 'string') c.fail(`attach.${key}`, `must be a string, got ${describe(target)}`);
  let tracepointStruct: string | undefined;
  if (key === 'syscall') {
    if (!SYSCALL_RE.test(target)) c.fail('attach.syscall', `'${target}' is not a syscall name ([a-z][a-z0-9_]*, without the sys_ prefix)`);
    if (/^(sys_|__x64_sys_|__arm64_sys_)/.test(target)) c.fail('attach.syscall', 'give the syscall name without a sys_ or arch wrapper prefix');
  } else if (key === 'tracepoint') {
    const tm = TRACEPOINT_RE.exec(target);
    if (!tm) c.fail('attach.tracepoint', `'${clip(target)}' is not '<system>:<event>' (each [a-z0-9_], starting with a letter or _, at most 64 characters)`);
    if (tm[1] === 'syscalls' || tm[1] === 'raw_syscalls') c.fail('attach.tracepoint', `for syscall events use { syscall: '<name>' } (with returns for the exit): their arguments are read from the generic syscall record`);
    const cls = attach.class;
    if (cls !== undefined && (typeof cls !== 'string' || !CLASS_RE.test(cls))) c.fail('attach.class', `must be the event class name (the struct is trace_event_raw_<class>): [a-z_][a-z0-9_]{0,63}, got ${describe(cls)}`);
    tracepointStruct = (cls as string | undefined) ?? tm[2]!;
  } else if (!SYMBOL_RE.test(target)) {
    c.fail(`attach.${key}`, `'${target}' is not a kernel symbol name`);
  }
  let returns: CType | undefined;
  if (hasRetval(kind)) {
    const r = attach.returns ?? 'long';
    if (typeof r !== 'string') c.fail('attach.returns', `must be a C type string, got ${describe(r)}`);
    const t = parseCType(r);
    if (typeof t === 'string') c.fail('attach.returns', t);
    returns = t;
  }

  // args
  if (!Array.isArray(input.args)) c.fail('args', `must be an array, got ${describe(input.args)}`);
  if (input.args.length > LIMITS.args) c.fail('args', `at most ${LIMITS.args} arguments (the register-passed ones${kind === 'tracepoint' ? '; for a tracepoint, its fields' : ''})`);
  const names = new Map<string, string>();
  const claim = (n: string, path: string): void => {
    const prev = names.get(n);
    if (prev !== undefined) c.fail(path, `'${n}' is already used by ${prev} (args, fields and params share one namespace)`);
    names.set(n, path);
  };
  const args: ArgInfo[] = input.args.map((a: unknown, i: number): ArgInfo => {
    const p = `args[${i}]`;
    if (!isObject(a)) c.fail(p, `must be { name, type }, got ${describe(a)}`);
    onlyKeys(c, p, a, kind === 'tracepoint' ? ['name', 'type', 'field'] : ['name', 'type']);
    const n = nameProblem(a.name, 'arg');
    if (n) c.fail(`${p}.name`, n);
    claim(a.name as string, `${p}.name`);
    if (typeof a.type !== 'string') c.fail(`${p}.type`, `must be a C type string, got ${describe(a.type)}`);
    const t = parseCType(a.type);
    if (typeof t === 'string') c.fail(`${p}.type`, t);
    if (kind !== 'tracepoint') return { name: a.name as string, index: i, type: t };
    const field = a.field ?? a.name;
    if (typeof field !== 'string' || !CLASS_RE.test(field) || isReserved(field)) c.fail(`${p}.field`, `must be the tracepoint's field name ([a-z_][a-z0-9_]{0,63}, not a C keyword or reserved name), got ${describe(field)}`);
    return { name: a.name as string, index: i, type: t, field };
  });
  const argByName = new Map(args.map((a) => [a.name, a]));

  // params (before fields: the filter may read them)
  const rawParams = input.params ?? [];
  if (!Array.isArray(rawParams)) c.fail('params', `must be an array, got ${describe(rawParams)}`);
  if (rawParams.length > LIMITS.params) c.fail('params', `at most ${LIMITS.params} params`);
  const params: ParamInfo[] = rawParams.map((pr: unknown, i: number): ParamInfo => {
    const p = `params[${i}]`;
    if (!isObject(pr)) c.fail(p, `must be { name, type, default, description? }, got ${describe(pr)}`);
    onlyKeys(c, p, pr, ['name', 'type', 'default', 'description', 'live']);
    if (pr.live !== undefined && typeof pr.live !== 'boolean') c.fail(`${p}.live`, `must be true or false, got ${describe(pr.live)}`);
    if (pr.live === true && pr.type === 'charp') c.fail(`${p}.live`, 'a charp param cannot be live (its string is fixed at load)');
    const n = nameProblem(pr.name, 'param');
    if (n) c.fail(`${p}.name`, n);
    claim(pr.name as string, `${p}.name`);
    if (!PARAM_TYPES.includes(pr.type as ParamType)) c.fail(`${p}.type`, `must be one of ${PARAM_TYPES.join(', ')}, got ${describe(pr.type)}`);
    const type = pr.type as ParamType;
    const problem = paramDefaultProblem(type, pr.default);
    if (problem) c.fail(`${p}.default`, problem);
    if (pr.description !== undefined) {
      const tp = textProblem(pr.description);
      if (tp) c.fail(`${p}.description`, tp);
    }
    return {
      name: pr.name as string,
      index: i,
      type,
      default: pr.default as ParamInfo['default'],
      ...(pr.description !== undefined ? { description: pr.description as string } : {}),
      ...(pr.live === true ? { live: true } : {}),
    };
  });
  const paramByName = new Map(params.map((p) => [p.name, p]));

  // fields
  if (!Array.isArray(input.fields)) c.fail('fields', `must be an array, got ${describe(input.fields)}`);
  if (input.fields.length === 0) c.fail('fields', 'needs at least one field');
  if (input.fields.length > LIMITS.fields) c.fail('fields', `at most ${LIMITS.fields} fields`);
  const fields: FieldInfo[] = input.fields.map((f: unknown, i: number): FieldInfo => {
    const p = `fields[${i}]`;
    if (!isObject(f)) c.fail(p, `must be { name, type, from }, got ${describe(f)}`);
    onlyKeys(c, p, f, ['name', 'type', 'from', 'description']);
    const n = nameProblem(f.name, 'field');
    if (n) c.fail(`${p}.name`, n);
    // a field may reuse an argument's name (in the filter the name then means the field)
    const prev = names.get(f.name as string);
    if (prev !== undefined && !prev.startsWith('args[')) c.fail(`${p}.name`, `'${f.name as string}' is already used by ${prev} (fields and params share one namespace)`);
    names.set(f.name as string, `${p}.name`);
    if (f.description !== undefined) {
      const tp = textProblem(f.description);
      if (tp) c.fail(`${p}.description`, tp);
    }
    const { kind: fkind, scalar, len } = fieldType(c, `${p}.type`, f.type);
    if (typeof f.from !== 'string') c.fail(`${p}.from`, `must be a string, got ${describe(f.from)}`);
    let source: Source;
    try {
      source = parseSource(f.from);
    } catch (e) {
      c.fail(`${p}.from`, exprRule(e));
    }
    checkSource(c, `${p}.from`, source, fkind, scalar, { args: argByName, kind, returns });
    return {
      name: f.name as string,
      index: i,
      kind: fkind,
      ...(scalar !== undefined ? { scalar } : {}),
      len,
      source,
      alias: source.k === 'builtin' && source.name === 'pid',
      ...(f.description !== undefined ? { description: f.description as string } : {}),
    };
  });
  const fieldByName = new Map(fields.map((f) => [f.name, f]));

  // filter
  let filter: Expr | undefined;
  const filterFields = new Set<string>();
  if (input.filter !== undefined) {
    if (typeof input.filter !== 'string') c.fail('filter', `must be a string, got ${describe(input.filter)}`);
    if (input.filter.length > LIMITS.filterLength) c.fail('filter', `is longer than ${LIMITS.filterLength} characters`);
    try {
      filter = parseFilter(input.filter);
    } catch (e) {
      c.fail('filter', exprRule(e));
    }
    checkFilter(c, filter, { args: argByName, fields: fieldByName, params: paramByName, kind }, filterFields);
  }

  // record size
  const fixed = (hasRetval(kind) ? 16 : 8) + fields.reduce((s, f) => s + (f.alias ? 0 : f.kind === 'string' ? 4 : f.kind === 'bytes' ? f.len : SCALAR_SIZE[f.scalar!]), 0);
  const strings = fields.reduce((s, f) => s + (f.kind === 'string' ? f.len : 0), 0);
  if (8 + fixed + strings > LIMITS.recordMax) {
    c.fail('fields', `the record can reach ${8 + fixed + strings} bytes; at most ${LIMITS.recordMax} (shorten string capacities)`);
  }

  return {
    spec: input as unknown as ProbeSpec,
    name,
    hash: specHash(input),
    kind,
    target: target as string,
    ...(tracepointStruct !== undefined ? { tracepointStruct } : {}),
    ...(returns !== undefined ? { returns } : {}),
    args,
    fields,
    params,
    ...(filter !== undefined ? { filter } : {}),
    filterFields,
  };
}

function fieldType(c: Checker, path: string, t: unknown): { kind: FieldKind; scalar?: ScalarFieldType; len: number } {
  if (typeof t === 'string') {
    if (!SCALAR_TYPES.includes(t as ScalarFieldType)) c.fail(path, `must be one of ${SCALAR_TYPES.join(', ')}, { string: maxLen } or { bytes: len }; got '${t}'`);
    return { kind: 'scalar', scalar: t as ScalarFieldType, len: SCALAR_SIZE[t as ScalarFieldType] };
  }
  if (isObject(t)) {
    const keys = Object.keys(t);
    if (keys.length === 1 && keys[0] === 'string') {
      const n = t.string;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 2 || n > LIMITS.stringMax) c.fail(`${path}.string`, `must be an integer from 2 to ${LIMITS.stringMax} (capacity incl. the NUL)`);
      return { kind: 'string', len: n };
    }
    if (keys.length === 1 && keys[0] === 'bytes') {
      const n = t.bytes;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > LIMITS.bytesMax) c.fail(`${path}.bytes`, `must be an integer from 1 to ${LIMITS.bytesMax}`);
      return { kind: 'bytes', len: n };
    }
  }
  return c.fail(path, `must be one of ${SCALAR_TYPES.join(', ')}, { string: maxLen } or { bytes: len }; got ${describe(t)}`);
}

interface Scope {
  args: Map<string, ArgInfo>;
  kind: ProbeKind;
  returns?: CType | undefined;
}

/** The static type of an identifier, when known. */
function identType(scope: Scope, name: string): CType | undefined {
  if (name === 'current') return CURRENT_TYPE;
  if (name === 'retval') return scope.returns;
  return scope.args.get(name)?.type;
}

/** Checks identifiers and the shape of member accesses; member types are the kernel's (unknown here). */
function checkValueExpr(c: Checker, path: string, e: Expr, scope: Scope, extra?: (name: string) => boolean): void {
  for (const id of identifiers(e)) {
    if (id.name === 'retval' && !hasRetval(scope.kind)) c.fail(path, `'retval' (column ${id.pos + 1}) is only available in a kretprobe or a syscall exit`);
    if (id.name === 'current' || id.name === 'retval' || scope.args.has(id.name) || extra?.(id.name)) continue;
    const known = [...scope.args.keys(), 'current', ...(hasRetval(scope.kind) ? ['retval'] : [])];
    c.fail(path, `unknown identifier '${id.name}' at column ${id.pos + 1} (known here: ${known.join(', ')})`);
  }
  const walk = (x: Expr): void => {
    switch (x.k) {
      case 'member': {
        if (x.obj.k === 'ident') {
          const t = identType(scope, x.obj.name);
          if (t) {
            if (x.arrow && t.pointer !== 1) c.fail(path, `'${x.obj.name}' is ${t.text}, not a pointer to a struct: '->' at column ${x.pos + 1} cannot apply`);
            if (x.arrow && t.tag === undefined) c.fail(path, `'${x.obj.name}' is ${t.text}, not a pointer to a struct or union ('->' at column ${x.pos + 1})`);
            if (!x.arrow) c.fail(path, `'${x.obj.name}' is ${t.text}: use '->' (column ${x.pos + 1})`);
            if (t.user) c.fail(path, `'${x.obj.name}' points to user memory: members of user structs cannot be read (column ${x.pos + 1})`);
          }
        }
        if (x.obj.k === 'cast' && x.arrow && (x.obj.type.pointer !== 1 || x.obj.type.tag === undefined)) {
          c.fail(path, `'->' at column ${x.pos + 1} needs a pointer to a struct or union, the cast gives ${x.obj.type.text}`);
        }
        if (x.obj.k === 'int') c.fail(path, `member access on an integer literal (column ${x.pos + 1})`);
        walk(x.obj);
        break;
      }
      case 'unary':
      case 'cast':
        walk(x.arg);
        break;
      case 'binary':
        walk(x.left);
        walk(x.right);
        break;
      default:
        break;
    }
  };
  walk(e);
}

function checkSource(
  c: Checker,
  path: string,
  s: Source,
  kind: FieldKind,
  scalar: ScalarFieldType | undefined,
  scope: Scope,
): void {
  const needs = (k: FieldKind, what: string): void => {
    if (kind !== k) c.fail(path, `${what} gives a ${k === 'scalar' ? 'number' : k}, but the field's type is ${kind === 'scalar' ? scalar! : `a ${kind}`}`);
  };
  if (s.k === 'builtin') {
    const b: BareBuiltin = s.name;
    if (b === 'comm' || b === 'cwd' || b === 'cmdline') return needs('string', `'${b}'`);
    needs('scalar', `'${b}'`);
    if (b === 'pid' && scalar !== 'pid' && scalar !== 's32' && scalar !== 'u32') {
      c.fail(path, "'pid' is the record's common_pid: declare the field as pid, s32 or u32");
    }
    if (scalar === 'bool') c.fail(path, `'${b}' is not a boolean`);
    return;
  }
  if (s.k === 'call') {
    if (s.fn === 'fd_ino' || s.fn === 'fd_dev' || s.fn === 'fd_path') {
      if (s.arg.k !== 'ident') c.fail(path, `${s.fn}(…) takes the name of an argument (or retval) holding a file descriptor`);
      if (s.arg.name === 'retval' && !hasRetval(scope.kind)) c.fail(path, `'retval' is only available in a kretprobe or a syscall exit`);
      const t = identType(scope, s.arg.name);
      if (!t) c.fail(path, `unknown argument '${s.arg.name}' in ${s.fn}(…)`);
      if (t.pointer !== 0) c.fail(path, `${s.fn}(${s.arg.name}) needs an integer file descriptor; '${s.arg.name}' is ${t.text}`);
      if (s.fn === 'fd_path') needs('string', 'fd_path(…)');
      else {
        needs('scalar', `${s.fn}(…)`);
        if (scalar === 'bool') c.fail(path, `${s.fn}(…) is not a boolean`);
      }
      return;
    }
    if (s.fn === 'ino' || s.fn === 'dev' || s.fn === 'path') {
      if (s.arg.k !== 'ident') c.fail(path, `${s.fn}(…) takes an argument name (a struct path *, struct file * or struct dentry *)`);
      if (s.arg.name === 'retval' && !hasRetval(scope.kind)) c.fail(path, `'retval' is only available in a kretprobe or a syscall exit`);
      const t = identType(scope, s.arg.name);
      if (!t) c.fail(path, `unknown argument '${s.arg.name}' in ${s.fn}(…)`);
      if (!vfsKind(t)) c.fail(path, `${s.fn}(${s.arg.name}) needs a struct path *, struct file * or struct dentry *; '${s.arg.name}' is ${t.text}`);
      if (s.fn === 'path') needs('string', 'path(…)');
      else {
        needs('scalar', `${s.fn}(…)`);
        if (scalar === 'bool') c.fail(path, `${s.fn}(…) is not a boolean`);
      }
      return;
    }
    needs('string', `${s.fn}(…)`);
    checkValueExpr(c, path, s.arg, scope);
    const t = s.arg.k === 'ident' ? identType(scope, s.arg.name) : s.arg.k === 'cast' ? s.arg.type : undefined;
    if (t && t.pointer === 0 && t.size !== 8) c.fail(path, `${s.fn}(…) needs a pointer (or unsigned long) argument; '${s.arg.k === 'ident' ? s.arg.name : t.text}' is ${t.text}`);
    if (t && s.fn === 'kernel_string' && t.user) c.fail(path, `kernel_string(…) of a __user pointer: use user_string(…)`);
    if (t && s.fn === 'user_string' && t.pointer > 0 && !t.user) {
      c.fail(path, `user_string(…) of a kernel pointer (${t.text}): use kernel_string(…), or declare the argument __user`);
    }
    return;
  }
  // plain expression
  if (kind === 'string') c.fail(path, 'a string field needs comm, cwd, cmdline, path(…), fd_path(…), user_string(…) or kernel_string(…)');
  checkValueExpr(c, path, s.expr, scope);
  if (kind === 'bytes') {
    // copies len bytes from the address the expression gives
    const e = s.expr;
    const t = e.k === 'ident' ? identType(scope, e.name) : e.k === 'cast' ? e.type : undefined;
    if (t && t.pointer === 0) c.fail(path, `a bytes field copies from an address; '${exprText(e)}' is ${t.text} (use a pointer or &p->member)`);
    if (t && t.user) c.fail(path, 'a bytes field copies kernel memory; user pointers are not supported');
    return;
  }
  const t = s.expr.k === 'ident' ? identType(scope, s.expr.name) : undefined;
  if (t && t.user) c.fail(path, `'${exprText(s.expr)}' is a user pointer; read the string with user_string(…)`);
}

function exprText(e: Expr): string {
  return e.k === 'ident' ? e.name : e.k === 'cast' ? `(${e.type.text})…` : 'the expression';
}

interface FilterScope extends Scope {
  fields: Map<string, FieldInfo>;
  params: Map<string, ParamInfo>;
}

function checkFilter(c: Checker, e: Expr, scope: FilterScope, used: Set<string>): void {
  const isStringOperand = (x: Expr): 'field' | 'param' | undefined => {
    if (x.k !== 'ident') return undefined;
    const f = scope.fields.get(x.name);
    if (f && f.kind === 'string') return 'field';
    const p = scope.params.get(x.name);
    if (p && p.type === 'charp') return 'param';
    return undefined;
  };
  const walk = (x: Expr, parent: Expr | undefined): void => {
    switch (x.k) {
      case 'ident': {
        const f = scope.fields.get(x.name);
        const p = scope.params.get(x.name);
        if (f) {
          used.add(f.name);
          if (f.kind === 'bytes') c.fail('filter', `bytes field '${f.name}' cannot be used in a filter`);
        }
        if (f?.kind === 'string' || p?.type === 'charp') {
          const ok =
            parent?.k === 'binary' &&
            (parent.op === '==' || parent.op === '!=') &&
            ((isStringOperand(parent.left) === 'field' && isStringOperand(parent.right) === 'param') ||
              (isStringOperand(parent.left) === 'param' && isStringOperand(parent.right) === 'field'));
          if (!ok) c.fail('filter', `'${x.name}' is a string: it can only be compared (== or !=) between a string field and a charp param (column ${x.pos + 1})`);
          return;
        }
        if (f || p) return;
        if (x.name === 'retval' && !hasRetval(scope.kind)) c.fail('filter', `'retval' (column ${x.pos + 1}) is only available in a kretprobe or a syscall exit`);
        if (x.name === 'current' || x.name === 'retval' || scope.args.has(x.name)) return;
        c.fail('filter', `unknown identifier '${x.name}' at column ${x.pos + 1} (fields, args, params, current${hasRetval(scope.kind) ? ', retval' : ''})`);
        break;
      }
      case 'member':
        if (x.obj.k === 'ident' && (scope.fields.has(x.obj.name) || scope.params.has(x.obj.name))) {
          c.fail('filter', `'${x.obj.name}' is a field or param value, not a struct pointer (column ${x.pos + 1})`);
        }
        checkValueExpr(c, 'filter', x, scope, (n) => scope.fields.has(n) || scope.params.has(n));
        break;
      case 'int':
        break;
      case 'unary':
      case 'cast':
        walk(x.arg, x);
        break;
      case 'binary':
        walk(x.left, x);
        walk(x.right, x);
        break;
    }
  };
  walk(e, undefined);
}

function paramDefaultProblem(type: ParamType, v: unknown): string | undefined {
  const int = (lo: bigint, hi: bigint): string | undefined => {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) return `must be an integer, got ${v}`;
      v = BigInt(v);
    }
    if (typeof v !== 'bigint') return `must be an integer (number or bigint) for a ${type} param, got ${describe(v)}`;
    if ((v as bigint) < lo || (v as bigint) > hi) return `${String(v)} is out of range for ${type} (${lo}..${hi})`;
    return undefined;
  };
  switch (type) {
    case 'int':
      return int(-(2n ** 31n), 2n ** 31n - 1n);
    case 'uint':
      return int(0n, 2n ** 32n - 1n);
    case 'long':
      return int(-(2n ** 63n), 2n ** 63n - 1n);
    case 'ulong':
      return int(0n, 2n ** 64n - 1n);
    case 'short':
      return int(-(2n ** 15n), 2n ** 15n - 1n);
    case 'ushort':
      return int(0n, 2n ** 16n - 1n);
    case 'bool':
      return typeof v === 'boolean' ? undefined : `must be true or false, got ${describe(v)}`;
    case 'charp':
      if (typeof v !== 'string') return `must be a string, got ${describe(v)}`;
      return CHARP_RE.test(v) ? undefined : 'must be at most 128 characters from [A-Za-z0-9_.,:/@+=-] (it is a C string literal and an insmod argument)';
  }
}

/** Check a param value given at load time (insmod name=value, or substituted into a filter). */
export function paramValueProblem(type: ParamType, v: unknown): string | undefined {
  if (type === 'bool' && (v === 1 || v === 0 || v === 'Y' || v === 'N' || v === 'y' || v === 'n')) return undefined;
  if (typeof v === 'string' && type !== 'charp' && /^-?\d+$/.test(v)) return paramDefaultProblem(type, BigInt(v));
  return paramDefaultProblem(type, v);
}

/** A value for a param when a probe is brought up: integers as number or bigint, bool, charp string. */
export type ProbeParamValue = number | bigint | boolean | string;

/**
 * The values a caller gives a spec's params (by name) when the probe is brought up, checked the
 * way the spec's own defaults are: an integer param takes a safe integer or a bigint in its
 * type's range, a bool param a boolean, a charp param a string of what a module parameter and a
 * C string literal can both hold. Returns them as given (each backend takes these types).
 * Throws TwError PROBE_PARAM naming the probe and the parameter (and the params it has).
 */
export function checkProbeParams(spec: ProbeSpec, params: Readonly<Record<string, unknown>>): Record<string, ProbeParamValue> {
  const m = modelOf(spec);
  const out: Record<string, ProbeParamValue> = {};
  for (const [name, v] of Object.entries(params)) {
    const p = m.params.find((x) => x.name === name);
    if (!p) {
      const has = m.params.map((x) => `${x.name} (${x.type})`).join(', ');
      throw new TwError('PROBE_PARAM', `probe '${m.name}' has no parameter '${name}' (${has ? `it has: ${has}` : 'it has none'})`);
    }
    const problem = paramDefaultProblem(p.type, v);
    if (problem) throw new TwError('PROBE_PARAM', `probe '${m.name}', parameter ${name} (${p.type}): ${problem}`);
    out[name] = v as ProbeParamValue;
  }
  return out;
}

/** The copies validateProbeSpec made (frozen, plain data, valid). */
const frozenCopies = new WeakSet<object>();

/** A spec's name for messages, read without calling a getter. */
function nameOf(spec: unknown): string {
  if (typeof spec !== 'object' || spec === null) return '';
  const d = Object.getOwnPropertyDescriptor(spec, 'name');
  return d !== undefined && typeof d.value === 'string' && /^[a-z][a-z0-9_]{0,31}$/.test(d.value) ? d.value : '';
}

/**
 * Validate a probe spec: returns a frozen deep copy of it as plain data (use that, not the
 * object given: see plain.ts), or throws ProbeSpecError.
 */
export function validateProbeSpec(spec: unknown): ProbeSpec {
  if (frozenCopies.has(spec as object)) return spec as ProbeSpec;
  const copy = plainCopy(spec, nameOf(spec));
  const model = analyzeProbeSpec(copy);
  frozenCopies.add(copy as object);
  models.set(copy as object, model);
  return copy as ProbeSpec;
}

/** Declare a probe (validated once, at load time): the frozen, validated copy. */
export function defineProbe<const S extends ProbeSpec>(spec: S): S {
  return validateProbeSpec(spec) as S;
}

/** "tw_<name>": the kernel module's name */
export function moduleName(spec: ProbeSpec | string): string {
  return `tw_${typeof spec === 'string' ? spec : spec.name}`;
}

/** "tw:<name>": the event's full name */
export function eventName(spec: ProbeSpec | string): string {
  return `tw:${typeof spec === 'string' ? spec : spec.name}`;
}

/** Memoised analysis (specs are immutable once defined). */
const models = new WeakMap<object, ProbeModel>();
export function modelOf(spec: ProbeSpec): ProbeModel {
  let m = models.get(spec);
  if (!m) {
    // a spec that did not come through validateProbeSpec: analysed from a copy, and not
    // remembered (the object could change; the copy cannot)
    if (!frozenCopies.has(spec)) return analyzeProbeSpec(spec);
    m = analyzeProbeSpec(spec);
    models.set(spec, m);
  }
  return m;
}
