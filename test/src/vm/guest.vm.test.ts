// Smoke test of the qemu guest harness (test/vm/vmtest.sh) on every installed Debian kernel:
// the guest has tracefs with kprobe_events and loadable modules; a module built on the host
// (test/vm/example-module, which builds on both kernels)
// loads, emits its tw:tw_unlink trace event and unloads; a kprobe event can be added, hit and
// removed without leftovers; and `tw doctor` run by Node inside the guest sees kprobes and modules.
//
// One guest boot per kernel does all the checks (a boot costs ~3 s, Node's startup ~3 s under
// TCG); the kernels run side by side (1 vCPU each, see runInGuest).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuestModule, GUEST_CRASHED, guestKernels, runInGuest, vmSkipReason, type GuestRun } from '../support/vm.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(REPO, 'packages/cli/bin/run.js');
const MODULE_SRC = fileURLToPath(new URL('../../vm/example-module', import.meta.url));

const reason = vmSkipReason();
const kernels = reason === undefined ? guestKernels() : [];
if (reason !== undefined) console.warn(`[guest.vm] skipped: ${reason}`);

interface Smoke {
  kver: string;
  /** Host-side module build: the .ko path, or why it failed. */
  ko?: string;
  buildError?: string;
  buildMs: number;
  run: GuestRun;
  runMs: number;
  /** key=value lines of out.txt (last one wins). */
  kv: Map<string, string>;
  /** Lines of out.txt starting with "trace: ". */
  trace: string[];
  /** `tw doctor --json` output, parsed (undefined if it did not print JSON). */
  doctor?: { checks?: Array<{ name: string; ok: boolean; detail: string }> };
}

/** The guest side: every step records key=value in $TW_OUT/out.txt and carries on after a failure. */
function guestScript(ko: string | undefined): string {
  return String.raw`#!/bin/bash
set -u
O=$TW_OUT/out.txt; : > "$O"
T=/sys/kernel/tracing
r() { echo "$1=$2" >> "$O"; }
up() { r "t_$1" "$(cut -d' ' -f1 /proc/uptime)"; }
up start
r uname "$(uname -r)"
r tracefs_type "$(stat -f -c %T $T 2>&1)"
[ -e $T/kprobe_events ] && r kprobe_events yes || r kprobe_events no
[ -e $T/dynamic_events ] && r dynamic_events_file yes || r dynamic_events_file no
[ -e /proc/modules ] && r proc_modules yes || r proc_modules no
[ "$TW_GUEST" = 1 ] && r tw_guest yes
W=/tmp/tw-vm-smoke; mkdir -p $W
echo 0 > $T/tracing_on; echo > $T/trace

KO='${ko ?? ''}'
if [ -n "$KO" ]; then
  insmod "$KO" 2>>"$O" && r insmod ok || r insmod fail
  grep -q '^tw_unlink ' /proc/modules && r loaded yes || r loaded no
  [ -d $T/events/tw/tw_unlink ] && r mod_event_dir yes || r mod_event_dir no
  echo 1 > $T/events/tw/tw_unlink/enable && echo 1 > $T/tracing_on
  touch $W/victim-module && rm $W/victim-module
  echo 0 > $T/tracing_on; echo 0 > $T/events/tw/tw_unlink/enable
  grep ' tw_unlink: ' $T/trace | grep -F 'victim-module' | sed 's/^/trace: /' >> "$O"
  rmmod tw_unlink 2>>"$O" && r rmmod ok || r rmmod fail
  grep -q '^tw_unlink ' /proc/modules && r loaded_after yes || r loaded_after no
  [ -d $T/events/tw ] && r mod_event_dir_after yes || r mod_event_dir_after no
  echo > $T/trace
fi
up module

echo 'p:twtest/unlink do_unlinkat' >> $T/kprobe_events 2>>"$O" && r kprobe_add ok || r kprobe_add fail
echo 1 > $T/events/twtest/unlink/enable && echo 1 > $T/tracing_on
touch $W/victim-kprobe && rm $W/victim-kprobe
echo 0 > $T/tracing_on; echo 0 > $T/events/twtest/unlink/enable
r kprobe_hits "$(grep -c ' unlink: (do_unlinkat' $T/trace)"
echo '-:twtest/unlink' >> $T/kprobe_events 2>>"$O" && r kprobe_del ok || r kprobe_del fail
[ -d $T/events/twtest ] && r kprobe_dir_after yes || r kprobe_dir_after no
r dynamic_events_bytes "$(wc -c < $T/dynamic_events)"
r kprobe_events_bytes "$(wc -c < $T/kprobe_events)"
echo > $T/trace
up kprobe

r tw_version "$(timeout 60 node ${CLI} --version 2>&1 | head -1)"
up node_version
timeout 90 node ${CLI} doctor --json > $W/doctor.json 2>>"$O"; r doctor_rc $?
up doctor
echo '--- doctor.json' >> "$O"; cat $W/doctor.json >> "$O"
`;
}

function parse(kver: string, run: GuestRun, runMs: number, build: { ko?: string; buildError?: string; buildMs: number }): Smoke {
  const [head = '', doctorText = ''] = run.out.split('--- doctor.json\n');
  const kv = new Map<string, string>();
  const trace: string[] = [];
  for (const line of head.split('\n')) {
    if (line.startsWith('trace: ')) trace.push(line.slice(7));
    else {
      const eq = line.indexOf('=');
      if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1));
    }
  }
  const s: Smoke = { kver, buildMs: build.buildMs, run, runMs, kv, trace };
  if (build.ko !== undefined) s.ko = build.ko;
  if (build.buildError !== undefined) s.buildError = build.buildError;
  try {
    s.doctor = JSON.parse(doctorText) as Smoke['doctor'] & object;
  } catch {
    // left undefined: the doctor test reports it
  }
  return s;
}

const moduleDirs: string[] = [];

async function smoke(kver: string): Promise<Smoke> {
  const b0 = Date.now();
  const build: { ko?: string; buildError?: string; buildMs: number } = { buildMs: 0 };
  try {
    const { dir } = await buildGuestModule(kver, MODULE_SRC);
    moduleDirs.push(dir);
    build.ko = join(dir, 'tw_unlink.ko');
  } catch (e) {
    build.buildError = (e as Error).message;
  }
  build.buildMs = Date.now() - b0;
  const r0 = Date.now();
  const run = await runInGuest(kver, guestScript(build.ko), { timeoutSec: 120 });
  return parse(kver, run, Date.now() - r0, build);
}

/** Context for assertion messages: the tail of the guest console. */
function ctx(s: Smoke): string {
  return `kernel ${s.kver}, guest exit ${s.run.code}\n--- out.txt\n${s.run.out.slice(0, 3000)}\n--- console (tail)\n${s.run.log.split('\n').slice(-40).join('\n')}`;
}

describe.skipIf(reason !== undefined)(`qemu guest kernels${reason !== undefined ? ` (skipped: ${reason})` : ''}`, () => {
  const runs = new Map<string, Promise<Smoke>>();
  let contract: Promise<{ exit: GuestRun; panic: GuestRun }> | undefined;
  const t0 = Date.now();

  beforeAll(() => {
    if (!existsSync(join(REPO, 'packages/cli/dist/index.js'))) {
      const b = spawnSync('npx', ['turbo', 'run', 'build'], { cwd: REPO, encoding: 'utf8' });
      if (b.status !== 0) throw new Error(`npx turbo run build failed: ${b.stderr}`);
    }
    const newest = kernels.at(-1);
    if (newest !== undefined) {
      // the harness contract itself: exit status and out.txt come back; a kernel panic is 100
      contract = Promise.all([
        runInGuest(newest, 'echo "out $TW_GUEST $(id -u)" > "$TW_OUT/out.txt"; echo to-console; exit 7', { timeoutSec: 60 }),
        runInGuest(newest, 'echo c > /proc/sysrq-trigger; sleep 60', { timeoutSec: 60 }),
      ]).then(([exit, panic]) => ({ exit, panic }));
      contract.catch(() => undefined);
    }
    for (const k of kernels) {
      const p = smoke(k);
      p.catch(() => undefined); // awaited (and reported) by the tests
      runs.set(k, p);
    }
  }, 300_000);

  afterAll(async () => {
    const done = await Promise.allSettled(runs.values());
    const lines = done.map((d) =>
      d.status === 'fulfilled'
        ? `${d.value.kver}: module build ${(d.value.buildMs / 1000).toFixed(1)} s, guest run ${(d.value.runMs / 1000).toFixed(1)} s (guest uptime: module ${d.value.kv.get('t_module')}, kprobe ${d.value.kv.get('t_kprobe')}, tw --version ${d.value.kv.get('t_node_version')}, doctor ${d.value.kv.get('t_doctor')})`
        : `failed: ${String(d.reason)}`,
    );
    console.log(`[guest.vm] ${lines.join('; ')}; all ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const d of moduleDirs) rmSync(d, { recursive: true, force: true });
  });

  if (kernels.length === 0) it('has a guest kernel', () => undefined);

  it(`runInGuest returns the script's exit status, out.txt and the console; a guest panic is ${GUEST_CRASHED}`, async () => {
    const c = await contract!;
    expect(c.exit.code, c.exit.log).toBe(7);
    expect(c.exit.out).toBe('out 1 0\n');
    expect(c.exit.log).toContain('to-console\n');
    expect(c.panic.code, c.panic.log).toBe(GUEST_CRASHED);
    expect(c.panic.log).toMatch(/Kernel panic|sysrq/i);
    expect(c.panic.out).toBe('');
  }, 300_000);

  for (const kver of kernels) {
    const get = async (): Promise<Smoke> => {
      const p = runs.get(kver);
      if (!p) throw new Error(`no run for ${kver}`);
      return p;
    };

    describe(kver, () => {
      it('boots and runs the script as root, with tracefs (kprobe_events) and /proc/modules', async () => {
        const s = await get();
        expect(s.run.code, ctx(s)).toBe(0);
        expect(s.kv.get('uname'), ctx(s)).toBe(kver);
        expect(s.kv.get('tw_guest'), ctx(s)).toBe('yes');
        expect(s.kv.get('tracefs_type'), ctx(s)).toBe('tracefs');
        expect(s.kv.get('kprobe_events'), ctx(s)).toBe('yes');
        expect(s.kv.get('dynamic_events_file'), ctx(s)).toBe('yes');
        expect(s.kv.get('proc_modules'), ctx(s)).toBe('yes');
      }, 300_000);

      it('loads a host-built module whose tw:tw_unlink event sees rm, then unloads it', async () => {
        const s = await get();
        expect(s.buildError, `host build of ${MODULE_SRC} against /lib/modules/${kver}/build`).toBeUndefined();
        expect(s.kv.get('insmod'), ctx(s)).toBe('ok');
        expect(s.kv.get('loaded'), ctx(s)).toBe('yes');
        expect(s.kv.get('mod_event_dir'), ctx(s)).toBe('yes');
        // do_unlinkat sees the kernel copy of the path (src=1), __x64_sys_unlinkat the user one (src=3)
        expect(s.trace.some((l) => /tw_unlink: src=1 pid=\d+ comm=rm dfd=-100 path=\/tmp\/tw-vm-smoke\/victim-module$/.test(l)), ctx(s)).toBe(true);
        expect(s.kv.get('rmmod'), ctx(s)).toBe('ok');
        expect(s.kv.get('loaded_after'), ctx(s)).toBe('no');
        expect(s.kv.get('mod_event_dir_after'), ctx(s)).toBe('no');
      }, 300_000);

      it('adds, hits and removes a kprobe event (p:twtest/unlink do_unlinkat) without leftovers', async () => {
        const s = await get();
        expect(s.kv.get('kprobe_add'), ctx(s)).toBe('ok');
        expect(Number(s.kv.get('kprobe_hits')), ctx(s)).toBeGreaterThanOrEqual(1);
        expect(s.kv.get('kprobe_del'), ctx(s)).toBe('ok');
        expect(s.kv.get('kprobe_dir_after'), ctx(s)).toBe('no');
        expect(s.kv.get('dynamic_events_bytes'), ctx(s)).toBe('0');
        expect(s.kv.get('kprobe_events_bytes'), ctx(s)).toBe('0');
      }, 300_000);

      it('runs the tw CLI under Node in the guest: doctor sees kprobe events and loadable modules', async () => {
        const s = await get();
        expect(s.kv.get('tw_version'), ctx(s)).toMatch(/^@tw\/cli\/\S+ linux-x64 node-v\d+/);
        expect(s.kv.get('doctor_rc'), ctx(s)).toBe('0');
        const checks = new Map((s.doctor?.checks ?? []).map((c) => [c.name, c]));
        expect(checks.get('kprobe events')?.ok, ctx(s)).toBe(true);
        expect(checks.get('loadable modules')?.ok, ctx(s)).toBe(true);
        expect(checks.get('tracefs')?.ok, ctx(s)).toBe(true);
      }, 300_000);
    });
  }
});
