/**
 * @tw/kprobe-gen/spec: kept for plugins written against it; the spec types, validation, layout
 * and device-number helpers now live in @tw/probe-spec, which plugins should depend on instead
 * (this package brings the generator's handlebars, execa and typescript along).
 */
export * from '@tw/probe-spec';
