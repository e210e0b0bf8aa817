// The watch runner over an in-memory trace: dispatch by pattern, '*', and the generic
// custom_event handler that every dynamic-probe (tw:*) event reaches with its raw payload.
import { describe, expect, it } from 'vitest';
import { CpuStream } from '../decode/cpu-stream.js';
import { LE64, RecordBuilder, SubBufferBuilder, commonFields, formatText, layoutFor } from '../decode/test-bytes.js';
import { parseEventFormat } from '../format/parse-format.js';
import { FormatRegistry } from '../format/registry.js';
import type { PageSource } from '../tracedat/cpu-pages.js';
import { defineWatch, type CustomProbeEvent } from '../watch/define-watch.js';
import type { TraceSource } from './engine.js';
import { runWatches } from './run-watches.js';

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
});
