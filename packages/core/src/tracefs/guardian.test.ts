// The guardian's script run by the real sh against a tracefs-like tree in a temp directory: what
// it does with the kprobe events it was told of when its socket closes, what it leaves alone
// (released objects, names that do not parse), and that it exits by itself after "done" once
// nothing is held. (Instances need the real tracefs, whose rmdir removes a non-empty directory:
// test/src/exit-paths.kernel.test.ts; modules need a kernel that loads them: the guest tests.)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GUARDIAN_SCRIPT, guardLine } from './guardian.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A tree with kprobe_events defining tw/unlinkat and tw/openat, and their enable files (on). */
function fakeTracefs(): string {
  const root = mkdtempSync(join(tmpdir(), 'tw-guardian-'));
  roots.push(root);
  writeFileSync(join(root, 'kprobe_events'), 'p:tw/unlinkat do_unlinkat dfd=%di:s32\np:tw/openat do_sys_openat2\n');
  for (const n of ['unlinkat', 'openat']) {
    mkdirSync(join(root, 'events', 'tw', n), { recursive: true });
    writeFileSync(join(root, 'events', 'tw', n, 'enable'), '1\n');
  }
  mkdirSync(join(root, 'instances'));
  return root;
}

/** The script with these lines on its stdin; `close`: then EOF (tw gone). Resolves with its exit code. */
function guardian(root: string, lines: string[], close = true): Promise<number | null> {
  const p = spawn('/bin/sh', ['-c', GUARDIAN_SCRIPT, 'tw-guardian', root, '0'], { stdio: ['pipe', 'ignore', 'inherit'] });
  p.stdin.write(lines.join(''));
  if (close) p.stdin.end();
  return new Promise((resolve) => p.on('close', (code) => resolve(code)));
}

describe('guardian', () => {
  it('removes a held kprobe event when tw goes without releasing it: disabled, then "-:group/name" appended', async () => {
    const root = fakeTracefs();
    const code = await guardian(root, [guardLine('+', { kind: 'kprobe-event', group: 'tw', name: 'unlinkat' })]);
    expect(code).toBe(0);
    expect(readFileSync(join(root, 'kprobe_events'), 'utf8').split('\n').filter(Boolean).slice(-1)).toEqual(['-:tw/unlinkat']);
    expect(readFileSync(join(root, 'events/tw/unlinkat/enable'), 'utf8').trim()).toBe('0');
    // the other one was never held
    expect(readFileSync(join(root, 'events/tw/openat/enable'), 'utf8').trim()).toBe('1');
  });

  it('leaves alone what tw released, and what it never defined', async () => {
    const root = fakeTracefs();
    const before = readFileSync(join(root, 'kprobe_events'), 'utf8');
    const e = { kind: 'kprobe-event', group: 'tw', name: 'openat' } as const;
    const code = await guardian(root, [guardLine('+', e), guardLine('+', { kind: 'kprobe-event', group: 'tw', name: 'notdefined' }), guardLine('-', e)]);
    expect(code).toBe(0);
    expect(readFileSync(join(root, 'kprobe_events'), 'utf8')).toBe(before);
    expect(readFileSync(join(root, 'events/tw/openat/enable'), 'utf8').trim()).toBe('1');
  });

  it('ignores lines whose names do not parse (only tw writes to it, but a path is never built from them)', async () => {
    const root = fakeTracefs();
    const before = readFileSync(join(root, 'kprobe_events'), 'utf8');
    const code = await guardian(root, ['+kprobe tw ../unlinkat\n', '+kprobe .. x\n', '+instance ../../etc\n', '+module a;b\n', 'bogus line\n']);
    expect(code).toBe(0);
    expect(readFileSync(join(root, 'kprobe_events'), 'utf8')).toBe(before);
  });

  it('after "done" with nothing held it exits at once, before tw has gone', async () => {
    const root = fakeTracefs();
    const e = { kind: 'instance', name: 'tw-1-0' } as const;
    // the socket stays open: only "done" can end it
    const code = await guardian(root, [guardLine('+', e), guardLine('-', e), 'done\n'], false);
    expect(code).toBe(0);
  });

  it('guardLine refuses names the script would ignore', () => {
    expect(guardLine('+', { kind: 'instance', name: 'tw-42-0' })).toBe('+instance tw-42-0\n');
    expect(guardLine('-', { kind: 'kprobe-event', group: 'tw', name: 'unlinkat' })).toBe('-kprobe tw unlinkat\n');
    expect(guardLine('+', { kind: 'module', name: 'tw_unlink' })).toBe('+module tw_unlink\n');
    for (const name of ['../x', 'a b', '', 'a\nb', '.hidden']) expect(() => guardLine('+', { kind: 'instance', name })).toThrow(/not a name/);
  });
});
