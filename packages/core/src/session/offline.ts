/**
 * Offline entry points over a trace.dat file: replay watches, dump every event as JSON lines,
 * describe the file (buffers, events present, counts, formats). Each opens the file, does its
 * work and closes the file on every path. traceDatSource adapts the opened file to the
 * engine's TraceSource (the engine itself knows nothing of trace.dat).
 */
import { TwError } from '../errors.js';
import { CpuStream } from '../decode/cpu-stream.js';
import { cpuPages } from '../tracedat/cpu-pages.js';
import { openTraceDat, type TraceDat } from '../tracedat/read-trace-dat.js';
import type { Field } from '../format/field.js';
import { globToRegExp } from '../format/registry.js';
import { Engine, type EngineStats, type TraceSource } from './engine.js';
import { runWatches, type RunOptions, type RunReport, type WatchRun } from './run-watches.js';

/** Adapt an opened trace.dat file to a TraceSource: one stream per CPU with data, per buffer. */
export function traceDatSource(dat: TraceDat): TraceSource {
  const layout = { littleEndian: dat.littleEndian, longSize: dat.longSize, header: dat.headerPage };
  return {
    littleEndian: dat.littleEndian,
    formats: dat.formats,
    arch: dat.arch,
    tsOffset: dat.tsOffset,
    realtimeOffset: dat.realtimeOffset,
    cmdlines: dat.cmdlines,
    tgids: dat.tgids,
    tasks: dat.tasks,
    streams(buffers) {
      const known = dat.buffers.map((b) => b.name);
      for (const want of buffers ?? []) {
        if (!known.includes(want)) {
          throw new TwError('BAD_ARGUMENT', `${dat.path} has no buffer '${want}' (buffers: ${known.map((n) => (n === '' ? '"" (top)' : n)).join(', ')})`);
        }
      }
      const out: CpuStream[] = [];
      for (const b of dat.buffers) {
        if (buffers && !buffers.includes(b.name)) continue;
        for (const c of b.cpus) {
          if (c.size === 0) continue;
          out.push(new CpuStream(c.cpu, b.name, cpuPages(dat, b, c), layout));
        }
      }
      return out;
    },
  };
}

async function withFile<T>(path: string, fn: (dat: TraceDat) => T): Promise<T> {
  const dat = await openTraceDat(path);
  try {
    return fn(dat);
  } finally {
    dat.close();
  }
}

export function replayFile(path: string, runs: readonly WatchRun[], opts: RunOptions = {}): Promise<RunReport> {
  return withFile(path, (dat) => runWatches(traceDatSource(dat), runs, { ...opts, mode: 'file' }));
}

export interface DumpOptions {
  /** only events matching these patterns ("system:event", globs) */
  events?: readonly string[];
  buffers?: readonly string[];
  /** stop after this many events */
  limit?: number;
}

/** Write every event as one JSON line (without the newline) to `write`. */
export function dumpFile(path: string, write: (line: string) => void, opts: DumpOptions = {}): Promise<EngineStats> {
  return withFile(path, (dat) => {
    const engine = new Engine(traceDatSource(dat), opts.buffers ? { buffers: opts.buffers } : {});
    let wanted: ((id: number, name: string) => boolean) | undefined;
    if (opts.events && opts.events.length > 0) {
      const res = opts.events.map((p) => (p === '*' ? /^/ : globToRegExp(p)));
      for (const p of opts.events) {
        if (p !== '*' && !p.includes(':')) throw new TwError('UNKNOWN_EVENT', `event '${p}' must be written as system:event`);
      }
      const matched = engine.formats.all().filter((f) => res.some((re) => re.test(f.fullName)));
      if (matched.length === 0) {
        throw new TwError('UNKNOWN_EVENT', `${path} has no event matching ${opts.events.join(', ')} (see: tw events --input ${path})`);
      }
      const ids = new Set(matched.map((t) => t.id));
      wanted = (id) => ids.has(id);
    }
    const limit = opts.limit ?? Infinity;
    let n = 0;
    return engine.run((e) => {
      if (wanted && !wanted(e.id, e.event)) return true;
      write(e.toJSONLine());
      return ++n < limit;
    });
  });
}

export interface FileDescription {
  path: string;
  version: number;
  compression: string;
  endianness: 'little' | 'big';
  longSize: number;
  pageSize: number;
  cpus: number;
  clock: string;
  arch: string | undefined;
  uname: string | undefined;
  traceCmdVersion: string | undefined;
  buffers: Array<{ name: string; clock: string; pageSize: number; cpus: number; bytes: number }>;
  /** events present (recorded at least once), or every format when `all` */
  events: Array<{ event: string; id: number; count: number; fields: Array<Pick<Field, 'name' | 'type' | 'offset' | 'size' | 'signed'>> }>;
  total: number;
  lost: number;
  formats: number;
}

export function describeFile(path: string, opts: { all?: boolean; buffers?: readonly string[] } = {}): Promise<FileDescription> {
  return withFile(path, (dat) => {
    const engine = new Engine(traceDatSource(dat), opts.buffers ? { buffers: opts.buffers } : {});
    const counts = new Map<number, number>();
    const stats = engine.run((e) => {
      counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
    });
    const formats = opts.all ? engine.formats.all() : [...counts.keys()].map((id) => engine.type(id).format);
    const events = formats
      .map((fmt) => ({
        event: fmt.fullName,
        id: fmt.id,
        count: counts.get(fmt.id) ?? 0,
        fields: fmt.fields.map((f) => ({ name: f.name, type: f.type, offset: f.offset, size: f.size, signed: f.signed })),
      }))
      .sort((a, b) => b.count - a.count || a.event.localeCompare(b.event));
    return {
      path,
      version: dat.version,
      compression: dat.compression ? `${dat.compression.name} ${dat.compression.version}` : 'none',
      endianness: dat.littleEndian ? 'little' : 'big',
      longSize: dat.longSize,
      pageSize: dat.pageSize,
      cpus: dat.cpuCount,
      clock: dat.clock,
      arch: dat.arch,
      uname: dat.uname,
      traceCmdVersion: dat.traceCmdVersion,
      buffers: dat.buffers.map((b) => ({ name: b.name, clock: b.clock, pageSize: b.pageSize, cpus: b.cpus.filter((c) => c.size > 0).length, bytes: b.cpus.reduce((n, c) => n + c.size, 0) })),
      events,
      total: stats.events,
      lost: stats.lost,
      formats: dat.formats.size,
    };
  });
}
