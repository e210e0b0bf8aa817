/**
 * The readers against the real kernel: every backend available here, in a private tracefs
 * instance that is always removed. Needs root and tracefs; skipped with the reason elsewhere.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRingReader, probeBackends, type Backend, type RingReader } from './index.js';
import { listCpus } from './paths.js';
import {
  CHILD_CPU,
  TestInstance,
  kernelSkipReason,
  records,
  removeStaleTestInstances,
  runGetppid,
  sleep,
  threadCount,
} from './test-kernel.js';

const skip = kernelSkipReason();
const BACKENDS: Backend[] = ['mmap', 'read', 'js'];
const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `fn` with a fresh instance (trace clock "mono", comparable with process.hrtime), removed after. */
async function withInstance<T>(fn: (inst: TestInstance) => Promise<T>, opts: { bufferKb?: number } = {}): Promise<T> {
  const inst = new TestInstance(opts);
  try {
    return await fn(inst);
  } finally {
    await inst.remove();
  }
}

/** Counts records of event `id` per pid; checks timestamps never go back on a CPU. */
function counter(id: number) {
  const byPid = new Map<number, number>();
  const lastTs = new Map<number, bigint>();
  const tsOf = new Map<number, bigint[]>();
  let subbufs = 0;
  let backwards = 0;
  const onData = (cpu: number, data: Uint8Array, release: () => void): void => {
    subbufs++;
    for (const r of records(data)) {
      const prev = lastTs.get(cpu);
      if (prev !== undefined && r.ts < prev) backwards++;
      lastTs.set(cpu, r.ts);
      if (r.type !== id) continue;
      byPid.set(r.pid, (byPid.get(r.pid) ?? 0) + 1);
      let l = tsOf.get(r.pid);
      if (!l) tsOf.set(r.pid, (l = []));
      l.push(r.ts);
    }
    release();
  };
  return { onData, byPid, tsOf, get subbufs() { return subbufs; }, get backwards() { return backwards; } };
}

function failOnError(errors: Error[]) {
  return (e: Error) => errors.push(e);
}

describe.skipIf(skip)(`relay-native on the real kernel${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let avail: Record<Backend, true | string> = { mmap: 'not probed', read: 'not probed', js: 'not probed' };
  let cpus: number[] = [];
  const latencies: Record<string, number[]> = {};

  beforeAll(async () => {
    removeStaleTestInstances();
    await withInstance(async (inst) => {
      avail = await probeBackends(inst.dir);
      cpus = listCpus(inst.dir);
    });
    console.log('[relay-native] backends here:', JSON.stringify(avail));
  });

  afterAll(() => {
    if (Object.keys(latencies).length) console.log('[relay-native] latency (ms, latencyMs=50):', JSON.stringify(latencies));
  });

  function need(backend: Backend, ctx: { skip: (note?: string) => never }): void {
    if (avail[backend] !== true) ctx.skip(`${backend} unavailable: ${avail[backend]}`);
  }

  for (const backend of BACKENDS) {
    describe(backend, () => {
      it('hands over exactly N getppid records of the child, with sane timestamps', async (ctx) => {
        need(backend, ctx);
        await withInstance(async (inst) => {
          inst.setClock('mono');
          const id = inst.enable('syscalls', 'sys_enter_getppid');
          const reader = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend });
          const errors: Error[] = [];
          const c = counter(id);
          try {
            expect(reader.backend).toBe(backend);
            reader.start(c.onData, failOnError(errors));
            const t0 = process.hrtime.bigint();
            // bursts 30 ms apart: the readers see the same sub-buffer grow, and take it in pieces
            const pid = await runGetppid(3000, { bursts: 20, pauseMs: 30 });
            const t1 = process.hrtime.bigint();
            await reader.stop();
            expect(errors).toEqual([]);
            expect(c.byPid.get(pid)).toBe(3000);
            // a consumer that releases at once never makes the reader wait; rounds took it all
            const stats = reader.stats();
            expect(stats.map((s) => s.cpu)).toEqual(cpus);
            expect(stats.every((s) => s.poolWaits === 0 && s.poolWaitNs === 0)).toBe(true);
            expect(stats.reduce((n, s) => n + s.rounds, 0)).toBeGreaterThan(0);
            expect(Math.max(...stats.map((s) => s.maxRound))).toBeGreaterThan(0);
            const ts = c.tsOf.get(pid)!;
            expect(ts[0]! >= t0 && ts[ts.length - 1]! <= t1).toBe(true);
            expect(c.backwards).toBe(0);
          } finally {
            await reader.stop();
          }
        });
      });

      it('reports rounds: every CPU at least every latencyMs, and no event it recorded before a round arrives after it', async (ctx) => {
        need(backend, ctx);
        await withInstance(async (inst) => {
          inst.setClock('mono');
          const id = inst.enable('syscalls', 'sys_enter_getppid');
          const latencyMs = 40;
          const reader = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend, latencyMs });
          const errors: Error[] = [];
          // everything in arrival order: a record's CPU and timestamp, or a round's CPU and time
          const log: Array<{ cpu: number; ts: number; round: boolean; at: number }> = [];
          let mine = 0;
          try {
            reader.start(
              (cpu, data, release) => {
                for (const r of records(data)) {
                  log.push({ cpu, ts: Number(r.ts), round: false, at: 0 });
                  if (r.type === id) mine++;
                }
                release();
              },
              failOnError(errors),
              (cpu, drainedNs) => log.push({ cpu, ts: drainedNs, round: true, at: Number(process.hrtime.bigint()) }),
            );
            // getppid storms on every CPU, in bursts, so rounds find full, partial and empty sub-buffers
            await Promise.all(cpus.map((cpu) => runGetppid(20_000, { cpu, bursts: 10, pauseMs: 25 })));
            await sleep(3 * latencyMs);
            await reader.stop();
            expect(errors).toEqual([]);
            expect(mine).toBeGreaterThanOrEqual(20_000 * cpus.length);
            // a round at T: no record of that CPU with a timestamp before T comes later (1 ms is the
            // smallest margin tw allows for an event being written while the round reads)
            const roundAt = new Map<number, number>();
            let late = 0, lateStrict = 0;
            for (const e of log) {
              if (e.round) {
                expect(e.ts).toBeLessThanOrEqual(e.at);
                roundAt.set(e.cpu, Math.max(roundAt.get(e.cpu) ?? 0, e.ts));
                continue;
              }
              const t = roundAt.get(e.cpu);
              if (t !== undefined && e.ts < t) lateStrict++;
              if (t !== undefined && e.ts < t - 1e6) late++;
            }
            if (lateStrict > 0) console.log(`[relay-native] ${backend}: ${lateStrict} records within 1 ms before a round's time arrived after it`);
            expect(late).toBe(0);
            // every CPU reports, at least every latencyMs (with room for a loaded machine)
            for (const cpu of cpus) {
              const times = log.filter((e) => e.round && e.cpu === cpu).map((e) => e.at);
              expect(times.length, `rounds of CPU ${cpu}`).toBeGreaterThan(3);
              let gap = 0;
              for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
              expect(gap / 1e6, `longest gap between rounds of CPU ${cpu} (ms)`).toBeLessThan(4 * latencyMs);
            }
          } finally {
            await reader.stop();
          }
        });
      });

      it('stop() drains a partially filled sub-buffer that the reader had not taken yet', async (ctx) => {
        need(backend, ctx);
        await withInstance(async (inst) => {
          const id = inst.enable('syscalls', 'sys_enter_getppid');
          // with a 30 s latency nothing is read before stop(): everything comes from the drain
          const reader = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend, latencyMs: 30_000 });
          const errors: Error[] = [];
          const c = counter(id);
          try {
            reader.start(c.onData, failOnError(errors));
            const pid = await runGetppid(100);
            await sleep(50);
            expect(c.byPid.get(pid) ?? 0).toBe(0);
            const t = Date.now();
            await reader.stop();
            expect(Date.now() - t).toBeLessThan(2000);
            expect(errors).toEqual([]);
            expect(c.byPid.get(pid)).toBe(100);
          } finally {
            await reader.stop();
          }
        });
      });

      it('delivers a single event within latencyMs + 100 ms, without stop()', async (ctx) => {
        need(backend, ctx);
        await withInstance(async (inst) => {
          const printId = inst.eventId('ftrace', 'print');
          const reader = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend, latencyMs: 50 });
          let arrived: (() => void) | undefined;
          const errors: Error[] = [];
          try {
            reader.start((_cpu, data, release) => {
              if (records(data).some((r) => r.type === printId)) arrived?.();
              release();
            }, failOnError(errors));
            await sleep(120);
            const seen: number[] = [];
            for (let i = 0; i < 5; i++) {
              const got = new Promise<void>((r) => (arrived = r));
              const t0 = performance.now();
              inst.mark(`tw-relay-native latency probe ${i}`);
              await Promise.race([got, sleep(2000)]);
              seen.push(Math.round(performance.now() - t0));
              await sleep([5, 17, 29, 41, 0][i]!); // land at different points of the poll timeout
            }
            latencies[backend] = seen;
            expect(Math.max(...seen)).toBeLessThan(50 + 100);
            expect(errors).toEqual([]);
          } finally {
            await reader.stop();
          }
        });
      });

      it('back-pressure: with poolSize 2 and nothing released it holds, stays bounded, and resumes', async (ctx) => {
        need(backend, ctx);
        await withInstance(
          async (inst) => {
            const id = inst.enable('syscalls', 'sys_enter_getppid');
            const reader = openRingReader({ instance: inst.dir, cpus: [CHILD_CPU], subbufSize: inst.subbufSize, backend, poolSize: 2, latencyMs: 20 });
            const held: Array<() => void> = [];
            let releasing = false;
            let deliveries = 0;
            let records0 = 0;
            let missedFlag = 0;
            const errors: Error[] = [];
            try {
              const threads0 = threadCount();
              const started = process.hrtime.bigint();
              reader.start((_cpu, data, release) => {
                deliveries++;
                records0 += records(data).filter((r) => r.type === id).length;
                if (new DataView(data.buffer, data.byteOffset).getUint32(8, true) & 0x8000_0000) missedFlag++;
                if (releasing) release();
                else held.push(release);
              }, failOnError(errors));
              const rss0 = process.memoryUsage().rss;
              await runGetppid(60_000); // ~1.5 MB of records into a 128 KiB ring
              await sleep(200);
              expect(deliveries).toBe(2);
              expect(held).toHaveLength(2);
              expect(threadCount()).toBe(threads0 + (backend === 'js' ? 0 : 1));
              expect(process.memoryUsage().rss - rss0).toBeLessThan(64 * 1024 * 1024);
              expect(inst.overrun(CHILD_CPU)).toBeGreaterThan(0); // the kernel absorbed and counted it
              // ... and the reader counted that it waited for the consumer
              expect(reader.stats()).toEqual([expect.objectContaining({ cpu: CHILD_CPU, poolWaits: 1 })]);
              releasing = true;
              for (const r of held.splice(0)) r();
              for (let i = 0; i < 50 && deliveries <= 2; i++) await sleep(20);
              expect(deliveries).toBeGreaterThan(2);
              await runGetppid(500);
              await reader.stop();
              expect(errors).toEqual([]);
              expect(records0).toBeGreaterThan(500);
              // the wait lasted from filling the pool (before the 200 ms sleep) to the release
              const [s] = reader.stats();
              expect(s!.poolWaits).toBeGreaterThanOrEqual(1);
              expect(s!.poolWaitNs).toBeGreaterThan(200e6);
              expect(s!.poolWaitNs).toBeLessThan(Number(process.hrtime.bigint() - started));
              expect(s!.maxRound).toBeGreaterThanOrEqual(2);
              // the sub-buffer after the overwritten ones says so (RB_MISSED_EVENTS in the commit word)
              expect(missedFlag).toBeGreaterThan(0);
            } finally {
              await reader.stop();
            }
          },
          { bufferKb: 128 },
        );
      });

      it('stop() drains everything even while the consumer holds the whole pool', async (ctx) => {
        need(backend, ctx);
        await withInstance(async (inst) => {
          const id = inst.enable('syscalls', 'sys_enter_getppid');
          const reader = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend, poolSize: 2, latencyMs: 20 });
          const errors: Error[] = [];
          const held: Array<() => void> = [];
          const c = counter(id);
          try {
            // like a merge that queues sub-buffers and only releases them after stop()
            reader.start((cpu, data, release) => {
              c.onData(cpu, data, () => {});
              held.push(release);
            }, failOnError(errors));
            const pid = await runGetppid(3000);
            await reader.stop();
            expect(errors).toEqual([]);
            expect(c.byPid.get(pid)).toBe(3000);
            expect(held.length).toBeGreaterThan(2);
          } finally {
            for (const r of held) r();
            await reader.stop();
          }
        });
      });

      it('names the file and the errno when a CPU does not exist', async (ctx) => {
        need(backend, ctx);
        await withInstance(async (inst) => {
          const path = join(inst.dir, 'per_cpu', 'cpu4095', 'trace_pipe_raw');
          expect(() => openRingReader({ instance: inst.dir, cpus: [0, 4095], subbufSize: inst.subbufSize, backend })).toThrow(
            `cannot open ${path}: No such file or directory (ENOENT)`,
          );
        });
      });
    });
  }

  it('auto picks the cheapest backend that works (read, mmap, js) and says why others were not used', async () => {
    await withInstance(async (inst) => {
      const reader = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize });
      try {
        const expected: Backend = avail.read === true ? 'read' : avail.mmap === true ? 'mmap' : 'js';
        expect(reader.backend).toBe(expected);
        if (expected === 'read') expect(reader.fallbackReason).toBeUndefined();
        else expect(reader.fallbackReason).toMatch(/./);
      } finally {
        await reader.stop();
      }
    });
  });

  it('stop() is idempotent, works before start(), and leaves no threads behind', async (ctx) => {
    const native: Backend | undefined = avail.mmap === true ? 'mmap' : avail.read === true ? 'read' : undefined;
    if (!native) return ctx.skip('no native backend here');
    await withInstance(async (inst) => {
      // never started: stop() resolves and frees the files at once (rmdir would fail otherwise)
      const idle = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend: native });
      await idle.stop();
      await idle.stop();
      expect(() => idle.start(() => {}, () => {})).toThrow(/stopped/);

      const before = threadCount();
      const reader: RingReader = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend: native });
      reader.start((_c, _d, release) => release(), () => {});
      expect(threadCount()).toBe(before + cpus.length);
      const p1 = reader.stop();
      const p2 = reader.stop();
      expect(p2).toBe(p1);
      await p1;
      expect(threadCount()).toBe(before);
      await reader.stop();
      expect(() => reader.start(() => {}, () => {})).toThrow(/stopped/);
    });
  });

  it('realtime: reader threads run SCHED_FIFO 1; without it, 10 nice levels up in the normal class', async (ctx) => {
    const native: Backend | undefined = avail.mmap === true ? 'mmap' : avail.read === true ? 'read' : undefined;
    if (!native) return ctx.skip('no native backend here');
    // /proc/self/task/TID/stat: field 19 nice, 40 rt_priority, 41 policy (0 normal, 1 FIFO)
    const readers = (): Array<{ comm: string; nice: number; rtPrio: number; policy: number }> =>
      readdirSync('/proc/self/task').flatMap((tid) => {
        let stat: string;
        try {
          stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        } catch {
          return [];
        }
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (!comm.startsWith('tw-rn-cpu')) return [];
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return [{ comm, nice: Number(f[19 - 3]), rtPrio: Number(f[40 - 3]), policy: Number(f[41 - 3]) }];
      });
    const settled = async (want: (r: ReturnType<typeof readers>) => boolean): Promise<ReturnType<typeof readers>> => {
      let r = readers();
      for (let i = 0; i < 100 && !want(r); i++) {
        await sleep(10);
        r = readers();
      }
      return r;
    };
    const selfStat = readFileSync('/proc/self/stat', 'utf8');
    const ownNice = Number(selfStat.slice(selfStat.lastIndexOf(')') + 2).split(' ')[19 - 3]);
    await withInstance(async (inst) => {
      for (const realtime of [true, false]) {
        const reader = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend: native, realtime });
        reader.start((_c, _d, release) => release(), () => {});
        try {
          const want = realtime
            ? (r: ReturnType<typeof readers>) => r.length === cpus.length && r.every((t) => t.policy === 1)
            : (r: ReturnType<typeof readers>) => r.length === cpus.length && r.every((t) => t.nice === Math.max(-20, ownNice - 10));
          const got = await settled(want);
          expect(got.map((t) => t.comm).sort()).toEqual(cpus.map((c) => `tw-rn-cpu${c}`.slice(0, 15)).sort());
          if (realtime) for (const t of got) expect(t, t.comm).toMatchObject({ policy: 1, rtPrio: 1 });
          else for (const t of got) expect(t, t.comm).toMatchObject({ policy: 0, rtPrio: 0, nice: Math.max(-20, ownNice - 10) });
        } finally {
          await reader.stop();
        }
      }
    });
  });

  it('a large pool costs memory only for the slots that were used', async (ctx) => {
    const native: Backend | undefined = avail.mmap === true ? 'mmap' : avail.read === true ? 'read' : undefined;
    if (!native) return ctx.skip('no native backend here');
    const rssKb = (): number => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    await withInstance(async (inst) => {
      // 16384 slots: 64 MiB per CPU of address space
      const poolSize = Math.min(16_384, Math.floor(2 ** 30 / inst.subbufSize));
      const before = rssKb();
      const reader = openRingReader({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend: native, poolSize });
      const c = counter(inst.enable('syscalls', 'sys_enter_getppid'));
      reader.start(c.onData, () => {});
      const child = await runGetppid(2000);
      await reader.stop();
      const grownKb = rssKb() - before;
      expect(c.byPid.get(child)).toBe(2000);
      // reserved: cpus × 64 MiB; touched: a few slots (and the JS views of them)
      expect(grownKb, `RSS grew by ${grownKb} KiB for ${cpus.length} × ${(poolSize * inst.subbufSize) >> 20} MiB of pool`).toBeLessThan(16 * 1024);
    });
  });

  it('the process exits promptly after stop(), and a worker torn down mid-read exits cleanly', async (ctx) => {
    const dist = join(PKG, 'dist', 'index.js');
    if (!existsSync(dist)) ctx.skip('dist/ is not built (run turbo run build first)');
    const native: Backend | undefined = avail.mmap === true ? 'mmap' : avail.read === true ? 'read' : undefined;
    if (!native) return ctx.skip('no native backend here');
    await withInstance(async (inst) => {
      const url = pathToFileURL(dist).href;
      const args = JSON.stringify({ instance: inst.dir, cpus, subbufSize: inst.subbufSize, backend: native });
      const script = `
        import { Worker } from 'node:worker_threads';
        import { openRingReader } from ${JSON.stringify(url)};
        const o = ${args};
        const r = openRingReader(o);
        r.start((c, d, release) => release(), (e) => { console.error(e); process.exitCode = 3; });
        await new Promise((res) => setTimeout(res, 100));
        await r.stop();
        await r.stop();
        // a worker that starts a reader and is terminated without stop(): the env cleanup hook
        const w = new Worker(\`
          import { parentPort, workerData } from 'node:worker_threads';
          const { openRingReader } = await import(workerData.url);
          const r = openRingReader(workerData.o);
          r.start((c, d, release) => release(), () => {});
          parentPort.postMessage('started');\`, { eval: true, workerData: { url: ${JSON.stringify(url)}, o } });
        await new Promise((res) => w.once('message', res));
        await new Promise((res) => setTimeout(res, 100));
        await w.terminate();
        console.log('done ' + Date.now());
      `;
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string; exitedAt: number }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b) => (stdout += String(b)));
        child.stderr.on('data', (b) => (stderr += String(b)));
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.on('error', reject);
        child.on('exit', (code) => {
          clearTimeout(kill);
          resolve({ code, stdout, stderr, exitedAt: Date.now() });
        });
      });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      const doneAt = Number(/done (\d+)/.exec(out.stdout)?.[1]);
      expect(out.exitedAt - doneAt).toBeLessThan(1500);
    });
  });

  it('opening without permission names the file and the errno', async (ctx) => {
    const dist = join(PKG, 'dist');
    if (!existsSync(join(dist, 'index.js'))) ctx.skip('dist/ is not built (run turbo run build first)');
    await withInstance(async (inst) => {
      // as nobody, tracefs (mode 0700) cannot even be entered
      const script = `
        import { loadNative } from ${JSON.stringify(pathToFileURL(join(dist, 'load-native.js')).href)};
        import { JsRingReader } from ${JSON.stringify(pathToFileURL(join(dist, 'js-reader.js')).href)};
        import { openRingReader } from ${JSON.stringify(pathToFileURL(join(dist, 'index.js')).href)};
        const o = { instance: ${JSON.stringify(inst.dir)}, cpus: [0], subbufSize: ${inst.subbufSize}, poolSize: 2, latencyMs: 50 };
        const out = {};
        const msg = (f) => { try { f(); return 'no error'; } catch (e) { return e.message + ' [' + e.code + ']'; } };
        const b = loadNative().binding;
        if (b) {
          out.mmap = msg(() => new b.NativeReader({ ...o, backend: 'mmap' }));
          out.read = msg(() => new b.NativeReader({ ...o, backend: 'read' }));
        }
        out.js = msg(() => new JsRingReader({ ...o, backend: 'js' }, undefined));
        out.open = msg(() => openRingReader(o));
        console.log(JSON.stringify(out));
      `;
      const res = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b) => (stdout += String(b)));
        child.stderr.on('data', (b) => (stderr += String(b)));
        child.on('error', reject);
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
      if (res.code !== 0 && /Cannot find|EACCES.*node_modules|ERR_MODULE/.test(res.stderr)) ctx.skip(`an unprivileged user cannot load the package here: ${res.stderr.split('\n')[0]}`);
      expect(res.stderr).toBe('');
      const out = JSON.parse(res.stdout) as Record<string, string>;
      const path = join(inst.dir, 'per_cpu', 'cpu0', 'trace_pipe_raw');
      for (const k of ['mmap', 'read', 'js'] as const) {
        if (out[k] === undefined) continue;
        expect(out[k]).toBe(`cannot open ${path}: Permission denied (EACCES) [EACCES]`);
      }
      expect(out['open']).toMatch(new RegExp(`${inst.dir}.*(permission denied|EACCES)`, 'i'));
    });
  });
});
