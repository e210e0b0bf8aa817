/**
 * @tw/core's public API: what watches, plugins, kprobe-gen and the CLI use. The decoder's
 * machinery (sub-buffer cursor, per-CPU streams, merge, page sources, the trace.dat reader,
 * the process table) stays inside; tw's own tests that need a piece of it import
 * '@tw/core/internal'. Types that appear in these functions' signatures are exported with them.
 */
export * from './errors.js';
export * from './units.js';

// formats: kprobe-gen checks a probe's layout against the kernel's format file
export type { Field, FieldKind } from './format/field.js';
export { parseEventFormat, type EventFormat } from './format/parse-format.js';
export { globToRegExp } from './format/registry.js';
export { jsonSafe, type FieldValue } from './decode/read-field.js';

// the watch API
export * from './watch/define-watch.js';
export { formatTable, type Column } from './watch/table.js';

// running watches: over a recording, over any TraceSource (unit tests), live
export { replayFile, dumpFile, describeFile, type DumpOptions, type FileDescription } from './session/offline.js';
export { runWatches, declaredEvents, WatchSession, type WatchRun, type RunOptions, type RunReport, type WatchOutcome } from './session/run-watches.js';
export type { Engine, EventView, EngineStats, TraceSource } from './session/engine.js';
export { traceLive, type LiveOptions, type LiveInfo, type LiveResult, type LiveStatus, type LiveConsumer, type SubBufferReader, type ReaderFactory, type ReaderCpuStats, type CpuLoss } from './live/trace-live.js';

// tracefs
export { findTracefs, checkTracefsAccess } from './tracefs/tracefs.js';
export { Instance, type CpuStats, type InstanceOptions } from './tracefs/instance.js';

// recording (tw record, --record)
export { TraceDatWriter, readTracefsMeta, type TraceDatMeta, type TraceDatWriterOptions, type TraceDatFinish, type TraceDatWriterStats, type ReadTracefsMetaOptions } from './tracedat/write-trace-dat.js';
