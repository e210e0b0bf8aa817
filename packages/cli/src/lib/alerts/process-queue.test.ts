// The --exec path with real /bin/sh commands: the alert's JSON on stdin and TW_* in the
// environment, at most `concurrency` at once, a bounded queue (the rest counted), a failing
// command said once and the rest counted while later alerts still run, timeouts, and the end's
// bounded wait. push() never waits for a process.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertRecord, type Alert } from '@tw/core';
import { ExecSink } from './exec-sink.js';
import { ProcessQueue, type ProcessQueueOptions } from './process-queue.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-exec-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function queue(over: Partial<ProcessQueueOptions> = {}): { q: ProcessQueue; warnings: string[] } {
  const warnings: string[] = [];
  const q = new ProcessQueue({ label: '--exec', concurrency: 4, queueLimit: 64, timeoutMs: 30_000, output: 'ignore', warn: (l) => warnings.push(l), ...over });
  return { q, warnings };
}

function alert(n: number, culprit = true): Alert {
  return {
    time: '2025-01-31T12:00:00.123Z',
    ts: 1_000_000_000n + BigInt(n),
    watch: 'w',
    message: `alert ${n} with 'quotes' and $HOME`,
    ...(culprit ? { culprit: { pid: 4242, comm: 'victim', tgid: 4240, ppid: 1 } } : {}),
    details: { n },
  };
}

function send(sink: ExecSink, a: Alert): void {
  const r = alertRecord(a);
  sink.alert(a, r, JSON.stringify(r));
}

/** a process's state letter from /proc (R, S, Z …), or "gone" */
function stateOf(pid: number): string {
  try {
    return /\) (\S) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? '?';
  } catch {
    return 'gone';
  }
}

const sh = (cmd: string) => ({ file: '/bin/sh', args: ['-c', cmd], what: 'an alert of w' });

describe('--exec (ExecSink over a ProcessQueue)', () => {
  it('gives each command the alert as one JSON line on stdin and TW_* in its environment', async () => {
    const { q, warnings } = queue();
    const sink = new ExecSink(`{ cat; printf '%s|%s|%s|%s|%s|%s|%s|%s\\n' "$TW_WATCH" "$TW_MESSAGE" "$TW_TIME" "$TW_TS" "$TW_PID" "$TW_COMM" "$TW_TGID" "$TW_PPID"; } > "${dir}/$TW_TS"`, q, 5000);
    send(sink, alert(1));
    send(sink, alert(2, false));
    expect(await sink.end()).toEqual([]);
    expect(warnings).toEqual([]);
    const [stdin1, env1] = readFileSync(join(dir, '1000000001'), 'utf8').split('\n');
    expect(JSON.parse(stdin1!)).toEqual(JSON.parse(JSON.stringify(alertRecord(alert(1)))));
    expect(env1).toBe(`w|alert 1 with 'quotes' and $HOME|2025-01-31T12:00:00.123Z|1000000001|4242|victim|4240|1`);
    // without a culprit the culprit's variables are empty (not inherited from tw's environment)
    expect(readFileSync(join(dir, '1000000002'), 'utf8').split('\n')[1]).toBe(`w|alert 2 with 'quotes' and $HOME|2025-01-31T12:00:00.123Z|1000000002||||`);
  });

  it('push() returns at once: no process is started on the alert\'s path', () => {
    const { q } = queue({ queueLimit: Infinity });
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) q.push(sh('true'));
    expect(performance.now() - t0).toBeLessThan(50);
    expect(q.stats.started).toBe(0);
    return q.end(20_000);
  });

  it('holds the concurrency bound, queues up to its limit and counts the rest as dropped', async () => {
    const { q, warnings } = queue({ concurrency: 2, queueLimit: 3 });
    const log = join(dir, 'log');
    const accepted = Array.from({ length: 8 }, (_, i) => q.push(sh(`echo "+ ${i}" >> ${log}; sleep 0.2; echo "- ${i}" >> ${log}`)));
    expect(accepted).toEqual([true, true, true, true, true, false, false, false]);
    const said = await q.end(20_000);
    expect(q.stats).toMatchObject({ started: 5, failed: 0, dropped: 3, notRun: 0, killedAtEnd: 0 });
    expect(warnings).toEqual([]);
    expect(said).toEqual(['tw: warning: --exec: 3 alerts not run: 3 were already waiting (2 run at once); they are in the other outputs']);
    let running = 0;
    let most = 0;
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(10);
    for (const l of lines) {
      running += l.startsWith('+') ? 1 : -1;
      most = Math.max(most, running);
    }
    expect(most).toBe(2);
  });

  it('a failing command is said once, the others counted, and later alerts still run', async () => {
    const { q, warnings } = queue({ concurrency: 1 });
    const sink = new ExecSink(`cat > /dev/null; [ "$TW_TS" = 1000000003 ] && touch "${dir}/ran-$TW_TS"; [ "$TW_TS" = 1000000003 ]`, q, 5000);
    for (const n of [1, 2, 3]) send(sink, alert(n));
    const said = await sink.end();
    expect(warnings).toEqual(['tw: warning: --exec failed for an alert of w: exit status 1; tw goes on (further failures are counted)']);
    expect(said).toEqual(['tw: warning: --exec: 2 of 3 commands failed (the first is reported above)']);
    expect(readdirSync(dir)).toEqual(['ran-1000000003']);
  });

  it('a command that cannot start is a failure like any other', async () => {
    const { q, warnings } = queue();
    q.push({ file: join(dir, 'no-such-program'), args: [], what: 'an alert of w' });
    await q.end(5000);
    expect(q.stats.failed).toBe(1);
    expect(warnings).toEqual([expect.stringMatching(/^tw: warning: --exec failed for an alert of w: could not start .*no-such-program: .*ENOENT/)]);
  });

  it('kills a command (and what it started) at its timeout', async () => {
    const { q, warnings } = queue({ timeoutMs: 300 });
    const t0 = Date.now();
    q.push(sh(`sleep 30 & echo $! > ${dir}/child; wait`));
    await q.end(20_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(warnings).toEqual(['tw: warning: --exec failed for an alert of w: timed out after 0.3 s (killed); tw goes on (further failures are counted)']);
    // the shell's own child went with its process group
    const child = Number(readFileSync(join(dir, 'child'), 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    expect(stateOf(child), 'sleep is gone, or a zombie its new parent has not reaped yet').toMatch(/^(gone|Z)$/);
  });

  it('at the end waits no longer than asked, then kills what runs and gives up what waits', async () => {
    const { q } = queue({ concurrency: 1 });
    q.push(sh('sleep 30'));
    q.push(sh('sleep 30'));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const said = await q.end(300);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(q.stats).toMatchObject({ started: 1, killedAtEnd: 1, notRun: 1 });
    expect(said).toContain('tw: warning: --exec: after the trace ended tw waited 0.3 s, then killed 1 command still running and gave up 1 waiting alert');
  });
});
