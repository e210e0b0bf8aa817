/**
 * The generated BPF objects on this kernel (root): the verifier accepts every syscall and
 * tracepoint form (`bpftool prog loadall`, pinned in a private bpffs mounted in a temporary
 * directory, removed after), and attached ones deliver exactly the records the calls of a child
 * cause, which the generated unpacker decodes from the common header on. Attaching goes through
 * bpf-run.fixture.c, a small libbpf program built here (tw's own loader is the addon's). kprobe
 * forms are only compiled (compile-bpf.test.ts): kernels may refuse kprobe programs, this
 * development kernel does. Nothing stays loaded: checked with bpftool at the end.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixedEnd, modelOf, userDevToKernel, type ProbeSpec, type UnpackedValue } from '@tw/probe-spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importUnpacker } from '../unpacker.js';
import { bpfOnlySpecs, openExit, pluginShapes, schedWaking, sigGenerate, sysFiltered, unlinkExit } from '../test-specs.js';
import { compileBpf, type CompiledBpf } from './compile-bpf.js';
import { BPF_RECORD_PREFIX } from './render-bpf.js';
import { KERNEL_BTF } from './vmlinux.js';

function works(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function missing(): string {
  if (process.getuid?.() !== 0) return 'needs root (loading BPF programs)';
  if (!works('clang', ['--version'])) return 'no clang on PATH';
  if (!works('bpftool', ['version'])) return 'no bpftool on PATH';
  if (!existsSync(KERNEL_BTF)) return `no kernel BTF at ${KERNEL_BTF}`;
  if (!works('pkg-config', ['--exists', 'libbpf'])) return 'no libbpf development files (pkg-config libbpf) for the test runner';
  return '';
}

const reason = missing();
const tmp = mkdtempSync(join(tmpdir(), 'tw-bpf-load-'));
const cache = { cacheDir: join(tmp, 'vmlinux'), objectCacheDir: join(tmp, 'objects') };
const runner = join(tmp, 'bpf-run');
const work = join(tmp, 'w');

/** The syscall and tracepoint forms: these load and attach on every kernel with BPF. */
const loadable: ProbeSpec[] = [sysFiltered, pluginShapes.find((s) => s.name === 'unlinkat')!, ...bpfOnlySpecs];
const objects = new Map<string, CompiledBpf>();

/** program names as the kernel keeps them (15 characters) */
const progNames = (): string[] => (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'list'], { encoding: 'utf8' })) as Array<{ name?: string }>).map((p) => p.name ?? '');
const ours = (names: string[]): string[] => names.filter((n) => loadable.some((s) => `tw_${s.name}`.startsWith(n) || `tw_${s.name}_enter`.slice(0, 15) === n));
const linkProgIds = (): number[] => (JSON.parse(execFileSync('bpftool', ['-j', 'link', 'list'], { encoding: 'utf8' })) as Array<{ prog_id: number }>).map((l) => l.prog_id);

beforeAll(async () => {
  if (reason) return;
  for (const spec of loadable) objects.set(spec.name, await compileBpf(spec, cache));
  const src = fileURLToPath(new URL('./bpf-run.fixture.c', import.meta.url));
  const libbpf = execFileSync('pkg-config', ['--cflags', '--libs', 'libbpf'], { encoding: 'utf8' }).trim().split(/\s+/).filter((s) => s !== '');
  execFileSync('cc', ['-O2', '-Wall', '-Werror', '-o', runner, src, ...libbpf]);
  mkdirSync(work, { recursive: true });
}, 300_000);

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  /** the runner's pid (the child's parent) */
  runner: number;
  child: number;
  status: number;
  records: number;
  lost: number;
  /** each record: ts, cpu, len and the fields the generated unpacker reads */
  decoded: Array<{ ts: bigint; cpu: number; len: number; fields: Record<string, UnpackedValue> }>;
}

/** bytes after ts, cpu and len: the fixed part of the layout and every string slot */
function payloadBytes(spec: ProbeSpec): number {
  const m = modelOf(spec);
  return fixedEnd(m) + m.fields.reduce((n, f) => n + (f.kind === 'string' ? f.len : 0), 0);
}

/** Attach a spec's object, run a command, decode what tw_events delivered. */
async function attachAndRun(spec: ProbeSpec, cmd: string[], rodata: Record<string, number | bigint> = {}): Promise<Run> {
  const obj = objects.get(spec.name)!.object;
  const out = join(tmp, `${spec.name}.records`);
  const args = [obj, out, ...Object.entries(rodata).flatMap(([k, v]) => ['-r', `tw_param_${k}=${v}`]), '--', ...cmd];
  const summary = JSON.parse(execFileSync(runner, args, { encoding: 'utf8', timeout: 60_000 })) as Omit<Run, 'decoded'>;
  const bytes = readFileSync(out);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const unpacker = await importUnpacker(spec, { cacheDir: join(tmp, 'unpackers') });
  const decoded: Run['decoded'] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = view.getUint32(at, true);
    const rec = at + 4;
    const len = view.getUint32(rec + 12, true);
    expect(BPF_RECORD_PREFIX + len).toBe(size);
    expect(view.getUint16(rec + BPF_RECORD_PREFIX, true)).toBe(0); // common_type: tw fills it in
    decoded.push({ ts: view.getBigUint64(rec, true), cpu: view.getUint32(rec + 8, true), len, fields: unpacker.unpack(view, rec + BPF_RECORD_PREFIX, true) });
    at = rec + size;
  }
  return { ...summary, decoded };
}

describe.skipIf(reason !== '')(`BPF on this kernel${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('the verifier accepts every syscall and tracepoint form (bpftool prog loadall, private bpffs)', { timeout: 120_000 }, () => {
    const fs = join(tmp, 'bpffs');
    mkdirSync(fs, { recursive: true });
    execFileSync('mount', ['-t', 'bpf', 'bpf', fs]);
    try {
      for (const spec of loadable) {
        const dir = join(fs, spec.name);
        try {
          execFileSync('bpftool', ['prog', 'loadall', objects.get(spec.name)!.object, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (e) {
          const stderr = String((e as { stderr?: unknown }).stderr ?? '');
          throw new Error(`${spec.name}: the verifier refused it:\n${stderr.split('\n').slice(-25).join('\n')}`);
        }
        expect(ours(progNames()).length, spec.name).toBeGreaterThan(0);
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      execFileSync('umount', [fs]);
    }
    expect(ours(progNames())).toEqual([]);
  });

  it('syscall entry: touch a b c gives exactly 3 records, filtered by comm and flags, paths from user memory', { timeout: 60_000 }, async () => {
    const before = process.hrtime.bigint();
    const r = await attachAndRun(sysFiltered, ['sh', '-c', `cd ${work} && exec touch a b c`]);
    const after = process.hrtime.bigint();
    expect(r.status).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.records).toBe(3);
    expect(r.decoded.map((d) => d.fields.filename)).toEqual(['a', 'b', 'c']);
    for (const d of r.decoded) {
      expect(d.fields.comm).toBe('touch');
      expect(d.fields.pid).toBe(r.child);
      expect(Number(d.fields.flags) & 3).not.toBe(0);
      expect(d.len).toBe(payloadBytes(sysFiltered));
      // bpf_ktime_get_ns is CLOCK_MONOTONIC, like process.hrtime
      expect(d.ts).toBeGreaterThan(before);
      expect(d.ts).toBeLessThan(after);
    }
  });

  it('syscall exit: the args, retval, the file behind the fd (ino, dev, full path), cwd, pid/tgid/ppid/uid; a param set before load', { timeout: 60_000 }, async () => {
    writeFileSync(join(work, 'f1'), 'x');
    const st = statSync(join(work, 'f1'));
    const r = await attachAndRun(openExit, ['sh', '-c', `cd ${work} && exec cat f1 f1 f1 >/dev/null`], { watch_ino: BigInt(st.ino) });
    expect(r.lost).toBe(0);
    // the filter (ino == watch_ino) keeps the three opens of f1 and nothing else
    expect(r.records).toBe(3);
    for (const { fields: f } of r.decoded) {
      expect(f.filename).toBe('f1');
      expect(f.ret).toBeGreaterThanOrEqual(0n);
      expect(f.dfd).toBe(-100); // AT_FDCWD
      expect(f.ino).toBe(BigInt(st.ino));
      expect(f.dev).toBe(userDevToKernel(st.dev));
      expect(f.path).toBe(realpathSync(join(work, 'f1')));
      expect(f.cwd).toBe(realpathSync(work));
      expect(f.pid).toBe(r.child);
      expect(f.tgid).toBe(r.child);
      expect(f.ppid).toBe(r.runner); // sh exec-ed cat: its parent is the runner that forked it
      expect(f.uid).toBe(0);
      expect(f.comm).toBe('cat');
      expect(f.cmdline).toBe('cat f1 f1 f1');
    }
  });

  it('syscall exit: rm pairs each unlinkat with its return; a relative name comes with the cwd', { timeout: 60_000 }, async () => {
    writeFileSync(join(work, 'r1'), '');
    writeFileSync(join(work, 'r2'), '');
    const r = await attachAndRun(unlinkExit, ['sh', '-c', `cd ${work} && exec rm r1 r2`]);
    expect(r.lost).toBe(0);
    const mine = r.decoded.filter((d) => d.fields.pid === r.child);
    expect(mine.map((d) => d.fields.pathname)).toEqual(['r1', 'r2']);
    for (const { fields: f } of mine) {
      expect(f.ret).toBe(0);
      expect(f.comm).toBe('rm');
      expect(f.cwd).toBe(realpathSync(work));
      expect(f.dir).toBe(''); // AT_FDCWD is no descriptor
    }
  });

  it('tracepoint: signal_generate fields by name, a renamed field, a param filter', { timeout: 60_000 }, async () => {
    const r = await attachAndRun(sigGenerate, ['sh', '-c', 'trap "" USR1; kill -USR1 $$; kill -USR1 $$; kill -USR1 $$'], { only_sig: 10 });
    expect(r.status).toBe(0);
    expect(r.lost).toBe(0);
    const mine = r.decoded.filter((d) => d.fields.target === r.child);
    expect(mine).toHaveLength(3);
    for (const { fields: f } of mine) {
      expect(f.sig).toBe(10);
      expect(f.sender).toBe(r.child);
      expect(f.comm).toBe('sh');
    }
    expect(r.decoded.every((d) => d.fields.sig === 10)).toBe(true);
  });

  it('tracepoint through its event class: sched_waking attaches and delivers', { timeout: 60_000 }, async () => {
    const r = await attachAndRun(schedWaking, ['sleep', '0.2']);
    expect(r.records).toBeGreaterThan(0);
    expect(r.decoded.every((d) => typeof d.fields.woken === 'number' && (d.fields.woken as number) >= 0)).toBe(true);
  });

  it('leaves no program or link behind', () => {
    expect(ours(progNames())).toEqual([]);
    const progIds = new Set((JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'list'], { encoding: 'utf8' })) as Array<{ id: number; name?: string }>).filter((p) => ours([p.name ?? '']).length > 0).map((p) => p.id));
    expect(linkProgIds().filter((id) => progIds.has(id))).toEqual([]);
  });
});
