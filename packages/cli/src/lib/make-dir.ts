/**
 * Create a directory and its missing parents, one component at a time. Node's own recursive
 * mkdir retries forever where a parent exists but refuses new entries with ENOENT (/proc/self,
 * other pseudo file systems): here every component is created once, and the first one that
 * cannot be is the error, naming it.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TwError } from '@tw/core';

export function makeDir(path: string): void {
  const target = resolve(path);
  const missing: string[] = [];
  for (let p = target; ; p = dirname(p)) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st !== undefined) {
      if (!st.isDirectory()) throw new TwError('WRITE_FAILED', `${p}: exists and is not a directory (cannot create ${target})`);
      break;
    }
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EEXIST' && statSync(p, { throwIfNoEntry: false })?.isDirectory()) continue;
      throw new TwError('WRITE_FAILED', `${p}: cannot create the directory: ${err.code ?? err.message}`, { cause: e });
    }
  }
}
