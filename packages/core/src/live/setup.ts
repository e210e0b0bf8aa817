/**
 * Setting up a live session's instance: the events asked for (expanded against the kernel), the
 * process lifecycle events on top when wanted, their formats, the kernel filters, the sub-buffer
 * geometry. Nothing is traced yet: tracing_on stays 0 until the readers run.
 */
import { TwError } from '../errors.js';
import { parseHeaderPage, type HeaderPage } from '../format/header-page.js';
import { parseEventFormat } from '../format/parse-format.js';
import { FormatRegistry } from '../format/registry.js';
import { existingEvents, type EventName } from '../tracefs/events.js';
import type { Instance } from '../tracefs/instance.js';
import { bindSources, checkSourceFilters, splitPatterns, type BoundSource } from './sources.js';
import type { RecordSource } from './types.js';

/**
 * The events that keep a live process table current: names of new and renamed processes, exec'd
 * programs (a process that lived only milliseconds is still named), and exits. All are rare.
 */
export const LIFECYCLE_EVENTS = ['sched:sched_process_fork', 'task:task_newtask', 'sched:sched_process_exec', 'sched:sched_process_exit', 'task:task_rename'] as const;

export interface InstanceSetup {
  events: EventName[];
  lifecycle: EventName[];
  formats: FormatRegistry;
  headerPageText: string;
  headerEventText: string;
  headerPage: HeaderPage;
  cpus: number[];
  subbufSize: number;
  /** sub-buffers per CPU ring */
  ringSubbufs: number;
  /** the record sources, their events' ids and formats (also in `formats`) */
  sources: BoundSource[];
}

export interface SetupOptions {
  events: readonly string[];
  filters?: Record<string, string> | undefined;
  lifecycle: boolean;
  /** extra event sources (BPF probes): the patterns naming their events are theirs */
  sources?: readonly RecordSource[] | undefined;
}

export function setUpInstance(inst: Instance, opts: SetupOptions): InstanceSetup {
  const sources = opts.sources ?? [];
  const sourceEvents = sources.flatMap((s) => s.events.map((e) => `${e.system}:${e.name}`));
  checkSourceFilters(opts.filters ?? {}, sourceEvents);
  const kernelHas = (p: string): boolean => {
    try {
      return inst.expandEvents([p]).length > 0;
    } catch {
      return false;
    }
  };
  const split = sources.length > 0 ? splitPatterns(opts.events, sourceEvents, kernelHas) : { kernel: [...opts.events], source: [] };
  const events = inst.expandEvents(split.kernel);
  const asked = new Set(events.map((e) => `${e.system}:${e.name}`));
  const lifecycle = opts.lifecycle ? existingEvents(inst, LIFECYCLE_EVENTS.filter((e) => !asked.has(e))) : [];
  // the instance's own header_page: its sub-buffer size may differ from the top level's
  const hp = inst.headerPage();
  const headerEventText = inst.top.headerEvent().text;
  const headerPage = parseHeaderPage(hp.text, hp.path);
  const formats = new FormatRegistry();
  const longSize = headerPage.commitSize as 4 | 8;
  for (const ev of [...events, ...lifecycle]) {
    const f = inst.eventFormat(ev.system, ev.name);
    formats.add(parseEventFormat(f.text, f.path, ev.system, longSize));
  }
  // the sources' events get ids the kernel's (just read) do not use
  const bound = bindSources(sources, formats, longSize);
  setFilters(inst, opts.events, opts.filters ?? {}, events, formats);
  inst.enableEvents([...events, ...lifecycle]);
  const subbufSize = inst.subbufSize(headerPage.dataOffset + headerPage.dataSize);
  const ringSubbufs = Math.max(1, Math.floor((inst.bufferKb() * 1024) / subbufSize) || 1);
  return { events, lifecycle, formats, headerPageText: hp.text, headerEventText, headerPage, cpus: inst.cpus(), subbufSize, ringSubbufs, sources: bound };
}

function setFilters(inst: Instance, patterns: readonly string[], filters: Record<string, string>, events: readonly EventName[], formats: FormatRegistry): void {
  for (const [pattern, expr] of Object.entries(filters)) {
    const targets = events.filter((e) => formats.match(pattern).some((f) => f.system === e.system && f.name === e.name));
    if (targets.length === 0) {
      // a filter for an alternative the kernel did not have (a|b resolved to b) has nothing to do
      const alternative = patterns.some((p) => p.includes('|') && p.split('|').includes(pattern));
      if (alternative) continue;
      throw new TwError('UNKNOWN_EVENT', `a filter names '${pattern}', which is not among the traced events`);
    }
    for (const t of targets) inst.setFilter(t.system, t.name, expr);
  }
}
