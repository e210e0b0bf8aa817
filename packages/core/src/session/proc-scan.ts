/**
 * Seed a process table from /proc (live tracing): comm, tgid, ppid, exe, cmdline and uid of
 * every process and thread that exists when the trace starts; and read one process's exe,
 * cmdline and uid again when it execs (liveExecFacts).
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

/** A process's arguments, space-separated (undefined: gone, or a kernel thread). */
function cmdlineOf(proc: string, pid: string | number): string | undefined {
  return read(`${proc}/${pid}/cmdline`)?.split('\0').filter(Boolean).join(' ') || undefined;
}

/** The real uid from a status file's "Uid:" line (real, effective, saved, filesystem). */
function uidOf(status: string): number | undefined {
  const uid = /^Uid:\s*(\d+)/m.exec(status)?.[1];
  return uid !== undefined ? Number(uid) : undefined;
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
    const uid = uidOf(status);
    let exe: string | undefined;
    try {
      exe = readlinkSync(`${proc}/${p}/exe`);
    } catch {
      exe = undefined; // kernel threads have none
    }
    const cmdline = cmdlineOf(proc, p);
    let tids: string[] = [p];
    try {
      tids = readdirSync(`${proc}/${p}/task`);
    } catch {
      // gone
    }
    for (const t of tids) {
      const comm = (read(`${proc}/${p}/task/${t}/comm`) ?? read(`${proc}/${p}/comm`) ?? '').trimEnd();
      table.set(Number(t), { comm: comm || '<...>', tgid, ppid, exe, cmdline, uid, exitedAt: undefined });
      n++;
    }
  }
  return n;
}

/**
 * What /proc says of a process that has just exec'd `exe` (live: called when the engine handles
 * its sched_process_exec, up to --latency after it): its cmdline and uid, or nothing when it is
 * gone or already runs another program (exec'd again, or a reused pid).
 */
export function liveExecFacts(pid: number, exe: string, proc = '/proc'): { cmdline?: string; uid?: number } {
  try {
    if (readlinkSync(`${proc}/${pid}/exe`) !== exe) return {};
  } catch {
    return {};
  }
  const out: { cmdline?: string; uid?: number } = {};
  const cmdline = cmdlineOf(proc, pid);
  if (cmdline !== undefined) out.cmdline = cmdline;
  const uid = uidOf(read(`${proc}/${pid}/status`) ?? '');
  if (uid !== undefined) out.uid = uid;
  return out;
}
