// Authoring on the live kernel: `tw gen types` types this kernel's events (checked against the
// format files themselves), a TypeScript watch file in a temp dir outside the repo type-checks
// against them and runs live through the tw binary, counting exactly the syscalls a child makes.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from './support/proc.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { scratch, startTw, twInstances } from './support/tw-live.js';
import { parseWatchJson } from './support/watch-json.js';

const T = '/sys/kernel/tracing';
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
const reason = skipReason();
const { workDir, keep } = scratch('tw-authoring-live-');
const N = 500;

if (reason) console.warn(`[authoring.kernel] skipped: ${reason}`);

/** A child that waits for a byte on stdin, makes exactly `n` getppid calls (process.ppid), then waits again. */
function getppidChild(n: number): ChildProcess & { go: () => void } {
  const code = `const fs=require('fs');const b=Buffer.alloc(1);fs.readSync(0,b);let x=0;for(let i=0;i<${n};i++)x+=process.ppid;fs.readSync(0,b);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'ignore', 'inherit'] }) as ChildProcess & { go: () => void };
  child.go = () => child.stdin!.write('\n');
  keep(() => child.kill('SIGKILL'));
  return child;
}

const WATCH = `import { defineWatch } from '@tw/core';

export default defineWatch({
  name: 'ppid-calls',
  summary: 'getppid calls of one process, and the flags of its openat calls',
  args: { pid: { type: 'integer', required: true } },
  events: ['syscalls:sys_enter_getppid', 'syscalls:sys_enter_openat'],
  state: () => ({ calls: 0, opens: 0 }),
  on: {
    'syscalls:sys_enter_getppid'(e, ctx) {
      if (e.pid === ctx.args.pid) ctx.state.calls++;
    },
    'syscalls:sys_enter_openat'(e, ctx) {
      const flags: bigint = e.fields.flags;
      if (e.pid === ctx.args.pid && flags >= 0n) ctx.state.opens++;
    },
  },
  end: (ctx) => ({ calls: ctx.state.calls, opens: ctx.state.opens, lost: ctx.lost }),
});
`;

describe.skipIf(reason !== undefined)('authoring on the live kernel', () => {
  it('tw gen types types every field of this kernel\'s syscalls:sys_enter_openat as its format says', async () => {
    const dir = workDir();
    const r = await run(process.execPath, [twCliPath(), 'gen', 'types', '-o', join(dir, 'events.d.ts')], { check: false });
    expect(r.code, r.stderr).toBe(0);
    const dts = readFileSync(join(dir, 'events.d.ts'), 'utf8');
    const block = /"syscalls:sys_enter_openat": \{\n([\s\S]*?)\n {4}\};/.exec(dts)?.[1];
    expect(block, 'syscalls:sys_enter_openat in the generated map').toBeDefined();
    // the oracle: the kernel's own format file, its non-common fields and sizes
    const format = readFileSync(`${T}/events/syscalls/sys_enter_openat/format`, 'utf8');
    const fields = [...format.matchAll(/field:([^;]*?)\s+(\w+);\s*offset:\d+;\s*size:(\d+);/g)].filter((m) => !m[2]!.startsWith('common_'));
    expect(fields.length).toBeGreaterThanOrEqual(4);
    for (const [, type, name, size] of fields) {
      // syscall arguments are longs or pointers (8 bytes on 64-bit: bigint), __syscall_nr an int
      const ts = type!.includes('[') ? /char/.test(type!) ? 'string' : 'number[]' : Number(size) === 8 ? 'bigint' : 'number';
      expect(block).toContain(`readonly ${name}: ${ts};`);
    }
    expect(block).toContain('readonly filename: bigint;');
    // every event the kernel offers is in the map
    const available = readFileSync(`${T}/available_events`, 'utf8').split('\n').filter((l) => l !== '');
    const typed = new Set([...dts.matchAll(/^ {4}"([^"]+)": \{/gm)].map((m) => m[1]));
    expect(available.filter((e) => !typed.has(e))).toEqual([]);
  });

  it('a .ts watch outside the repo type-checks against them and runs live: exactly the child\'s getppid calls', async () => {
    const dir = workDir();
    writeFileSync(join(dir, 'ppid.ts'), WATCH);
    expect((await run(process.execPath, [twCliPath(), 'gen', 'types', '-o', join(dir, 'events.d.ts')], { check: false })).code).toBe(0);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', lib: ['ES2022'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [], paths: { '@tw/core': [join(REPO_ROOT, 'packages/core/dist/index.d.ts')] } },
        files: ['ppid.ts', 'events.d.ts'],
      }),
    );
    const t = await run(process.execPath, [TSC, '-p', dir], { check: false });
    expect(t.code, t.stdout).toBe(0);

    const child = getppidChild(N);
    const tw = await startTw(['watch', join(dir, 'ppid.ts'), String(child.pid), '--json', '--duration', '60s']);
    child.go();
    // the child's second read returns when it gets the next byte: its N calls are made by then
    await new Promise((r) => setTimeout(r, 1500));
    tw.kill('SIGINT');
    const done = await tw.done;
    child.go();
    expect(done.code, done.stderr).toBe(0);
    const result = parseWatchJson(done.stdout).result as { calls: number; opens: number; lost: number };
    expect(result.lost).toBe(0);
    expect(result.calls).toBe(N);
    expect(twInstances(tw.pid)).toEqual([]);
  });
});
