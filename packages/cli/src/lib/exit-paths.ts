/**
 * The ways a live command can end besides finishing, as one process-level policy (installed by
 * LiveRun for the whole command): each ends the session through its normal teardown, and
 * whatever the process cannot do any more (a forced exit, a kill, V8 out of memory) is left to
 * the guardian (@tw/core's processGuardian), which tw told of every kernel object first.
 *
 *   SIGINT/SIGTERM/SIGHUP    the first ends the session gracefully (end() runs, results print;
 *                            tw serve: SIGHUP reloads its config instead);
 *                            a second one, also during teardown, exits at once (128 + signal):
 *                            the exit hook turns the instance off, the guardian removes the rest
 *   uncaught exception,      the session fails with one `tw:` line naming the watch (and the
 *   unhandled rejection      hook, when the rejection came from an async hook), no stack trace,
 *                            exit code 6 (a watch failed; 1 for a live command without watch code)
 *   process.exit() in        throws out of the watch's code and ends the session with that exit
 *   watch code               code, after the same teardown
 *   EPIPE on stdout          the reader went away: the session ends as at a first Ctrl-C, exit 0;
 *                            on stderr: nothing more is said there
 */
import { isTwError, TwError, type WatchError } from '@tw/core';

/** Thrown out of watch code by process.exit(): it carries the exit code asked for. */
export class ExitCall extends Error {
  constructor(readonly exitCode: number) {
    super(`it called process.exit(${exitCode})`);
    this.name = 'ExitCall';
  }
}

/** The ExitCall behind an error (itself, or the cause of the WatchError that wraps it). */
export function exitCallOf(err: unknown): ExitCall | undefined {
  if (err instanceof ExitCall) return err;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause instanceof ExitCall ? cause : undefined;
}

/** The one line tw says when watch code called process.exit(). */
export function exitCallMessage(err: unknown, call: ExitCall): string {
  const how = `tw removed what it had set up in the kernel and exits with ${call.exitCode} (a watch ends itself with ctx.stop())`;
  if (err instanceof ExitCall) return `a watch called process.exit(${call.exitCode}) outside its handlers; ${how}`;
  return `${(err as WatchError).message}; ${how}`;
}

const SIGNAL_NUMBER: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

export interface ExitPathHooks {
  /** the watch whose code runs in this process (undefined: no user code, e.g. tw dump) */
  watch: string | undefined;
  /** end the session gracefully (a first signal, a closed stdout) */
  end(reason: string): void;
  /** fail the session with this error (after its teardown) */
  fail(err: Error): void;
  /** is the session already ending (gracefully or not)? */
  ending(): boolean;
  /** before a forced exit (flush what can be flushed) */
  onForce(): void;
  /** SIGHUP reloads (tw serve) instead of ending the session: it never forces an exit */
  reload?(): void;
}

/** process.exit as Node has it (tw's own forced exits use it while watch code cannot). */
const realExit = process.exit.bind(process);

/**
 * Installs the exit paths; dispose() takes them away again (after the command's teardown: later
 * errors and exits then take Node's usual course, with nothing of tw's left in the kernel).
 */
export class ExitPaths {
  /** a failure that came while the session was already ending: the command reports it at the end */
  lateFailure: Error | undefined;
  private disposed = false;
  private readonly off: Array<() => void> = [];

  constructor(private readonly h: ExitPathHooks) {
    this.listen(process, 'SIGINT', () => this.signal('SIGINT'));
    this.listen(process, 'SIGTERM', () => this.signal('SIGTERM'));
    this.listen(process, 'SIGHUP', () => (h.reload ? h.reload() : this.signal('SIGHUP')));
    this.listen(process, 'uncaughtException', (err: unknown) => this.fatal(err, 'an uncaught exception'));
    this.listen(process, 'unhandledRejection', (err: unknown) => this.fatal(err, 'an unhandled promise rejection'));
    this.listen(process.stdout, 'error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED' ? h.end('stdout closed') : this.fatal(err, 'a failed write to stdout')));
    // a closed stderr: nothing more can be said there, the run goes on
    this.listen(process.stderr, 'error', () => undefined);
    if (h.watch !== undefined) {
      const saved = process.exit;
      process.exit = ((code?: number | string | null) => {
        const n = Number(code ?? process.exitCode ?? 0);
        const call = new ExitCall(Number.isInteger(n) ? n : 1);
        // deferred: thrown inside a handler, the session fails first with the WatchError that
        // names the handler; from a timer, this ends it
        setImmediate(() => h.fail(call));
        throw call;
      }) as typeof process.exit;
      this.off.push(() => (process.exit = saved));
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private listen(target: NodeJS.EventEmitter, event: string, f: (...args: any[]) => void): void {
    target.on(event, f);
    this.off.push(() => target.off(event, f));
  }

  private signal(sig: NodeJS.Signals): void {
    if (!this.h.ending()) {
      this.h.end(sig);
      return;
    }
    // a second one: out now. The exit hook turns the instance off (and removes it when the
    // readers let it); the guardian removes what is left once this process is gone.
    this.h.onForce();
    realExit(128 + (SIGNAL_NUMBER[sig] ?? 15));
  }

  /** An error nothing caught: the session fails with one line that says whose it was. */
  private fatal(err: unknown, what: string): void {
    if (exitCallOf(err) !== undefined) return; // process.exit() in watch code: already on its way
    const failure = describe(err, what, this.h.watch);
    if (!this.h.ending()) this.h.fail(failure);
    else this.lateFailure ??= failure;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const f of this.off.splice(0)) f();
  }
}

/** A tw error for something thrown or rejected outside tw's own error handling. */
export function describe(err: unknown, what: string, watch: string | undefined): Error {
  if (isTwError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (watch !== undefined) return new TwError('WATCH_FAILED', `watch '${watch}' failed: ${what} outside its handlers: ${message}`, { cause: err });
  return new TwError('INTERNAL', `${what}: ${message}`, { cause: err });
}
