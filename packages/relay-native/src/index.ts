/**
 * @tw/relay-native: reads the per-CPU ring buffers of one tracefs instance and hands whole
 * sub-buffers to JS. Backends: 'mmap' (ring-buffer memory map, Linux >= 6.10) and 'read'
 * (read() of trace_pipe_raw), one thread per CPU in the N-API addon; 'js', a timer-driven
 * pure-JS reader used when the addon is not available. Also loads tw's BPF objects (libbpf,
 * when the addon was built with it) and reads their ring buffer the same way.
 */
export type { Backend, OpenOptions, ReaderStats, RingReader } from './types.js';
export { openRingReader, probeBackends, autoReader, READER_ORDER } from './open-ring-reader.js';
export { nativeStatus } from './native-status.js';
export type { BpfParamValue, BpfProbe, BpfProbeOptions, BpfProbeStats, BpfProgramInfo, OnBpfBatch, OnBpfRound } from './bpf-types.js';
export { openBpfProbe } from './bpf-probe.js';
export { bpfStatus, bpfRuntimeProblem, bpfPrivilegeProblem, VMLINUX_BTF, type BpfHost } from './bpf-status.js';
export { bpfProgramTypes, bpfKprobeAttach, BPF_PROGRAM_TYPES, KPROBE_PMU, type BpfProgramType, type BpfProgramTypes } from './bpf-program-types.js';
export { bpfRecords, BPF_RECORD_HEAD, BPF_RECORD_ALIGN, type BpfRecord } from './bpf-records.js';
export { BPF_PARAM_PREFIX, BPF_DEFAULT_BATCH_BYTES, BPF_DEFAULT_LATENCY_MS, BPF_DEFAULT_POOL_SIZE } from './bpf-options.js';
