/**
 * The meta files a trace.dat needs, read from a live tracefs directory: the sub-buffer header
 * layout (the instance's own header_page where it has one), the record header, the clock, the
 * formats of the recorded events and of ftrace's own events, printk formats, and (outside
 * tracefs) kallsyms and uname.
 */
import { readFileSync } from 'node:fs';
import { endianness, hostname, machine, release, type as osType } from 'node:os';
import { TwError } from '../errors.js';
import { parseHeaderPage } from '../format/header-page.js';
import { selectedClock, type TraceDatMeta } from '../tracedat/write-trace-dat.js';
import { expandEvents } from './events.js';
import { Tracefs, TracefsDir } from './tracefs.js';

export interface ReadTracefsMetaOptions {
  /** store ftrace's own event formats (ftrace:print from trace_marker, …); default true */
  ftrace?: boolean;
  /** store /proc/kallsyms (symbol names for trace-cmd report); default true */
  kallsyms?: boolean;
  /** store printk_formats; default true */
  printk?: boolean;
  /** the BUFFER name the data is stored under; default "" (top-level data) */
  bufferName?: string;
  /** the UNAME text; default "sysname nodename release machine" of this machine */
  uname?: string;
  program?: string;
}

/**
 * Read what a trace.dat writer needs from a live tracefs directory (`dir`: an instance, or the
 * top level): formats of `events` ("system:event", globs, "system" or "system:*" for a whole
 * system), ftrace formats, header_page, header_event, trace_clock, printk formats, kallsyms, uname.
 */
export async function readTracefsMeta(top: Tracefs, dir: TracefsDir, events: readonly string[], opts: ReadTracefsMetaOptions = {}): Promise<TraceDatMeta> {
  const ownHp = dir.ownHeaderPage();
  const hpSource = ownHp ?? { text: top.read('events/header_page'), path: top.path('events/header_page') };
  const headerPage = hpSource.text;
  const headerEvent = top.headerEvent().text;
  const hp = parseHeaderPage(headerPage, hpSource.path);
  const pageSize = hp.dataOffset + hp.dataSize;
  const subbufKb = dir.readOptional('buffer_subbuf_size_kb');
  if (subbufKb !== undefined && Number(subbufKb.trim()) * 1024 !== pageSize) {
    throw new TwError('FORMAT_PARSE', `${hpSource.path} describes ${pageSize}-byte sub-buffers but ${dir.path('buffer_subbuf_size_kb')} says ${subbufKb.trim()} KiB`);
  }
  const traceClock = dir.read('trace_clock');
  const clock = selectedClock(traceClock);
  if (!clock) throw new TwError('FORMAT_PARSE', `${dir.path('trace_clock')}: no [selected] clock in '${traceClock.trim()}'`);

  // formats come from the directory whose header_page was used (an instance sees every event)
  const fmtDir = ownHp ? dir : top;
  const ftraceFormats = opts.ftrace ?? true ? fmtDir.list('events/ftrace').sort().filter((n) => fmtDir.hasEvent('ftrace', n)).map((n) => fmtDir.eventFormat('ftrace', n).text) : [];
  const eventFormats = new Map<string, string[]>();
  for (const spec of events) {
    const [sys, name, more] = spec.split(':');
    if (more !== undefined || !sys || sys.includes('/') || (name !== undefined && name.includes('/'))) {
      throw new TwError('BAD_ARGUMENT', `event '${spec}' must be written as system:event, system or system:*`);
    }
    for (const ev of expandEvents(fmtDir, [name === undefined ? `${sys}:*` : spec], top.path('available_events'))) {
      if (ev.system === 'ftrace') continue;
      const list = eventFormats.get(ev.system) ?? [];
      eventFormats.set(ev.system, list);
      const text = fmtDir.eventFormat(ev.system, ev.name).text;
      if (!list.includes(text)) list.push(text);
    }
  }

  const meta: TraceDatMeta = {
    littleEndian: endianness() === 'LE',
    longSize: hp.commitSize as 4 | 8,
    pageSize,
    headerPage,
    headerEvent,
    ftraceFormats,
    eventFormats,
    cpus: cpuCount(dir),
    clock,
    traceClock,
    uname: opts.uname ?? `${osType()} ${hostname()} ${release()} ${machine()}`,
    bufferName: opts.bufferName ?? '',
  };
  if (opts.program !== undefined) meta.program = opts.program;
  if (opts.kallsyms ?? true) {
    try {
      meta.kallsyms = readFileSync('/proc/kallsyms', 'utf8');
    } catch (e) {
      throw new TwError('TRACEFS', `/proc/kallsyms: cannot read kernel symbols: ${(e as Error).message}`, { cause: e });
    }
  }
  if (opts.printk ?? true) meta.printk = top.readOptional('printk_formats') ?? '';
  return meta;
}

/** How many CPUs a recording of `dir` covers: one past the highest per_cpu/cpuN. */
function cpuCount(dir: TracefsDir): number {
  const ids = dir.cpus();
  if (ids.length === 0) throw new TwError('TRACEFS', `${dir.path('per_cpu')}: no cpuN directories`);
  return ids[ids.length - 1]! + 1;
}
