// Which probes who-deleted brings up, and which event each of its patterns then takes, for the
// kernels tw meets (without them: a provider that serves only what that kernel would). Every
// pattern must resolve to an event that is there, or the session fails; the kprobe form of unlink
// must stay the one for file unlinks wherever it comes up, with sys_unlinkat only beside it.
import { probesUp, splitPatterns } from '@tw/core/internal';
import { TwError, type LiveProbe, type ProbeProvider } from '@tw/core';
import { whoDeleted } from '@tw/plugin-fswatch';
import { describe, expect, it } from 'vitest';

/** how a probe comes up on the kernel of a case: by BPF (a record source) or as a tracefs event */
type How = 'bpf' | 'tracefs';

function provider(works: Record<string, How>): ProbeProvider {
  return {
    checkParams: () => Promise.resolve(),
    unpacker: () => Promise.resolve(undefined),
    up(name) {
      const how = works[name];
      if (how === undefined) return Promise.reject(new TwError('PROBE_UNSUPPORTED', `probe '${name}' cannot come up here`));
      const source = { name: `bpf-${name}`, clock: 'mono' as const, events: [{ system: 'tw', name, format: () => '' }], start: () => undefined, stop: () => Promise.resolve(), lost: () => [] };
      return Promise.resolve({ event: `tw:${name}`, backend: how === 'bpf' ? 'bpf' : 'kprobe-events', filter: undefined, ...(how === 'bpf' ? { source } : {}), notes: [], down: () => Promise.resolve() } as LiveProbe);
    },
  };
}

/** The probes that came up, and the event each pattern resolves to (as setup and the kernel's expansion pick them). */
async function session(works: Record<string, How>): Promise<{ up: string[]; events: string[] }> {
  const patterns = whoDeleted.events as string[];
  const up: LiveProbe[] = [];
  await probesUp({ watch: whoDeleted, args: {} }, patterns, provider(works), new Map(), () => undefined, up);
  const sourceEvents = up.filter((p) => p.source).map((p) => p.event);
  const kernelEvents = new Set(up.filter((p) => !p.source).map((p) => p.event));
  const events = patterns.map((p) => {
    const split = splitPatterns([p], sourceEvents, (x) => kernelEvents.has(x));
    if (split.source.length > 0) return split.source[0]!;
    const alt = (split.kernel[0] ?? p).split('|').find((a) => kernelEvents.has(a));
    if (alt === undefined) throw new Error(`pattern ${p} resolves to nothing with ${JSON.stringify(works)}`);
    return alt;
  });
  return { up: up.map((p) => p.event), events };
}

const EXITS = ['sys_unlinkat', 'sys_unlink', 'sys_rmdir', 'sys_rename', 'sys_renameat', 'sys_renameat2'];
const bpf = (names: string[]): Record<string, How> => Object.fromEntries(names.map((n) => [n, 'bpf' as How]));

describe('who-deleted brings up the probes each kernel can serve, and every pattern resolves', () => {
  it('BPF tracepoint programs only (x86-64, no kprobes, no modules): the six syscall exits', async () => {
    const s = await session(bpf([...EXITS, 'unlinkat']));
    expect(s.up).toEqual(EXITS.map((n) => `tw:${n}`));
    // (the patterns: file unlinks, unlinkat, unlink(2), rmdir, rename, renameat, renameat2)
    expect(s.events).toEqual(['tw:sys_unlinkat', ...EXITS.map((n) => `tw:${n}`)]);
  });

  it('kprobes and BPF (tw --probe-backend auto on a distribution kernel): tw:unlink_cwd for files, sys_unlinkat beside it, not sys_unlink', async () => {
    const s = await session(bpf(['unlink_cwd', 'unlink', ...EXITS, 'unlinkat']));
    expect(s.up).toEqual(['tw:unlink_cwd', 'tw:sys_unlinkat', 'tw:sys_rmdir', 'tw:sys_rename', 'tw:sys_renameat', 'tw:sys_renameat2']);
    expect(s.events).toEqual(['tw:unlink_cwd', 'tw:sys_unlinkat', 'tw:unlink_cwd', 'tw:sys_rmdir', 'tw:sys_rename', 'tw:sys_renameat', 'tw:sys_renameat2']);
  });

  it('modules, no BPF (--probe-backend module): tw:unlink_cwd alone (it reads the cwd), every pattern falls back to it', async () => {
    const s = await session({ unlink_cwd: 'tracefs', unlink: 'tracefs', unlinkat: 'tracefs' });
    expect(s.up).toEqual(['tw:unlink_cwd']);
    expect(new Set(s.events)).toEqual(new Set(['tw:unlink_cwd']));
  });

  it('kprobe events (--probe-backend kprobe-events: no cwd, so no unlink_cwd): tw:unlink alone, every pattern falls back to it', async () => {
    const s = await session({ unlink: 'tracefs', unlinkat: 'tracefs' });
    expect(s.up).toEqual(['tw:unlink']);
    expect(new Set(s.events)).toEqual(new Set(['tw:unlink']));
  });

  it('arm64 by BPF (no unlink, rmdir, rename, renameat syscalls): sys_unlinkat and sys_renameat2, the rest fall back', async () => {
    const s = await session(bpf(['sys_unlinkat', 'sys_renameat2', 'unlinkat']));
    expect(s.up).toEqual(['tw:sys_unlinkat', 'tw:sys_renameat2']);
    expect(s.events).toEqual([...Array(6).fill('tw:sys_unlinkat'), 'tw:sys_renameat2']);
  });

  it('kprobe events without BTF or BPF (the kprobe form cannot read struct filename): the syscall entry tw:unlinkat', async () => {
    const s = await session({ unlinkat: 'tracefs' });
    expect(s.up).toEqual(['tw:unlinkat']);
    expect(new Set(s.events)).toEqual(new Set(['tw:unlinkat']));
  });
});
