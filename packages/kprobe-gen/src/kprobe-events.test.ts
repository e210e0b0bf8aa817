import { existsSync } from 'node:fs';
import { isTwError, type TwError } from '@tw/core';
import type { ProbeSpec } from '@tw/probe-spec';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { memberLayoutsFromBtf, parsePaholeStruct } from './btf-members.js';
import { listKernelTrees } from './kernels.js';
import { renderKprobeEvent } from './kprobe-events.js';
import { kitchenSink, pluginShapes, sysFiltered } from './test-specs.js';
import { MEMBERS_6_12, PAHOLE_6_1_FILE, PAHOLE_6_12 } from './testing/members.js';

const spec = (name: string): ProbeSpec => pluginShapes.find((s) => s.name === name)!;

function unsupported(fn: () => unknown): TwError {
  try {
    fn();
  } catch (e) {
    expect(isTwError(e)).toBe(true);
    expect((e as TwError).code).toBe('PROBE_UNSUPPORTED');
    return e as TwError;
  }
  throw new Error('expected PROBE_UNSUPPORTED');
}

describe('kprobe_events lines', () => {
  it('kill: plain args and $comm; pid is common_pid', () => {
    expect(renderKprobeEvent(spec('kill'), { arch: 'x86_64' })).toEqual({
      event: 'tw:kill',
      line: 'p:tw/kill kill_something_info sig=%di:s32 target=%dx:s32 comm=$comm:string',
      removeLine: '-:tw/kill',
      symbol: 'kill_something_info',
    });
    expect(renderKprobeEvent(spec('kill'), { arch: 'arm64' }).line).toBe('p:tw/kill kill_something_info sig=%x0:s32 target=%x2:s32 comm=$comm:string');
  });

  it('syscall wrappers: args are derefs of the user pt_regs, strings ustring', () => {
    expect(renderKprobeEvent(spec('unlinkat'), { arch: 'x86_64' }).line).toBe(
      'p:tw/unlinkat __x64_sys_unlinkat dfd=+112(%di):s32 flag=+96(%di):s32 pathname=+0(+104(%di)):ustring comm=$comm:string',
    );
    expect(renderKprobeEvent(spec('unlinkat'), { arch: 'arm64' }).line).toBe(
      'p:tw/unlinkat __arm64_sys_unlinkat dfd=+0(%x0):s32 flag=+16(%x0):s32 pathname=+0(+8(%x0)):ustring comm=$comm:string',
    );
  });

  it('struct members need their offsets (from BTF), then deref chains', () => {
    const e = unsupported(() => renderKprobeEvent(spec('unlink'), { arch: 'x86_64' }));
    expect(e.message).toContain("field 'pathname'");
    expect(e.message).toContain('struct filename');
    expect(renderKprobeEvent(spec('unlink'), { arch: 'x86_64', members: MEMBERS_6_12 }).line).toBe(
      'p:tw/unlink do_unlinkat dfd=%di:s32 pathname=+0(+0(%si)):string comm=$comm:string',
    );
  });

  it('ino/dev walk path → dentry → inode (→ super_block); layouts differ between kernels', () => {
    const s: ProbeSpec = {
      name: 'inodes',
      attach: { kprobe: 'vfs_open' },
      args: [{ name: 'path', type: 'const struct path *' }, { name: 'file', type: 'struct file *' }],
      fields: [
        { name: 'ino', type: 'u64', from: 'ino(path)' },
        { name: 'fino', type: 'u64', from: 'ino(file)' },
        { name: 'dev', type: 'u32', from: 'dev(path)' },
        { name: 'flags', type: 'u32', from: 'file->f_flags' },
        { name: 'last', type: { string: 64 }, from: 'kernel_string(path->dentry->d_name.name)' },
        { name: 'iname', type: { bytes: 8 }, from: '&path->dentry->d_iname' },
      ],
    };
    expect(renderKprobeEvent(s, { arch: 'x86_64', members: MEMBERS_6_12 }).line).toBe(
      'p:tw/inodes vfs_open ino=+64(+48(+8(%di))):u64 fino=+64(+48(+72(%si))):u64 dev=+16(+40(+48(+8(%di)))):u32 flags=+48(%si):u32 last=+0(+40(+8(%di))):string iname=+56(+8(%di)):u8[8]',
    );
    const on61 = { ...MEMBERS_6_12, 'struct file': parsePaholeStruct(PAHOLE_6_1_FILE)!.members };
    expect(renderKprobeEvent(s, { arch: 'x86_64', members: on61 }).line).toContain('fino=+64(+48(+24(%si))):u64');
    expect(renderKprobeEvent(s, { arch: 'x86_64', members: on61 }).line).toContain('flags=+64(%si):u32');
  });

  it('reports what kprobe events cannot express, naming the field', () => {
    expect(unsupported(() => renderKprobeEvent(spec('open_write'), { arch: 'x86_64', members: MEMBERS_6_12 })).message).toMatch(/field 'path'.*dentry walk/);
    const ks = unsupported(() => renderKprobeEvent(kitchenSink, { arch: 'x86_64', members: MEMBERS_6_12 })).message;
    expect(ks).toMatch(/field '\w+'/);
    const base = { name: 'x', attach: { kprobe: 'f' }, args: [{ name: 'a', type: 'int' }, { name: 'p', type: 'struct filename *' }] } as const;
    const one = (from: string, type: ProbeSpec['fields'][number]['type'] = 'u32') => () => renderKprobeEvent({ ...base, fields: [{ name: 'v', type, from }] }, { arch: 'x86_64', members: MEMBERS_6_12 });
    expect(unsupported(one('tgid')).message).toContain("'current'");
    expect(unsupported(one('uid')).message).toContain("'current'");
    expect(unsupported(one('a + 1')).message).toContain('no arithmetic');
    expect(unsupported(one('current->pid')).message).toContain("'current'");
    expect(unsupported(one('p->nosuch')).message).toContain("no member 'nosuch'");
    expect(unsupported(one('p->refcnt.counter')).message).toContain('atomic_t');
    expect(renderKprobeEvent({ ...base, fields: [{ name: 'v', type: 'u64', from: 'p->name' }] }, { arch: 'x86_64', members: MEMBERS_6_12 }).line).toContain('v=+0(%si):u64');
    expect(unsupported(() => renderKprobeEvent({ ...base, fields: [{ name: 'v', type: 'u64', from: 'p->refcnt' }] }, { arch: 'x86_64', members: MEMBERS_6_12 })).message).toContain('4 bytes');
  });

  it('kretprobe: $retval works, entry args do not', () => {
    const r: ProbeSpec = { name: 'ret', attach: { kretprobe: 'vfs_read', returns: 'long' }, args: [], fields: [{ name: 'ret', type: 's64', from: 'retval' }] };
    expect(renderKprobeEvent(r, { arch: 'x86_64' }).line).toBe('r:tw/ret vfs_read ret=$retval:s64');
  });
});

describe('filters → ftrace event filters', () => {
  it('substitutes params, folds constants, maps masks and strings', () => {
    expect(renderKprobeEvent(sysFiltered, { arch: 'x86_64' }).filter).toBe('((comm == "touch") && (flags & 3)) && (common_pid != 1)');
    expect(renderKprobeEvent(sysFiltered, { arch: 'x86_64', params: { only_comm: 'rm', flag_mask: 64 } }).filter).toBe('((comm == "rm") && (flags & 64)) && (common_pid != 1)');
    const f = (filter: string, params: Record<string, number> = {}) =>
      renderKprobeEvent(
        {
          name: 'f',
          attach: { kprobe: 'k' },
          args: [{ name: 'a', type: 'int' }],
          params: [{ name: 'w', type: 'ulong', default: 0 }],
          fields: [{ name: 'x', type: 'u32', from: 'a' }, { name: 'pid', type: 'pid', from: 'pid' }],
          filter,
        },
        { arch: 'x86_64', params },
      ).filter;
    expect(f('w == 0 || x == w')).toBeUndefined(); // always true: no filter
    expect(f('w == 0 || x == w', { w: 7 })).toBe('x == 7');
    expect(f('(x & 4) == 0 && 10 > x')).toBe('(!(x & 4)) && (x < 10)');
    expect(f('!(x != 3) || pid == 1')).toBe('(!(x != 3)) || (common_pid == 1)');
    expect(f('x && w == 1')).toBe('common_pid < 0'); // always false
    expect(unsupported(() => f('a == 1')).message).toContain("reads 'a'");
    expect(unsupported(() => f('x + 1 == 2')).message).toContain('arithmetic');
    expect(unsupported(() => f('x == pid')).message).toContain('constant');
  });
});

describe('pahole (BTF) member layouts', () => {
  it('parses pahole output, flattening anonymous unions', () => {
    const f = parsePaholeStruct(PAHOLE_6_12.file!)!;
    expect(f.name).toBe('struct file');
    expect(f.members.f_mode).toEqual({ offset: 12, size: 4, type: 'fmode_t' });
    expect(f.members.f_op).toEqual({ offset: 16, size: 8, type: 'const struct file_operations *' });
    expect(f.members.f_pipe).toEqual({ offset: 80, size: 8, type: 'u64' });
    expect(parsePaholeStruct(PAHOLE_6_12.filename!)!.members.iname).toEqual({ offset: 32, size: 0, type: 'const char[]' });
    expect(parsePaholeStruct('nothing')).toBeUndefined();
  });

  // The Debian 6.12 headers ship a vmlinux with BTF; pahole reads it like /sys/kernel/btf/vmlinux.
  const btf = listKernelTrees().map((k) => `${k.kdir}/vmlinux`).find((p) => existsSync(p));
  const pahole = execa('pahole', ['--version'], { reject: false }).then((r) => r.exitCode === 0);
  it.skipIf(!btf)(`resolves unlink's members from real BTF with pahole (${btf ?? 'no vmlinux with BTF in /lib/modules/*/build'})`, async (ctx) => {
    if (!(await pahole)) ctx.skip('pahole is not installed');
    const members = await memberLayoutsFromBtf(spec('unlink'), { btf: btf! });
    expect(Object.keys(members)).toEqual(['struct filename']);
    expect(renderKprobeEvent(spec('unlink'), { arch: 'x86_64', members }).line).toBe('p:tw/unlink do_unlinkat dfd=%di:s32 pathname=+0(+0(%si)):string comm=$comm:string');
    const s: ProbeSpec = {
      name: 'devs',
      attach: { kprobe: 'vfs_open' },
      args: [{ name: 'path', type: 'const struct path *' }],
      fields: [{ name: 'dev', type: 'u32', from: 'dev(path)' }],
    };
    const m2 = await memberLayoutsFromBtf(s, { btf: btf! });
    expect(Object.keys(m2).sort()).toEqual(['struct dentry', 'struct inode', 'struct path', 'struct super_block']);
  });
});
