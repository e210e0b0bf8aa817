/**
 * @tw/probe-spec: what a plugin needs to declare dynamic probes, and nothing that renders,
 * builds or loads them. Probe spec types and defineProbe, validation into the analysed model,
 * the spec hash, the packed record layout (with its check against the kernel's format file and a
 * runtime unpacker) and device-number helpers. Imports @tw/core only: a plugin that declares
 * probes does not pull the generator's handlebars, execa or typescript (see README.md).
 */
export {
  defineProbe,
  validateProbeSpec,
  analyzeProbeSpec,
  modelOf,
  hasRetval,
  paramValueProblem,
  checkProbeParams,
  moduleName,
  eventName,
  LIMITS,
  SCALAR_SIZE,
  type ProbeSpec,
  type ProbeField,
  type ProbeArg,
  type ProbeParam,
  type ProbeAttach,
  type FieldType,
  type ScalarFieldType,
  type ParamType,
  type ProbeParamValue,
  type ProbePayload,
  type FieldValueOf,
  type ProbeModel,
  type ProbeKind,
  type FieldKind,
  type FieldInfo,
  type ArgInfo,
  type ParamInfo,
} from './spec.js';
export { specHash, canonicalJson, sha256Hex } from './hash.js';
export {
  layoutFor,
  checkLayout,
  checkFormatLayout,
  makeUnpacker,
  readDataLocString,
  payloadOrder,
  probeHeader,
  fieldSize,
  fixedEnd,
  type LayoutEntry,
  type LayoutType,
  type UnpackedValue,
} from './layout.js';
export { decodeKernelDev, encodeKernelDev, decodeUserDev, userDevToKernel, kernelDevToUser, type DevNumber } from './dev.js';

// The parts of the analysed model a generator walks: expression trees, C types, and the
// PascalCase form of a name that generated identifiers use.
export { type Expr, type BinOp, type Source, type BareBuiltin, type CallBuiltin } from './expr.js';
export { vfsKind, type CType } from './c-type.js';
export { pascalCase } from './names.js';
export { eventFormatText } from './format-text.js';
