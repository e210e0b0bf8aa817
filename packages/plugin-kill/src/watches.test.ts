import type { AnyWatch, FieldValue, WatchContext, WatchEvent } from '@tw/core';
import { validateProbeSpec } from '@tw/probe-spec';
import { describe, expect, it } from 'vitest';
import { signalName, watches, whoKilled } from './index.js';
import { probes } from './probes.js';

// keepGoing: true (a monitor, --keep-going) unless a test is about the watch ending itself
function harness(watch: AnyWatch, args: Record<string, unknown>, tgids: Record<number, number> = {}, keepGoing = true) {
  const alerts: string[] = [];
  let stops = 0;
  const ctx = {
    args,
    state: watch.state?.(args as never),
    mode: 'file',
    proc: (pid: number) => ({ pid, comm: `p${pid}`, tgid: tgids[pid] ?? pid, ppid: undefined, exe: undefined, cmdline: undefined, exitedAt: undefined }),
    parents: () => [],
    syscallName: (nr: number) => String(nr),
    alert: (m: string) => alerts.push(m),
    stop: () => void stops++,
    keepGoing,
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
  return { stops: () => stops, alerts, emit, end: () => watch.end?.(ctx as never) as unknown };
}

describe('plugin-kill', () => {
  it('ships valid kill probes used by who-killed: the kprobe form, else the syscall form with the pid as its parameter', () => {
    expect(probes.map((p) => p.name)).toEqual(['kill', 'sys_kill']);
    for (const p of probes) validateProbeSpec(p);
    expect(watches.map((w) => w.name)).toEqual(['who-killed']);
    expect(whoKilled.probes).toEqual(['kill', 'sys_kill']);
    expect(whoKilled.events).toEqual(['tw:kill|tw:sys_kill|signal:signal_generate', 'signal:signal_generate', 'sched:sched_process_exit']);
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

  it('ends itself once the process has exited (its last thread), after its signal or without one; --keep-going goes on', () => {
    // 77 and its thread 78: the thread's exit (group not dead) is not the process's
    const killed = harness(whoKilled, { pid: 77 }, { 78: 77 }, false);
    killed.emit('tw:kill', 1_000n, 11, { sig: 15, target: 77, comm: 'killer' });
    expect(killed.stops()).toBe(0);
    killed.emit('sched:sched_process_exit', 2_000n, 78, { pid: 78, group_dead: 0, comm: 'victim' });
    expect(killed.stops()).toBe(0);
    killed.emit('sched:sched_process_exit', 3_000n, 78, { pid: 77, group_dead: 1, comm: 'victim' });
    expect(killed.stops()).toBe(1);
    expect(killed.end()).toMatchObject({ total: 1, exited: { ts: '3000' }, answered: true });
    expect(killed.alerts).toEqual(['killer[11] sent SIGTERM to 77']);

    // no signal: it exited by itself, which answers the question too (a kernel without group_dead: the main thread's exit)
    const quiet = harness(whoKilled, { pid: 77 }, {}, false);
    quiet.emit('sched:sched_process_exit', 1_000n, 77, { pid: 77, comm: 'victim' });
    expect(quiet.stops()).toBe(1);
    const r = quiet.end() as { total: number; exited: unknown; answered: boolean };
    expect(r).toMatchObject({ total: 0, exited: { ts: '1000' }, answered: true });
    expect(whoKilled.format?.(r as never)).toBe('no signals sent to 77; 77 exited');

    // another process's exit is not the answer; with --keep-going the exit is recorded and the watch goes on
    const monitor = harness(whoKilled, { pid: 77 });
    monitor.emit('sched:sched_process_exit', 1_000n, 5, { pid: 5, group_dead: 1, comm: 'other' });
    expect(monitor.end()).toMatchObject({ exited: null });
    monitor.emit('tw:kill', 2_000n, 11, { sig: 9, target: 77, comm: 'killer' });
    monitor.emit('sched:sched_process_exit', 3_000n, 77, { pid: 77, group_dead: 1, comm: 'victim' });
    expect(monitor.stops()).toBe(0);
    expect(monitor.end()).toMatchObject({ total: 1, exited: { ts: '3000' }, answered: false });
  });

  it('a trace with none of the signal events is an error, even when it has sched_process_exit', () => {
    const ctx = { args: { pid: 77 }, has: (e: string) => e === 'sched:sched_process_exit' } as unknown as WatchContext<unknown, unknown>;
    expect(() => whoKilled.start?.(ctx as never)).toThrow("watch 'who-killed' needs one of the events tw:kill, tw:sys_kill, signal:signal_generate, and this trace has none of them");
    expect(() => whoKilled.start?.({ ...ctx, has: () => true } as never)).not.toThrow();
  });

  it('names signals', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(0)).toBe('0 (existence check)');
    expect(signalName(35)).toBe('SIGRTMIN+1');
  });
});
