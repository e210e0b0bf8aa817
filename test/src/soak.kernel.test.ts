// The soak, scaled down for CI: bench/soak.mjs for TW_SOAK_MINUTES (default 2) — a getppid storm
// at 100k calls/s and an unlinkat storm at 10k/s (BPF probe), watched by three tw processes at
// once (an exact counter filtered in the kernel, system-wide syscall counts, the BPF probe's
// counter). It prints each tw's RSS and open fds over time and fails unless they stay flat, the
// losses account for every call the storms made, and every tw ends cleanly with nothing left.
// The hour-long run: npm run soak -- --minutes 60.
import { describe, expect, it } from 'vitest';
import { run } from './support/proc.js';
import { skipReason, which } from './support/tracefs.js';
import { REPO_ROOT } from './support/tw.js';

const reason = skipReason() ?? (which('cc') ? undefined : 'no C compiler (cc) for bench/live-helpers.c');
if (reason) console.warn(`[soak.kernel] skipped: ${reason}`);
const MINUTES = Number(process.env['TW_SOAK_MINUTES'] ?? 2);

describe.skipIf(reason !== undefined)('soak', () => {
  it(`${MINUTES} min at a high syscall rate with several watches: RSS and fds flat, every call seen or counted lost`, async () => {
    const r = await run(process.execPath, ['bench/soak.mjs', '--minutes', String(MINUTES)], { cwd: REPO_ROOT, check: false });
    // the curve, for the log
    console.log(r.stdout.split('\n').slice(0, -2).join('\n'));
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; calls: number; failures: string[]; results: Record<string, { seen?: number; lost: number }>; flat: unknown[] };
    expect(summary.failures, r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    expect(summary.ok).toBe(true);
    // the storm ran at its rate (not starved into proving nothing)
    expect(summary.calls).toBeGreaterThan(MINUTES * 60 * 100_000 * 0.8);
    const count = summary.results['soak-count']!;
    expect(count.seen! + count.lost).toBe(summary.calls);
    expect(summary.flat.length).toBeGreaterThanOrEqual(2);
  }, (MINUTES * 60 + 120) * 1000);
});
