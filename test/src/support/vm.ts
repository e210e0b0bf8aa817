// Tests that need kprobes or loadable modules (which the CI kernel lacks) boot one of Debian's
// own kernels in a qemu guest (software emulation) through test/vm/vmtest.sh, and run a bash
// script there as root. The guest sees the whole host filesystem read-only (writes land in a
// tmpfs overlay), the repo at the same path, and tracefs at /sys/kernel/tracing.
//
//   const r = await runInGuest(kver, 'echo hi > "$TW_OUT/out.txt"; exit 3');
//   r.code === 3; r.out === 'hi\n'; r.log = the guest console (kernel messages + script output)

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/vm/vmtest.sh (this file is test/src/support/vm.ts). */
export const VMTEST = fileURLToPath(new URL('../../vm/vmtest.sh', import.meta.url));

/** Exit status of vmtest.sh when the guest crashed, panicked, timed out or never reported. */
export const GUEST_CRASHED = 100;

export interface GuestRun {
  /** The script's exit status (0..63; larger ones read as 63), 100 = guest crashed / no result, 90 = host setup error. */
  code: number;
  /** Contents of `$TW_OUT/out.txt` after the run ('' if the script wrote none). */
  out: string;
  /** The guest's console (kernel messages, the script's stdout and stderr) then vmtest.sh's own notes; '\r\n' -> '\n'. */
  log: string;
  /** The files named in `GuestOptions.collect` that the script left in `$TW_OUT` (by name). */
  files: Map<string, Buffer>;
}

export interface GuestOptions {
  /** Kill the guest after this many seconds (default 120); the run then reports code 100. */
  timeoutSec?: number;
  /**
   * Guest vCPUs (default 1). Guests share a budget of one vCPU per host core: two 1-vCPU guests
   * run side by side on 2 cores, a 2-vCPU guest waits for the whole machine. (Overcommitted
   * TCG vCPUs are much slower than waiting: 2 parallel 2-vCPU guests took 22 s, 1-vCPU ones 10.6 s.)
   */
  smp?: number;
  /** Files the script writes to `$TW_OUT` (plain names) to hand back in `GuestRun.files`. */
  collect?: readonly string[];
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function which(cmd: string): boolean {
  for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(':')) {
    try {
      accessSync(join(dir || '.', cmd), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/**
 * Kernel releases the guest can boot: those in /lib/modules that have both /boot/vmlinuz-<rel>
 * and a `build` dir (headers, to build modules on the host), sorted by version.
 */
export function guestKernels(): string[] {
  let rels: string[];
  try {
    rels = readdirSync('/lib/modules');
  } catch {
    return [];
  }
  return rels
    .filter((rel) => {
      try {
        return statSync(`/boot/vmlinuz-${rel}`).isFile() && statSync(`/lib/modules/${rel}/build`).isDirectory();
      } catch {
        return false;
      }
    })
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

let cachedReason: string | null | undefined;

/** Why VM tests cannot run here, or undefined when they can. */
export function vmSkipReason(): string | undefined {
  if (cachedReason === undefined) cachedReason = computeSkipReason() ?? null;
  return cachedReason ?? undefined;
}

function computeSkipReason(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `not x86-64 Linux (${process.platform}/${process.arch})`;
  if (!isRoot()) return 'not running as root (the guest harness mknods and boots as root)';
  if (!existsSync(VMTEST)) return `${VMTEST} is missing`;
  const missing = ['qemu-system-x86_64', 'timeout', 'cpio', 'xz', 'zstd', 'python3'].filter((c) => !which(c));
  if (missing.length > 0) return `missing ${missing.join(', ')} (see the apt-get line in .ci/run)`;
  if (!existsSync('/bin/busybox')) return '/bin/busybox missing (apt-get install busybox-static)';
  if (guestKernels().length === 0) {
    return 'no Debian kernel with headers installed (need /boot/vmlinuz-<rel> and /lib/modules/<rel>/build: apt-get install linux-image-amd64 linux-headers-amd64)';
  }
  return undefined;
}

// ---- vCPU budget: never run more guest vCPUs than host cores at once ----

const budget = Math.max(1, Number(process.env['TW_VM_CPUS'] ?? availableParallelism()) || 1);
let inUse = 0;
const waiters: Array<{ n: number; go: () => void }> = [];

function pump(): void {
  while (waiters.length > 0) {
    const w = waiters[0]!;
    if (inUse + w.n > budget && inUse > 0) return; // FIFO: a big guest is not starved by small ones
    waiters.shift();
    inUse += w.n;
    w.go();
  }
}

async function acquire(n: number): Promise<() => void> {
  await new Promise<void>((resolve) => {
    waiters.push({ n, go: resolve });
    pump();
  });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    inUse -= n;
    pump();
  };
}

/**
 * Run the bash `script` as root inside a guest booted with Debian kernel `kver`. `$TW_OUT` is a
 * fresh host directory shared read-write; whatever the script writes to `$TW_OUT/out.txt` comes
 * back as `out`. `$TW_GUEST=1` is set. Never rejects for guest failures: a crashed guest is code 100.
 * Set TW_VM_KEEP=1 to keep the OUTDIR (its path is appended to `log`).
 */
export async function runInGuest(kver: string, script: string, opts: GuestOptions = {}): Promise<GuestRun> {
  const timeoutSec = opts.timeoutSec ?? 120;
  const smp = Math.max(1, Math.floor(opts.smp ?? 1));
  // no whitespace allowed in the paths (they travel on the kernel command line)
  const base = /\s/.test(tmpdir()) ? '/tmp' : tmpdir();
  const dir = mkdtempSync(join(base, 'tw-vm-'));
  const entry = join(dir, 'entry.sh');
  writeFileSync(entry, script.startsWith('#!') ? script : `#!/bin/bash\n${script}`, { mode: 0o755 });
  const release = await acquire(Math.min(smp, budget));
  try {
    const { code, log } = await new Promise<{ code: number; log: string }>((resolve) => {
      const chunks: Buffer[] = [];
      const child = spawn('bash', [VMTEST, entry, dir], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KVER: kver, TW_VM_TIMEOUT: String(timeoutSec), SMP: String(smp) },
      });
      child.stdout.on('data', (b: Buffer) => chunks.push(b));
      child.stderr.on('data', (b: Buffer) => chunks.push(b));
      // vmtest.sh has its own `timeout`; this is the backstop (first boot also extracts the kernel)
      const guard = setTimeout(() => child.kill('SIGKILL'), (timeoutSec + 60) * 1000);
      let spawnError = '';
      child.on('error', (e) => {
        spawnError = `runInGuest: cannot run ${VMTEST}: ${e.message}\n`;
      });
      child.on('close', (c, signal) => {
        clearTimeout(guard);
        let text = Buffer.concat(chunks).toString('utf8').replace(/\r\n?/g, '\n') + spawnError;
        if (signal) text += `runInGuest: vmtest.sh killed by ${signal}\n`;
        resolve({ code: c ?? GUEST_CRASHED, log: text });
      });
    });
    let out = '';
    try {
      out = readFileSync(join(dir, 'out.txt'), 'utf8');
    } catch {
      // the script wrote no out.txt
    }
    const files = new Map<string, Buffer>();
    for (const name of opts.collect ?? []) {
      if (name.includes('/')) throw new Error(`runInGuest: collect takes plain file names, got ${name}`);
      try {
        files.set(name, readFileSync(join(dir, name)));
      } catch {
        // the script did not write it
      }
    }
    return { code, out, log: process.env['TW_VM_KEEP'] ? `${log}runInGuest: kept ${dir}\n` : log, files };
  } finally {
    release();
    if (!process.env['TW_VM_KEEP']) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Build the out-of-tree module in `srcDir` on the HOST against `kver`'s headers (in-guest gcc is
 * ~12x slower): copies srcDir to a fresh temp dir, runs `make -C /lib/modules/<kver>/build M=<tmp>
 * modules`. Returns the temp dir (the caller removes it) and the build output; throws on failure.
 */
export function buildGuestModule(kver: string, srcDir: string): Promise<{ dir: string; output: string }> {
  const dir = mkdtempSync(join('/tmp', `tw-mod-${kver.replace(/[^\w.-]/g, '_')}-`));
  const cp = spawnSync('cp', ['-r', `${srcDir}/.`, dir], { encoding: 'utf8' });
  if (cp.status !== 0) return Promise.reject(new Error(`cp ${srcDir}: ${cp.stderr}`));
  return new Promise((resolve, reject) => {
    const child = spawn('make', ['-C', `/lib/modules/${kver}/build`, `M=${dir}`, 'modules'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', (e) => reject(new Error(`cannot run make: ${e.message}`)));
    child.on('close', (code) => {
      const output = Buffer.concat(chunks).toString('utf8');
      if (code === 0) resolve({ dir, output });
      else reject(new Error(`module build for ${kver} failed (exit ${code}):\n${output.split('\n').slice(-30).join('\n')}`));
    });
  });
}
