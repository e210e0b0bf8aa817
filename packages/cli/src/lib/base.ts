/**
 * The base of every tw command: turns tw errors (recognised by brand) into one clear line on
 * stderr and an exit code, instead of a stack trace; under --json also into
 * {"error": {"code", "message"}} on stdout (plus the data some errors carry: see errorDetails),
 * oclif's errors about the command line included.
 */
import { Command, Flags } from '@oclif/core';
import { isTwError, jsonSafe, printable, type BpfVerifierError, type ErrorCode, type TwError } from '@tw/core';
import { exitCallMessage, exitCallOf } from './exit-paths.js';
import { watchFileFrame } from './watch-file.js';

const EXIT: Partial<Record<ErrorCode, number>> = {
  FILE_NOT_FOUND: 2,
  NOT_TRACE_DAT: 3,
  UNSUPPORTED_VERSION: 3,
  CORRUPT_FILE: 3,
  UNSUPPORTED_COMPRESSION: 3,
  FORMAT_PARSE: 3,
  DECODE: 3,
  UNKNOWN_WATCH: 4,
  BAD_ARGUMENT: 5,
  UNKNOWN_EVENT: 5,
  WATCH_FAILED: 6,
  INVALID_WATCH: 6,
  BAD_FILTER: 5,
  NO_TRACEFS: 7,
  NO_PERMISSION: 7,
  TRACEFS: 8,
  READER: 8,
  WRITE_FAILED: 2,
  PROBE_SPEC: 5,
  PROBE_PARAM: 5,
  PROBE_UNSUPPORTED: 9,
  PROBE_REJECTED: 9,
  LAYOUT_MISMATCH: 9,
  UNPACKER: 9,
  MODULE_BUILD: 9,
  MODULE_LOAD: 9,
  BPF_BUILD: 9,
  BPF_VERIFIER: 9,
  BPF_LOAD: 9,
  MISSING_SYMBOL: 9,
  KERNEL_HEADERS: 9,
  TOOL_START: 9,
  NOT_CONFIRMED: 10,
  PLUGIN_INSTALL: 11,
};

export abstract class TwCommand extends Command {
  /** -h on every command, as --help (no tw command uses the letter for anything else) */
  static override baseFlags = {
    help: Flags.help({ char: 'h', helpGroup: 'GLOBAL' }),
  };

  protected override async catch(err: Error & { exitCode?: number; code?: unknown; oclif?: { exit?: number } }): Promise<unknown> {
    // this.exit() and the help flag end a command with oclif's ExitError: not a failure to report
    if (err.code === 'EEXIT') throw err;
    // process.exit() in watch code: the session was torn down; exit with the code it asked for
    const call = exitCallOf(err);
    if (call !== undefined) {
      const message = printable(exitCallMessage(err, call));
      process.stderr.write(`tw: ${message}\n`);
      if (this.jsonEnabled() && call.exitCode !== 0) this.logJson({ error: { code: 'WATCH_FAILED', message } });
      this.exit(call.exitCode);
    }
    // Every failure is one line on stderr, `tw: …`, with or without --json (oclif's own
    // messages about the command line and errors that are not tw's included): never a stack
    // trace, never an empty stderr.
    const e = jsonError(err, !this.parsed);
    // what a watch file's code threw: where, in that file (its TypeScript line, by source map)
    if (isTwError(err) && err.code === 'WATCH_FAILED') e.message += watchFileFrame(err);
    process.stderr.write(`tw: ${e.message}\n`);
    if (this.jsonEnabled()) this.logJson({ error: { code: e.code, message: e.message, ...errorDetails(err) } });
    this.exit(e.exit);
  }

  /** oclif's --json printer cannot print bigints: hand it a JSON-safe copy. */
  protected override toSuccessJson(result: unknown): unknown {
    return deepJsonSafe(result);
  }
}

/**
 * What --json reports for a failed command, and its exit code (the one it has without --json):
 * a tw error's code; BAD_ARGUMENT for oclif's errors about the command line (thrown before the
 * arguments were parsed), on one line without oclif's "See more help" hint; INTERNAL otherwise.
 */
export function jsonError(err: Error & { oclif?: { exit?: number }; exitCode?: number }, duringParse: boolean): { code: ErrorCode; message: string; exit: number } {
  const text = (m: unknown) => safeMessage(typeof m === 'string' ? m : String(m));
  if (isTwError(err)) return { code: err.code, message: text(err.message), exit: EXIT[err.code] ?? 1 };
  const exit = err.oclif?.exit ?? err.exitCode ?? (duringParse ? 2 : 1);
  if (!duringParse) return { code: 'INTERNAL', message: `internal error (a bug in tw: please report it): ${text(err?.message ?? err)}`, exit };
  const lines = String(err.message).split('\n').map((l) => l.replace(/^\s*›?\s*/, '').trim()).filter((l) => l !== '' && l !== 'See more help with --help');
  // "Parsing --latency <why>" → "--latency: <why>"
  const message = lines.join(' ').replace(/\s+/g, ' ').replace(/^Error: /, '').replace(/^Parsing (--?[\w-]+) /, '$1: ');
  return { code: 'BAD_ARGUMENT', message: text(message), exit };
}

/** A message as it may reach a terminal: its lines kept, every other control character escaped. */
export function safeMessage(message: string): string {
  return message.split('\n').map(printable).join('\n');
}

/**
 * What --json adds to {code, message} for errors that carry data: a verifier rejection's probe,
 * program, section and the verifier's last lines (also quoted in the message).
 */
export function errorDetails(err: unknown): Record<string, unknown> {
  if (!isTwError(err) || err.code !== 'BPF_VERIFIER') return {};
  const v = err as TwError & Partial<Pick<BpfVerifierError, 'probe' | 'program' | 'section' | 'verifierLog'>>;
  const out: Record<string, unknown> = {};
  if (v.probe !== undefined) out['probe'] = v.probe;
  if (v.program !== undefined) out['program'] = v.program;
  if (v.section !== undefined) out['section'] = v.section;
  if (v.verifierLog !== undefined) out['verifierLog'] = [...v.verifierLog];
  return out;
}

export function deepJsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return jsonSafe(v);
  if (Array.isArray(v)) return v.map(deepJsonSafe);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), deepJsonSafe(x)]));
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepJsonSafe(x)]));
  }
  return v;
}
