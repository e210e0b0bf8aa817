// The watch runner over an in-memory trace: dispatch by pattern, '*', and the generic
// custom_event handler that every dynamic-probe (tw:*) event reaches with its raw payload and
// the unpacked object (from a registered generated unpacker, else from the format).
import { describe, expect, it } from 'vitest';
import { CpuStream } from '../decode/cpu-stream.js';
import { LE64, RecordBuilder, SubBufferBuilder, commonFields, formatText, layoutFor } from '../decode/test-bytes.js';
import { parseEventFormat } from '../format/parse-format.js';
import { FormatRegistry } from '../format/registry.js';
import type { PageSource } from '../decode/page-source.js';
import { isTwError } from '../errors.js';
import { alertRecord } from '../watch/alert.js';
import { defineWatch, type Alert, type AnyWatch, type CustomProbeEvent, type ProbeUnpacker } from '../watch/define-watch.js';
import type { TraceSource } from './engine.js';
import { declaredEvents, declaredFilters, resultProblem, runWatches, type RunOptions } from './run-watches.js';

/** tw:unlink as kprobe-gen's module defines it: __probe_ip, then dfd, pathname, comm. */
const TW_UNLINK = formatText(
  'unlink',
  1500,
  [
    '\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;',
    '\tfield:s32 dfd;\toffset:16;\tsize:4;\tsigned:1;',
    '\tfield:__data_loc char[] pathname;\toffset:20;\tsize:4;\tsigned:0;',
    '\tfield:char comm[16];\toffset:24;\tsize:16;\tsigned:0;',
  ],
  '"dfd=%d pathname=%s", REC->dfd, __get_str(pathname)',
);
const SIG = formatText('signal_generate', 200, ['\tfield:int sig;\toffset:8;\tsize:4;\tsigned:1;'], '"sig=%d", REC->sig');

function unlinkRecord(pid: number, path: string): Uint8Array {
  const r = commonFields(new RecordBuilder(true), 1500, pid)
    .at(8).u64(0xffffffff81000000n) // __probe_ip
    .at(16).u32(-100) //               dfd
    .at(20).loc(40, path.length + 1) // pathname locator → offset 40
    .at(24).str('rm', 16) //           comm[16]
    .at(40).str(path) //               the pathname's bytes
    .align4();
  return r.build();
}

function source(records: Uint8Array[]): TraceSource {
  const formats = new FormatRegistry();
  formats.add(parseEventFormat(TW_UNLINK, 'tw/unlink', 'tw'));
  formats.add(parseEventFormat(SIG, 'signal/signal_generate', 'signal'));
  const page = new SubBufferBuilder(LE64).pageTimestamp(1000n);
  records.forEach((r, i) => page.data(i === 0 ? 0 : 10, r));
  const bytes = page.build();
  let used = false;
  const pages: PageSource = {
    buf: bytes, start: 0, size: bytes.length, fileOffset: 0,
    next: () => (used ? false : (used = true)),
  };
  return {
    littleEndian: true, formats, arch: 'x86_64', tsOffset: 0n, cmdlines: new Map([[42, 'rm']]), tgids: new Map(),
    streams: () => [new CpuStream(0, '', pages, layoutFor(true, 8))],
  };
}

/** A watch whose custom_event handler keeps every CustomProbeEvent it gets (they are copies). */
function collector(): { watch: AnyWatch; seen: CustomProbeEvent[] } {
  const seen: CustomProbeEvent[] = [];
  const watch = defineWatch({
    name: 'collect',
    summary: 'keeps the probe events',
    events: ['tw:*'],
    on: {
      custom_event(e) {
        seen.push(e as CustomProbeEvent);
      },
    },
  });
  return { watch, seen };
}

interface UnpackCall {
  byteLength: number;
  offset: number;
  commonType: number;
}

/**
 * Stands in for a generated unpack<Name>() of the TW_UNLINK layout above (kprobe-gen's own tests
 * run the real generated files): reads the record from `offset`, its common_type first, and
 * returns bytes as a view into the caller's buffer, as generated unpackers do.
 */
function fakeUnpacker(calls: UnpackCall[], specHash = '0123456789abcdef'): ProbeUnpacker {
  const utf8 = new TextDecoder();
  return {
    specHash,
    unpack(view, offset, le) {
      calls.push({ byteLength: view.byteLength, offset, commonType: view.getUint16(offset, le) });
      const loc = view.getUint32(offset + 20, le);
      const start = view.byteOffset + offset + (loc & 0xffff);
      return {
        dfd: view.getInt32(offset + 16, le),
        pathname: utf8.decode(new Uint8Array(view.buffer, start, (loc >>> 16) - 1)),
        pid: view.getInt32(offset + 4, le),
        ip: view.getBigUint64(offset + 8, le),
        comm: new Uint8Array(view.buffer, view.byteOffset + offset + 24, 2),
      };
    },
  };
}

const run = (records: Uint8Array[], opts: RunOptions = {}) => {
  const c = collector();
  const report = runWatches(source(records), [{ watch: c.watch, args: {} }], opts);
  return { ...c, report };
};

describe('runWatches', () => {
  it('hands every tw:* event to custom_event with its raw payload and unpacked fields', () => {
    const seen: Array<{ event: string; raw: number[]; data: Record<string, unknown>; ts: bigint }> = [];
    const w = defineWatch({
      name: 'custom',
      summary: 'collects probe events',
      events: ['tw:*'],
      on: {
        custom_event(e) {
          const c = e as CustomProbeEvent;
          seen.push({ event: c.event, raw: [...c.raw.subarray(0, 8)], data: c.data, ts: c.ts });
        },
      },
    });
    const sig = commonFields(new RecordBuilder(true), 200, 7).at(8).u32(9).build();
    const report = runWatches(source([unlinkRecord(42, '/tmp/victim'), sig, unlinkRecord(43, 'x')]), [{ watch: w, args: {} }]);
    expect(report.stats.events).toBe(3);
    expect(seen.map((s) => s.event)).toEqual(['tw:unlink', 'tw:unlink']);
    expect(seen[0]!.data).toEqual({ __probe_ip: '18446744071578845184', dfd: -100, pathname: '/tmp/victim', comm: 'rm' });
    expect(seen[1]!.data['pathname']).toBe('x');
    // raw is the record after the 8-byte common header: __probe_ip first, little-endian
    expect(seen[0]!.raw).toEqual([0x00, 0x00, 0x00, 0x81, 0xff, 0xff, 0xff, 0xff]);
    expect(seen.map((s) => s.ts)).toEqual([1000n, 1020n]);
  });

  it('says the format-driven decoder unpacked data when no generated unpacker is registered', () => {
    const { seen } = run([unlinkRecord(42, '/tmp/victim')]);
    expect(seen.map((e) => [e.unpacker, e.specHash])).toEqual([['format', undefined]]);
    expect(seen[0]!.data).toBe(seen[0]!.fields);
  });

  it('custom_event data comes from the registered generated unpacker, reading the record from its start', () => {
    const calls: UnpackCall[] = [];
    const victim = unlinkRecord(42, '/tmp/victim');
    const { seen } = run([victim, unlinkRecord(43, 'x')], { unpackers: new Map([['tw:unlink', fakeUnpacker(calls)]]) });
    expect(seen.map((e) => [e.event, e.unpacker, e.specHash])).toEqual([
      ['tw:unlink', 'generated', '0123456789abcdef'],
      ['tw:unlink', 'generated', '0123456789abcdef'],
    ]);
    // a view of exactly the record, the unpacker's offset at its common_type (1500)
    expect(calls).toEqual([
      { byteLength: victim.length, offset: 0, commonType: 1500 },
      { byteLength: unlinkRecord(43, 'x').length, offset: 0, commonType: 1500 },
    ]);
    expect(seen[0]!.data).toEqual({ dfd: -100, pathname: '/tmp/victim', pid: 42, ip: 0xffffffff81000000n, comm: new Uint8Array([0x72, 0x6d]) });
    expect(seen[1]!.data).toMatchObject({ pathname: 'x', pid: 43 });
    // bytes the unpacker returned as views into the sub-buffer are copies in the event
    const comm = seen[0]!.data['comm'] as Uint8Array;
    expect([comm.byteOffset, comm.buffer.byteLength]).toEqual([0, 2]);
    // the rest of the event is as before: raw is the payload after the common header, fields from the format
    expect([...seen[0]!.raw]).toEqual([...victim.subarray(8)]);
    expect(seen[0]!.fields['comm']).toBe('rm');
    expect(seen[0]!.toJSON().fields['pathname']).toBe('/tmp/victim');
  });

  it('asks accepts() once per session and falls back to the format when it says no', () => {
    const calls: UnpackCall[] = [];
    const asked: string[] = [];
    const u: ProbeUnpacker = {
      ...fakeUnpacker(calls),
      accepts(format) {
        asked.push(`${format.fullName} ${format.fields.find((f) => f.name === 'dfd')?.offset}`);
        return false;
      },
    };
    const { seen } = run([unlinkRecord(42, '/a'), unlinkRecord(42, '/b')], { unpackers: new Map([['tw:unlink', u]]) });
    expect(asked).toEqual(['tw:unlink 16']);
    expect(calls).toEqual([]);
    expect(seen.map((e) => [e.unpacker, e.specHash, e.data['pathname']])).toEqual([
      ['format', undefined, '/a'],
      ['format', undefined, '/b'],
    ]);
  });

  it('an unpacker registered for another event is not used for tw:unlink', () => {
    const calls: UnpackCall[] = [];
    const { seen } = run([unlinkRecord(42, '/a')], { unpackers: new Map([['tw:unlinkat', fakeUnpacker(calls)]]) });
    expect(calls).toEqual([]);
    expect(seen[0]!.unpacker).toBe('format');
  });

  it('a generated unpacker that reads past its record is a DecodeError naming the event, not a watch failure', () => {
    const u: ProbeUnpacker = {
      specHash: 'fedcba9876543210',
      unpack: (view, offset, le) => ({ beyond: view.getUint32(offset + view.byteLength, le) }),
    };
    let err: unknown;
    try {
      run([unlinkRecord(42, '/a')], { unpackers: new Map([['tw:unlink', u]]) });
    } catch (e) {
      err = e;
    }
    expect(isTwError(err) && err.code).toBe('DECODE');
    expect((err as Error).message).toMatch(/^cpu 0, offset \d+: tw:unlink: the generated unpacker \(spec fedcba9876543210\) failed on a 44-byte record: .*bounds/);
  });

  it('dispatches by pattern and stops at ctx.stop()', () => {
    const got: string[] = [];
    const w = defineWatch({
      name: 'stopper',
      summary: 'stops at the first signal',
      events: ['signal:*'],
      on: {
        'signal:signal_generate'(e, ctx) {
          got.push(`${e.event} ${String(e.fields['sig'])} ${e.comm}`);
          ctx.stop();
        },
        'tw:unl*'(e) {
          got.push(`${e.event} ${String(e.fields['pathname'])}`);
        },
      },
      end: (ctx) => ctx.events,
    });
    const sig = commonFields(new RecordBuilder(true), 200, 42).at(8).u32(15).build();
    const report = runWatches(source([unlinkRecord(42, '/a'), sig, unlinkRecord(42, '/b')]), [{ watch: w, args: {} }]);
    expect(got).toEqual(['tw:unlink /a', 'signal:signal_generate 15 rm']);
    expect(report.stopped).toBe(true);
    expect(report.outcomes[0]!.result).toBe(2);
  });

  it('ctx.keepGoing is the run\'s keepGoing (false unless asked): a watch that stops on its answer goes on with it', () => {
    const w = defineWatch({
      name: 'answerer',
      summary: 'stops at the first unlink unless keepGoing',
      events: ['tw:unlink'],
      state: () => ({ seen: [] as string[], keepGoing: undefined as boolean | undefined }),
      on: {
        'tw:unlink'(e, ctx) {
          ctx.state.keepGoing = ctx.keepGoing;
          ctx.state.seen.push(String(e.fields['pathname']));
          if (!ctx.keepGoing) ctx.stop();
        },
      },
      end: (ctx) => ctx.state,
    });
    const records = () => source([unlinkRecord(42, '/a'), unlinkRecord(42, '/b'), unlinkRecord(42, '/c')]);
    const once = runWatches(records(), [{ watch: w, args: {} }]);
    expect([once.outcomes[0]!.result, once.stopped]).toEqual([{ seen: ['/a'], keepGoing: false }, true]);
    const all = runWatches(records(), [{ watch: w, args: {}, keepGoing: true }]);
    expect([all.outcomes[0]!.result, all.stopped]).toEqual([{ seen: ['/a', '/b', '/c'], keepGoing: true }, false]);
  });
});

describe('ctx.alert', () => {
  /** a watch that alerts on every tw:unlink: message only, with the pid, with details */
  function alerter(): AnyWatch {
    return defineWatch({
      name: 'alerter',
      summary: 'alerts on every unlink',
      events: ['tw:unlink'],
      on: {
        'tw:unlink'(e, ctx) {
          ctx.alert(`unlink by ${e.pid}`);
          ctx.alert('with culprit', { pid: e.pid, details: { path: e.fields['pathname'], ip: e.fields['__probe_ip'] } });
        },
      },
      end(ctx) {
        ctx.alert('at the end');
        return {};
      },
    });
  }

  it('builds structured alerts: trace timestamp, the culprit from the process table, details JSON-safe', () => {
    const seen: Alert[] = [];
    const src = { ...source([unlinkRecord(42, '/tmp/victim')]), tgids: new Map([[42, 40]]), tasks: new Map([[40, { ppid: 1, exe: undefined }], [42, { ppid: 1, exe: undefined }]]), cmdlines: new Map([[42, 'rm'], [1, 'init'], [40, 'rm']]) };
    const report = runWatches(src, [{ watch: alerter(), args: {} }], { onAlert: (a) => seen.push(a) });
    expect(report.alerts).toEqual(seen);
    expect(report.alerts.map((a) => alertRecord(a))).toEqual([
      { time: null, ts: '1000', watch: 'alerter', message: 'unlink by 42' },
      {
        time: null,
        ts: '1000',
        watch: 'alerter',
        message: 'with culprit',
        culprit: { pid: 42, comm: 'rm', tgid: 40, ppid: 1, parents: [{ pid: 1, comm: 'init' }] },
        details: { path: '/tmp/victim', ip: '18446744071578845184' },
      },
      // outside a handler: ts 0, and a recording has no time for it
      { time: null, ts: '0', watch: 'alerter', message: 'at the end' },
    ]);
  });

  it('dates alerts from the trace timestamp when the source has a realtime offset', () => {
    const src = { ...source([unlinkRecord(42, '/x')]), realtimeOffset: 1_738_324_800_000_000_000n };
    const report = runWatches(src, [{ watch: alerter(), args: {} }]);
    expect(report.alerts.map((a) => a.time)).toEqual(['2025-01-31T12:00:00.000Z', '2025-01-31T12:00:00.000Z', null]);
  });

  it('a sink that throws is not the watch\'s failure: the alert is kept, and onAlertError hears of it', () => {
    const errors: string[] = [];
    const report = runWatches(source([unlinkRecord(42, '/x')]), [{ watch: alerter(), args: {} }], {
      onAlert: () => {
        throw new Error('sink down');
      },
      onAlertError: (err, a) => errors.push(`${a.message}: ${(err as Error).message}`),
    });
    expect(report.alerts).toHaveLength(3);
    expect(errors).toEqual(['unlink by 42: sink down', 'with culprit: sink down', 'at the end: sink down']);
  });
});

describe('async hooks', () => {
  /** A watch whose start, handler and end are async and reject (after a turn of the event loop). */
  const rejecting = defineWatch({
    name: 'rejects',
    summary: 'async hooks that reject (test)',
    events: ['tw:unlink'],
    start: (async () => {
      await null;
      throw new Error('start failed');
    }) as never,
    on: {
      'tw:unlink': (async (e: { pid: number }) => {
        // (the view is valid during the call only: read it before the first await)
        const pid = e.pid;
        await null;
        throw new Error(`handler failed for ${pid}`);
      }) as never,
    },
    end: (async () => {
      await null;
      throw new Error('end failed');
    }) as never,
  });

  it('each rejection reaches onAsyncError naming the watch, the hook and the event, then the run goes on', async () => {
    const failures: string[] = [];
    const report = runWatches(source([unlinkRecord(42, '/a'), unlinkRecord(43, '/b')]), [{ watch: rejecting, args: {} }], {
      onAsyncError: (err) => failures.push(`${err.code}: ${err.message}`),
    });
    expect(report.stats.events).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(failures).toEqual([
      "WATCH_FAILED: watch 'rejects': its start() hook failed: start failed",
      expect.stringMatching(/^WATCH_FAILED: watch 'rejects' threw in its 'tw:unlink' handler \(event tw:unlink at ts \d+, cpu 0, pid 42\): handler failed for 42$/),
      expect.stringMatching(/^WATCH_FAILED: watch 'rejects' threw in its 'tw:unlink' handler \(event tw:unlink at ts \d+, cpu 0, pid 43\): handler failed for 43$/),
      "WATCH_FAILED: watch 'rejects': its end() hook failed: end failed",
    ]);
  });

  it('without onAsyncError the promises are left alone (their rejections stay unhandled, as before)', async () => {
    const seen: unknown[] = [];
    const onUnhandled = (r: unknown) => seen.push(r);
    process.on('unhandledRejection', onUnhandled);
    try {
      runWatches(source([unlinkRecord(42, '/a')]), [{ watch: rejecting, args: {} }]);
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(seen.map((e) => (e as Error).message).sort()).toEqual(['end failed', 'handler failed for 42', 'start failed']);
  });
});

describe("a watch's hooks, checked and named when they fail", () => {
  const base = { name: 'hooky', summary: 'x', on: { 'sched:sched_switch'() {} } };

  it('declaredFilters: a throwing filter() names the watch and the hook; a non-object result is refused', () => {
    const throwing = defineWatch({ ...base, events: ['sched:sched_switch'], filter: () => { throw new Error('no filter today'); } }) as AnyWatch;
    expect(() => declaredFilters(throwing, {})).toThrow("watch 'hooky': its filter() hook failed: no filter today");
    const wrong = defineWatch({ ...base, events: ['sched:sched_switch'], filter: () => ['pid == 1'] as unknown as Record<string, string> }) as AnyWatch;
    expect(() => declaredFilters(wrong, {})).toThrow("watch 'hooky': its filter() hook failed: it must give an object of event → filter text, gave a list holding string");
    const good = defineWatch({ ...base, events: ['sched:sched_switch'], filter: () => ({ 'sched:sched_switch': 'prev_pid == 1' }) }) as AnyWatch;
    expect(declaredFilters(good, {})).toEqual({ 'sched:sched_switch': 'prev_pid == 1' });
  });

  it('declaredEvents: a throwing events() and one giving a non-list', () => {
    const throwing = defineWatch({ ...base, events: () => { throw new Error('which events?'); } }) as AnyWatch;
    expect(() => declaredEvents(throwing, {})).toThrow("watch 'hooky': its events() hook failed: which events?");
    const wrong = defineWatch({ ...base, events: () => [42] as unknown as string[] }) as AnyWatch;
    expect(() => declaredEvents(wrong, {})).toThrow(/its events\(\) hook failed: it must give a list of event names \('system:event'\), gave a list holding number/);
  });

  it('resultProblem: cycles, functions, and what is fine', () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop['b'] = [loop];
    expect(resultProblem(loop)).toBe('it refers to itself (a circular structure)');
    expect(resultProblem({ f: () => 1 })).toBe('it holds a function');
    const shared = { x: 1n };
    expect(resultProblem({ a: shared, b: shared, m: new Map([[1, shared]]) })).toBeUndefined();
  });
});
