/**
 * traceLive refuses record sources (BPF probes, stamped with CLOCK_MONOTONIC) under any trace
 * clock but "mono", before it touches tracefs (so this runs without root).
 */
import { describe, expect, it } from 'vitest';
import { isTwError } from '../errors.js';
import { traceLive } from './trace-live.js';
import type { RecordSource } from './types.js';

const source: RecordSource = {
  name: 'bpf-x',
  clock: 'mono',
  events: [{ system: 'tw', name: 'x', format: () => '' }],
  start: () => undefined,
  stop: () => Promise.resolve(),
  lost: () => [],
};

describe('traceLive with record sources', () => {
  for (const clock of ['local', 'global', 'boot', 'x86-tsc']) {
    it(`refuses them with the clock '${clock}' (BAD_ARGUMENT, saying why)`, async () => {
      const e = await traceLive({ events: ['tw:x'], clock, sources: [source], reader: () => { throw new Error('no reader may be opened'); } }, () => ({ visit: () => true, finish: () => undefined })).catch((x: unknown) => x);
      expect(isTwError(e) && e.code).toBe('BAD_ARGUMENT');
      expect((e as Error).message).toMatch(/bpf-x.*CLOCK_MONOTONIC.*'mono', not '/);
    });
  }
});
