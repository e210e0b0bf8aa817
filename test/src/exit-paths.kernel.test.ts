// Every way a live tw can end, through the real CLI on the real kernel, and after each: no
// tracefs instance of that tw, nothing enabled at the top level, no dynamic event it added, no
// BPF program of it, and its guardian gone. The ways: normal end (--duration), ctx.stop(),
// SIGINT/SIGTERM/SIGHUP, a double Ctrl-C, throwing and rejecting start/handler/end hooks,
// process.exit() in watch code, exceptions and rejections from the watch's timers, V8 out of
// memory in a handler (NODE_OPTIONS=--max-old-space-size), EPIPE, and kill -9 at random (seeded)
// points of start-up, tracing and teardown (TW_EXIT_KILL_ROUNDS rounds, default 100; the
// seed is printed, TW_EXIT_SEED repeats a run). Run it under the kernel-test lock: the BPF check
// counts tw_* programs loaded since the round began.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bpfStatus } from '@tw/relay-native';
import { eventually, scratch } from './support/tw-live.js';
import { skipReason } from './support/tracefs.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';

const T = '/sys/kernel/tracing';
const reason = skipReason();
if (reason) console.warn(`[exit-paths.kernel] skipped: ${reason}`);
const bpf = reason === undefined && bpfStatus() === true && spawnSync('bpftool', ['version']).status === 0;
const KILL_ROUNDS = Number(process.env['TW_EXIT_KILL_ROUNDS'] ?? 100);
const SEED = Number(process.env['TW_EXIT_SEED'] ?? Date.now() % 1_000_000);
const { workDir } = scratch('tw-exit-');

interface Ended {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** ms from the spawn to the "tw: tracing" line (undefined: never said) */
  tracingAt: number | undefined;
}

interface Running {
  pid: number;
  /** resolves once tw says it is tracing (or ends without saying it: false) */
  tracing: Promise<boolean>;
  done: Promise<Ended>;
  kill(sig: NodeJS.Signals): void;
}

/** tw processes started and not yet ended (killed after each test: a failed one leaves none running) */
const running = new Set<{ kill(sig: NodeJS.Signals): void }>();
afterEach(() => {
  for (const p of running) p.kill('SIGKILL');
  running.clear();
});

function startTw(args: readonly string[], o: { env?: NodeJS.ProcessEnv; closeStdout?: boolean } = {}): Running {
  const p = spawn(process.execPath, [twCliPath(), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
  const t0 = Date.now();
  let stdout = '';
  let stderr = '';
  let tracingAt: number | undefined;
  let saidTracing: (v: boolean) => void = () => undefined;
  const tracing = new Promise<boolean>((r) => (saidTracing = r));
  // a reader that went away: tw's next write to stdout gets EPIPE
  if (o.closeStdout === true) p.stdout.destroy();
  else p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (tracingAt === undefined && /^tw: tracing /m.test(stderr)) {
      tracingAt = Date.now() - t0;
      saidTracing(true);
    }
  });
  running.add(p);
  const done = new Promise<Ended>((resolve) =>
    p.on('close', (code, signal) => {
      running.delete(p);
      saidTracing(false);
      resolve({ pid: p.pid!, code, signal, stdout, stderr, tracingAt });
    }),
  );
  return { pid: p.pid!, tracing, done, kill: (sig) => p.kill(sig) };
}

// --- what a run may leave behind -------------------------------------------------------------

function twPrograms(): Array<{ id: number; name: string }> {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  const list = JSON.parse(r.stdout || '[]') as Array<{ id: number; name?: string }>;
  return list.filter((p): p is { id: number; name: string } => typeof p.name === 'string' && p.name.startsWith('tw_'));
}

function maxProgId(): number {
  if (!bpf) return 0;
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' });
  return Math.max(0, ...(JSON.parse(r.stdout || '[]') as Array<{ id: number }>).map((p) => p.id));
}

function dynamicEvents(): string[] {
  return existsSync(`${T}/dynamic_events`) ? readFileSync(`${T}/dynamic_events`, 'utf8').split('\n').filter(Boolean) : [];
}

/** Guardian processes of tw pid `pid` (sh -c … tw-guardian <root> <pid>). */
function guardiansOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = argv.indexOf('tw-guardian');
    if (at > 0 && argv[at + 2] === String(pid)) out.push(Number(d));
  }
  return out;
}

interface Baseline {
  progId: number;
  dynamic: string[];
}

function baseline(): Baseline {
  return { progId: maxProgId(), dynamic: dynamicEvents() };
}

/**
 * What tw `pid` left behind (empty: nothing). Within a second of its end everything must be gone,
 * except an instance that is already off (tracing_on 0) whose removal the kernel is still doing:
 * disabling the 2000+ events of an `allcounts` instance takes the kernel itself 0.3-0.5 s here,
 * longer on a busy machine. That one must be gone within 3 s.
 */
async function leftBehind(pid: number, before: Baseline): Promise<string[]> {
  const left = (): string[] => [
    ...readdirSync(`${T}/instances`).filter((n) => n.startsWith(`tw-${pid}-`)).map((n) => `instance ${n}`),
    ...readFileSync(`${T}/set_event`, 'utf8').split('\n').filter(Boolean).map((e) => `top-level event ${e}`),
    ...dynamicEvents().filter((l) => !before.dynamic.includes(l)).map((l) => `dynamic event ${l}`),
    ...(bpf ? twPrograms().filter((p) => p.id > before.progId).map((p) => `BPF program ${p.name} (id ${p.id})`) : []),
    ...guardiansOf(pid).map((g) => `guardian process ${g}`),
  ];
  const tracingOn = (item: string): boolean => {
    try {
      return readFileSync(`${T}/instances/${item.slice('instance '.length)}/tracing_on`, 'utf8').trim() !== '0';
    } catch {
      return false; // gone meanwhile
    }
  };
  await eventually(() => left().length === 0, 1000);
  const after1s = left();
  const costly = after1s.filter((l) => !(l.startsWith('guardian process ') || (l.startsWith('instance ') && !tracingOn(l))));
  if (costly.length > 0) return costly.map((l) => `${l} (after 1 s)`);
  await eventually(() => left().length === 0, 2000);
  return left().map((l) => `${l} (after 3 s)`);
}

// --- hostile watches -------------------------------------------------------------------------

type Hook = 'start' | 'on' | 'end' | 'timer';
type Misdeed = 'throw' | 'reject' | 'exit' | 'oom';

/**
 * A watch file that misbehaves in one hook. Its events: sched_switch, which the machine makes
 * all the time. end() runs at --duration.
 */
function hostileWatch(hook: Hook, misdeed: Misdeed): string {
  const deed: Record<Misdeed, string> = {
    throw: `throw new Error('boom in ${hook}');`,
    reject: `return (async () => { await null; throw new Error('rejected in ${hook}'); })();`,
    exit: 'process.exit(3);',
    oom: 'const keep = []; for (;;) keep.push(new Array(1e5).fill(Math.random()));',
  };
  const body = (h: Hook) => (h === hook ? deed[misdeed] : '');
  const file = join(workDir(), `hostile-${hook}-${misdeed}.mjs`);
  const timer = hook === 'timer' ? `setTimeout(() => { ${misdeed === 'reject' ? `Promise.reject(new Error('rejected in timer'));` : deed[misdeed]} }, 300);` : '';
  writeFileSync(
    file,
    `export default {
  name: 'hostile',
  summary: 'misbehaves: ${misdeed} in ${hook} (test fixture)',
  events: ['sched:sched_switch'],
  state: () => ({ n: 0 }),
  start(ctx) { ${timer} ${body('start')} },
  on: { 'sched:sched_switch'(e, ctx) { ctx.state.n++; ${body('on')} } },
  end(ctx) { ${body('end')} return { n: ctx.state.n }; },
};
`,
  );
  return file;
}

/** A watch that stops at its first event. */
function stoppingWatch(): string {
  const file = join(workDir(), 'stops.mjs');
  writeFileSync(file, `export default { name: 'stops', summary: 'stops at once (test fixture)', events: ['sched:sched_switch'], state: () => ({ n: 0 }), on: { 'sched:sched_switch'(e, ctx) { ctx.state.n++; ctx.stop(); } }, end: (ctx) => ({ n: ctx.state.n }) };\n`);
  return file;
}

/** A watch that alerts on every event (--json writes each to stdout). */
function alertingWatch(): string {
  const file = join(workDir(), 'alerts.mjs');
  writeFileSync(file, `export default { name: 'alerts', summary: 'alerts on every event (test fixture)', events: ['sched:sched_switch'], on: { 'sched:sched_switch'(e, ctx) { ctx.alert('switch'); } }, end: () => ({ done: true }) };\n`);
  return file;
}

const noStack = (stderr: string) => expect(stderr, 'no Node stack trace').not.toMatch(/^\s+at .+[(:]\d+/m);
/** stderr without the "tw: tracing" line and the notes */
const said = (stderr: string) => stderr.split('\n').filter((l) => l !== '' && !/^tw: (tracing |note: )/.test(l));

describe.skipIf(reason !== undefined)('every exit path of live tracing leaves nothing behind', () => {
  it('normal end (--duration), ctx.stop(), and the guardian leaves with tw', async () => {
    for (const args of [['watch', 'allcounts', '--duration', '700ms', '--json'], ['watch', stoppingWatch(), '--json'], ['dump', '-e', 'sched:sched_process_exec', '--duration', '500ms']]) {
      const before = baseline();
      const r = await startTw(args).done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.tracingAt, 'it traced').toBeDefined();
      expect(await leftBehind(r.pid, before), args.join(' ')).toEqual([]);
    }
  });

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${sig} while tracing: graceful end, exit 0, nothing left`, async () => {
      const before = baseline();
      const tw = startTw(['watch', 'allcounts', '--json']);
      expect(await tw.tracing).toBe(true);
      tw.kill(sig);
      const r = await tw.done;
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toHaveProperty('total');
      expect(await leftBehind(r.pid, before)).toEqual([]);
    });
  }

  it('a second Ctrl-C during teardown exits at once, and the guardian takes what tw could not', async () => {
    // several delays between the two, so the second lands in different places of the teardown
    for (const gapMs of [0, 5, 20, 60]) {
      const before = baseline();
      const tw = startTw(bpf ? ['watch', 'who-deleted', join(workDir(), 'victim'), '--keep-going'] : ['watch', 'allcounts']);
      expect(await tw.tracing).toBe(true);
      tw.kill('SIGINT');
      await new Promise((r) => setTimeout(r, gapMs));
      tw.kill('SIGINT');
      const r = await tw.done;
      // 130 when the second came before tw was done, else the graceful 0
      expect([0, 130], r.stderr).toContain(r.code);
      noStack(r.stderr);
      expect(await leftBehind(r.pid, before), `second SIGINT after ${gapMs} ms`).toEqual([]);
    }
  });

  /** how tw names where the hostile watch failed (a regular expression) */
  const failedIn = (hook: 'start' | 'on' | 'end') =>
    hook === 'on'
      ? `watch 'hostile' threw in its 'sched:sched_switch' handler \\(event sched:sched_switch at ts \\d+, cpu \\d+, pid \\d+\\)`
      : `watch 'hostile': its ${hook}\\(\\) hook failed`;

  for (const hook of ['start', 'on', 'end'] as const) {
    it(`a ${hook} hook that throws: one line naming the watch and the hook, exit 6`, async () => {
      const before = baseline();
      const r = await startTw(['watch', hostileWatch(hook, 'throw'), '--duration', '1s']).done;
      expect(r.code, r.stderr).toBe(6);
      expect(said(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^tw: ${failedIn(hook)}: boom in ${hook}$`))]);
      noStack(r.stderr);
      expect(await leftBehind(r.pid, before)).toEqual([]);
    });

    it(`an async ${hook} hook that rejects: one line naming the watch and the hook, exit 6`, async () => {
      const before = baseline();
      const r = await startTw(['watch', hostileWatch(hook, 'reject'), '--duration', '1s']).done;
      expect(r.code, r.stderr).toBe(6);
      expect(said(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^tw: ${failedIn(hook)}: rejected in ${hook}$`))]);
      noStack(r.stderr);
      expect(await leftBehind(r.pid, before)).toEqual([]);
    });

    it(`process.exit(3) in the ${hook} hook: torn down first, exit 3`, async () => {
      const before = baseline();
      const r = await startTw(['watch', hostileWatch(hook, 'exit'), '--duration', '1s']).done;
      expect(r.code, r.stderr).toBe(3);
      expect(said(r.stderr)).toEqual([expect.stringMatching(new RegExp(`^tw: ${failedIn(hook)}: it called process\\.exit\\(3\\); tw removed what it had set up in the kernel and exits with 3`))]);
      noStack(r.stderr);
      expect(await leftBehind(r.pid, before)).toEqual([]);
    });
  }

  it('from the watch\'s own timer: an exception, a rejection, process.exit(3)', async () => {
    for (const [misdeed, code, line] of [
      ['throw', 6, /^tw: watch 'hostile' failed: an uncaught exception outside its handlers: boom in timer$/],
      ['reject', 6, /^tw: watch 'hostile' failed: an unhandled promise rejection outside its handlers: rejected in timer$/],
      ['exit', 3, /^tw: a watch called process\.exit\(3\) outside its handlers; tw removed what it had set up/],
    ] as const) {
      const before = baseline();
      const r = await startTw(['watch', hostileWatch('timer', misdeed), '--duration', '5s']).done;
      expect(r.code, `${misdeed}: ${r.stderr}`).toBe(code);
      expect(said(r.stderr), misdeed).toEqual([expect.stringMatching(line)]);
      noStack(r.stderr);
      expect(await leftBehind(r.pid, before), misdeed).toEqual([]);
    }
  });

  it('V8 out of memory in a handler: the process dies, the guardian removes its instance', async () => {
    const before = baseline();
    const tw = startTw(['watch', hostileWatch('on', 'oom'), '--duration', '30s'], { env: { NODE_OPTIONS: '--max-old-space-size=96' } });
    const r = await tw.done;
    // V8 aborts the process (SIGABRT), no JS runs after it
    expect(r.signal ?? r.code, r.stderr.slice(-500)).toBe('SIGABRT');
    expect(r.stderr).toMatch(/heap out of memory/);
    expect(await leftBehind(r.pid, before)).toEqual([]);
  });

  it('EPIPE: a dump whose reader went away ends at once; a watch whose stdout closed goes on and ends cleanly', async () => {
    const before = baseline();
    const d = await startTw(['dump', '-e', 'sched:sched_switch', '--duration', '20s'], { closeStdout: true }).done;
    expect(d.code, d.stderr).toBe(0);
    expect(await leftBehind(d.pid, before)).toEqual([]);
    const w = await startTw(['watch', alertingWatch(), '--json', '--duration', '1s'], { closeStdout: true }).done;
    expect(w.code, w.stderr).toBe(0);
    noStack(w.stderr);
    expect(await leftBehind(w.pid, before)).toEqual([]);
  });

  it(`kill -9 at ${KILL_ROUNDS} random points of start-up, tracing and teardown: off within a second, gone soon after (seed ${SEED})`, async () => {
    const victim = join(workDir(), 'victim');
    // two lanes side by side (start-up is most of a round): one runs the BPF watch and is the
    // only one that loads BPF programs, so new tw_* programs after its round are its own
    const lanes: Array<{ commands: string[][]; checkBpf: boolean }> = [
      { commands: bpf ? [['watch', 'who-deleted', victim, '--keep-going'], ['watch', 'allcounts']] : [['watch', 'allcounts']], checkBpf: bpf },
      { commands: [['watch', 'syscalls'], ['dump', '-e', 'sched:sched_process_exec'], ['record', '-o', join(workDir(), 'killed.dat'), '-e', 'sched:sched_switch']], checkBpf: false },
    ];
    const phases = { startup: 0, tracing: 0, teardown: 0, ended: 0 };
    let failed = false;
    console.log(`[exit-paths] kill -9 rounds: ${KILL_ROUNDS}, seed ${SEED} (TW_EXIT_SEED=${SEED} repeats the points)`);
    const runLane = async (lane: (typeof lanes)[number], index: number, rounds: number): Promise<void> => {
      // mulberry32: the same seed, the same points
      let s = (SEED + index * 7919) >>> 0;
      const rand = () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
      };
      // how long start-up takes here, so that start-up kills spread over all of it
      let startupMs = 900;
      for (let round = 0; round < rounds && !failed; round++) {
        const args = lane.commands[Math.floor(rand() * lane.commands.length)]!;
        const phase = (['startup', 'tracing', 'teardown'] as const)[Math.floor(rand() * 3)]!;
        const before = lane.checkBpf ? baseline() : { progId: Infinity, dynamic: dynamicEvents() };
        const tw = startTw(args);
        let where: string = phase;
        if (phase === 'startup') {
          const at = rand() * startupMs;
          await Promise.race([tw.tracing, new Promise((r) => setTimeout(r, at))]);
          where = `start-up +${at.toFixed(0)} ms`;
        } else {
          const traced = await tw.tracing;
          expect(traced, `lane ${index} round ${round}: tw ${args.join(' ')} ended before tracing`).toBe(true);
          if (phase === 'tracing') {
            const at = rand() * 300;
            await new Promise((r) => setTimeout(r, at));
            where = `tracing +${at.toFixed(0)} ms`;
          } else {
            const at = rand() * 60;
            tw.kill('SIGINT');
            await new Promise((r) => setTimeout(r, at));
            where = `teardown +${at.toFixed(0)} ms`;
          }
        }
        tw.kill('SIGKILL');
        const r = await tw.done;
        if (r.tracingAt !== undefined) startupMs = (startupMs * 3 + r.tracingAt) / 4;
        phases[r.signal === 'SIGKILL' ? phase : 'ended']++;
        expect(await leftBehind(r.pid, before), `lane ${index} round ${round} (seed ${SEED}): tw ${args.join(' ')}, killed at ${where}`).toEqual([]);
      }
    };
    const first = Math.ceil(KILL_ROUNDS / 2);
    // a lane that fails stops the other before its next round (afterEach kills what still runs)
    const lane = (i: number, rounds: number) => runLane(lanes[i]!, i, rounds).catch((e: unknown) => {
      failed = true;
      throw e;
    });
    const settled = await Promise.allSettled([lane(0, first), lane(1, KILL_ROUNDS - first)]);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    console.log(`[exit-paths] killed in start-up ${phases.startup}, tracing ${phases.tracing}, teardown ${phases.teardown}; ended before the kill ${phases.ended}`);
    // the kills did land in each phase
    expect(phases.startup).toBeGreaterThan(0);
    expect(phases.tracing).toBeGreaterThan(0);
    expect(phases.teardown).toBeGreaterThan(0);
  }, 900_000);
});
