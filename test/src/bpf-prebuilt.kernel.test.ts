// BPF probes from the objects prebuilt into the plugin packages, on a machine without clang: tw
// runs with a PATH that has no clang (nor bpftool) and an empty object cache. who-deleted then
// runs live from @tw/plugin-fswatch's dist/bpf (its syscall-exit probes by BPF on this kernel); a probe whose
// package has no object for it (a user plugin linked from a temporary directory, with no
// dist/bpf, then with only an object of another spec hash) fails with an error saying so.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelOf } from '@tw/probe-spec';
import { unlinkat } from '@tw/plugin-fswatch/probes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bpfSkipReason } from './support/bpf.js';
import { linkedProbePlugin, type LinkedPlugin } from './support/probe-plugin.js';
import { run } from './support/proc.js';
import { parseWatchJson } from './support/watch-json.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { eventually, loadedPrograms, startTw, twPrograms } from './support/tw-live.js';

const reason = skipReason() ?? bpfSkipReason();
if (reason) console.warn(`[bpf-prebuilt.kernel] skipped: ${reason}`);
const SHIPPED = join(REPO_ROOT, 'packages/plugin-fswatch/dist/bpf');
const SHIPPED_OBJECT = join(SHIPPED, `unlinkat.${modelOf(unlinkat).hash}.bpf.o`);

let tmp: string;
/** the environment of a machine without clang: PATH holds node only, the caches are empty */
let noClang: NodeJS.ProcessEnv;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tw-prebuilt-'));
  mkdirSync(join(tmp, 'bin'));
  symlinkSync(process.execPath, join(tmp, 'bin', 'node'));
  noClang = { ...process.env, PATH: join(tmp, 'bin'), XDG_CACHE_HOME: join(tmp, 'cache') };
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A user plugin (linked from a temporary directory) shipping one spec like unlinkat, named test_unlinkat. */
function linkedPlugin(): LinkedPlugin {
  return linkedProbePlugin(tmp, { ...unlinkat, name: 'test_unlinkat', description: 'unlinkat(2) entry (test plugin)' }, noClang);
}

describe.skipIf(reason !== undefined)('BPF probes from prebuilt objects, without clang', () => {
  it('the build put the shipped specs\' objects into the plugin packages', () => {
    expect(existsSync(SHIPPED_OBJECT), `${SHIPPED_OBJECT} is missing: build the plugins where clang is installed (npx turbo run build --force)`).toBe(true);
    expect(readdirSync(SHIPPED).filter((f) => f.endsWith('.bpf.o')).map((f) => f.split('.')[0]).sort()).toEqual([
      'open_write', 'openat_write', 'sys_fchmod', 'sys_fchmodat', 'sys_fchown', 'sys_fchownat', 'sys_ftruncate', 'sys_pwrite64', 'sys_rename', 'sys_renameat', 'sys_renameat2',
      'sys_rmdir', 'sys_truncate', 'sys_unlink', 'sys_unlinkat', 'sys_utimensat', 'sys_write', 'sys_writev', 'unlink', 'unlink_cwd', 'unlinkat',
    ]);
    expect(readdirSync(join(REPO_ROOT, 'packages/plugin-kill/dist/bpf')).filter((f) => f.endsWith('.bpf.o')).map((f) => f.split('.')[0]).sort()).toEqual(['kill', 'sys_kill']);
  });

  it('tw doctor, without clang: the BPF objects check counts the shipped ones and who-deleted still runs live', async () => {
    const r = await run(process.execPath, [twCliPath(), 'doctor', '--json'], { check: false, env: noClang });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { checks: Array<{ name: string; ok: boolean; detail: string }>; watches: Array<{ watch: string; verdict: string }> };
    expect(d.checks.find((c) => c.name === 'BPF objects')).toEqual({ name: 'BPF objects', ok: true, detail: expect.stringMatching(/^no clang, none needed: (\d+) of \1 BPF-expressible probe specs have a prebuilt or cached object$/) });
    expect(d.watches.find((w) => w.watch === 'who-deleted')?.verdict).toBe('runs live');
  });

  it('who-deleted runs live from the prebuilt objects of its syscall-exit probes: no clang, empty cache', async () => {
    const dir = join(tmp, 'files');
    mkdirSync(dir);
    for (const f of ['p', 'q']) writeFileSync(join(dir, f), 'x');
    // two deletions: a monitor (without --keep-going it would end at the first)
    const tw = await startTw(['watch', 'who-deleted', `${dir}/`, '--json', '--keep-going'], noClang);
    for (const p of ['sys_unlinkat', 'sys_unlink', 'sys_rmdir', 'sys_rename', 'sys_renameat', 'sys_renameat2']) expect(tw.line).toContain(`tw:${p} via bpf (prebuilt object)`);
    await run('rm', [join(dir, 'p'), join(dir, 'q')]);
    await new Promise((r) => setTimeout(r, 300));
    tw.kill('SIGINT');
    const r = await tw.done;
    expect(r.code, r.stderr).toBe(0);
    const res = parseWatchJson<{ deletions: Array<{ comm: string; pathname: string }>; lost: number }>(r.stdout).result;
    expect(res.deletions.map((d) => [d.comm, d.pathname])).toEqual([['rm', join(dir, 'p')], ['rm', join(dir, 'q')]]);
    expect(res.lost).toBe(0);
    // nothing was compiled or cached
    expect(existsSync(join(tmp, 'cache', 'tw', 'bpf', 'objects'))).toBe(false);
    // none of who-deleted's programs (names are cut at 15 characters: tw_sys_renamea…)
    expect(await eventually(() => twPrograms().filter((p) => /^tw_(unlink|sys_(unlink|rmdir|renam))/.test(p.name)).length === 0)).toBe(true);
  });

  it('no prebuilt object for the spec, no clang: the error says where it looked and what to install', async () => {
    const p = linkedPlugin();
    const args = ['record', '-o', join(tmp, 'never.dat'), '-e', 'tw:test_unlinkat', '--duration', '1s'];
    const absent = await run(process.execPath, [twCliPath(), ...args], { check: false, env: p.env });
    expect(absent.code).toBe(9);
    const where = `no prebuilt object for spec hash ${p.hash} in ${join(p.root, 'dist', 'bpf')}`;
    const cache = `none in the object cache (${join(tmp, 'cache', 'tw', 'bpf', 'objects')})`;
    expect(absent.stderr).toContain(`tw: no BPF object for probe 'test_unlinkat': ${where}; ${cache}; and clang is not installed (install clang, or a package built with it)`);

    // an object of another version of the spec is not taken for this one
    mkdirSync(join(p.root, 'dist', 'bpf'), { recursive: true });
    copyFileSync(SHIPPED_OBJECT, join(p.root, 'dist', 'bpf', 'test_unlinkat.0123456789abcdef.bpf.o'));
    const stale = await run(process.execPath, [twCliPath(), ...args], { check: false, env: p.env });
    expect(stale.code).toBe(9);
    expect(stale.stderr).toContain(`${where} (it has test_unlinkat.0123456789abcdef.bpf.o: another version of the spec); ${cache}; and clang is not installed`);
    expect(existsSync(join(tmp, 'never.dat'))).toBe(false);
    expect(loadedPrograms(['tw_test_unlinkat'])).toEqual([]);
  });
});
