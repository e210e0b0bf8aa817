/**
 * The view model for the kernel module templates (tw_<name>.c, tw_<name>_trace.h, Kbuild,
 * Makefile). Expressions are compiled here into C that reads kernel memory only through
 * TW_LOAD (copy_from_kernel_nofault), one temporary per load, so the templates only lay out
 * the code.
 */
import { fieldSize, payloadOrder, probeHeader, type ArgInfo, type BinOp, type CType, type Expr, type FieldInfo, type ParamInfo, type ParamType, type ProbeModel, type ScalarFieldType } from '@tw/probe-spec';
import { TwError } from '@tw/core';
import { crossesMounts, dentryOf, devOf, inoOf, mntOf } from './desugar.js';

/** C type of a field in the vals struct and the TRACE_EVENT */
const C_SCALAR: Record<ScalarFieldType, string> = {
  u8: 'u8', u16: 'u16', u32: 'u32', u64: 'u64', s8: 's8', s16: 's16', s32: 's32', s64: 's64', bool: 'u8', pid: 'pid_t',
};

const PRINTF: Record<ScalarFieldType, { fmt: string; cast: string }> = {
  u8: { fmt: '%u', cast: '(unsigned int)' },
  u16: { fmt: '%u', cast: '(unsigned int)' },
  u32: { fmt: '%u', cast: '' },
  u64: { fmt: '%llu', cast: '(unsigned long long)' },
  s8: { fmt: '%d', cast: '(int)' },
  s16: { fmt: '%d', cast: '(int)' },
  s32: { fmt: '%d', cast: '' },
  s64: { fmt: '%lld', cast: '(long long)' },
  bool: { fmt: '%u', cast: '(unsigned int)' },
  pid: { fmt: '%d', cast: '' },
};

export const PARAM_C: Record<ParamType, string> = {
  int: 'int', uint: 'unsigned int', long: 'long', ulong: 'unsigned long', short: 'short', ushort: 'unsigned short', bool: 'bool', charp: 'char *',
};

/** One block of handler code: declarations (temporaries) then statements. */
export interface CBlock {
  comment: string;
  decls: string[];
  stmts: string[];
}

type CV = { kind: 'val'; c: string } | { kind: 'mem'; addr: string };

/** Compiles spec expressions to C; every memory read becomes `__auto_type tw_tN = TW_LOAD(addr);`. */
export class CCompiler {
  private n = 0;
  decls: string[] = [];

  constructor(
    private readonly ident: (name: string) => string,
    /** string field == charp param comparisons (filters only) */
    private readonly strcmp?: (op: '==' | '!=', l: Expr, r: Expr) => string | undefined,
  ) {}

  reset(): void {
    this.decls = [];
  }

  private load(addr: string): string {
    const t = `tw_t${++this.n}`;
    this.decls.push(`__auto_type ${t} = TW_LOAD(${addr});`);
    return t;
  }

  value(e: Expr): string {
    const v = this.compile(e);
    return v.kind === 'val' ? v.c : this.load(v.addr);
  }

  private compile(e: Expr): CV {
    switch (e.k) {
      case 'ident':
        return { kind: 'val', c: this.ident(e.name) };
      case 'int':
        return { kind: 'val', c: e.value > 0x7fff_ffff_ffff_ffffn ? `0x${e.value.toString(16)}ULL` : e.value > 0x7fff_ffffn ? `${e.text}LL` : e.text };
      case 'member': {
        if (e.arrow) return { kind: 'mem', addr: `&(${this.value(e.obj)})->${e.member}` };
        const obj = this.compile(e.obj);
        if (obj.kind !== 'mem') throw new Error(`internal: '.${e.member}' on a value`);
        return { kind: 'mem', addr: `&(${obj.addr.replace(/^&/, '')}).${e.member}` };
      }
      case 'unary': {
        if (e.op === '&') {
          const m = this.compile(e.arg);
          if (m.kind !== 'mem') throw new Error('internal: & of a value');
          return { kind: 'val', c: `(${m.addr})` };
        }
        return { kind: 'val', c: `${e.op}(${this.value(e.arg)})` };
      }
      case 'cast':
        return { kind: 'val', c: `((${e.type.text})(${this.value(e.arg)}))` };
      case 'binary': {
        if ((e.op === '==' || e.op === '!=') && this.strcmp) {
          const s = this.strcmp(e.op, e.left, e.right);
          if (s !== undefined) return { kind: 'val', c: s };
        }
        return { kind: 'val', c: `(${this.value(e.left)} ${cOp(e.op)} ${this.value(e.right)})` };
      }
    }
  }
}

function cOp(op: BinOp): string {
  return op;
}

function decl(type: CType, name: string): string {
  return type.text.endsWith('*') ? `${type.text}${name}` : `${type.text} ${name}`;
}

function paramVar(p: ParamInfo): string {
  return `tw_param_${p.name}`;
}

export function paramDefault(p: ParamInfo): string {
  const v = p.default;
  switch (p.type) {
    case 'bool':
      return v ? 'true' : 'false';
    case 'charp':
      return `"${String(v)}"`;
    case 'long': {
      const b = BigInt(v as number | bigint);
      return b === -(2n ** 63n) ? '(-9223372036854775807L - 1)' : `${b}L`;
    }
    case 'ulong':
      return `${BigInt(v as number | bigint)}UL`;
    case 'int': {
      const b = BigInt(v as number | bigint);
      return b === -(2n ** 31n) ? '(-2147483647 - 1)' : `${b}`;
    }
    case 'uint':
    case 'ushort':
      return `${BigInt(v as number | bigint)}U`;
    default:
      return `${BigInt(v as number | bigint)}`;
  }
}

/** Which identifiers (args, retval) a set of expressions reads. */
export function usedNames(m: ProbeModel): Set<string> {
  const used = new Set<string>();
  const walk = (e: Expr): void => {
    switch (e.k) {
      case 'ident':
        used.add(e.name);
        break;
      case 'member':
        walk(e.obj);
        break;
      case 'unary':
      case 'cast':
        walk(e.arg);
        break;
      case 'binary':
        walk(e.left);
        walk(e.right);
        break;
      default:
        break;
    }
  };
  for (const f of m.fields) {
    if (f.source.k === 'expr') walk(f.source.expr);
    if (f.source.k === 'call') walk(f.source.arg);
  }
  if (m.filter) walk(m.filter);
  return used;
}

export interface CModuleView {
  needsLoad: boolean;
  needsStr: boolean;
  needsBytes: boolean;
  needsPath: boolean;
  /** a path() of a struct path/file: the mount walk and its struct mount offset params */
  needsMount: boolean;
  needsUserStr: boolean;
  hasParams: boolean;
  params: Array<{ decl: string; cVar: string; name: string; def: string; kind: string; perm: string; desc: string }>;
  includes: string[];
  asserts: string[];
  argDecls: string[];
  argAssigns: string[];
  /** kretprobe: args saved at entry */
  entrySaves: string[];
  hasEntry: boolean;
  blocksBeforeFilter: CBlock[];
  filter: CBlock | false;
  blocksAfterFilter: CBlock[];
  headerFields: Array<{ name: string; value: string }>;
}

/**
 * Why the kernel module cannot express a spec (undefined when it can): it attaches kprobes, so
 * not to tracepoints; syscall exits and the file behind a descriptor are not written for it yet
 * (the BPF backend has them).
 */
export function moduleUnsupported(m: ProbeModel): string | undefined {
  if (m.kind === 'tracepoint') return `probe '${m.name}': the module backend attaches kprobes, not tracepoints (${m.target}); use the BPF backend`;
  if (m.kind === 'syscall_exit') return `probe '${m.name}': the module backend has no syscall exit form yet; use the BPF backend`;
  for (const f of m.fields) {
    const s = f.source;
    if (s.k === 'call' && (s.fn === 'fd_ino' || s.fn === 'fd_dev' || s.fn === 'fd_path')) {
      return `probe '${m.name}', field '${f.name}': ${s.fn}(…) is not available in the module backend yet; use the BPF backend`;
    }
  }
  return undefined;
}

/** The C side of a probe: handler code, asserts, params. */
export function cModuleView(m: ProbeModel): CModuleView {
  const why = moduleUnsupported(m);
  if (why !== undefined) throw new TwError('PROBE_UNSUPPORTED', why);
  const used = usedNames(m);
  const usedArgs = m.args.filter((a) => used.has(a.name));
  const fieldsByName = new Map(m.fields.map((f) => [f.name, f]));
  const paramsByName = new Map(m.params.map((p) => [p.name, p]));

  const argIdent = (name: string): string => name; // args, current and retval are C locals/macros of the same name

  // args
  const argDecls: string[] = usedArgs.map((a) => `${decl(a.type, a.name)};`);
  const argAssigns: string[] = [];
  const entrySaves: string[] = [];
  const slot = (a: ArgInfo): number => usedArgs.indexOf(a);
  for (const a of usedArgs) {
    if (m.kind === 'kprobe') argAssigns.push(`${a.name} = (${a.type.text})regs_get_kernel_argument(tw_regs, ${a.index});`);
    else if (m.kind === 'syscall') argAssigns.push(`${a.name} = (${a.type.text})TW_LOAD(TW_UREG${a.index}(tw_uregs));`);
    else {
      entrySaves.push(`tw_e->args[${slot(a)}] = regs_get_kernel_argument(tw_regs, ${a.index});`);
      argAssigns.push(`${a.name} = (${a.type.text})tw_e->args[${slot(a)}];`);
    }
  }
  if (m.kind === 'kretprobe' && used.has('retval')) {
    argDecls.push(`${decl(m.returns!, 'retval')};`);
    argAssigns.push(`retval = (${m.returns!.text})regs_return_value(tw_regs);`);
  }

  const identType = (name: string): CType => {
    if (name === 'retval') return m.returns!;
    const a = m.args.find((x) => x.name === name);
    if (!a) throw new Error(`internal: unknown identifier ${name}`);
    return a.type;
  };

  let needsLoad = m.kind === 'syscall';
  let needsStr = false;
  let needsBytes = false;
  let needsPath = false;
  let needsUserStr = false;
  // decided before any field is compiled: it changes tw_path()'s signature for every path() field
  const needsMount = crossesMounts(m);

  const fieldBlock = (f: FieldInfo): CBlock => {
    const cc = new CCompiler(argIdent);
    const dst = `tw_v->${f.name}`;
    const stmts: string[] = [];
    const s = f.source;
    let comment = `${f.name} = ${sourceText(f)}`;
    if (s.k === 'builtin') {
      switch (s.name) {
        case 'comm':
          stmts.push(`strscpy_pad(${dst}, current->comm, sizeof(${dst}));`);
          comment += ' (lockless copy, not get_task_comm)';
          break;
        case 'tgid':
          stmts.push(`${dst} = (${C_SCALAR[f.scalar!]})current->tgid;`);
          break;
        case 'ppid': {
          // real_parent is RCU-protected: read it without faulting, like any other pointer
          const parent = cc.value({ k: 'member', obj: { k: 'ident', name: 'current', pos: 0 }, member: 'real_parent', arrow: true, pos: 0 });
          stmts.push(`${dst} = (${C_SCALAR[f.scalar!]})(${parent} ? TW_LOAD(&${parent}->tgid) : 0);`);
          needsLoad = true;
          break;
        }
        case 'cwd':
          // the task's working directory (fs->pwd), walked like path(): dentries and mounts up to
          // the task's root, every pointer read without faulting and without fs->lock (a racing
          // chdir gives the old or the new directory)
          stmts.push(
            `{`,
            `\tstruct fs_struct *tw_fs = TW_LOAD(&current->fs);`,
            `\ttw_path(${dst}, sizeof(${dst}), tw_fs ? TW_LOAD(&tw_fs->pwd.mnt) : NULL, tw_fs ? TW_LOAD(&tw_fs->pwd.dentry) : NULL);`,
            `}`,
          );
          needsLoad = needsPath = true;
          comment += " (the task's working directory: dentry and mount walk up to its root, non-faulting; see tw_path)";
          break;
        case 'cmdline': {
          // the current task's own argument area, copied without faulting (atomic context);
          // NULs between arguments become spaces
          const n = `sizeof(${dst})`;
          stmts.push(
            `{`,
            `\tstruct mm_struct *tw_mm = current->mm;`,
            `\tunsigned long tw_as = tw_mm ? READ_ONCE(tw_mm->arg_start) : 0, tw_ae = tw_mm ? READ_ONCE(tw_mm->arg_end) : 0;`,
            `\tsize_t tw_cl = tw_ae > tw_as ? min_t(size_t, tw_ae - tw_as, ${n} - 1) : 0, tw_i;`,
            `\tmemset(${dst}, 0, ${n});`,
            `\tif (tw_cl && copy_from_user_nofault(${dst}, (const void __user *)tw_as, tw_cl))`,
            `\t\ttw_cl = 0, memset(${dst}, 0, ${n});`,
            `\tfor (tw_i = 0; tw_i + 1 < tw_cl; tw_i++)`,
            `\t\tif (!${dst}[tw_i])`,
            `\t\t\t${dst}[tw_i] = ' ';`,
            `}`,
          );
          comment += " (the task's arguments, copied without faulting; NULs between them made spaces)";
          break;
        }
        case 'uid':
          stmts.push(`${dst} = (${C_SCALAR[f.scalar!]})__kuid_val(current_uid());`);
          break;
        case 'gid':
          stmts.push(`${dst} = (${C_SCALAR[f.scalar!]})__kgid_val(current_gid());`);
          break;
        case 'pid':
          throw new Error('internal: pid is not stored');
      }
    } else if (s.k === 'call') {
      if (s.fn === 'fd_ino' || s.fn === 'fd_dev' || s.fn === 'fd_path') throw new Error(`internal: ${moduleUnsupported(m) ?? s.fn}`);
      if (s.fn === 'ino' || s.fn === 'dev') {
        const arg = s.arg as Extract<Expr, { k: 'ident' }>;
        const chain = s.fn === 'ino' ? inoOf(arg.name, identType(arg.name)) : devOf(arg.name, identType(arg.name));
        stmts.push(`${dst} = ${scalarAssign(f.scalar!, cc.value(chain))};`);
        needsLoad = true;
      } else if (s.fn === 'path') {
        const arg = s.arg as Extract<Expr, { k: 'ident' }>;
        const t = identType(arg.name);
        const mnt = mntOf(arg.name, t);
        const mv = mnt ? cc.value(mnt) : 'NULL';
        const d = cc.value(dentryOf(arg.name, t));
        stmts.push(needsMount ? `tw_path(${dst}, sizeof(${dst}), ${mv}, ${d});` : `tw_path(${dst}, sizeof(${dst}), ${d});`);
        needsLoad = needsPath = true;
        comment += mnt
          ? " (dentry and mount walk up to the task's root, non-faulting; see tw_path)"
          : ' (dentry walk up to the filesystem root, non-faulting)';
      } else {
        const user = s.fn === 'user_string';
        const v = cc.value(s.arg);
        stmts.push(`tw_copy_str(${dst}, sizeof(${dst}), (unsigned long)(${v}), ${user ? 'true' : 'false'});`);
        needsStr = true;
        if (user) needsUserStr = true;
        if (cc.decls.length > 0) needsLoad = true;
      }
    } else if (f.kind === 'bytes') {
      const v = cc.value(s.expr);
      stmts.push(`tw_copy_bytes(${dst}, sizeof(${dst}), (unsigned long)(${v}));`);
      needsBytes = true;
      if (cc.decls.length > 0) needsLoad = true;
    } else {
      const v = cc.value(s.expr);
      stmts.push(`${dst} = ${scalarAssign(f.scalar!, v)};`);
      if (cc.decls.length > 0) needsLoad = true;
    }
    return { comment, decls: cc.decls, stmts };
  };

  const stored = payloadOrder(m).map((x) => x.f);
  const before = stored.filter((f) => m.filterFields.has(f.name));
  const after = stored.filter((f) => !m.filterFields.has(f.name));
  const blocksBeforeFilter = before.map(fieldBlock);
  const blocksAfterFilter = after.map(fieldBlock);

  let filter: CBlock | false = false;
  if (m.filter) {
    const filterIdent = (name: string): string => {
      const f = fieldsByName.get(name);
      if (f) return f.alias ? 'current->pid' : `tw_v->${f.name}`;
      const p = paramsByName.get(name);
      if (p) return p.type === 'charp' ? paramVar(p) : `READ_ONCE(${paramVar(p)})`;
      return argIdent(name);
    };
    const strcmp = (op: '==' | '!=', l: Expr, r: Expr): string | undefined => {
      const pick = (x: Expr): { f?: FieldInfo; p?: ParamInfo } => (x.k === 'ident' ? { ...(fieldsByName.has(x.name) ? { f: fieldsByName.get(x.name)! } : {}), ...(paramsByName.has(x.name) ? { p: paramsByName.get(x.name)! } : {}) } : {});
      const a = pick(l);
      const b = pick(r);
      const f = a.f?.kind === 'string' ? a.f : b.f?.kind === 'string' ? b.f : undefined;
      const p = a.p?.type === 'charp' ? a.p : b.p?.type === 'charp' ? b.p : undefined;
      if (!f || !p) return undefined;
      return `(strncmp(tw_v->${f.name}, ${paramVar(p)} ? ${paramVar(p)} : "", sizeof(tw_v->${f.name})) ${op} 0)`;
    };
    const cc = new CCompiler(filterIdent, strcmp);
    const cond = cc.value(m.filter);
    if (cc.decls.length > 0) needsLoad = true;
    filter = { comment: `filter: ${(m.spec.filter ?? '').replace(/\s+/g, ' ')}`, decls: cc.decls, stmts: [`if (!${cond.startsWith('(') ? cond : `(${cond})`})`, '\treturn 0;'] };
  }

  const includes = ['linux/module.h', 'linux/kernel.h', 'linux/kprobes.h', 'linux/ptrace.h', 'linux/percpu.h', 'linux/sched.h', 'linux/uaccess.h', 'linux/string.h', 'linux/stddef.h', 'linux/build_bug.h'];
  if (m.fields.some((f) => f.source.k === 'builtin' && (f.source.name === 'uid' || f.source.name === 'gid'))) includes.push('linux/cred.h');
  if (m.fields.some((f) => (f.source.k === 'call' && (f.source.fn === 'ino' || f.source.fn === 'dev' || f.source.fn === 'path')) || (f.source.k === 'builtin' && f.source.name === 'cwd'))) {
    includes.push('linux/fs.h', 'linux/dcache.h', 'linux/path.h');
  }
  if (needsMount) includes.push('linux/mount.h', 'linux/fs_struct.h');
  if (m.params.length > 0) includes.push('linux/moduleparam.h');

  // _Static_asserts: the TRACE_EVENT struct has exactly the layout layoutFor() computes
  const raw = `struct trace_event_raw_${m.name}`;
  const asserts: string[] = [`_Static_assert(sizeof(struct trace_entry) == 8, "tw:${m.name}: common header is not 8 bytes");`];
  for (const h of probeHeader(m)) {
    asserts.push(`_Static_assert(offsetof(${raw}, ${h.name}) == ${h.offset} && sizeof_field(${raw}, ${h.name}) == 8, "tw:${m.name}: ${h.name} layout");`);
  }
  for (const { f, offset } of payloadOrder(m)) {
    const member = f.kind === 'string' ? `__data_loc_${f.name}` : f.name;
    asserts.push(`_Static_assert(offsetof(${raw}, ${member}) == ${offset} && sizeof_field(${raw}, ${member}) == ${fieldSize(f)}, "tw:${m.name}: ${f.name} layout");`);
  }

  const params = m.params.map((p) => ({
    decl: PARAM_C[p.type].endsWith('*') ? `${PARAM_C[p.type]}${paramVar(p)}` : `${PARAM_C[p.type]} ${paramVar(p)}`,
    cVar: paramVar(p),
    name: p.name,
    def: paramDefault(p),
    kind: p.type,
    perm: p.type === 'charp' ? '0444' : '0644',
    desc: p.description ?? p.name,
  }));

  const headerFields = probeHeader(m).map((h) => ({
    name: h.name,
    value: h.name === '__probe_ip' ? '(unsigned long)tw_kp->addr' : h.name === '__probe_func' ? '(unsigned long)tw_krp.kp.addr' : 'get_kretprobe_retaddr(tw_ri)',
  }));

  return {
    needsLoad: needsLoad || needsPath,
    needsStr,
    needsBytes,
    needsPath,
    needsMount,
    needsUserStr,
    hasParams: params.length > 0,
    params,
    includes,
    asserts,
    argDecls,
    argAssigns,
    entrySaves,
    hasEntry: entrySaves.length > 0,
    blocksBeforeFilter,
    filter,
    blocksAfterFilter,
    headerFields,
  };
}

export function scalarAssign(t: ScalarFieldType, v: string): string {
  if (t === 'bool') return `!!(${v})`;
  return `(${C_SCALAR[t]})(unsigned long)(${v})`;
}

export function sourceText(f: FieldInfo): string {
  const s = f.source;
  if (s.k === 'builtin') return s.name;
  const text = (e: Expr): string => {
    switch (e.k) {
      case 'ident':
        return e.name;
      case 'int':
        return e.text;
      case 'member':
        return `${text(e.obj)}${e.arrow ? '->' : '.'}${e.member}`;
      case 'unary':
        return `${e.op}${text(e.arg)}`;
      case 'cast':
        return `(${e.type.text})${text(e.arg)}`;
      case 'binary':
        return `(${text(e.left)} ${e.op} ${text(e.right)})`;
    }
  };
  return s.k === 'call' ? `${s.fn}(${text(s.arg)})` : text(s.expr);
}

export interface TraceHeaderView {
  valsMembers: string[];
  entryFields: string[];
  assigns: string[];
  printFmt: string;
  printArgs: string[];
}

/** The TRACE_EVENT: struct entry, fast-assign and printk, in record order. */
export function traceHeaderView(m: ProbeModel): TraceHeaderView {
  const valsMembers: string[] = [];
  const entryFields: string[] = [];
  const assigns: string[] = [];
  const fmt: string[] = [];
  const printArgs: string[] = [];
  const assignStr = `TW_${m.name.toUpperCase()}_ASSIGN_STR`;
  for (const h of probeHeader(m)) {
    valsMembers.push(`unsigned long ${h.name};`);
    entryFields.push(`__field(unsigned long, ${h.name})`);
    assigns.push(`__entry->${h.name} = tw_v->${h.name};`);
  }
  fmt.push('(%lx)');
  printArgs.push(`__entry->${probeHeader(m)[0]!.name}`);
  for (const { f } of payloadOrder(m)) {
    if (f.kind === 'string') {
      valsMembers.push(`char ${f.name}[${f.len}];`);
      entryFields.push(`__string(${f.name}, tw_v->${f.name})`);
      assigns.push(`${assignStr}(${f.name}, tw_v->${f.name});`);
      fmt.push(`${f.name}=%s`);
      printArgs.push(`__get_str(${f.name})`);
    } else if (f.kind === 'bytes') {
      valsMembers.push(`u8 ${f.name}[${f.len}];`);
      entryFields.push(`__array(u8, ${f.name}, ${f.len})`);
      assigns.push(`memcpy(__entry->${f.name}, tw_v->${f.name}, ${f.len});`);
      fmt.push(`${f.name}=%s`);
      printArgs.push(`__print_hex(__entry->${f.name}, ${f.len})`);
    } else {
      const t = C_SCALAR[f.scalar!];
      valsMembers.push(`${t} ${f.name};`);
      entryFields.push(`__field(${t}, ${f.name})`);
      assigns.push(`__entry->${f.name} = tw_v->${f.name};`);
      fmt.push(`${f.name}=${PRINTF[f.scalar!].fmt}`);
      printArgs.push(`${PRINTF[f.scalar!].cast}__entry->${f.name}`);
    }
  }
  return { valsMembers, entryFields, assigns, printFmt: fmt.join(' '), printArgs };
}

/**
 * Exported kernel functions the generated C calls by name, checked against the target's
 * Module.symvers before building. `any` lists the names that satisfy the requirement (a helper
 * that became a macro over another export on newer kernels, e.g. strscpy_pad → sized_strscpy).
 */
export interface RequiredSymbol {
  readonly name: string;
  readonly any: readonly string[];
  readonly why: string;
}

export function requiredSymbolsOf(m: ProbeModel): RequiredSymbol[] {
  const v = cModuleView(m);
  const out: RequiredSymbol[] = [];
  const req = (name: string, why: string, any: string[] = [name]): void => {
    if (!out.some((r) => r.name === name)) out.push({ name, any, why });
  };
  if (m.kind === 'kretprobe') {
    req('register_kretprobe', 'attaches the kretprobe (needs CONFIG_KRETPROBES)');
    req('unregister_kretprobe', 'detaches the kretprobe');
  } else {
    req('register_kprobe', 'attaches the kprobe (needs CONFIG_KPROBES)');
    req('unregister_kprobe', 'detaches the kprobe');
  }
  req('alloc_percpu', 'per-CPU scratch record', ['__alloc_percpu', 'pcpu_alloc_noprof']);
  req('free_percpu', 'per-CPU scratch record');
  if (v.needsLoad || v.needsStr || v.needsBytes) req('copy_from_kernel_nofault', 'non-faulting kernel reads (TW_LOAD, strings)');
  if (v.needsUserStr) req('copy_from_user_nofault', 'non-faulting user string reads (strncpy_from_user_nofault is not exported on 6.1)');
  if (v.needsStr) req('memchr', 'finds the NUL of a copied string');
  if (v.needsPath) req('memmove', 'path assembly (path())');
  if (m.fields.some((f) => f.source.k === 'builtin' && f.source.name === 'comm')) {
    req('strscpy_pad', 'copies current->comm without taking task_lock', ['strscpy_pad', 'sized_strscpy']);
  }
  if (m.filter && m.fields.some((f) => f.kind === 'string' && m.filterFields.has(f.name))) req('strncmp', 'string comparison in the filter');
  for (const p of m.params) req(`param_ops_${p.type}`, `module parameter ${p.name}`);
  return out;
}
