/**
 * @tw/kprobe-gen/spec: probe spec types, validation and device-number helpers only — no
 * renderer, no handlebars or execa. Plugins import their probe specs' helpers from here.
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
} from './spec.js';
export { specHash, canonicalJson } from './hash.js';
export { layoutFor, checkLayout, checkFormatLayout, makeUnpacker, type LayoutEntry, type LayoutType, type UnpackedValue } from './layout.js';
export { decodeKernelDev, encodeKernelDev, decodeUserDev, userDevToKernel, kernelDevToUser, type DevNumber } from './dev.js';
