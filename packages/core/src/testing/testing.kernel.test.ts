// The testing kit with the running kernel's formats (read from tracefs: root).
import { describe, expect, it } from 'vitest';
import { defineWatch } from '../index.js';
import { eventKit, runWatch } from './index.js';

describe('eventKit("kernel")', () => {
  it('builds events from this kernel\'s formats, decoded as a live trace would be', async () => {
    const kit = await eventKit('kernel');
    const openat = kit.format('syscalls:sys_enter_openat');
    expect(openat.ownFields.map((f) => f.name)).toEqual(expect.arrayContaining(['dfd', 'filename', 'flags', 'mode']));
    const w = defineWatch({
      name: 'kit-kernel',
      summary: 't',
      events: ['syscalls:sys_enter_openat', 'sched:sched_process_exec'],
      state: () => [] as unknown[],
      on: { '*': (e, ctx) => void ctx.state.push({ event: e.event, ...e.fields }) },
      end: (ctx) => ctx.state,
    });
    const r = await runWatch(w, {
      events: [
        kit.make('syscalls:sys_enter_openat', { __syscall_nr: 257, dfd: -100, filename: 0x7ffd1234n, flags: 0o1101, mode: 0o644 }, { pid: 10 }),
        kit.make('sched:sched_process_exec', { filename: '/bin/true', pid: 11, old_pid: 11 }, { pid: 11 }),
      ],
    });
    expect(r.result).toEqual([
      expect.objectContaining({ event: 'syscalls:sys_enter_openat', dfd: 2n ** 64n - 100n, // the kernel's slot is an unsigned long: an int -100 reads back unsigned
        filename: 0x7ffd1234n, flags: 0o1101n, mode: 0o644n }),
      expect.objectContaining({ event: 'sched:sched_process_exec', filename: '/bin/true', pid: 11, old_pid: 11 }),
    ]);
    expect(() => kit.format('nosuch:event')).toThrow(/kernel: no event 'nosuch:event'/);
  });
});
