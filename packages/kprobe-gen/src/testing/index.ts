/**
 * @tw/kprobe-gen/testing: fixtures and oracles for tests of generated probes, shared by
 * kprobe-gen's own tests and the tests of the plugins' shipped specs (test/src/shipped-probes).
 * Nothing here touches the kernel: format files as the kernel would publish them for a generated
 * module or kprobe event, synthetic records laid out as the kernel writes them, an in-memory
 * trace to run watches over such records, and real pahole output for member layouts; and, for
 * the kernel tests of a rejected BPF program, a spec's object with an out-of-bounds read
 * injected, stored in a private object cache (compiled with clang; still loads nothing).
 */
export { moduleFormat, kprobeFormat } from './formats.js';
export { sampleValues, buildRecord, type Sample } from './records.js';
export { memoryTrace } from './trace.js';
export { PAHOLE_6_12, PAHOLE_6_12_MOUNT, PAHOLE_6_1_FILE, MEMBERS_6_12 } from './members.js';
export { unpackSuite } from './unpack-suite.js';
export { renderSuite, renderForSnapshot } from './render-suite.js';
export { plantRejectedBpfObject, injectOutOfBounds, INJECTED_OOB } from './rejected-bpf.js';
export { bpfCompileMissing } from './bpf-tools.js';
