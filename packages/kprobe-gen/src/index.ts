/**
 * @tw/kprobe-gen: typed dynamic probe specs → a kprobe kernel module whose events land in the
 * ftrace ring buffer as tw:<name> (TRACE_EVENT), a tracefs kprobe_events definition for kernels
 * where no module can be built, a CO-RE BPF program (src/bpf/) with the same record layout, and
 * a typed TS unpacker (and its compiled JS, which tw imports
 * and runs); plus building (real Kbuild), loading and layout checks against the kernel's format file.
 */
export * from './spec-entry.js';
export { analyzeProbeSpec, modelOf, paramValueProblem, readDataLocString, type ProbeModel, type FieldInfo, type ArgInfo, type ParamInfo } from '@tw/probe-spec';
export { renderProbe, renderModuleFiles, renderUnpacker, renderUnpackerJs, generatorId, GENERATOR, type RenderedProbe, type RenderOptions } from './render.js';
export {
  renderKprobeEvent,
  tryRenderKprobeEvent,
  syscallSymbol,
  hostArch,
  type Arch,
  type KprobeEventDefinition,
  type KprobeEventOptions,
  type MemberInfo,
  type MemberLayouts,
  type ParamValues,
} from './kprobe-events.js';
export { memberLayoutsFromBtf, parsePaholeStruct, structFromBtf, type BtfOptions } from './btf-members.js';
export {
  mountOffsetsFromBtf,
  mountOffsetsProblem,
  mountParams,
  moduleTakesMountOffsets,
  specNeedsMountOffsets,
  MOUNT_PARAMS,
  MOUNT_SPAN,
  type MountOffsets,
} from './mount-offsets.js';
export { requiredSymbols, checkSymbols, readSymvers, type RequiredSymbol } from './symbols.js';
export { kernelTree, listKernelTrees, defaultKdir, type KernelTree } from './kernels.js';
export { buildModule, buildKey, defaultCacheDir, compilerErrorLines, type BuildOptions, type BuildResult } from './build.js';
export {
  loadModule,
  unloadModule,
  addKprobeEvent,
  removeKprobeEvent,
  isLoaded,
  moduleLoaded,
  moduleNameOfKo,
  type ParamValue,
  type LoadOptions,
  type UnloadOptions,
  type AddKprobeEventOptions,
  type IsLoadedOptions,
} from './load.js';
export { transpileUnpacker, typescriptVersion } from './transpile.js';
export { renderBpf, tryRenderBpf, bpfFileName, bpfProgramKind, BPF_RECORD_PREFIX, TW_RINGBUF_BYTES, TW_CHARP_BYTES, TW_ENTRY_MAX } from './bpf/render-bpf.js';
export { vmlinuxHeader, defaultVmlinuxCacheDir, KERNEL_BTF, type VmlinuxHeader, type VmlinuxOptions } from './bpf/vmlinux.js';
export { compileBpf, clangVersion, bpfKey, bpfSourceHash, findCachedBpf, defaultBpfObjectCacheDir, readBpfStamp, type CompileBpfOptions, type CompiledBpf } from './bpf/compile-bpf.js';
export {
  findPrebuiltBpf,
  prebuiltBpfDir,
  prebuiltBpfName,
  prebuiltStampName,
  prebuiltStamp,
  PREBUILT_BPF_SUBDIR,
  type PrebuiltBpfStamp,
  type PrebuiltLookup,
} from './bpf/prebuilt.js';
export { bpfObjectFor, BPF_OBJECT_ORDER, type BpfObject, type BpfObjectOptions, type BpfObjectOrigin } from './bpf/bpf-object.js';
export { prebuildPackage, prebuildSummary, packageProbeSpecs, type PrebuildResult } from './bpf/prebuild.js';
export {
  storeUnpacker,
  importUnpacker,
  unpackerKey,
  defaultUnpackerCacheDir,
  type StoredUnpacker,
  type GeneratedUnpacker,
  type UnpackerStoreOptions,
} from './unpacker.js';
export {
  PROBE_BACKEND_ORDER,
  probeBackendOrder,
  type ProbeBackend,
  type ProbeBackendName,
  type ProbeEnv,
  type AttachedProbe,
} from './lifecycle/backend.js';
export { checkLiveParams, probeUp, probeUnpacker, type ActiveProbe, type ProbeUpOptions, type SessionUnpacker } from './lifecycle/probe-up.js';
export { expressibleBy, type Expressible } from './lifecycle/expressible.js';
export { type BpfLoader, type BpfObjectInfo } from './lifecycle/backend.js';
