// The probes of a live watch session, without a kernel: the parameters a watch gives its probes
// (checked for shape by core, against the spec by the provider, all before anything comes up),
// each probe brought up with its own, alternatives, and the kernel filters the session then sets.
import { describe, expect, it } from 'vitest';
import { TwError, isTwError } from '../errors.js';
import type { WatchRun } from '../session/run-watches.js';
import { defineWatch, type AnyWatch, type ProbeParams } from '../watch/define-watch.js';
import type { LiveProbe, ProbeProvider } from '../watch/probe-provider.js';
import type { RecordSource } from '../watch/record-source.js';
import { checkedProbeParams, probesUp, sessionFilters } from './probes-up.js';

/** The specs the fake provider knows: probe → its params and their kinds. */
const SPECS: Record<string, Record<string, 'int' | 'bool'>> = {
  open_write: { watch_ino: 'int', watch_dev: 'int' },
  openat_write: { watch_ino: 'int', watch_dev: 'int' },
  plain: {},
};

function bpfSource(name: string): RecordSource {
  return {
    name: `bpf-${name}`,
    clock: 'mono',
    events: [{ system: 'tw', name, format: () => '' }],
    start: () => undefined,
    stop: () => Promise.resolve(),
    lost: () => [],
  };
}

/**
 * A provider that checks params the way kprobe-gen does (unknown name, wrong type: PROBE_PARAM),
 * brings up only the probes in `works` (by BPF: with a source, or as a tracefs event with a filter)
 * and records what it was asked.
 */
function fakeProvider(works: Record<string, 'bpf' | { filter: string }>) {
  const calls: Array<{ op: 'check' | 'up'; name: string; params: ProbeParams | undefined }> = [];
  const check = (name: string, params: ProbeParams): void => {
    const spec = SPECS[name];
    if (!spec) return;
    for (const [k, v] of Object.entries(params)) {
      const kind = spec[k];
      if (!kind) throw new TwError('PROBE_PARAM', `probe '${name}' has no parameter '${k}' (it has: ${Object.keys(spec).join(', ') || 'none'})`);
      if (kind === 'int' && typeof v !== 'number' && typeof v !== 'bigint') throw new TwError('PROBE_PARAM', `probe '${name}', parameter ${k} (ulong): must be an integer, got ${typeof v}`);
    }
  };
  const provider: ProbeProvider = {
    checkParams(name, params) {
      calls.push({ op: 'check', name, params });
      check(name, params);
      return Promise.resolve();
    },
    up(name, params) {
      calls.push({ op: 'up', name, params });
      check(name, params ?? {});
      const how = works[name];
      if (how === undefined) return Promise.reject(new TwError('PROBE_UNSUPPORTED', `probe '${name}' cannot run here: no backend`));
      const p: LiveProbe =
        how === 'bpf'
          ? { event: `tw:${name}`, backend: 'bpf', filter: undefined, source: bpfSource(name), notes: [], down: () => Promise.resolve() }
          : { event: `tw:${name}`, backend: 'kprobe-events', filter: how.filter, notes: [], down: () => Promise.resolve() };
      return Promise.resolve(p);
    },
    unpacker: () => Promise.resolve(undefined),
  };
  return { provider, calls };
}

const whoModified = defineWatch({
  name: 'who-modified-like',
  summary: 'test watch: a kprobe form, else a syscall form, both given the file as parameters',
  args: { ino: { type: 'integer', required: true } },
  events: ['tw:open_write|tw:openat_write'],
  probes: ['open_write', 'openat_write'],
  filter: (args) => ({ 'tw:open_write': `ino == ${args.ino}`, 'tw:openat_write': `ino == ${args.ino}` }),
  probeParams: (args) => ({ open_write: { watch_ino: BigInt(args.ino), watch_dev: 45 }, openat_write: { watch_ino: BigInt(args.ino), watch_dev: 45 } }),
  on: { 'tw:open_write'() {}, 'tw:openat_write'() {} },
});

const run = (watch: AnyWatch, args: Record<string, unknown> = { ino: 1234 }): WatchRun => ({ watch, args });

async function errorOf(p: Promise<unknown>): Promise<TwError> {
  try {
    await p;
  } catch (e) {
    if (isTwError(e)) return e;
    throw e;
  }
  throw new Error('expected a TwError');
}

describe('probe parameters from a watch', () => {
  it('each probe comes up with its own; a later alternative is left down once an earlier one is up', async () => {
    const { provider, calls } = fakeProvider({ open_write: { filter: 'ino == 1234' }, openat_write: 'bpf' });
    const params = await checkedProbeParams(run(whoModified), provider);
    const up: LiveProbe[] = [];
    await probesUp(run(whoModified), whoModified.events as string[], provider, params, () => undefined, up);
    expect(up.map((p) => p.event)).toEqual(['tw:open_write']);
    expect(calls).toEqual([
      { op: 'check', name: 'open_write', params: { watch_ino: 1234n, watch_dev: 45 } },
      { op: 'check', name: 'openat_write', params: { watch_ino: 1234n, watch_dev: 45 } },
      { op: 'up', name: 'open_write', params: { watch_ino: 1234n, watch_dev: 45 } },
    ]);
  });

  it('a probe several patterns name comes up while one of them still needs it: the fallback of one, the first choice of another', async () => {
    // tw:a serves x where it comes up, else tw:b; tw:b is also the only choice for y
    const both = defineWatch({
      name: 'two-patterns',
      summary: 'test watch: b is the fallback of one pattern and the first choice of another',
      events: ['tw:a|tw:b', 'tw:b|tw:a', 'tw:a|tw:c'],
      probes: ['a', 'b', 'c'],
      on: { 'tw:a'() {}, 'tw:b'() {}, 'tw:c'() {} },
    });
    const up: LiveProbe[] = [];
    const { provider } = fakeProvider({ a: 'bpf', b: 'bpf', c: 'bpf' });
    await probesUp(run(both, {}), both.events as string[], provider, new Map(), () => undefined, up);
    // c is only ever a later alternative of the a that is up: left down
    expect(up.map((p) => p.event)).toEqual(['tw:a', 'tw:b']);
  });

  it('a probe no declared event names (with these args) is left down; a glob of them counts', async () => {
    const opt = defineWatch({
      name: 'with-option',
      summary: 'test watch: an option adds the event of probe m',
      args: { meta: { type: 'boolean', option: true } },
      events: (args) => (args.meta ? ['tw:a', 'tw:m'] : ['tw:a']),
      probes: ['a', 'm'],
      on: { 'tw:a'() {}, 'tw:m'() {} },
    });
    const { provider } = fakeProvider({ a: 'bpf', m: 'bpf' });
    const plain: LiveProbe[] = [];
    await probesUp(run(opt, {}), ['tw:a'], provider, new Map(), () => undefined, plain);
    expect(plain.map((p) => p.event)).toEqual(['tw:a']);
    const meta: LiveProbe[] = [];
    await probesUp(run(opt, { meta: true }), ['tw:a', 'tw:m'], provider, new Map(), () => undefined, meta);
    expect(meta.map((p) => p.event)).toEqual(['tw:a', 'tw:m']);
    const globbed: LiveProbe[] = [];
    await probesUp(run(opt, {}), ['tw:*'], provider, new Map(), () => undefined, globbed);
    expect(globbed.map((p) => p.event)).toEqual(['tw:a', 'tw:m']);
  });

  it('where the first cannot come up, the alternative comes up with its parameters, and the notes say what filters it', async () => {
    const { provider, calls } = fakeProvider({ openat_write: 'bpf' });
    const notes: string[] = [];
    const params = await checkedProbeParams(run(whoModified), provider);
    const up: LiveProbe[] = [];
    await probesUp(run(whoModified), whoModified.events as string[], provider, params, (m) => notes.push(m), up);
    expect(up.map((p) => [p.event, p.backend])).toEqual([['tw:openat_write', 'bpf']]);
    expect(calls.filter((c) => c.op === 'up')).toEqual([
      { op: 'up', name: 'open_write', params: { watch_ino: 1234n, watch_dev: 45 } },
      { op: 'up', name: 'openat_write', params: { watch_ino: 1234n, watch_dev: 45 } },
    ]);
    expect(notes).toEqual([expect.stringMatching(/^probe 'open_write' is not available \(probe 'open_write' cannot run here: no backend\); using the other events/)]);
    // the BPF probe's events pass no tracefs filter: the watch's is dropped, saying the parameters filter instead
    notes.length = 0;
    const filters = sessionFilters(whoModified.filter!({ ino: 1234 }), up, params, (m) => notes.push(m));
    expect(filters).toEqual({ 'tw:open_write': 'ino == 1234' });
    expect(notes).toEqual([
      "tw:openat_write comes from a BPF probe: the watch's kernel filter 'ino == 1234' is not applied (the probe filters by the parameters the watch gave it: watch_ino=1234, watch_dev=45)",
    ]);
  });

  it("a probe's own filter (a kprobe event's, parameters substituted) is joined to the watch's for the same event", () => {
    const up: LiveProbe[] = [{ event: 'tw:open_write', backend: 'kprobe-events', filter: '(mode & 2) != 0 && ino == 1234', notes: [], down: () => Promise.resolve() }];
    expect(sessionFilters({ 'tw:open_write': 'dev == 45', 'sched:sched_switch': 'prev_pid == 1' }, up, new Map(), () => undefined)).toEqual({
      'tw:open_write': '((mode & 2) != 0 && ino == 1234) && (dev == 45)',
      'sched:sched_switch': 'prev_pid == 1',
    });
    expect(sessionFilters({}, up, new Map(), () => undefined)).toEqual({ 'tw:open_write': '(mode & 2) != 0 && ino == 1234' });
  });

  it('a BPF probe the watch gives no parameters: the note says its handler sees everything the probe emits', () => {
    const notes: string[] = [];
    const up: LiveProbe[] = [{ event: 'tw:plain', backend: 'bpf', filter: undefined, source: bpfSource('plain'), notes: [], down: () => Promise.resolve() }];
    expect(sessionFilters({ 'tw:plain': 'x == 1' }, up, new Map(), (m) => notes.push(m))).toEqual({});
    expect(notes).toEqual(["tw:plain comes from a BPF probe: the watch's kernel filter 'x == 1' is not applied (the watch gives the probe no parameters: its handler sees every event the probe emits)"]);
  });

  it('a parameter the spec does not have fails the run before anything comes up, naming the watch, the probe and the parameter', async () => {
    const bad = defineWatch({ ...whoModified, name: 'bad-param', probeParams: () => ({ openat_write: { watch_inode: 1 } }) });
    const { provider, calls } = fakeProvider({ open_write: { filter: 'x' }, openat_write: 'bpf' });
    const e = await errorOf(checkedProbeParams(run(bad), provider));
    expect(e.code).toBe('PROBE_PARAM');
    expect(e.message).toBe("watch 'bad-param': probe 'openat_write' has no parameter 'watch_inode' (it has: watch_ino, watch_dev)");
    // checked although open_write would have come up and openat_write never been tried
    expect(calls.map((c) => c.op)).toEqual(['check']);
  });

  it('a value of the wrong type: PROBE_PARAM naming watch, probe and parameter', async () => {
    const bad = defineWatch({ ...whoModified, name: 'bad-type', probeParams: () => ({ open_write: { watch_ino: 'abc' } }) });
    const { provider } = fakeProvider({});
    const e = await errorOf(checkedProbeParams(run(bad), provider));
    expect([e.code, e.message]).toEqual(['PROBE_PARAM', "watch 'bad-type': probe 'open_write', parameter watch_ino (ulong): must be an integer, got string"]);
  });

  it('core checks the shape itself: a probe the watch does not declare, a bad name, a value no parameter takes', async () => {
    const { provider } = fakeProvider({});
    const cases: Array<[AnyWatch['probeParams'], string]> = [
      [() => ({ unlink: { x: 1 } }), "watch 'shape': probeParams names probe 'unlink', which the watch does not declare (its probes: open_write, openat_write)"],
      [() => ({ open_write: 5 }) as never, "watch 'shape': probe 'open_write': its parameters must be { <param>: value }, got number 5"],
      [() => ({ open_write: { 'watch-ino': 1 } }), "watch 'shape': probe 'open_write': 'watch-ino' is not a parameter name ([a-z][a-z0-9_]*, at most 32 characters)"],
      [() => ({ open_write: { watch_ino: 1.5 } }), "watch 'shape': probe 'open_write', parameter watch_ino: must be an integer (a bigint beyond 2^53), got 1.5"],
      [() => ({ open_write: { watch_ino: null } }) as never, "watch 'shape': probe 'open_write', parameter watch_ino: must be a number, bigint, boolean or string, got null"],
      [() => [] as never, "watch 'shape': probeParams must return { <probe>: { <param>: value } }, got an array"],
      [
        () => {
          throw new Error('no stat');
        },
        "watch 'shape': probeParams threw: no stat",
      ],
    ];
    for (const [probeParams, message] of cases) {
      const w = { ...whoModified, name: 'shape', probeParams } as AnyWatch;
      const e = await errorOf(checkedProbeParams(run(w), provider));
      expect([e.code, e.message]).toEqual(['PROBE_PARAM', message]);
    }
  });

  it('a PROBE_PARAM error from up() is never taken for a probe that is missing', async () => {
    const { provider } = fakeProvider({ openat_write: 'bpf' });
    // as if a provider without checkParams of its own found the problem only at up()
    const lax: ProbeProvider = { ...provider, checkParams: () => Promise.resolve() };
    const bad = defineWatch({ ...whoModified, name: 'late', probeParams: () => ({ openat_write: { nope: 1 } }) });
    const params = await checkedProbeParams(run(bad), lax);
    const e = await errorOf(probesUp(run(bad), bad.events as string[], lax, params, () => undefined, []));
    expect([e.code, e.message]).toEqual(['PROBE_PARAM', "watch 'late': probe 'openat_write' has no parameter 'nope' (it has: watch_ino, watch_dev)"]);
  });

  it('a watch without probeParams gives none: up() gets no parameters', async () => {
    const plain = defineWatch({ name: 'plain-watch', summary: 'x', events: ['tw:plain'], probes: ['plain'], on: { 'tw:plain'() {} } });
    const { provider, calls } = fakeProvider({ plain: 'bpf' });
    const params = await checkedProbeParams(run(plain, {}), provider);
    expect(params.size).toBe(0);
    await probesUp(run(plain, {}), ['tw:plain'], provider, params, () => undefined, []);
    expect(calls).toEqual([{ op: 'up', name: 'plain', params: undefined }]);
  });

  it('defineWatch rejects probeParams that is not a function, or without probes', () => {
    expect(() => defineWatch({ ...whoModified, probeParams: {} as never })).toThrow(/probeParams must be a function/);
    expect(() => defineWatch({ name: 'np', summary: 'x', events: ['a:b'], probeParams: () => ({}), on: {} })).toThrow(/has probeParams but declares no probes/);
  });
});
