// Building a structured alert: the culprit from a process table, details copied JSON-safe at
// once, and the JSON form every sink carries (members in a fixed order).
import { describe, expect, it } from 'vitest';
import { alertRecord, culpritOf, makeAlert, type CulpritSource } from './alert.js';

/** A process table of four: 300 (a thread of 200) ← 200 ← 100 ← 1; 999 is unknown. */
function table(): CulpritSource {
  const procs = new Map([
    [1, { pid: 1, comm: 'init', tgid: 1, ppid: 0 }],
    [100, { pid: 100, comm: 'bash', tgid: 100, ppid: 1 }],
    [200, { pid: 200, comm: 'make', tgid: 200, ppid: 100, uid: 1000, exe: '/usr/bin/make', cmdline: 'make -j2' }],
    [300, { pid: 300, comm: 'make-worker', tgid: 200, ppid: 100 }],
  ]);
  const get = (pid: number) => procs.get(pid) ?? { pid, comm: '<...>', tgid: undefined, ppid: undefined };
  return {
    get,
    parents(pid) {
      const out: Array<{ pid: number; comm: string }> = [];
      for (let p = procs.get(pid); p && procs.has(p.ppid); p = procs.get(p.ppid)) out.push(procs.get(p.ppid)!);
      return out;
    },
  };
}

describe('culpritOf', () => {
  it('adds uid, exe and cmdline where the table knows them; what the event captured wins, empty values do not', () => {
    expect(culpritOf(table(), 200)).toMatchObject({ pid: 200, uid: 1000, exe: '/usr/bin/make', cmdline: 'make -j2' });
    const c = culpritOf(table(), 200, { uid: 0, cmdline: 'make install', comm: '' });
    expect(c).toMatchObject({ pid: 200, comm: 'make', uid: 0, exe: '/usr/bin/make', cmdline: 'make install' });
    // members in a fixed order
    expect(Object.keys(c)).toEqual(['pid', 'comm', 'tgid', 'ppid', 'uid', 'exe', 'cmdline', 'parents']);
    expect(culpritOf(table(), 999, { comm: 'gone', uid: 7 })).toEqual({ pid: 999, comm: 'gone', uid: 7 });
  });

  it('names the thread, its process, its parent and the parent chain, nearest first', () => {
    expect(culpritOf(table(), 300)).toEqual({
      pid: 300,
      comm: 'make-worker',
      tgid: 200,
      ppid: 100,
      parents: [
        { pid: 100, comm: 'bash' },
        { pid: 1, comm: 'init' },
      ],
    });
  });

  it('leaves out what the table does not know (no undefined members)', () => {
    const c = culpritOf(table(), 999);
    expect(c).toEqual({ pid: 999, comm: '<...>' });
    expect(Object.keys(c)).toEqual(['pid', 'comm']);
  });
});

describe('makeAlert', () => {
  it('a message alone (ctx.alert(message)): no culprit, no details', () => {
    const a = makeAlert({ watch: 'w', message: 'hello', ts: 5n, time: null, procs: table() });
    expect(a).toEqual({ time: null, ts: 5n, watch: 'w', message: 'hello' });
    expect('culprit' in a || 'details' in a).toBe(false);
  });

  it('with a pid: the culprit as the table knows it now', () => {
    const a = makeAlert({ watch: 'w', message: 'm', ts: 1n, time: '2025-01-31T12:00:00.123Z', opts: { pid: 200 }, procs: table() });
    expect(a.culprit).toEqual({ pid: 200, comm: 'make', tgid: 200, ppid: 100, uid: 1000, exe: '/usr/bin/make', cmdline: 'make -j2', parents: [{ pid: 100, comm: 'bash' }, { pid: 1, comm: 'init' }] });
    // the event's own facts (opts.culprit) win
    const b = makeAlert({ watch: 'w', message: 'm', ts: 1n, time: null, opts: { pid: 200, culprit: { cmdline: 'make check' } }, procs: table() });
    expect(b.culprit?.cmdline).toBe('make check');
    expect(a.time).toBe('2025-01-31T12:00:00.123Z');
  });

  it('details are a JSON-safe copy made at once: bigints, Maps, Sets, bytes; later changes do not show', () => {
    const details = { big: 2n ** 60n, small: 7n, list: [1n, 'x'], map: new Map([[1, 'a']]), set: new Set([2]), bytes: new Uint8Array([1, 2]), gone: undefined, nested: { n: 1 } };
    const a = makeAlert({ watch: 'w', message: 'm', ts: 1n, time: null, opts: { details }, procs: table() });
    details.nested.n = 2;
    expect(a.details).toEqual({ big: '1152921504606846976', small: 7, list: [1, 'x'], map: { '1': 'a' }, set: [2], bytes: [1, 2], nested: { n: 1 } });
    expect(JSON.parse(JSON.stringify(a.details))).toEqual(a.details);
  });

  it('a pid that is not an integer names no culprit', () => {
    expect(makeAlert({ watch: 'w', message: 'm', ts: 1n, time: null, opts: { pid: Number.NaN }, procs: table() }).culprit).toBeUndefined();
  });
});

describe('alertRecord', () => {
  it('is the JSON form: ts as a decimal string, members in the documented order', () => {
    const a = makeAlert({ watch: 'w', message: 'm', ts: 123456789012345678n, time: '2025-01-31T12:00:00.123Z', opts: { pid: 100, details: { k: 1 } }, procs: table() });
    const r = alertRecord(a);
    expect(Object.keys(r)).toEqual(['time', 'ts', 'watch', 'message', 'culprit', 'details']);
    expect(r.ts).toBe('123456789012345678');
    expect(JSON.parse(JSON.stringify(r))).toEqual({
      time: '2025-01-31T12:00:00.123Z',
      ts: '123456789012345678',
      watch: 'w',
      message: 'm',
      culprit: { pid: 100, comm: 'bash', tgid: 100, ppid: 1, parents: [{ pid: 1, comm: 'init' }] },
      details: { k: 1 },
    });
  });

  it('without a wall clock, time is null (kept, so every record has the same members)', () => {
    expect(alertRecord(makeAlert({ watch: 'w', message: 'm', ts: 0n, time: null, procs: table() }))).toEqual({ time: null, ts: '0', watch: 'w', message: 'm' });
  });
});
