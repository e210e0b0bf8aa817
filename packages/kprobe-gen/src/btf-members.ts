/**
 * Struct member offsets for the kprobe_events backend, read from the target kernel's BTF with
 * pahole (`pahole -F btf -C <struct> <btf>`). Only the structs the spec's expressions walk
 * through are looked up, one at a time, following member types (e.g. struct path → dentry →
 * inode → super_block for dev(path)). structFromBtf reads any one struct (mount-offsets.ts reads
 * struct mount with it).
 */
import { TwError } from '@tw/core';
import type { ProbeSpec } from '@tw/probe-spec';
import { missingStruct, type Arch, type MemberInfo, type MemberLayouts } from './kprobe-events.js';
import { run } from './run.js';

export interface BtfOptions {
  /** BTF to read: /sys/kernel/btf/vmlinux (default), or a vmlinux with a .BTF section */
  btf?: string;
  /** the pahole program (default "pahole") */
  pahole?: string;
  arch?: Arch;
}

/**
 * Parse pahole's C output for one struct/union: members with their offsets and sizes as pahole
 * prints them (/* offset size *\/; members of anonymous unions/structs are flattened with
 * offsets from the outer struct). Bit-fields and function pointers are skipped.
 */
export function parsePaholeStruct(text: string): { name: string; members: Record<string, MemberInfo> } | undefined {
  const lines = text.split('\n');
  const head = /^(struct|union)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{/.exec(lines[0] ?? '');
  if (!head) return undefined;
  const members: Record<string, MemberInfo> = {};
  for (const line of lines.slice(1)) {
    if (line.includes('(')) continue;
    const m = /^\s+(.*?[\s*])([A-Za-z_][A-Za-z0-9_]*)((?:\[\d*\])*)\s*;\s*\/\*\s*(\d+)\s+(\d+)\s*\*\//.exec(line);
    if (!m) continue;
    const type = `${m[1]!.replace(/\s+/g, ' ').replace(/ \*/g, '*').replace(/\*/g, ' *').replace(/\s+/g, ' ').trim()}${m[3] ?? ''}`;
    const name = m[2]!;
    if (members[name] === undefined) members[name] = { offset: Number(m[4]), size: Number(m[5]), type };
  }
  return { name: `${head[1]} ${head[2]}`, members };
}

/**
 * The members of one struct/union (`struct mount`, `union foo`) as the BTF describes it, or why
 * not: `missing` says what pahole reported (nothing printed: not in the BTF). Throws TwError
 * TOOL_START when pahole cannot be started.
 */
export async function structFromBtf(
  name: string,
  opts: BtfOptions = {},
): Promise<{ members: Record<string, MemberInfo> } | { missing: string }> {
  const btf = opts.btf ?? '/sys/kernel/btf/vmlinux';
  const tag = name.replace(/^(struct|union)\s+/, '');
  const r = await run(opts.pahole ?? 'pahole', ['-F', 'btf', '-C', tag, btf]);
  const parsed = r.exitCode === 0 ? parsePaholeStruct(r.stdout) : undefined;
  if (parsed && parsed.name === name) return { members: parsed.members };
  return { missing: `${name} is not in the BTF of ${btf}${r.exitCode !== 0 ? ` (pahole: ${r.stderr.trim().split('\n').at(-1) ?? ''})` : ''}` };
}

/** Member layouts for every struct the spec's kprobe event definition walks through. */
export async function memberLayoutsFromBtf(spec: ProbeSpec, opts: BtfOptions = {}): Promise<MemberLayouts> {
  const members: Record<string, Record<string, MemberInfo>> = {};
  for (let round = 0; round < 32; round++) {
    const need = missingStruct(spec, { members, ...(opts.arch ? { arch: opts.arch } : {}) });
    if (need === undefined) return members;
    const got = await structFromBtf(need, opts);
    if ('missing' in got) throw new TwError('PROBE_UNSUPPORTED', `probe '${spec.name}': ${got.missing}`);
    members[need] = got.members;
  }
  throw new TwError('PROBE_UNSUPPORTED', `probe '${spec.name}': too many nested structs to resolve`);
}
