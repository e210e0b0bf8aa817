/**
 * The tracing thread's side of the HTTP worker (http-worker.ts): starts it, answers its requests
 * for the /metrics text and the /healthz state, and relays its log lines.
 */
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './http-worker.js';

export interface ServeHttpOptions {
  host: string;
  port: number;
  metrics(): Promise<{ contentType: string; body: string }>;
  health(): { ok: boolean; body: Record<string, unknown> };
  log(level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>): void;
}

export class ServeHttp {
  private constructor(private readonly worker: Worker) {}

  /** Listening (rejects with the listen error: the address in use, not allowed, ...). */
  static start(o: ServeHttpOptions): Promise<{ http: ServeHttp; host: string; port: number; niced: boolean }> {
    const worker = new Worker(new URL('./http-worker.js', import.meta.url));
    const send = (m: ToWorker) => worker.postMessage(m);
    return new Promise((resolve, reject) => {
      worker.on('error', (e) => reject(e));
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'listening':
            resolve({ http: new ServeHttp(worker), host: m.host, port: m.port, niced: m.niced });
            break;
          case 'listen-error':
            void worker.terminate();
            reject(Object.assign(new Error(m.message), { code: m.code }));
            break;
          case 'metrics':
            o.metrics().then(
              (r) => send({ type: 'metrics', id: m.id, contentType: r.contentType, body: r.body }),
              (e: unknown) => send({ type: 'metrics', id: m.id, error: (e as Error).message }),
            );
            break;
          case 'health': {
            const h = o.health();
            send({ type: 'health', id: m.id, ok: h.ok, body: h.body });
            break;
          }
          case 'log':
            o.log(m.level, m.msg, m.extra);
            break;
          default:
            break;
        }
      });
      send({ type: 'listen', host: o.host, port: o.port });
    });
  }

  /** Stop listening, drop the connections, end the thread. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.worker.on('message', (m: FromWorker) => m.type === 'closed' && resolve());
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2_000).unref())]);
    await this.worker.terminate();
  }
}
