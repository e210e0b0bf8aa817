/**
 * Helpers for the kernel tests: a private tracefs instance per test (always removed), a
 * child making an exact number of syscalls on one CPU, and just enough of the sub-buffer
 * format to count records (the real decoder lives in @tw/core).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { cpus as osCpus } from 'node:os';
import { join } from 'node:path';

export const TRACEFS = '/sys/kernel/tracing';

/** Why the kernel tests cannot run here, or undefined when they can. */
export function kernelSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (tracefs instances need root)';
  if (!existsSync(join(TRACEFS, 'instances'))) return `no tracefs at ${TRACEFS}`;
  return undefined;
}

let seq = 0;

export class TestInstance {
  readonly dir: string;
  private readonly enabled: string[] = [];

  constructor(opts: { bufferKb?: number } = {}) {
    this.dir = join(TRACEFS, 'instances', `tw-rn-${process.pid}-${seq++}`);
    mkdirSync(this.dir);
    if (opts.bufferKb !== undefined) writeFileSync(join(this.dir, 'buffer_size_kb'), String(opts.bufferKb));
  }

  /** Enables system/event; returns the event's id. */
  enable(system: string, event: string): number {
    const d = join(this.dir, 'events', system, event);
    writeFileSync(join(d, 'enable'), '1');
    this.enabled.push(d);
    return this.eventId(system, event);
  }

  eventId(system: string, event: string): number {
    return Number.parseInt(readFileSync(join(this.dir, 'events', system, event, 'id'), 'utf8'), 10);
  }

  get subbufSize(): number {
    try {
      return Number.parseInt(readFileSync(join(this.dir, 'buffer_subbuf_size_kb'), 'utf8'), 10) * 1024;
    } catch {
      return 4096;
    }
  }

  setClock(clock: string): void {
    writeFileSync(join(this.dir, 'trace_clock'), clock);
  }

  /** Writes a line into this instance's buffer (ftrace:print). */
  mark(text: string): void {
    writeFileSync(join(this.dir, 'trace_marker'), text);
  }

  overrun(cpu: number): number {
    const stats = readFileSync(join(this.dir, 'per_cpu', `cpu${cpu}`, 'stats'), 'utf8');
    return Number(/^overrun: (\d+)/m.exec(stats)?.[1] ?? 0);
  }

  /** Disables every event and removes the instance (retrying while a reader still holds it). */
  async remove(): Promise<void> {
    if (!existsSync(this.dir)) return;
    try {
      writeFileSync(join(this.dir, 'tracing_on'), '0');
    } catch {
      // best effort
    }
    for (const d of this.enabled) {
      try {
        writeFileSync(join(d, 'enable'), '0');
      } catch {
        // best effort
      }
    }
    try {
      writeFileSync(join(this.dir, 'events', 'enable'), '0');
    } catch {
      // best effort
    }
    for (let i = 0; ; i++) {
      try {
        rmdirSync(this.dir);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || i >= 100) throw e;
        await sleep(20);
      }
    }
  }
}

/** Instances a crashed earlier run of this file may have left (tw-rn-<dead pid>-<n>). */
export function removeStaleTestInstances(): void {
  const root = join(TRACEFS, 'instances');
  for (const name of readdirSync(root)) {
    const m = /^tw-rn-(\d+)-\d+$/.exec(name);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    try {
      writeFileSync(join(root, name, 'events', 'enable'), '0');
      rmdirSync(join(root, name));
    } catch {
      // leave it
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The CPU the syscall child is pinned to: 1 when there is one, else 0. */
export const CHILD_CPU = osCpus().length > 1 ? 1 : 0;

/**
 * Runs a child pinned to `cpu` that calls getppid() exactly `n` times, in `bursts` bursts
 * `pauseMs` apart (so a reader sees sub-buffers grow); resolves with its pid. The child is
 * node itself: its start-up makes no getppid call (a pyenv shim's bash would), and each
 * `process.ppid` is one getppid() on the main thread, whose tid is the pid.
 */
export function runGetppid(n: number, opts: { cpu?: number; bursts?: number; pauseMs?: number } = {}): Promise<number> {
  const cpu = opts.cpu ?? CHILD_CPU;
  const bursts = opts.bursts ?? 1;
  const pause = opts.pauseMs ?? 0;
  const js = `
    const n = ${n}, bursts = ${bursts}, per = Math.floor(n / bursts);
    (async () => {
      let left = n;
      for (let b = 0; b < bursts; b++) {
        const k = b < bursts - 1 ? per : left;
        for (let i = 0; i < k; i++) process.ppid;
        left -= k;
        if (b < bursts - 1) await new Promise((r) => setTimeout(r, ${pause}));
      }
    })();`;
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', String(cpu), process.execPath, '-e', js], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      if (code === 0) resolve(child.pid!);
      else reject(new Error(`getppid child failed: exit ${String(code)} ${String(sig)}`));
    });
  });
}

export interface RecordInfo {
  type: number;
  pid: number;
  /** header timestamp plus the deltas up to this record */
  ts: bigint;
  /** the record's payload, a view into the sub-buffer */
  payload: Uint8Array;
}

/**
 * The data records of one sub-buffer (little-endian): the commit word's low 27 bits are the
 * data length; each record has a 32-bit header, type_len in its low 5 bits.
 */
export function records(sub: Uint8Array): RecordInfo[] {
  const dv = new DataView(sub.buffer, sub.byteOffset, sub.byteLength);
  const len = dv.getUint32(8, true) & ((1 << 27) - 1);
  const end = Math.min(16 + len, sub.byteLength);
  const out: RecordInfo[] = [];
  let ts = dv.getBigUint64(0, true);
  let pos = 16;
  while (pos + 4 <= end) {
    const hdr = dv.getUint32(pos, true);
    const typeLen = hdr & 31;
    const delta = hdr >>> 5;
    let start: number, size: number, next: number;
    if (typeLen === 0) {
      const l = dv.getUint32(pos + 4, true); // counts itself
      start = pos + 8;
      size = l - 4;
      next = pos + 4 + l;
    } else if (typeLen <= 28) {
      start = pos + 4;
      size = typeLen * 4;
      next = start + size;
    } else if (typeLen === 29) {
      if (delta === 0) break;
      next = pos + 4 + dv.getUint32(pos + 4, true);
      pos = next;
      continue;
    } else {
      const v = (BigInt(dv.getUint32(pos + 4, true)) << 27n) | BigInt(delta);
      ts = typeLen === 30 ? ts + v : v; // time extend adds, absolute timestamp replaces
      pos += 8;
      continue;
    }
    if (next > end || size < 8) throw new Error(`bad record at ${pos}: type_len ${typeLen}, size ${size}`);
    ts += BigInt(delta);
    out.push({ type: dv.getUint16(start, true), pid: dv.getInt32(start + 4, true), ts, payload: sub.subarray(start, start + size) });
    pos = next;
  }
  return out;
}

/** Threads of this process right now. */
export function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}
