// The tw CLI's offline commands and every error path they name: each error is one line on
// stderr starting "tw: ", says what and where, exits non-zero, and prints no stack trace.
// Runs against the shipped sample recording (a real trace-cmd v7 file, examples/sample.dat).
// Also `tw probe gen --no-load` (what it writes, and the unpacker it stores for tw watch) and a
// probe watch replayed on a recording of tw:unlink events: custom_event's payload comes from the
// generated unpacker when the recording's format fits the spec, else from the format.
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeUnlinkRecording, TW_OPEN_WRITE_FORMAT, TW_UNLINK_FORMAT } from './support/probe-recording.js';
import { run } from './support/proc.js';
import { REPO_ROOT, twCliPath } from './support/tw.js';
import { parseWatchJson } from './support/watch-json.js';

const SAMPLE = join(REPO_ROOT, 'examples/sample.dat');
let dir: string;

async function tw(...args: string[]) {
  return run(process.execPath, [twCliPath(), ...args], { check: false });
}

/** tw with its own cache directory (module and unpacker caches) */
async function twCached(cache: string, ...args: string[]) {
  return run(process.execPath, [twCliPath(), ...args], { check: false, env: { ...process.env, XDG_CACHE_HOME: cache } });
}

/**
 * tw as an unprivileged user: as nobody through setpriv when the tests run as root, else as
 * the user running them. Live runs fail there before they touch tracefs.
 */
async function twUnprivileged(env: NodeJS.ProcessEnv, ...args: string[]) {
  const tw = [process.execPath, twCliPath(), ...args];
  if (process.getuid?.() !== 0) return run(tw[0]!, tw.slice(1), { check: false, env: { ...process.env, ...env } });
  return run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...tw], { check: false });
}

async function expectError(args: string[], code: number, pattern: RegExp, r?: Awaited<ReturnType<typeof tw>>) {
  r ??= await tw(...args);
  expect(r.code, `tw ${args.join(' ')} should fail; stdout: ${r.stdout.slice(0, 200)}`).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tw: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tw CLI on the sample recording', () => {
  it('lists the shipped watches', async () => {
    const r = await tw('watches', '--json');
    expect(r.code).toBe(0);
    const names = (JSON.parse(r.stdout) as { watches: Array<{ name: string }> }).watches.map((w) => w.name);
    expect(names).toEqual(expect.arrayContaining(['allcounts', 'syscalls', 'syscalls-by-pid', 'syscall-times']));
  });

  it('allcounts --json totals agree with tw events and tw dump', async () => {
    const counts = parseWatchJson<{ counts: Record<string, number>; total: number; lost: number }>((await tw('watch', 'allcounts', '--input', SAMPLE, '--json')).stdout).result;
    const events = JSON.parse((await tw('events', '--input', SAMPLE, '--json')).stdout) as { total: number; events: Array<{ event: string; count: number }> };
    const dump = (await tw('dump', '--input', SAMPLE)).stdout.trim().split('\n');
    expect(counts.total).toBeGreaterThan(1000);
    expect(counts.total).toBe(events.total);
    expect(dump).toHaveLength(counts.total);
    expect(Object.values(counts.counts).reduce((a, b) => a + b, 0)).toBe(counts.total);
    for (const e of events.events) expect(counts.counts[e.event]).toBe(e.count);
    expect(counts.lost).toBe(0);
  });

  it('syscall-times times the getppid loop of the sample', async () => {
    const byPid = parseWatchJson<{
      processes: Array<{ pid: number; comm: string; counts: Record<string, number> }>;
    }>((await tw('watch', 'syscalls-by-pid', '--input', SAMPLE, '--json')).stdout).result;
    const py = byPid.processes.find((p) => (p.counts['getppid'] ?? 0) >= 200);
    expect(py, 'a thread made the 200 getppid calls of the sample workload').toBeDefined();
    const times = parseWatchJson<{
      pid: number;
      syscalls: Array<{ name: string; calls: number; completed: number; totalNs: number; avgNs: number; maxNs: number }>;
    }>((await tw('watch', 'syscall-times', String(py!.pid), '--input', SAMPLE, '--json')).stdout).result;
    const g = times.syscalls.find((s) => s.name === 'getppid')!;
    expect(g.calls).toBe(py!.counts['getppid']);
    expect(g.completed).toBe(g.calls);
    expect(g.maxNs).toBeGreaterThan(0);
    expect(g.avgNs).toBeLessThanOrEqual(g.maxNs);
    expect(Math.abs(g.avgNs * g.completed - g.totalNs)).toBeLessThan(g.completed);
  });

  it('dump -e filters by event and -n limits', async () => {
    const r = await tw('dump', '--input', SAMPLE, '-e', 'signal:signal_generate');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; fields: { sig: number } });
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(l.event).toBe('signal:signal_generate');
    expect(lines.some((l) => l.fields.sig === 9), 'the SIGKILL of the sample workload').toBe(true);
    const two = await tw('dump', '--input', SAMPLE, '-e', 'signal:*', '-n', '2');
    expect(two.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('every shipped watch\'s --json carries a numeric lost, and loads without warnings', async () => {
    const { watches } = JSON.parse((await tw('watches', '--json')).stdout) as { watches: Array<{ name: string; usage: string; plugin: string; events: string[]; probes: string[] }> };
    const shipped = watches.filter((w) => w.plugin.startsWith('@tw/plugin-'));
    expect(shipped.length).toBeGreaterThanOrEqual(7);
    // the probe watches' events are not in the sample: a recording with tw:unlink events that
    // also describes tw:open_write
    const probes = join(dir, 'probe-events.dat');
    await writeUnlinkRecording(probes, [{ pid: 4242, dfd: -100, pathname: '/tmp/gone', comm: 'rm' }], TW_UNLINK_FORMAT, 1_000_000n, [TW_OPEN_WRITE_FORMAT]);
    const value: Record<string, string> = { '<pid>': '1', '<target>': '1', '<path>': '/etc/hosts' };
    for (const w of shipped) {
      const args = w.usage.split(' ').slice(1).filter((a) => a.startsWith('<'));
      for (const a of args) expect(value[a], `a value for ${w.name}'s ${a}`).toBeDefined();
      // a watch whose events depend on its arguments (who-modified) takes probe events only
      const probeOnly = w.events[0] === '(depends on arguments)' ? w.probes.length > 0 : w.events.every((p) => p.split('|').every((e) => e.startsWith('tw:')));
      const file = probeOnly ? probes : SAMPLE;
      const r = await tw('watch', w.name, ...args.map((a) => value[a]!), '--input', file, '--json');
      expect({ watch: w.name, code: r.code, stderr: r.stderr }).toEqual({ watch: w.name, code: 0, stderr: '' });
      expect(parseWatchJson<{ lost?: unknown }>(r.stdout).result.lost, `${w.name} --json: ${r.stdout.slice(0, 200)}`).toBe(0);
    }
  });

  it('prints a human table by default', async () => {
    const r = await tw('watch', 'syscalls', '--input', SAMPLE);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^SYSCALL\s+COUNT\n/);
    expect(r.stdout).toMatch(/\ntotal \d+ syscalls\n?$/);
  });
});

/** tw's own commands (the other plugins commands come from @oclif/plugin-plugins, which gives them -h itself) */
const COMMANDS = [['watch'], ['watches'], ['events'], ['dump'], ['record'], ['doctor'], ['probe', 'list'], ['probe', 'gen'], ['probe', 'load'], ['probe', 'unload'], ['plugins', 'install']];

describe('tw help', () => {
  it('tw help <command> and tw <command> -h print the same help, for every command', async () => {
    for (const cmd of COMMANDS) {
      const help = await tw('help', ...cmd);
      expect(help.code, `tw help ${cmd.join(' ')}: ${help.stderr}`).toBe(0);
      expect(help.stdout).toContain(`$ tw ${cmd.join(' ')}`);
      // -h is help on every command, listed with it (no command uses -h for anything else)
      expect(help.stdout).toMatch(/^\s+-h, --help\s+Show CLI help\.$/m);
      const h = await tw(...cmd, '-h');
      expect({ cmd, code: h.code, stderr: h.stderr }).toEqual({ cmd, code: 0, stderr: '' });
      expect(h.stdout).toBe(help.stdout);
    }
  });

  it('--help, -h after a watch name, and tw help / tw -h for the command list', async () => {
    const ref = await tw('help', 'watch');
    expect((await tw('watch', '--help')).stdout).toBe(ref.stdout);
    const r = await tw('watch', 'syscalls', '-h');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(ref.stdout);
    const top = await tw('help');
    expect(top.code, top.stderr).toBe(0);
    for (const c of ['watch', 'watches', 'events', 'dump', 'record', 'doctor', 'probe', 'plugins']) expect(top.stdout).toMatch(new RegExp(`^  ${c}\\s`, 'm'));
    const h = await tw('-h');
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toBe(top.stdout);
  });
});

describe('tw CLI errors', () => {
  it('missing file', () => expectError(['watch', 'allcounts', '--input', join(dir, 'nope.dat')], 2, /nope\.dat: no such file/));
  it('a directory', () => expectError(['dump', '--input', dir], 2, /is a directory/));
  it('a file that is not trace.dat', () => {
    const f = join(dir, 'text.dat');
    writeFileSync(f, 'hello, this is not a trace\n'.repeat(10));
    return expectError(['events', '--input', f], 3, /text\.dat: not a trace\.dat file/);
  });
  it('a truncated recording', () => {
    const f = join(dir, 'cut.dat');
    copyFileSync(SAMPLE, f);
    truncateSync(f, Math.floor(readFileSync(SAMPLE).length * 0.9));
    return expectError(['watch', 'allcounts', '--input', f], 3, /cut\.dat: .*truncated|cut\.dat: .*(past|end of file)/);
  });
  it('a corrupted recording', () => {
    const f = join(dir, 'bad.dat');
    const b = readFileSync(SAMPLE);
    // overwrite the page size with an impossible value
    b.writeUInt32LE(12345, 14);
    writeFileSync(f, b);
    return expectError(['dump', '--input', f], 3, /bad\.dat: implausible page size 12345/);
  });
  it('unknown watch', () => expectError(['watch', 'no-such-watch', '--input', SAMPLE], 4, /no watch named 'no-such-watch'.*installed: .*allcounts/));
  it('missing watch argument', () => expectError(['watch', 'syscall-times', '--input', SAMPLE], 5, /needs the argument <pid>/));
  it('bad watch argument', () => expectError(['watch', 'syscall-times', 'abc', '--input', SAMPLE], 5, /<pid> must be an integer, got 'abc'/));
  it('too many watch arguments', () => expectError(['watch', 'syscalls', '12', '--input', SAMPLE], 5, /takes no arguments; got 1/));
  it('unknown event for dump', () => expectError(['dump', '--input', SAMPLE, '-e', 'nosuch:event'], 5, /has no event matching nosuch:event/));
  it('event without a system', () => expectError(['dump', '--input', SAMPLE, '-e', 'sched_switch'], 5, /must be written as system:event/));
  it('unknown buffer', () => expectError(['dump', '--input', SAMPLE, '-B', 'nosuch'], 5, /has no buffer 'nosuch'/));
  it('an unknown flag, on every command', async () => {
    for (const cmd of [['watches'], ['probe', 'list'], ['events', '--input', SAMPLE]]) {
      const r = await tw(...cmd, '--no-such-flag');
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 2 });
      expect(r.stderr).toMatch(/Nonexistent flag: --no-such-flag/);
    }
  });
});

describe('tw events PATTERN --input', () => {
  it('lists only the recording\'s events matching the pattern, with the live command\'s glob rules', async () => {
    const all = JSON.parse((await tw('events', '--input', SAMPLE, '--json')).stdout) as { total: number; events: Array<{ event: string; count: number }> };
    const only = (re: RegExp) => all.events.filter((e) => re.test(e.event));
    expect(only(/^sched:/).length).toBeGreaterThan(0);
    expect(only(/^sched:/).length).toBeLessThan(all.events.length);
    for (const [pattern, re] of [['sched:*', /^sched:/], ['sched', /^sched:/], ['raw_syscalls:sys_en*', /^raw_syscalls:sys_enter$/], ['*:sys_?xit*', /^(raw_syscalls:sys_exit|syscalls:sys_exit_.*)$/]] as const) {
      const r = await tw('events', pattern, '--input', SAMPLE, '--json');
      expect(r.code, r.stderr).toBe(0);
      const d = JSON.parse(r.stdout) as typeof all & { pattern: string };
      expect(d.events, pattern).toEqual(only(re));
      expect(d.pattern).toBe(pattern);
      expect(d.total).toBe(all.total); // the file's own numbers stay whole
    }
    const text = await tw('events', 'signal', '--input', SAMPLE);
    expect(text.code, text.stderr).toBe(0);
    const rows = text.stdout.split('\n\n')[1]!.trim().split('\n').slice(1);
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(only(/^signal:/).map((e) => e.event));
    const records = only(/^signal:/).reduce((n, e) => n + e.count, 0);
    expect(text.stdout).toMatch(new RegExp(`\n${rows.length} events match signal \\(${records} of the ${all.total} records\\)\n$`));
    const none = await tw('events', 'nosuch:*', '--input', SAMPLE);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toMatch(/\n0 events match nosuch:\* \(0 of the \d+ records\)\n$/);
  });
});

describe('handlers a watch never gets live', () => {
  const WATCH = join(REPO_ROOT, 'test/fixtures/undeclared-handler-watch.mjs');
  const WARNINGS = [
    "tw: warning: watch 'undeclared-handlers': handler 'sched:sched_switch' is never called live: it matches none of the events the watch declares (signal:signal_generate, raw_syscalls:sys_enter|syscalls:sys_enter_*), and tw enables only those; on a recording it runs only if the file has the event. Add it to the watch's events",
    "tw: warning: watch 'undeclared-handlers': handler 'custom_event' is never called live: it gets dynamic-probe (tw:*) events, and the watch declares no probes and no tw:* events (declared: signal:signal_generate, raw_syscalls:sys_enter|syscalls:sys_enter_*); on a recording it runs only if the file has tw:* events. Declare the probes the watch uses (probes: [...]) and their tw:<name> events",
  ];

  it('are named on stderr when the watch loads, for --input runs (also with --json, whose stdout stays JSON)', async () => {
    const r = await tw('watch', WATCH, '--input', SAMPLE);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trimEnd().split('\n')).toEqual(WARNINGS);
    const j = await tw('watch', WATCH, '--input', SAMPLE, '--json');
    expect(j.code, j.stderr).toBe(0);
    expect(j.stderr.trimEnd().split('\n')).toEqual(WARNINGS);
    expect(parseWatchJson(j.stdout).result).toMatchObject({ signals: expect.any(Number), syscalls: expect.any(Number) });
  });

  it('and for live runs, before tracing starts (as an unprivileged user: then the need for root)', async () => {
    const r = await twUnprivileged({ HOME: '/nonexistent' }, 'watch', WATCH, '--duration', '1');
    expect(r.code).toBe(7);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.slice(0, 2)).toEqual(WARNINGS);
    expect(lines.slice(2)).toEqual([expect.stringMatching(/^tw: live tracing needs root/)]);
  });
});

describe('--duration and the other live options', () => {
  it('a --duration that is not a positive duration is an error, also with --input', async () => {
    await expectError(['watch', 'syscalls', '--input', SAMPLE, '--duration', '5x'], 5, /--duration '5x' is not a duration/);
    await expectError(['watch', 'syscalls', '--input', SAMPLE, '--duration=-1'], 5, /--duration '-1' is not a duration/);
    await expectError(['dump', '--input', SAMPLE, '-d', '0'], 5, /--duration must be positive, got '0'/);
  });

  it('a --duration longer than Node\'s timers hold (2^31-1 ms, about 24.8 days) is an error, not a run that ends at once', async () => {
    await expectError(['watch', 'syscalls', '--input', SAMPLE, '--duration', '597h'], 5, /--duration '597h' is too long: at most 596h \(2147483647 ms, about 24\.8 days\)/);
    // live, it is refused before anything starts: as an unprivileged user, before the need for root
    const r = await twUnprivileged({ HOME: '/nonexistent' }, 'watch', 'syscalls', '--duration', '35792m');
    await expectError([], 5, /--duration '35792m' is too long/, r);
    const rec = await twUnprivileged({ HOME: '/nonexistent' }, 'record', '-o', join(dir, 'never.dat'), '-e', 'sched:sched_switch', '-d', '600h');
    await expectError([], 5, /--duration '600h' is too long/, rec);
    expect((await tw('watch', '--help')).stdout).toMatch(/at most 596h/);
  });

  it('the live options are an error with --input, which replays the whole recording', async () => {
    await expectError(['watch', 'syscalls', '--input', SAMPLE, '--duration', '5s'], 5, /^tw: --duration applies to live tracing, not to a recording given with --input$/);
    await expectError(['watch', 'syscalls', '--input', SAMPLE, '--latency', '10', '--no-rt-readers', '--probe-backend', 'module'], 5, /^tw: --latency, --rt-readers, --probe-backend apply to live tracing, not to a recording given with --input$/);
    await expectError(['dump', '--input', SAMPLE, '--buffer-kb', '64', '--clock=global', '--backend', 'js'], 5, /^tw: --buffer-kb, --clock, --backend apply to live tracing/);
    // the defaults of those options are not "given"
    expect((await tw('watch', 'syscalls', '--input', SAMPLE, '--json')).code).toBe(0);
  });
});

describe('errors under --json', () => {
  /** the command fails with `code` and prints {"error": {"code", "message"}} on stdout, the tw: line on stderr */
  async function expectJsonError(args: string[], exit: number, code: string, message: RegExp) {
    const r = await tw(...args, '--json');
    expect(r.code, `tw ${args.join(' ')} --json: ${r.stderr}`).toBe(exit);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(Object.keys(out)).toEqual(['error']);
    expect(out.error).toEqual({ code, message: expect.stringMatching(message) });
    expect(r.stderr).toBe(`tw: ${out.error.message}\n`);
    // without --json: the same exit code
    expect((await tw(...args)).code).toBe(exit);
  }

  it('tw errors: their code and message, and the exit code they have without --json', async () => {
    await expectJsonError(['watch', 'allcounts', '--input', join(dir, 'nope.dat')], 2, 'FILE_NOT_FOUND', /nope\.dat: no such file/);
    const f = join(dir, 'not-a-trace.dat');
    writeFileSync(f, 'hello, this is not a trace\n'.repeat(10));
    await expectJsonError(['events', '--input', f], 3, 'NOT_TRACE_DAT', /not-a-trace\.dat: not a trace\.dat file/);
    await expectJsonError(['watch', 'no-such-watch', '--input', SAMPLE], 4, 'UNKNOWN_WATCH', /^no watch named 'no-such-watch'/);
    await expectJsonError(['watch', 'syscall-times', 'abc', '--input', SAMPLE], 5, 'BAD_ARGUMENT', /<pid> must be an integer, got 'abc'$/);
    await expectJsonError(['watch', join(REPO_ROOT, 'test/fixtures/throwing-watch.mjs'), '--input', SAMPLE], 6, 'WATCH_FAILED', /boom from the fixture/);
  });

  it("oclif's own errors about the command line: BAD_ARGUMENT, one line, oclif's exit code", async () => {
    await expectJsonError(['watch', 'syscalls', '--bogus'], 2, 'BAD_ARGUMENT', /^Nonexistent flag: --bogus$/);
    await expectJsonError(['watch', 'syscalls', '--input', SAMPLE, '--latency', '0'], 2, 'BAD_ARGUMENT', /^--latency: Expected an integer greater than or equal to 1 but received: 0$/);
    await expectJsonError(['watch'], 2, 'BAD_ARGUMENT', /^Missing 1 required arg: name /);
    await expectJsonError(['events', 'a', 'b'], 2, 'BAD_ARGUMENT', /^Unexpected argument: b$/);
  });
});

describe('a user plugin directory tw cannot read', () => {
  // oclif reads the list of user-installed plugins from <data dir>/package.json; as a user who
  // may not read it (HOME=/root kept by sudo, a locked XDG_DATA_HOME) tw says nothing about it
  function lockedDataHome(): string {
    const locked = join(dir, 'locked-data');
    // made once: as another user than root, a second mkdir would meet the closed directory
    if (existsSync(locked)) return locked;
    mkdirSync(join(locked, 'tracewatch'), { recursive: true });
    writeFileSync(join(locked, 'tracewatch', 'package.json'), '{"oclif": {"plugins": []}}');
    // as root the test directory itself is closed to nobody; as another user, close this one
    if (process.getuid?.() !== 0) chmodSync(locked, 0o000);
    return locked;
  }
  afterAll(() => {
    if (existsSync(join(dir, 'locked-data'))) chmodSync(join(dir, 'locked-data'), 0o700);
  });

  it('live: only the one-line need for root (exit 7), with HOME=/root and with a locked XDG_DATA_HOME', async () => {
    const envs = [{ XDG_DATA_HOME: lockedDataHome(), HOME: '/nonexistent' }, ...(process.getuid?.() === 0 ? [{ HOME: '/root' }] : [])];
    for (const env of envs) {
      const r = await twUnprivileged(env, 'watch', 'syscalls', '--duration', '1');
      expect({ env, code: r.code, stderr: r.stderr.trim().split('\n') }).toEqual({ env, code: 7, stderr: [expect.stringMatching(/^tw: live tracing needs root/)] });
    }
  });

  it('offline: the shipped watches still load and run, silently', async () => {
    const env = { XDG_DATA_HOME: lockedDataHome(), HOME: '/nonexistent' };
    const r = await twUnprivileged(env, 'watch', 'syscalls', '--input', SAMPLE, '--json');
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(parseWatchJson<{ total: number }>(r.stdout).result.total).toBeGreaterThan(1000);
    const w = await twUnprivileged(env, 'watches');
    expect({ code: w.code, stderr: w.stderr }).toEqual({ code: 0, stderr: '' });
    expect(w.stdout).toMatch(/^who-killed <target> \[--fatal\]/m);
  });
});

describe('tw probe gen --no-load', () => {
  it('writes the module sources, the kprobe_events line, the BPF C, <name>.unpack.ts and its compiled <name>.unpack.js; stores the unpacker for tw watch', async () => {
    const out = join(dir, 'gen-out');
    const cache = join(dir, 'gen-cache');
    const r = await twCached(cache, 'probe', 'gen', 'kill', '--out', out, '--no-load', '--json');
    expect(r.code, r.stderr).toBe(0);
    const { modelOf } = await import('@tw/kprobe-gen');
    const { kill } = await import('@tw/plugin-kill/probes');
    const hash = modelOf(kill).hash;
    const result = JSON.parse(r.stdout) as { probes: Array<Record<string, unknown>> };
    expect(result.probes).toEqual([
      { name: 'kill', hash, event: 'tw:kill', dir: join(out, 'kill'), unpacker: expect.stringMatching(new RegExp(`^${cache}/tw/unpackers/kill-${hash}-[0-9a-f]{10}/kill\\.unpack\\.js$`)), loaded: false },
    ]);
    expect(readdirSync(join(out, 'kill')).sort()).toEqual(['Kbuild', 'Makefile', 'kill.unpack.js', 'kill.unpack.ts', 'kprobe_events', 'tw_kill.bpf.c', 'tw_kill.c', 'tw_kill.kprobe_events', 'tw_kill_trace.h']);
    const js = readFileSync(join(out, 'kill', 'kill.unpack.js'), 'utf8');
    expect(js.split('\n')[0]).toBe(`// Generated by @tw/kprobe-gen 0.1.0 from probe spec 'kill' (spec sha256 ${hash}).`);
    expect(js).toContain('export function unpackKill(view, offset, littleEndian, into) {');
    // the same file in the unpacker cache, next to its TS source
    const stored = result.probes[0]!['unpacker'] as string;
    expect(readFileSync(stored, 'utf8')).toBe(js);
    expect(readFileSync(stored.replace(/\.js$/, '.ts'), 'utf8')).toBe(readFileSync(join(out, 'kill', 'kill.unpack.ts'), 'utf8'));
    // a second run finds it there
    const again = await twCached(cache, 'probe', 'gen', 'kill', '--no-load');
    expect(again.stdout).toBe(`kill: unpacker ${stored} (cached)\n`);
  });

  it('--help names every file it writes', async () => {
    const r = await tw('probe', 'gen', '--help');
    const text = r.stdout.replace(/\s+/g, ' ');
    for (const f of ['tw_<name>.c', 'tw_<name>_trace.h', 'Kbuild', 'Makefile', 'tw_<name>.kprobe_events', '<name>.unpack.ts', '<name>.unpack.js', '$XDG_CACHE_HOME/tw/unpackers']) expect(text).toContain(f);
  });
});

describe('a probe watch on a recording of tw:unlink events', () => {
  const WATCH = join(REPO_ROOT, 'test/fixtures/unlink-payload-watch.mjs');
  const victim = '/tmp/victim';
  const events = [
    { pid: 4242, dfd: -100, pathname: '/tmp/other', comm: 'rm' },
    { pid: 4243, dfd: 3, pathname: victim, comm: 'unlink' },
  ];

  it('custom_event gets the payload from the generated unpacker (the recording\'s format fits the spec)', async () => {
    const rec = join(dir, 'unlink.dat');
    await writeUnlinkRecording(rec, events);
    const cache = join(dir, 'replay-cache');
    const r = await twCached(cache, 'watch', WATCH, victim, '--input', rec);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const { modelOf } = await import('@tw/kprobe-gen');
    const { unlink } = await import('@tw/plugin-fswatch/probes');
    expect(JSON.parse(r.stdout)).toEqual({
      seen: [
        {
          event: 'tw:unlink',
          pid: 4243,
          unpacker: 'generated',
          specHash: modelOf(unlink).hash,
          data: { dfd: 3, pathname: victim, pid: 4243, comm: 'unlink' },
          fields: { __probe_ip: String(0xffffffff81234560n), dfd: 3, pathname: victim, comm: 'unlink' },
          rawBytes: 40, // the record (28 + 12 + 7 bytes, padded to 48) after its 8-byte common header
        },
      ],
      others: 1,
    });
    // compiled for this replay, and kept in the cache
    expect(existsSync(join(cache, 'tw', 'unpackers'))).toBe(true);
  });

  it('a recording whose tw:unlink format differs from the spec: the format-driven data, and a note saying why', async () => {
    const rec = join(dir, 'unlink-other.dat');
    // as an older spec might have had it: an unsigned dfd
    const other = TW_UNLINK_FORMAT.replace('field:s32 dfd;\toffset:16;\tsize:4;\tsigned:1;', 'field:u32 dfd;\toffset:16;\tsize:4;\tsigned:0;');
    await writeUnlinkRecording(rec, events, other);
    const r = await twCached(join(dir, 'replay-cache'), 'watch', WATCH, victim, '--input', rec);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe(
      "tw: note: tw:unlink: not using the generated unpacker (event tw:unlink, field 'dfd': expected offset 16 size 4 (s32), the kernel's format has offset 16 size 4 (u32)); custom_event gets data decoded from the format",
    );
    const result = JSON.parse(r.stdout) as { seen: Array<Record<string, unknown>> };
    expect(result.seen.map((e) => [e['unpacker'], e['specHash'], e['data']])).toEqual([
      ['format', null, { __probe_ip: String(0xffffffff81234560n), dfd: 3, pathname: victim, comm: 'unlink' }],
    ]);
  });
});
