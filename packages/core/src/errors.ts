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
  NO_PERMISSION: 'tracing the live kernel needs root (CAP_SYS_ADMIN) to write tracefs',
  TRACEFS: 'a tracefs file could not be read or written',
  BAD_FILTER: 'the kernel rejected an event filter',
  READER: 'the ring-buffer reader failed',
  WRITE_FAILED: 'an output file could not be written',
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

/** A watch handler threw: carries the watch and the event that was being handled. */
export class WatchError extends TwError {
  readonly watch: string;
  readonly event: string;

  /**
   * @param event the handler: an event pattern, "start" or "end"
   * @param context what was being handled, e.g. "event sched:sched_switch at ts …, cpu 1, pid 42"
   */
  constructor(watch: string, event: string, cause: unknown, context?: string) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('WATCH_FAILED', `watch '${watch}' threw in its ${event} handler${context ? ` (${context})` : ''}: ${why}`, { cause });
    this.name = 'WatchError';
    this.watch = watch;
    this.event = event;
  }
}
