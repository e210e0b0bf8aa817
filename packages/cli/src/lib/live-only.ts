/**
 * The options of live commands that only mean something when tracing the live kernel, checked
 * before anything starts: --duration must be a valid duration wherever it is given, and with
 * --input (a recording, replayed whole) a live-only option is an error instead of being ignored;
 * without it, -B/--buffer (a recording's buffer) is.
 */
import { TwError, quoted } from '@tw/core';
import { liveFlags, parseDuration } from './live.js';

/** The flags every live command shares (--duration, --clock, --buffer-kb, --latency, --backend, --rt-readers). */
export const LIVE_ONLY_FLAGS: readonly string[] = Object.keys(liveFlags);

/**
 * `raw`: oclif's parse tokens (`this.parse()`'s `raw`), which name only the flags written on the
 * command line (not those set from their defaults). `extra`: the command's own live-only flags.
 */
export function checkLiveOnlyFlags(
  flags: { input?: string | undefined; duration?: string | undefined; buffer?: readonly string[] | undefined },
  raw: ReadonlyArray<{ type: string; flag?: string }>,
  extra: readonly string[] = [],
): void {
  parseDuration(flags.duration);
  if (flags.input === undefined) {
    // -B picks among a recording's buffers; live, tw traces its own instance and nothing else
    if (flags.buffer !== undefined && flags.buffer.length > 0) {
      throw new TwError('BAD_ARGUMENT', `-B/--buffer ${flags.buffer.map((b) => quoted(b)).join(', ')} selects buffers of a recording (with --input); live, tw traces its own instance and no other`);
    }
    return;
  }
  const liveOnly = new Set([...LIVE_ONLY_FLAGS, ...extra]);
  const given = [...new Set(raw.flatMap((t) => (t.type === 'flag' && t.flag !== undefined && liveOnly.has(t.flag) ? [t.flag] : [])))];
  if (given.length === 0) return;
  throw new TwError('BAD_ARGUMENT', `${given.map((f) => `--${f}`).join(', ')} ${given.length === 1 ? 'applies' : 'apply'} to live tracing, not to a recording given with --input`);
}
