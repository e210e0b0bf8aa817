// The fuzz harness (CI slice): seeded cases over real recordings — the shipped trace-cmd
// recording examples/sample.dat and v6/v7 recordings written here — with structured corruptions
// (truncation at every boundary, header fields, size/count/offset fields up to 2^64-1, format
// texts with impossible IDs, sizes and field counts, escape sequences in names), random files
// and random mutations; plus special files. Most cases run in-process (child runners on the
// built packages, through the same API the CLI calls), a slice through the real `tw` binary.
// Every case must end within its time bound and under the RSS bound, in a result or in one tw
// error (its brand, a message saying what is wrong) — through the CLI: exactly one `tw:` line,
// no stack trace, no raw control bytes.
//
// CI: seed 1, 2,000 cases. On demand: `npm run fuzz -- --seed N --cases M` (scripts/fuzz.mjs),
// which sets TW_FUZZ_SEED / TW_FUZZ_CASES / TW_FUZZ_CLI_CASES for this file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzCases, type FuzzCase, type Op } from './fuzz/cases.js';
import { runCases, type CaseResult } from './fuzz/pool.js';
import { RAW_CONTROL, endingProblem, runTwBounded } from './support/tw-bounded.js';

const SEED = Number(process.env['TW_FUZZ_SEED'] ?? 1);
const CASES = Number(process.env['TW_FUZZ_CASES'] ?? 2000);
const CLI_CASES = Number(process.env['TW_FUZZ_CLI_CASES'] ?? 36);
const PARALLEL = Number(process.env['TW_FUZZ_PARALLEL'] ?? 2);
/** per case: in-process, and through the CLI (which starts Node and oclif first) */
const CASE_MS = 10_000;
const CLI_CASE_MS = 30_000;
const RSS_MIB = 300;

let dir: string;
let cases: FuzzCase[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tw-fuzz-'));
  cases = await fuzzCases(dir, SEED, CASES);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What is wrong with an in-process result, or undefined. */
function problemOf(r: CaseResult): string | undefined {
  if (r.outcome === 'timeout') return `no result within ${CASE_MS} ms`;
  if (r.outcome === 'crash') return r.message ?? 'the runner died';
  if (r.rssMiB !== undefined && r.rssMiB > RSS_MIB) return `peak RSS ${r.rssMiB.toFixed(0)} MiB (bound ${RSS_MIB})`;
  if (r.outcome === 'ok') return undefined;
  if (r.tw !== true) return `not a tw error: ${r.code}: ${r.message}\n${r.stack ?? ''}`;
  const m = r.message ?? '';
  if (m.trim() === '') return 'an empty error message';
  if (m.includes('\n')) return `a message of several lines: ${JSON.stringify(m.slice(0, 300))}`;
  if (RAW_CONTROL.test(m)) return `raw control bytes in the message: ${JSON.stringify(m.slice(0, 300))}`;
  if (/The value of "|ERR_[A-Z_]+|RangeError|TypeError|is not a function|Cannot read properties|Invalid array length|Maximum call stack/.test(m)) return `a Node.js internal message: ${m.slice(0, 300)}`;
  return undefined;
}

/** Keep the failing cases' bytes for reproduction; returns where. */
function saveFailures(failed: readonly { index: number }[]): string {
  const out = join(tmpdir(), `tw-fuzz-failures-seed-${SEED}`);
  mkdirSync(out, { recursive: true });
  for (const f of failed.slice(0, 50)) writeFileSync(join(out, `case-${f.index}.dat`), cases[f.index]!.bytes);
  return out;
}

describe(`fuzz (seed ${SEED}, ${CASES} cases)`, () => {
  it(`every case ends in a result or one clear tw error, within ${CASE_MS} ms and ${RSS_MIB} MiB`, async () => {
    expect(cases.length).toBe(CASES);
    const start = Date.now();
    const results = await runCases(dir, cases, { parallel: PARALLEL, timeoutMs: CASE_MS, rssMiB: RSS_MIB });
    const failed = results.flatMap((r) => {
      const p = problemOf(r);
      return p ? [{ index: r.index, line: `#${r.index} [${r.op}] ${r.name}: ${p}` }] : [];
    });
    const byCode = new Map<string, number>();
    for (const r of results) byCode.set(r.outcome === 'ok' ? 'ok' : r.code ?? r.outcome, (byCode.get(r.outcome === 'ok' ? 'ok' : r.code ?? r.outcome) ?? 0) + 1);
    const slowest = [...results].sort((a, b) => b.ms - a.ms)[0]!;
    const peak = Math.max(...results.map((r) => r.rssMiB ?? 0));
    const kinds = new Map<string, number>();
    for (const c of cases) kinds.set(c.kind ?? '?', (kinds.get(c.kind ?? '?') ?? 0) + 1);
    console.log(
      `fuzz: seed ${SEED}: ${results.length} cases (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}) in-process in ${((Date.now() - start) / 1000).toFixed(1)} s; ` +
        `outcomes ${[...byCode].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}; ` +
        `slowest ${slowest.ms.toFixed(0)} ms (#${slowest.index}), peak RSS ${peak.toFixed(0)} MiB`,
    );
    // one example per kind of error, to read what the corruptions were reported as
    const example = new Map<string, CaseResult>();
    for (const r of results) if (r.outcome === 'error' && !example.has(r.code ?? '')) example.set(r.code ?? '', r);
    for (const [code, r] of example) console.log(`fuzz:   ${code}: #${r.index} [${r.op}] ${r.name}: ${(r.message ?? '').slice(0, 240)}`);
    if (failed.length > 0) {
      const where = saveFailures(failed);
      expect.fail(`${failed.length} of ${results.length} cases broke the rules (their bytes are in ${where}):\n${failed.slice(0, 25).map((f) => f.line).join('\n')}`);
    }
    // not a no-op: the clean recordings decode, and the corruptions are caught as what they are
    for (const r of results.filter((x) => x.name.endsWith(': as it is'))) expect(r.outcome, `${r.name} [${r.op}]: ${r.message}`).toBe('ok');
    // (the structured corruptions come first, in a fixed order: a run of fewer cases than CI's
    // may not reach the format edits)
    if (CASES >= 2000) {
      expect(byCode.get('ok') ?? 0).toBeGreaterThan(CASES / 20);
      for (const code of ['CORRUPT_FILE', 'NOT_TRACE_DAT', 'FORMAT_PARSE', 'DECODE']) expect(byCode.get(code) ?? 0, code).toBeGreaterThan(0);
    }
  }, 60_000 + CASES * 500);
});

const CLI_ARGS: Record<Op, (f: string) => string[]> = {
  events: (f) => ['events', '--input', f, '--all'],
  dump: (f) => ['dump', '--input', f],
  watch: (f) => ['watch', 'allcounts', '--input', f, '--json'],
};

describe('fuzz through the tw binary', () => {
  it(`a slice of the cases (${CLI_CASES}): a result, or exactly one tw: line; no stack trace, no raw control bytes`, async () => {
    // spread over the whole list: structured corruptions of each kind, random files, mutations
    const step = Math.max(1, Math.floor(cases.length / CLI_CASES));
    const picked = Array.from({ length: Math.min(CLI_CASES, cases.length) }, (_, k) => k * step);
    const failed: string[] = [];
    let next = 0;
    const worker = async (w: number) => {
      for (;;) {
        const k = next++;
        if (k >= picked.length) return;
        const i = picked[k]!;
        const c = cases[i]!;
        const f = join(dir, `cli-${w}.dat`);
        writeFileSync(f, c.bytes);
        const r = await runTwBounded(CLI_ARGS[c.op](f), { timeoutMs: CLI_CASE_MS });
        const p = endingProblem(r) ?? (r.rssMiB !== undefined && r.rssMiB > RSS_MIB ? `peak RSS ${r.rssMiB.toFixed(0)} MiB` : undefined);
        if (p) failed.push(`#${i} [${c.op}] ${c.name}: ${p}`);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, (_, w) => worker(w)));
    expect(failed, failed.join('\n')).toEqual([]);
  }, 120_000 + CLI_CASES * 10_000);

  it('special files as --input: each refused at once with one tw: line', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const empty = join(dir, 'empty.dat');
    writeFileSync(empty, '');
    const loop = join(dir, 'loop');
    symlinkSync(loop, loop);
    const dangling = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), dangling);
    const specials: Array<[string, number, RegExp]> = [
      [fifo, 2, /is a FIFO \(named pipe\), not a regular file/],
      ['/dev/zero', 2, /is a character device/],
      ['/dev/null', 2, /is a character device/],
      [dir, 2, /is a directory/],
      [empty, 3, /not a trace\.dat file \(only 0 bytes\)/],
      [loop, 2, /loop/],
      [dangling, 2, /no such file/],
      [join(dir, 'missing.dat'), 2, /no such file/],
    ];
    for (const [path, code, why] of specials) {
      for (const op of ['events', 'watch'] as const) {
        const r = await runTwBounded(CLI_ARGS[op](path), { timeoutMs: 15_000 });
        expect(endingProblem(r), `${op} ${path}: ${r.stderr}`).toBeUndefined();
        expect(r.code, `${op} ${path}: ${r.stderr}`).toBe(code);
        expect(r.stderr, path).toMatch(why);
      }
    }
  }, 120_000);
});
