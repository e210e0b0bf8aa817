// Writing watches outside the repository, through the real tw binary: a TypeScript watch file in
// a temp dir with no node_modules imports @tw/core (tw's own copy, by tw's module hooks) and runs
// on the sample recording; `tw gen types` output makes tsc (the repo's typescript) check its
// handler names, events and fields; errors point at the .ts file's lines; `tw new watch` and
// `tw new plugin` give a watch that runs and a package whose `npm install && npm test` pass
// offline with nothing of tw but the tw command on the PATH.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './support/proc.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';

const SAMPLE = join(REPO_ROOT, 'examples/sample.dat');
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
let dir: string;

function tw(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return run(process.execPath, [twCliPath(), ...args], { check: false, ...opts });
}

/** How many sched:sched_switch records the sample has, as `tw events` counts them. */
async function sampleCount(event: string): Promise<number> {
  const r = await tw(['events', '--input', SAMPLE, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const hit = (JSON.parse(r.stdout) as { events: Array<{ event: string; count: number }> }).events.find((e) => e.event === event);
  expect(hit, event).toBeDefined();
  return hit!.count;
}

/** tsc over `files` in `cwd` with tw's @tw/core types (as `tw new` points a tsconfig at them). */
function tsc(cwd: string, files: string[]) {
  writeFileSync(
    join(cwd, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
        paths: { '@tw/core': [join(REPO_ROOT, 'packages/core/dist/index.d.ts')] },
      },
      files,
    }),
  );
  return run(process.execPath, [TSC, '-p', cwd], { check: false, cwd });
}

const WATCH = `import { defineWatch } from '@tw/core';
import { label } from './label.js';

export default defineWatch({
  name: 'switch-count',
  summary: 'Context switches, and the longest next_comm',
  args: { fail: { type: 'boolean', option: true, default: false } },
  events: ['sched:sched_switch', 'syscalls:sys_enter_*'],
  state: () => ({ switches: 0, longest: '', pids: 0 }),
  on: {
    'sched:sched_switch'(e, ctx) {
      const comm: string = e.fields.next_comm;
      const pid: number = e.fields.next_pid;
      ctx.state.switches++;
      if (comm.length > ctx.state.longest.length) ctx.state.longest = comm;
      if (pid > 0) ctx.state.pids++;
      if (ctx.args.fail && ctx.state.switches === 2) {
        throw new Error('failed on purpose');
      }
    },
    'syscalls:sys_enter_*'(e) {
      void e.fields['anything'];
    },
  },
  end: (ctx) => ({ what: label(), switches: ctx.state.switches, longest: ctx.state.longest }),
});
`;

beforeAll(async () => {
  // outside the repository: no node_modules above it
  dir = mkdtempSync(join(tmpdir(), 'tw-authoring-'));
  writeFileSync(join(dir, 'switches.ts'), WATCH);
  writeFileSync(join(dir, 'label.ts'), "export const label = (): string => 'sched_switch';\n");
  const r = await tw(['gen', 'types', '--input', SAMPLE, '-o', join(dir, 'events.d.ts')]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a TypeScript watch file outside the repo', () => {
  it('runs on the sample recording, importing @tw/core and a .ts helper', async () => {
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
    const r = await tw(['watch', join(dir, 'switches.ts'), '--input', SAMPLE, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = parseWatchJson(r.stdout).result as { what: string; switches: number; longest: string };
    expect(result.what).toBe('sched_switch');
    expect(result.switches).toBe(await sampleCount('sched:sched_switch'));
    expect(result.longest.length).toBeGreaterThan(0);
  });

  it('runs from a relative path without ./ too', async () => {
    const r = await tw(['watch', 'switches.ts', '--input', SAMPLE, '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect((parseWatchJson(r.stdout).result as { switches: number }).switches).toBe(await sampleCount('sched:sched_switch'));
  });

  it('a plain .mjs watch file there imports @tw/core too', async () => {
    writeFileSync(join(dir, 'plain.mjs'), "import { defineWatch } from '@tw/core';\nexport default defineWatch({ name: 'plain', summary: 's', events: ['sched:sched_switch'], state: () => ({ n: 0 }), on: { 'sched:sched_switch'(e, ctx) { ctx.state.n++; } }, end: (ctx) => ({ n: ctx.state.n }) });\n");
    const r = await tw(['watch', join(dir, 'plain.mjs'), '--input', SAMPLE, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((parseWatchJson(r.stdout).result as { n: number }).n).toBe(await sampleCount('sched:sched_switch'));
  });

  it("reports an error its handler throws at the .ts file's own line", async () => {
    const r = await tw(['watch', join(dir, 'switches.ts'), '--input', SAMPLE, '--fail']);
    expect(r.code).toBe(6);
    const line = WATCH.split('\n').findIndex((l) => l.includes("throw new Error('failed on purpose')")) + 1;
    const column = WATCH.split('\n')[line - 1]!.indexOf('new Error') + 1;
    expect(r.stderr.trim()).toMatch(/^tw: watch 'switch-count' threw in its 'sched:sched_switch' handler .*: failed on purpose/);
    expect(r.stderr).toContain(`(at ${join(dir, 'switches.ts')}:${line}:${column})`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('reports a syntax error at its line and column', async () => {
    const bad = WATCH.replace('const pid: number = e.fields.next_pid;', 'const pid: number = ;');
    writeFileSync(join(dir, 'bad.ts'), bad);
    const r = await tw(['watch', join(dir, 'bad.ts'), '--input', SAMPLE]);
    expect(r.code).toBe(6);
    const line = bad.split('\n').findIndex((l) => l.includes('const pid: number = ;')) + 1;
    const column = bad.split('\n')[line - 1]!.indexOf(';') + 1;
    expect(r.stderr).toContain(`${join(dir, 'bad.ts')}:${line}:${column}: Unexpected ";"`);
  });

  it('type-checks against tw gen types output: passes as written', async () => {
    const dts = readFileSync(join(dir, 'events.d.ts'), 'utf8');
    expect(dts).toContain("declare module '@tw/core'");
    expect(dts).toMatch(/"sched:sched_switch": \{[^}]*readonly next_comm: string;[^}]*readonly next_pid: number;/);
    const r = await tsc(dir, ['switches.ts', 'events.d.ts']);
    expect(r.code, r.stdout).toBe(0);
  });

  it('fails tsc for a misspelled field, naming it', async () => {
    writeFileSync(join(dir, 'field.ts'), WATCH.replace('e.fields.next_pid', 'e.fields.next_pidd'));
    const r = await tsc(dir, ['field.ts', 'events.d.ts']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/field\.ts\(\d+,\d+\): error TS\d+: Property 'next_pidd' does not exist/);
  });

  it('fails tsc for a misspelled event in on and in events, naming it', async () => {
    writeFileSync(join(dir, 'on.ts'), WATCH.replace("'sched:sched_switch'(e, ctx)", "'sched:sched_swich'(e, ctx)"));
    const on = await tsc(dir, ['on.ts', 'events.d.ts']);
    expect(on.code).not.toBe(0);
    expect(on.stdout).toMatch(/on\.ts\(\d+,\d+\): error TS\d+: .*'sched:sched_swich'/);
    writeFileSync(join(dir, 'events.ts'), WATCH.replace("events: ['sched:sched_switch'", "events: ['sched:sched_swich'"));
    const ev = await tsc(dir, ['events.ts', 'events.d.ts']);
    expect(ev.code).not.toBe(0);
    expect(ev.stdout).toMatch(/events\.ts\(\d+,\d+\): error TS\d+: .*"sched:sched_swich"/);
  });

  it('without the generated types stays loose: the misspellings compile', async () => {
    const r = await tsc(dir, ['field.ts', 'on.ts', 'events.ts']);
    // e.fields.next_comm is a FieldValue then, not a string: only that assignment is an error
    expect(r.stdout).not.toMatch(/next_pidd|sched_swich/);
  });

  it('gen types on the live kernel needs root: one clear line', async () => {
    if (process.getuid?.() !== 0) {
      const r = await tw(['gen', 'types']);
      if (r.code !== 0) expect(r.stderr).toMatch(/^tw: .*root/);
      return;
    }
    const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, twCliPath(), 'gen', 'types'], { check: false, cwd: dir });
    expect(r.code).toBe(7);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tw: .*root.*--input FILE/);
  });
});

describe('tw new', () => {
  it('new watch writes a typed watch that runs as it is', async () => {
    const d = join(dir, 'new-watch');
    mkdirSync(d);
    const r = await tw(['new', 'watch', 'busy-tasks'], { cwd: d });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(d, 'busy-tasks.ts'), 'utf8')).toContain("name: 'busy-tasks'");
    const w = await tw(['watch', './busy-tasks.ts', '--input', SAMPLE, '--limit', '1000', '--json'], { cwd: d });
    expect(w.code, w.stderr).toBe(0);
    const { tasks, lost } = parseWatchJson(w.stdout).result as { tasks: Array<{ comm: string; switches: number }>; lost: number };
    expect(tasks.reduce((n, t) => n + t.switches, 0)).toBe(await sampleCount('sched:sched_switch'));
    expect(lost).toBe(0);
    // its tsconfig points @tw/core at tw's types: with gen types output it type-checks
    expect((await tw(['gen', 'types', '--input', SAMPLE, '-o', 'events.d.ts'], { cwd: d })).code).toBe(0);
    const t = await run(process.execPath, [TSC, '-p', d], { check: false, cwd: d });
    expect(t.code, t.stdout).toBe(0);
    // never overwrites
    const again = await tw(['new', 'watch', 'busy-tasks'], { cwd: d });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^tw: .*busy-tasks\.ts: already exists/);
  });

  it('new plugin: npm install (offline) and npm test pass with only the tw command; linked or installed (directory, tarball), its watch runs', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'tw'), `#!/bin/sh\nexec '${process.execPath}' '${twCliPath()}' "$@"\n`);
    chmodSync(join(bin, 'tw'), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, TW_DATA_DIR: join(dir, 'data') };
    const r = await tw(['new', 'plugin', 'tw-plugin-sched'], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    const pkg = join(dir, 'tw-plugin-sched');
    const pj = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { tw: { watches: string }; oclif: object; dependencies?: object; devDependencies?: object };
    expect(pj.tw.watches).toBe('./src/index.ts');
    expect(pj.oclif).toEqual({});
    expect(pj.dependencies ?? {}).toEqual({});
    const install = await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { check: false, cwd: pkg, env });
    expect(install.code, install.stderr).toBe(0);
    const test = await run('npm', ['test'], { check: false, cwd: pkg, env });
    expect(test.code, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toMatch(/# pass 2\b/);
    expect(test.stdout).toMatch(/# fail 0\b/);
    // its tsconfig type-checks the watch and the test (with @types/node, which the README has
    // the author install; here the repo's)
    const types = await run(process.execPath, [TSC, '-p', pkg, '--typeRoots', join(REPO_ROOT, 'node_modules/@types'), '--types', 'node'], { check: false, cwd: pkg });
    expect(types.code, types.stdout).toBe(0);
    // tw plugins link: the plugin's .ts watches module loads, its watch is a tw watch
    const link = await tw(['plugins', 'link', pkg], { env });
    expect(link.code, link.stderr).toBe(0);
    try {
      const list = await tw(['watches', '--json'], { env });
      expect((JSON.parse(list.stdout) as { watches: Array<{ name: string }> }).watches.map((w) => w.name)).toContain('sched');
      const w = await tw(['watch', 'sched', '--input', join(pkg, 'test/fixture.dat'), '--limit', '1000', '--json'], { env });
      expect(w.code, w.stderr).toBe(0);
      const { tasks } = parseWatchJson(w.stdout).result as { tasks: Array<{ switches: number }> };
      expect(tasks.reduce((n, t) => n + t.switches, 0)).toBe(await sampleCount('sched:sched_switch'));
      // an error in the linked plugin's TypeScript is reported at its line
      const src = join(pkg, 'src/sched.ts');
      const text = readFileSync(src, 'utf8').replace('ctx.state.set(comm,', "if (ctx.args.limit === 7) throw new Error('seven');\n      ctx.state.set(comm,");
      writeFileSync(src, text);
      const line = text.split('\n').findIndex((l) => l.includes("throw new Error('seven')")) + 1;
      const bad = await tw(['watch', 'sched', '--input', SAMPLE, '--limit', '7'], { env });
      expect(bad.code).toBe(6);
      expect(bad.stderr).toMatch(new RegExp(`^tw: watch 'sched' threw .*: seven \\(at ${src.replace(/[.]/g, '\\.')}:${line}:\\d+\\)$`, 'm'));
    } finally {
      await tw(['plugins', 'unlink', 'tw-plugin-sched'], { env });
    }
    // installed (not linked): from its directory, and from the tarball npm pack makes of it
    const pack = await run('npm', ['pack', '--silent'], { check: false, cwd: pkg, env });
    expect(pack.code, pack.stderr).toBe(0);
    for (const source of [pkg, join(pkg, pack.stdout.trim())]) {
      const inst = await tw(['plugins', 'install', source, '--yes'], { env });
      expect(inst.code, inst.stderr).toBe(0);
      try {
        const w = await tw(['watch', 'sched', '--input', SAMPLE, '--limit', '1000', '--json'], { env });
        expect(w.code, `${source}: ${w.stderr}`).toBe(0);
        const { tasks } = parseWatchJson(w.stdout).result as { tasks: Array<{ switches: number }> };
        expect(tasks.reduce((n, t) => n + t.switches, 0)).toBe(await sampleCount('sched:sched_switch'));
      } finally {
        expect((await tw(['plugins', 'uninstall', 'tw-plugin-sched'], { env })).code).toBe(0);
      }
    }
  });
});
