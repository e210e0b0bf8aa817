/**
 * Record sources in a live session (see RecordSource in watch/record-source.ts): which event patterns they
 * satisfy instead of the kernel, the event ids the session gives their events, and their
 * formats, parsed like the kernel's.
 */
import { TwError } from '../errors.js';
import { parseEventFormat, type EventFormat } from '../format/parse-format.js';
import { globToRegExp, type FormatRegistry } from '../format/registry.js';
import type { LiveSourceInfo, RecordSource } from './types.js';

/**
 * The first id given to a source's event. The kernel numbers its trace events upward from a
 * few hundred (dynamic ones included: a u16, handed out in order and reused); ids this high
 * are not met in practice, and any the session's kernel events do use are skipped.
 */
export const SOURCE_ID_BASE = 0xff00;

const NAME = /^[A-Za-z0-9_.-]+$/;

export interface SplitPatterns {
  /** patterns for the kernel (alternatives a source satisfies are resolved away) */
  kernel: string[];
  /** "system:name" of every source event the patterns ask for */
  source: string[];
}

/**
 * Split event patterns between the sources and the kernel. A pattern naming source events
 * ("tw:open_write", or a glob) takes them; a glob is also given to the kernel when the kernel
 * has events matching it. "a|b" takes the first alternative that a source provides or the
 * kernel has (`kernelHas`), in order, as the kernel's own expansion does.
 */
export function splitPatterns(patterns: readonly string[], sourceEvents: readonly string[], kernelHas: (pattern: string) => boolean): SplitPatterns {
  const kernel: string[] = [];
  const source = new Set<string>();
  const fromSources = (p: string): string[] => {
    if (p === '*') return [...sourceEvents];
    if (!p.includes(':')) return [];
    const re = globToRegExp(p);
    return sourceEvents.filter((e) => re.test(e));
  };
  const isGlob = (p: string): boolean => /[*?]/.test(p);
  for (const p of patterns) {
    const alts = p.split('|');
    if (alts.length === 1) {
      const mine = fromSources(p);
      for (const e of mine) source.add(e);
      if (mine.length === 0 || (isGlob(p) && kernelHas(p))) kernel.push(p);
      continue;
    }
    if (!alts.some((a) => fromSources(a).length > 0)) {
      kernel.push(p); // the kernel's expansion says which alternative, or why none
      continue;
    }
    // some alternative is a source's, so one is taken: the first that a source or the kernel has
    for (const alt of alts) {
      const mine = fromSources(alt);
      if (mine.length > 0) {
        for (const e of mine) source.add(e);
        if (isGlob(alt) && kernelHas(alt)) kernel.push(alt);
        break;
      }
      if (kernelHas(alt)) {
        kernel.push(alt);
        break;
      }
    }
  }
  return { kernel, source: [...source] };
}

/** A source with the ids and parsed formats of its events, in the order it declares them. */
export interface BoundSource {
  source: RecordSource;
  /** ids[i]: the id of source.events[i] (what its records' common_type index maps to) */
  ids: number[];
  formats: EventFormat[];
  info: LiveSourceInfo;
}

/**
 * Check the sources (names, events), give every event an id no kernel event of the session
 * uses (from SOURCE_ID_BASE up), parse each format for its id and add it to `formats`.
 */
export function bindSources(sources: readonly RecordSource[], formats: FormatRegistry, longSize: 4 | 8): BoundSource[] {
  const names = new Set<string>();
  const events = new Set(formats.all().map((f) => f.fullName));
  let next = SOURCE_ID_BASE;
  const nextId = (): number => {
    while (formats.get(next) !== undefined) next++;
    if (next > 0xffff) throw new TwError('BAD_ARGUMENT', 'no event id left for the record sources (ids are 16-bit)');
    return next++;
  };
  return sources.map((source) => {
    if (!NAME.test(source.name)) throw new TwError('BAD_ARGUMENT', `record source name '${source.name}' must be letters, digits, '_', '.' or '-'`);
    if (names.has(source.name)) throw new TwError('BAD_ARGUMENT', `two record sources are named '${source.name}'`);
    names.add(source.name);
    if (source.clock !== 'mono') throw new TwError('BAD_ARGUMENT', `record source '${source.name}' stamps its records with clock '${String(source.clock)}'; tw merges only 'mono' sources`);
    if (source.events.length === 0) throw new TwError('BAD_ARGUMENT', `record source '${source.name}' declares no event`);
    const bound: BoundSource = { source, ids: [], formats: [], info: { name: source.name, events: [] } };
    for (const ev of source.events) {
      const full = `${ev.system}:${ev.name}`;
      if (events.has(full)) throw new TwError('BAD_ARGUMENT', `event ${full} of record source '${source.name}' is also an event of the kernel or of another source`);
      events.add(full);
      const id = nextId();
      const text = ev.format(id);
      const f = parseEventFormat(text, `${source.name}: ${full} format`, ev.system, longSize);
      if (f.id !== id || f.name !== ev.name || f.system !== ev.system) {
        throw new TwError('FORMAT_PARSE', `record source '${source.name}': the format of ${full} describes ${f.fullName} with ID ${f.id}, expected ID ${id}`);
      }
      const ct = f.fields.find((x) => x.name === 'common_type');
      if (!ct || ct.offset !== 0 || ct.size !== 2) throw new TwError('FORMAT_PARSE', `record source '${source.name}': the format of ${full} has no 2-byte common_type at offset 0`);
      formats.add(f);
      bound.ids.push(id);
      bound.formats.push(f);
      bound.info.events.push({ system: ev.system, name: ev.name, id, format: text });
    }
    return bound;
  });
}

/** Filters can only be pushed into the kernel: one that names a source's event is refused. */
export function checkSourceFilters(filters: Record<string, string>, sourceEvents: readonly string[]): void {
  for (const pattern of Object.keys(filters)) {
    const re = pattern === '*' ? /^/ : globToRegExp(pattern);
    const hit = sourceEvents.find((e) => re.test(e));
    if (hit !== undefined) {
      throw new TwError('BAD_ARGUMENT', `a kernel filter names ${hit}, whose events come from a record source (a BPF probe): they cannot be filtered in the kernel's ring buffer (a BPF probe filters through its parameters)`);
    }
  }
}
