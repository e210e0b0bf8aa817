/**
 * Identifier rules for probe specs. Every name in a spec ends up in generated C (locals, struct
 * members, TRACE_EVENT names, module parameters), in a tracefs definition and in generated TS,
 * so names are checked against a strict grammar and a reserved-word list and rejected, never
 * rewritten.
 */

/** spec, arg, field and param names: lowercase C identifiers, no leading underscore */
export const NAME_RE = /^[a-z][a-z0-9_]{0,31}$/;
export const NAME_RULE = 'must match [a-z][a-z0-9_]{0,31} (a lowercase C identifier of at most 32 characters, no leading underscore)';

/** kernel symbols (kprobe targets): may carry compiler suffixes such as .isra.0 or .constprop.0 */
export const SYMBOL_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}(\.[A-Za-z0-9_]{1,32}){0,4}$/;

/** syscall names as in the kernel's syscall tables (unlinkat, kill, openat2, …) */
export const SYSCALL_RE = /^[a-z][a-z0-9_]{0,31}$/;

/** C keywords (C11 and the GNU spellings the kernel uses) */
const C_KEYWORDS = [
  'auto', 'break', 'case', 'char', 'const', 'continue', 'default', 'do', 'double', 'else', 'enum',
  'extern', 'float', 'for', 'goto', 'if', 'inline', 'int', 'long', 'register', 'restrict', 'return',
  'short', 'signed', 'sizeof', 'static', 'struct', 'switch', 'typedef', 'union', 'unsigned', 'void',
  'volatile', 'while', 'asm', 'typeof', 'alignof', 'alignas', 'bool', 'true', 'false', 'nullptr',
  'constexpr', 'static_assert', 'thread_local', 'noreturn',
];

/**
 * Kernel names a spec identifier must not shadow or collide with: types, lowercase object-like
 * macros, and names whose derived tracepoint symbols (trace_<name>, event_<name>, …) exist in the
 * headers the generated module includes.
 */
const KERNEL_RESERVED = [
  // types
  'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'size_t', 'ssize_t', 'pid_t', 'uid_t',
  'gid_t', 'dev_t', 'ino_t', 'loff_t', 'umode_t', 'fmode_t', 'off_t', 'ulong', 'uint', 'ushort',
  'uchar', 'phys_addr_t', 'gfp_t', 'atomic_t', 'kuid_t', 'kgid_t', 'sector_t', 'ktime_t',
  // lowercase macros and globals a local or member of that name would break
  'current', 'fallthrough', 'noinline', 'likely', 'unlikely', 'jiffies', 'barrier', 'nr_cpu_ids',
  'pr_fmt', 'printk', 'container_of', 'offsetof', 'min', 'max', 'memcpy', 'memset', 'memchr',
  'strlen', 'strcpy', 'strncmp', 'this_cpu_ptr', 'get_current', 'smp_processor_id', 'in_interrupt',
  // tw's own built-in identifiers
  'retval',
];

/** bare built-in field sources: an argument or param of that name would make `from: 'pid'` ambiguous */
export const BARE_BUILTINS = ['comm', 'pid', 'tgid', 'ppid', 'uid', 'gid', 'cwd', 'cmdline'] as const;

/**
 * Spec names become TRACE_EVENT names: trace_<name>, event_<name>, print_fmt_<name>, … must not
 * collide with what the included headers declare (trace_printk, trace_puts, trace_dump_stack,
 * trace_clock*, trace_seq*, trace_handle_return, trace_raw_output_prep, …); and <Name> is the
 * generated TS interface, which must not shadow a global the unpacker uses.
 */
const SPEC_RESERVED = [
  'bprintk', 'puts', 'bputs', 'dump_stack', 'clock', 'clock_local', 'clock_global',
  'clock_jiffies', 'clock_counter', 'seq', 'seq_printf', 'seq_puts', 'seq_putc', 'handle_return',
  'prep', 'output_prep', 'event_printf', 'buffer_reserve', 'buffer_commit', 'raw_init', 'reg',
  'define_field', 'array', 'enabled', 'event', 'entry',
  'data_view', 'text_decoder', 'uint8_array', 'number', 'string', 'boolean', 'object', 'math',
  'bigint', 'symbol', 'record', 'readonly_array', 'layout_entry', 'error', 'promise', 'array_buffer',
];

const RESERVED = new Set([...C_KEYWORDS, ...KERNEL_RESERVED]);
const RESERVED_SPEC = new Set(SPEC_RESERVED);

/** Why a name is not allowed, or undefined when it is. */
export function nameProblem(name: unknown, kind: 'spec' | 'arg' | 'field' | 'param'): string | undefined {
  if (typeof name !== 'string') return `must be a string, got ${describe(name)}`;
  if (!NAME_RE.test(name)) return `'${clip(name)}' ${NAME_RULE}`;
  if (RESERVED.has(name)) return `'${name}' is a reserved word (C keyword or kernel/generated name)`;
  if (kind === 'spec' && RESERVED_SPEC.has(name)) return `'${name}' is reserved as a probe name (its generated trace_${name}/<Name> symbols collide with existing ones)`;
  if (name.startsWith('tw_')) return `'${name}': the tw_ prefix is reserved for generated names`;
  if (name.startsWith('common_')) return `'${name}': the common_ prefix is reserved for the trace event header`;
  if ((kind === 'arg' || kind === 'param') && (BARE_BUILTINS as readonly string[]).includes(name)) {
    return `'${name}' is a built-in field source (${BARE_BUILTINS.join(', ')}); name the ${kind} differently`;
  }
  if (kind === 'spec' && name.length > 24) return `'${name}' is too long for a module name (at most 24 characters)`;
  return undefined;
}

export function isReserved(name: string): boolean {
  return RESERVED.has(name);
}

/** "open_write" → "OpenWrite" */
export function pascalCase(name: string): string {
  return name
    .split('_')
    .filter((p) => p !== '')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${clip(v)}'`;
  return typeof v;
}

/** A string safe to quote in messages (no control characters, bounded). */
export function clip(s: string, max = 60): string {
  // eslint-disable-next-line no-control-regex
  const printable = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}

/**
 * Free text that ends up in C comments, C string literals (MODULE_PARM_DESC) and TS comments:
 * printable ASCII without quotes, backslashes, comment delimiters or format specifiers.
 */
export const TEXT_RE = /^[A-Za-z0-9 _.,:;!?()+=\-/<>[\]@#&|'`~^$]{0,200}$/;
export function textProblem(s: unknown): string | undefined {
  if (typeof s !== 'string') return `must be a string, got ${describe(s)}`;
  if (!TEXT_RE.test(s)) return 'must be at most 200 printable ASCII characters without quotes ("), backslashes, % or *';
  if (s.includes('*/') || s.includes('/*') || s.includes('//')) return 'must not contain comment delimiters';
  if (s.includes('??')) return "must not contain '??' (C trigraphs)";
  return undefined;
}
