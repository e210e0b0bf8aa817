/**
 * One configured watch inside tw serve's shared session. The watch runs in a WatchSession next to
 * the others, so what would end the whole session in `tw watch` must end only this watch here:
 *  - ctx.stop() (a watch that answered its question, e.g. who-killed without keep-going) stops
 *    this watch's handlers; the session and the other watches go on. Its end() runs, and its
 *    result is logged, when the session ends (SIGTERM, or a reload that removes it);
 *  - a handler that throws (or an async one that rejects) fails this watch only: logged as an
 *    error, counted in tw_watch_errors_total, its handlers stopped;
 *  - across a reload that restarts the session, a watch whose entry did not change keeps its
 *    state: its end() is not called, its state() and start() are not called again, and the new
 *    session's handlers get the old state.
 * It wraps the watch's hooks (the same object for every hook: the context the session gives,
 * with stop/keepGoing/alert of its own) and measures the time its handlers take.
 */
import { performance } from 'node:perf_hooks';
import type { Alert, AnyWatch, WatchContext, WatchRun } from '@tw/core';
import type { ServeWatchConfig } from './config.js';

// the watch's own arg and state types are opaque here
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ctx = WatchContext<any, any>;

export interface SlotHooks {
  log(level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>): void;
  /** an alert this watch raised (before the session's onAlert sees it) */
  alerting(slot: WatchSlot): void;
  stopped(slot: WatchSlot, why: 'stop' | 'error'): void;
}

export class WatchSlot {
  stopped = false;
  failed = false;
  /** seconds in this watch's handlers, all sessions together */
  seconds = 0;
  /** set before a reload's restart: the watch goes on in the next session (no end(), state kept) */
  continues = false;
  /** the state to start the next session with (set when the session ended with `continues`) */
  private carried: { state: unknown } | undefined;
  private ctx: Ctx | undefined;
  private readonly views = new WeakMap<Ctx, Ctx>();

  constructor(
    readonly entry: ServeWatchConfig,
    readonly watch: AnyWatch,
    readonly args: Record<string, unknown>,
    private readonly hooks: SlotHooks,
  ) {}

  get id(): string {
    return this.entry.id;
  }

  /** The same watch, same args and keep-going: a reload keeps this slot (and its state). */
  sameAs(e: ServeWatchConfig): boolean {
    return e.id === this.entry.id && e.watch === this.entry.watch && e.keepGoing === this.entry.keepGoing && JSON.stringify(e.args) === JSON.stringify(this.entry.args);
  }

  /** The context this watch's hooks see (one per session context). */
  private view(ctx: Ctx): Ctx {
    let v = this.views.get(ctx);
    if (v === undefined) {
      v = Object.create(ctx) as Ctx;
      const slot = this;
      Object.defineProperties(v, {
        keepGoing: { value: this.entry.keepGoing, enumerable: true },
        stop: {
          value: () => {
            if (slot.stopped) return;
            slot.stopped = true;
            slot.hooks.stopped(slot, 'stop');
          },
        },
        alert: {
          value: (message: string, opts?: Parameters<Ctx['alert']>[1]) => {
            slot.hooks.alerting(slot);
            ctx.alert(message, opts);
          },
        },
      });
      this.views.set(ctx, v);
      this.ctx = v;
    }
    return v;
  }

  private fail(hook: string, err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.stopped = true;
    this.hooks.log('error', 'watch failed; it is stopped, the other watches go on', { watch: this.id, hook, error: err instanceof Error ? err.message : String(err) });
    this.hooks.stopped(this, 'error');
  }

  /** A hook's result: a promise's rejection fails this watch (not the session). */
  private settle(hook: string, r: unknown): void {
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      (r as PromiseLike<unknown>).then(undefined, (err: unknown) => this.fail(hook, err));
    }
  }

  /** The run to give the next session. */
  run(): WatchRun & { id: string } {
    const w = this.watch;
    const slot = this;
    // (kept until the session starts the watch: a session that fails before leaves it for the next)
    const carried = this.carried;
    this.continues = false;
    const on: Record<string, (e: unknown, ctx: Ctx) => unknown> = {};
    for (const [pattern, handler] of Object.entries(w.on as Record<string, (e: unknown, ctx: Ctx) => unknown>)) {
      on[pattern] = (e, ctx) => {
        if (slot.stopped) return undefined;
        const t0 = performance.now();
        try {
          slot.settle(`'${pattern}'`, handler(e, slot.view(ctx)));
        } catch (err) {
          slot.fail(`'${pattern}'`, err);
        } finally {
          slot.seconds += (performance.now() - t0) / 1000;
        }
        return undefined;
      };
    }
    const wrapped: AnyWatch = {
      ...w,
      state: (args: unknown) => (carried ? carried.state : w.state?.(args as never)),
      start: (ctx: Ctx) => {
        const v = slot.view(ctx);
        if (slot.carried === carried) slot.carried = undefined;
        if (carried || slot.stopped) return undefined;
        try {
          slot.settle('start', w.start?.(v));
        } catch (err) {
          slot.fail('start', err);
        }
        return undefined;
      },
      on,
      end: (ctx: Ctx) => {
        const v = slot.view(ctx);
        if (slot.continues) {
          slot.carried = { state: v.state };
          return undefined;
        }
        try {
          const result: unknown = w.end?.(v);
          slot.settle('end', result);
          slot.hooks.log('info', 'watch result', { watch: slot.id, result: jsonSafe(result) });
        } catch (err) {
          slot.fail('end', err);
        }
        return undefined;
      },
    } as AnyWatch;
    return { watch: wrapped, args: this.args, keepGoing: this.entry.keepGoing, id: this.id };
  }

  /** for tests and logs: the state the watch has now */
  get state(): unknown {
    return this.ctx?.state;
  }
}

/** A result as JSON-able data (bigints as strings, Maps as objects). */
export function jsonSafe(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x instanceof Map ? Object.fromEntries(x) : x instanceof Set ? [...x] : x)) as string);
}

/** The alert's watch id, for the alert sinks (set while the watch's ctx.alert runs). */
export type AlertWithId = Alert & { watchId?: string };
