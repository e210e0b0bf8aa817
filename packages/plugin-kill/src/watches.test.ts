import type { AnyWatch, FieldValue, WatchContext, WatchEvent } from '@tw/core';
import { validateProbeSpec } from '@tw/probe-spec';
import { describe, expect, it } from 'vitest';
import { signalName, watches, whoKilled } from './index.js';
import { probes } from './probes.js';

function harness(watch: AnyWatch, args: Record<string, unknown>, tgids: Record<number, number> = {}) {
  const alerts: string[] = [];
  const ctx = {
    args,
    state: watch.state?.(args as never),
    mode: 'file',
    proc: (pid: number) => ({ pid, comm: `p${pid}`, tgid: tgids[pid] ?? pid, ppid: undefined, exe: undefined, cmdline: undefined, exitedAt: undefined }),
    parents: () => [],
    syscallName: (nr: number) => String(nr),
    alert: (m: string) => alerts.push(m),
    stop: () => undefined,
    has: () => true,
    lost: 0,
    events: 0,
    now: 0n,
  } as unknown as WatchContext<unknown, unknown>;
  const emit = (event: string, ts: bigint, pid: number, fields: Record<string, FieldValue>) => {
    const e = { ts, cpu: 0, pid, comm: `p${pid}`, event, id: 1, buffer: '', fields, toJSON: () => ({}) } as unknown as WatchEvent;
    const h = watch.on[event];
    if (!h) throw new Error(`no handler for ${event}`);
    h(e, ctx as never);
  };
  return { alerts, emit, end: () => watch.end?.(ctx as never) as unknown };
}

describe('plugin-kill', () => {
  it('ships valid kill probes used by who-killed: the kprobe form, else the syscall form with the pid as its parameter', () => {
    expect(probes.map((p) => p.name)).toEqual(['kill', 'sys_kill']);
    for (const p of probes) validateProbeSpec(p);
    expect(watches.map((w) => w.name)).toEqual(['who-killed']);
    expect(whoKilled.probes).toEqual(['kill', 'sys_kill']);
    expect(whoKilled.events).toEqual(['tw:kill|tw:sys_kill|signal:signal_generate', 'signal:signal_generate']);
    expect(whoKilled.filter?.({ pid: 77 } as never)).toEqual({ 'tw:kill': 'target == 77 || target <= 0', 'signal:signal_generate': 'pid == 77' });
    expect(whoKilled.probeParams?.({ pid: 77 } as never)).toEqual({ sys_kill: { watch_pid: 77 } });
    // the two forms carry the same fields, so one handler serves both
    const fields = (name: string) => probes.find((p) => p.name === name)!.fields.map((f) => [f.name, f.type]);
    expect(fields('sys_kill')).toEqual(fields('kill'));
  });

  it('reports kill(2) from the syscall form (tw:sys_kill) exactly as from tw:kill: same result shape, no double counting', () => {
    const viaKprobe = harness(whoKilled, { pid: 77 }, { 11: 10 });
    const viaSyscall = harness(whoKilled, { pid: 77 }, { 11: 10 });
    for (const [h, event] of [[viaKprobe, 'tw:kill'], [viaSyscall, 'tw:sys_kill']] as const) {
      h.emit(event, 1_000n, 11, { sig: 15, target: 77, comm: 'killer' });
      h.emit('signal:signal_generate', 1_500n, 11, { sig: 15, pid: 77, result: 0, comm: 'victim' });
      h.emit(event, 2_000n, 12, { sig: 1, target: 0, comm: 'sh' });
    }
    expect(viaSyscall.alerts).toEqual(['killer[10/11] sent SIGTERM to 77', 'sh[12] sent SIGHUP to process group (its own)']);
    expect(viaSyscall.alerts).toEqual(viaKprobe.alerts);
    expect(viaSyscall.end()).toEqual(viaKprobe.end());
    expect((viaSyscall.end() as { signals: Array<{ via: string }> }).signals.map((s) => s.via)).toEqual(['kill', 'kill']);
  });

  it('reports kill(2) from the probe, group/broadcast kills, and other signals from signal_generate without double counting', () => {
    const h = harness(whoKilled, { pid: 77 }, { 11: 10 });
    // kill(77, SIGTERM) by thread 11 of process 10: probe event, then the kernel's delivery event
    h.emit('tw:kill', 1_000n, 11, { sig: 15, target: 77, comm: 'killer' });
    h.emit('signal:signal_generate', 1_500n, 11, { sig: 15, pid: 77, result: 0, comm: 'victim' });
    // kill(-1, SIGHUP): may reach 77
    h.emit('tw:kill', 2_000n, 12, { sig: 1, target: -1, comm: 'init' });
    // kill(5, ...) is not about 77
    h.emit('tw:kill', 3_000n, 12, { sig: 9, target: 5, comm: 'init' });
    // tgkill / kernel signal: only signal_generate sees it
    h.emit('signal:signal_generate', 50_000_000n, 13, { sig: 9, pid: 77, result: 0, comm: 'victim' });
    expect(h.alerts).toEqual(['killer[10/11] sent SIGTERM to 77', 'init[12] sent SIGHUP to every process', 'p13[13] sent SIGKILL to 77 (delivered)']);
    const r = h.end() as { total: number; signals: Array<{ via: string; scope: string }> };
    expect(r.total).toBe(3);
    expect(r.signals.map((s) => `${s.via}/${s.scope}`)).toEqual(['kill/process', 'kill/all', 'signal_generate/process']);
  });

  it('names signals', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(0)).toBe('0 (existence check)');
    expect(signalName(35)).toBe('SIGRTMIN+1');
  });
});
