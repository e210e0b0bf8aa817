// Making real recordings for the cross-check: a private tracefs instance, a
// workload we control on both CPUs, `trace-cmd extract` (v7) and
// `trace-cmd convert --file-version 6` (v6 twin). Kernel state is always
// restored: events disabled and the instance removed, whatever happens.
//
// (`trace-cmd record` is not used: on some kernels it fails writing
// set_ftrace_filter. trace-cmd 3.1's `extract -B NAME` removes the instance
// itself when done; we cope with it being there or not.)

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './proc.js';
import { ensureTracefs } from './tracefs.js';

/** Events enabled by default: "system" (all of it) or "system:event". */
export const DEFAULT_EVENTS = [
  'syscalls',
  'raw_syscalls',
  'sched:sched_process_fork',
  'sched:sched_process_exec',
  'sched:sched_process_exit',
  'sched:sched_switch',
  'signal:signal_generate',
  'signal:signal_deliver',
  'task:task_rename',
];

export interface RecordOptions {
  /** Extra events ("system" or "system:event") to enable in addition to the defaults. */
  events?: string[];
  /** Enable DEFAULT_EVENTS too (default true). */
  defaultEvents?: boolean;
  /** Per-CPU ring buffer size (default 8192 KiB). */
  bufferSizeKb?: number;
  /** getppid() calls made by each CPU's syscall loop (default 2000). */
  loops?: number;
  /** Files created and deleted on each CPU (default 20). */
  files?: number;
  /**
   * Record only the workload's processes (set_event_pid + event-fork), so other
   * activity on the machine cannot flood the buffer (default true).
   */
  workloadOnly?: boolean;
}

export interface WorkloadInfo {
  /** The directory the workload used (its name contains a space). */
  workDir: string;
  /** Per CPU (index = CPU) pids of the workload processes. */
  cpus: Array<{
    cpu: number;
    /** the `rm` that deleted the files */
    rmPid: number;
    /** `sleep 30` killed with SIGKILL */
    sigkillPid: number;
    /** `sleep 30` killed with SIGTERM */
    sigtermPid: number;
    /** the node process calling getppid() `loops` times */
    loopPid: number;
    /** the process that ran the oddly named script */
    oddExecPid: number;
  }>;
  loops: number;
  files: number;
  /** Name of the script exec'd to get a comm with spaces, "=", "-digits" and brackets. */
  oddName: string;
}

export interface CpuBufferStats {
  cpu: number;
  entries: number;
  overrun: number;
  commitOverrun: number;
  dropped: number;
}

export interface Recording {
  v7: string;
  v6: string;
  instance: string;
  /** The events that were enabled. */
  events: string[];
  workload: WorkloadInfo;
  /** Ring-buffer statistics of the instance right after tracing stopped. */
  bufferStats: CpuBufferStats[];
  /** Whether `trace-cmd extract` removed the instance itself. */
  extractRemovedInstance: boolean;
}

let instanceCounter = 0;

/** Prefix of the tracefs instances made by this process. */
export function instancePrefix(pid: number = process.pid): string {
  return `tw-test-${pid}-`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove tw-test-PID-N instances left behind by test processes that no longer exist. */
export async function sweepStaleInstances(tracefs: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = await readdir(join(tracefs, 'instances'));
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = /^tw-test-(\d+)-\d+$/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    await removeInstance(join(tracefs, 'instances', name));
    removed.push(name);
  }
  return removed;
}

async function writeTracefs(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (e) {
    throw new Error(`cannot write "${value.trim()}" to ${path}: ${(e as Error).message}`);
  }
}

function parseStats(text: string, cpu: number): CpuBufferStats {
  const num = (key: string) => {
    const m = new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(text);
    return m && m[1] !== undefined ? Number(m[1]) : 0;
  };
  return {
    cpu,
    entries: num('entries'),
    overrun: num('overrun'),
    commitOverrun: num('commit overrun'),
    dropped: num('dropped events'),
  };
}

/** Disable everything in an instance and remove it; ignores an already-removed instance. */
export async function removeInstance(instDir: string): Promise<void> {
  if (!existsSync(instDir)) return;
  const errors: string[] = [];
  for (const [file, value] of [
    ['tracing_on', '0'],
    ['events/enable', '0'],
  ] as const) {
    try {
      await writeFile(join(instDir, file), value);
    } catch (e) {
      if (existsSync(instDir)) errors.push(`${file}: ${(e as Error).message}`);
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(instDir);
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') break;
      if (code === 'EBUSY' && attempt < 20) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw new Error(`cannot remove tracefs instance ${instDir}: ${(e as Error).message} ${errors.join('; ')}`);
    }
  }
}

/** Write the workload script; it is run with `bash SCRIPT WORKDIR CPU LOOPS FILES NODE`. */
function workloadScript(oddName: string): string {
  // Everything pinned to one CPU; each interesting pid is written to a file.
  return `#!/bin/bash
set -u
D="$1"; CPU="$2"; LOOPS="$3"; FILES="$4"; NODE="$5"
W="$D/cpu$CPU"
mkdir -p "$W"
# file creates and deletes
for i in $(seq 1 "$FILES"); do : > "$W/file $i.txt"; done
sh -c 'echo $$ > "$1/rm.pid"; exec rm -f -- "$1"/file*.txt' sh "$W"
# a sleep killed with SIGKILL, one killed with SIGTERM
sleep 30 & p=$!; echo $p > "$W/sigkill.pid"; sleep 0.05; kill -KILL $p; wait $p 2>/dev/null
sleep 30 & p=$!; echo $p > "$W/sigterm.pid"; sleep 0.05; kill -TERM $p; wait $p 2>/dev/null
# a syscall loop: LOOPS getppid() calls, plus some stat calls
"$NODE" -e '
  const fs = require("fs");
  fs.writeFileSync(process.argv[1] + "/loop.pid", String(process.pid));
  let s = 0;
  for (let i = 0; i < Number(process.argv[2]); i++) s += process.ppid;
  for (let i = 0; i < 50; i++) fs.statSync(process.argv[1]);
' "$W" "$LOOPS"
# fork/exec of short commands, one with an odd name (comm with spaces and "=")
for i in 1 2 3; do /bin/true; done
ls -la "$W" > /dev/null
sh -c 'echo $$ > "$1/odd.pid"; exec "$2"' sh "$W" "$D/${oddName}"
cat /proc/self/stat > /dev/null
exit 0
`;
}

/**
 * Record the default events (plus opts.events) while running the workload on
 * CPUs 0 and 1. Writes v7.dat and v6.dat into `dir`.
 */
export async function makeRecording(dir: string, opts: RecordOptions = {}): Promise<Recording> {
  const tracefs = ensureTracefs();
  const loops = opts.loops ?? 2000;
  const files = opts.files ?? 20;
  const bufferSizeKb = opts.bufferSizeKb ?? 8192;
  await sweepStaleInstances(tracefs);
  const instance = `${instancePrefix()}${instanceCounter++}`;
  const instDir = join(tracefs, 'instances', instance);
  const defaults = (opts.defaultEvents ?? true) ? DEFAULT_EVENTS : [];
  const events: string[] = [];
  const v7 = join(dir, 'v7.dat');
  const v6 = join(dir, 'v6.dat');
  const oddName = 'tw x=1 y-7 [1]';
  const workDir = join(dir, 'work dir');
  await mkdir(workDir, { recursive: true });
  const script = join(dir, 'workload.sh');
  await writeFile(script, workloadScript(oddName));
  await writeFile(join(workDir, oddName), '#!/bin/sh\nexit 0\n');
  await chmod(join(workDir, oddName), 0o755);

  const onlineCpus = await onlineCpuList();
  const cpus = [0, 1].filter((c) => onlineCpus.includes(c));
  if (cpus.length < 2) throw new Error(`need CPUs 0 and 1 online, have ${onlineCpus.join(',')}`);

  let bufferStats: CpuBufferStats[] = [];
  let extractRemovedInstance = false;
  await mkdir(instDir);
  try {
    // a new instance starts with tracing on: switch it off before enabling anything
    await writeTracefs(join(instDir, 'tracing_on'), '0');
    await writeTracefs(join(instDir, 'buffer_size_kb'), String(bufferSizeKb));
    for (const spec of [...defaults, ...(opts.events ?? [])]) {
      const [system, event] = spec.split(':');
      if (!system) throw new Error(`bad event spec "${spec}"`);
      const path = event ? join(instDir, 'events', system, event, 'enable') : join(instDir, 'events', system, 'enable');
      if (!existsSync(path)) {
        // a default event this kernel lacks is skipped; an asked-for one is an error
        if (defaults.includes(spec) && !(opts.events ?? []).includes(spec)) continue;
        throw new Error(`event ${spec} does not exist on this kernel (${path})`);
      }
      await writeTracefs(path, '1');
      if (!events.includes(spec)) events.push(spec);
    }
    await writeTracefs(join(instDir, 'trace'), ''); // empty the buffer
    try {
      await runWorkload(instDir, opts.workloadOnly ?? true, cpus, [script, workDir, String(loops), String(files), process.execPath]);
    } finally {
      await writeTracefs(join(instDir, 'tracing_on'), '0');
    }
    await writeTracefs(join(instDir, 'events', 'enable'), '0');
    const cpuDirs = (await readdir(join(instDir, 'per_cpu'))).filter((d) => /^cpu\d+$/.test(d));
    bufferStats = await Promise.all(
      cpuDirs.map(async (d) => parseStats(await readFile(join(instDir, 'per_cpu', d, 'stats'), 'utf8'), Number(d.slice(3)))),
    );
    bufferStats.sort((a, b) => a.cpu - b.cpu);
    await run('trace-cmd', ['extract', '-B', instance, '-o', v7], { cwd: dir });
    extractRemovedInstance = !existsSync(instDir);
    await run('trace-cmd', ['convert', '--file-version', '6', '-i', v7, '-o', v6], { cwd: dir });
  } finally {
    await removeInstance(instDir);
  }

  const readPid = async (cpu: number, name: string) => {
    const p = join(workDir, `cpu${cpu}`, `${name}.pid`);
    const t = (await readFile(p, 'utf8')).trim();
    if (!/^\d+$/.test(t)) throw new Error(`workload did not write a pid to ${p}`);
    return Number(t);
  };
  const workload: WorkloadInfo = {
    workDir,
    cpus: await Promise.all(
      cpus.map(async (cpu) => ({
        cpu,
        rmPid: await readPid(cpu, 'rm'),
        sigkillPid: await readPid(cpu, 'sigkill'),
        sigtermPid: await readPid(cpu, 'sigterm'),
        loopPid: await readPid(cpu, 'loop'),
        oddExecPid: await readPid(cpu, 'odd'),
      })),
    ),
    loops,
    files,
    oddName,
  };
  return { v7, v6, instance, events, workload, bufferStats, extractRemovedInstance };
}

/**
 * Start one workload per CPU (pinned with taskset), each first blocked reading
 * stdin so that its pid can be put into set_event_pid before it does anything;
 * then turn tracing on and let them go.
 */
async function runWorkload(instDir: string, workloadOnly: boolean, cpus: number[], args: string[]): Promise<void> {
  const [script, workDir, ...rest] = args;
  if (script === undefined || workDir === undefined) throw new Error('bad workload arguments');
  const children = cpus.map((cpu) => {
    const child = spawn(
      'taskset',
      ['-c', String(cpu), 'bash', '-c', 'read -r _ || exit 1; exec bash "$@"', 'go', script, workDir, String(cpu), ...rest],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
    });
    const done = new Promise<void>((resolve, reject) => {
      child.on('error', (e) => reject(new Error(`cannot start the workload: ${e.message}`)));
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`workload on CPU ${cpu} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
      });
    });
    return { child, done };
  });
  try {
    const pids = children.map(({ child }) => child.pid);
    if (pids.some((p) => p === undefined)) throw new Error('workload did not start');
    if (workloadOnly) {
      await writeTracefs(join(instDir, 'options', 'event-fork'), '1');
      await writeTracefs(join(instDir, 'set_event_pid'), pids.join(' '));
    }
    await writeTracefs(join(instDir, 'tracing_on'), '1');
  } catch (e) {
    for (const { child } of children) child.kill('SIGKILL');
    await Promise.allSettled(children.map((c) => c.done));
    throw e;
  }
  for (const { child } of children) child.stdin?.end('go\n');
  await Promise.all(children.map((c) => c.done));
}

/** CPUs listed in /sys/devices/system/cpu/online, e.g. "0-1". */
export async function onlineCpuList(): Promise<number[]> {
  const text = (await readFile('/sys/devices/system/cpu/online', 'utf8')).trim();
  const out: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** All event systems used by the "many event kinds" recording. */
export const MANY_EVENT_SYSTEMS = ['sched', 'signal', 'syscalls', 'raw_syscalls', 'task', 'irq', 'timer', 'workqueue'];
