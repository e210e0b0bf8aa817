/**
 * Event selection against a tracefs directory (the top level or an instance): expanding
 * patterns (system:event, globs, "*", "a|b" alternatives) into the kernel's events, enabling
 * them, and pushing kernel filters (quoting error_log when the kernel refuses one).
 */
import { TwError } from '../errors.js';
import { globToRegExp } from '../format/registry.js';
import type { TracefsDir } from './tracefs.js';

export interface EventName {
  system: string;
  name: string;
}

/**
 * Expand event patterns (system:event, globs, "*") against this directory's events. "a|b"
 * takes the first alternative the kernel has. Unknown events are an error naming the pattern
 * (and a few similar names).
 */
export function expandEvents(dir: TracefsDir, patterns: readonly string[], hint = dir.path('available_events')): EventName[] {
  const resolved = patterns.map((p) => {
    if (!p.includes('|')) return p;
    const alts = p.split('|');
    for (const alt of alts) {
      try {
        expandPlain(dir, [alt], hint);
        return alt;
      } catch {
        // try the next alternative
      }
    }
    throw new TwError('UNKNOWN_EVENT', `this kernel has none of the events ${alts.join(', ')}`);
  });
  return expandPlain(dir, resolved, hint);
}

function expandPlain(dir: TracefsDir, patterns: readonly string[], hint: string): EventName[] {
  for (const p of patterns) {
    if (p !== '*' && !p.includes(':')) throw new TwError('UNKNOWN_EVENT', `event '${p}' must be written as system:event (for example sched:sched_switch)`);
  }
  const systems = dir.eventSystems();
  const out = new Map<string, EventName>();
  for (const p of patterns) {
    const re = p === '*' ? /^/ : globToRegExp(p);
    const [psys] = p.split(':');
    let matched = 0;
    for (const sys of systems) {
      if (p !== '*' && psys !== undefined && !globToRegExp(psys).test(sys)) continue;
      for (const ev of dir.systemEvents(sys)) {
        const full = `${sys}:${ev}`;
        if (p === '*' || re.test(full)) {
          out.set(full, { system: sys, name: ev });
          matched++;
        }
      }
    }
    if (matched === 0) {
      const sysName = psys ?? '';
      const near = systems.includes(sysName) ? dir.systemEvents(sysName).slice(0, 8).map((e) => `${sysName}:${e}`) : systems.filter((s) => s.startsWith(sysName.slice(0, 3))).slice(0, 8);
      throw new TwError('UNKNOWN_EVENT', `this kernel has no event '${p}'${near.length ? ` (similar: ${near.join(', ')})` : ''}; see ${hint}`);
    }
  }
  return [...out.values()];
}

/** The events of `dir` that exist among `names` ("system:event"), silently skipping the rest. */
export function existingEvents(dir: TracefsDir, names: readonly string[]): EventName[] {
  return names
    .map((n) => n.split(':') as [string, string])
    .filter(([system, name]) => dir.hasEvent(system, name))
    .map(([system, name]) => ({ system, name }));
}

/** Enable a list of events: whole systems with one write where every event of it is wanted. */
export function enableEvents(dir: TracefsDir, events: readonly EventName[]): void {
  const bySystem = new Map<string, string[]>();
  for (const e of events) bySystem.set(e.system, [...(bySystem.get(e.system) ?? []), e.name]);
  for (const [sys, names] of bySystem) {
    if (names.length === dir.systemEvents(sys).length) dir.write(`events/${sys}/enable`, '1');
    else for (const n of names) dir.write(`events/${sys}/${n}/enable`, '1');
  }
}

/** Push a filter into the kernel; on a syntax error quote the kernel's reason (error_log). */
export function setEventFilter(dir: TracefsDir, system: string, name: string, expr: string): void {
  dir.clearErrorLog();
  try {
    dir.writeRaw(`events/${system}/${name}/filter`, expr);
  } catch (e) {
    const why = dir.errorLogTail(3).map((l) => l.trim()).join(' | ');
    throw new TwError('BAD_FILTER', `the kernel rejected the filter '${expr}' for ${system}:${name}${why ? `: ${why}` : `: ${(e as Error).message}`}`, { cause: e });
  }
}

/** Disable an event in every given directory where it is enabled (best effort). */
export function disableEverywhere(dirs: readonly TracefsDir[], system: string, name: string): void {
  for (const d of dirs) {
    const rel = `events/${system}/${name}/enable`;
    const now = d.readOptional(rel);
    if (now !== undefined && now.trim() !== '0') d.tryWrite(rel, '0');
  }
}
