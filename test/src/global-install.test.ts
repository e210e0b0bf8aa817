// tw installed as a user installs a tool: scripts/pack.mjs (`npm run pack`) makes the tarball,
// `npm install -g` puts it into a fresh prefix with the registry off (--offline: everything tw
// needs is in the tarball), and the `tw` it puts on the PATH lists its watches and runs one on
// a recording, with the same answer as the repository's tw. The relay-native addon is built at
// install (node-gyp, this machine's node headers) or its install script says the build failed
// and the JS reader is used; either is accepted, and the test says which it saw.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './support/proc.js';
import { REPO_ROOT, runTw } from './support/tw.js';

const SAMPLE = join(REPO_ROOT, 'examples/sample.dat');
let dir: string;
let prefix: string;
let env: NodeJS.ProcessEnv;
let installLog: string;

// (asynchronous runs: a worker blocked for a minute in spawnSync loses vitest's RPC)
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tw-global-'));
  const packed = join(dir, 'packed');
  let t0 = Date.now();
  await run(process.execPath, [join(REPO_ROOT, 'scripts/pack.mjs'), packed]);
  console.log(`npm run pack: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const tarballs = readdirSync(packed).filter((f) => /^tracewatch-.+\.tgz$/.test(f));
  expect(tarballs).toHaveLength(1);
  prefix = join(dir, 'prefix');
  t0 = Date.now();
  const i = await run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', '--foreground-scripts', join(packed, tarballs[0]!)], {
    env: { ...process.env, npm_config_cache: join(dir, 'npm-cache') }, // an empty cache: nothing can come from earlier installs
    check: false,
  });
  installLog = `${i.stdout}\n${i.stderr}`;
  if (i.code !== 0) throw new Error(`npm install -g failed (${i.code ?? i.signal}): ${installLog.slice(-2000)}`);
  console.log(`npm install -g: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const data = join(dir, 'data');
  mkdirSync(data);
  env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env['PATH'] ?? ''}`, TW_DATA_DIR: data };
}, 290_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('npm install -g of the packed tarball', () => {
  it('puts a working tw on the PATH: it lists the shipped watches and runs one offline, as the repository tw does', async () => {
    const tw = (args: string[]) => run('tw', args, { env, check: false });
    const which = await run('sh', ['-c', 'command -v tw'], { env });
    expect(which.stdout.trim()).toBe(join(prefix, 'bin/tw'));
    const list = await tw(['watches', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const names = (JSON.parse(list.stdout) as { watches: Array<{ name: string }> }).watches.map((w) => w.name);
    expect(names).toEqual(expect.arrayContaining(['allcounts', 'syscalls', 'who-deleted', 'who-killed', 'who-modified']));
    const result = await tw(['watch', 'syscalls', '--input', SAMPLE, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const repo = await runTw(['watch', 'syscalls', '--input', SAMPLE, '--json']);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(repo));
    expect((JSON.parse(result.stdout) as { total: number }).total).toBeGreaterThan(0);
  });

  it('runs a TypeScript watch file from outside, and tw new plugin + npm test pass with only this tw on the PATH', async () => {
    const tw = (args: string[], cwd?: string) => run('tw', args, { env, check: false, ...(cwd ? { cwd } : {}) });
    const work = join(dir, 'authoring');
    mkdirSync(work);
    const file = join(work, 'count.ts');
    writeFileSync(file, "import { defineWatch } from '@tw/core';\nconst n: number = 0;\nexport default defineWatch({ name: 'count', summary: 's', events: ['sched:sched_switch'], state: () => ({ n }), on: { 'sched:sched_switch'(e, ctx) { ctx.state.n++; } }, end: (ctx) => ({ n: ctx.state.n }) });\n");
    const w = await tw(['watch', file, '--input', SAMPLE, '--json']);
    expect(w.code, w.stderr).toBe(0);
    expect((JSON.parse(w.stdout) as { n: number }).n).toBeGreaterThan(0);
    const p = await tw(['new', 'plugin', 'tw-plugin-g'], work);
    expect(p.code, p.stderr).toBe(0);
    const pkg = join(work, 'tw-plugin-g');
    expect((await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: pkg, env, check: false })).code).toBe(0);
    const t = await run('npm', ['test'], { cwd: pkg, env, check: false });
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expect(t.stdout).toMatch(/# pass 2\b/);
  });

  it('built the relay-native addon at install, or fell back to the JS reader, as in the repository', async () => {
    const relay = join(prefix, 'lib/node_modules/@tw/cli/node_modules/@tw/relay-native');
    const built = existsSync(join(relay, 'build/Release/tw_relay_native.node'));
    if (!built) expect(installLog).toContain('tw relay-native: native build failed; the pure-JS reader will be used');
    console.log(`relay-native at install: ${built ? 'addon built' : 'build failed, JS reader'}`);
    // tw's own account of the readers it can use there
    const doctor = await run('tw', ['doctor', '--json'], { env, check: false });
    expect(doctor.stdout).toContain('reader: js');
  });
});
