/**
 * @tw/kprobe-gen/spec: kept for plugins written against it; the spec types, validation, layout
 * and device-number helpers now live in @tw/probe-spec, which plugins should depend on instead
 * (this package brings the generator's handlebars, execa and typescript along).
 */
export {
  defineProbe,
  validateProbeSpec,
  moduleName,
  eventName,
  LIMITS,
  type ProbeSpec,
  type ProbeField,
  type ProbeArg,
  type ProbeParam,
  type ProbeAttach,
  type FieldType,
  type ScalarFieldType,
  type ParamType,
  type ProbePayload,
  type FieldValueOf,
  specHash,
  canonicalJson,
  layoutFor,
  checkLayout,
  checkFormatLayout,
  makeUnpacker,
  type LayoutEntry,
  type LayoutType,
  type UnpackedValue,
  decodeKernelDev,
  encodeKernelDev,
  decodeUserDev,
  userDevToKernel,
  kernelDevToUser,
  type DevNumber,
} from '@tw/probe-spec';
