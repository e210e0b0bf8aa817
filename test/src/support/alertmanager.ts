// The real Alertmanager (Debian's prometheus-alertmanager) started by a test: on a loopback port,
// with a temporary storage directory and a minimal config of its own, clustering off (no gossip
// port), stopped after the test file. It can be stopped and started again on the same port, as
// an outage would.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const ALERTMANAGER_BIN = process.env['TW_ALERTMANAGER'] ?? '/usr/bin/prometheus-alertmanager';

/**
 * Why the Alertmanager tests cannot run here, if they cannot. CI installs the binary
 * (.ci/run), so there a missing binary is a failure, not a skip.
 */
export function alertmanagerSkipReason(): string | undefined {
  if (existsSync(ALERTMANAGER_BIN) || process.env['CI']) return undefined;
  return `no ${ALERTMANAGER_BIN} (apt-get install prometheus-alertmanager)`;
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** An alert as GET /api/v2/alerts shows it (the members the tests read). */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

/** What Alertmanager's webhook receiver posts (the members the tests read). */
export interface WebhookMessage {
  status: string;
  alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string> }>;
}

/** A webhook receiver on loopback: collects what Alertmanager notifies. */
export class WebhookReceiver {
  readonly messages: WebhookMessage[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.messages.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookMessage);
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/**
 * The config: one route. With a webhook, notifications go there after 1 s of grouping; without,
 * to a receiver that sends nothing. resolve_timeout is Alertmanager's default, said for the reader.
 */
function config(webhook: string | undefined): string {
  const receiver = webhook === undefined ? "  - name: 'null'\n" : `  - name: 'null'\n    webhook_configs:\n      - url: '${webhook}'\n        send_resolved: false\n`;
  return [
    'global:',
    '  resolve_timeout: 5m',
    'route:',
    "  receiver: 'null'",
    "  group_by: ['alertname', 'instance']",
    '  group_wait: 1s',
    '  group_interval: 1s',
    '  repeat_interval: 1h',
    'receivers:',
    receiver,
  ].join('\n');
}

export class Alertmanager {
  private child: ChildProcess | undefined;
  private stderr = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /** Start one in `dir` (its config and storage go there) on a free loopback port, or on `port`. */
  static async start(o: { dir: string; port?: number; webhook?: string }): Promise<Alertmanager> {
    writeFileSync(join(o.dir, 'alertmanager.yml'), config(o.webhook));
    const am = new Alertmanager(o.port ?? (await freePort()), o.dir);
    await am.start();
    return am;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** (Re)start on its port; resolves once /-/ready answers 200. */
  async start(): Promise<void> {
    if (this.child !== undefined) throw new Error('alertmanager is running');
    this.stderr = '';
    const child = spawn(
      ALERTMANAGER_BIN,
      [`--config.file=${join(this.dir, 'alertmanager.yml')}`, `--storage.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${this.port}`, '--cluster.listen-address=', '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    let exited = false;
    child.once('exit', () => {
      exited = true;
      if (this.child === child) this.child = undefined;
    });
    const end = Date.now() + 20_000;
    for (;;) {
      if (exited) throw new Error(`alertmanager ended while starting: ${this.stderr}`);
      try {
        const r = await fetch(`${this.url}/-/ready`);
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > end) {
        await this.stop();
        throw new Error(`alertmanager not ready within 20 s: ${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, and wait for it to be gone (its port free again). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
    this.child = undefined;
  }

  /** The active alerts (GET /api/v2/alerts). */
  async alerts(): Promise<GettableAlert[]> {
    const r = await fetch(`${this.url}/api/v2/alerts`);
    if (r.status !== 200) throw new Error(`GET /api/v2/alerts: HTTP ${r.status}: ${await r.text()}`);
    return (await r.json()) as GettableAlert[];
  }
}
