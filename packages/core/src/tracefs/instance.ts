/**
 * A private tracefs instance (instances/tw-<pid>-<n>): its own ring buffers, clock, buffer
 * size, enabled events and filters. Created by a live session and removed on every exit path;
 * instances left by tw processes that no longer exist (kill -9) are removed by the next run.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { TwError } from '../errors.js';
import { globToRegExp } from '../format/registry.js';
import { readText } from './tracefs.js';

export interface InstanceOptions {
  clock?: string;
  bufferKb?: number;
  /** name prefix (default "tw") */
  prefix?: string;
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

/** tw-<pid>-<n> names whose pid no longer exists. */
export function staleInstances(root: string, prefix = 'tw'): string[] {
  const dir = `${root}/instances`;
  const re = new RegExp(`^${prefix}-(\\d+)-\\d+$`);
  const out: string[] = [];
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
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
  for (const name of staleInstances(root, prefix)) {
    try {
      rmdirSync(`${root}/instances/${name}`);
      removed.push(name);
    } catch {
      // busy or already gone: the next run tries again
    }
  }
  return removed;
}

export class Instance {
  readonly dir: string;
  private removed = false;

  private constructor(
    readonly root: string,
    readonly name: string,
  ) {
    this.dir = `${root}/instances/${name}`;
  }

  static create(root: string, opts: InstanceOptions = {}): Instance {
    const prefix = opts.prefix ?? 'tw';
    let name: string;
    do name = `${prefix}-${process.pid}-${seq++}`;
    while (existsSync(`${root}/instances/${name}`));
    const inst = new Instance(root, name);
    try {
      // mkdir in tracefs creates the instance
      mkdirSync(inst.dir);
    } catch (e) {
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

  path(rel: string): string {
    return `${this.dir}/${rel}`;
  }

  read(rel: string): string {
    return readText(this.path(rel));
  }

  write(rel: string, value: string): void {
    try {
      writeFileSync(this.path(rel), value);
    } catch (e) {
      throw new TwError('TRACEFS', `cannot write '${value.trim()}' to ${this.path(rel)}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The clocks the kernel offers, and the current one. */
  clocks(): { current: string; available: string[] } {
    const text = this.read('trace_clock').trim();
    const available = text.split(/\s+/).map((c) => c.replace(/[[\]]/g, ''));
    const current = /\[([^\]]+)\]/.exec(text)?.[1] ?? available[0] ?? 'local';
    return { current, available };
  }

  setClock(clock: string): void {
    const { available } = this.clocks();
    if (!available.includes(clock)) {
      throw new TwError('BAD_ARGUMENT', `trace clock '${clock}' is not offered by this kernel (available: ${available.join(', ')})`);
    }
    this.write('trace_clock', clock);
  }

  /** CPUs with a per_cpu directory in this instance (the possible CPUs). */
  cpus(): number[] {
    return readdirSync(this.path('per_cpu'))
      .map((d) => /^cpu(\d+)$/.exec(d)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** Bytes per sub-buffer: buffer_subbuf_size_kb where the kernel has it, else `fallback`. */
  subbufSize(fallback: number): number {
    if (existsSync(this.path('buffer_subbuf_size_kb'))) return Number(this.read('buffer_subbuf_size_kb').trim()) * 1024;
    return fallback;
  }

  /**
   * Expand event patterns (system:event, globs, "*") against this kernel's events.
   * Unknown events are an error naming the pattern (and a few similar names).
   */
  expandEvents(patterns: readonly string[]): Array<{ system: string; name: string }> {
    // "a|b": the first alternative this kernel has (e.g. raw_syscalls, else syscalls:*)
    const resolved = patterns.map((p) => {
      if (!p.includes('|')) return p;
      const alts = p.split('|');
      for (const alt of alts) {
        try {
          this.expandEvents([alt]);
          return alt;
        } catch {
          // try the next alternative
        }
      }
      throw new TwError('UNKNOWN_EVENT', `this kernel has none of the events ${alts.join(', ')}`);
    });
    return this.expandPlain(resolved);
  }

  private expandPlain(patterns: readonly string[]): Array<{ system: string; name: string }> {
    const systems = readdirSync(this.path('events')).filter((s) => statSync(this.path(`events/${s}`)).isDirectory());
    const want = (p: string) => p === '*' || p.includes(':');
    for (const p of patterns) {
      if (!want(p)) throw new TwError('UNKNOWN_EVENT', `event '${p}' must be written as system:event (for example sched:sched_switch)`);
    }
    // an event is a directory with an enable file (the system directory has one too: skip files)
    const list = (sys: string) =>
      readdirSync(this.path(`events/${sys}`)).filter((e) => existsSync(this.path(`events/${sys}/${e}/enable`)));
    const out = new Map<string, { system: string; name: string }>();
    for (const p of patterns) {
      const re = p === '*' ? /^/ : globToRegExp(p);
      const [psys] = p.split(':');
      let matched = 0;
      for (const sys of systems) {
        if (p !== '*' && psys !== undefined && !globToRegExp(psys).test(sys)) continue;
        for (const ev of list(sys)) {
          const full = `${sys}:${ev}`;
          if (p === '*' || re.test(full)) {
            out.set(full, { system: sys, name: ev });
            matched++;
          }
        }
      }
      if (matched === 0) {
        const sysName = psys ?? '';
        const near = systems.includes(sysName) ? list(sysName).slice(0, 8).map((e) => `${sysName}:${e}`) : systems.filter((s) => s.startsWith(sysName.slice(0, 3))).slice(0, 8);
        throw new TwError('UNKNOWN_EVENT', `this kernel has no event '${p}'${near.length ? ` (similar: ${near.join(', ')})` : ''}; see ${this.root}/available_events`);
      }
    }
    return [...out.values()];
  }

  enableEvent(system: string, name: string): void {
    this.write(`events/${system}/${name}/enable`, '1');
  }

  /** Enable a list of events: whole systems (or everything) with one write where possible. */
  enableEvents(events: ReadonlyArray<{ system: string; name: string }>): void {
    const bySystem = new Map<string, string[]>();
    for (const e of events) bySystem.set(e.system, [...(bySystem.get(e.system) ?? []), e.name]);
    for (const [sys, names] of bySystem) {
      const all = readdirSync(this.path(`events/${sys}`)).filter((e) => existsSync(this.path(`events/${sys}/${e}/enable`)));
      if (names.length === all.length) this.write(`events/${sys}/enable`, '1');
      else for (const n of names) this.enableEvent(sys, n);
    }
  }

  /**
   * Push a filter into the kernel. On a syntax error the kernel writes the reason to
   * error_log: quote it.
   */
  setFilter(system: string, name: string, expr: string): void {
    const file = `events/${system}/${name}/filter`;
    try {
      writeFileSync(this.path('error_log'), '');
    } catch {
      // older kernels have no error_log
    }
    try {
      writeFileSync(this.path(file), expr);
    } catch (e) {
      let why = '';
      try {
        why = this.read('error_log').trim().split('\n').slice(-3).map((l) => l.trim()).join(' | ');
      } catch {
        // no error_log
      }
      throw new TwError('BAD_FILTER', `the kernel rejected the filter '${expr}' for ${system}:${name}${why ? `: ${why}` : `: ${(e as Error).message}`}`, { cause: e });
    }
  }

  /**
   * Do not record events of these tasks (set_event_notrace_pid, kernel >= 5.8); where the
   * kernel lacks it, a `common_pid != N` filter on each enabled event would be needed instead.
   */
  excludePids(pids: readonly number[]): boolean {
    if (!existsSync(this.path('set_event_notrace_pid'))) return false;
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
      this.removed = true;
      live.delete(this);
      return true;
    }
    try {
      writeFileSync(this.path('tracing_on'), '0');
      writeFileSync(this.path('events/enable'), '0');
    } catch {
      // best effort: rmdir removes the events with the instance anyway
    }
    try {
      rmdirSync(this.dir);
      this.removed = true;
      live.delete(this);
      return true;
    } catch {
      return false;
    }
  }
}

