/** The kprobe-events backend: a tracefs kprobe event (no build), where fetch args can express the spec. */
import { hasKprobeEvents } from '@tw/core';
import { addKprobeEvent, removeKprobeEvent } from '../load.js';
import type { ProbeBackend } from './backend.js';

export const kprobeEventsBackend: ProbeBackend = {
  name: 'kprobe-events',
  unavailable(_spec, env) {
    return hasKprobeEvents(env.tracefs) ? undefined : 'this kernel has none (no kprobe_events in tracefs)';
  },
  async up(spec, env) {
    // the guardian knows of the event before it exists, so a killed tw leaves none behind
    const held = { kind: 'kprobe-event' as const, group: 'tw', name: spec.name };
    env.guard?.hold(held);
    let def;
    try {
      def = await addKprobeEvent(env.tracefs.root, spec, env.params ? { params: env.params } : {});
    } catch (e) {
      env.guard?.release(held);
      throw e;
    }
    return {
      filter: def.filter,
      notes: [],
      down: async () => {
        await removeKprobeEvent(env.tracefs.root, spec);
        env.guard?.release(held);
      },
    };
  },
};
