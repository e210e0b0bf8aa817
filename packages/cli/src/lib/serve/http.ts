/**
 * tw serve's HTTP endpoint (node:http): GET /metrics and GET /healthz, nothing else (other paths
 * 404, other methods 405). tw serve runs it on a thread of its own (http-worker.ts), and it is
 * built to stay cheap whoever calls:
 *  - the tracing path never waits for it (the tracing thread only renders the metrics text,
 *    when asked, at most every METRICS_REUSE_MS);
 *  - a slow or idle client is cut off by the server's limits (headers within 5 s, the whole
 *    request within 10 s, idle keep-alive 5 s, 16 KiB of headers, 256 connections) and, while
 *    it lingers, costs a socket and nothing else: Node parses requests as bytes arrive;
 *  - concurrent scrapes share one rendering, and a rendering is reused for METRICS_REUSE_MS: how
 *    often /metrics is asked does not change how much CPU rendering takes from tracing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * How long a rendered /metrics is served again: at most one rendering a second on the tracing
 * thread, however many ask (Prometheus scrapes every 15-60 s, an HA pair twice that; a scrape
 * gets values at most a second old). Fifty scrapers asking as fast as they could cost the
 * tracing thread 7 % more CPU with 250 ms here, during a syscall storm.
 */
export const METRICS_REUSE_MS = 1_000;

export const HTTP_LIMITS = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 16 * 1024,
  maxConnections: 256,
  /** how often Node checks the two timeouts above (its default, 30 s, would let a slow client sit that long) */
  checkIntervalMs: 1_000,
} as const;

export interface HttpEndpoints {
  /** the /metrics text and its content type */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** /healthz: 200 when ok, else 503, with this body */
  health(): { ok: boolean; body: Record<string, unknown> };
  /** the same, asked of another thread (the HTTP worker asks the tracing thread) */
  healthAsync?(): Promise<{ ok: boolean; body: Record<string, unknown> }>;
  log(level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>): void;
}

export class MetricsHttp {
  readonly server: Server;
  private rendering: Promise<{ contentType: string; body: string }> | undefined;
  private renderedAt = 0;
  private last: { contentType: string; body: string } | undefined;

  constructor(private readonly e: HttpEndpoints) {
    this.server = createServer(
      {
        headersTimeout: HTTP_LIMITS.headersTimeoutMs,
        requestTimeout: HTTP_LIMITS.requestTimeoutMs,
        keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
        maxHeaderSize: HTTP_LIMITS.maxHeaderSize,
        connectionsCheckingInterval: HTTP_LIMITS.checkIntervalMs,
      },
      (req, res) => this.handle(req, res),
    );
    this.server.maxConnections = HTTP_LIMITS.maxConnections;
    // a socket that says nothing at all (not even a first header byte) is also cut off
    this.server.setTimeout(HTTP_LIMITS.requestTimeoutMs, (socket) => socket.destroy());
    // a bad request or one that timed out: say so and close, without waiting for the client to
    // close its side (one that never reads would keep the socket half-open)
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
      else socket.destroy();
    });
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        resolve(typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host, port });
      });
    });
  }

  private render(): Promise<{ contentType: string; body: string }> {
    if (this.last && Date.now() - this.renderedAt < METRICS_REUSE_MS) return Promise.resolve(this.last);
    this.rendering ??= this.e
      .metrics()
      .then((m) => {
        this.last = m;
        this.renderedAt = Date.now();
        return m;
      })
      .finally(() => {
        this.rendering = undefined;
      });
    return this.rendering;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const known = path === '/metrics' || path === '/healthz';
    if (!known) return this.reply(res, 404, 'text/plain; charset=utf-8', 'not found: tw serve answers GET /metrics and GET /healthz\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    // a request body is not wanted: drain whatever comes so the connection can be reused
    req.resume();
    if (path === '/healthz') {
      const answer = (h: { ok: boolean; body: Record<string, unknown> }) => this.reply(res, h.ok ? 200 : 503, 'application/json', `${JSON.stringify(h.body)}\n`, req.method === 'HEAD');
      if (this.e.healthAsync === undefined) return answer(this.e.health());
      // the tracing thread did not answer within a second: it is stuck, which is not healthy
      const late = setTimeout(() => answer({ ok: false, body: { tracing: false, why: 'tw did not answer within 1 s' } }), 1_000);
      void this.e.healthAsync().then((h) => {
        clearTimeout(late);
        if (!res.headersSent) answer(h);
      });
      return;
    }
    this.render().then(
      (m) => this.reply(res, 200, m.contentType, m.body, req.method === 'HEAD'),
      (err: unknown) => {
        this.e.log('error', 'rendering /metrics failed', { error: (err as Error).message });
        this.reply(res, 500, 'text/plain; charset=utf-8', 'rendering the metrics failed\n');
      },
    );
  }

  private reply(res: ServerResponse, status: number, type: string, body: string, head = false): void {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(head ? undefined : body);
  }

  /** Stop listening and drop every connection (keep-alive ones included). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
