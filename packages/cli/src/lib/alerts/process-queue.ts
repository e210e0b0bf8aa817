/**
 * Commands run for alerts (--exec, --notify), behind one bounded queue: at most `concurrency`
 * at once, up to `queueLimit` more waiting (further ones are counted as dropped), each killed
 * after `timeoutMs`. push() only queues: a command is spawned on a later turn of the event loop,
 * so an alert never waits for a process to start, let alone finish. The first failure (a
 * command that could not start, exited non-zero, died of a signal or timed out) is said at
 * once; the rest are counted, and end() says how many, after waiting (bounded) for the
 * commands still running.
 *
 * Each command runs in its own process group (so a timeout kills what it started too, and a
 * Ctrl-C meant for tw does not reach it); tw's exit kills the groups still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ProcessJob {
  file: string;
  args: readonly string[];
  /** written to the command's stdin, which is then closed */
  input?: string;
  /** added to tw's environment */
  env?: Readonly<Record<string, string>>;
  /** names what the command ran for, in the failure message ("an alert of who-killed") */
  what: string;
}

export interface ProcessQueueOptions {
  /** names the queue in messages: "--exec" */
  label: string;
  concurrency: number;
  /** jobs that may wait for a free slot (Infinity: no bound) */
  queueLimit: number;
  timeoutMs: number;
  /** where the commands' stdout and stderr go: tw's stderr (never its stdout, which may be JSON), or nowhere */
  output: 'stderr' | 'ignore';
  /** says the first failure, at once */
  warn: (line: string) => void;
}

export interface ProcessQueueStats {
  /** commands started */
  started: number;
  /** of those: could not start, exited non-zero, died of a signal, or timed out */
  failed: number;
  /** jobs not run because `queueLimit` jobs were already waiting */
  dropped: number;
  /** jobs not run because end() stopped waiting for them */
  notRun: number;
  /** commands killed because end() stopped waiting for them */
  killedAtEnd: number;
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

export class ProcessQueue {
  private readonly waiting: ProcessJob[] = [];
  private readonly running = new Set<ChildProcess>();
  /** started or about to be (scheduled): what counts against `concurrency` */
  private active = 0;
  private stopping = false;
  /** end() gave up waiting: nothing more starts */
  private killing = false;
  private onIdle: (() => void) | undefined;
  readonly stats: ProcessQueueStats = { started: 0, failed: 0, dropped: 0, notRun: 0, killedAtEnd: 0 };
  /** at tw's exit (a forced one included), no command of ours is left running */
  private readonly killAll = (): void => {
    for (const c of this.running) killGroup(c);
  };

  constructor(readonly o: ProcessQueueOptions) {
    process.on('exit', this.killAll);
  }

  /** Queue a job; returns at once (false: dropped, the queue is full or ending). */
  push(job: ProcessJob): boolean {
    if (this.stopping) {
      this.stats.notRun++;
      return false;
    }
    if (this.active < this.o.concurrency) {
      this.active++;
      setImmediate(() => this.start(job));
      return true;
    }
    if (this.waiting.length < this.o.queueLimit) {
      this.waiting.push(job);
      return true;
    }
    this.stats.dropped++;
    return false;
  }

  get pending(): number {
    return this.active + this.waiting.length;
  }

  private start(job: ProcessJob): void {
    this.stats.started++;
    let child: ChildProcess;
    try {
      const out = this.o.output === 'stderr' ? 2 : 'ignore';
      child = spawn(job.file, [...job.args], {
        stdio: ['pipe', out, out],
        env: job.env ? { ...process.env, ...job.env } : process.env,
        detached: true,
      });
    } catch (e) {
      this.fail(job, `could not start ${job.file}: ${(e as Error).message}`);
      this.done();
      return;
    }
    this.running.add(child);
    let settled = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, this.o.timeoutMs);
    timer.unref();
    const settle = (why: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.running.delete(child);
      if (why !== undefined) this.fail(job, why);
      this.done();
    };
    child.on('error', (e) => settle(`could not start ${job.file}: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (timedOut) settle(`timed out after ${seconds(this.o.timeoutMs)} (killed)`);
      else if (signal !== null) settle(`killed by ${signal}`);
      else settle(code === 0 ? undefined : `exit status ${code}`);
    });
    // a command that does not read its stdin (or exits first) is not a failure of ours
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(job.input ?? '');
  }

  /** One slot free: the next waiting job starts (not on the alert's path: this is an exit event). */
  private done(): void {
    this.active--;
    const next = this.killing ? undefined : this.waiting.shift();
    if (next !== undefined) {
      this.active++;
      this.start(next);
    }
    if (this.active === 0 && this.waiting.length === 0) this.onIdle?.();
  }

  private fail(job: ProcessJob, why: string): void {
    this.stats.failed++;
    if (this.stats.failed === 1) this.o.warn(`tw: warning: ${this.o.label} failed for ${job.what}: ${why}; tw goes on (further failures are counted)`);
  }

  /**
   * No more jobs: wait up to `waitMs` for the running and waiting ones, then kill what still
   * runs and drop what still waits. Returns what to say on stderr: failures beyond the first,
   * dropped jobs, jobs given up on.
   */
  async end(waitMs: number): Promise<string[]> {
    this.stopping = true;
    if (this.pending > 0) {
      await new Promise<void>((resolve) => {
        const t = waitMs === Infinity ? undefined : setTimeout(resolve, waitMs);
        this.onIdle = () => {
          if (t !== undefined) clearTimeout(t);
          resolve();
        };
      });
    }
    if (this.pending > 0) {
      this.killing = true;
      this.stats.notRun += this.waiting.length;
      this.waiting.length = 0;
      this.stats.killedAtEnd = this.running.size;
      const gone = new Promise<void>((resolve) => {
        this.onIdle = resolve;
        setTimeout(resolve, 2000).unref();
      });
      this.killAll();
      if (this.active > 0) await gone;
    }
    process.off('exit', this.killAll);
    return this.summary(waitMs);
  }

  private summary(waitMs: number): string[] {
    const { label, concurrency, queueLimit } = this.o;
    const s = this.stats;
    const out: string[] = [];
    const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
    if (s.failed > 1) out.push(`tw: warning: ${label}: ${s.failed} of ${s.started} commands failed (the first is reported above)`);
    if (s.dropped > 0) out.push(`tw: warning: ${label}: ${n(s.dropped, 'alert')} not run: ${queueLimit} were already waiting (${concurrency} run at once); they are in the other outputs`);
    if (s.killedAtEnd > 0 || s.notRun > 0) {
      out.push(`tw: warning: ${label}: after the trace ended tw waited ${seconds(waitMs)}, then killed ${n(s.killedAtEnd, 'command')} still running${s.notRun > 0 ? ` and gave up ${n(s.notRun, 'waiting alert')}` : ''}`);
    }
    return out;
  }
}

/** Kill a command's process group (it leads one: spawned detached), else the command itself. */
function killGroup(c: ChildProcess): void {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
  try {
    process.kill(-c.pid, 'SIGKILL');
  } catch {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}
