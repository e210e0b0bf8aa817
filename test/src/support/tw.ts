// Running the tw CLI under test (`node packages/cli/bin/run.js ...`).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run, spawnLines, type LineProcess } from './proc.js';
import { parseWatchJson } from './watch-json.js';

/** Repository root (this file is test/src/support/tw.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The CLI entry point; TW_CLI overrides it. */
export function twCliPath(): string {
  return process.env['TW_CLI'] ?? fileURLToPath(new URL('../../../packages/cli/bin/run.js', import.meta.url));
}

export function twAvailable(): boolean {
  return existsSync(twCliPath());
}

/** Run `tw ARGS...` to completion; throws with tw's stderr on a non-zero exit. */
export async function runTw(args: readonly string[]): Promise<string> {
  const r = await run(process.execPath, [twCliPath(), ...args], { check: false });
  if (r.code !== 0) {
    throw new Error(`tw ${args.join(' ')} failed (${r.signal ?? `exit ${r.code}`}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Run `tw ARGS...` and parse its stdout as one JSON document. */
export async function runTwJson(args: readonly string[]): Promise<unknown> {
  const out = await runTw(args);
  try {
    return JSON.parse(out) as unknown;
  } catch (e) {
    throw new Error(`tw ${args.join(' ')} did not print JSON (${(e as Error).message}): ${out.slice(0, 300)}`);
  }
}

/** Run `tw watch ARGS... --json` and return its result: the last line, after any alert lines (see parseWatchJson). */
export async function runTwWatchJson(args: readonly string[]): Promise<unknown> {
  const out = await runTw(args);
  try {
    return parseWatchJson<unknown>(out).result;
  } catch (e) {
    throw new Error(`tw ${args.join(' ')}: ${(e as Error).message}`);
  }
}

/** Stream `tw ARGS...` stdout line by line. */
export function spawnTw(args: readonly string[]): LineProcess {
  return spawnLines(process.execPath, [twCliPath(), ...args]);
}

/** One line of `tw dump` output. */
export interface TwEvent {
  ts: string;
  cpu: number;
  pid: number;
  comm: string;
  event: string;
  buffer?: string;
  fields: Record<string, unknown>;
  /** 1-based output line number. */
  line: number;
  /** The line as printed. */
  text: string;
}

/** Validate and convert one `tw dump` line; throws with a reason. */
export function parseTwDumpLine(text: string, line: number): TwEvent {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new Error(`tw dump line ${line} is not JSON (${(e as Error).message}): ${text.slice(0, 200)}`);
  }
  const bad = (why: string) => new Error(`tw dump line ${line}: ${why}: ${text.slice(0, 300)}`);
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('not a JSON object');
  const r = o as Record<string, unknown>;
  if (typeof r['ts'] !== 'string' || !/^\d+$/.test(r['ts'])) throw bad('"ts" must be a decimal string');
  if (typeof r['cpu'] !== 'number' || !Number.isInteger(r['cpu']) || r['cpu'] < 0) throw bad('"cpu" must be a non-negative integer');
  if (typeof r['pid'] !== 'number' || !Number.isInteger(r['pid'])) throw bad('"pid" must be an integer');
  if (typeof r['comm'] !== 'string') throw bad('"comm" must be a string');
  if (typeof r['event'] !== 'string' || !/^[^:]+:[^:]+$/.test(r['event'])) throw bad('"event" must be "system:name"');
  if (typeof r['fields'] !== 'object' || r['fields'] === null || Array.isArray(r['fields'])) throw bad('"fields" must be an object');
  if (r['buffer'] !== undefined && typeof r['buffer'] !== 'string') throw bad('"buffer" must be a string');
  const ev: TwEvent = {
    ts: r['ts'],
    cpu: r['cpu'],
    pid: r['pid'],
    comm: r['comm'],
    event: r['event'],
    fields: r['fields'] as Record<string, unknown>,
    line,
    text,
  };
  if (typeof r['buffer'] === 'string') ev.buffer = r['buffer'];
  return ev;
}
