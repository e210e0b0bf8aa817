import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BPF_DEFAULT_BATCH_BYTES, BPF_DEFAULT_LATENCY_MS, BPF_DEFAULT_POOL_SIZE, validateBpfOptions } from './bpf-options.js';
import type { BpfProbeOptions } from './bpf-types.js';
import { loadNative } from './load-native.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-rn-bpf-opts-'));
const object = join(dir, 'probe.bpf.o');
writeFileSync(object, 'not really ELF: the options are checked before anything opens it');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function err(o: unknown): string {
  try {
    validateBpfOptions(o as BpfProbeOptions);
    return 'no error';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('validateBpfOptions', () => {
  it('fills in the defaults and makes the path absolute', () => {
    expect(validateBpfOptions({ object: relative(process.cwd(), object) })).toEqual({
      object,
      params: {},
      poolSize: BPF_DEFAULT_POOL_SIZE,
      batchBytes: BPF_DEFAULT_BATCH_BYTES,
      latencyMs: BPF_DEFAULT_LATENCY_MS,
    });
    expect(validateBpfOptions({ object, params: { a: 1, b: -2n, c: 'x', d: true }, poolSize: 2, batchBytes: 4096, latencyMs: 2.5 })).toEqual({
      object,
      params: { a: 1, b: -2n, c: 'x', d: true },
      poolSize: 2,
      batchBytes: 4096,
      latencyMs: 3,
    });
  });

  it('names the bad option and why', () => {
    expect(err(null)).toBe('openBpfProbe: options must be an object');
    expect(err({ object: '' })).toBe('openBpfProbe: object must be the path of a BPF object file');
    expect(err({ object: join(dir, 'nope.o') })).toBe(`openBpfProbe: BPF object ${join(dir, 'nope.o')} does not exist`);
    expect(err({ object: dir })).toBe(`openBpfProbe: BPF object ${dir} is not a file`);
    expect(err({ object, params: [] })).toBe('openBpfProbe: params must be an object of name: value');
    expect(err({ object, params: { '1x': 1 } })).toBe("openBpfProbe: parameter name '1x' is not a C identifier");
    expect(err({ object, params: { 'a-b': 1 } })).toBe("openBpfProbe: parameter name 'a-b' is not a C identifier");
    expect(err({ object, params: { tw_param_pid: 1 } })).toBe("openBpfProbe: give parameter 'tw_param_pid' without its tw_param_ prefix");
    expect(err({ object, params: { pid: 1.5 } })).toBe("openBpfProbe: parameter 'pid' must be a safe integer (a bigint beyond 2^53), got 1.5");
    expect(err({ object, params: { pid: 2 ** 53 } })).toBe("openBpfProbe: parameter 'pid' must be a safe integer (a bigint beyond 2^53), got 9007199254740992");
    expect(err({ object, params: { pid: 2n ** 64n } })).toBe("openBpfProbe: parameter 'pid' does not fit 64 bits");
    expect(err({ object, params: { pid: -(2n ** 63n) - 1n } })).toBe("openBpfProbe: parameter 'pid' does not fit 64 bits");
    expect(err({ object, params: { name: 'a\0b' } })).toBe("openBpfProbe: parameter 'name' contains a NUL byte");
    expect(err({ object, params: { pid: null } })).toBe("openBpfProbe: parameter 'pid' must be a number, bigint, string or boolean, got object");
    expect(err({ object, poolSize: 0 })).toBe('openBpfProbe: poolSize must be an integer from 1 to 4096, got 0');
    expect(err({ object, batchBytes: 4100 })).toBe('openBpfProbe: batchBytes must be a multiple of 8 from 4096 to 16777216, got 4100');
    expect(err({ object, batchBytes: 2048 })).toBe('openBpfProbe: batchBytes must be a multiple of 8 from 4096 to 16777216, got 2048');
    expect(err({ object, poolSize: 4096, batchBytes: 2 ** 20 })).toBe('openBpfProbe: poolSize × batchBytes is 4294967296 bytes, more than 1 GiB');
    expect(err({ object, latencyMs: 0 })).toBe('openBpfProbe: latencyMs must be a number of milliseconds from 1 to 60000, got 0');
  });
});

describe('the addon checks the options again', () => {
  const Probe = loadNative().binding?.BpfProbe;
  it.skipIf(Probe === undefined)('and refuses what the TS wrapper would have', () => {
    const make = (o: Record<string, unknown>): string => {
      try {
        new Probe!({ object, params: {}, poolSize: 2, batchBytes: 4096, latencyMs: 10, ...o } as never);
        return 'no error';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(make({ object: 'probe.bpf.o' })).toBe("relay-native: BPF probe option object must be an absolute path, got 'probe.bpf.o'");
    expect(make({ poolSize: 0 })).toBe('relay-native: BPF probe option poolSize must be an integer from 1 to 4096');
    expect(make({ batchBytes: 4100 })).toBe('relay-native: BPF probe option batchBytes must be a multiple of 8');
    expect(make({ latencyMs: 1.5 })).toBe('relay-native: BPF probe option latencyMs must be an integer from 1 to 60000');
    expect(make({ params: { 'a-b': 1 } })).toBe("relay-native: BPF parameter name 'a-b' is not a C identifier");
    expect(make({ params: { a: 0.5 } })).toBe("relay-native: BPF parameter 'a' must be a safe integer (use a bigint beyond 2^53)");
    expect(make({ params: { a: 2n ** 64n } })).toBe("relay-native: BPF parameter 'a' does not fit 64 bits");
    expect(make({ params: { a: null } })).toBe("relay-native: BPF parameter 'a' must be a number, bigint, string or boolean");
    // a file that is not ELF: libbpf's open fails, before anything needs privileges
    expect(make({})).toMatch(new RegExp(`^cannot open BPF object ${object}: `));
  });
});
