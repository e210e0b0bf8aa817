/**
 * Struct member offsets for the kprobe_events backend, read from the target kernel's BTF with
 * pahole (`pahole -F btf -C <struct> <btf>`). Only the structs the spec's expressions walk
 * through are looked up, one at a time, following member types (e.g. struct path → dentry →
 * inode → super_block for dev(path)).
 */
import { TwError } from '@tw/core';
import { missingStruct, type Arch, type MemberInfo, type MemberLayouts } from './kprobe-events.js';
import { run } from './run.js';
import type { ProbeSpec } from './spec.js';

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

/** Member layouts for every struct the spec's kprobe event definition walks through. */
export async function memberLayoutsFromBtf(spec: ProbeSpec, opts: BtfOptions = {}): Promise<MemberLayouts> {
  const btf = opts.btf ?? '/sys/kernel/btf/vmlinux';
  const pahole = opts.pahole ?? 'pahole';
  const members: Record<string, Record<string, MemberInfo>> = {};
  for (let round = 0; round < 32; round++) {
    const need = missingStruct(spec, { members, ...(opts.arch ? { arch: opts.arch } : {}) });
    if (need === undefined) return members;
    const tag = need.replace(/^(struct|union)\s+/, '');
    const r = await run(pahole, ['-F', 'btf', '-C', tag, btf]);
    const parsed = r.exitCode === 0 ? parsePaholeStruct(r.stdout) : undefined;
    if (!parsed || parsed.name !== need) {
      throw new TwError('PROBE_UNSUPPORTED', `probe '${spec.name}': ${need} is not in the BTF of ${btf}${r.exitCode !== 0 ? ` (pahole: ${r.stderr.trim().split('\n')[0] ?? ''})` : ''}`);
    }
    members[need] = parsed.members;
  }
  throw new TwError('PROBE_UNSUPPORTED', `probe '${spec.name}': too many nested structs to resolve`);
}
