// Small process helpers shared by the kernel tests: run a command and collect its
// output, or stream its stdout line by line (with back-pressure, so huge outputs
// such as `trace-cmd report` of a 300 MB recording never sit in memory at once).

import { spawn, type SpawnOptions } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Throw unless the command exits with status 0 (default true). */
  check?: boolean;
}

/** Quote one argument for display in error messages. */
function shq(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function describeCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map(shq).join(' ');
}

/** Run a command to completion, collecting stdout and stderr as UTF-8 text. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const check = opts.check ?? true;
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'] };
    if (opts.cwd !== undefined) spawnOpts.cwd = opts.cwd;
    if (opts.env !== undefined) spawnOpts.env = opts.env;
    const child = spawn(cmd, [...args], spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new Error(`cannot run ${describeCommand(cmd, args)}: ${e.message}`)));
    child.on('close', (code, signal) => {
      const res: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (check && code !== 0) {
        reject(
          new Error(
            `${describeCommand(cmd, args)} failed (${signal ?? `exit ${code}`}): ${res.stderr.trim().split('\n').slice(-5).join(' | ')}`,
          ),
        );
      } else {
        resolve(res);
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Split a byte stream into lines (without the trailing "\n"), pulling chunks only on demand. */
export async function* readLines(stream: Readable): AsyncGenerator<string> {
  let rest = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream as AsyncIterable<string>) {
    const text = rest + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      yield text.slice(start, nl);
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest.length > 0) yield rest;
}

export interface LineProcess {
  /** stdout, line by line. */
  lines: AsyncGenerator<string>;
  /** Resolves when the process has exited (stderr collected). Never rejects. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; spawnError?: Error }>;
  kill(): void;
  command: string;
}

/** Start a command and expose its stdout as an async line iterator. */
export function spawnLines(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): LineProcess {
  const spawnOpts: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'] };
  if (opts.cwd !== undefined) spawnOpts.cwd = opts.cwd;
  if (opts.env !== undefined) spawnOpts.env = opts.env;
  const child = spawn(cmd, [...args], spawnOpts);
  const err: Buffer[] = [];
  let errLen = 0;
  child.stderr?.on('data', (b: Buffer) => {
    // keep at most ~1 MB of stderr
    if (errLen < 1 << 20) {
      err.push(b);
      errLen += b.length;
    }
  });
  let spawnError: Error | undefined;
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; spawnError?: Error }>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      const r: { code: number | null; signal: NodeJS.Signals | null; stderr: string; spawnError?: Error } = {
        code,
        signal,
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (spawnError) r.spawnError = spawnError;
      resolve(r);
    });
  });
  const stdout = child.stdout;
  if (!stdout) throw new Error('no stdout pipe');
  return {
    lines: readLines(stdout),
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    command: describeCommand(cmd, args),
  };
}
