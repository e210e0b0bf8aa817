/**
 * A private tracefs instance (instances/tw-<pid>-<n>): its own ring buffers, clock, buffer
 * size, enabled events and filters. Created by a live session and removed on every exit path;
 * the process's guardian (guardian.ts) is told of it before it exists and removes it when the
 * process dies first (kill -9, out of memory); one left anyway (a guardian that could not run)
 * is removed by the next run.
 */
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { TwError } from '../errors.js';
import { enableEvents, expandEvents, setEventFilter, type EventName } from './events.js';
import { processGuardian, type ObjectGuard } from './guardian.js';
import { Tracefs, TracefsDir } from './tracefs.js';

export interface InstanceOptions {
  clock?: string;
  bufferKb?: number;
  /** name prefix (default "tw") */
  prefix?: string;
  /**
   * who removes the instance if this process dies before it can (default: the process's
   * guardian, started on first use; see guardian.ts)
   */
  guard?: ObjectGuard;
}

export interface CpuStats {
  cpu: number;
  entries: number;
  overrun: number;
  commitOverrun: number;
  dropped: number;
  readEvents: number;
}

const live = new Set<Instance>();
let seq = 0;
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort on process exit (sync only): whatever was not torn down properly.
  process.on('exit', () => {
    for (const inst of live) inst.removeSync();
  });
}

/** The instances tw created in this process that still exist (for teardown on forced exits). */
export function liveInstances(): readonly Instance[] {
  return [...live];
}

/** tw-<pid>-<n> names whose pid no longer exists. */
export function staleInstances(root: string, prefix = 'tw'): string[] {
  const re = new RegExp(`^${prefix}-(\\d+)-\\d+$`);
  const out: string[] = [];
  for (const name of new Tracefs(root).instanceNames()) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') out.push(name);
    }
  }
  return out;
}

/** Remove instances left behind by dead tw processes; returns their names. */
export function removeStaleInstances(root: string, prefix = 'tw'): string[] {
  const removed: string[] = [];
  const top = new Tracefs(root);
  for (const name of staleInstances(root, prefix)) {
    try {
      rmdirSync(top.instanceDir(name).dir);
      removed.push(name);
    } catch {
      // busy or already gone: the next run tries again
    }
  }
  return removed;
}

export class Instance extends TracefsDir {
  private removed = false;
  private guard: ObjectGuard | undefined;
  /** the top level of the tracefs this instance lives in */
  readonly top: Tracefs;

  private constructor(
    readonly root: string,
    readonly name: string,
  ) {
    const top = new Tracefs(root);
    super(top.instanceDir(name).dir);
    this.top = top;
  }

  static create(root: string, opts: InstanceOptions = {}): Instance {
    const prefix = opts.prefix ?? 'tw';
    const top = new Tracefs(root);
    let name: string;
    do name = `${prefix}-${process.pid}-${seq++}`;
    while (top.instanceDir(name).exists(''));
    const inst = new Instance(root, name);
    // the guardian knows of it before it exists: a kill -9 at any point after this leaves nothing
    inst.guard = opts.guard ?? processGuardian(root);
    inst.guard.hold({ kind: 'instance', name });
    try {
      // mkdir in tracefs creates the instance
      mkdirSync(inst.dir);
    } catch (e) {
      inst.guard.release({ kind: 'instance', name });
      throw new TwError('TRACEFS', `cannot create the tracefs instance ${inst.dir}: ${(e as Error).message}`, { cause: e });
    }
    live.add(inst);
    installExitHook();
    try {
      inst.write('tracing_on', '0');
      if (opts.clock) inst.setClock(opts.clock);
      if (opts.bufferKb !== undefined) inst.write('buffer_size_kb', String(opts.bufferKb));
    } catch (e) {
      inst.removeSync();
      throw e;
    }
    return inst;
  }

  setClock(clock: string): void {
    const { available } = this.clocks();
    if (!available.includes(clock)) {
      throw new TwError('BAD_ARGUMENT', `trace clock '${clock}' is not offered by this kernel (available: ${available.join(', ')})`);
    }
    this.write('trace_clock', clock);
  }

  /** The sub-buffer header layout: the instance's own events/header_page, else the top level's. */
  headerPage(): { text: string; path: string } {
    return this.ownHeaderPage() ?? { text: this.top.read('events/header_page'), path: this.top.path('events/header_page') };
  }

  /** The per-CPU ring size in KiB (buffer_size_kb). */
  bufferKb(): number {
    return Number(this.read('buffer_size_kb').trim().split(/\s+/)[0]);
  }

  /** Bytes per sub-buffer: buffer_subbuf_size_kb where the kernel has it, else `fallback`. */
  subbufSize(fallback: number): number {
    const kb = this.readOptional('buffer_subbuf_size_kb');
    if (kb !== undefined) return Number(kb.trim()) * 1024;
    return fallback;
  }

  /**
   * Expand event patterns (system:event, globs, "*", "a|b") against this kernel's events.
   * Unknown events are an error naming the pattern (and a few similar names).
   */
  expandEvents(patterns: readonly string[]): EventName[] {
    return expandEvents(this, patterns, this.top.path('available_events'));
  }

  /** Enable a list of events: whole systems with one write where possible. */
  enableEvents(events: readonly EventName[]): void {
    enableEvents(this, events);
  }

  /** Push a filter into the kernel; on a syntax error quote the kernel's reason (error_log). */
  setFilter(system: string, name: string, expr: string): void {
    setEventFilter(this, system, name, expr);
  }

  /**
   * Do not record events of these tasks (set_event_notrace_pid, kernel >= 5.8); where the
   * kernel lacks it, a `common_pid != N` filter on each enabled event would be needed instead.
   */
  excludePids(pids: readonly number[]): boolean {
    if (!this.exists('set_event_notrace_pid')) return false;
    this.write('set_event_notrace_pid', pids.join(' '));
    return true;
  }

  tracing(on: boolean): void {
    this.write('tracing_on', on ? '1' : '0');
  }

  stats(cpu: number): CpuStats {
    const text = this.read(`per_cpu/cpu${cpu}/stats`);
    const num = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return {
      cpu,
      entries: num('entries'),
      overrun: num('overrun'),
      commitOverrun: num('commit overrun'),
      dropped: num('dropped events'),
      readEvents: num('read events'),
    };
  }

  /** Events lost on all CPUs so far (overrun + dropped, as the kernel counts them). */
  lostEvents(cpus: readonly number[]): number {
    let n = 0;
    for (const c of cpus) {
      const s = this.stats(c);
      n += s.overrun + s.dropped + s.commitOverrun;
    }
    return n;
  }

  /** Stop tracing, disable everything and remove the instance (retrying while readers close). */
  async remove(): Promise<void> {
    for (let i = 0; i < 50 && !this.removed; i++) {
      if (this.removeSync()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!this.removed) throw new TwError('TRACEFS', `could not remove ${this.dir} (still busy); remove it with: rmdir ${this.dir}`);
  }

  /** One synchronous attempt; true when the instance is gone. */
  removeSync(): boolean {
    if (this.removed) return true;
    if (!existsSync(this.dir)) {
      this.gone();
      return true;
    }
    // best effort: rmdir removes the events with the instance anyway
    this.tryWrite('tracing_on', '0');
    this.tryWrite('events/enable', '0');
    try {
      rmdirSync(this.dir);
      this.gone();
      return true;
    } catch {
      return false;
    }
  }

  private gone(): void {
    this.removed = true;
    live.delete(this);
    this.guard?.release({ kind: 'instance', name: this.name });
  }
}

