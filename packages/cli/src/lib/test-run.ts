/**
 * `tw test`: a watch author's tests, run by Node's own test runner with tw's module hooks
 * (`node --import @tw/cli/register --test`), so test files and the watches they import may be
 * TypeScript and import `@tw/core` / `@tw/core/testing` — tw's copies — from anywhere.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TwError } from '@tw/core';

/** This installation's register module (the one bin/run.js imports). */
export const REGISTER_MODULE = fileURLToPath(new URL('../register/index.js', import.meta.url));

const TEST_FILE = /\.test\.m?[jt]s$/;

/** The test files under `dir` (default `test/`): *.test.ts, .mts, .js, .mjs, sorted; node_modules skipped. */
export function findTestFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (e) {
      throw new TwError('FILE_NOT_FOUND', `${d}: cannot list the test directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
    for (const e of entries) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (TEST_FILE.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Run `node --import <register> --test <files> [nodeArgs]`, output on ours; resolves to its exit code. */
export function runNodeTests(files: readonly string[], nodeArgs: readonly string[] = []): Promise<number> {
  if (files.length === 0) throw new TwError('FILE_NOT_FOUND', 'no test files (*.test.ts, .mts, .js, .mjs) to run');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', REGISTER_MODULE, '--test', ...nodeArgs, ...files], { stdio: 'inherit' });
    child.on('error', (e) => reject(new TwError('TOOL_START', `cannot start ${process.execPath}: ${e.message}`, { cause: e })));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
