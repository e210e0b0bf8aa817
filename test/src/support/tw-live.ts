// Live tw runs (watch, dump, record) as the kernel tests run them: started in the background,
// ready once they print the "tw: tracing" line, stopped with a signal; and what a run may leave in
// the kernel (BPF programs of tw probes, tracefs instances of a tw process).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { REPO_ROOT, twCliPath } from './tw.js';

const TRACEFS = '/sys/kernel/tracing';

export interface RunningTw {
  pid: number;
  /** the "tw: tracing …" line */
  line: string;
  kill(sig: NodeJS.Signals): void;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/**
 * Start `tw ARGS…` (env: the whole environment when given); resolves once tw says it is tracing
 * (rejects if it ends first, or after 30 s, killing it).
 */
export async function startTw(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RunningTw> {
  const p = spawn(process.execPath, [twCliPath(), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
  const line = await new Promise<string>((resolve, reject) => {
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /^tw: tracing .*$/m.exec(stderr);
      if (m) resolve(m[0]);
    });
    p.on('close', () => reject(new Error(`tw ${args.join(' ')} ended before tracing: ${stderr}`)));
    setTimeout(() => {
      p.kill('SIGKILL'); // not left running behind a failed test
      reject(new Error(`tw ${args.join(' ')} did not say it was tracing within 30 s: ${stderr}`));
    }, 30_000).unref();
  });
  return { pid: p.pid!, line, kill: (sig) => p.kill(sig), done };
}

/** The BPF programs now loaded whose names start with tw_ (what the generated probes are called), by name. */
export function twPrograms(): Array<{ id: number; name: string }> {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as Array<{ id: number; name?: string }>;
  return list.filter((p): p is { id: number; name: string } => typeof p.name === 'string' && p.name.startsWith('tw_')).map((p) => ({ id: p.id, name: p.name }));
}

/** ids of the loaded BPF programs with these names (a probe <name>'s programs are tw_<name>) */
export function loadedPrograms(names: readonly string[]): number[] {
  return twPrograms().filter((p) => names.includes(p.name)).map((p) => p.id);
}

/** The tracefs instances of tw process `pid` (tw-<pid>-<n>). */
export function twInstances(pid: number): string[] {
  return readdirSync(`${TRACEFS}/instances`).filter((n) => n.startsWith(`tw-${pid}-`));
}

/** Poll until `ok()` or `ms` pass; returns the last value of ok(). */
export async function eventually(ok: () => boolean, ms = 3000): Promise<boolean> {
  const t0 = Date.now();
  while (!ok() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 50));
  return ok();
}

/**
 * A test file's scratch: work directories (real paths, as the kernel reports them) and child
 * processes, all removed or killed after the file's tests. Call at the file's top level.
 */
export function scratch(prefix: string): { workDir: () => string; keep: (kill: () => void) => void } {
  const dirs: string[] = [];
  const children: Array<() => void> = [];
  afterAll(() => {
    for (const kill of children) kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    workDir: () => {
      const d = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
      dirs.push(d);
      return d;
    },
    keep: (kill) => children.push(kill),
  };
}
