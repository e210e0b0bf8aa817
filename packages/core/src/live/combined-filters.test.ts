// Several watches in one live session have one kernel filter per event between them: joined with
// || where each filters it, none where one of them wants the event unfiltered (also through a
// glob), so that no watch loses events another one's filter would drop.
import { describe, expect, it } from 'vitest';
import { combinedFilters } from './watch-live.js';

describe('combinedFilters', () => {
  it('one watch: its own filters, as they are', () => {
    expect(combinedFilters([{ events: ['sched:sched_switch'], filters: { 'sched:sched_switch': 'prev_pid == 1' } }])).toEqual({ 'sched:sched_switch': 'prev_pid == 1' });
  });

  it('two watches filtering the same event: joined with ||; the same filter twice once', () => {
    expect(
      combinedFilters([
        { events: ['signal:signal_generate'], filters: { 'signal:signal_generate': 'sig == 9' } },
        { events: ['signal:signal_generate'], filters: { 'signal:signal_generate': 'pid == 42' } },
      ]),
    ).toEqual({ 'signal:signal_generate': '(sig == 9) || (pid == 42)' });
    expect(
      combinedFilters([
        { events: ['signal:signal_generate'], filters: { 'signal:signal_generate': 'sig == 9' } },
        { events: ['signal:signal_generate'], filters: { 'signal:signal_generate': 'sig == 9' } },
      ]),
    ).toEqual({ 'signal:signal_generate': 'sig == 9' });
  });

  it('a watch that wants the event unfiltered, by name, alternative or glob: no filter for it', () => {
    const filtered = { events: ['signal:signal_generate', 'sched:sched_process_exit'], filters: { 'signal:signal_generate': 'sig == 9', 'sched:sched_process_exit': 'pid == 1' } };
    expect(combinedFilters([filtered, { events: ['signal:signal_generate'], filters: {} }])).toEqual({ 'sched:sched_process_exit': 'pid == 1' });
    expect(combinedFilters([filtered, { events: ['tw:kill|signal:signal_generate'], filters: {} }])).toEqual({ 'sched:sched_process_exit': 'pid == 1' });
    expect(combinedFilters([filtered, { events: ['signal:*'], filters: {} }])).toEqual({ 'sched:sched_process_exit': 'pid == 1' });
    expect(combinedFilters([filtered, { events: ['*'], filters: {} }])).toEqual({});
    // a watch that does not trace the event leaves its filter alone
    expect(combinedFilters([filtered, { events: ['raw_syscalls:sys_enter'], filters: {} }])).toEqual(filtered.filters);
  });
});
