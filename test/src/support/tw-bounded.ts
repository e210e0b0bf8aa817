// Running the real tw CLI with a time bound, measuring its peak RSS (through a preloaded module
// that reports it at exit), and checking the house rules for what a run may print: a result, or
// exactly one `tw: …` line on stderr with a non-zero exit; never a stack trace, never raw control
// bytes.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { twCliPath } from './tw.js';

const RSS_REPORTER = fileURLToPath(new URL('../../fixtures/report-rss.mjs', import.meta.url));

export interface BoundedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** peak RSS in MiB (undefined when the process was killed before it could report) */
  rssMiB: number | undefined;
  timedOut: boolean;
  ms: number;
}

/** Run `tw ARGS...`; killed (SIGKILL) after `timeoutMs`. */
export function runTwBounded(args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; stdin?: 'ignore' | 'pipe' } = {}): Promise<BoundedRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tw-rss-'));
  const rssFile = join(dir, 'rss');
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', RSS_REPORTER, twCliPath(), ...args], {
      stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
      env: { ...(opts.env ?? process.env), TW_TEST_RSS_FILE: rssFile },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let rssMiB: number | undefined;
      try {
        rssMiB = Number(readFileSync(rssFile, 'utf8')) / 1024;
      } catch {
        rssMiB = undefined;
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), rssMiB, timedOut, ms: Date.now() - start });
    });
  });
}

/** C0 controls other than tab and newline, DEL, C1 controls: what must never reach a terminal from tw. */
export const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/**
 * What is wrong with how a run ended, or undefined: it must end in time, with an exit code, and
 * either succeed or print exactly one line on stderr starting `tw: ` (warnings `tw: warning: …`
 * before it are allowed), with no stack trace and no raw control bytes anywhere.
 */
export function endingProblem(r: BoundedRun): string | undefined {
  if (r.timedOut) return `did not end within its time bound (${r.ms} ms)`;
  if (r.code === null) return `was killed by ${r.signal}`;
  if (RAW_CONTROL.test(r.stderr)) return `raw control bytes on stderr: ${JSON.stringify(r.stderr.slice(0, 300))}`;
  if (RAW_CONTROL.test(r.stdout)) return `raw control bytes on stdout: ${JSON.stringify(r.stdout.slice(0, 300))}`;
  if (/\n\s+at .+:\d+:\d+\)?\n/.test(r.stderr) || /^\s+at /m.test(r.stderr)) return `a stack trace on stderr: ${r.stderr.slice(0, 300)}`;
  if (r.code === 0) return undefined;
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('tw: warning: '));
  if (lines.length !== 1) return `exit ${r.code} with ${lines.length} error lines on stderr (want exactly one 'tw: …'): ${JSON.stringify(r.stderr.slice(0, 300))}`;
  if (!lines[0]!.startsWith('tw: ')) return `exit ${r.code}, but stderr does not start 'tw: ': ${JSON.stringify(lines[0]!.slice(0, 300))}`;
  if (r.code !== 0 && /The value of "|ERR_[A-Z_]+|RangeError|TypeError|is not a function|Cannot read properties/.test(lines[0]!)) {
    return `a Node.js internal message instead of what is wrong in the file: ${lines[0]!.slice(0, 300)}`;
  }
  return undefined;
}
