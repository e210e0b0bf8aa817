/**
 * Finding tracefs and checking that we may use it. tw only ever writes inside its own
 * instances (instances/tw-<pid>-<n>); it never changes the top-level buffer's settings.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { TwError } from '../errors.js';

const CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** The tracefs mount point; mounts it at /sys/kernel/tracing when it is not mounted yet. */
export function findTracefs(opts: { mount?: boolean } = {}): string {
  for (const dir of CANDIDATES) if (existsSync(`${dir}/instances`)) return dir;
  if (process.getuid?.() !== 0 && existsSync('/sys/kernel/tracing')) {
    try {
      accessSync('/sys/kernel/tracing', constants.R_OK | constants.X_OK);
    } catch {
      throw new TwError('NO_PERMISSION', 'tracing the live kernel needs root: /sys/kernel/tracing is readable by root only (run with sudo, or replay a recording with --input FILE)');
    }
  }
  if (opts.mount !== false && existsSync('/sys/kernel/tracing')) {
    try {
      execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'pipe' });
    } catch (e) {
      const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
      throw new TwError('NO_TRACEFS', `tracefs is not mounted at /sys/kernel/tracing and mounting it failed (${why}); as root: mount -t tracefs nodev /sys/kernel/tracing`, { cause: e });
    }
    if (existsSync('/sys/kernel/tracing/instances')) return '/sys/kernel/tracing';
  }
  throw new TwError('NO_TRACEFS', 'tracefs is not available: this kernel has no /sys/kernel/tracing (CONFIG_TRACING off?), or it cannot be mounted here');
}

/** Throws NO_PERMISSION unless we can create instances. */
export function checkTracefsAccess(root: string): void {
  try {
    accessSync(`${root}/instances`, constants.W_OK);
  } catch {
    throw new TwError('NO_PERMISSION', `tracing the live kernel needs root: tw creates its own tracefs instance in ${root}/instances (run with sudo, or replay a recording with --input FILE)`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0) {
    // tracefs may grant write access by mode bits without the capabilities the kernel checks
    // on some files; say so early instead of failing half-way.
    try {
      accessSync(`${root}/instances`, constants.W_OK | constants.X_OK);
    } catch {
      throw new TwError('NO_PERMISSION', `tracing the live kernel needs root (uid ${uid} cannot write ${root}/instances)`);
    }
  }
}

export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new TwError('TRACEFS', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}
