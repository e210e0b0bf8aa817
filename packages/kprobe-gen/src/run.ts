/**
 * Running external programs (make, insmod, rmmod, pahole) with execa, never through a shell.
 * A program that cannot be started is TwError TOOL_START; one that ran and failed is returned
 * to the caller, who turns it into its own error (ModuleBuildError, MODULE_LOAD, …).
 */
import { TwError } from '@tw/core';
import { execa } from 'execa';

export interface RunResult {
  readonly command: string;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How a command line is shown in messages (arguments with spaces quoted). */
export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

export async function run(file: string, args: readonly string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  const command = commandLine(file, args);
  const r = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
  });
  if (r.exitCode === undefined) {
    // never started (ENOENT, EACCES), or killed by a signal / timeout
    const why = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : r.signal ? `was killed by ${r.signal}` : r.cause instanceof Error ? r.cause.message : 'could not be started';
    if (r.timedOut || r.signal) {
      return { command, exitCode: 128, stdout: String(r.stdout ?? ''), stderr: `${String(r.stderr ?? '')}\n${command} ${why}` };
    }
    throw new TwError('TOOL_START', `could not start '${command}': ${why}${/ENOENT/.test(why) ? ` (is ${file} installed and on PATH?)` : ''}`, { cause: r.cause });
  }
  return { command, exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}
