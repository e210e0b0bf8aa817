// explainLosses picks the cause from the kernel's counters and the reader's. The live tests
// (test/src/live.kernel.test.ts) reach the "tw fell behind" and JS-reader cases on the real
// kernel; the kernel's dropped/commit-overrun counters and a late native reader cannot be
// provoked on demand, so those cases are checked here on hand-made counters.
import { describe, expect, it } from 'vitest';
import type { CpuLoss } from '@tw/core';
import { explainLosses } from './live.js';

const reader = (o: Partial<NonNullable<CpuLoss['reader']>> = {}) => ({ cpu: 1, rounds: 40, maxRound: 3, poolWaits: 0, poolWaitNs: 0, ...o });
const loss = (o: Partial<CpuLoss>): CpuLoss => ({ cpu: 1, lost: 100, overrun: 100, dropped: 0, commitOverrun: 0, ringSubbufs: 256, reader: reader(), ...o });
const opts = { bufferKb: 1024, rtReaders: true, backend: 'read' };

describe('explainLosses', () => {
  it('no overrun: the kernel could not store the events, whatever the reader did', () => {
    const [line] = explainLosses([loss({ overrun: 0, dropped: 7, commitOverrun: 2, lost: 9, reader: reader({ poolWaits: 3 }) })], opts);
    expect(line).toBe('CPU 1 lost 9 events (7 dropped, 2 commit overruns): the kernel could not store them (events written faster than, or nested deeper than, its sub-buffers take); the reader did not cause this');
  });

  it('overrun with pool waits: tw fell behind', () => {
    const [line] = explainLosses([loss({ reader: reader({ poolWaits: 2, poolWaitNs: 12_345_678 }) })], opts);
    expect(line).toMatch(/^CPU 1 lost 100 events \(the ring overwrote unread pages\): tw fell behind — its reader waited 12\.3 ms in all \(2 times\)/);
  });

  it('overrun without pool waits: the native reader ran late; --rt-readers is suggested only when off', () => {
    const [on] = explainLosses([loss({ reader: reader({ maxRound: 200 }) })], opts);
    expect(on).toBe('CPU 1 lost 100 events (the ring overwrote unread pages): the reader never waited for tw, but once found 200 of the ring\'s 256 sub-buffers full: it ran too late (other work on that CPU). A larger --buffer-kb (now 1024) helps');
    const [off] = explainLosses([loss({ reader: reader({ maxRound: 300 }) })], { ...opts, rtReaders: false });
    expect(off).toMatch(/once found the whole ring \(256 sub-buffers\) full: .* A larger --buffer-kb \(now 1024\) or --rt-readers helps$/);
  });

  it('one line per CPU, in order; a reader without counters still gets the remedy', () => {
    const lines = explainLosses([loss({ cpu: 0, reader: undefined }), loss({ cpu: 3 })], opts);
    expect(lines.map((l) => l.slice(0, 6))).toEqual(['CPU 0 ', 'CPU 3 ']);
    expect(lines[0]).toBe('CPU 0 lost 100 events (the ring overwrote unread pages): try a larger --buffer-kb (now 1024)');
  });
});
