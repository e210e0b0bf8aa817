/**
 * Seed a process table from /proc (live tracing): comm, tgid, ppid, exe and cmdline of every
 * process and thread that exists when the trace starts.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { ProcessTable } from './process-table.js';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the task exited while we looked
  }
}

export function seedFromProc(table: ProcessTable, proc = '/proc'): number {
  let n = 0;
  let pids: string[];
  try {
    pids = readdirSync(proc).filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const p of pids) {
    const status = read(`${proc}/${p}/status`);
    if (!status) continue;
    const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1];
    const tgid = Number(field('Tgid') ?? p);
    const ppid = Number(field('PPid') ?? 0);
    let exe: string | undefined;
    try {
      exe = readlinkSync(`${proc}/${p}/exe`);
    } catch {
      exe = undefined; // kernel threads have none
    }
    const cmdline = read(`${proc}/${p}/cmdline`)?.split('\0').filter(Boolean).join(' ') || undefined;
    let tids: string[] = [p];
    try {
      tids = readdirSync(`${proc}/${p}/task`);
    } catch {
      // gone
    }
    for (const t of tids) {
      const comm = (read(`${proc}/${p}/task/${t}/comm`) ?? read(`${proc}/${p}/comm`) ?? '').trimEnd();
      table.set(Number(t), { comm: comm || '<...>', tgid, ppid, exe, cmdline, exitedAt: undefined });
      n++;
    }
  }
  return n;
}
