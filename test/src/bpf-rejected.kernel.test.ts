// A probe whose BPF program the kernel's verifier rejects, brought up with --probe-backend bpf by
// tw dump -e tw:<name> and by tw watch: one error that names the probe and quotes the verifier's
// last lines (under --json also as data: probe, program, section, verifierLog), a non-zero exit
// code, and nothing left loaded (no program) or enabled (no tracefs instance of that tw).
//
// The rejected program is made on purpose, by a test-only hook: no realistic spec the generator
// accepts was found that the verifier refuses. @tw/kprobe-gen/testing's plantRejectedBpfObject
// compiles the shipped spec `unlinkat` with an out-of-bounds read injected into its C (a read
// past the end of its record) and stores the object in a private object cache; the tw runs here
// get that cache as $XDG_CACHE_HOME and take the object as the spec's own.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plantRejectedBpfObject } from '@tw/kprobe-gen/testing';
import { unlinkat } from '@tw/plugin-fswatch/probes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[bpf-rejected.kernel] skipped: ${reason}`);
const WATCH = join(REPO_ROOT, 'test/fixtures/unlinkat-watch.mjs');
const INSTANCES = '/sys/kernel/tracing/instances';
const HEAD = "probe 'unlinkat': the kernel's BPF verifier rejected its program 'tw_unlinkat' (tracepoint/syscalls/sys_enter_unlinkat)";

/** ids of loaded programs named tw_unlinkat (the probe's) */
function probePrograms(): number[] {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as Array<{ id: number; name?: string }>;
  return list.filter((p) => p.name === 'tw_unlinkat').map((p) => p.id);
}

interface TwRun {
  pid: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs tw to its end with the private cache; its pid too, to look for its tracefs instance. */
function tw(args: string[], cache: string): Promise<TwRun> {
  const p = spawn(process.execPath, [twCliPath(), ...args], { cwd: REPO_ROOT, env: { ...process.env, XDG_CACHE_HOME: cache }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  expect(probePrograms(), 'tw_unlinkat programs after the run').toEqual([]);
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

  beforeAll(async () => {
    cache = mkdtempSync(join(tmpdir(), 'tw-rejected-cache-'));
    dir = mkdtempSync(join(tmpdir(), 'tw-rejected-'));
    mkdirSync(join(dir, 'w'));
    await plantRejectedBpfObject(unlinkat, { objectCacheDir: join(cache, 'tw', 'bpf', 'objects') });
  });

  afterAll(() => {
    for (const d of [cache, dir]) if (d !== '') rmSync(d, { recursive: true, force: true });
  });

  it('tw dump -e tw:unlinkat --probe-backend bpf: one error naming the probe and quoting the verifier, exit 9, nothing left', async () => {
    expect(probePrograms(), 'no tw_unlinkat program before').toEqual([]);
    const r = await tw(['dump', '-e', 'tw:unlinkat', '--probe-backend', 'bpf', '--duration', '10s'], cache);
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
    const r = await tw(['watch', WATCH, `${join(dir, 'w')}/`, '--probe-backend', 'bpf', '--json'], cache);
    expect(r.code, r.stderr).toBe(9);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string; probe?: string; program?: string; section?: string; verifierLog?: string[] } };
    const e = out.error;
    expect(Object.keys(out)).toEqual(['error']);
    expect(e).toMatchObject({ code: 'BPF_VERIFIER', probe: 'unlinkat', program: 'tw_unlinkat', section: 'tracepoint/syscalls/sys_enter_unlinkat' });
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

  it('tw watch without --json: the same one error on stderr, exit 9', async () => {
    const r = await tw(['watch', WATCH, `${join(dir, 'w')}/`, '--probe-backend', 'bpf'], cache);
    expect(r.code, r.stderr).toBe(9);
    expect(oneError(r.stderr).startsWith(HEAD)).toBe(true);
    await expectNothingLeft(r);
  });
});
