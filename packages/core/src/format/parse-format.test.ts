/**
 * Event format, header_page and header_event parsing, on format texts copied from the running
 * kernel's tracefs (see the fixtures in decode/test-bytes.ts) plus synthetic variants for shapes
 * this kernel does not print (32-bit longs, symbolic array counts, __rel_loc).
 */
import { describe, expect, it } from 'vitest';
import { thrown } from '../decode/test-bytes.js';
import { FormatParseError, isTwError } from '../errors.js';
import {
  ALARMTIMER_FIRED,
  ARM_EVENT,
  DMA_MAP_SG,
  FOO_REL_LOC,
  FTRACE_PRINT,
  HEADER_EVENT,
  HEADER_PAGE_32,
  HEADER_PAGE_64,
  INTS,
  IPI_SEND_CPUMASK,
  SCHED_PROCESS_EXEC,
  SCHED_SWITCH,
  SCHED_SWITCH_SYMBOLIC,
  SYS_ENTER,
  SYS_ENTER_32,
  formatText,
} from '../decode/test-bytes.js';
import type { Field } from './field.js';
import { checkHeaderEvent, parseHeaderPage } from './header-page.js';
import { parseEventFormat } from './parse-format.js';

/** The call throws a FormatParseError for this path and line, with a message matching `why`. */
function expectParseError(fn: () => unknown, path: string, line: number, why: RegExp): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(FormatParseError);
  expect(isTwError(e)).toBe(true);
  const f = e as FormatParseError;
  expect(f.code).toBe('FORMAT_PARSE');
  expect(f.path).toBe(path);
  expect(f.line).toBe(line);
  expect(f.message).toMatch(why);
  expect(f.message.startsWith(`${path}:${line}: `)).toBe(true);
}

function byName(fields: readonly Field[], name: string): Field {
  const f = fields.find((x) => x.name === name);
  if (!f) throw new Error(`no field ${name}`);
  return f;
}

const COMMON: Field[] = [
  { type: 'unsigned short', name: 'common_type', offset: 0, size: 2, signed: false, kind: 'int', elementSize: 2, arrayLength: 0, common: true },
  { type: 'unsigned char', name: 'common_flags', offset: 2, size: 1, signed: false, kind: 'int', elementSize: 1, arrayLength: 0, common: true },
  { type: 'unsigned char', name: 'common_preempt_count', offset: 3, size: 1, signed: false, kind: 'int', elementSize: 1, arrayLength: 0, common: true },
  { type: 'int', name: 'common_pid', offset: 4, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: true },
];

const P = '/sys/kernel/tracing/events/x/y/format';

describe('parseEventFormat on real kernel formats', () => {
  it('sched/sched_switch: common fields, char[16] strings, pid_t, long', () => {
    const f = parseEventFormat(SCHED_SWITCH, 'events/sched/sched_switch/format', 'sched');
    expect(f.system).toBe('sched');
    expect(f.name).toBe('sched_switch');
    expect(f.fullName).toBe('sched:sched_switch');
    expect(f.id).toBe(372);
    expect(f.fixedSize).toBe(64);
    expect(f.printFmt.startsWith('"prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s')).toBe(true);
    expect(f.printFmt.endsWith('REC->next_comm, REC->next_pid, REC->next_prio')).toBe(true);
    const own: Field[] = [
      { type: 'char[16]', name: 'prev_comm', offset: 8, size: 16, signed: false, kind: 'string', elementSize: 1, arrayLength: 16, common: false },
      { type: 'pid_t', name: 'prev_pid', offset: 24, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: false },
      { type: 'int', name: 'prev_prio', offset: 28, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: false },
      { type: 'long', name: 'prev_state', offset: 32, size: 8, signed: true, kind: 'int', elementSize: 8, arrayLength: 0, common: false },
      { type: 'char[16]', name: 'next_comm', offset: 40, size: 16, signed: false, kind: 'string', elementSize: 1, arrayLength: 16, common: false },
      { type: 'pid_t', name: 'next_pid', offset: 56, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: false },
      { type: 'int', name: 'next_prio', offset: 60, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: false },
    ];
    expect(f.fields).toEqual([...COMMON, ...own]);
    expect(f.ownFields).toEqual(own);
  });

  it('raw_syscalls/sys_enter: a fixed array of unsigned long', () => {
    const f = parseEventFormat(SYS_ENTER, P, 'raw_syscalls', 8);
    expect(f.id).toBe(443);
    expect(f.ownFields).toEqual([
      { type: 'long', name: 'id', offset: 8, size: 8, signed: true, kind: 'int', elementSize: 8, arrayLength: 0, common: false },
      { type: 'unsigned long[6]', name: 'args', offset: 16, size: 48, signed: false, kind: 'array', elementSize: 8, arrayLength: 6, common: false },
    ]);
    expect(f.fixedSize).toBe(64);
  });

  it('sched/sched_process_exec: __data_loc char[] is a dyn-string with a 4-byte locator', () => {
    const f = parseEventFormat(SCHED_PROCESS_EXEC, P, 'sched');
    expect(f.ownFields).toEqual([
      { type: '__data_loc char[]', name: 'filename', offset: 8, size: 4, signed: false, kind: 'dyn-string', elementSize: 1, arrayLength: 0, common: false },
      { type: 'pid_t', name: 'pid', offset: 12, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: false },
      { type: 'pid_t', name: 'old_pid', offset: 16, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: false },
    ]);
    expect(f.fixedSize).toBe(20);
    expect(f.printFmt).toBe('"filename=%s pid=%d old_pid=%d", __get_str(filename), REC->pid, REC->old_pid');
  });

  it('dma/dma_map_sg: dynamic arrays of u64 and unsigned int, bool, enum, unsigned long', () => {
    const f = parseEventFormat(DMA_MAP_SG, P, 'dma');
    const pick = (n: string) => {
      const x = byName(f.ownFields, n);
      return [x.type, x.kind, x.size, x.elementSize, x.arrayLength, x.signed];
    };
    expect(pick('device')).toEqual(['__data_loc char[]', 'dyn-string', 4, 1, 0, false]);
    expect(pick('truncated')).toEqual(['bool', 'int', 1, 1, 0, false]);
    expect(pick('phys_addrs')).toEqual(['__data_loc u64[]', 'dyn-array', 4, 8, 0, false]);
    expect(pick('dma_addrs')).toEqual(['__data_loc u64[]', 'dyn-array', 4, 8, 0, false]);
    expect(pick('lengths')).toEqual(['__data_loc unsigned int[]', 'dyn-array', 4, 4, 0, false]);
    expect(pick('dir')).toEqual(['enum dma_data_direction', 'int', 4, 4, 0, false]);
    expect(pick('attrs')).toEqual(['unsigned long', 'int', 8, 8, 0, false]);
    expect(f.fixedSize).toBe(48);
  });

  it('ras/arm_event: __data_loc u8[] is a dyn-array of bytes', () => {
    const f = parseEventFormat(ARM_EVENT, P, 'ras');
    const buf = byName(f.ownFields, 'pei_buf');
    expect(buf).toEqual({ type: '__data_loc u8[]', name: 'pei_buf', offset: 40, size: 4, signed: false, kind: 'dyn-array', elementSize: 1, arrayLength: 0, common: false });
    expect(byName(f.ownFields, 'mpidr')).toMatchObject({ kind: 'int', size: 8, signed: false });
    expect(byName(f.ownFields, 'cpu')).toMatchObject({ kind: 'int', offset: 64, size: 4, signed: true });
    expect(f.fixedSize).toBe(68);
  });

  it('ipi/ipi_send_cpumask: void * is a pointer; __data_loc cpumask_t (no brackets) is a byte dyn-array', () => {
    const f = parseEventFormat(IPI_SEND_CPUMASK, P, 'ipi');
    expect(f.ownFields).toEqual([
      { type: '__data_loc cpumask_t', name: 'cpumask', offset: 8, size: 4, signed: false, kind: 'dyn-array', elementSize: 1, arrayLength: 0, common: false },
      { type: 'void *', name: 'callsite', offset: 16, size: 8, signed: false, kind: 'pointer', elementSize: 8, arrayLength: 0, common: false },
      { type: 'void *', name: 'callback', offset: 24, size: 8, signed: false, kind: 'pointer', elementSize: 8, arrayLength: 0, common: false },
    ]);
  });

  it('alarmtimer/alarmtimer_fired: s64 and unsigned char scalars', () => {
    const f = parseEventFormat(ALARMTIMER_FIRED, P, 'alarmtimer');
    expect(f.ownFields.map((x) => [x.name, x.type, x.kind, x.size, x.signed])).toEqual([
      ['alarm', 'void *', 'pointer', 8, false],
      ['alarm_type', 'unsigned char', 'int', 1, false],
      ['expires', 's64', 'int', 8, true],
      ['now', 's64', 'int', 8, true],
    ]);
  });

  it('ftrace/print: a zero-sized char[] (flexible array) is a string of size 0', () => {
    const f = parseEventFormat(FTRACE_PRINT, P, 'ftrace');
    expect(f.id).toBe(5);
    expect(byName(f.ownFields, 'buf')).toEqual({ type: 'char[]', name: 'buf', offset: 16, size: 0, signed: false, kind: 'string', elementSize: 1, arrayLength: 0, common: false });
    expect(byName(f.ownFields, 'ip')).toMatchObject({ kind: 'int', size: 8, signed: false });
    expect(f.fixedSize).toBe(16);
  });
});

describe('parseEventFormat on synthetic shapes', () => {
  it('integers of 1, 2, 4 and 8 bytes, signed and unsigned; a pointer; a short array', () => {
    const f = parseEventFormat(INTS, P, 'tw');
    expect(f.ownFields.map((x) => [x.name, x.kind, x.size, x.signed, x.elementSize])).toEqual([
      ['s8v', 'int', 1, true, 1],
      ['u8v', 'int', 1, false, 1],
      ['s16v', 'int', 2, true, 2],
      ['u16v', 'int', 2, false, 2],
      ['s32v', 'int', 4, true, 4],
      ['u32v', 'int', 4, false, 4],
      ['s64v', 'int', 8, true, 8],
      ['u64v', 'int', 8, false, 8],
      ['ptr', 'pointer', 8, false, 8],
      ['shorts', 'array', 6, true, 2],
      ['ulongs', 'dyn-array', 4, false, 8],
      ['s32s', 'dyn-array', 4, true, 4],
    ]);
    expect(byName(f.ownFields, 'shorts').arrayLength).toBe(3);
    expect(byName(f.ownFields, 'ptr').type).toBe('const char *');
  });

  it('a 32-bit kernel: long is 4 bytes, unsigned long args[6] has 4-byte elements', () => {
    const f = parseEventFormat(SYS_ENTER_32, P, 'raw_syscalls', 4);
    expect(f.ownFields).toEqual([
      { type: 'long', name: 'id', offset: 8, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: false },
      { type: 'unsigned long[6]', name: 'args', offset: 12, size: 24, signed: false, kind: 'array', elementSize: 4, arrayLength: 6, common: false },
    ]);
    expect(f.fixedSize).toBe(36);
  });

  it('__data_loc unsigned long[] takes its element size from the long size', () => {
    expect(byName(parseEventFormat(INTS, P, 'tw', 8).ownFields, 'ulongs').elementSize).toBe(8);
    expect(byName(parseEventFormat(INTS, P, 'tw', 4).ownFields, 'ulongs').elementSize).toBe(4);
  });

  it('symbolic array counts ([TASK_COMM_LEN]) take the count from size / element size', () => {
    const f = parseEventFormat(SCHED_SWITCH_SYMBOLIC, P, 'sched', 8);
    expect(byName(f.ownFields, 'prev_comm')).toEqual({
      type: 'char[TASK_COMM_LEN]', name: 'prev_comm', offset: 8, size: 16, signed: true, kind: 'string', elementSize: 1, arrayLength: 16, common: false,
    });
    expect(byName(f.ownFields, 'stack')).toEqual({
      type: 'unsigned long[STACK_DEPTH]', name: 'stack', offset: 64, size: 32, signed: false, kind: 'array', elementSize: 8, arrayLength: 4, common: false,
    });
    // the same declaration on a 32-bit kernel: 4-byte longs, 8 of them in 32 bytes
    const f32 = parseEventFormat(SCHED_SWITCH_SYMBOLIC, P, 'sched', 4);
    expect(byName(f32.ownFields, 'stack')).toMatchObject({ kind: 'array', elementSize: 4, arrayLength: 8 });
  });

  it('__rel_loc char[] is a rel-string and __rel_loc T[] a rel-array', () => {
    const f = parseEventFormat(FOO_REL_LOC, P, 'sample-trace', 8);
    expect(f.ownFields).toEqual([
      { type: '__rel_loc char[]', name: 'foo', offset: 8, size: 4, signed: false, kind: 'rel-string', elementSize: 1, arrayLength: 0, common: false },
      { type: 'int', name: 'bar', offset: 12, size: 4, signed: true, kind: 'int', elementSize: 4, arrayLength: 0, common: false },
      { type: '__rel_loc unsigned long[]', name: 'bitmask', offset: 16, size: 4, signed: false, kind: 'rel-array', elementSize: 8, arrayLength: 0, common: false },
      { type: '__rel_loc u16[]', name: 'ports', offset: 20, size: 4, signed: false, kind: 'rel-array', elementSize: 2, arrayLength: 0, common: false },
    ]);
    expect(f.fullName).toBe('sample-trace:foo_rel_loc');
  });

  it('common_* after the blank line is an own field; own fields before it stay common only if named common_', () => {
    const text = formatText('odd', 7, ['\tfield:int common_extra;\toffset:8;\tsize:4;\tsigned:1;'], '"x"');
    const f = parseEventFormat(text, P, 'tw');
    expect(f.fields.map((x) => [x.name, x.common])).toEqual([
      ['common_type', true],
      ['common_flags', true],
      ['common_preempt_count', true],
      ['common_pid', true],
      ['common_extra', false],
    ]);
    expect(f.ownFields.map((x) => x.name)).toEqual(['common_extra']);
  });

  it('accepts "field special:" lines and a missing signed: part (older kernels)', () => {
    const text = [
      'name: function',
      'ID: 1',
      'format:',
      '\tfield:unsigned short common_type;\toffset:0;\tsize:2;',
      '',
      '\tfield special:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;',
      '\tfield:unsigned long parent_ip;\toffset:16;\tsize:8;',
      '',
      'print fmt: " %ps <-- %ps", (void *)REC->ip, (void *)REC->parent_ip',
    ].join('\n');
    const f = parseEventFormat(text, P, 'ftrace');
    expect(f.fields.map((x) => [x.name, x.signed, x.common])).toEqual([
      ['common_type', false, true],
      ['ip', false, false],
      ['parent_ip', false, false],
    ]);
    expect(f.fixedSize).toBe(24);
  });
});

describe('parseEventFormat errors name the path and line', () => {
  const path = 'events/tw/bad/format';
  const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

  it('a field line that does not parse', () => {
    const text = formatText('bad', 9, ['\tfield:int x;\toffset:8;\tsigned:1;'], '"x"');
    const line = lineOf(text, 'field:int x;');
    expect(line).toBe(9);
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, line, /expected 'field:<decl>; offset:N; size:N; signed:N;', got 'field:int x;/);
  });

  it('a declaration without a type', () => {
    const text = formatText('bad', 9, ['\tfield:x;\toffset:8;\tsize:4;\tsigned:1;'], '"x"');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 9, /cannot read the declaration 'x'/);
  });

  it('more fields than any kernel event has: an error at the first field too many, not a huge format', () => {
    const own = Array.from({ length: 1100 }, (_, k) => `\tfield:int f${k};\toffset:${8 + 4 * k};\tsize:4;\tsigned:1;`);
    const text = formatText('wide', 9, own, '"x"');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, lineOf(text, 'field:int f1020;'), /more than 1024 fields; no kernel event has that many/);
    // 1024 fields still parse
    expect(parseEventFormat(formatText('wide', 9, own.slice(0, 1020), '"x"'), path, 'tw').fields).toHaveLength(1024);
  });

  it('a format text over 1 MiB is refused before it is split', () => {
    const text = formatText('big', 9, [], `"${'x'.repeat(1 << 20)}"`);
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 1, /the format text is \d+ bytes; tw takes formats of at most 1048576 bytes/);
  });

  it('offsets and sizes beyond any record, and more array elements than bytes', () => {
    const far = formatText('far', 9, ['\tfield:int x;\toffset:99999999999;\tsize:4;\tsigned:1;'], '"x"');
    expectParseError(() => parseEventFormat(far, path, 'tw'), path, 9, /field 'x' at offset '99999999999' with size '4' lies beyond any record/);
    const many = parseEventFormat(formatText('many', 9, ['\tfield:char s[100000000];\toffset:8;\tsize:16;\tsigned:0;'], '"x"'), path, 'tw');
    expect(many.ownFields[0]).toMatchObject({ kind: 'string', size: 16, arrayLength: 16 });
  });

  it('two fields of one name', () => {
    const text = formatText('twice', 9, ['\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;', '\tfield:int id;\toffset:16;\tsize:4;\tsigned:1;'], '"x"');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 10, /a second field named 'id'/);
  });

  it('a name with control characters is quoted escaped in the error', () => {
    const text = formatText('a\u001b[2Jb', 9, [], '"x"');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 1, /invalid event name 'a\\e\[2Jb'/);
  });

  it('a missing name: line', () => {
    const text = formatText('bad', 9, [], '"x"').replace('name: bad\n', '');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 1, /no 'name:' line/);
  });

  it('a missing ID: line', () => {
    const text = formatText('bad', 9, [], '"x"').replace('ID: 9\n', '');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 1, /no 'ID:' line/);
  });

  it('an ID that is not a number', () => {
    const text = formatText('bad', 9, [], '"x"').replace('ID: 9', 'ID: 9a');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 2, /invalid event ID '9a'/);
  });

  it('a name with a space', () => {
    const text = formatText('bad', 9, [], '"x"').replace('name: bad', 'name: bad name');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 1, /invalid event name 'bad name'/);
  });

  it('no fields at all', () => {
    expectParseError(() => parseEventFormat('name: e\nID: 3\nformat:\n\nprint fmt: "x"\n', path, 'tw'), path, 1, /no 'format:' fields/);
  });

  it.each([
    ['int x', 3],
    ['u64 x', 16],
    ['void * x', 6],
  ])('a scalar "%s" with size %i', (decl, size) => {
    const text = formatText('bad', 9, ['\tfield:u32 ok;\toffset:8;\tsize:4;\tsigned:0;', `\tfield:${decl};\toffset:12;\tsize:${size};\tsigned:1;`], '"x"');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 10, new RegExp(`scalar field 'x' has size ${size}; expected 1, 2, 4 or 8`));
  });

  it.each([
    ['__data_loc char[] s', 8],
    ['__data_loc u8[] s', 2],
    ['__rel_loc char[] s', 0],
  ])('a dynamic field "%s" with size %i (not a 4-byte locator)', (decl, size) => {
    const text = formatText('bad', 9, [`\tfield:${decl};\toffset:8;\tsize:${size};\tsigned:0;`], '"x"');
    expectParseError(() => parseEventFormat(text, path, 'tw'), path, 9, new RegExp(`dynamic field 's' has size ${size}; expected a 4-byte locator`));
  });
});

describe('parseHeaderPage', () => {
  it('the real 64-bit header_page: 8-byte commit, data at 16', () => {
    expect(parseHeaderPage(HEADER_PAGE_64)).toEqual({
      timestampOffset: 0,
      timestampSize: 8,
      commitOffset: 8,
      commitSize: 8,
      dataOffset: 16,
      dataSize: 4080,
    });
  });

  it('a 32-bit header_page: 4-byte commit, data at 12', () => {
    expect(parseHeaderPage(HEADER_PAGE_32)).toEqual({
      timestampOffset: 0,
      timestampSize: 8,
      commitOffset: 8,
      commitSize: 4,
      dataOffset: 12,
      dataSize: 4084,
    });
  });

  it('a larger sub-buffer (buffer_subbuf_size_kb = 8) only changes the data size', () => {
    expect(parseHeaderPage(HEADER_PAGE_64.replace('size:4080', 'size:8176')).dataSize).toBe(8176);
  });

  it('a line that is not a field line names its line', () => {
    const text = HEADER_PAGE_64.replace('\tfield: int overwrite;', '\tfield int overwrite;');
    expectParseError(() => parseHeaderPage(text, 'tracefs/events/header_page'), 'tracefs/events/header_page', 3, /unrecognised line 'field int overwrite;/);
  });

  it('a missing commit field', () => {
    const text = HEADER_PAGE_64.split('\n').filter((l) => !l.includes('commit')).join('\n');
    expectParseError(() => parseHeaderPage(text), 'header_page', 1, /missing field 'commit'/);
  });

  it('a timestamp that is not 8 bytes', () => {
    const text = HEADER_PAGE_64.replace('u64 timestamp;\toffset:0;\tsize:8;', 'u64 timestamp;\toffset:0;\tsize:4;');
    expectParseError(() => parseHeaderPage(text), 'header_page', 1, /timestamp has size 4, expected 8/);
  });

  it('a commit that is neither 4 nor 8 bytes', () => {
    const text = HEADER_PAGE_64.replace('commit;\toffset:8;\tsize:8;', 'commit;\toffset:8;\tsize:2;');
    expectParseError(() => parseHeaderPage(text), 'header_page', 1, /commit has size 2, expected 4 or 8/);
  });
});

describe('checkHeaderEvent', () => {
  it('accepts the real header_event', () => {
    expect(() => checkHeaderEvent(HEADER_EVENT)).not.toThrow();
  });

  it.each([
    ['type_len    :    5 bits', 'type_len    :    6 bits', "type_len : 5 bits"],
    ['time_delta  :   27 bits', 'time_delta  :   26 bits', 'time_delta : 27 bits'],
    ['padding     : type == 29', 'padding     : type == 0', 'padding : type == 29'],
    ['time_extend : type == 30', 'time_extend : type == 1', 'time_extend : type == 30'],
  ])('rejects a header_event where "%s" became "%s"', (from, to, expected) => {
    const text = HEADER_EVENT.replace(from, to);
    expect(text).not.toBe(HEADER_EVENT);
    expectParseError(() => checkHeaderEvent(text, 'trace.dat:header_event'), 'trace.dat:header_event', 1, new RegExp(`expected '${expected}'`));
  });

  it('rejects an empty text', () => {
    expectParseError(() => checkHeaderEvent(''), 'header_event', 1, /not one tw understands/);
  });
});

describe('older kernels print zero-length arrays without brackets', () => {
  // ftrace/print as a 4.14 armv7 kernel printed it (seen in a recording from such a machine)
  const OLD_PRINT = [
    'name: print',
    'ID: 5',
    'format:',
    '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
    '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
    '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
    '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
    '',
    '\tfield:unsigned long ip;\toffset:8;\tsize:4;\tsigned:0;',
    '\tfield:char buf;\toffset:12;\tsize:0;\tsigned:0;',
    '\tfield:u32 words;\toffset:12;\tsize:0;\tsigned:0;',
    '',
    'print fmt: "%ps: %s", (void *)REC->ip, REC->buf',
  ].join('\n');

  it('reads "char buf; size:0" as a zero-sized string and "u32 words; size:0" as a zero-sized array', () => {
    const f = parseEventFormat(OLD_PRINT, 'old/print', 'ftrace', 4);
    const buf = f.fields.find((x) => x.name === 'buf')!;
    const words = f.fields.find((x) => x.name === 'words')!;
    expect([buf.kind, buf.size, buf.type]).toEqual(['string', 0, 'char[]']);
    expect([words.kind, words.size, words.elementSize]).toEqual(['array', 0, 4]);
  });
});
