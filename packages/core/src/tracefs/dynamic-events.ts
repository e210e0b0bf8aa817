/**
 * Dynamic events at the tracefs top level: kprobe events (kprobe_events) and whatever else
 * dynamic_events lists (event probes attached to other events). Definitions are always appended
 * — a truncating write would delete every dynamic event on the system — and a rejected write
 * is reported with the kernel's error_log.
 */
import { TwError } from '../errors.js';
import { disableEverywhere } from './events.js';
import { TracefsDir, Tracefs } from './tracefs.js';

const KPROBE_EVENTS = 'kprobe_events';
const DYNAMIC_EVENTS = 'dynamic_events';

function topOf(root: string | Tracefs): Tracefs {
  return typeof root === 'string' ? new Tracefs(root) : root;
}

function withLog(top: Tracefs, message: string, e: unknown, suffix = ''): TwError {
  const log = top.errorLogTail(6).join('\n');
  return new TwError('PROBE_REJECTED', `${message}: ${(e as Error).message}${suffix}${log ? `\nerror_log:\n${log}` : ''}`, { cause: e });
}

/** Does this kernel have kprobe events (kprobe_events in tracefs)? */
export function hasKprobeEvents(root: string | Tracefs): boolean {
  return topOf(root).exists(KPROBE_EVENTS);
}

/** The kprobe_events file's path (for messages and tools). */
export function kprobeEventsPath(root: string | Tracefs): string {
  return topOf(root).path(KPROBE_EVENTS);
}

/** Is a kprobe event <group>/<name> defined (a "p:" or "r:" line)? */
export function kprobeEventDefined(root: string | Tracefs, group: string, name: string): boolean {
  const text = topOf(root).readOptional(KPROBE_EVENTS) ?? '';
  const re = new RegExp(`^[pr]\\d*:${group}/${name}\\s`);
  return text.split('\n').some((l) => re.test(l));
}

/** Append a kprobe event definition; PROBE_REJECTED (quoting error_log) when the kernel refuses. */
export function addKprobeEventLine(root: string | Tracefs, line: string): void {
  const top = topOf(root);
  if (!top.exists(KPROBE_EVENTS)) throw new TwError('TRACEFS', `${top.path(KPROBE_EVENTS)} does not exist: this kernel has no kprobe events (CONFIG_KPROBE_EVENTS)`);
  try {
    top.appendRaw(KPROBE_EVENTS, line);
  } catch (e) {
    throw withLog(top, `the kernel rejected the kprobe event '${line}'`, e);
  }
}

/** Remove the kprobe event <group>/<name> ("-:group/name"); best effort when `quiet`. */
export function removeKprobeEventLine(root: string | Tracefs, group: string, name: string, quiet = false): void {
  const top = topOf(root);
  try {
    top.appendRaw(KPROBE_EVENTS, `-:${group}/${name}`);
  } catch (e) {
    if (quiet) return;
    const busy = /busy/i.test((e as Error).message) ? ' (the event is still enabled or in use somewhere)' : '';
    throw withLog(top, `could not remove the kprobe event ${group}:${name}`, e, busy);
  }
}

/**
 * Set an event's filter in the given directories (tracefs paths of the top level or instances);
 * PROBE_REJECTED (quoting error_log) when the kernel refuses it.
 */
export function setDynamicEventFilter(root: string | Tracefs, dirs: readonly string[], group: string, name: string, filter: string): void {
  const top = topOf(root);
  for (const d of dirs) {
    const dir = new TracefsDir(d);
    const rel = `events/${group}/${name}/filter`;
    try {
      dir.writeRaw(rel, filter);
    } catch (e) {
      throw withLog(top, `the kernel rejected the filter '${filter}' for ${group}:${name} (${dir.path(rel)})`, e);
    }
  }
}

/**
 * Remove the event probes attached to <group>:<event> (dynamic_events lines "e:grp/name
 * group.event …"), and disable the event at the top level and in every instance, so the event
 * can go away (the kernel refuses to remove an event, or unload its module, while it is in use).
 * Returns the removed event probes.
 */
export function detachFromEvent(root: string | Tracefs, group: string, event: string): string[] {
  const top = topOf(root);
  const removed: string[] = [];
  // no dynamic_events (old kernel): nothing can be attached
  const text = top.readOptional(DYNAMIC_EVENTS) ?? '';
  for (const line of text.split('\n')) {
    const m = /^e:(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    if (m[2]!.replace('/', '.') !== `${group}.${event}`) continue;
    try {
      top.appendRaw(DYNAMIC_EVENTS, `-:${m[1]!}`);
      removed.push(m[1]!);
    } catch (e) {
      const log = top.errorLogTail(6).join('\n');
      throw new TwError('PROBE_REJECTED', `could not remove the event probe ${m[1]!} attached to ${group}:${event}: ${(e as Error).message}${log ? `\n${log}` : ''}`, { cause: e });
    }
  }
  disableEverywhere(top.allDirs(), group, event);
  return removed;
}
