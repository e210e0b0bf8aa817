/**
 * @tw/core's public API: what watches, plugins, kprobe-gen and the CLI use. The decoder's
 * machinery (sub-buffer cursor, per-CPU streams, merge, page sources, the trace.dat reader,
 * the process table) stays inside; tw's own tests that need a piece of it import
 * '@tw/core/internal'. Types that appear in these functions' signatures are exported with them.
 */
export * from './errors.js';
export { quoted, printable } from './quote.js';
export * from './units.js';

// formats: kprobe-gen checks a probe's layout against the kernel's format file
export type { Field, FieldKind } from './format/field.js';
export { parseEventFormat, type EventFormat } from './format/parse-format.js';
export { globToRegExp } from './format/registry.js';
export { jsonSafe, type FieldValue } from './decode/read-field.js';

export { unreachableHandlers, globsIntersect, type HandlerProblem } from './session/handler-check.js';

// the watch API
export * from './watch/define-watch.js';
export { alertRecord } from './watch/alert.js';
export { formatTable, type Column } from './watch/table.js';
// tw gen types: the event map of a kernel or a recording as a .d.ts augmenting TwEventMap
export { fieldTsType, renderEventTypes, recordingFormats, kernelFormats, type EventTypesOptions } from './watch/event-types.js';
export {
  MemoryMetrics,
  RunMetrics,
  metricFullName,
  DEFAULT_BUCKETS,
  DEFAULT_MAX_SERIES,
  MAX_SERIES_LIMIT,
  MAX_LABEL_VALUE_LENGTH,
  OTHER_LABEL_VALUE,
  type MetricLabels,
  type MetricSpec,
  type MetricKind,
  type CounterMetric,
  type GaugeMetric,
  type HistogramMetric,
  type WatchMetrics,
  type MetricDeclaration,
  type MetricSink,
  type MetricsBackend,
  type MemoryMetric,
  type MemorySeries,
} from './watch/metrics.js';

// running watches: over a recording, over any TraceSource (unit tests), live
export { replayFile, dumpFile, describeFile, type DumpOptions, type FileDescription } from './session/offline.js';
export { runWatches, declaredEvents, callHook, WatchSession, type WatchRun, type RunOptions, type RunReport, type WatchOutcome } from './session/run-watches.js';
export type { Engine, EventView, EngineStats, TraceSource } from './session/engine.js';
export { abortFailure, traceLive, type LiveOptions, type LiveInfo, type LiveResult, type LiveStatus, type LiveConsumer, type SubBufferReader, type ReaderFactory, type ReaderCpuStats, type CpuLoss, type LiveSourceInfo } from './live/trace-live.js';
export { watchLive, watchLiveMany, combinedFilters, replayWatch, type WatchLiveOptions, type WatchLiveResult, type ReplayWatchOptions } from './live/watch-live.js';
export type { ProbeProvider, LiveProbe } from './watch/probe-provider.js';
export { watchProbeParams } from './watch/probe-params.js';
export type { RecordSource, SourceEvent, OnSourceBatch } from './watch/record-source.js';
export { SOURCE_ID_BASE } from './live/sources.js';

// tracefs: the one access layer (kprobe-gen's probe loading and the CLI's doctor/events use it)
export { findTracefs, mountedTracefs, checkTracefsAccess, Tracefs, TracefsDir } from './tracefs/tracefs.js';
export { Instance, type CpuStats, type InstanceOptions } from './tracefs/instance.js';
export { Guardian, GUARDIAN_SCRIPT, guardLine, onGuardianProblem, processGuard, processGuardian, runningGuardian, type GuardedObject, type ObjectGuard } from './tracefs/guardian.js';
export { type EventName } from './tracefs/events.js';
export {
  hasKprobeEvents,
  kprobeEventsPath,
  kprobeEventDefined,
  addKprobeEventLine,
  removeKprobeEventLine,
  setDynamicEventFilter,
  detachFromEvent,
} from './tracefs/dynamic-events.js';
export { tracefsCapabilities, eventExists, type TracefsCapabilities } from './tracefs/capabilities.js';

// recording (tw record, --record)
export { TraceDatWriter, type TraceDatMeta, type TraceDatWriterOptions, type TraceDatFinish, type TraceDatWriterStats } from './tracedat/write-trace-dat.js';
export { readTracefsMeta, type ReadTracefsMetaOptions } from './tracefs/meta.js';
export { Recorder } from './live/recorder.js';
