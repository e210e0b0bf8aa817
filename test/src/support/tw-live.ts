// Live tw runs in the kernel tests: start `tw …` and wait for its "tw: tracing" line, and what it
// may leave behind (BPF programs of its probes, its tracefs instances).

import { spawn, spawnSync } from 'node:child_process';
import { REPO_ROOT, twCliPath } from './tw.js';

const T = '/sys/kernel/tracing';

/** ids of the loaded BPF programs with these names (a probe <name>'s programs are tw_<name>) */
export function loadedPrograms(names: readonly string[]): number[] {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as Array<{ id: number; name?: string }>;
  return list.filter((p) => p.name !== undefined && names.includes(p.name)).map((p) => p.id);
}

/** the tracefs instances of the tw process `pid` */
export function twInstances(pid: number): string[] {
  return spawnSync('ls', [`${T}/instances`], { encoding: 'utf8' }).stdout.split('\n').filter((n) => n.startsWith(`tw-${pid}-`));
}

export interface LiveTw {
  pid: number;
  kill: (sig: NodeJS.Signals) => void;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/**
 * Start `tw ARGS…` (env: the whole environment when given); resolves once it says it is tracing,
 * with that line; rejects with its stderr when it ends first or says nothing within 30 s.
 */
export async function startTw(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<{ tw: LiveTw; line: string }> {
  const p = spawn(process.execPath, [twCliPath(), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
  const line = new Promise<string>((resolve, reject) => {
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /^tw: tracing .*$/m.exec(stderr);
      if (m) resolve(m[0]);
    });
    void done.then(() => reject(new Error(`tw ${args.join(' ')} ended before tracing: ${stderr}`)));
    setTimeout(() => reject(new Error(`tw ${args.join(' ')} did not say it was tracing within 30 s: ${stderr}`)), 30_000).unref();
  });
  return { tw: { pid: p.pid!, kill: (sig) => p.kill(sig), done }, line: await line };
}
