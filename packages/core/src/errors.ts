/**
 * One error-code table for all of tw (in the spirit of libtraceevent's TEP_ERRORS).
 * Errors are recognised by a brand (Symbol.for), not instanceof: a plugin installed from npm
 * may carry its own copy of @tw/core, and its errors must still be recognised.
 */
export const ERROR_CODES = {
  FILE_NOT_FOUND: 'a file named on the command line does not exist or cannot be read',
  NOT_TRACE_DAT: 'the file is not a trace-cmd trace.dat file',
  UNSUPPORTED_VERSION: 'the trace.dat version is not one tw reads (6 and 7)',
  CORRUPT_FILE: 'the file is truncated or its structure is inconsistent',
  UNSUPPORTED_COMPRESSION: 'the file is compressed with an algorithm tw does not read',
  FORMAT_PARSE: 'an event format, header_page or header_event text could not be parsed',
  DECODE: 'a ring-buffer sub-buffer or record is malformed',
  UNKNOWN_WATCH: 'no installed watch has that name',
  BAD_ARGUMENT: 'a watch or command argument is missing or invalid',
  UNKNOWN_EVENT: 'an event named by a watch or on the command line does not exist',
  WATCH_FAILED: 'a watch handler threw',
  INVALID_WATCH: 'a watch definition is invalid',
  NO_TRACEFS: 'tracefs is not mounted and could not be mounted',
  NO_PERMISSION: 'live tracing needs root (CAP_SYS_ADMIN) to write tracefs',
  TRACEFS: 'a tracefs file could not be read or written',
  BAD_FILTER: 'the kernel rejected an event filter',
  READER: 'the ring-buffer reader failed',
  WRITE_FAILED: 'an output file could not be written',
  PROBE_SPEC: 'a dynamic probe spec is invalid',
  PROBE_UNSUPPORTED: 'a probe spec uses something the chosen probe backend cannot express',
  PROBE_PARAM: "a value given for a dynamic probe's parameter names no parameter of its spec, or does not fit the parameter's type",
  MODULE_BUILD: 'building a generated kernel module failed',
  MODULE_LOAD: 'loading or unloading a kernel module failed',
  BPF_BUILD: 'compiling a generated BPF program (or making the vmlinux.h it needs) failed',
  MISSING_SYMBOL: 'generated module code needs a kernel symbol the target kernel does not export to modules',
  KERNEL_HEADERS: 'no usable kernel headers (Kbuild tree) for the target kernel',
  TOOL_START: 'a program tw runs (make, insmod, rmmod, pahole, clang, bpftool) could not be started',
  PROBE_REJECTED: 'the kernel rejected a dynamic (kprobe) event definition or filter',
  BPF_VERIFIER: "the kernel's BPF verifier rejected a probe's generated BPF program",
  BPF_LOAD: "the kernel refused to load or attach a probe's BPF program otherwise (e.g. EPERM for a program type it forbids)",
  LAYOUT_MISMATCH: "a probe's record layout differs from the kernel's event format",
  UNPACKER: "a probe's generated unpacker could not be compiled, stored or loaded, or does not match its spec",
  NOT_CONFIRMED: 'installing a plugin needs a yes: an answer on a terminal, or --yes',
  PLUGIN_INSTALL: 'a plugin could not be fetched, read or installed, or the package is not a tw plugin',
  INTERNAL: 'an unexpected error inside tw or a library it uses (a bug: please report it with the message)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const BRAND = Symbol.for('tracewatch.error');

export class TwError extends Error {
  readonly code: ErrorCode;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TwError';
  }
}

/** True for any tw error, whichever copy of @tw/core created it. */
export function isTwError(e: unknown): e is TwError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/** A format text (event format file, header_page) that does not parse. */
export class FormatParseError extends TwError {
  readonly path: string;
  readonly line: number;

  constructor(path: string, line: number, message: string, options?: { cause?: unknown }) {
    super('FORMAT_PARSE', `${path}:${line}: ${message}`, options);
    this.name = 'FormatParseError';
    this.path = path;
    this.line = line;
  }
}

/** A malformed sub-buffer or record: names the CPU and the byte offset where decoding stopped. */
export class DecodeError extends TwError {
  readonly cpu: number;
  readonly offset: number;

  constructor(cpu: number, offset: number, message: string, options?: { cause?: unknown }) {
    super('DECODE', `cpu ${cpu}, offset ${offset}: ${message}`, options);
    this.name = 'DecodeError';
    this.cpu = cpu;
    this.offset = offset;
  }
}

/** What a watch threw, as text: anything can be thrown, even a value String() fails on. */
function describeThrown(cause: unknown): string {
  try {
    return cause instanceof Error ? String(cause.message) : String(cause);
  } catch {
    return 'a value that cannot be shown as text';
  }
}

/** The hooks of a watch besides its event handlers. */
const HOOKS = new Set(['state', 'events', 'filter', 'start', 'end', 'format']);

/** A watch handler threw: carries the watch and the event that was being handled. */
export class WatchError extends TwError {
  readonly watch: string;
  readonly event: string;

  /**
   * @param event the handler: an event pattern, "start" or "end"
   * @param context what was being handled, e.g. "event sched:sched_switch at ts …, cpu 1, pid 42"
   */
  constructor(watch: string, event: string, cause: unknown, context?: string) {
    const why = describeThrown(cause);
    const what = HOOKS.has(event) ? `: its ${event}() hook failed` : ` threw in its ${event} handler`;
    super('WATCH_FAILED', `watch '${watch}'${what}${context ? ` (${context})` : ''}: ${why}`, { cause });
    this.name = 'WatchError';
    this.watch = watch;
    this.event = event;
  }
}

/** The value layout of one field: where it is in the record and how big. */
export interface FieldPlacement {
  readonly offset: number;
  readonly size: number;
  readonly type: string;
}

/** A probe spec that breaks a rule: names the offending part of the spec (e.g. "fields[2].from") and the rule. */
export class ProbeSpecError extends TwError {
  readonly field: string;
  readonly rule: string;

  constructor(spec: string, field: string, rule: string, options?: { cause?: unknown }) {
    super('PROBE_SPEC', `probe spec${spec ? ` '${spec}'` : ''}: ${field}: ${rule}`, options);
    this.name = 'ProbeSpecError';
    this.field = field;
    this.rule = rule;
  }
}

/**
 * A probe's expected record layout differs from the kernel's format file for its event.
 * `actual` is null when the kernel's format has no such field.
 */
export class LayoutMismatchError extends TwError {
  readonly event: string;
  readonly field: string;
  readonly expected: FieldPlacement;
  readonly actual: FieldPlacement | null;

  constructor(event: string, field: string, expected: FieldPlacement, actual: FieldPlacement | null, options?: { cause?: unknown }) {
    const exp = `offset ${expected.offset} size ${expected.size} (${expected.type})`;
    const act = actual ? `offset ${actual.offset} size ${actual.size} (${actual.type})` : 'no such field';
    super('LAYOUT_MISMATCH', `event ${event}, field '${field}': expected ${exp}, the kernel's format has ${act}`, options);
    this.name = 'LayoutMismatchError';
    this.event = event;
    this.field = field;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * A build program ran and failed (exit code != 0). `stderr` carries the compiler's own lines.
 * (A program that could not be started at all is a TwError with code TOOL_START.)
 */
export class ModuleBuildError extends TwError {
  readonly command: string;
  readonly exitCode: number;
  readonly stderr: string;

  constructor(command: string, exitCode: number, stderr: string, message?: string, options?: { cause?: unknown }) {
    super('MODULE_BUILD', message ?? `'${command}' failed with exit code ${exitCode}`, options);
    this.name = 'ModuleBuildError';
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** clang (or bpftool making vmlinux.h) failed on a generated BPF program; stderr has the compiler's lines. */
export class BpfBuildError extends TwError {
  readonly command: string;
  readonly exitCode: number;
  readonly stderr: string;

  constructor(command: string, exitCode: number, stderr: string, message?: string, options?: { cause?: unknown }) {
    super('BPF_BUILD', message ?? `'${command}' failed with exit code ${exitCode}`, options);
    this.name = 'BpfBuildError';
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/**
 * The kernel's BPF verifier rejected a probe's program: names the probe, the program and its
 * section (the attach point), and carries the verifier's last lines (also quoted in the message).
 */
export class BpfVerifierError extends TwError {
  readonly probe: string;
  readonly program: string | undefined;
  readonly section: string | undefined;
  readonly verifierLog: readonly string[];

  constructor(probe: string, program: string | undefined, section: string | undefined, verifierLog: readonly string[], object: string, options?: { cause?: unknown }) {
    const which = program === undefined ? 'its program' : `its program '${program}'${section === undefined ? '' : ` (${section})`}`;
    const lines = verifierLog.length > 0 ? `; the verifier's last lines:\n${verifierLog.map((l) => `  ${l}`).join('\n')}` : '';
    super('BPF_VERIFIER', `probe '${probe}': the kernel's BPF verifier rejected ${which}, from ${object}${lines}`, options);
    this.name = 'BpfVerifierError';
    this.probe = probe;
    this.program = program;
    this.section = section;
    this.verifierLog = verifierLog;
  }
}
