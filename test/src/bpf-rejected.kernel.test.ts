// A probe whose BPF program the kernel's verifier rejects, brought up with --probe-backend bpf by
// tw dump -e tw:<name> and by tw watch: one error that names the probe and quotes the verifier's
// last lines (under --json also as data: probe, program, section, verifierLog), a non-zero exit
// code, and nothing left loaded (no program) or enabled (no tracefs instance of that tw).
//
// The rejected program is made on purpose, by a test-only hook: no realistic spec the generator
// accepts was found that the verifier refuses. @tw/kprobe-gen/testing's plantRejectedBpfObject
// compiles a copy of the shipped spec `unlinkat` named `test_unlinkat` (from a user plugin linked
// for the test, which ships no prebuilt object: the shipped plugin's would be taken first) with an
// out-of-bounds read injected into its C (a read past the end of its record) and stores the object
// in a private object cache; the tw runs here get that cache as $XDG_CACHE_HOME and take the
// object as the spec's own.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plantRejectedBpfObject } from '@tw/kprobe-gen/testing';
import { unlinkat } from '@tw/plugin-fswatch/probes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { linkedProbePlugin, type LinkedPlugin } from './support/probe-plugin.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[bpf-rejected.kernel] skipped: ${reason}`);
const INSTANCES = '/sys/kernel/tracing/instances';
const HEAD = "probe 'test_unlinkat': the kernel's BPF verifier rejected its program 'tw_test_unlinkat' (tracepoint/syscalls/sys_enter_unlinkat)";
const SPEC = { ...unlinkat, name: 'test_unlinkat', description: 'unlinkat(2) entry (test plugin)' };
/** a watch of the test plugin's probe (it never gets an event: the probe cannot come up) */
const WATCH_SRC = `export default { name: 'rejected-count', summary: 'counts tw:test_unlinkat (test)', events: ['tw:test_unlinkat'], probes: ['test_unlinkat'],
  state: () => ({ n: 0 }), on: { 'tw:test_unlinkat'(e, ctx) { ctx.state.n++; } }, end: (ctx) => ({ n: ctx.state.n }) };\n`;

/** ids of loaded programs named tw_test_unlinkat (the probe's) */
function probePrograms(): number[] {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as Array<{ id: number; name?: string }>;
  return list.filter((p) => p.name === 'tw_test_unlinkat').map((p) => p.id);
}

interface TwRun {
  pid: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs tw to its end (killed after 60 s) in `env`; its pid too, to look for its tracefs instance. */
function tw(args: string[], env: NodeJS.ProcessEnv): Promise<TwRun> {
  const p = spawn(process.execPath, [twCliPath(), ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
  p.on('close', () => clearTimeout(t));
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => p.on('close', (code) => resolve({ pid: p.pid!, code, stdout, stderr })));
}

/** Nothing of the run is left: no program of the probe (freed after an RCU grace period), no instance of that tw. */
async function expectNothingLeft(r: TwRun): Promise<void> {
  const t0 = Date.now();
  while (probePrograms().length > 0 && Date.now() - t0 < 3000) await new Promise((res) => setTimeout(res, 50));
  expect(probePrograms(), 'tw_test_unlinkat programs after the run').toEqual([]);
  expect(readdirSync(INSTANCES).filter((n) => n.startsWith(`tw-${r.pid}-`)), 'instances of that tw').toEqual([]);
}

/** stderr holds one error, "tw: <message>", and nothing else (no stack, no second report). */
function oneError(stderr: string): string {
  expect(stderr.startsWith('tw: '), stderr).toBe(true);
  expect(stderr.match(/^tw: /gm), stderr).toHaveLength(1);
  expect(stderr, 'no stack trace').not.toMatch(/^\s+at /m);
  return stderr.slice(4).trimEnd();
}

describe.skipIf(reason !== undefined)('a probe the BPF verifier rejects (test-only: an out-of-bounds read injected)', () => {
  let cache = '';
  let dir = '';
  let plugin: LinkedPlugin;
  let watch = '';

  beforeAll(async () => {
    cache = mkdtempSync(join(tmpdir(), 'tw-rejected-cache-'));
    dir = mkdtempSync(join(tmpdir(), 'tw-rejected-'));
    plugin = linkedProbePlugin(dir, SPEC, { ...process.env, XDG_CACHE_HOME: cache });
    watch = join(dir, 'rejected-watch.mjs');
    writeFileSync(watch, WATCH_SRC);
    await plantRejectedBpfObject(SPEC, { objectCacheDir: join(cache, 'tw', 'bpf', 'objects') });
  });

  afterAll(() => {
    for (const d of [cache, dir]) if (d !== '') rmSync(d, { recursive: true, force: true });
  });

  it('tw dump -e tw:test_unlinkat --probe-backend bpf: one error naming the probe and quoting the verifier, exit 9, nothing left', async () => {
    expect(probePrograms(), 'no tw_test_unlinkat program before').toEqual([]);
    const r = await tw(['dump', '-e', 'tw:test_unlinkat', '--probe-backend', 'bpf', '--duration', '10s'], plugin.env);
    expect(r.code, r.stderr).toBe(9);
    expect(r.stdout).toBe('');
    const message = oneError(r.stderr);
    expect(message.startsWith(HEAD), message).toBe(true);
    const [first, ...quoted] = message.split('\n');
    expect(first).toMatch(/; the verifier's last lines:$/);
    expect(quoted.length).toBeGreaterThan(0);
    expect(quoted.length).toBeLessThanOrEqual(10);
    expect(quoted.every((l) => l.startsWith('  '))).toBe(true);
    expect(quoted.some((l) => /invalid access to map value, value_size=\d+ off=\d+ size=8/.test(l)), message).toBe(true);
    await expectNothingLeft(r);
  });

  it('tw watch --probe-backend bpf --json: the error as JSON with the probe, program, section and verifier lines, exit 9, nothing left', async () => {
    const r = await tw(['watch', watch, '--probe-backend', 'bpf', '--json', '--duration', '10s'], plugin.env);
    expect(r.code, r.stderr).toBe(9);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string; probe?: string; program?: string; section?: string; verifierLog?: string[] } };
    const e = out.error;
    expect(Object.keys(out)).toEqual(['error']);
    expect(e).toMatchObject({ code: 'BPF_VERIFIER', probe: 'test_unlinkat', program: 'tw_test_unlinkat', section: 'tracepoint/syscalls/sys_enter_unlinkat' });
    expect(e.message.startsWith(HEAD)).toBe(true);
    const log = e.verifierLog ?? [];
    expect(log.length).toBeGreaterThan(0);
    expect(log.length).toBeLessThanOrEqual(10);
    expect(log.some((l) => /invalid access to map value/.test(l))).toBe(true);
    expect(e.message.split('\n').slice(1)).toEqual(log.map((l) => `  ${l}`));
    // the same error once on stderr, for whoever reads the terminal
    expect(oneError(r.stderr)).toBe(e.message);
    await expectNothingLeft(r);
  });

  it('tw watch without --json, --probe-backend auto (BPF is the only backend this kernel has): the same one error on stderr, exit 9', async () => {
    const r = await tw(['watch', watch, '--duration', '10s'], plugin.env);
    expect(r.code, r.stderr).toBe(9);
    expect(oneError(r.stderr).startsWith(HEAD)).toBe(true);
    await expectNothingLeft(r);
  });
});
