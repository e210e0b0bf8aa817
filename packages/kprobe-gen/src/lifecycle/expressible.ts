/**
 * Which mechanisms can express a spec at all (whatever the running kernel allows): the module
 * (C), a kprobe_events line (fetch args only), a BPF program. `true`, or why not.
 */
import { modelOf, type ProbeSpec } from '@tw/probe-spec';
import { tryRenderBpf } from '../bpf/render-bpf.js';
import { tryRenderKprobeEvent } from '../kprobe-events.js';
import { moduleUnsupported } from '../render-c.js';

export type Expressible = Record<'module' | 'kprobe-events' | 'bpf', true | string>;

export function expressibleBy(spec: ProbeSpec): Expressible {
  const kprobe = tryRenderKprobeEvent(spec);
  const bpf = tryRenderBpf(spec);
  return {
    module: moduleUnsupported(modelOf(spec)) ?? true,
    'kprobe-events': 'unsupported' in kprobe ? kprobe.unsupported : true,
    bpf: typeof bpf === 'string' ? true : bpf.unsupported,
  };
}
