/**
 * Where kprobe-gen keeps what it makes (built modules, compiled unpackers), and the temporary
 * directory an entry is written in before it is renamed into place.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** $XDG_CACHE_HOME/tw/<kind> (~/.cache/tw/<kind>). */
export function twCacheDir(kind: string): string {
  const base = process.env.XDG_CACHE_HOME && process.env.XDG_CACHE_HOME !== '' ? process.env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'tw', kind);
}

/** A fresh sibling of a cache entry to build it in (renamed to the entry when complete). */
export function workDirFor(entry: string): string {
  return `${entry}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
