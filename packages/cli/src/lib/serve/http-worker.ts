/**
 * The HTTP endpoint's thread (a worker_threads Worker): MetricsHttp runs here, so parsing and
 * answering requests (fifty scrapers, slow clients, bad requests) never takes tracing's JavaScript
 * thread; and this thread runs at the lowest CPU priority (nice 19), so under load the kernel
 * gives the CPUs to tracing first. It asks the main thread for the /metrics text (at most every
 * METRICS_REUSE_MS, whoever asks) and for /healthz's answer; see serve-http.ts for the other side.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { MetricsHttp } from './http.js';

export type ToWorker =
  | { type: 'listen'; host: string; port: number }
  | { type: 'metrics'; id: number; contentType?: string; body?: string; error?: string }
  | { type: 'health'; id: number; ok: boolean; body: Record<string, unknown> }
  | { type: 'close' };

export type FromWorker =
  | { type: 'listening'; host: string; port: number; niced: boolean }
  | { type: 'listen-error'; code: string | undefined; message: string }
  | { type: 'metrics'; id: number }
  | { type: 'health'; id: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; extra?: Record<string, unknown> }
  | { type: 'closed' };

/** This thread's id (Linux: /proc/thread-self is <pid>/task/<tid>), to lower its priority alone. */
function lowerOwnPriority(): boolean {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, 19);
    return true;
  } catch {
    return false;
  }
}

const port = parentPort;
if (port !== null) {
  let seq = 0;
  const waiting = new Map<number, (m: ToWorker) => void>();
  const ask = <T extends ToWorker>(type: 'metrics' | 'health'): Promise<T> =>
    new Promise((resolve) => {
      const id = ++seq;
      waiting.set(id, (m) => resolve(m as T));
      port.postMessage({ type, id } satisfies FromWorker);
    });
  let health: { ok: boolean; body: Record<string, unknown> } = { ok: false, body: { tracing: false } };
  const http = new MetricsHttp({
    metrics: async () => {
      const m = await ask<Extract<ToWorker, { type: 'metrics' }>>('metrics');
      if (m.error !== undefined) throw new Error(m.error);
      return { contentType: m.contentType ?? 'text/plain', body: m.body ?? '' };
    },
    health: () => health,
    healthAsync: async () => {
      const h = await ask<Extract<ToWorker, { type: 'health' }>>('health');
      health = { ok: h.ok, body: h.body };
      return health;
    },
    log: (level, msg, extra) => port.postMessage({ type: 'log', level, msg, ...(extra ? { extra } : {}) } satisfies FromWorker),
  });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'listen') {
      const niced = lowerOwnPriority();
      http.listen(m.host, m.port).then(
        (a) => port.postMessage({ type: 'listening', host: a.host, port: a.port, niced } satisfies FromWorker),
        (e: NodeJS.ErrnoException) => port.postMessage({ type: 'listen-error', code: e.code, message: e.message } satisfies FromWorker),
      );
    } else if (m.type === 'close') {
      void http.close().then(() => {
        port.postMessage({ type: 'closed' } satisfies FromWorker);
        port.close();
      });
    } else {
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      w?.(m);
    }
  });
}
