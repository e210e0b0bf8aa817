// Hostile input through the real tw CLI: recordings that say impossible things in a well-formed
// way (made here with tw's own writer), special files, bad command lines, watches whose hooks
// fail, user plugins that misbehave. Every case must end in a right answer or in exactly one
// clear `tw:` line naming what is wrong (and where), with the exit code README gives — never a
// crash, a hang, a wrong answer with exit 0, a Node.js internal message or raw control bytes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SCHED_PROCESS_EXEC_OWN,
  SCHED_SWITCH_OWN,
  SIGNAL_GENERATE_OWN,
  execRecord,
  formatText,
  record,
  switchRecord,
  writeCrafted,
} from './support/crafted-recording.js';
import { REPO_ROOT } from './support/tw.js';
import { RAW_CONTROL, endingProblem, runTwBounded, type BoundedRun } from './support/tw-bounded.js';

const SAMPLE = join(REPO_ROOT, 'examples/sample.dat');
const HOOKS_WATCH = join(REPO_ROOT, 'test/fixtures/hook-failing-watch.mjs');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-hardening-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The run ended with exit `code` and exactly one `tw:` line matching `pattern`. */
function expectOneError(r: BoundedRun, code: number, pattern: RegExp): void {
  expect(endingProblem(r), r.stderr).toBeUndefined();
  expect(r.code, `stdout: ${r.stdout.slice(0, 300)}\nstderr: ${r.stderr.slice(0, 300)}`).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('tw: warning: '));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

/** The same, under --json: the line on stderr too, and {"error": …} as the last line of stdout. */
function expectJsonError(r: BoundedRun, code: number, errorCode: string, pattern: RegExp): void {
  expectOneError(r, code, pattern);
  // the last line (watch), or the whole of stdout (other commands print their JSON indented)
  const last = r.stdout.trim().split('\n').pop() ?? '';
  const e = (JSON.parse(last.startsWith('{"error"') ? last : r.stdout) as { error: { code: string; message: string } }).error;
  expect(e.code).toBe(errorCode);
  expect(r.stderr.trim().split('\n').pop()).toBe(`tw: ${e.message}`);
}

const SWITCH_ID = 372;
const EXEC_ID = 365;
const SIGNAL_ID = 180;

describe('recordings whose formats lie', () => {
  it("sched_process_exec's filename declared as an int: the process table ignores it, the run answers", async () => {
    const f = join(dir, 'exec-int.dat');
    const own = SCHED_PROCESS_EXEC_OWN.map((l) => l.replace('__data_loc char[] filename', 'int filename'));
    await writeCrafted(f, {
      formats: new Map([['sched', [formatText('sched_process_exec', EXEC_ID, own), formatText('sched_switch', SWITCH_ID, SCHED_SWITCH_OWN)]]]),
      records: [execRecord(EXEC_ID, 100, '/bin/true'), switchRecord(SWITCH_ID, 100, 0)],
    });
    const r = await runTwBounded(['watch', 'allcounts', '--input', f, '--json']);
    expect(endingProblem(r), r.stderr).toBeUndefined();
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ counts: { 'sched:sched_process_exec': 1, 'sched:sched_switch': 1 }, total: 2 });
    // the dump shows the field as the format says (an int), the process keeps the name it had
    const d = await runTwBounded(['dump', '--input', f]);
    expect(d.code, d.stderr).toBe(0);
    const lines = d.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; comm: string; fields: Record<string, unknown> });
    expect(lines.map((l) => l.event)).toEqual(['sched:sched_process_exec', 'sched:sched_switch']);
    expect(typeof lines[0]!.fields['filename']).toBe('number');
  });

  it('every format claiming the same event ID is an error naming the ID, not a wrong count', async () => {
    const f = join(dir, 'same-id.dat');
    await writeCrafted(f, {
      formats: new Map([
        ['sched', [formatText('sched_switch', SWITCH_ID, SCHED_SWITCH_OWN)]],
        ['signal', [formatText('signal_generate', SWITCH_ID, SIGNAL_GENERATE_OWN)]],
      ]),
      records: Array.from({ length: 440 }, (_, i) => switchRecord(SWITCH_ID, 100 + i, 0)),
    });
    expectOneError(await runTwBounded(['watch', 'allcounts', '--input', f]), 3, /^tw: .*same-id\.dat: .*signal.*event ID 372 is claimed twice \(also by 'sched:sched_switch'\)/);
    expectJsonError(await runTwBounded(['events', '--input', f, '--json']), 3, 'CORRUPT_FILE', /event ID 372 is claimed twice/);
  });

  it('an event ID beyond 16 bits (here beyond 2^53) is an error, not every record unknown:id_N', async () => {
    const f = join(dir, 'huge-id.dat');
    await writeCrafted(f, {
      formats: new Map([['sched', [formatText('sched_switch', '9007199254741365', SCHED_SWITCH_OWN)]]]),
      records: [switchRecord(SWITCH_ID, 100, 0), switchRecord(SWITCH_ID, 0, 100)],
    });
    expectOneError(await runTwBounded(['watch', 'allcounts', '--input', f]), 3, /event ID '9007199254741365' is larger than 65535/);
    expectOneError(await runTwBounded(['dump', '--input', f]), 3, /larger than 65535/);
  });

  it('formats of 50,000 fields each: rejected at a bounded cost (RSS < 150 MiB)', async () => {
    const f = join(dir, 'wide.dat');
    const wide = Array.from({ length: 50_000 }, (_, k) => `field:int f${k};\toffset:${8 + 4 * k};\tsize:4;\tsigned:1;`);
    // about 24 MB of format text, as in the report that took tw to 584 MB
    const formats = Array.from({ length: 8 }, (_, i) => formatText(`wide${i}`, 1000 + i, wide));
    await writeCrafted(f, {
      formats: new Map([['sched', [formatText('sched_switch', SWITCH_ID, SCHED_SWITCH_OWN)]], ['wide', formats]]),
      records: [switchRecord(SWITCH_ID, 100, 0), record1000()],
    });
    const r = await runTwBounded(['watch', 'allcounts', '--input', f], { timeoutMs: 60_000 });
    expectOneError(r, 3, /wide\/#0:1: the format text is \d+ bytes; tw takes formats of at most 1048576 bytes/);
    expect(r.rssMiB).toBeDefined();
    expect(r.rssMiB!).toBeLessThan(150);
  });

  it('a crafted system name carrying escape sequences is refused, shown escaped', async () => {
    const f = join(dir, 'escape.dat');
    const evil = 'x\u001b]0;pwned\u0007\u001b[2J';
    await writeCrafted(f, {
      formats: new Map([[evil, [formatText('sched_switch', SWITCH_ID, SCHED_SWITCH_OWN)]]]),
      records: [switchRecord(SWITCH_ID, 100, 0)],
    });
    for (const args of [['watch', 'allcounts', '--input', f], ['events', '--input', f], ['dump', '--input', f], ['events', '--input', f, '--json']]) {
      const r = await runTwBounded(args);
      expectOneError(r, 3, /event system name 'x\\e\]0;pwned\\x07\\e\[2J' is not a name/);
      expect(RAW_CONTROL.test(r.stdout + r.stderr)).toBe(false);
    }
  });

  it('a crafted event name with escape sequences: the error quotes it escaped', async () => {
    const f = join(dir, 'escape-name.dat');
    await writeCrafted(f, {
      formats: new Map([['sched', [formatText('sched_switch\u001b]2;pwned\u0007', SWITCH_ID, SCHED_SWITCH_OWN)]]]),
      records: [switchRecord(SWITCH_ID, 100, 0)],
    });
    const r = await runTwBounded(['dump', '--input', f]);
    expectOneError(r, 3, /invalid event name 'sched_switch\\e\]2;pwned\\x07'/);
  });

  it("a process name with escape sequences (from the file's saved cmdlines) reaches the table escaped", async () => {
    const f = join(dir, 'escape-comm.dat');
    const sysEnter = formatText('sys_enter', 22, ['field:long id;\toffset:8;\tsize:8;\tsigned:1;', 'field:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;']);
    await writeCrafted(f, {
      formats: new Map([['raw_syscalls', [sysEnter]]]),
      records: [record(22, 100, 64, (dv) => dv.setBigInt64(8, 0n, true))],
      cmdlines: '100 ev\u001b]0;pwned\u0007il\n',
    });
    const r = await runTwBounded(['watch', 'syscalls-by-pid', '--input', f]);
    expect(endingProblem(r), r.stderr).toBeUndefined();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('ev\\e]0;pwned\\x07il');
    expect(RAW_CONTROL.test(r.stdout + r.stderr)).toBe(false);
  });

  it('a size field of 2^52: what is wrong and at which offset, not a Node.js range error', async () => {
    const f = join(dir, 'huge-size.dat');
    await writeCrafted(f, { version: 6, formats: new Map([['sched', [formatText('sched_switch', SWITCH_ID, SCHED_SWITCH_OWN)]]]), records: [switchRecord(SWITCH_ID, 1, 0)] });
    const b = readFileSync(f);
    // v6: magic (10) "6\0" endianness long-size page-size(4) "header_page\0", then its u64 size
    const at = 10 + 2 + 1 + 1 + 4 + 12;
    expect(b.subarray(18, 29).toString('latin1')).toBe('header_page');
    b.writeBigUInt64LE(4_503_599_627_371_178n, at);
    writeFileSync(f, b);
    const r = await runTwBounded(['watch', 'allcounts', '--input', f]);
    expectOneError(r, 3, /^tw: .*huge-size\.dat: truncated: header_page needs bytes 38\.\.4503599627371216 but the file has \d+$/);
    expect(r.stderr).not.toMatch(/The value of|out of range|ERR_/);
  });
});

describe('special files and empty names as --input', () => {
  it('a FIFO with no writer: refused at once, not a hang in open()', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const r = await runTwBounded(['watch', 'allcounts', '--input', fifo], { timeoutMs: 15_000 });
    expectOneError(r, 2, /fifo: is a FIFO \(named pipe\), not a regular file/);
  });

  it('a character device and a directory: refused', async () => {
    expectOneError(await runTwBounded(['events', '--input', '/dev/zero']), 2, /\/dev\/zero: is a character device, not a regular file/);
    expectOneError(await runTwBounded(['dump', '--input', dir]), 2, /is a directory/);
  });

  it("--input '': an error, not live tracing", async () => {
    for (const cmd of [['watch', 'allcounts'], ['dump'], ['events']]) {
      expectOneError(await runTwBounded([...cmd, '--input', ''], { timeoutMs: 15_000 }), 2, /^tw: --input: an empty name; name a trace\.dat file/);
    }
  });
});

describe('bad command lines', () => {
  it('values oclif rejects: one tw: line (exit 2, BAD_ARGUMENT), with and without --json', async () => {
    for (const [flag, value, why] of [['--buffer-kb', '0', /^tw: --buffer-kb: Expected an integer greater than or equal to 64 but received: 0$/], ['--latency', '0', /^tw: --latency: Expected an integer greater than or equal to 1 but received: 0$/]] as const) {
      expectOneError(await runTwBounded(['watch', 'allcounts', flag, value]), 2, why);
      expectJsonError(await runTwBounded(['watch', 'allcounts', flag, value, '--json']), 2, 'BAD_ARGUMENT', why);
    }
  });

  it('-B on a live command is refused before anything starts, not ignored', async () => {
    expectOneError(await runTwBounded(['dump', '-B', '../..', '-e', 'sched:sched_switch', '--duration', '1s']), 5, /^tw: -B\/--buffer '\.\.\/\.\.' selects buffers of a recording \(with --input\)/);
    expectOneError(await runTwBounded(['watch', 'allcounts', '-B', 'x', '--duration', '1s']), 5, /selects buffers of a recording/);
  });

  it('pid arguments out of range', async () => {
    expectOneError(await runTwBounded(['watch', 'syscall-times', '99999999999', '--input', SAMPLE]), 5, /<pid> must be from 1 to 4194304, got 99999999999/);
    expectOneError(await runTwBounded(['watch', 'syscall-times', '0', '--input', SAMPLE]), 5, /<pid> must be from 1 to 4194304, got 0/);
    expectOneError(await runTwBounded(['watch', 'syscall-times', '1e3', '--input', SAMPLE]), 5, /<pid> must be an integer, got '1e3'/);
    expectOneError(await runTwBounded(['watch', 'who-killed', '0', '--input', SAMPLE]), 5, /<target> must be a pid from 1 to 4194304 or a command name, got '0'/);
    expectOneError(await runTwBounded(['watch', 'who-killed', 'a-name-longer-than-15', '--input', SAMPLE]), 5, /<target> must be a pid or a command name of 1 to 15 characters/);
  });

  it('tw probe gen --out /proc/self: one error, not an endless mkdir', async () => {
    const r = await runTwBounded(['probe', 'gen', 'unlinkat', '--out', '/proc/self', '--no-load'], { timeoutMs: 20_000 });
    expectOneError(r, 2, /^tw: \/proc\/self\/unlinkat: cannot create the directory: ENOENT$/);
  });
});

describe("a watch's hooks failing", () => {
  for (const [hook, why] of [
    ['state', /^tw: watch 'hooks': its state\(\) hook failed: boom from state$/],
    ['events', /^tw: watch 'hooks': its events\(\) hook failed: boom from events$/],
    ['events-type', /^tw: watch 'hooks': its events\(\) hook failed: it must give a list of event names \('system:event'\), gave a string$/],
    ['end', /^tw: watch 'hooks': its end\(\) hook failed: boom from end$/],
    ['circular', /^tw: watch 'hooks': its end\(\) hook failed: its result cannot be printed: it refers to itself \(a circular structure\)$/],
  ] as const) {
    it(`${hook}: one line naming the watch and the hook, exit 6, with and without --json`, async () => {
      const env = { ...process.env, TW_TEST_FAIL_HOOK: hook };
      expectOneError(await runTwBounded(['watch', HOOKS_WATCH, '--input', SAMPLE], { env }), 6, why);
      expectJsonError(await runTwBounded(['watch', HOOKS_WATCH, '--input', SAMPLE, '--json'], { env }), 6, 'WATCH_FAILED', why);
    });
  }

  it('format (the text rendering, not used with --json): one line naming the watch and the hook, exit 6', async () => {
    const env = { ...process.env, TW_TEST_FAIL_HOOK: 'format' };
    expectOneError(await runTwBounded(['watch', HOOKS_WATCH, '--input', SAMPLE], { env }), 6, /^tw: watch 'hooks': its format\(\) hook failed: boom from format$/);
    const text = await runTwBounded(['watch', HOOKS_WATCH, '--input', SAMPLE], { env: { ...process.env, TW_TEST_FAIL_HOOK: '' } });
    expect(text.stdout).toBe('n 251\n');
  });

  it('the same watch without a failure answers (the fixture itself works)', async () => {
    const r = await runTwBounded(['watch', HOOKS_WATCH, '--input', SAMPLE, '--json'], { env: { ...process.env, TW_TEST_FAIL_HOOK: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ n: 251 });
  });
});

describe('user plugins', () => {
  /** Link user plugins (name → files) through TW_DATA_DIR, as `tw plugins link` would. */
  function linkPlugins(base: string, plugins: Record<string, Record<string, string>>): NodeJS.ProcessEnv {
    const data = join(base, 'data');
    mkdirSync(data, { recursive: true });
    const entries = Object.entries(plugins).map(([name, files]) => {
      const root = join(base, name);
      mkdirSync(root, { recursive: true });
      for (const [file, text] of Object.entries(files)) writeFileSync(join(root, file), text);
      return { name, type: 'link', root };
    });
    writeFileSync(join(data, 'package.json'), JSON.stringify({ private: true, oclif: { schema: 1, plugins: entries }, dependencies: {} }));
    return { ...process.env, TW_DATA_DIR: data };
  }
  const pkg = (name: string, tw: Record<string, string>) => JSON.stringify({ name, version: '0.0.0', private: true, type: 'module', oclif: {}, tw });

  it("a plugin's watch named like a shipped one never stands in for it under the bare name; a plugin that cannot load is named and skipped", async () => {
    const env = linkPlugins(join(dir, 'plugins'), {
      'tw-test-shadow': {
        'package.json': pkg('tw-test-shadow', { watches: './watches.mjs' }),
        'watches.mjs': "export default [{ name: 'allcounts', summary: 'not the real one', events: ['sched:sched_switch'], on: { 'sched:sched_switch'() {} }, end: () => ({ hijacked: true }) }];\n",
      },
      'tw-test-broken': {
        'package.json': pkg('tw-test-broken', { watches: './watches.mjs', probes: './probes.mjs' }),
        'watches.mjs': "throw new Error('this plugin is broken');\n",
        'probes.mjs': "throw new Error('its probes too');\n",
      },
    });
    const r = await runTwBounded(['watch', 'allcounts', '--input', SAMPLE, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(result['hijacked']).toBeUndefined();
    expect(result['total']).toBe(47463);
    expect(r.stderr).toMatch(/^tw: note: 'allcounts' is also provided by tw-test-shadow; run it as tw-test-shadow:allcounts$/m);
    expect(r.stderr).toMatch(/^tw: warning: plugin 'tw-test-broken': cannot load its watches from '\.\/watches\.mjs': this plugin is broken; its watches are skipped$/m);
    // other commands go on
    const list = await runTwBounded(['watches', '--json'], { env });
    expect(list.code, list.stderr).toBe(0);
    const names = (JSON.parse(list.stdout) as { watches: Array<{ name: string; id: string; summary: string }> }).watches;
    // both listed, each by its qualified name (the one that always runs it)
    const allcounts = names.filter((w) => w.name === 'allcounts');
    expect(allcounts.map((w) => [w.id, w.summary === 'not the real one'])).toEqual([
      ['@tw/plugin-syscalls:allcounts', false],
      ['tw-test-shadow:allcounts', true],
    ]);
    const probes = await runTwBounded(['probe', 'list'], { env });
    expect(probes.code, probes.stderr).toBe(0);
    expect(probes.stderr).toMatch(/^tw: warning: plugin 'tw-test-broken': cannot load its probe specs from \.\/probes\.mjs: its probes too; its probes are skipped$/m);
  });
});

/** A record of the first wide format (ID 1000): 16 bytes. */
function record1000(): Uint8Array {
  const r = new Uint8Array(16);
  new DataView(r.buffer).setUint16(0, 1000, true);
  return r;
}
