// Locating (and if necessary mounting) tracefs, and deciding whether the kernel
// tests can run on this machine at all.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const DEFAULT_MOUNT = '/sys/kernel/tracing';

/** Mount points of tracefs (or of debugfs' tracing directory) listed in /proc/mounts. */
function mountedTracefs(): string | undefined {
  let mounts: string;
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return undefined;
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  let viaDebugfs: string | undefined;
  for (const line of mounts.split('\n')) {
    const parts = line.split(' ');
    const dir = parts[1];
    const type = parts[2];
    if (dir === undefined || type === undefined) continue;
    const path = unescape(dir);
    if (type === 'tracefs' && isTracefsDir(path)) return path;
    if (type === 'debugfs' && isTracefsDir(join(path, 'tracing'))) viaDebugfs ??= join(path, 'tracing');
  }
  return viaDebugfs;
}

function isTracefsDir(dir: string): boolean {
  try {
    return statSync(join(dir, 'trace')).isFile() && existsSync(join(dir, 'events'));
  } catch {
    return false;
  }
}

/** The tracefs directory if it is mounted, else undefined (never mounts). */
export function findTracefs(): string | undefined {
  return mountedTracefs();
}

/**
 * The tracefs directory, mounting tracefs at /sys/kernel/tracing when it is not
 * mounted anywhere. Throws with a reason when that is impossible.
 */
export function ensureTracefs(): string {
  const found = mountedTracefs();
  if (found) return found;
  if (!isRoot()) throw new Error('tracefs is not mounted and mounting it needs root');
  if (!existsSync(DEFAULT_MOUNT)) throw new Error(`${DEFAULT_MOUNT} does not exist (kernel without tracefs?)`);
  const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', DEFAULT_MOUNT], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`mount -t tracefs nodev ${DEFAULT_MOUNT} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  }
  const after = mountedTracefs();
  if (!after) throw new Error('tracefs mounted but not usable');
  return after;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Path of an executable on $PATH, or undefined. */
export function which(cmd: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      const st = statSync(p);
      if (st.isFile() && (st.mode & 0o111) !== 0) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

let cachedReason: string | null | undefined;

/**
 * Why the kernel tests cannot run here, or undefined when they can.
 * (Not root, no tracefs, no trace-cmd, no instances or syscall events, no taskset.)
 */
export function skipReason(): string | undefined {
  if (cachedReason !== undefined) return cachedReason ?? undefined;
  cachedReason = computeSkipReason() ?? null;
  return cachedReason ?? undefined;
}

function computeSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (!isRoot()) return 'not running as root (tracefs instances need root)';
  let dir: string;
  try {
    dir = ensureTracefs();
  } catch (e) {
    return `no tracefs: ${(e as Error).message}`;
  }
  if (!existsSync(join(dir, 'instances'))) return `${dir}/instances missing (kernel too old for tracefs instances)`;
  if (!existsSync(join(dir, 'events', 'raw_syscalls'))) return 'kernel has no syscall trace events (CONFIG_FTRACE_SYSCALLS)';
  if (!which('trace-cmd')) return 'trace-cmd is not installed';
  const v = spawnSync('trace-cmd', ['--version'], { encoding: 'utf8' });
  if (v.error) return `trace-cmd cannot run: ${v.error.message}`;
  if (!which('taskset')) return 'taskset (util-linux) is not installed';
  return undefined;
}

/** Names of the tracefs instances whose name starts with `prefix`. */
export function listInstances(prefix = ''): string[] {
  const dir = findTracefs();
  if (!dir) return [];
  try {
    return readdirSync(join(dir, 'instances')).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Contents of the top-level set_event (enabled events), one per line. */
export function topLevelEnabledEvents(): string[] {
  const dir = findTracefs();
  if (!dir) return [];
  return readFileSync(join(dir, 'set_event'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}
