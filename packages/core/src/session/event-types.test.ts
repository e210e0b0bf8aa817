// tw gen types' field types against what the decoder really delivers: every field of every
// event recorded in the sample recording (a real trace-cmd v7 file) is decoded through a watch,
// and the JS type of each value must be the TS type fieldTsType gives that field.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { replayFile } from './offline.js';
import { parseEventFormat } from '../format/parse-format.js';
import { defineWatch } from '../watch/define-watch.js';
import { fieldTsType, recordingFormats, renderEventTypes } from '../watch/event-types.js';

const SAMPLE = fileURLToPath(new URL('../../../../examples/sample.dat', import.meta.url));

/** The TS type of a decoded value, as the generated .d.ts would name it. */
function tsTypeOf(v: unknown): string {
  if (Array.isArray(v)) {
    const kinds = new Set(v.map((x) => typeof x));
    // an empty array fits either element type; report what a non-empty one would have
    return kinds.size === 0 ? 'empty[]' : `${[...kinds].join('|')}[]`;
  }
  return typeof v;
}

describe('tw gen types: field types', () => {
  it('match the decoded values of every field of every recorded event of the sample', async () => {
    const seen = new Map<string, Map<string, Set<string>>>();
    const all = defineWatch({
      name: 'all-fields',
      summary: 'records the JS type of every field',
      events: ['*'],
      on: {
        '*'(e) {
          let ev = seen.get(e.event);
          if (!ev) seen.set(e.event, (ev = new Map()));
          for (const [k, v] of Object.entries(e.fields)) {
            let s = ev.get(k);
            if (!s) ev.set(k, (s = new Set()));
            s.add(tsTypeOf(v));
          }
        },
      },
    });
    await replayFile(SAMPLE, [{ watch: all, args: {} }]);
    const formats = new Map((await recordingFormats(SAMPLE)).map((f) => [f.fullName, f]));
    let checked = 0;
    const kinds = new Set<string>();
    for (const [event, fields] of seen) {
      const fmt = formats.get(event);
      expect(fmt, event).toBeDefined();
      // the map's fields are exactly the ones e.fields has
      expect([...fields.keys()].sort(), event).toEqual(fmt!.ownFields.map((f) => f.name).sort());
      for (const f of fmt!.ownFields) {
        const want = fieldTsType(f);
        for (const got of fields.get(f.name)!) {
          if (got === 'empty[]') expect(want, `${event}.${f.name}`).toMatch(/\[\]$/);
          else expect(got, `${event}.${f.name} (${f.type}, size ${f.size})`).toBe(want);
          checked++;
        }
        kinds.add(f.kind);
      }
    }
    // the sample exercises integers, pointers, strings and arrays of several kinds
    expect(checked).toBeGreaterThan(100);
    expect([...kinds]).toEqual(expect.arrayContaining(['int', 'pointer', 'string', 'dyn-string']));
  });

  it('types 64-bit integers and pointers as bigint, smaller ones as number, strings and arrays', () => {
    const fmt = parseEventFormat(
      [
        'name: t',
        'ID: 1',
        'format:',
        '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
        '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
        '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
        '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
        '',
        '\tfield:u64 a;\toffset:8;\tsize:8;\tsigned:0;',
        '\tfield:void * p;\toffset:16;\tsize:8;\tsigned:0;',
        '\tfield:int n;\toffset:24;\tsize:4;\tsigned:1;',
        '\tfield:char comm[16];\toffset:28;\tsize:16;\tsigned:0;',
        '\tfield:__data_loc char[] name;\toffset:44;\tsize:4;\tsigned:0;',
        '\tfield:u32 ids[4];\toffset:48;\tsize:16;\tsigned:0;',
        '\tfield:unsigned long stack[2];\toffset:64;\tsize:16;\tsigned:0;',
        '\tfield:__data_loc u16[] more;\toffset:80;\tsize:4;\tsigned:0;',
        '',
        'print fmt: "x"',
      ].join('\n'),
      'test',
      'sys',
    );
    expect(Object.fromEntries(fmt.ownFields.map((f) => [f.name, fieldTsType(f)]))).toEqual({
      a: 'bigint',
      p: 'bigint',
      n: 'number',
      comm: 'string',
      name: 'string',
      ids: 'number[]',
      stack: 'bigint[]',
      more: 'number[]',
    });
    const dts = renderEventTypes([fmt], { from: 'a test' });
    expect(dts).toContain("declare module '@tw/core' {");
    expect(dts).toMatch(/"sys:t": \{\n(.*\n)*?\s+readonly stack: bigint\[\];/);
    expect(dts).not.toContain('common_pid');
  });
});
