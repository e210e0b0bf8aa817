// checkLiveOnlyFlags: --duration is checked wherever it is given; with --input the live-only
// flags written on the command line are an error, those set from their defaults are not.
import { describe, expect, it } from 'vitest';
import { isTwError } from '@tw/core';
import { LIVE_ONLY_FLAGS, checkLiveOnlyFlags } from './live-only.js';

const flag = (name: string) => ({ type: 'flag', flag: name, input: 'x' });
const arg = { type: 'arg', arg: 'name', input: 'syscalls' };

function error(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    expect(isTwError(e) && e.code).toBe('BAD_ARGUMENT');
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('checkLiveOnlyFlags', () => {
  it('knows the shared live flags', () => {
    expect([...LIVE_ONLY_FLAGS].sort()).toEqual(['backend', 'buffer-kb', 'clock', 'duration', 'latency', 'process-events', 'rt-readers']);
  });

  it('live: a valid --duration passes, a bad one or one too long for a timer is an error', () => {
    expect(() => checkLiveOnlyFlags({ duration: '2m' }, [flag('duration')])).not.toThrow();
    expect(error(() => checkLiveOnlyFlags({ duration: '5x' }, [flag('duration')]))).toMatch(/^--duration '5x' is not a duration/);
    expect(error(() => checkLiveOnlyFlags({ duration: '-1' }, [flag('duration')]))).toMatch(/^--duration '-1' is not a duration/);
    expect(error(() => checkLiveOnlyFlags({ duration: '0ms' }, [flag('duration')]))).toBe("--duration must be positive, got '0ms'");
    expect(() => checkLiveOnlyFlags({ duration: `${2 ** 31 - 1}ms` }, [flag('duration')])).not.toThrow();
    expect(error(() => checkLiveOnlyFlags({ duration: `${2 ** 31}ms` }, [flag('duration')]))).toMatch(/is too long: at most 596h \(2147483647 ms/);
    expect(() => checkLiveOnlyFlags({ duration: '596h' }, [flag('duration')])).not.toThrow();
  });

  it('with --input: the bad value is named first, then every live-only flag given, once each', () => {
    expect(error(() => checkLiveOnlyFlags({ input: 'f', duration: '5x' }, [flag('input'), flag('duration')]))).toMatch(/is not a duration/);
    expect(error(() => checkLiveOnlyFlags({ input: 'f', duration: '5s' }, [arg, flag('input'), flag('duration')]))).toBe('--duration applies to live tracing, not to a recording given with --input');
    expect(error(() => checkLiveOnlyFlags({ input: 'f' }, [flag('latency'), flag('input'), flag('latency'), flag('probe-backend')], ['probe-backend']))).toBe(
      '--latency, --probe-backend apply to live tracing, not to a recording given with --input',
    );
    // flags the command does not call live-only, and none at all
    expect(() => checkLiveOnlyFlags({ input: 'f' }, [flag('input'), flag('buffer'), flag('probe-backend')])).not.toThrow();
    expect(() => checkLiveOnlyFlags({ input: 'f' }, [])).not.toThrow();
  });
});
