/**
 * @tw/relay-native: reads the per-CPU ring buffers of one tracefs instance and hands whole
 * sub-buffers to JS. Backends: 'mmap' (ring-buffer memory map, Linux >= 6.10) and 'read'
 * (read() of trace_pipe_raw), one thread per CPU in the N-API addon; 'js', a timer-driven
 * pure-JS reader used when the addon is not available.
 */
export type { Backend, OpenOptions, ReaderStats, RingReader } from './types.js';
export { openRingReader, probeBackends, autoReader, READER_ORDER } from './open-ring-reader.js';
export { nativeStatus } from './native-status.js';
