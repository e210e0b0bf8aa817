import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tracefs, TwError, isTwError, type BpfVerifierError } from '@tw/core';
import { bpfProgramKind } from '../bpf/render-bpf.js';
import { renderKprobeEvent } from '../kprobe-events.js';
import { pluginShapes, sysFiltered, testSpecs } from '../test-specs.js';
import { kprobeFormat } from '../testing/formats.js';
import { PROBE_BACKEND_ORDER, probeBackendOrder, type ProbeEnv } from './backend.js';
import { bpfBackend, loaderError } from './bpf-backend.js';
import { probeUp } from './probe-up.js';

const env = (over: Partial<ProbeEnv> = {}): ProbeEnv => ({ tracefs: new Tracefs('/nonexistent-tracefs'), kdir: '/nonexistent', ...over });

describe('the probe backend order', () => {
  it('auto tries every backend in the stated order; a named one alone', () => {
    expect(probeBackendOrder('auto')).toEqual(PROBE_BACKEND_ORDER);
    expect(PROBE_BACKEND_ORDER).toEqual(['bpf', 'kprobe-events', 'module']);
    expect(probeBackendOrder('kprobe-events')).toEqual(['kprobe-events']);
  });

  it('a probe that must outlive tw (tw probe load) never tries BPF, and refuses it by name', async () => {
    expect(probeBackendOrder('auto', { persistent: true })).toEqual(['kprobe-events', 'module']);
    await expect(probeUp(testSpecs[0]!, { backend: 'bpf', persistent: true, tracefs: new Tracefs('/nonexistent') })).rejects.toThrow(/lives only as long as the tw process/);
  });
});

describe('the BPF backend', () => {
  const unlinkat = pluginShapes.find((s) => s.name === 'unlinkat')!;
  it('is unavailable without a loader, or with one that says why not', () => {
    expect(bpfBackend.unavailable(unlinkat, env())).toBe('no BPF loader was given');
    const loader = { status: () => 'the BPF backend is unavailable: no libbpf' as const, open: () => { throw new Error('not called'); } };
    expect(bpfBackend.unavailable(unlinkat, env({ bpf: loader }))).toBe('the BPF backend is unavailable: no libbpf');
  });

  it('is available for a spec it can express when the loader works', () => {
    const loader = { status: () => true as const, open: () => { throw new Error('not called'); } };
    expect(bpfBackend.unavailable(unlinkat, env({ bpf: loader }))).toBeUndefined();
  });

  it("is unavailable for a spec whose kind of program the loader says cannot run here (kprobe forms without kprobes), before compiling", () => {
    const unlink = pluginShapes.find((s) => s.name === 'unlink')!;
    const asked: string[] = [];
    const loader = {
      status: () => true as const,
      canRun: (kind: 'tracepoint' | 'kprobe') => (asked.push(kind), kind === 'kprobe' ? 'no kprobes here' : (true as const)),
      open: () => { throw new Error('not called'); },
    };
    expect(bpfBackend.unavailable(unlink, env({ bpf: loader }))).toBe('kprobe programs cannot run here: no kprobes here');
    expect(bpfBackend.unavailable(unlinkat, env({ bpf: loader }))).toBeUndefined();
    expect(asked).toEqual(['kprobe', 'tracepoint']);
  });
});

describe("the BPF loader's errors, as tw errors naming the probe", () => {
  const loaderErr = (code: string, message: string, extra: Record<string, unknown> = {}): Error => Object.assign(new Error(message), { code, ...extra });

  it('a verifier rejection: one BPF_VERIFIER error with the program, its section and the verifier lines', () => {
    const lines = ['14: (79) r1 = *(u64 *)(r6 +320)', 'invalid access to map value, value_size=320 off=320 size=8'];
    const cause = loaderErr('BPF_VERIFIER', "BPF object /o/tw_x.bpf.o: the verifier rejected program 'tw_x'", { program: 'tw_x', section: 'tracepoint/syscalls/sys_enter_unlinkat', verifierLog: lines });
    const e = loaderError('x', '/o/tw_x.bpf.o', cause) as BpfVerifierError;
    expect(isTwError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'BPF_VERIFIER', probe: 'x', program: 'tw_x', section: 'tracepoint/syscalls/sys_enter_unlinkat', verifierLog: lines, cause });
    expect(e.message).toBe(
      "probe 'x': the kernel's BPF verifier rejected its program 'tw_x' (tracepoint/syscalls/sys_enter_unlinkat), from /o/tw_x.bpf.o; the verifier's last lines:\n" +
        '  14: (79) r1 = *(u64 *)(r6 +320)\n  invalid access to map value, value_size=320 off=320 size=8',
    );
  });

  it("the loader's other codes: tw's codes, the message prefixed with the probe; anything else unchanged", () => {
    const eperm = loaderError('k', '/o', loaderErr('BPF_LOAD', "BPF object /o: the kernel refused to load program 'tw_k' (kprobe/f): Operation not permitted (EPERM)"));
    expect(eperm).toMatchObject({ code: 'BPF_LOAD', message: "probe 'k': BPF object /o: the kernel refused to load program 'tw_k' (kprobe/f): Operation not permitted (EPERM)" });
    expect(loaderError('k', '/o', loaderErr('BPF_ATTACH', 'a'))).toMatchObject({ code: 'BPF_LOAD' });
    expect(loaderError('k', '/o', loaderErr('BPF_PARAM', 'p'))).toMatchObject({ code: 'BAD_ARGUMENT', message: "probe 'k': p" });
    const other = new TypeError('x');
    expect(loaderError('k', '/o', other)).toBe(other);
    const tw = new TwError('BPF_BUILD', 'clang failed');
    expect(loaderError('k', '/o', tw)).toBe(tw);
  });
});

describe('bpfProgramKind: the kind of program a spec\'s object holds', () => {
  it('tracepoint programs for syscall and tracepoint forms, kprobe programs for kprobe forms', () => {
    const kinds = Object.fromEntries([...testSpecs, ...pluginShapes].map((s) => [s.name, bpfProgramKind(s)]));
    expect(kinds['unlinkat']).toBe('tracepoint');
    expect(kinds['unlink']).toBe('kprobe');
    expect(kinds['ksink']).toBe('kprobe'); // kretprobe
    expect(kinds['sys_openat']).toBe('tracepoint');
  });
});

describe('probe parameters', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tw-probe-params-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  async function codeAndMessage(p: Promise<unknown>): Promise<[string, string]> {
    try {
      await p;
    } catch (e) {
      if (isTwError(e)) return [e.code, e.message];
      throw e;
    }
    throw new Error('expected a TwError');
  }

  it('are checked against the spec before any backend is tried: PROBE_PARAM naming the probe and the parameter', async () => {
    // a tracefs that does not exist: nothing is tried
    const tracefs = new Tracefs('/nonexistent-tracefs');
    expect(await codeAndMessage(probeUp(sysFiltered, { tracefs, params: { flag_masks: 1 } }))).toEqual([
      'PROBE_PARAM',
      "probe 'sys_openat' has no parameter 'flag_masks' (it has: only_comm (charp), flag_mask (uint))",
    ]);
    expect(await codeAndMessage(probeUp(sysFiltered, { tracefs, params: { flag_mask: -1 } }))).toEqual(['PROBE_PARAM', "probe 'sys_openat', parameter flag_mask (uint): -1 is out of range for uint (0..4294967295)"]);
    expect(await codeAndMessage(probeUp(sysFiltered, { tracefs, params: { flag_mask: '64' } }))).toEqual([
      'PROBE_PARAM',
      "probe 'sys_openat', parameter flag_mask (uint): must be an integer (number or bigint) for a uint param, got '64'",
    ]);
    expect(await codeAndMessage(probeUp(sysFiltered, { tracefs, params: { only_comm: 'a b' } }))).toEqual([
      'PROBE_PARAM',
      "probe 'sys_openat', parameter only_comm (charp): must be at most 128 characters from [A-Za-z0-9_.,:/@+=-] (it is a C string literal and an insmod argument)",
    ]);
  });

  it('reach the kprobe event: their values are substituted into its filter', async () => {
    // a directory that looks like tracefs with kprobe events (the kernel side is the VM tests')
    const root = join(tmp, 'tracefs');
    for (const d of ['events/tw/sys_openat', 'instances']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'kprobe_events'), '');
    writeFileSync(join(root, 'dynamic_events'), '');
    writeFileSync(join(root, 'events/tw/sys_openat/filter'), 'none\n');
    writeFileSync(join(root, 'events/tw/sys_openat/format'), kprobeFormat(renderKprobeEvent(sysFiltered, { arch: 'x86_64' }).line, 'sys_openat'));
    const p = await probeUp(sysFiltered, { backend: 'kprobe-events', tracefs: new Tracefs(root), params: { only_comm: 'rm', flag_mask: 64 } });
    expect(p.backend).toBe('kprobe-events');
    expect(p.filter).toBe('((comm == "rm") && (flags & 64)) && (common_pid != 1)');
    expect(readFileSync(join(root, 'events/tw/sys_openat/filter'), 'utf8')).toBe(p.filter);
  });
});
