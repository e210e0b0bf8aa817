// tw serve's command line without tracing: --check on good and bad files (exit code and the one
// FILE:LINE: key: problem line), the example configs of --example-config and --help (both
// must check), and the systemd unit (systemd-analyze verify, where installed).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './support/proc.js';
import { which } from './support/tracefs.js';
import { runTw, twCliPath } from './support/tw.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-serve-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function tw(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run(process.execPath, [twCliPath(), ...args], { check: false });
}

describe('tw serve --check, --example-config, --print-systemd-unit', () => {
  it('--check: a good file exits 0 and names its watches; a bad one says where, with the exit code of what is wrong', async () => {
    const good = file('good.yaml', 'watches:\n  - watch: syscalls\n  - watch: who-killed\n    args: ["1234", "--fatal"]\n');
    const ok = await tw(['serve', '--check', '--config', good]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe(`tw: ${good}: the config is good (2 watches: syscalls, who-killed)\n`);
    // a watch that is not installed, and arguments the watch refuses: at the entry's line
    const unknown = file('unknown.yaml', 'labels: {site: a}\nwatches:\n  - watch: syscals\n');
    const u = await tw(['serve', '--check', '--config', unknown]);
    expect(u.code).toBe(4);
    expect(u.stderr).toMatch(new RegExp(`^tw: ${unknown}:3: watches\\[0\\]\\.watch: no watch named 'syscals' \\(did you mean .*syscalls`));
    const badArgs = file('args.yaml', 'watches:\n  - watch: syscalls\n  - watch: who-killed\n    args: ["1", "--fatl"]\n');
    const b = await tw(['serve', '--check', '--config', badArgs]);
    expect(b.code).toBe(5);
    expect(b.stderr).toMatch(new RegExp(`^tw: ${badArgs}:3: watches\\[1\\]\\.args: `));
    const missing = await tw(['serve', '--check', '--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml: cannot read the config: ENOENT/);
    const none = await tw(['serve']);
    expect(none.stderr).toMatch(/^tw: tw serve needs --config FILE/);
  });

  it('the example configs of --example-config and --help are good configs', async () => {
    const example = await runTw(['serve', '--example-config']);
    expect((await tw(['serve', '--check', '--config', file('example.yaml', example)])).code).toBe(0);
    const help = await runTw(['serve', '--help']);
    const lines = help.split('\n').map((l) => l.replace(/^ {2}/, ''));
    const from = lines.findIndex((l) => l.startsWith('listen: '));
    const to = lines.findIndex((l, i) => i > from && l.startsWith('Once every watch'));
    expect(from).toBeGreaterThan(0);
    const inHelp = lines.slice(from, to).join('\n');
    expect(inHelp).toMatch(/watches:\n- \{watch: syscalls\}/);
    const r = await tw(['serve', '--check', '--config', file('help.yaml', inHelp)]);
    expect(r.stderr).toMatch(/the config is good \(2 watches: syscalls, who-killed\)/);
  });

  it('--print-systemd-unit: a unit that starts, reloads and stops tw serve with this config, and leaves /sys writable', async () => {
    const cfg = file('unit.yaml', 'watches: [{watch: syscalls}]\n');
    const unit = await runTw(['serve', '--print-systemd-unit', '--config', cfg]);
    expect(unit).toContain(`serve --config ${cfg}\n`);
    expect(unit).toMatch(/^ExecStart=\/\S+ \/\S+ serve --config /m);
    expect(unit).toContain('ExecReload=/bin/kill -HUP $MAINPID');
    expect(unit).toContain('Restart=on-failure');
    // these would make /sys/kernel/tracing read-only, or forbid the module probe backend
    expect(unit).not.toMatch(/^ProtectKernelTunables=yes|^ProtectKernelModules=yes|^RestrictRealtime=yes/m);
    if (which('systemd-analyze')) {
      const p = file('tw-serve.service', unit);
      const v = spawnSync('systemd-analyze', ['verify', p], { encoding: 'utf8' });
      // (verify also complains about the machine's other units: only this unit's lines count)
      const ours = `${v.stdout}${v.stderr}`.split('\n').filter((l) => l.includes('tw-serve.service'));
      expect(ours).toEqual([]);
    }
  });
});
