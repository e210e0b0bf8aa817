/**
 * The one way tw reaches tracefs (the libtracefs model): finding and mounting it, checking that
 * we may use it, and every file read/write/append of the top level or of an instance, through
 * TracefsDir. Nothing else in tw builds a tracefs path; relay-native's reader only opens the
 * per-CPU trace_pipe_raw files of an instance directory it is given.
 *
 * tw only ever writes inside its own instances (instances/tw-<pid>-<n>) and, for dynamic probes,
 * appends to kprobe_events/dynamic_events; it never changes the top-level buffer's settings.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, appendFileSync, constants, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { TwError } from '../errors.js';

/** Where tracefs is found, in order: its own mount point, then the debugfs path. */
export const TRACEFS_MOUNTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'] as const;
const MOUNT_POINT = TRACEFS_MOUNTS[0];

/** The tracefs mount point; mounts it at /sys/kernel/tracing when it is not mounted yet. */
export function findTracefs(opts: { mount?: boolean } = {}): string {
  for (const dir of TRACEFS_MOUNTS) if (existsSync(`${dir}/instances`)) return dir;
  if (process.getuid?.() !== 0 && existsSync(MOUNT_POINT)) {
    try {
      accessSync(MOUNT_POINT, constants.R_OK | constants.X_OK);
    } catch {
      throw new TwError('NO_PERMISSION', `live tracing needs root: ${MOUNT_POINT} is readable by root only (run with sudo, or replay a recording with --input FILE)`);
    }
  }
  if (opts.mount !== false && existsSync(MOUNT_POINT)) {
    try {
      execFileSync('mount', ['-t', 'tracefs', 'nodev', MOUNT_POINT], { stdio: 'pipe' });
    } catch (e) {
      const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
      throw new TwError('NO_TRACEFS', `tracefs is not mounted at ${MOUNT_POINT} and mounting it failed (${why}); as root: mount -t tracefs nodev ${MOUNT_POINT}`, { cause: e });
    }
    if (existsSync(`${MOUNT_POINT}/instances`)) return MOUNT_POINT;
  }
  throw new TwError('NO_TRACEFS', `tracefs is not available: this kernel has no ${MOUNT_POINT} (CONFIG_TRACING off?), or it cannot be mounted here`);
}

/** The mounted tracefs, or undefined (never mounts, never throws): for read-only questions. */
export function mountedTracefs(): Tracefs | undefined {
  for (const dir of TRACEFS_MOUNTS) if (existsSync(`${dir}/events`)) return new Tracefs(dir);
  return undefined;
}

/** Throws NO_PERMISSION unless we can create instances. */
export function checkTracefsAccess(root: string): void {
  try {
    accessSync(`${root}/instances`, constants.W_OK);
  } catch {
    throw new TwError('NO_PERMISSION', `live tracing needs root: tw creates its own tracefs instance in ${root}/instances (run with sudo, or replay a recording with --input FILE)`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0) {
    // tracefs may grant write access by mode bits without the capabilities the kernel checks
    // on some files; say so early instead of failing half-way.
    try {
      accessSync(`${root}/instances`, constants.W_OK | constants.X_OK);
    } catch {
      throw new TwError('NO_PERMISSION', `live tracing needs root (uid ${uid} cannot write ${root}/instances)`);
    }
  }
}

/**
 * A tracefs directory — the top level or an instance — and its files. Reads and writes are
 * synchronous: tracefs files live in kernel memory, and each is a single small read or write.
 * Failures are TwError('TRACEFS') naming the file.
 */
export class TracefsDir {
  constructor(readonly dir: string) {}

  path(rel: string): string {
    return rel === '' ? this.dir : `${this.dir}/${rel}`;
  }

  exists(rel: string): boolean {
    return existsSync(this.path(rel));
  }

  isDir(rel: string): boolean {
    try {
      return statSync(this.path(rel)).isDirectory();
    } catch {
      return false;
    }
  }

  read(rel: string): string {
    try {
      return readFileSync(this.path(rel), 'utf8');
    } catch (e) {
      throw new TwError('TRACEFS', `cannot read ${this.path(rel)}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The file's text, or undefined when it does not exist or cannot be read. */
  readOptional(rel: string): string | undefined {
    try {
      return readFileSync(this.path(rel), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Replace the file's contents (for control files: one setting). */
  write(rel: string, value: string): void {
    try {
      writeFileSync(this.path(rel), value);
    } catch (e) {
      throw new TwError('TRACEFS', `cannot write '${value.trim()}' to ${this.path(rel)}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** One best-effort write (teardown paths): true when the kernel took it. */
  tryWrite(rel: string, value: string): boolean {
    try {
      writeFileSync(this.path(rel), value);
      return true;
    } catch {
      return false;
    }
  }

  /** Replace the file's contents; throws the raw error (callers quote the kernel's error_log). */
  writeRaw(rel: string, value: string): void {
    writeFileSync(this.path(rel), value);
  }

  /**
   * Append a line (for list files such as kprobe_events, where a truncating write would remove
   * every entry). Throws the raw error: callers quote the kernel's error_log.
   */
  appendRaw(rel: string, line: string): void {
    appendFileSync(this.path(rel), line.endsWith('\n') ? line : `${line}\n`);
  }

  /** Directory entries (empty when the directory does not exist). */
  list(rel: string): string[] {
    try {
      return readdirSync(this.path(rel));
    } catch {
      return [];
    }
  }

  /** The last lines of this directory's error_log (the kernel's reason for a rejected write). */
  errorLogTail(lines = 3): string[] {
    const text = this.readOptional('error_log')?.trimEnd() ?? '';
    if (text === '') return [];
    return text.split('\n').slice(-lines);
  }

  /** Empty the error_log, so the next failure's lines are the only ones (no-op without one). */
  clearErrorLog(): void {
    this.tryWrite('error_log', '');
  }

  /** The trace clocks offered, and the selected one ("[mono]" in trace_clock). */
  clocks(): { current: string; available: string[] } {
    const text = this.read('trace_clock').trim();
    const available = text.split(/\s+/).map((c) => c.replace(/[[\]]/g, ''));
    const current = /\[([^\]]+)\]/.exec(text)?.[1] ?? available[0] ?? 'local';
    return { current, available };
  }

  /** CPUs with a per_cpu directory (the possible CPUs), ascending. */
  cpus(): number[] {
    return this.list('per_cpu')
      .map((d) => /^cpu(\d+)$/.exec(d)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** The directory's own events/header_page when it has one (instances may), else undefined. */
  ownHeaderPage(): { text: string; path: string } | undefined {
    const text = this.readOptional('events/header_page');
    return text === undefined ? undefined : { text, path: this.path('events/header_page') };
  }

  /** An event's format file text (events/<system>/<name>/format). */
  eventFormat(system: string, name: string): { text: string; path: string } {
    const rel = `events/${system}/${name}/format`;
    return { text: this.read(rel), path: this.path(rel) };
  }

  /** Does the event exist here (events/<system>/<name>/format)? */
  hasEvent(system: string, name: string): boolean {
    return this.exists(`events/${system}/${name}/format`);
  }

  /** Event systems (directories under events/). */
  eventSystems(): string[] {
    return this.list('events').filter((s) => this.isDir(`events/${s}`));
  }

  /** The events of one system (directories with an enable file). */
  systemEvents(system: string): string[] {
    return this.list(`events/${system}`).filter((e) => this.exists(`events/${system}/${e}/enable`));
  }
}

/** The top level of tracefs: the global files, dynamic events and the list of instances. */
export class Tracefs extends TracefsDir {
  constructor(readonly root: string = findTracefs()) {
    super(root);
  }

  /** Every event this kernel offers ("system:event"), from available_events. */
  availableEvents(): string[] {
    return this.read('available_events').split('\n').filter((l) => l !== '');
  }

  /** events/header_event: the record header layout. */
  headerEvent(): { text: string; path: string } {
    return { text: this.read('events/header_event'), path: this.path('events/header_event') };
  }

  /** The kernel's saved cmdlines (pid → comm); empty when unreadable. */
  savedCmdlines(): Map<number, string> {
    const out = new Map<number, string>();
    for (const line of (this.readOptional('saved_cmdlines') ?? '').split('\n')) {
      const m = /^(\d+) (.*)$/.exec(line);
      if (m && m[2] !== '<...>') out.set(Number(m[1]), m[2]!);
    }
    return out;
  }

  /** Names of the instances (instances/<name>). */
  instanceNames(): string[] {
    return this.list('instances');
  }

  /** A named instance's directory, as a TracefsDir (it need not exist). */
  instanceDir(name: string): TracefsDir {
    return new TracefsDir(this.path(`instances/${name}`));
  }

  /** The top level and every instance: where an event's enable/filter files may be. */
  allDirs(): TracefsDir[] {
    return [this, ...this.instanceNames().map((n) => this.instanceDir(n))];
  }
}
