/**
 * The BPF loader against the real kernel: the test fixtures (test-fixtures/bpf) loaded,
 * attached and read through openBpfProbe. Needs root, clang, bpftool and an addon built with
 * libbpf; skipped with the reason elsewhere. Nothing is pinned, and every test checks that
 * its programs are gone afterwards.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bpfRecords, openBpfProbe, type BpfProbe } from './index.js';
import { sleep } from './test-kernel.js';
import { PKG, bpfSkipReason, buildFixture, getppidChild, linksOf, progIds } from './test-bpf.js';

const skip = bpfSkipReason();
const PROG = 'twrn_getppid';
const N = 5000;

/** The fixture's record after the 16-byte head (getppid.bpf.c): common header, then payload. */
interface GetppidRecord {
  ts: bigint;
  cpu: number;
  len: number;
  commonType: number;
  pid: number;
  tgid: number;
  cookie: bigint;
  tag: string;
}

function collector() {
  const records: GetppidRecord[] = [];
  let batches = 0;
  const onBatch = (data: Uint8Array, release: () => void): void => {
    batches++;
    for (const r of bpfRecords(data)) {
      const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
      records.push({
        ts: r.ts,
        cpu: r.cpu,
        len: r.data.byteLength,
        commonType: dv.getUint16(0, true),
        pid: dv.getInt32(4, true),
        tgid: dv.getInt32(8, true),
        cookie: dv.getBigUint64(16, true),
        tag: Buffer.from(r.data.subarray(24, 32)).toString('latin1').replace(/\0+$/, ''),
      });
    }
    release();
  };
  return { records, onBatch, get batches() { return batches; } };
}

/** Waits until `f()` holds, for up to `ms`. */
async function until(f: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

describe.skipIf(skip !== undefined)(`BPF probes (openBpfProbe)${skip ? ` — skipped: ${skip}` : ''}`, () => {
  let getppid = '';
  let rejected = '';
  const open: BpfProbe[] = [];

  beforeAll(() => {
    getppid = buildFixture('getppid');
    rejected = buildFixture('rejected');
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.stop()));
  });

  function probe(params: Record<string, number | bigint | string | boolean>, extra: { poolSize?: number; batchBytes?: number; latencyMs?: number } = {}): BpfProbe {
    const p = openBpfProbe({ object: getppid, params, ...extra });
    open.push(p);
    return p;
  }

  it(`a child's ${N} getppid() calls give exactly ${N} records, none lost, in time; a probe set to another tgid sees none`, async () => {
    const before = progIds(PROG);
    const c = getppidChild(N);
    await c.ready;
    const tgid = c.child.pid!;
    const t0 = process.hrtime.bigint();
    const mine = probe({ target_tgid: tgid, cookie: 0xfeedface_cafebeefn, tag: 'tw-test' });
    const other = probe({ target_tgid: process.pid }); // this process makes no getppid call
    expect(mine.attachPoints).toEqual(['tracepoint/syscalls/sys_enter_getppid']);
    expect(mine.programs).toEqual([{ name: PROG, section: 'tracepoint/syscalls/sys_enter_getppid' }]);
    expect(progIds(PROG).filter((id) => !before.includes(id))).toHaveLength(2);
    const a = collector();
    const b = collector();
    const errors: Error[] = [];
    mine.start(a.onBatch, (e) => errors.push(e));
    other.start(b.onBatch, (e) => errors.push(e));
    const started = performance.now();
    await c.go();
    const ran = performance.now() - started;
    const t1 = process.hrtime.bigint();
    const lostMine = mine.lost();
    await Promise.all([mine.stop(), other.stop()]);
    const stopped = performance.now() - started;

    expect(errors).toEqual([]);
    expect(a.records).toHaveLength(N);
    expect(b.records).toHaveLength(0);
    for (const r of a.records) {
      expect(r).toMatchObject({ len: 32, commonType: 0, pid: tgid, tgid, cookie: 0xfeedface_cafebeefn, tag: 'tw-test' });
      expect(r.ts >= t0 && r.ts <= t1).toBe(true);
    }
    const last = new Map<number, bigint>();
    let backwards = 0;
    for (const r of a.records) {
      const prev = last.get(r.cpu);
      if (prev !== undefined && r.ts < prev) backwards++;
      last.set(r.cpu, r.ts);
    }
    expect(backwards).toBe(0);
    expect(lostMine.every((n) => n === 0)).toBe(true);
    expect(mine.lost().every((n) => n === 0)).toBe(true); // after stop(): the last values read
    expect(mine.stats()).toMatchObject({ records: N, malformed: 0, poolWaits: 0 });
    // the normal stop() leaves nothing behind
    const after = progIds(PROG).filter((id) => !before.includes(id));
    expect(after).toEqual([]);
    console.log(`${N} getppid calls: child ran ${ran.toFixed(0)} ms, all records in and stopped after ${stopped.toFixed(0)} ms, ${a.batches} batches, ${mine.stats().wakeups} reader wake-ups`);
  });

  it('a program the verifier rejects gives one error quoting the verifier, and nothing stays loaded', () => {
    let err: (Error & { code?: string; program?: string; section?: string; verifierLog?: string[] }) | undefined;
    try {
      open.push(openBpfProbe({ object: rejected }));
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.code).toBe('BPF_VERIFIER');
    expect(err?.program).toBe('twrn_rejected');
    expect(err?.section).toBe('tracepoint/syscalls/sys_enter_getppid');
    expect(err?.message).toContain(`BPF object ${rejected}: the verifier rejected program 'twrn_rejected'`);
    expect(err?.message).toContain('invalid access to map value, value_size=8 off=32 size=8');
    expect(err?.verifierLog?.length).toBeGreaterThan(0);
    expect(err?.verifierLog?.length).toBeLessThanOrEqual(10);
    expect(err?.verifierLog?.some((l) => l.includes('invalid access to map value'))).toBe(true);
    expect(progIds('twrn_rejected')).toEqual([]);
  });

  it('refuses unknown parameters and values that do not fit, before loading', () => {
    const msg = (params: Record<string, number | bigint | string | boolean>): string => {
      try {
        open.push(openBpfProbe({ object: getppid, params }));
        return 'no error';
      } catch (e) {
        return `${(e as { code?: string }).code ?? ''}: ${(e as Error).message}`;
      }
    };
    expect(msg({ target_pid: 1 })).toBe(
      `BPF_PARAM: BPF object ${getppid}: unknown parameter 'target_pid' (no tw_param_target_pid in .rodata or .data; it has target_tgid, cookie, tag, also_tgid)`,
    );
    expect(msg({ tag: 'eight-ch' })).toBe(
      `BPF_PARAM: BPF object ${getppid}: parameter 'tag' is a char[8] string; 'eight-ch' does not fit: it is 8 bytes long, and with its NUL it does not fit`,
    );
    expect(msg({ target_tgid: -1 })).toBe(`BPF_PARAM: BPF object ${getppid}: parameter 'target_tgid' is a 4-byte unsigned integer; -1 does not fit: it is unsigned`);
    expect(msg({ target_tgid: 2 ** 32 })).toMatch(/parameter 'target_tgid' is a 4-byte unsigned integer; 4294967296 does not fit: it does not fit 32 bits$/);
    expect(msg({ cookie: 'x' })).toMatch(/parameter 'cookie' is a 8-byte unsigned integer; 'x' does not fit: a string does not go into an integer$/);
    expect(msg({ tw_param_tag: 'x' })).toBe(": openBpfProbe: give parameter 'tw_param_tag' without its tw_param_ prefix");
    expect(progIds(PROG)).toEqual([]);
  });

  it('live parameters change while the program runs; a fixed one cannot', async () => {
    const a = getppidChild(10);
    const early = getppidChild(10);
    const late = getppidChild(10);
    await Promise.all([a.ready, early.ready, late.ready]);
    const p = probe({ target_tgid: a.child.pid! }, { latencyMs: 5 });
    const col = collector();
    const count = (tgid: number) => col.records.filter((r) => r.tgid === tgid).length;
    p.start(col.onBatch, (e) => {
      throw e;
    });
    await a.go();
    await early.go(); // not watched yet: nothing
    p.setParams({ also_tgid: late.child.pid! });
    await late.go();
    expect(await until(() => count(late.child.pid!) === 10, 5000)).toBe(true);
    expect(count(a.child.pid!)).toBe(10);
    expect(count(early.child.pid!)).toBe(0);
    const msg = (params: Record<string, number>) => {
      try {
        p.setParams(params);
        return 'no error';
      } catch (e) {
        return `${(e as { code?: string }).code}: ${(e as Error).message}`;
      }
    };
    expect(msg({ target_tgid: 1 })).toBe(`BPF_PARAM: BPF object ${getppid}: parameter 'target_tgid' is fixed once the object is loaded (not a live parameter)`);
    expect(msg({ also_tgid: -1 })).toMatch(/parameter 'also_tgid' is a 4-byte unsigned integer; -1 does not fit: it is unsigned$/);
    await p.stop();
    expect(msg({ also_tgid: 1 })).toMatch(/closed/);
  });

  it('back-pressure: with both batches of a pool of 2 held, the reader waits (and counts it), then resumes when they are released', async () => {
    const n = 2000; // 48-byte records, 85 to a 4 KiB batch: about 24 batches, all in the 256 KiB ring meanwhile
    const c = getppidChild(n);
    await c.ready;
    const p = probe({ target_tgid: c.child.pid! }, { poolSize: 2, batchBytes: 4096, latencyMs: 5 });
    const held: Array<() => void> = [];
    let records = 0;
    let holding = true;
    p.start(
      (data, release, count) => {
        records += count;
        if (holding) held.push(release);
        else release();
      },
      (e) => {
        throw e;
      },
    );
    await c.go();
    expect(await until(() => p.stats().poolWaits >= 1, 5000)).toBe(true);
    await sleep(100);
    expect(held).toHaveLength(2); // nothing more came while both were out
    expect(records).toBe(2 * 85);
    holding = false;
    for (const r of held) r();
    expect(await until(() => records === n, 5000)).toBe(true);
    await p.stop();
    const stats = p.stats();
    expect(stats).toMatchObject({ records: n, malformed: 0 });
    expect(stats.poolWaits).toBeGreaterThanOrEqual(1); // more after the release: JS gives slots back one batch at a time
    expect(stats.poolWaitNs).toBeGreaterThan(100e6); // the first wait lasted through the 100 ms sleep
    expect(p.lost().every((x) => x === 0)).toBe(true);
  });

  it('rounds: on the latency grid, idle too, each after every record committed before its drainedNs', async () => {
    const n = 3000;
    const latencyMs = 20;
    const c = getppidChild(n);
    await c.ready;
    const p = probe({ target_tgid: c.child.pid! }, { latencyMs });
    const events: Array<{ kind: 'record'; ts: number } | { kind: 'round'; at: number; drained: number }> = [];
    const errors: Error[] = [];
    p.start(
      (data, release) => {
        for (const r of bpfRecords(data)) events.push({ kind: 'record', ts: Number(r.ts) });
        release();
      },
      (e) => errors.push(e),
      (drained) => events.push({ kind: 'round', at: Number(process.hrtime.bigint()), drained }),
    );
    await sleep(200); // idle: rounds come anyway
    const idleRounds = events.filter((e) => e.kind === 'round').length;
    await c.go();
    await sleep(3 * latencyMs);
    await p.stop();
    expect(errors).toEqual([]);
    expect(idleRounds).toBeGreaterThanOrEqual(5); // about 10 in 200 ms at 20 ms
    const rounds = events.filter((e) => e.kind === 'round');
    const records = events.filter((e) => e.kind === 'record');
    expect(records).toHaveLength(n);
    let prev = 0;
    for (const r of rounds) {
      expect(r.drained).toBeGreaterThan(prev); // time moves forward
      expect(r.drained).toBeLessThanOrEqual(r.at); // and is in the past when JS hears of it
      prev = r.drained;
    }
    // the promise: after a round, no record stamped before its drainedNs comes any more
    let drainedTo = 0;
    let late = 0;
    for (const e of events) {
      if (e.kind === 'round') drainedTo = e.drained;
      else if (e.ts < drainedTo) late++;
    }
    expect(late).toBe(0);
    // rounds are about latencyMs apart (grid points), not one per wake-up
    const gaps = rounds.slice(1).map((r, i) => (r.drained - rounds[i]!.drained) / 1e6);
    expect(Math.min(...gaps)).toBeGreaterThan(latencyMs / 2);
  });

  it('a full ring buffer makes the program count what it drops in tw_lost', async () => {
    const n = 8000; // 56 bytes a record in the ring (8-byte header): 4681 fit in 256 KiB
    const c = getppidChild(n);
    await c.ready;
    const p = probe({ target_tgid: c.child.pid! }, { poolSize: 1, batchBytes: 4096 });
    const held: Array<() => void> = [];
    let records = 0;
    p.start(
      (data, release, count) => {
        records += count;
        held.push(release);
      },
      () => undefined,
    );
    await c.go();
    const lost = p.lost().reduce((s, x) => s + x, 0);
    for (const r of held.splice(0)) r();
    let released = 0;
    const drain = setInterval(() => {
      for (const r of held.splice(0)) (r(), released++);
    }, 5);
    await p.stop();
    clearInterval(drain);
    expect(lost).toBeGreaterThan(0);
    expect(records + lost).toBe(n);
  });

  describe('nothing stays in the kernel', () => {
    const dist = join(PKG, 'dist', 'index.js');

    function childScript(body: string): string {
      return `
        import { openBpfProbe } from ${JSON.stringify(pathToFileURL(dist).href)};
        const object = ${JSON.stringify(getppid)};
        ${body}`;
    }

    it('after kill -9 of the process that attached the probe', async (ctx) => {
      if (!existsSync(dist)) ctx.skip('dist/ is not built (run turbo run build first)');
      const before = progIds(PROG);
      const script = childScript(`
        const p = openBpfProbe({ object, params: { target_tgid: process.pid } });
        p.start((d, release) => release(), () => {});
        console.log('attached ' + p.attachPoints.join(','));
        setInterval(() => {}, 1000);`);
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (b) => (out += String(b)));
      child.stderr.on('data', (b) => (err += String(b)));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      try {
        expect(await until(() => out.includes('attached'), 10_000)).toBe(true);
      } finally {
        if (!out.includes('attached')) child.kill('SIGKILL');
      }
      expect(err).toBe('');
      expect(out).toContain('attached tracepoint/syscalls/sys_enter_getppid');
      const ids = progIds(PROG).filter((id) => !before.includes(id));
      expect(ids).toHaveLength(1);
      expect(linksOf(ids)).toHaveLength(1);
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      // the kernel frees the program once its last reference (the link, the fds) is gone; that is
      // deferred a little (RCU), so give it a moment
      expect(await until(() => progIds(PROG).every((id) => !ids.includes(id)), 3000)).toBe(true);
      expect(linksOf(ids)).toEqual([]);
    });

    it('after a worker that attached it is terminated without stop() (env cleanup hook)', async (ctx) => {
      if (!existsSync(dist)) ctx.skip('dist/ is not built (run turbo run build first)');
      const before = progIds(PROG);
      const script = `
        import { Worker } from 'node:worker_threads';
        const w = new Worker(\`
          import { parentPort, workerData } from 'node:worker_threads';
          const { openBpfProbe } = await import(workerData.url);
          const p = openBpfProbe({ object: workerData.object, params: { target_tgid: process.pid } });
          p.start((d, release) => release(), () => {});
          parentPort.postMessage('started');\`, { eval: true, workerData: { url: ${JSON.stringify(pathToFileURL(dist).href)}, object: ${JSON.stringify(getppid)} } });
        await new Promise((res) => w.once('message', res));
        console.log('attached');
        await new Promise((res) => process.stdin.once('data', res));
        await w.terminate();
        console.log('terminated');
        await new Promise((res) => process.stdin.once('data', res));`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (b) => (out += String(b)));
      child.stderr.on('data', (b) => (err += String(b)));
      try {
        expect(await until(() => out.includes('attached'), 10_000)).toBe(true);
        const ids = progIds(PROG).filter((id) => !before.includes(id));
        expect(ids).toHaveLength(1);
        child.stdin.write('\n');
        expect(await until(() => out.includes('terminated'), 10_000)).toBe(true);
        // the process still runs: only the hook can have detached and closed it
        expect(await until(() => progIds(PROG).every((id) => !ids.includes(id)), 3000)).toBe(true);
        expect(linksOf(ids)).toEqual([]);
        expect(err).toBe('');
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});
