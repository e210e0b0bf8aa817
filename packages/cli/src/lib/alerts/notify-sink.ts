/**
 * --notify: a desktop notification per alert through notify-send, where it is installed and a
 * session bus is there to carry it (DBUS_SESSION_BUS_ADDRESS, else the user's bus socket
 * $XDG_RUNTIME_DIR/bus or /run/user/<uid>/bus). Where not, tw says why once at the start and
 * goes on without it. Sent through a small ProcessQueue (2 at a time, 16 waiting, 10 s each).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Alert, AlertRecord } from '@tw/core';
import type { ProcessQueue } from './process-queue.js';
import type { AlertSink } from './sink.js';

/** The executable `name` on PATH, or undefined. */
export function onPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const f = join(dir, name);
    try {
      accessSync(f, constants.X_OK);
      if (statSync(f).isFile()) return f;
    } catch {
      // not here
    }
  }
  return undefined;
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** Can notifications be sent from here: the notifier and the bus address to give it, or why not. */
export function notifyAvailability(env: NodeJS.ProcessEnv, uid: number): { ok: true; command: string; env: Record<string, string> } | { ok: false; why: string } {
  const command = onPath('notify-send', env['PATH']);
  if (command === undefined) return { ok: false, why: 'notify-send is not installed (it is in libnotify-bin or libnotify)' };
  const address = env['DBUS_SESSION_BUS_ADDRESS'];
  if (address !== undefined && address !== '') return { ok: true, command, env: {} };
  const sockets = [env['XDG_RUNTIME_DIR'] ? join(env['XDG_RUNTIME_DIR'], 'bus') : undefined, uid >= 0 ? `/run/user/${uid}/bus` : undefined].filter((p): p is string => p !== undefined);
  const socket = sockets.find(isSocket);
  if (socket !== undefined) return { ok: true, command, env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}` } };
  const sudo = env['SUDO_USER'] !== undefined && uid === 0 ? ` (under sudo, the desktop session is ${env['SUDO_USER']}'s, not root's)` : '';
  return { ok: false, why: `no session bus: DBUS_SESSION_BUS_ADDRESS is not set and there is no ${[...new Set(sockets)].join(' or ') || 'bus socket'}${sudo}` };
}

export class NotifySink implements AlertSink {
  readonly name = '--notify';

  constructor(
    private readonly command: string,
    private readonly env: Record<string, string>,
    private readonly queue: ProcessQueue,
  ) {}

  alert(_a: Alert, r: AlertRecord): void {
    this.queue.push({ file: this.command, args: ['--app-name=tw', '--', `tw: ${r.watch}`, r.message], env: this.env, what: `an alert of ${r.watch}` });
  }

  end(): Promise<string[]> {
    return this.queue.end(2000);
  }
}
