// BPF probes for the cross-package kernel tests: relay-native's getppid test fixture
// (packages/relay-native/test-fixtures/bpf) compiled the way its own tests compile it (clang
// -target bpf -g -O2 against a vmlinux.h from bpftool, cached in the temp directory), wrapped as
// core's RecordSource, with the format of its event as a tw probe would declare it.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordSource } from '@tw/core';
import { bpfStatus, openBpfProbe, VMLINUX_BTF, type BpfProbe } from '@tw/relay-native';
import { REPO_ROOT } from './tw.js';

const FIXTURES = join(REPO_ROOT, 'packages', 'relay-native', 'test-fixtures', 'bpf');

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

/** Why BPF probes cannot be loaded here (on top of the tracefs reasons), or undefined. */
export function bpfSkipReason(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (loading BPF programs needs root here)';
  const status = bpfStatus();
  if (status !== true) return status;
  if (!has('clang', ['--version'])) return 'no clang to build the BPF test fixture';
  if (!has('bpftool', ['version'])) return 'no bpftool (for vmlinux.h)';
  if (!existsSync('/usr/include/bpf/bpf_helpers.h')) return 'no libbpf headers in /usr/include/bpf (libbpf-dev)';
  return undefined;
}

/** test-fixtures/bpf/<name>.bpf.c compiled and cached; returns the object's path. */
export function buildBpfFixture(name: string): string {
  const h = createHash('sha256');
  h.update(run('clang', ['--version']));
  h.update(`${run('uname', ['-r'])}:${statSync(VMLINUX_BTF).size}`);
  for (const f of readdirSync(FIXTURES).sort()) h.update(f).update(readFileSync(join(FIXTURES, f)));
  const dir = join(tmpdir(), `tw-test-bpf-${h.digest('hex').slice(0, 16)}`);
  mkdirSync(dir, { recursive: true });
  const obj = join(dir, `${name}.bpf.o`);
  if (existsSync(obj)) return obj;
  const vmlinux = join(dir, 'vmlinux.h');
  if (!existsSync(vmlinux)) {
    writeFileSync(`${vmlinux}.${process.pid}.tmp`, run('bpftool', ['btf', 'dump', 'file', VMLINUX_BTF, 'format', 'c']));
    renameSync(`${vmlinux}.${process.pid}.tmp`, vmlinux);
  }
  const tmp = `${obj}.${process.pid}.tmp`;
  run('clang', ['-target', 'bpf', '-g', '-O2', `-I${dir}`, `-I${FIXTURES}`, '-I/usr/include/bpf', '-c', join(FIXTURES, `${name}.bpf.c`), '-o', tmp]);
  renameSync(tmp, obj);
  return obj;
}

/** The format of the getppid fixture's records as the event tw:getppid (struct getppid_record after its head). */
export function getppidFormat(id: number): string {
  return [
    'name: getppid',
    `ID: ${id}`,
    'format:',
    '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
    '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
    '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
    '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
    '',
    '\tfield:s32 tgid;\toffset:8;\tsize:4;\tsigned:1;',
    '\tfield:u32 zero;\toffset:12;\tsize:4;\tsigned:0;',
    '\tfield:u64 cookie;\toffset:16;\tsize:8;\tsigned:0;',
    '\tfield:char tag[8];\toffset:24;\tsize:8;\tsigned:0;',
    '',
    'print fmt: "tgid=%d cookie=%llu tag=%s", REC->tgid, REC->cookie, REC->tag',
    '',
  ].join('\n');
}

/**
 * The getppid fixture loaded for `tgid`, as core's RecordSource of one event, tw:getppid (what
 * a BPF ProbeProvider hands out): batches and rounds passed straight through.
 */
export function getppidSource(object: string, tgid: number, latencyMs = 45): { source: RecordSource; probe: BpfProbe } {
  const probe = openBpfProbe({ object, params: { target_tgid: tgid, cookie: 42n, tag: 'tw-test' }, latencyMs });
  const source: RecordSource = {
    name: 'bpf-getppid',
    clock: 'mono',
    events: [{ system: 'tw', name: 'getppid', format: getppidFormat }],
    start: (onBatch, onError, onRound) => probe.start((data, release) => onBatch(data, release), onError, onRound),
    stop: () => probe.stop(),
    lost: () => probe.lost(),
  };
  return { source, probe };
}
