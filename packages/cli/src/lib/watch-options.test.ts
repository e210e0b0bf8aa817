import { defineWatch, parseWatchArgs } from '@tw/core';
import { describe, expect, it } from 'vitest';
import { splitWatchOptions, watchNameOf, watchUsage } from './watch-options.js';

const watch = defineWatch({
  name: 'opts',
  summary: 'a watch with options',
  args: {
    target: { type: 'string', required: true },
    fatal: { type: 'boolean', option: true },
    limit: { type: 'integer', option: true, default: 3 },
  },
  events: ['sched:sched_switch'],
  on: {},
});

const FLAGS = { input: { type: 'option', char: 'i' }, json: { type: 'boolean' }, quiet: { type: 'boolean', char: 'q' } } as const;

describe('watch options', () => {
  it('finds the watch name past tw flags and their values', () => {
    expect(watchNameOf(['--input', 'x.dat', '-q', 'opts', '7'], FLAGS)).toBe('opts');
    expect(watchNameOf(['-i', 'x.dat', 'opts'], FLAGS)).toBe('opts');
    expect(watchNameOf(['-ix.dat', '--input=y', 'opts'], FLAGS)).toBe('opts');
    expect(watchNameOf(['--json'], FLAGS)).toBeUndefined();
    expect(watchNameOf(['--', '--odd'], FLAGS)).toBe('--odd');
  });

  it('takes the options out of argv and parses them with the positional arguments', () => {
    const s = splitWatchOptions(['opts', '--fatal', '77', '--json', '--limit', '9'], watch);
    expect(s).toEqual({ argv: ['opts', '77', '--json'], options: { fatal: true, limit: '9' } });
    expect(parseWatchArgs(watch, ['77'], s.options)).toEqual({ target: '77', fatal: true, limit: 9 });
    expect(parseWatchArgs(watch, ['77'], splitWatchOptions(['--no-fatal', '--limit=4'], watch).options)).toEqual({ target: '77', fatal: false, limit: 4 });
    expect(parseWatchArgs(watch, ['77'])).toEqual({ target: '77', limit: 3 });
    // after --, nothing is an option
    expect(splitWatchOptions(['opts', '--', '--fatal'], watch).argv).toEqual(['opts', '--', '--fatal']);
  });

  it('says what is wrong: a missing value, a value that is not a number, a switch given a value, a name that is tw\'s', () => {
    expect(() => splitWatchOptions(['--limit'], watch)).toThrow("watch 'opts': option --limit needs a value");
    expect(() => parseWatchArgs(watch, ['1'], { limit: 'x' })).toThrow("watch 'opts': option --limit must be an integer, got 'x'");
    expect(() => splitWatchOptions(['--no-limit'], watch)).toThrow('is not a switch');
    expect(() => parseWatchArgs(watch, ['1'], { other: true })).toThrow("watch 'opts' has no option --other (its options: --fatal, --limit)");
    expect(() => splitWatchOptions(['--fatal'], watch, ['fatal'])).toThrow('has the name of a tw watch flag');
    expect(() => defineWatch({ name: 'bad', summary: 's', args: { x: { type: 'boolean', option: true } }, events: [], on: {} })).toThrow('kebab-case');
  });

  it('shows options in the usage line', () => {
    expect(watchUsage(watch)).toEqual(['<target>', '[--fatal]', '[--limit <integer>]']);
  });
});
