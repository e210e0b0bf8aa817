/**
 * Record sources in a live session: which patterns they take from the kernel, the ids their
 * events get, their formats, and the filters that cannot apply to them.
 */
import { describe, expect, it } from 'vitest';
import { isTwError } from '../errors.js';
import { parseEventFormat } from '../format/parse-format.js';
import { FormatRegistry } from '../format/registry.js';
import { SCHED_SWITCH, formatText, thrown } from '../decode/test-bytes.js';
import type { RecordSource } from '../watch/record-source.js';
import { SOURCE_ID_BASE, bindSources, checkSourceFilters, splitPatterns } from './sources.js';

const KERNEL = ['sched:sched_switch', 'signal:signal_generate', 'syscalls:sys_enter_kill', 'tw:static_probe'];
const kernelHas = (p: string): boolean => {
  const re = new RegExp(`^${p.replace(/\*/g, '.*')}$`);
  return p === '*' || KERNEL.some((e) => re.test(e));
};

function source(name: string, events: string[], clock = 'mono'): RecordSource {
  return {
    name,
    clock: clock as 'mono',
    events: events.map((e) => {
      const [system, ev] = e.split(':') as [string, string];
      return { system, name: ev, format: (id: number) => formatText(ev, id, ['\tfield:int value;\toffset:8;\tsize:4;\tsigned:1;'], '"value=%d", REC->value') };
    }),
    start: () => undefined,
    stop: () => Promise.resolve(),
    lost: () => [],
  };
}

const code = (fn: () => unknown): string | undefined => {
  const e = thrown(fn);
  return isTwError(e) ? e.code : undefined;
};

describe('splitPatterns', () => {
  const mine = ['tw:kill', 'tw:open_write'];

  it('gives a source the events it names, and the kernel the rest', () => {
    expect(splitPatterns(['tw:kill', 'sched:sched_switch'], mine, kernelHas)).toEqual({ kernel: ['sched:sched_switch'], source: ['tw:kill'] });
  });

  it('takes the first alternative a source or the kernel has, in order', () => {
    expect(splitPatterns(['tw:kill|signal:signal_generate'], mine, kernelHas)).toEqual({ kernel: [], source: ['tw:kill'] });
    expect(splitPatterns(['signal:signal_generate|tw:kill'], mine, kernelHas)).toEqual({ kernel: ['signal:signal_generate'], source: [] });
    expect(splitPatterns(['tw:nope|tw:open_write'], mine, kernelHas)).toEqual({ kernel: [], source: ['tw:open_write'] });
    // no source in it: left to the kernel's expansion (and its error messages)
    expect(splitPatterns(['tw:nope|signal:signal_generate'], mine, kernelHas)).toEqual({ kernel: ['tw:nope|signal:signal_generate'], source: [] });
  });

  it('gives a glob to both when both have matching events', () => {
    expect(splitPatterns(['tw:*'], mine, kernelHas)).toEqual({ kernel: ['tw:*'], source: ['tw:kill', 'tw:open_write'] });
    expect(splitPatterns(['tw:k*'], mine, kernelHas)).toEqual({ kernel: [], source: ['tw:kill'] });
    expect(splitPatterns(['*'], mine, kernelHas)).toEqual({ kernel: ['*'], source: mine });
  });
});

describe('bindSources', () => {
  function kernelFormats(): FormatRegistry {
    const r = new FormatRegistry();
    r.add(parseEventFormat(SCHED_SWITCH, 'sched_switch', 'sched'));
    return r;
  }

  it('gives events ids from 0xff00 up, parses their formats into the registry, and says what it did', () => {
    const reg = kernelFormats();
    const bound = bindSources([source('bpf-a', ['tw:a', 'tw:a2']), source('bpf-b', ['tw:b'])], reg, 8);
    expect(bound.map((b) => b.ids)).toEqual([[SOURCE_ID_BASE, SOURCE_ID_BASE + 1], [SOURCE_ID_BASE + 2]]);
    expect(reg.get(SOURCE_ID_BASE + 2)?.fullName).toBe('tw:b');
    expect(reg.get(SOURCE_ID_BASE)?.ownFields.map((f) => [f.name, f.offset, f.size])).toEqual([['value', 8, 4]]);
    expect(bound[0]!.info).toMatchObject({ name: 'bpf-a', events: [{ system: 'tw', name: 'a', id: 0xff00 }, { system: 'tw', name: 'a2', id: 0xff01 }] });
    expect(bound[0]!.info.events[0]!.format).toContain('ID: 65280');
  });

  it('skips ids the kernel events of the session use', () => {
    const reg = kernelFormats();
    reg.add(parseEventFormat(SCHED_SWITCH.replace(/^ID: \d+$/m, `ID: ${SOURCE_ID_BASE}`).replace('name: sched_switch', 'name: high'), 'high', 'sched'));
    expect(bindSources([source('s', ['tw:x'])], reg, 8)[0]!.ids).toEqual([SOURCE_ID_BASE + 1]);
  });

  it('refuses bad names, duplicate names and events, other clocks, formats for another id, no events', () => {
    expect(code(() => bindSources([source('a b', ['tw:x'])], kernelFormats(), 8))).toBe('BAD_ARGUMENT');
    expect(code(() => bindSources([source('s', ['tw:x']), source('s', ['tw:y'])], kernelFormats(), 8))).toBe('BAD_ARGUMENT');
    expect(code(() => bindSources([source('s', ['tw:x']), source('t', ['tw:x'])], kernelFormats(), 8))).toBe('BAD_ARGUMENT');
    expect(code(() => bindSources([source('s', ['sched:sched_switch'])], kernelFormats(), 8))).toBe('BAD_ARGUMENT');
    expect((thrown(() => bindSources([source('s', ['tw:x'], 'local')], kernelFormats(), 8)) as Error).message).toMatch(/clock 'local'; tw merges only 'mono'/);
    expect(code(() => bindSources([source('s', [])], kernelFormats(), 8))).toBe('BAD_ARGUMENT');
    const wrongId = source('s', ['tw:x']);
    const ev = wrongId.events[0]!;
    const lying = { ...wrongId, events: [{ ...ev, format: () => ev.format(7) }] };
    expect((thrown(() => bindSources([lying], kernelFormats(), 8)) as Error).message).toMatch(/describes tw:x with ID 7, expected ID 65280/);
  });
});

describe('checkSourceFilters', () => {
  it('refuses a kernel filter on a source event (exact or by glob), accepts the others', () => {
    expect(() => checkSourceFilters({ 'sched:sched_switch': 'prev_pid == 1' }, ['tw:kill'])).not.toThrow();
    expect((thrown(() => checkSourceFilters({ 'tw:kill': 'target == 1' }, ['tw:kill'])) as Error).message).toMatch(/names tw:kill, whose events come from a record source/);
    expect(code(() => checkSourceFilters({ 'tw:*': 'x == 1' }, ['tw:kill']))).toBe('BAD_ARGUMENT');
  });
});
