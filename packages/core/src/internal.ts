/**
 * '@tw/core/internal': pieces of the decoder that tw's own tests build on (an in-memory trace
 * for a watch to run over). Not part of the public API: it changes with the decoder, without
 * notice. Plugins and watches use '@tw/core'.
 */
export { FormatRegistry } from './format/registry.js';
export { parseHeaderPage, type HeaderPage } from './format/header-page.js';
export type { PageSource } from './decode/page-source.js';
export type { KbufferLayout } from './decode/kbuffer.js';
export { CpuStream } from './decode/cpu-stream.js';
export { culpritOf, makeAlert, type CulpritSource } from './watch/alert.js';
export { wallClockFor, isoFromEpochNs, measureRealtimeOffset, type WallClock } from './session/wall-clock.js';
// how a live session picks which probes come up and which alternative of each pattern it takes
// (a shipped watch's patterns checked against the backends a kernel may offer, without the kernel)
export { probesUp } from './live/probes-up.js';
export { splitPatterns } from './live/sources.js';
