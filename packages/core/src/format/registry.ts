/**
 * The set of event formats known to a trace (from a trace.dat file or a live tracefs), indexed by
 * the kernel's numeric event id (the record's common_type) and by "system:name".
 */
import { TwError } from '../errors.js';
import type { EventFormat } from './parse-format.js';

export class FormatRegistry {
  private readonly byIdArr: (EventFormat | undefined)[] = [];
  private readonly byIdMap = new Map<number, EventFormat>();
  private readonly byName = new Map<string, EventFormat>();

  add(f: EventFormat): void {
    if (f.id < 65536) this.byIdArr[f.id] = f;
    this.byIdMap.set(f.id, f);
    this.byName.set(f.fullName, f);
  }

  private readonly broken = new Map<number, Error>();

  /**
   * Remember a format that did not parse: the trace stays readable, and the error is raised
   * when (if ever) a record of that event is met.
   */
  addBroken(id: number, error: Error, where = ''): void {
    this.broken.set(id, error);
    this.brokenAt.set(id, where);
  }

  private readonly brokenAt = new Map<number, string>();

  /** Where the format that did not parse came from (for messages). */
  brokenWhere(id: number): string | undefined {
    return this.brokenAt.get(id);
  }

  brokenError(id: number): Error | undefined {
    return this.broken.get(id);
  }

  /** The format for a common_type value, or undefined. */
  get(id: number): EventFormat | undefined {
    return this.byIdArr[id];
  }

  byFullName(name: string): EventFormat | undefined {
    return this.byName.get(name);
  }

  all(): EventFormat[] {
    return [...this.byIdMap.values()].sort((a, b) => a.id - b.id);
  }

  get size(): number {
    return this.byIdMap.size;
  }

  /**
   * Formats matching a pattern: "system:event", "system:*", "system:prefix*" or "*".
   * A pattern that matches nothing returns an empty list.
   */
  match(pattern: string): EventFormat[] {
    if (pattern === '*' || pattern === '*:*') return this.all();
    const colon = pattern.indexOf(':');
    if (colon < 0) throw new TwError('UNKNOWN_EVENT', `event '${pattern}' must be written as system:event (for example sched:sched_switch)`);
    const re = globToRegExp(pattern);
    return this.all().filter((f) => re.test(f.fullName));
  }
}

export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}
