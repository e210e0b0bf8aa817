/**
 * What the running kernel's tracefs offers, for `tw doctor` and for choosing mechanisms:
 * syscall tracepoints, kprobe and uprobe events, a configurable sub-buffer size, the clocks.
 */
import { globToRegExp } from '../format/registry.js';
import { hasKprobeEvents } from './dynamic-events.js';
import type { Tracefs } from './tracefs.js';

export interface TracefsCapabilities {
  /** every event the kernel offers ("system:event") */
  events: ReadonlySet<string>;
  rawSyscalls: boolean;
  syscallEvents: boolean;
  kprobeEvents: boolean;
  uprobeEvents: boolean;
  /** buffer_subbuf_size_kb's value where the sub-buffer size can be set, else undefined */
  subbufSizeKb: string | undefined;
  /** trace_clock's text: the offered clocks, the selected one in brackets */
  traceClocks: string;
}

export function tracefsCapabilities(top: Tracefs): TracefsCapabilities {
  const events = new Set(top.availableEvents());
  const has = (p: string) => {
    const re = globToRegExp(p);
    for (const e of events) if (re.test(e)) return true;
    return false;
  };
  return {
    events,
    rawSyscalls: has('raw_syscalls:sys_enter'),
    syscallEvents: has('syscalls:sys_enter_*'),
    kprobeEvents: hasKprobeEvents(top),
    uprobeEvents: top.exists('uprobe_events'),
    subbufSizeKb: top.readOptional('buffer_subbuf_size_kb')?.trim(),
    traceClocks: top.read('trace_clock').trim(),
  };
}

/** Does any of the kernel's events match the pattern (globs; "a|b": either alternative)? */
export function eventExists(events: ReadonlySet<string>, pattern: string): boolean {
  if (pattern === '*') return true;
  return pattern.split('|').some((alt) => {
    const re = globToRegExp(alt);
    for (const e of events) if (re.test(e)) return true;
    return false;
  });
}
