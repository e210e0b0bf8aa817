// unreachableHandlers: which handlers of a watch no declared event reaches (live, tw enables
// only the declared events), with globs on both sides and "a|b" alternatives.
import { describe, expect, it } from 'vitest';
import { defineWatch, type AnyWatch } from '../watch/define-watch.js';
import { globsIntersect, unreachableHandlers } from './handler-check.js';

const noop = () => undefined;

function watch(events: AnyWatch['events'], handlers: string[], probes?: string[]): AnyWatch {
  return defineWatch({ name: 'w', summary: 's', events, ...(probes ? { probes } : {}), on: Object.fromEntries(handlers.map((h) => [h, noop])) }) as AnyWatch;
}

const unreachable = (w: AnyWatch, args: Record<string, unknown> = {}) => unreachableHandlers(w, args).map((p) => p.handler);

describe('globsIntersect', () => {
  it.each([
    ['sched:sched_switch', 'sched:sched_switch', true],
    ['sched:sched_switch', 'sched:sched_wakeup', false],
    ['sched:*', 'sched:sched_switch', true],
    ['sched:sched_switch', 'sched:*', true],
    ['syscalls:sys_enter_*', 'syscalls:sys_*_read', true], // sys_enter_read
    ['syscalls:sys_enter_*', 'syscalls:sys_exit_*', false],
    ['*', 'anything:at_all', true],
    ['*:sys_enter', 'raw_syscalls:*', true],
    ['sched:sched_?witch', 'sched:sched_s*', true],
    ['sched:sched_?', 'sched:sched_ab', false],
    ['a*b*c', '*x*', true], // axbc
    ['ab', 'a', false],
    ['a*', '', false],
    ['*', '', true],
  ])('%s and %s: %s', (a, b, want) => {
    expect(globsIntersect(a, b)).toBe(want);
    expect(globsIntersect(b, a)).toBe(want);
  });
});

describe('unreachableHandlers', () => {
  it('a handler for an event the watch does not declare', () => {
    const w = watch(['signal:signal_generate'], ['signal:signal_generate', 'sched:sched_switch']);
    expect(unreachableHandlers(w, {})).toEqual([
      {
        handler: 'sched:sched_switch',
        message:
          "handler 'sched:sched_switch' is never called live: it matches none of the events the watch declares (signal:signal_generate), and tw enables only those; on a recording it runs only if the file has the event. Add it to the watch's events",
      },
    ]);
  });

  it('every alternative of an a|b pattern, and globs on either side, count as declared', () => {
    const w = watch(
      ['raw_syscalls:sys_enter|syscalls:sys_enter_*', 'tw:kill|signal:signal_generate'],
      ['raw_syscalls:sys_enter', 'syscalls:sys_enter_openat', 'syscalls:*', 'tw:kill', 'signal:signal_generate', 'raw_syscalls:sys_exit', 'syscalls:sys_exit_*'],
    );
    expect(unreachable(w)).toEqual(['raw_syscalls:sys_exit', 'syscalls:sys_exit_*']);
  });

  it("'*' declared reaches every handler; a '*' handler is reached by any declared event", () => {
    expect(unreachable(watch(['*'], ['*', 'sched:sched_switch', 'custom_event']))).toEqual([]);
    expect(unreachable(watch(['sched:sched_switch'], ['*']))).toEqual([]);
    expect(unreachable(watch([], ['*']))).toEqual(['*']);
  });

  it('custom_event: reached when the watch declares probes or tw:* events, else a problem', () => {
    expect(unreachable(watch(['tw:unlink'], ['custom_event'], ['unlink']))).toEqual([]);
    expect(unreachable(watch(['signal:signal_generate'], ['custom_event'], ['kill']))).toEqual([]);
    expect(unreachable(watch(['tw:*'], ['custom_event']))).toEqual([]);
    const [p] = unreachableHandlers(watch(['signal:signal_generate'], ['custom_event', 'signal:signal_generate']), {});
    expect(p?.handler).toBe('custom_event');
    expect(p?.message).toMatch(/^handler 'custom_event' is never called live: .*declares no probes and no tw:\* events \(declared: signal:signal_generate\)/);
  });

  it('events that depend on the arguments are taken for these arguments', () => {
    const w = watch((args: { sys?: string }) => [`${args.sys ?? 'sched'}:*`], ['sched:sched_switch']);
    expect(unreachable(w, {})).toEqual([]);
    expect(unreachable(w, { sys: 'signal' })).toEqual(['sched:sched_switch']);
  });

  it('events that depend on the arguments: a handler of a declared probe is reached with other args (an option that adds probes)', () => {
    const w = watch((args: { meta?: boolean }) => (args.meta ? ['tw:open', 'tw:chmod'] : ['tw:open']), ['tw:open', 'tw:chmod', 'tw:other'], ['open', 'chmod']);
    expect(unreachable(w, {})).toEqual(['tw:other']);
    expect(unreachable(w, { meta: true })).toEqual(['tw:other']);
  });

  it('the shipped kind of watch with probes and a fallback has none', () => {
    const w = watch(['tw:kill|signal:signal_generate', 'signal:signal_generate'], ['tw:kill', 'signal:signal_generate'], ['kill']);
    expect(unreachableHandlers(w, {})).toEqual([]);
  });
});
