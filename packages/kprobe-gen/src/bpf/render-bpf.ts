/**
 * The BPF backend's source: one probe spec → one CO-RE BPF C file (tw_<name>.bpf.c, template
 * templates/bpf.c.hbs), compiled with `clang -target bpf -g -O2` against a vmlinux.h.
 *
 * What the object gives a loader (the contract with the addon's libbpf loader):
 *   - `tw_events`, a BPF_MAP_TYPE_RINGBUF of TW_RINGBUF_BYTES; `tw_lost`, a one-entry
 *     BPF_MAP_TYPE_PERCPU_ARRAY of u64 counting records the ring buffer had no room for;
 *   - every spec param as a `const volatile` global `tw_param_<name>` in .rodata (charp: a char
 *     array of TW_CHARP_BYTES), set before load through the .rodata map's initial value;
 *   - records `u64 ts | u32 cpu | u32 len | <len bytes>`, the bytes being an ftrace-style record
 *     (8-byte common header, then the payload exactly as layoutFor(spec) lays it out), so the
 *     generated TS unpacker reads them from the common header on.
 *
 * Like the module renderer, every code fragment is computed here from the validated model; the
 * template only lays it out. Spec identifiers reach the C only as validated names, behind a
 * prefix (args tw_a_<name>, params tw_param_<name>, record members as field names), and
 * constants only as numbers the generator formats itself.
 */
import { TwError } from '@tw/core';
import {
  fieldSize,
  fixedEnd,
  modelOf,
  payloadOrder,
  probeHeader,
  type ArgInfo,
  type CType,
  type Expr,
  type FieldInfo,
  type ParamInfo,
  type ProbeModel,
  type ProbeSpec,
  type ScalarFieldType,
} from '@tw/probe-spec';
import { dentryOf, devOf, inoOf, mntOf } from '../desugar.js';
import { CCompiler, PARAM_C, paramDefault, scalarAssign, sourceText, usedNames, type CBlock } from '../render-c.js';
import { header, templates, wrap } from '../templates.js';

/**
 * ring buffer size (a power of two, a multiple of the page size), the same for every spec: 4 MiB,
 * as tw's ftrace buffer per CPU (--buffer-kb 4096); at 320-byte records (one 256-byte string)
 * that is ~13,000 records, 130 ms of a 100k/s storm, against the reader's 45 ms rounds
 */
export const TW_RINGBUF_BYTES = 1 << 22;
/** a charp param's storage in .rodata: 128 characters and the NUL */
export const TW_CHARP_BYTES = 129;
/** the record prefix before the ftrace-style record: u64 ts, u32 cpu, u32 len */
export const BPF_RECORD_PREFIX = 16;
/** max entries of the per-thread map that carries entry arguments to the return */
export const TW_ENTRY_MAX = 10240;
/** BPF_KPROBE in the libbpf headers tw builds with reads this many register arguments */
const KPROBE_MAX_ARGS = 5;
const LIBBPF_BASELINE = '1.1';

/** C type of a scalar field in the BPF record struct */
const BPF_SCALAR: Record<ScalarFieldType, string> = {
  u8: '__u8', u16: '__u16', u32: '__u32', u64: '__u64', s8: '__s8', s16: '__s16', s32: '__s32', s64: '__s64', bool: '__u8', pid: '__s32',
};

/** the C file's name for a spec */
export function bpfFileName(m: ProbeModel | ProbeSpec): string {
  return `tw_${m.name}.bpf.c`;
}

/**
 * The kind of BPF program a spec's object holds, as the kernel types them: tracepoint programs
 * for syscall and tracepoint forms (sections tracepoint/...), kprobe programs for kprobe and
 * kretprobe forms (kprobe/..., kretprobe/...). Whether a kernel loads that kind is its own
 * business (@tw/relay-native's bpfProgramTypes asks it).
 */
export function bpfProgramKind(spec: ProbeSpec): 'tracepoint' | 'kprobe' {
  const kind = modelOf(spec).kind;
  switch (kind) {
    case 'syscall':
    case 'syscall_exit':
    case 'tracepoint':
      return 'tracepoint';
    case 'kprobe':
    case 'kretprobe':
      return 'kprobe';
    default: {
      const never: never = kind;
      throw new Error(`internal: unknown probe kind ${String(never)}`);
    }
  }
}

/** One string field's slot in the record's string area. */
interface StringSlot {
  f: FieldInfo;
  /** offset in tw_data */
  slot: number;
  /** offset from the common header (what the __data_loc word carries) */
  loc: number;
}

export interface BpfView {
  header: string[];
  name: string;
  hash: string;
  what: string;
  descriptionLines: string[];
  file: string;
  ringbufBytes: string;
  charpBytes: number;
  entryMax: number;
  params: string[];
  recordMembers: string[];
  asserts: string[];
  payloadBytes: number;
  recordBytes: number;
  stringBytes: number;
  hasStrings: boolean;
  /** a string length variable (tw_n) is needed */
  needsN: boolean;
  /** a string slot is cleared before a string is read into it */
  needsZeros: boolean;
  needsLoad: boolean;
  needsPath: boolean;
  needsFdFile: boolean;
  needsStrcmp: boolean;
  needsCommLen: boolean;
  /** the program that saves the arguments at entry (syscall exit, kretprobe reading args) */
  entry: false | { section: string; signature: string; saves: string[]; count: number; locals: string[] };
  /** the program that emits the event */
  main: {
    section: string;
    signature: string;
    /** locals: args, retval, the task (declarations with initialisers) */
    locals: string[];
    /** after the locals: take the saved entry args (syscall exit / kretprobe) */
    takeEntry: string[];
    blocksBeforeFilter: CBlock[];
    filter: CBlock | false;
    blocksAfterFilter: CBlock[];
    probeHeader: Array<{ name: string; value: string }>;
  };
}

/** What BPF cannot express; renderBpf turns it into PROBE_UNSUPPORTED "unsupported on bpf: …". */
class BpfUnsupported extends Error {}

function decl(type: CType | string, name: string): string {
  const text = typeof type === 'string' ? type : type.text;
  return text.endsWith('*') ? `${text}${name}` : `${text} ${name}`;
}

function argVar(a: ArgInfo | string): string {
  return `tw_a_${typeof a === 'string' ? a : a.name}`;
}

function paramVar(p: ParamInfo): string {
  return `tw_param_${p.name}`;
}

/** The view model of the BPF C file. Throws BpfUnsupported for what BPF cannot express. */
function bpfView(m: ProbeModel): BpfView {
  const used = usedNames(m);
  const order = payloadOrder(m);
  const fixed = fixedEnd(m);
  const fieldsByName = new Map(m.fields.map((f) => [f.name, f]));
  const paramsByName = new Map(m.params.map((p) => [p.name, p]));

  // string slots: one per string field, in record order, right after the fixed part
  const slots = new Map<string, StringSlot>();
  let stringBytes = 0;
  for (const { f } of order) {
    if (f.kind !== 'string') continue;
    slots.set(f.name, { f, slot: stringBytes, loc: fixed + stringBytes });
    stringBytes += f.len;
  }
  const payloadBytes = fixed + stringBytes;

  // identifiers of expressions: args behind a prefix, current = the task, retval = tw_ret
  const ident = (name: string): string => (name === 'current' ? 'tw_task' : name === 'retval' ? 'tw_ret' : argVar(name));
  const identType = (name: string): CType => {
    if (name === 'retval') return m.returns!;
    const a = m.args.find((x) => x.name === name);
    if (!a) throw new Error(`internal: unknown identifier ${name}`);
    return a.type;
  };

  let needsLoad = false;
  let needsPath = false;
  let needsFdFile = false;
  let needsCommLen = false;
  let needsN = false;
  let needsZeros = false;
  let needsTask = used.has('current');

  const fieldBlock = (f: FieldInfo): CBlock => {
    const cc = new CCompiler(ident);
    const s = f.source;
    const stmts: string[] = [];
    const slot = slots.get(f.name);
    const strDst = slot ? `&tw_r->tw_data[${slot.slot}]` : '';
    const setLoc = (len: string): string => {
      if (len.includes('tw_n')) needsN = true;
      return `tw_r->__data_loc_${f.name} = TW_DATA_LOC(${slot!.loc}, ${len});`;
    };
    const dst = `tw_r->${f.name}`;
    let comment = `${f.name} = ${sourceText(f)}`;
    const path = (mnt: string, dentry: string): void => {
      stmts.push(`tw_n = tw_path(${strDst}, ${f.len}, ${mnt}, ${dentry}, tw_task);`, setLoc('tw_n'));
      needsPath = needsTask = needsZeros = true;
    };
    if (s.k === 'builtin') {
      switch (s.name) {
        case 'comm':
          stmts.push(`bpf_get_current_comm(${strDst}, ${f.len});`, setLoc(`tw_comm_size(${strDst}, ${f.len})`));
          needsCommLen = true;
          break;
        case 'tgid':
          stmts.push(`${dst} = ${scalarAssign(f.scalar!, 'bpf_get_current_pid_tgid() >> 32')};`);
          break;
        case 'ppid':
          stmts.push(`${dst} = ${scalarAssign(f.scalar!, 'BPF_CORE_READ(tw_task, real_parent, tgid)')};`);
          needsTask = true;
          break;
        case 'uid':
          stmts.push(`${dst} = ${scalarAssign(f.scalar!, '(__u32)bpf_get_current_uid_gid()')};`);
          break;
        case 'gid':
          stmts.push(`${dst} = ${scalarAssign(f.scalar!, 'bpf_get_current_uid_gid() >> 32')};`);
          break;
        case 'cwd':
          path('BPF_CORE_READ(tw_task, fs, pwd.mnt)', 'BPF_CORE_READ(tw_task, fs, pwd.dentry)');
          comment += " (the task's working directory: dentry and mount walk up to its root)";
          break;
        case 'cmdline':
          // the argument area of the task's own memory (mm->arg_start..arg_end: NUL-separated
          // strings), read without faulting; NULs between arguments become spaces
          cc.decls.push(
            `__u64 tw_as = BPF_CORE_READ(tw_task, mm, arg_start);`,
            `__u64 tw_ae = BPF_CORE_READ(tw_task, mm, arg_end);`,
            `__u64 tw_cl = tw_ae > tw_as ? tw_ae - tw_as : 0;`,
            `char *tw_s = ${strDst};`,
            `__u32 tw_i;`,
          );
          stmts.push(
            `bpf_probe_read_kernel(tw_s, ${f.len}, tw_zeros);`,
            `if (tw_cl > ${f.len - 1})`,
            `\ttw_cl = ${f.len - 1};`,
            // keep the bounded value in one register: the verifier must see tw_cl <= ${f.len - 1} at the read
            `barrier_var(tw_cl);`,
            `if (tw_cl > 0 && bpf_probe_read_user(tw_s, tw_cl, (const void *)(unsigned long)tw_as) != 0)`,
            `\ttw_cl = 0;`,
            `for (tw_i = 0; tw_i + 1 < ${f.len - 1}; tw_i++) {`,
            `\tif (tw_i + 1 >= tw_cl)`,
            `\t\tbreak;`,
            `\tif (tw_s[tw_i] == '\\0')`,
            `\t\ttw_s[tw_i] = ' ';`,
            `}`,
            `tw_s[${f.len - 1}] = '\\0';`,
            setLoc('(__u32)tw_cl + 1'),
          );
          comment += " (the task's arguments, read from its memory; NULs between them made spaces)";
          needsTask = needsZeros = true;
          break;
        case 'pid':
          throw new Error('internal: pid is not stored');
      }
    } else if (s.k === 'call') {
      const argName = s.arg.k === 'ident' ? s.arg.name : '';
      switch (s.fn) {
        case 'ino':
        case 'dev': {
          const chain = s.fn === 'ino' ? inoOf(argName, identType(argName)) : devOf(argName, identType(argName));
          stmts.push(`${dst} = ${scalarAssign(f.scalar!, cc.value(chain))};`);
          needsLoad = true;
          break;
        }
        case 'path': {
          const t = identType(argName);
          const mnt = mntOf(argName, t);
          const mv = mnt ? cc.value(mnt) : 'NULL';
          const d = cc.value(dentryOf(argName, t));
          needsLoad = true;
          path(mv, d);
          comment += mnt ? " (dentry and mount walk up to the task's root)" : ' (dentry walk up to the filesystem root)';
          break;
        }
        case 'fd_ino':
        case 'fd_dev':
        case 'fd_path': {
          cc.decls.push(`struct file *tw_f = tw_fd_file(tw_task, (long)${ident(argName)});`);
          needsFdFile = needsTask = true;
          if (s.fn === 'fd_ino') stmts.push(`${dst} = ${scalarAssign(f.scalar!, 'BPF_CORE_READ(tw_f, f_inode, i_ino)')};`);
          else if (s.fn === 'fd_dev') stmts.push(`${dst} = ${scalarAssign(f.scalar!, 'BPF_CORE_READ(tw_f, f_inode, i_sb, s_dev)')};`);
          else {
            path('BPF_CORE_READ(tw_f, f_path.mnt)', 'BPF_CORE_READ(tw_f, f_path.dentry)');
            comment += ' (the file the descriptor refers to: dentry and mount walk)';
          }
          break;
        }
        case 'user_string':
        case 'kernel_string': {
          const v = cc.value(s.arg);
          stmts.push(
            `bpf_probe_read_kernel(${strDst}, ${f.len}, tw_zeros);`,
            `tw_n = bpf_probe_read_${s.fn === 'user_string' ? 'user' : 'kernel'}_str(${strDst}, ${f.len}, (const void *)(unsigned long)(${v}));`,
            setLoc('tw_n > 0 ? tw_n : 1'),
          );
          if (cc.decls.length > 0) needsLoad = true;
          needsZeros = true;
          break;
        }
      }
    } else if (f.kind === 'bytes') {
      const v = cc.value(s.expr);
      stmts.push(`bpf_probe_read_kernel(${dst}, ${f.len}, (const void *)(unsigned long)(${v}));`);
      comment += ' (zeros when unreadable)';
      if (cc.decls.length > 0) needsLoad = true;
    } else {
      const v = cc.value(s.expr);
      stmts.push(`${dst} = ${scalarAssign(f.scalar!, v)};`);
      if (cc.decls.length > 0) needsLoad = true;
    }
    return { comment, decls: cc.decls, stmts };
  };

  const stored = order.map((x) => x.f);
  const blocksBeforeFilter = stored.filter((f) => m.filterFields.has(f.name)).map(fieldBlock);
  const blocksAfterFilter = stored.filter((f) => !m.filterFields.has(f.name)).map(fieldBlock);

  let needsStrcmp = false;
  let filter: CBlock | false = false;
  if (m.filter) {
    const filterIdent = (name: string): string => {
      const f = fieldsByName.get(name);
      if (f) return f.alias ? '((__s32)bpf_get_current_pid_tgid())' : `tw_r->${f.name}`;
      const p = paramsByName.get(name);
      if (p) return paramVar(p);
      return ident(name);
    };
    const strcmp = (op: '==' | '!=', l: Expr, r: Expr): string | undefined => {
      const names = [l, r].map((x) => (x.k === 'ident' ? x.name : ''));
      const f = names.map((n) => fieldsByName.get(n)).find((x) => x?.kind === 'string');
      const p = names.map((n) => paramsByName.get(n)).find((x) => x?.type === 'charp');
      if (!f || !p) return undefined;
      needsStrcmp = true;
      const slot = slots.get(f.name)!;
      return `(tw_strncmp(&tw_r->tw_data[${slot.slot}], ${paramVar(p)}, ${Math.min(f.len, TW_CHARP_BYTES)}) ${op} 0)`;
    };
    const cc = new CCompiler(filterIdent, strcmp);
    const cond = cc.value(m.filter);
    if (cc.decls.length > 0) needsLoad = true;
    filter = {
      comment: `filter: ${(m.spec.filter ?? '').replace(/\s+/g, ' ')}`,
      decls: cc.decls,
      stmts: [`if (!${cond.startsWith('(') ? cond : `(${cond})`})`, '\treturn 0;'],
    };
  }
  if (m.filter && usedInFilter(m.filter, 'current')) needsTask = true;

  // programs
  const usedArgs = m.args.filter((a) => used.has(a.name));
  const ent = entryPrograms(m, usedArgs);
  const locals: string[] = [...ent.locals];
  if (needsTask) locals.push('struct task_struct *tw_task = (struct task_struct *)bpf_get_current_task();');

  // the record struct, its asserts
  const recordMembers: string[] = [
    '__u64 tw_ts;\t\t\t/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */',
    '__u32 tw_cpu;\t\t\t/* bpf_get_smp_processor_id() */',
    `__u32 tw_len;\t\t\t/* bytes that follow: ${payloadBytes} */`,
    '__u16 common_type;\t\t/* 0: tw fills in the event id */',
    '__u8 common_flags;',
    '__u8 common_preempt_count;',
    '__s32 common_pid;\t\t/* the thread id */',
  ];
  const asserts: string[] = [
    `_Static_assert(__builtin_offsetof(struct tw_record, common_type) == ${BPF_RECORD_PREFIX}, "tw:${m.name}: the common header follows ts, cpu, len");`,
    `_Static_assert(__builtin_offsetof(struct tw_record, common_pid) == ${BPF_RECORD_PREFIX + 4}, "tw:${m.name}: common_pid layout");`,
  ];
  const member = (name: string, off: number, size: number): void => {
    asserts.push(
      `_Static_assert(__builtin_offsetof(struct tw_record, ${name}) == ${BPF_RECORD_PREFIX} + ${off} && sizeof(((struct tw_record *)0)->${name}) == ${size}, "tw:${m.name}: ${name} layout");`,
    );
  };
  for (const h of probeHeader(m)) {
    recordMembers.push(`__u64 ${h.name};`);
    member(h.name, h.offset, 8);
  }
  for (const { f, offset } of order) {
    if (f.kind === 'string') {
      recordMembers.push(`__u32 __data_loc_${f.name};\t/* (length << 16) | offset of its bytes from common_type */`);
      member(`__data_loc_${f.name}`, offset, 4);
    } else if (f.kind === 'bytes') {
      recordMembers.push(`__u8 ${f.name}[${f.len}];`);
      member(f.name, offset, fieldSize(f));
    } else {
      recordMembers.push(`${BPF_SCALAR[f.scalar!]} ${f.name};`);
      member(f.name, offset, fieldSize(f));
    }
  }
  if (stringBytes > 0) {
    recordMembers.push(`char tw_data[${stringBytes}];\t/* string bytes: ${[...slots.values()].map((s) => `${s.f.name} at ${s.loc}`).join(', ')} */`);
    asserts.push(`_Static_assert(__builtin_offsetof(struct tw_record, tw_data) == ${BPF_RECORD_PREFIX} + ${fixed}, "tw:${m.name}: the strings follow the fixed part");`);
  }
  asserts.push(`_Static_assert(sizeof(struct tw_record) >= TW_RECORD_BYTES, "tw:${m.name}: record size");`);

  // the probed function (and where it returns to); tracepoints have no probed address: 0
  const headerValue = (h: string): string => {
    if (m.kind === 'kprobe' || (m.kind === 'kretprobe' && h === '__probe_func')) return 'bpf_get_func_ip(ctx)';
    if (m.kind === 'kretprobe') return 'PT_REGS_IP(ctx)';
    return '0';
  };
  const probeHeaderValues = probeHeader(m).map((h) => ({ name: h.name, value: headerValue(h.name) }));

  // fixed params: constants to the verifier (.rodata); live ones: read at every run from .data,
  // which the loader can change while the programs run
  const params = m.params.map((p) =>
    p.type === 'charp'
      ? `const volatile char ${paramVar(p)}[TW_CHARP_BYTES] = ${paramDefault(p)};`
      : p.live
        ? `volatile ${decl(PARAM_C[p.type], paramVar(p))} SEC(".data") = ${paramDefault(p)};`
        : `const volatile ${decl(PARAM_C[p.type], paramVar(p))} = ${paramDefault(p)};`,
  );

  return {
    header: header(m),
    name: m.name,
    hash: m.hash,
    what: bpfWhat(m),
    descriptionLines: m.spec.description ? wrap(m.spec.description) : [],
    file: bpfFileName(m),
    ringbufBytes: `(1U << ${Math.log2(TW_RINGBUF_BYTES)})`,
    charpBytes: TW_CHARP_BYTES,
    entryMax: TW_ENTRY_MAX,
    params,
    recordMembers,
    asserts,
    payloadBytes,
    recordBytes: BPF_RECORD_PREFIX + payloadBytes,
    stringBytes,
    hasStrings: stringBytes > 0,
    needsN,
    needsZeros,
    needsLoad,
    needsPath,
    needsFdFile,
    needsStrcmp,
    needsCommLen,
    entry: ent.entry,
    main: {
      section: ent.mainSection,
      signature: ent.mainSignature,
      locals,
      takeEntry: ent.takeEntry,
      blocksBeforeFilter,
      filter,
      blocksAfterFilter,
      probeHeader: probeHeaderValues,
    },
  };
}

function usedInFilter(e: Expr, name: string): boolean {
  switch (e.k) {
    case 'ident':
      return e.name === name;
    case 'int':
      return false;
    case 'member':
      return usedInFilter(e.obj, name);
    case 'unary':
    case 'cast':
      return usedInFilter(e.arg, name);
    case 'binary':
      return usedInFilter(e.left, name) || usedInFilter(e.right, name);
  }
}

interface Programs {
  entry: BpfView['entry'];
  mainSection: string;
  mainSignature: string;
  /** the main program's locals for args and retval */
  locals: string[];
  takeEntry: string[];
}

/** Sections, signatures and argument plumbing per attach kind. */
function entryPrograms(m: ProbeModel, usedArgs: ArgInfo[]): Programs {
  const prog = `tw_${m.name}`;
  // BPF_KPROBE names the arguments up to the last one used
  const last = usedArgs.length > 0 ? usedArgs[usedArgs.length - 1]!.index : -1;
  if ((m.kind === 'kprobe' || m.kind === 'kretprobe') && last >= KPROBE_MAX_ARGS) {
    const a = m.args[last]!;
    throw new BpfUnsupported(`args[${last}] '${a.name}': BPF_KPROBE (libbpf ${LIBBPF_BASELINE}) reads at most ${KPROBE_MAX_ARGS} register arguments`);
  }
  const allArgs = m.args.slice(0, last + 1).map((a) => decl(a.type, argVar(a))).join(', ');
  // kept per thread from entry to return: the used args as u64s
  const save = (from: (a: ArgInfo) => string): string[] => usedArgs.map((a, i) => `tw_s.a[${i}] = (__u64)(${from(a)});`);
  const take = usedArgs.map((a, i) => `${argVar(a)} = (${a.type.text})tw_e->a[${i}];`);
  const argLocals = usedArgs.map((a) => `${decl(a.type, argVar(a))};`);
  const retLocal = (init: string): string => `${decl(m.returns!, 'tw_ret')} = (${m.returns!.text})${init};`;
  switch (m.kind) {
    case 'syscall':
      return {
        entry: false,
        mainSection: `tracepoint/syscalls/sys_enter_${m.target}`,
        mainSignature: `int ${prog}(struct trace_event_raw_sys_enter *ctx)`,
        locals: usedArgs.map((a) => `${decl(a.type, argVar(a))} = (${a.type.text})ctx->args[${a.index}];`),
        takeEntry: [],
      };
    case 'syscall_exit':
      return {
        entry:
          usedArgs.length > 0
            ? {
                section: `tracepoint/syscalls/sys_enter_${m.target}`,
                signature: `int ${prog}_enter(struct trace_event_raw_sys_enter *ctx)`,
                saves: save((a) => `ctx->args[${a.index}]`),
                count: usedArgs.length,
                locals: [],
              }
            : false,
        mainSection: `tracepoint/syscalls/sys_exit_${m.target}`,
        mainSignature: `int ${prog}(struct trace_event_raw_sys_exit *ctx)`,
        locals: [...argLocals, retLocal('ctx->ret')],
        takeEntry: usedArgs.length > 0 ? take : [],
      };
    case 'tracepoint': {
      const [system, event] = m.target.split(':') as [string, string];
      return {
        entry: false,
        mainSection: `tracepoint/${system}/${event}`,
        mainSignature: `int ${prog}(struct trace_event_raw_${m.tracepointStruct!} *ctx)`,
        locals: usedArgs.map((a) => `${decl(a.type, argVar(a))} = (${a.type.text})BPF_CORE_READ(ctx, ${a.field ?? a.name});`),
        takeEntry: [],
      };
    }
    case 'kprobe':
      return {
        entry: false,
        mainSection: `kprobe/${m.target}`,
        mainSignature: `int BPF_KPROBE(${prog}${allArgs ? `, ${allArgs}` : ''})`,
        locals: [],
        takeEntry: [],
      };
    case 'kretprobe':
      return {
        entry:
          usedArgs.length > 0
            ? {
                section: `kprobe/${m.target}`,
                signature: `int BPF_KPROBE(${prog}_enter${allArgs ? `, ${allArgs}` : ''})`,
                saves: save((a) => `(unsigned long)${argVar(a)}`),
                count: usedArgs.length,
                locals: [],
              }
            : false,
        mainSection: `kretprobe/${m.target}`,
        mainSignature: `int BPF_KRETPROBE(${prog}, ${decl(m.returns!, 'tw_ret')})`,
        locals: argLocals,
        takeEntry: usedArgs.length > 0 ? take : [],
      };
  }
}

function bpfWhat(m: ProbeModel): string {
  const args = m.args.map((a) => `${a.type.text}${a.type.text.endsWith('*') ? '' : ' '}${a.name}`).join(', ');
  switch (m.kind) {
    case 'syscall':
      return `tracepoint syscalls:sys_enter_${m.target} (${m.target}(${args})) -> event tw:${m.name}`;
    case 'syscall_exit':
      return `tracepoints syscalls:sys_enter_${m.target} and sys_exit_${m.target} (${m.target}(${args}) returning ${m.returns!.text}) -> event tw:${m.name}`;
    case 'tracepoint':
      return `tracepoint ${m.target} (fields of struct trace_event_raw_${m.tracepointStruct!}) -> event tw:${m.name}`;
    case 'kprobe':
      return `kprobe on ${m.target}(${args}) -> event tw:${m.name}`;
    case 'kretprobe':
      return `kretprobe on ${m.target}(${args}) returning ${m.returns!.text} -> event tw:${m.name}`;
  }
}

/**
 * Render the BPF C of a spec (validates it first). Throws PROBE_UNSUPPORTED naming the field and
 * why when BPF cannot express the spec.
 */
export function renderBpf(spec: ProbeSpec): string {
  const m = modelOf(spec);
  let view: BpfView;
  try {
    view = bpfView(m);
  } catch (e) {
    if (e instanceof BpfUnsupported) throw new TwError('PROBE_UNSUPPORTED', `probe '${m.name}': unsupported on bpf: ${e.message}`, { cause: e });
    throw e;
  }
  return templates()['bpf.c'](view);
}

/** Like renderBpf, but returns the reason instead of throwing PROBE_UNSUPPORTED. */
export function tryRenderBpf(spec: ProbeSpec): string | { unsupported: string } {
  try {
    return renderBpf(spec);
  } catch (e) {
    if (e instanceof TwError && e.code === 'PROBE_UNSUPPORTED') return { unsupported: e.message };
    throw e;
  }
}
