import { fileURLToPath } from 'node:url';
import { MemoryMetrics, RunMetrics, replayFile, type AnyWatch, type FieldValue, type WatchContext, type WatchEvent } from '@tw/core';
import { validateProbeSpec } from '@tw/probe-spec';
import { describe, expect, it } from 'vitest';
import { signalName, watches, whoKilled, type WhoKilledResult } from './index.js';
import { probes } from './probes.js';

// keepGoing: true (a monitor, --keep-going) unless a test is about the watch ending itself
function harness(watch: AnyWatch, args: Record<string, unknown>, tgids: Record<number, number> = {}, keepGoing = true, has: (event: string) => boolean = () => true) {
  const alerts: string[] = [];
  let stops = 0;
  const metrics = new MemoryMetrics();
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
    has,
    lost: 0,
    events: 0,
    now: 0n,
    metrics: new RunMetrics(watch.name, watch.name, metrics),
  } as unknown as WatchContext<unknown, unknown>;
  const emit = (event: string, ts: bigint, pid: number, fields: Record<string, FieldValue>) => {
    const e = { ts, cpu: 0, pid, comm: `p${pid}`, event, id: 1, buffer: '', fields, toJSON: () => ({}) } as unknown as WatchEvent;
    const h = watch.on[event];
    if (!h) throw new Error(`no handler for ${event}`);
    h(e, ctx as never);
  };
  return { stops: () => stops, alerts, metrics, emit, end: () => watch.end?.(ctx as never) as unknown };
}

describe('plugin-kill', () => {
  it('ships valid kill probes used by who-killed: the kprobe form, else the syscall form with the pid as its parameter', () => {
    expect(probes.map((p) => p.name)).toEqual(['kill', 'sys_kill']);
    for (const p of probes) validateProbeSpec(p);
    expect(watches.map((w) => w.name)).toEqual(['who-killed']);
    expect(whoKilled.probes).toEqual(['kill', 'sys_kill']);
    expect(whoKilled.events).toEqual(['tw:kill|tw:sys_kill|signal:signal_generate', 'signal:signal_generate', 'signal:signal_deliver', 'sched:sched_process_exit']);
    expect(whoKilled.filter?.({ target: '77' } as never)).toEqual({ 'tw:kill': 'target == 77 || target <= 0' });
    expect(whoKilled.filter?.({ target: 'nginx' } as never)).toEqual({ 'signal:signal_generate': 'comm == "nginx"' });
    expect(whoKilled.filter?.({ target: 'a"b' } as never)).toEqual({});
    expect(whoKilled.probeParams?.({ target: '77' } as never)).toEqual({ sys_kill: { watch_pid: 77 } });
    expect(whoKilled.probeParams?.({ target: 'nginx' } as never)).toEqual({ sys_kill: { watch_pid: 0 } });
    // the two forms carry the same fields, so one handler serves both
    const fields = (name: string) => probes.find((p) => p.name === name)!.fields.map((f) => [f.name, f.type]);
    expect(fields('sys_kill')).toEqual(fields('kill'));
  });

  const gen = (sig: number, pid: number, comm: string, code = 0, result = 0) => ({ sig, pid, comm, code, result, group: 0, errno: 0 });

  it('joins a kill(2) from either probe form to its signal_generate: one report with the delivery result, no double counting', () => {
    const viaKprobe = harness(whoKilled, { target: '77' }, { 11: 10 });
    const viaSyscall = harness(whoKilled, { target: '77' }, { 11: 10 });
    for (const [h, event] of [[viaKprobe, 'tw:kill'], [viaSyscall, 'tw:sys_kill']] as const) {
      h.emit(event, 1_000n, 11, { sig: 15, target: 77, comm: 'killer' });
      h.emit('signal:signal_generate', 1_500n, 11, gen(15, 77, 'victim'));
      h.emit(event, 2_000n, 12, { sig: 1, target: 0, comm: 'sh' });
      h.emit('signal:signal_generate', 2_500n, 12, gen(1, 77, 'victim'));
    }
    expect(viaSyscall.alerts).toEqual(['killer[10/11] sent SIGTERM to 77 (delivered)', 'sh[12] sent SIGHUP to process group (its own), which reached victim[77] (delivered)']);
    expect(viaSyscall.alerts).toEqual(viaKprobe.alerts);
    expect(viaSyscall.end()).toEqual(viaKprobe.end());
    expect((viaSyscall.end() as { signals: Array<{ via: string; scope: string }> }).signals.map((s) => `${s.via}/${s.scope}`)).toEqual(['kill/process', 'kill/group']);
  });

  it('names every kind of sender from si_code: tkill, sigqueue, pidfd_send_signal, a timer, the kernel; a refused kill(2) is said once its window passed', () => {
    const h = harness(whoKilled, { target: '77' }, { 78: 77 });
    h.emit('signal:signal_generate', 1_000n, 20, gen(10, 78, 'victim', -6)); // tgkill to thread 78
    h.emit('signal:signal_generate', 2_000n, 21, gen(12, 77, 'victim', -1)); // sigqueue
    h.emit('signal:signal_generate', 3_000n, 22, gen(15, 77, 'victim', 0)); // SI_USER, no kill(2) before: pidfd (the probe is up)
    h.emit('signal:signal_generate', 4_000n, 77, gen(11, 77, 'victim', 1)); // SEGV_MAPERR: a fault
    h.emit('signal:signal_generate', 5_000n, 0, gen(14, 77, 'victim', -2, 2)); // a timer, already pending
    h.emit('tw:sys_kill', 6_000n, 23, { sig: 9, target: 77, comm: 'denied' }); // no signal_generate follows
    h.emit('signal:signal_generate', 6_000n + 20_000_000n, 5, gen(17, 99, 'other', 1)); // not 77: settles the kill only
    expect(h.alerts).toEqual([
      'p20[20] sent SIGUSR1 to 77 (thread 78) by tkill(2)/tgkill(2) (delivered)',
      'p21[21] sent SIGUSR2 to 77 by sigqueue(3)/rt_sigqueueinfo(2) (delivered)',
      'p22[22] sent SIGTERM to 77 by pidfd_send_signal(2) (delivered)',
      'the kernel (in p77[77]) sent SIGSEGV to 77 (delivered)',
      'p0[0] sent SIGALRM to 77 by a POSIX timer (already pending)',
      'denied[23] sent SIGKILL to 77 (not sent: refused or no such process)',
    ]);
    const r = h.end() as { signals: Array<{ via: string; code?: number }> };
    expect(r.signals.map((s) => s.via)).toEqual(['tkill', 'sigqueue', 'pidfd_send_signal', 'kernel', 'timer', 'kill']);
  });

  it('--fatal reports only the signal the process died of: a handled SIGTERM is not, the SIGKILL that followed is', () => {
    const h = harness(whoKilled, { target: '77', fatal: true }, {}, false);
    h.emit('signal:signal_generate', 1_000n, 11, gen(15, 77, 'victim', -6));
    h.emit('signal:signal_deliver', 1_100n, 77, { sig: 15, errno: 0, code: -6, sa_handler: 0x401000n, sa_flags: 0n });
    h.emit('signal:signal_generate', 2_000n, 12, gen(9, 77, 'victim', -6));
    expect(h.alerts).toEqual([]);
    h.emit('signal:signal_deliver', 2_100n, 77, { sig: 9, errno: 0, code: -6, sa_handler: 0n, sa_flags: 0n });
    h.emit('sched:sched_process_exit', 2_200n, 77, { pid: 77, group_dead: 1, comm: 'victim' });
    expect(h.alerts).toEqual(['p12[12] sent SIGKILL to 77 by tkill(2)/tgkill(2) (delivered, fatal)']);
    expect(h.stops()).toBe(1);
    const r = h.end() as { total: number; killedBy: { sig: number; tgid: number }; fatalOnly: boolean };
    expect(r).toMatchObject({ total: 1, fatalOnly: true, killedBy: { sig: 9, tgid: 12 } });
    expect(whoKilled.format?.(r as never)).toMatch(/1 fatal signal\(s\) to 77; victim\[77\] exited of SIGKILL from p12\[12\]$/);

    // an unhandled SIGTERM: the kernel turns it into SIGKILL for every thread, so the delivery says SIGKILL
    const t = harness(whoKilled, { target: '77', fatal: true }, {}, false);
    t.emit('signal:signal_generate', 1_000n, 11, gen(15, 77, 'victim', 0));
    t.emit('signal:signal_deliver', 1_100n, 77, { sig: 9, errno: 0, code: 0, sa_handler: 0n, sa_flags: 0n });
    expect(t.alerts).toEqual(['p11[11] sent SIGTERM to 77 by pidfd_send_signal(2) (delivered, fatal)']);
  });

  it('by name: every process of that name, also one started later; ends when one that was sent a signal exits', () => {
    const h = harness(whoKilled, { target: 'victim' }, { 301: 300 }, false);
    h.emit('signal:signal_generate', 1_000n, 11, gen(15, 200, 'other'));
    h.emit('signal:signal_generate', 2_000n, 11, gen(10, 301, 'victim', -6));
    expect(h.alerts).toEqual(['p11[11] sent SIGUSR1 to victim[300/301] by tkill(2)/tgkill(2) (delivered)']);
    // another process of that name exits by itself: not the answer
    h.emit('sched:sched_process_exit', 3_000n, 400, { pid: 400, group_dead: 1, comm: 'victim' });
    expect(h.stops()).toBe(0);
    h.emit('sched:sched_process_exit', 4_000n, 301, { pid: 301, group_dead: 1, comm: 'victim' });
    expect(h.stops()).toBe(1);
    expect(h.end()).toMatchObject({ pid: null, name: 'victim', total: 1, exited: { ts: '4000', pid: 300, comm: 'victim' }, answered: true });
  });

  it('a recording without signal_generate: the probe events are reported as they are', () => {
    const ctxHas = harness(whoKilled, { target: '77' }, { 11: 10 }, true, (e) => e !== 'signal:signal_generate');
    ctxHas.emit('tw:kill', 1_000n, 11, { sig: 15, target: 77, comm: 'killer' });
    ctxHas.emit('tw:kill', 2_000n, 12, { sig: 1, target: -1, comm: 'init' });
    ctxHas.emit('tw:kill', 3_000n, 12, { sig: 9, target: 5, comm: 'init' });
    expect(ctxHas.alerts).toEqual([
      'killer[10/11] sent SIGTERM to 77 (unknown: no signal_generate in this trace)',
      'init[12] sent SIGHUP to every process, which reached p77[77] (unknown: no signal_generate in this trace)',
    ]);
  });

  it('ends itself once the process has exited (its last thread), after its signal or without one; --keep-going goes on', () => {
    // 77 and its thread 78: the thread's exit (group not dead) is not the process's
    const killed = harness(whoKilled, { target: '77' }, { 78: 77 }, false);
    killed.emit('tw:kill', 1_000n, 11, { sig: 15, target: 77, comm: 'killer' });
    killed.emit('signal:signal_generate', 1_500n, 11, gen(15, 77, 'victim'));
    expect(killed.stops()).toBe(0);
    killed.emit('sched:sched_process_exit', 2_000n, 78, { pid: 78, group_dead: 0, comm: 'victim' });
    expect(killed.stops()).toBe(0);
    killed.emit('sched:sched_process_exit', 3_000n, 78, { pid: 77, group_dead: 1, comm: 'victim' });
    expect(killed.stops()).toBe(1);
    expect(killed.end()).toMatchObject({ total: 1, exited: { ts: '3000', pid: 77 }, answered: true });
    expect(killed.alerts).toEqual(['killer[11] sent SIGTERM to 77 (delivered)']);

    // no signal: it exited by itself, which answers the question too (a kernel without group_dead: the main thread's exit)
    const quiet = harness(whoKilled, { target: '77' }, {}, false);
    quiet.emit('sched:sched_process_exit', 1_000n, 77, { pid: 77, comm: 'victim' });
    expect(quiet.stops()).toBe(1);
    const r = quiet.end() as { total: number; exited: unknown; answered: boolean };
    expect(r).toMatchObject({ total: 0, exited: { ts: '1000' }, answered: true });
    expect(whoKilled.format?.(r as never)).toBe('no signals sent to 77; victim[77] exited');

    // another process's exit is not the answer; with --keep-going the exit is recorded and the watch goes on
    const monitor = harness(whoKilled, { target: '77' });
    monitor.emit('sched:sched_process_exit', 1_000n, 5, { pid: 5, group_dead: 1, comm: 'other' });
    expect(monitor.end()).toMatchObject({ exited: null });
    monitor.emit('signal:signal_generate', 2_000n, 11, gen(9, 77, 'victim', -6));
    monitor.emit('sched:sched_process_exit', 3_000n, 77, { pid: 77, group_dead: 1, comm: 'victim' });
    expect(monitor.stops()).toBe(0);
    expect(monitor.end()).toMatchObject({ total: 1, exited: { ts: '3000' }, answered: false, killedBy: { sig: 9 } });
  });

  it('a trace with none of the signal events is an error, even when it has sched_process_exit', () => {
    const ctx = { args: { target: '77' }, has: (e: string) => e === 'sched:sched_process_exit', metrics: new RunMetrics('who-killed', 'who-killed') } as unknown as WatchContext<unknown, unknown>;
    expect(() => whoKilled.start?.(ctx as never)).toThrow("watch 'who-killed' needs one of the events tw:kill, tw:sys_kill, signal:signal_generate, and this trace has none of them");
    expect(() => whoKilled.start?.({ ...ctx, has: () => true } as never)).not.toThrow();
  });

  it('its metrics agree with its result over a real recording (examples/sample.dat: SIGCHLDs to bash, a SIGKILL to sleep)', async () => {
    const sample = fileURLToPath(new URL('../../../examples/sample.dat', import.meta.url));
    const mem = new MemoryMetrics();
    // two runs of one watch into one backend (two sessions: the second ends itself on the answer)
    const run = async (args: Record<string, unknown>, id: string, keepGoing: boolean) =>
      (await replayFile(sample, [{ watch: whoKilled, args, keepGoing, id }], { metrics: mem })).outcomes[0]!.result as WhoKilledResult;
    const bash = await run({ target: 'bash' }, 'bash', true);
    const sleep = await run({ target: '7168' }, 'sleep', false);
    expect(bash.total).toBeGreaterThan(20);
    const values = (name: string, watch: string, label: string) => {
      const out: Record<string, number> = {};
      for (const s of mem.snapshot()[name]!.series) if (s.labels.watch === watch) out[s.labels[label]!] = (out[s.labels[label]!] ?? 0) + s.value!;
      return out;
    };
    const tally = (keys: string[]) => keys.reduce<Record<string, number>>((o, k) => ({ ...o, [k]: (o[k] ?? 0) + 1 }), {});
    // one metric, the runs told apart by the watch label
    expect(values('tw_who_killed_culprits_total', 'bash', 'comm')).toEqual(tally(bash.signals.map((s) => s.comm)));
    expect(values('tw_who_killed_signals_total', 'bash', 'signal')).toEqual(tally(bash.signals.map((s) => s.signal)));
    expect(values('tw_who_killed_signals_total', 'bash', 'via')).toEqual(tally(bash.signals.map((s) => s.via)));
    expect(sleep.killedBy).toMatchObject({ signal: 'SIGKILL' });
    expect(values('tw_who_killed_culprits_total', 'sleep', 'comm')).toEqual(tally(sleep.signals.map((s) => s.comm)));
    expect(mem.value('tw_who_killed_signals_total', { watch: 'sleep', signal: 'SIGKILL' })).toBe(1);
  });

  it('names signals', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(0)).toBe('0 (existence check)');
    expect(signalName(35)).toBe('SIGRTMIN+1');
  });
});
