// Runs fuzz cases in-process in a few child processes (test/fixtures/fuzz-runner.mjs, on the
// built packages), one case at a time each, with a time bound per case (the child is killed and
// replaced when a case overruns) and an RSS bound (the child's peak RSS during the case).
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzCase } from './cases.js';

const RUNNER = fileURLToPath(new URL('../../fixtures/fuzz-runner.mjs', import.meta.url));

export interface CaseResult {
  index: number;
  name: string;
  op: string;
  outcome: 'ok' | 'error' | 'timeout' | 'crash';
  tw?: boolean;
  code?: string;
  message?: string;
  stack?: string;
  ms: number;
  rssMiB: number | undefined;
}

interface Reply {
  id: number;
  outcome: 'ok' | 'error';
  tw?: boolean;
  code?: string;
  message?: string;
  stack?: string;
  ms: number;
  rssKiB: number;
  /** the peak was reset before the case (else it is the runner's peak so far) */
  rssReset: boolean;
}

class Runner {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;

  private start(): Promise<void> {
    const child = fork(RUNNER, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
    child.stderr?.resume();
    this.child = child;
    this.ready = new Promise((resolve, reject) => {
      const onMsg = (m: { ready?: boolean }) => {
        if (m.ready) {
          child.off('message', onMsg);
          resolve();
        }
      };
      child.on('message', onMsg);
      child.once('exit', (code, sig) => reject(new Error(`fuzz runner exited before it was ready (${sig ?? code})`)));
    });
    return this.ready;
  }

  stop(): void {
    this.child?.kill('SIGKILL');
    this.child = undefined;
    this.ready = undefined;
  }

  async run(id: number, path: string, op: string, timeoutMs: number): Promise<Reply | 'timeout' | { crash: string }> {
    if (!this.child) await this.start();
    else await this.ready;
    const child = this.child!;
    return new Promise((resolve) => {
      const done = (r: Reply | 'timeout' | { crash: string }) => {
        clearTimeout(timer);
        child.off('message', onMsg);
        child.off('exit', onExit);
        resolve(r);
      };
      const onMsg = (m: Reply) => {
        if (m.id === id) done(m);
      };
      const onExit = (code: number | null, sig: string | null) => {
        this.child = undefined;
        done({ crash: `the runner died (${sig ?? `exit ${code}`})` });
      };
      const timer = setTimeout(() => {
        this.stop();
        done('timeout');
      }, timeoutMs);
      child.on('message', onMsg);
      child.once('exit', onExit);
      child.send({ id, path, op });
    });
  }
}

/** Run every case with `parallel` runners; returns one result per case, in case order. */
export async function runCases(dir: string, cases: readonly FuzzCase[], opts: { parallel: number; timeoutMs: number; rssMiB: number }): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array(cases.length);
  let next = 0;
  const worker = async (w: number) => {
    const runner = new Runner();
    const path = join(dir, `case-${w}.dat`);
    try {
      for (;;) {
        const i = next++;
        if (i >= cases.length) return;
        const c = cases[i]!;
        writeFileSync(path, c.bytes);
        const start = Date.now();
        const r = await runner.run(i, path, c.op, opts.timeoutMs);
        const base = { index: i, name: c.name, op: c.op };
        if (r === 'timeout') {
          results[i] = { ...base, outcome: 'timeout', ms: Date.now() - start, rssMiB: undefined };
        } else if ('crash' in r) {
          results[i] = { ...base, outcome: 'crash', message: r.crash, ms: Date.now() - start, rssMiB: undefined };
        } else {
          const rssMiB = r.rssKiB / 1024;
          results[i] = { ...base, outcome: r.outcome, ...(r.tw !== undefined ? { tw: r.tw } : {}), ...(r.code !== undefined ? { code: r.code } : {}), ...(r.message !== undefined ? { message: r.message } : {}), ...(r.stack !== undefined ? { stack: r.stack } : {}), ms: r.ms, rssMiB };
          // where the peak cannot be reset per case it only grows: a runner near the bound is
          // replaced, so the next case is measured afresh
          if (!r.rssReset && rssMiB > opts.rssMiB * 0.8) runner.stop();
        }
      }
    } finally {
      runner.stop();
    }
  };
  await Promise.all(Array.from({ length: opts.parallel }, (_, w) => worker(w)));
  return results;
}
