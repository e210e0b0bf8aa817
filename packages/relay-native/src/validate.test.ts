/** Bad inputs get clear errors, from the TS wrapper and again from the addon. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRingReader, type OpenOptions } from './index.js';
import { loadNative } from './load-native.js';
import { validateOptions } from './validate.js';

/** A directory shaped like a tracefs instance (per_cpu/, buffer_subbuf_size_kb): enough for validation. */
let fake: string;
beforeAll(() => {
  fake = mkdtempSync(join(tmpdir(), 'tw-rn-fake-'));
  mkdirSync(join(fake, 'per_cpu', 'cpu0'), { recursive: true });
  writeFileSync(join(fake, 'buffer_subbuf_size_kb'), '4\n');
});
afterAll(() => rmSync(fake, { recursive: true, force: true }));

const ok = (): OpenOptions => ({ instance: fake, cpus: [0], subbufSize: 4096 });

describe('validateOptions', () => {
  it('fills in the defaults', () => {
    expect(validateOptions({ ...ok(), instance: `${fake}/` })).toEqual({ instance: fake, cpus: [0], subbufSize: 4096, backend: 'auto', poolSize: 64, latencyMs: 50, realtime: false });
  });

  const bad: Array<[string, Partial<Record<keyof OpenOptions, unknown>>, RegExp]> = [
    ['relative instance', { instance: 'instances/x' }, /instance must be an absolute path, got 'instances\/x'/],
    ['empty instance', { instance: '' }, /instance must be the path/],
    ['missing instance', { instance: '/nonexistent/tw-rn' }, /instance directory \/nonexistent\/tw-rn does not exist/],
    ['not an instance', { instance: '/' }, /\/ is not a tracefs instance \(it has no per_cpu\/ directory\)/],
    ['cpus not an array', { cpus: 0 }, /cpus must be an array/],
    ['no cpus', { cpus: [] }, /cpus is empty/],
    ['negative cpu', { cpus: [0, -1] }, /cpus\[1\] must be a non-negative integer CPU number, got -1/],
    ['fractional cpu', { cpus: [1.5] }, /cpus\[0\] must be a non-negative integer/],
    ['string cpu', { cpus: ['0'] }, /cpus\[0\] must be a non-negative integer/],
    ['duplicate cpu', { cpus: [0, 0] }, /CPU 0 is listed twice/],
    ['subbufSize not a power of two', { subbufSize: 6000 }, /subbufSize must be a power of two from 4096 to 134217728, got 6000/],
    ['subbufSize too small', { subbufSize: 2048 }, /subbufSize must be a power of two/],
    ['subbufSize not a number', { subbufSize: '4096' }, /subbufSize must be an integer number of bytes/],
    ['subbufSize not the instance one', { subbufSize: 8192 }, /subbufSize 8192 does not match the instance's sub-buffer size \(4096 bytes/],
    ['unknown backend', { backend: 'splice' }, /backend must be one of auto, mmap, read, js, got 'splice'/],
    ['poolSize 0', { poolSize: 0 }, /poolSize must be an integer from 1 to 65536, got 0/],
    ['latencyMs 0', { latencyMs: 0 }, /latencyMs must be a number of milliseconds from 1 to 60000, got 0/],
    ['latencyMs NaN', { latencyMs: Number.NaN }, /latencyMs must be/],
    ['realtime not a boolean', { realtime: 'yes' }, /realtime must be a boolean, got yes/],
  ];
  for (const [what, patch, msg] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => openRingReader({ ...ok(), ...patch } as OpenOptions)).toThrow(msg);
    });
  }

  it('rejects a pool over 1 GiB per CPU', () => {
    writeFileSync(join(fake, 'buffer_subbuf_size_kb'), '1024\n');
    try {
      expect(() => validateOptions({ ...ok(), subbufSize: 1 << 20, poolSize: 2048 })).toThrow(/more than 1 GiB/);
    } finally {
      writeFileSync(join(fake, 'buffer_subbuf_size_kb'), '4\n');
    }
  });
});

describe.skipIf(!loadNative().binding)(`the addon checks its arguments again${loadNative().binding ? '' : ` (skipped: ${loadNative().reason})`}`, () => {
  const R = loadNative().binding!.NativeReader;
  const base = () => ({ instance: fake, cpus: [0], subbufSize: 4096, poolSize: 4, latencyMs: 50, backend: 'read' as const });
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['relative instance', { instance: 'x' }, /instance must be an absolute path/],
    ['cpus not an array', { cpus: 1 }, /cpus must be an array/],
    ['empty cpus', { cpus: [] }, /cpus is empty/],
    ['negative cpu', { cpus: [-1] }, /cpus\[0\] is not a CPU number/],
    ['duplicate cpu', { cpus: [2, 2] }, /CPU 2 is listed twice/],
    ['bad subbufSize', { subbufSize: 5000 }, /subbufSize must be a power of two/],
    ['bad poolSize', { poolSize: 0 }, /poolSize must be an integer from 1/],
    ['bad latency', { latencyMs: 0.5 }, /latencyMs must be an integer/],
    ['bad backend', { backend: 'js' }, /backend must be 'mmap' or 'read'/],
    ['realtime not a boolean', { realtime: 1 }, /options.realtime must be a boolean/],
  ];
  for (const [what, patch, msg] of cases) {
    it(`rejects ${what}`, () => {
      expect(() => new R({ ...base(), ...patch } as never)).toThrow(msg);
    });
  }

  it('names the file and errno when trace_pipe_raw cannot be opened', () => {
    expect(() => new R(base())).toThrow(`cannot open ${fake}/per_cpu/cpu0/trace_pipe_raw: No such file or directory (ENOENT)`);
  });
});
