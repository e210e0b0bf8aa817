/**
 * Helpers for the BPF kernel tests: why they cannot run here, the test fixtures
 * (test-fixtures/bpf/*.bpf.c) compiled with clang against a vmlinux.h from bpftool and cached
 * in a temp directory, the programs and links bpftool sees, and a child that makes an exact
 * number of getppid() calls when told to.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfStatus, VMLINUX_BTF } from './bpf-status.js';
import { CHILD_CPU } from './test-kernel.js';

export const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = join(PKG, 'test-fixtures', 'bpf');

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 });
}

function has(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** Why the BPF kernel tests cannot run here, or undefined when they can. */
export function bpfSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (loading BPF programs needs root here)';
  const status = bpfStatus();
  if (status !== true) return status;
  if (!has('clang', ['--version'])) return 'no clang to build the BPF test fixtures';
  if (!has('bpftool', ['version'])) return 'no bpftool (for vmlinux.h and to list programs and links)';
  if (!existsSync('/usr/include/bpf/bpf_helpers.h')) return 'no libbpf headers in /usr/include/bpf (libbpf-dev)';
  return undefined;
}

/** A cache directory keyed by the fixtures, clang's version and the kernel's BTF. */
function cacheDir(): string {
  const h = createHash('sha256');
  h.update(run('clang', ['--version']));
  const btf = statSync(VMLINUX_BTF);
  h.update(`${run('uname', ['-r'])}:${btf.size}`);
  for (const f of readdirSync(FIXTURES).sort()) h.update(f).update(readFileSync(join(FIXTURES, f)));
  const dir = join(tmpdir(), `tw-bpf-fixtures-${h.digest('hex').slice(0, 16)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * test-fixtures/bpf/<name>.bpf.c compiled (clang -target bpf -g -O2); returns the object's path.
 * With a `variant`, compiled with -DTWRN_TYPE_<variant> (prog-type.bpf.c picks its section so).
 */
export function buildFixture(name: string, variant?: string): string {
  const dir = cacheDir();
  const obj = join(dir, variant === undefined ? `${name}.bpf.o` : `${name}.${variant}.bpf.o`);
  if (existsSync(obj)) return obj;
  const vmlinux = join(dir, 'vmlinux.h');
  if (!existsSync(vmlinux)) {
    writeFileSync(`${vmlinux}.tmp`, run('bpftool', ['btf', 'dump', 'file', VMLINUX_BTF, 'format', 'c']));
    renameSync(`${vmlinux}.tmp`, vmlinux);
  }
  const tmp = `${obj}.${process.pid}.tmp`;
  const defines = variant === undefined ? [] : [`-DTWRN_TYPE_${variant}`];
  run('clang', ['-target', 'bpf', '-g', '-O2', ...defines, `-I${dir}`, `-I${FIXTURES}`, '-I/usr/include/bpf', '-c', join(FIXTURES, `${name}.bpf.c`), '-o', tmp]);
  renameSync(tmp, obj);
  return obj;
}

export interface BpftoolProg {
  id: number;
  name?: string;
}
export interface BpftoolLink {
  id: number;
  prog_id?: number;
}

export function progIds(name: string): number[] {
  return (JSON.parse(run('bpftool', ['prog', 'list', '-j'])) as BpftoolProg[]).filter((p) => p.name === name).map((p) => p.id);
}

export function linksOf(progs: readonly number[]): number[] {
  return (JSON.parse(run('bpftool', ['link', 'list', '-j'])) as BpftoolLink[]).filter((l) => l.prog_id !== undefined && progs.includes(l.prog_id)).map((l) => l.id);
}

/**
 * A child (node, pinned to `cpu`) that prints "ready", waits for a line on stdin, then makes
 * exactly `n` getppid() calls (`process.ppid`, on the main thread, whose tid is the pid),
 * prints "done" and exits. Node's own start-up makes no getppid call.
 */
export function getppidChild(n: number, cpu = CHILD_CPU): { child: ChildProcessWithoutNullStreams; ready: Promise<void>; go: () => Promise<void> } {
  const js = `
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      for (let i = 0; i < ${n}; i++) process.ppid;
      process.stdout.write('done\\n');
      process.exit(0);
    });`;
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, '-e', js], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const seen = (word: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (out.includes(`${word}\n`)) resolve();
      };
      child.stdout.on('data', (b) => {
        out += String(b);
        check();
      });
      // 'close', not 'exit': stdout may still hold the last line when the process has exited
      child.on('close', (code) => (out.includes(`${word}\n`) ? resolve() : reject(new Error(`getppid child exited (${String(code)}) before '${word}'`))));
      check();
    });
  const ready = seen('ready');
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const go = async (): Promise<void> => {
    const done = seen('done');
    child.stdin.write('go\n');
    await done;
    await exited;
  };
  return { child, ready, go };
}
