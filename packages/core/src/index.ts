export * from './errors.js';
export * from './units.js';
export type { Field, FieldKind } from './format/field.js';
export { parseEventFormat, type EventFormat } from './format/parse-format.js';
export { parseHeaderPage, checkHeaderEvent, type HeaderPage } from './format/header-page.js';
export { FormatRegistry, globToRegExp } from './format/registry.js';
export { SubBufferCursor, compareTs, type KbufferLayout } from './decode/kbuffer.js';
export { CpuStream } from './decode/cpu-stream.js';
export { Merger } from './decode/merge.js';
export { makeFieldReader, makeFieldJsonWriter, jsonSafe, readCString, type FieldReader, type FieldValue } from './decode/read-field.js';
export { openTraceDat, type TraceDat, type TraceBuffer, type CpuData } from './tracedat/read-trace-dat.js';
export { FilePages, CompressedPages, type PageSource } from './tracedat/cpu-pages.js';
export { Engine, EventView, traceDatSource, type TraceSource, type EventType, type EngineStats } from './session/engine.js';
export { ProcessTable, type ProcessInfo } from './session/process-table.js';
export { syscallNamer, syscallTable, type SyscallNamer } from './session/syscalls.js';
export { runWatches, declaredEvents, WatchSession, type WatchRun, type RunOptions, type RunReport, type WatchOutcome } from './session/run-watches.js';
export * from './watch/define-watch.js';
export { replayFile, dumpFile, describeFile, type DumpOptions, type FileDescription } from './session/offline.js';
export { formatTable, type Column } from './watch/table.js';
export { findTracefs, mountedTracefs, checkTracefsAccess, Tracefs, TracefsDir, TRACEFS_MOUNTS } from './tracefs/tracefs.js';
export { Instance, liveInstances, removeStaleInstances, staleInstances, type CpuStats, type InstanceOptions } from './tracefs/instance.js';
export { expandEvents, enableEvents, setEventFilter, existingEvents, type EventName } from './tracefs/events.js';
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
export { readTracefsMeta, type ReadTracefsMetaOptions } from './tracefs/meta.js';
export { seedFromProc } from './session/proc-scan.js';
export { traceLive, type LiveOptions, type LiveInfo, type LiveResult, type LiveStatus, type LiveConsumer, type SubBufferReader, type ReaderFactory, type ReaderCpuStats, type CpuLoss } from './live/trace-live.js';
export { PushPages } from './live/push-pages.js';
export { watchLive, replayWatch, type WatchLiveOptions, type WatchLiveResult, type ReplayWatchOptions } from './live/watch-live.js';
export { Recorder } from './live/recorder.js';
export type { ProbeProvider, LiveProbe } from './watch/probe-provider.js';
export { LIFECYCLE_EVENTS } from './live/setup.js';
export { TraceDatWriter, selectedClock, type TraceDatMeta, type TraceDatWriterOptions, type TraceDatFinish, type TraceDatWriterStats } from './tracedat/write-trace-dat.js';
