/**
 * `tw new watch` and `tw new plugin`: a watch file, or a plugin package, that works as written
 * with nothing but tw installed — no @tw package from the registry. The watch imports
 * `@tw/core`, which tw's module hooks resolve to its own copy at run time; the tsconfig's
 * "paths" point tsc and editors at that copy's types; the plugin's tests run with
 * `tw test` (node --test through the same hooks) over a small recording copied in as a fixture.
 */
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TwError, recordingFormats, renderEventTypes } from '@tw/core';
import { makeDir } from './make-dir.js';
import { ownTypePaths } from './own-packages.js';

/** The recording a new plugin gets as its test fixture (shipped with the cli: templates/). */
export const FIXTURE = fileURLToPath(new URL('../../templates/fixture.dat', import.meta.url));

const WATCH_NAME = /^[a-z][a-z0-9-]{0,63}$/;

function checkWatchName(name: string, what: string): void {
  if (!WATCH_NAME.test(name)) throw new TwError('BAD_ARGUMENT', `${what} '${name}' must be kebab-case (a-z, 0-9, -; starting with a letter), as watch names are`);
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Write a file that must not exist yet (a scaffold never overwrites). */
function writeNew(path: string, text: string): void {
  try {
    writeFileSync(path, text, { flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new TwError('WRITE_FAILED', `${path}: already exists (tw new does not overwrite files)`, { cause: e });
    throw new TwError('WRITE_FAILED', `${path}: cannot write: ${code ?? (e as Error).message}`, { cause: e });
  }
}

/** A typed watch that counts context switches per task: runs on a recording and live as it is. */
export function watchSource(name: string, how: string): string {
  return `/**
 * ${name}: the tasks the scheduler switched to most often (a TraceWatch watch).
 *
${how}
 *
 * \`tw gen types\` writes the types of the kernel's events (events.d.ts): with it, handler
 * names, \`events\` and e.fields are checked and completed by tsc and your editor.
 */
import { defineWatch, formatTable } from '@tw/core';

export default defineWatch({
  name: '${name}',
  summary: 'Count context switches per task',
  args: {
    limit: { type: 'integer', option: true, default: 10, min: 1, description: 'how many tasks to show' },
  },
  events: ['sched:sched_switch'],
  state: () => new Map<string, number>(),
  on: {
    'sched:sched_switch'(e, ctx) {
      const comm = String(e.fields.next_comm);
      ctx.state.set(comm, (ctx.state.get(comm) ?? 0) + 1);
    },
  },
  end(ctx) {
    const tasks = [...ctx.state].map(([comm, switches]) => ({ comm, switches }));
    tasks.sort((a, b) => b.switches - a.switches || a.comm.localeCompare(b.comm));
    return { tasks: tasks.slice(0, ctx.args.limit), lost: ctx.lost };
  },
  format: (r) =>
    formatTable(r.tasks, [
      { header: 'TASK', value: (t) => t.comm },
      { header: 'SWITCHES', value: (t) => t.switches },
    ]),
});
`;
}

/** tsconfig.json: strict, NodeNext, @tw/* from this tw's copy (absolute paths: `tw new` writes them for this installation). */
function tsconfig(include: string[]): string {
  return `${JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        // tw's own @tw/core and @tw/probe-spec, as tw runs them (rewrite with: tw new ... after moving tw)
        paths: ownTypePaths(),
      },
      include,
    },
    null,
    2,
  )}\n`;
}

/** events.d.ts from a recording's formats (no probe specs: a scaffold types what its fixture has). */
async function typesOf(recording: string, from: string): Promise<string> {
  return renderEventTypes(await recordingFormats(recording), { from, generator: 'tw new' });
}

export interface NewWatchResult {
  files: string[];
}

/**
 * `<path>.ts` (the name is its basename), and next to it, when the directory has none, a
 * tsconfig.json that points @tw/core at tw's copy.
 */
export function newWatch(path: string): NewWatchResult {
  const file = path.endsWith('.ts') ? path : `${path}.ts`;
  const name = basename(file, '.ts');
  checkWatchName(name, 'the watch name');
  const dir = resolve(file, '..');
  makeDir(dir);
  const rel = file.includes('/') ? file : `./${file}`;
  const how = [
    ` *   tw watch ${rel} --input trace.dat            replay a recording`,
    ` *   sudo tw watch ${rel} --duration 5s           watch this kernel (or until Ctrl-C)`,
    ` *   tw watch ${rel} --input trace.dat --limit 3  only the first 3`,
  ].join('\n');
  writeNew(file, watchSource(name, how));
  const files = [file];
  const tsc = join(dir, 'tsconfig.json');
  if (!existsSync(tsc)) {
    writeNew(tsc, tsconfig(['*.ts']));
    files.push(relative('.', tsc) || tsc);
  }
  return { files };
}

export interface NewPluginResult {
  dir: string;
  name: string;
  watch: string;
  files: string[];
}

/**
 * A plugin package in `dir` (new, or empty): package.json with the "tw" and "oclif" keys, one
 * typed watch (src/<watch>.ts, listed by src/index.ts), the event types of its fixture
 * (src/events.d.ts), test/fixture.dat and a passing test/<watch>.test.ts, tsconfig.json, README.
 */
export async function newPlugin(dir: string, opts: { watch?: string } = {}): Promise<NewPluginResult> {
  const root = resolve(dir);
  if (existsSync(root) && readdirSync(root).length > 0) throw new TwError('WRITE_FAILED', `${dir}: exists and is not empty (tw new plugin starts a new directory)`);
  const base = basename(root);
  const name = base.toLowerCase();
  if (!/^[a-z0-9][a-z0-9._-]{0,213}$/.test(name)) throw new TwError('BAD_ARGUMENT', `'${base}' cannot be an npm package name (lowercase letters, digits, '-', '.', '_')`);
  const watch = opts.watch ?? (name.replace(/^(tw-plugin-|tw-)/, '').replace(/[^a-z0-9-]/g, '-').replace(/^[^a-z]+/, '') || 'my-watch');
  checkWatchName(watch, 'the watch name');
  makeDir(join(root, 'src'));
  makeDir(join(root, 'test'));
  const files: string[] = [];
  const put = (rel: string, text: string): void => {
    writeNew(join(root, rel), text);
    files.push(rel);
  };
  put(
    'package.json',
    `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        description: `TraceWatch watch plugin: ${watch}`,
        type: 'module',
        // module.register, which tw's TypeScript loading needs
        engines: { node: '>=20.6' },
        keywords: ['tracewatch-plugin', 'oclif-plugin'],
        files: ['src'],
        // tw loads the watches module (TypeScript is transpiled on load); oclif makes it a tw plugin
        tw: { watches: './src/index.ts' },
        oclif: {},
        scripts: {
          test: 'tw test',
          types: 'tw gen types --input test/fixture.dat -o src/events.d.ts',
          'types:kernel': 'sudo tw gen types -o src/events.d.ts',
        },
      },
      null,
      2,
    )}\n`,
  );
  const how = [
    ` *   tw watch ./src/${watch}.ts --input test/fixture.dat   replay the fixture`,
    ` *   sudo tw watch ./src/${watch}.ts --duration 5s          watch this kernel`,
    ` *   tw plugins link .  then  tw watch ${watch}               as an installed watch`,
  ].join('\n');
  put(`src/${watch}.ts`, watchSource(watch, how));
  put('src/index.ts', `// The watches of this plugin ("tw": { "watches" } in package.json): tw watches lists them.\nimport ${camel(watch)} from './${watch}.js';\n\nexport default [${camel(watch)}];\n`);
  copyFileSync(FIXTURE, join(root, 'test/fixture.dat'));
  files.push('test/fixture.dat');
  put('src/events.d.ts', await typesOf(FIXTURE, 'test/fixture.dat'));
  put(
    `test/${watch}.test.ts`,
    `// Run with: npm test (tw test: node --test, with tw's @tw/core and TypeScript loading).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { eventKit, runWatch } from '@tw/core/testing';
import watch from '../src/${watch}.js';

const fixture = fileURLToPath(new URL('fixture.dat', import.meta.url));

test('counts the context switches of a recording', async () => {
  const r = await runWatch(watch, { input: fixture });
  const result = r.result; // typed as the watch's end() returns it
  assert.ok(result.tasks.length > 0, 'the fixture has context switches');
  assert.ok(result.tasks.every((t, i) => i === 0 || result.tasks[i - 1]!.switches >= t.switches), 'most switches first');
  assert.equal(result.lost, 0);
});

test('counts synthetic switches, most first, --limit', async () => {
  const kit = await eventKit(fixture);
  const to = (next_comm: string, next_pid: number) => kit.make('sched:sched_switch', { prev_comm: 'swapper/0', prev_pid: 0, next_comm, next_pid }, { pid: 0 });
  const r = await runWatch(watch, { events: [to('bash', 10), to('make', 11), to('bash', 10)], args: { limit: 1 } });
  assert.deepEqual(r.result.tasks, [{ comm: 'bash', switches: 2 }]);
});
`,
  );
  put('tsconfig.json', tsconfig(['src', 'test']));
  put('.gitignore', 'node_modules/\n*.tgz\n');
  put(
    'README.md',
    `# ${name}

A TraceWatch (\`tw\`) plugin with one watch, \`${watch}\`
(\`src/${watch}.ts\`). It needs nothing but \`tw\`: \`@tw/core\` is tw's own copy, TypeScript is
transpiled when tw loads it.

    tw watch ./src/${watch}.ts --input test/fixture.dat   # run the watch file
    npm test                                              # tw test: node --test through tw
    tw plugins link .                                     # or: tw plugins install <this dir>
    tw watch ${watch} --input test/fixture.dat            # run it as an installed watch

Types: \`src/events.d.ts\` types the events of \`test/fixture.dat\`; \`npm run types:kernel\`
(\`sudo tw gen types\`) types those of your kernel instead. tsconfig.json points \`@tw/core\` at
tw's copy; for \`tsc\` on the command line: \`npm install -D typescript @types/node && npx tsc\`.
`,
  );
  return { dir: root, name, watch, files };
}
