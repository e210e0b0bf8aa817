// Live tracing on the real kernel, through the tw CLI: counts of a workload we control,
// kernel-side filters, and teardown on every exit path (normal end, ctx.stop(), SIGINT,
// SIGTERM, a throwing handler, kill -9 then the next run): no tw-* instance of a dead process
// and no enabled event may remain. Every test runs over each reader backend that works here.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from './support/proc.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';

const T = '/sys/kernel/tracing';
const reason = skipReason();
// auto is the read() reader where the addon loads: mmap is covered by naming it
const BACKENDS = (process.env['TW_BACKENDS'] ?? 'auto,mmap,js').split(',');
const N = 3000;

if (reason) console.warn(`[live.kernel] skipped: ${reason}`);

/**
 * A child that waits for a byte on stdin, makes exactly N getppid calls (each process.ppid is
 * one), then waits again. (Not python3: here it can be a shell shim that makes calls of its own.)
 */
function getppidChild(n: number, cpu?: number): ChildProcess & { go: () => void } {
  const code = `const fs=require('fs');const b=Buffer.alloc(1);fs.readSync(0,b);let x=0;for(let i=0;i<${n};i++)x+=process.ppid;fs.readSync(0,b);`;
  // pinned with taskset, which execs node: the pid stays the same
  const argv = cpu === undefined ? [process.execPath, '-e', code] : ['taskset', '-c', String(cpu), process.execPath, '-e', code];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'inherit'] }) as ChildProcess & { go: () => void };
  child.go = () => child.stdin!.write('\n');
  return child;
}

function waitFor(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      try {
        if (cond()) return resolve();
      } catch (e) {
        return reject(e as Error);
      }
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

function instancesOf(pid: number): string[] {
  return readdirSync(`${T}/instances`).filter((n) => n.startsWith(`tw-${pid}-`));
}

const exited = new Map<number, () => string>();
const stderrOf = new Map<number, () => string>();

/**
 * tw said it is tracing: its one stderr line beginning "tw: tracing", printed once its events are
 * enabled and its readers run (the counts the tests check prove that nothing before it is missed).
 * Throws if that tw has exited without saying so.
 */
function tracing(pid: number): boolean {
  if (/^tw: tracing /m.test(stderrOf.get(pid)?.() ?? '')) return true;
  const gone = exited.get(pid);
  if (gone) throw new Error(`tw (pid ${pid}) exited before tracing: ${gone()}`);
  return false;
}

function startTw(args: string[]): ChildProcess & { out: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const p = spawn(process.execPath, [twCliPath(), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { out: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> };
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  p.out = new Promise((resolve) => p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  p.on('exit', (code, signal) => exited.set(p.pid!, () => `${signal ?? `exit ${code}`}; stderr: ${stderr.trim()}`));
  stderrOf.set(p.pid!, () => stderr);
  return p;
}

/** No instance of a dead tw, and nothing enabled at the top level. */
function expectClean(twPid: number): void {
  expect(instancesOf(twPid), `instances of tw pid ${twPid}`).toEqual([]);
  expect(readFileSync(`${T}/set_event`, 'utf8').trim(), 'top-level set_event').toBe('');
  const dead = readdirSync(`${T}/instances`).filter((n) => {
    const m = /^tw-(\d+)-\d+$/.exec(n);
    if (!m) return false;
    try {
      process.kill(Number(m[1]), 0);
      return false;
    } catch {
      return true;
    }
  });
  expect(dead, 'tw instances of dead processes').toEqual([]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe.skipIf(reason !== undefined)('live tracing', () => {
  for (const backend of BACKENDS) {
    describe(`reader backend ${backend}`, () => {
      it(`counts exactly ${N} getppid calls of a child (syscall-times, filtered to its pid) and >= ${N} system-wide`, async () => {
        const child = getppidChild(N);
        children.push(child);
        const times = startTw(['watch', 'syscall-times', String(child.pid), '--duration', '4s', '--backend', backend, '--json']);
        const all = startTw(['watch', 'syscalls-by-pid', '--duration', '4s', '--backend', backend, '--json']);
        await waitFor('both tw sessions to trace', () => tracing(times.pid!) && tracing(all.pid!));
        child.go();
        const [t, a] = await Promise.all([times.out, all.out]);
        expect(t.code, t.stderr).toBe(0);
        expect(a.code, a.stderr).toBe(0);
        const tr = parseWatchJson<{ pid: number; syscalls: Array<{ name: string; calls: number; completed: number }> }>(t.stdout).result;
        expect(tr.pid).toBe(child.pid);
        const g = tr.syscalls.find((s) => s.name === 'getppid');
        expect(g?.calls).toBe(N);
        expect(g?.completed).toBe(N);
        const ar = parseWatchJson<{ processes: Array<{ pid: number; counts: Record<string, number> }> }>(a.stdout).result;
        const mine = ar.processes.find((p) => p.pid === child.pid);
        expect(mine?.counts['getppid'] ?? 0).toBeGreaterThanOrEqual(N);
        expectClean(times.pid!);
        expectClean(all.pid!);
      });

      it('dump -e with a kernel filter streams exactly the child\'s events', async () => {
        const child = getppidChild(200);
        children.push(child);
        const dump = startTw(['dump', '-e', 'syscalls:sys_enter_getppid', '--filter', `common_pid == ${child.pid}`, '--duration', '3s', '--backend', backend]);
        await waitFor('tw to trace', () => tracing(dump.pid!));
        child.go();
        const d = await dump.out;
        expect(d.code, d.stderr).toBe(0);
        const lines = d.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { pid: number; event: string; cpu: number; ts: string });
        expect(lines).toHaveLength(200);
        for (const l of lines) {
          expect(l.pid).toBe(child.pid);
          expect(l.event).toBe('syscalls:sys_enter_getppid');
        }
        const ts = lines.map((l) => BigInt(l.ts));
        expect(ts.every((v, i) => i === 0 || v >= ts[i - 1]!), 'timestamps in order').toBe(true);
        expectClean(dump.pid!);
      });

      // mono: merged up to where every CPU's reader has been; local: up to the newest timestamp
      // seen, extrapolated, minus the latency
      for (const clock of ['mono', 'local']) it(`dump merges CPUs in time order while both are busy (clock ${clock})`, async (ctx) => {
        const cpus = availableParallelism();
        if (cpus < 2) ctx.skip('one CPU: nothing to merge');
        // one child per CPU, pinned: a busy one whose reader the kernel wakes early (a small ring,
        // so it hands over sub-buffers between the readers' common rounds), and a sparse one,
        // read only at those rounds: the busy CPU's events must wait for the sparse CPU's reader
        // (the JS reader is timer-driven, nothing wakes it early: it gets the default ring)
        const code = (bursts: number, per: number, pauseMs: number) =>
          `const fs=require('fs');const b=Buffer.alloc(1);fs.readSync(0,b);const w=new Int32Array(new SharedArrayBuffer(4));let x=0;for(let k=0;k<${bursts};k++){for(let i=0;i<${per};i++)x+=process.ppid;Atomics.wait(w,0,0,${pauseMs});}fs.readSync(0,b);`;
        const kids = [code(40, 2000, 2), code(100, 10, 5)].map((js, cpu) => {
          const c = spawn('taskset', ['-c', String(cpu), process.execPath, '-e', js], { stdio: ['pipe', 'ignore', 'inherit'] });
          children.push(c);
          return c;
        });
        const filter = kids.map((k) => `common_pid == ${k.pid}`).join(' || ');
        const dump = startTw(['dump', '-e', 'syscalls:sys_enter_getppid', '--filter', filter, '--duration', '4s', '--clock', clock, '--buffer-kb', backend === 'js' ? '4096' : '128', '--backend', backend]);
        await waitFor('tw to trace', () => tracing(dump.pid!));
        // taskset execs node in the same process: the pids are the children's
        for (const k of kids) k.stdin!.write('\n');
        const d = await dump.out;
        expect(d.code, d.stderr).toBe(0);
        const lines = d.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { pid: number; cpu: number; ts: string });
        expect(lines).toHaveLength(40 * 2000 + 100 * 10);
        expect(new Set(lines.map((l) => l.cpu)), 'both CPUs').toEqual(new Set([0, 1]));
        let switches = 0;
        for (let i = 1; i < lines.length; i++) {
          expect(BigInt(lines[i]!.ts) >= BigInt(lines[i - 1]!.ts), `line ${i + 1} (cpu ${lines[i]!.cpu}) before line ${i} (cpu ${lines[i - 1]!.cpu})`).toBe(true);
          if (lines[i]!.cpu !== lines[i - 1]!.cpu) switches++;
        }
        // the two CPUs' events interleave in the output, as they happened
        expect(switches).toBeGreaterThan(10);
        expectClean(dump.pid!);
      });

      it('ends at ctx.stop() and prints the result and the alert', async () => {
        const child = getppidChild(10);
        children.push(child);
        const tw = startTw(['watch', join(REPO_ROOT, 'test/fixtures/stop-watch.mjs'), String(child.pid), '--backend', backend, '--json']);
        await waitFor('tw to trace', () => tracing(tw.pid!));
        child.go();
        const r = await tw.out;
        expect(r.code, r.stderr).toBe(0);
        const { alerts, result: res } = parseWatchJson<{ seen: number; alerts: Array<{ message: string }> }>(r.stdout);
        expect(alerts).toEqual(res.alerts);
        expect(res.seen).toBe(1);
        expect(res.alerts[0]?.message).toMatch(new RegExp(`getppid from ${child.pid} \\[node\\]`));
        expectClean(tw.pid!);
      });

      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        it(`${sig} ends gracefully: end() runs, the result prints, nothing is left`, async () => {
          const tw = startTw(['watch', 'allcounts', '--backend', backend, '--json']);
          await waitFor('tw to trace', () => tracing(tw.pid!));
          await new Promise((r) => setTimeout(r, 300));
          tw.kill(sig);
          const r = await tw.out;
          expect(r.code, r.stderr).toBe(0);
          const res = parseWatchJson<{ total: number; lost: number }>(r.stdout).result;
          expect(res.total).toBeGreaterThan(0);
          expect(res.lost).toBeGreaterThanOrEqual(0);
          expectClean(tw.pid!);
        });
      }

      it('a watch that stalls: the kernel loses events, and tw says per CPU why (losses in --json)', async () => {
        const calls = 300_000;
        const childCpu = availableParallelism() > 1 ? 1 : 0;
        const child = getppidChild(calls, childCpu);
        children.push(child);
        // a 64 KiB ring (16 sub-buffers) and a pool of 128 hold ~0.6 MB; the child writes ~5 MB
        // while the watch blocks tw's JavaScript thread for 1.5 s
        // (no process events: the kernel's loss count on the child's CPU must be the child's alone)
        const tw = startTw(['watch', join(REPO_ROOT, 'test/fixtures/slow-watch.mjs'), String(child.pid), '1500', '--backend', backend, '--buffer-kb', '64', '--no-process-events', '--json']);
        await waitFor('tw to trace', () => tracing(tw.pid!));
        child.go();
        await new Promise((r) => setTimeout(r, 3000));
        tw.kill('SIGINT');
        const r = await tw.out;
        expect(r.code, r.stderr).toBe(0);
        type Loss = { cpu: number; lost: number; overrun: number; ringSubbufs: number; reader: { rounds: number; maxRound: number; poolWaits: number; poolWaitNs: number } };
        const res = parseWatchJson<{ seen: number; lost: number; losses: Loss[] }>(r.stdout).result;
        expect(res.lost).toBeGreaterThan(0);
        expect(res.seen).toBeGreaterThan(0);
        // the child's calls are either seen or counted lost by the kernel
        expect(res.seen + res.lost).toBe(calls);
        expect(res.losses.map((x) => x.cpu)).toEqual([childCpu]);
        const [l] = res.losses as [Loss];
        expect(l.lost).toBe(res.lost);
        expect(l.overrun).toBe(res.lost);
        expect(l.ringSubbufs).toBe(16);
        expect(l.reader.rounds).toBeGreaterThan(0);
        const warning = r.stderr.split('\n').filter((s) => s.startsWith('tw: warning: '));
        if (backend === 'js') {
          // the JS reader is on the stalled thread: it never waits for a slot, it reads late
          expect(l.reader.poolWaits).toBe(0);
          expect(l.reader.maxRound).toBeGreaterThanOrEqual(16);
          expect(warning).toEqual([expect.stringMatching(new RegExp(`^tw: warning: CPU ${l.cpu} lost ${l.lost} events \\(the ring overwrote unread pages\\): the JS reader runs on tw's JavaScript thread, and once found the whole ring \\(16 sub-buffers\\) full`))]);
        } else {
          // the reader thread filled the pool and waited for the stalled watch
          expect(l.reader.poolWaits).toBeGreaterThan(0);
          expect(l.reader.poolWaitNs).toBeGreaterThan(500e6);
          expect(warning).toEqual([expect.stringMatching(new RegExp(`^tw: warning: CPU ${l.cpu} lost ${l.lost} events \\(the ring overwrote unread pages\\): tw fell behind — its reader waited \\d+\\.\\d ms in all \\((once|\\d+ times)\\) for tw's JavaScript thread to take`))]);
        }
        expectClean(tw.pid!);
      });

      it('a throwing handler is reported with its event, and the session still tears down', async () => {
        const child = getppidChild(5);
        children.push(child);
        const tw = startTw(['watch', join(REPO_ROOT, 'test/fixtures/throwing-watch.mjs'), '--backend', backend]);
        await waitFor('tw to trace', () => tracing(tw.pid!));
        child.go();
        const r = await tw.out;
        expect(r.code).toBe(6);
        // (after the line that said tracing had started)
        expect(r.stderr.replace(/^tw: tracing .*\n/, '')).toMatch(/^tw: watch 'throws' threw in its 'syscalls:sys_enter_getppid' handler \(event syscalls:sys_enter_getppid at ts \d+, cpu \d+, pid \d+\): boom from the fixture\n$/);
        expectClean(tw.pid!);
      });
    });
  }

  it('reader threads run SCHED_FIFO 1 by default, in the normal class with --no-rt-readers', async () => {
    // /proc/PID/task/TID/stat: field 41 is the policy (0 normal, 1 FIFO), 40 the RT priority
    const readerPolicies = (pid: number): string[] =>
      readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
        const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        return comm.startsWith('tw-rn-') ? [`${comm} policy ${f[41 - 3]} prio ${f[40 - 3]}`] : [];
      });
    const cpus = readdirSync(`${T}/per_cpu`).filter((d) => /^cpu\d+$/.test(d)).map((d) => `tw-rn-${d}`).sort();
    for (const [args, policy] of [[[], '1 prio 1'], [['--no-rt-readers'], '0 prio 0']] as const) {
      const tw = startTw(['watch', 'allcounts', '--backend', 'read', '--json', ...args]);
      await waitFor('tw to trace', () => tracing(tw.pid!));
      await waitFor(`reader threads with policy ${policy}`, () => {
        const got = readerPolicies(tw.pid!);
        return got.length === cpus.length && got.every((l) => l.endsWith(`policy ${policy}`));
      }, 5000).catch(() => undefined);
      const got = readerPolicies(tw.pid!).sort();
      tw.kill('SIGINT');
      const r = await tw.out;
      expect(got, `tw ${args.join(' ')}`).toEqual(cpus.map((c) => `${c} policy ${policy}`));
      expect(r.code, r.stderr).toBe(0);
      expectClean(tw.pid!);
    }
  });

  it('after kill -9, its guardian removes the instance; one left anyway is removed by the next run', async () => {
    const tw = startTw(['watch', 'allcounts']);
    await waitFor('tw to trace', () => tracing(tw.pid!));
    tw.kill('SIGKILL');
    await tw.out;
    await waitFor('the guardian to remove the instance', () => instancesOf(tw.pid!).length === 0, 2000);
    // an instance of a dead tw whose guardian could not run: a pid that is not running
    let dead = 4_000_000;
    while (alive(dead)) dead++;
    const orphan = `${T}/instances/tw-${dead}-0`;
    mkdirSync(orphan);
    const next = await run(process.execPath, [twCliPath(), 'watch', 'syscalls', '--duration', '200ms'], { check: false });
    expect(next.code, next.stderr).toBe(0);
    expect(existsSync(orphan), 'the orphan instance').toBe(false);
    expectClean(tw.pid!);
  });

  it('refuses clearly without root', async () => {
    const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, twCliPath(), 'watch', 'syscalls', '--duration', '1s'], {
      check: false,
      env: { ...process.env, HOME: '/tmp', XDG_DATA_HOME: '/tmp', XDG_CACHE_HOME: '/tmp', XDG_CONFIG_HOME: '/tmp' },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tw: live tracing needs root/);
  });

  it('rejects an unknown event and a bad filter with the kernel\'s reason, leaving nothing', async () => {
    const u = await run(process.execPath, [twCliPath(), 'dump', '-e', 'sched:no_such_event', '--duration', '1s'], { check: false });
    expect(u.code).toBe(5);
    expect(u.stderr).toMatch(/^tw: this kernel has no event 'sched:no_such_event' \(similar: sched:/);
    const f = await run(process.execPath, [twCliPath(), 'dump', '-e', 'signal:signal_generate', '--filter', 'nosuchfield == 3', '--duration', '1s'], { check: false });
    expect(f.code).toBe(5);
    expect(f.stderr).toMatch(/^tw: the kernel rejected the filter 'nosuchfield == 3' for signal:signal_generate: .*[Ff]ield not found/);
    expect(readdirSync(`${T}/instances`).filter((n) => /^tw-\d+-\d+$/.test(n))).toEqual([]);
    expect(existsSync(T)).toBe(true);
  });
  it('every live command says "tw: tracing" once its events are enabled and readers run; --quiet drops it', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'tw-line-')), 'r.dat');
    for (const args of [['watch', 'syscalls'], ['dump', '-e', 'signal:signal_generate'], ['record', '-o', out, '-e', 'signal:signal_generate']]) {
      const tw = startTw([...args, '--duration', '60s']);
      await waitFor(`tw ${args[0]} to say it is tracing`, () => tracing(tw.pid!));
      // at that moment the instance traces: tracing_on and its events are on
      const [inst] = instancesOf(tw.pid!);
      expect(readFileSync(`${T}/instances/${inst}/tracing_on`, 'utf8').trim(), `tw ${args[0]}`).toBe('1');
      expect(readFileSync(`${T}/instances/${inst}/set_event`, 'utf8'), `tw ${args[0]}`).not.toBe('');
      tw.kill('SIGINT');
      const r = await tw.out;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('tw: tracing')), `tw ${args[0]}`).toEqual([expect.stringMatching(/^tw: tracing \d+ events? \(.+\) on \d+ CPUs, \w+ reader/)]);
      expectClean(tw.pid!);
      const q = await run(process.execPath, [twCliPath(), ...args, '--duration', '300ms', '--quiet'], { check: false });
      expect(q.code, q.stderr).toBe(0);
      expect(q.stderr, `tw ${args[0]} --quiet`).not.toMatch(/^tw: tracing/m);
    }
  });

  it('a closed stdout (| head -1) ends tw dump at once, exit 0, with its instance removed', async () => {
    // openat calls of our own, whatever else the machine does
    const opener = spawn('sh', ['-c', 'while :; do cat /etc/hostname >/dev/null; done'], { stdio: 'ignore' });
    children.push(opener);
    const before = readdirSync(`${T}/instances`);
    const t0 = Date.now();
    const r = await run('bash', ['-c', `"${process.execPath}" "${twCliPath()}" dump -e syscalls:sys_enter_openat --duration 30s | head -1; echo "tw-exit \${PIPESTATUS[0]}" >&2`], { check: false });
    expect(Date.now() - t0, 'tw ended when its reader went away, long before --duration').toBeLessThan(20_000);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ event: 'syscalls:sys_enter_openat' });
    expect(r.stderr).toMatch(/^tw-exit 0$/m);
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
    // tw has exited: an instance of it would be one of a dead process (other tw runs may trace meanwhile)
    const deadNew = readdirSync(`${T}/instances`).filter((n) => !before.includes(n) && /^tw-\d+-\d+$/.test(n) && !alive(Number(n.split('-')[1])));
    expect(deadNew, 'no instance left behind').toEqual([]);
    expect(readFileSync(`${T}/set_event`, 'utf8').trim()).toBe('');
  });

  it('names processes that lived only milliseconds (sh -c "exec kill …" is kill), and hides the lifecycle events it traced for that', async () => {
    const victim = spawn('sleep', ['100'], { stdio: 'ignore' });
    children.push(victim);
    const tw = startTw(['dump', '-e', 'signal:signal_generate', '--filter', `pid == ${victim.pid}`, '--duration', '60s']);
    await waitFor('tw to trace', () => tracing(tw.pid!));
    // the sender execs /bin/kill from a shell started after tw: /proc at start never saw it
    await run('sh', ['-c', `exec kill -TERM ${victim.pid}`]);
    await new Promise((r) => setTimeout(r, 300));
    tw.kill('SIGINT');
    const r = await tw.out;
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; comm: string; fields: { pid: number; sig: number } });
    expect(lines.map((l) => l.event), 'only the asked events: the lifecycle events stay hidden').toEqual(['signal:signal_generate']);
    expect(lines[0]).toMatchObject({ comm: 'kill', fields: { pid: victim.pid, sig: 15 } });
    expectClean(tw.pid!);
  });
});
