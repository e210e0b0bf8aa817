// The alert sinks and the one choice of them: which flags give which sinks, a failing sink that
// loses no alert elsewhere, the stderr line, the --json line, and when --notify can work.
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertRecord, type Alert } from '@tw/core';
import { JsonLinesSink } from './json-lines-sink.js';
import { notifyAvailability } from './notify-sink.js';
import { AlertSinks, chooseSinks, type AlertSink } from './sink.js';
import { alertLine, localTime } from './stderr-sink.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-sinks-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const A: Alert = { time: '2025-01-31T12:00:00.123Z', ts: 52_272_524_094n, watch: 'who-killed', message: 'kill[123] sent SIGTERM to 77', culprit: { pid: 123, comm: 'kill' } };

describe('chooseSinks', () => {
  const names = (c: Parameters<typeof chooseSinks>[0]) => chooseSinks(c, { stderr: () => undefined, env: { PATH: '' }, uid: 12345 }).sinks.map((s) => s.name);
  const base = { json: false, quiet: false, notify: false, mode: 'live' as const };

  it('the stderr line by default; --json lines instead of it; --quiet neither', () => {
    expect(names(base)).toEqual(['stderr']);
    expect(names({ ...base, json: true })).toEqual(['--json']);
    expect(names({ ...base, quiet: true })).toEqual([]);
    expect(names({ ...base, json: true, quiet: true })).toEqual(['--json']);
  });

  it('--exec, live and for a recording', () => {
    expect(names({ ...base, exec: 'true' })).toEqual(['stderr', '--exec']);
    expect(names({ ...base, mode: 'file', quiet: true, exec: 'true' })).toEqual(['--exec']);
  });

  it('--notify without a notifier: no sink, one note saying why', () => {
    const got = chooseSinks({ ...base, notify: true }, { stderr: () => undefined, env: { PATH: dir }, uid: 12345 });
    expect(got.sinks.map((s) => s.name)).toEqual(['stderr']);
    expect(got.notes).toEqual(['tw: note: --notify sends no desktop notifications here: notify-send is not installed (it is in libnotify-bin or libnotify)']);
  });
});

describe('notifyAvailability', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  function notifier(): string {
    const f = join(dir, 'notify-send');
    writeFileSync(f, '#!/bin/sh\n');
    chmodSync(f, 0o755);
    return f;
  }

  it('needs notify-send on PATH', () => {
    expect(notifyAvailability({ PATH: dir, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/x' }, 1000)).toEqual({ ok: false, why: expect.stringMatching(/notify-send is not installed/) });
  });

  it('uses DBUS_SESSION_BUS_ADDRESS as it is', () => {
    const f = notifier();
    expect(notifyAvailability({ PATH: `/nonexistent:${dir}`, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/x' }, 1000)).toEqual({ ok: true, command: f, env: {} });
  });

  it('else finds the user\'s bus socket in XDG_RUNTIME_DIR', async () => {
    const f = notifier();
    const bus = join(dir, 'bus');
    server = createServer();
    await new Promise<void>((r) => server!.listen(bus, r));
    expect(notifyAvailability({ PATH: dir, XDG_RUNTIME_DIR: dir }, 4_000_000)).toEqual({ ok: true, command: f, env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${bus}` } });
  });

  it('else says why not, naming where it looked (and under sudo, whose session it is)', () => {
    notifier();
    expect(notifyAvailability({ PATH: dir, XDG_RUNTIME_DIR: join(dir, 'run') }, 4_000_000)).toEqual({
      ok: false,
      why: `no session bus: DBUS_SESSION_BUS_ADDRESS is not set and there is no ${join(dir, 'run', 'bus')} or /run/user/4000000/bus`,
    });
    const sudo = notifyAvailability({ PATH: dir, SUDO_USER: 'alice' }, 0);
    expect(sudo.ok === false && sudo.why).toMatch(/no \/run\/user\/0\/bus \(under sudo, the desktop session is alice's, not root's\)$/);
  });
});

describe('AlertSinks', () => {
  it('a sink that throws is said once and counted; the other sinks still get every alert', async () => {
    const said: string[] = [];
    const got: string[] = [];
    const bad: AlertSink = {
      name: '--json',
      alert() {
        throw new Error('EPIPE: broken pipe');
      },
    };
    const good: AlertSink = { name: 'stderr', alert: (_a, r, json) => got.push(`${r.message} ${json.length}`) };
    const sinks = new AlertSinks([bad, good], (l) => said.push(l));
    sinks.onAlert(A);
    sinks.onAlert({ ...A, message: 'second' });
    await sinks.end();
    expect(got).toEqual([`${A.message} ${JSON.stringify(alertRecord(A)).length}`, expect.stringMatching(/^second \d+$/)]);
    expect(said).toEqual([
      'tw: warning: the --json alert output failed (EPIPE: broken pipe); the alert is kept in the other outputs and the result (further failures are counted)',
      'tw: warning: the --json alert output failed for 2 alerts',
    ]);
  });
});

describe('the stderr line', () => {
  it('local wall-clock time and trace seconds, then watch and message', () => {
    expect(alertLine(A)).toBe(`[${localTime(A.time!)} 52.272524094] who-killed: kill[123] sent SIGTERM to 77`);
    expect(localTime(A.time!)).toMatch(/^2025-01-3[01] \d\d:\d\d:00\.123$/);
  });

  it('without a wall-clock time (a recording without one): trace seconds only', () => {
    expect(alertLine({ ...A, time: null })).toBe('[52.272524094] who-killed: kill[123] sent SIGTERM to 77');
  });
});

describe('the --json line', () => {
  it('is {"alert": <the alert record>} on one line, written at once', () => {
    const path = join(dir, 'out');
    const fd = openSync(path, 'w');
    try {
      const sink = new JsonLinesSink(fd);
      const r = alertRecord(A);
      sink.alert(A, r, JSON.stringify(r));
      // written before the call returned, not buffered
      expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify({ alert: r })}\n`);
    } finally {
      closeSync(fd);
    }
  });
});
