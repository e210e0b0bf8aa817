// Dynamic probes (packages/kprobe-gen, `tw probe …`) on real Debian kernels, in the qemu guest
// (test/vm/vmtest.sh), for every installed guest kernel:
//
//   host   `tw probe gen --all --no-load --kdir /lib/modules/<rel>/build` builds every probe module
//          for the guest's kernel into a private module cache (XDG_CACHE_HOME); the guest sees the
//          host's filesystem, so it finds them there: every build inside the guest must be a
//          cache hit (a fake `make` first on the guest's PATH records any attempt to compile).
//          The cache key must tell kernels apart by uname -r, not only kernel.release (Debian's
//          6.1 flavours share "6.1.192"): checked on the host with a fake build tree.
//   guest  ONE boot per kernel runs every step below; each writes `ok <step>` or
//          `FAIL <step>: <why>` to $TW_OUT/out.txt, and the tests assert their steps are all ok.
//     (a) `tw probe gen unlink --backend module` loads tw_unlink; `tw dump -e tw:unlink` decodes the
//         rm of a known path by a known pid (pathname, pid, comm, dfd)
//     (b) `tw probe unload unlink`: no module, no tw dynamic event, no events/tw/unlink
//         ((a)+(b) are load/unload cycle 1 of (d))
//     (d) cycles 2..19 through kprobe-gen's API (test/vm/probe-api.mjs: buildModule from the
//         cache, loadModule, checkLayout, the event fires, unloadModule, nothing left), cycle 20
//         through `tw probe load` / `tw probe unload` again
//     (c) the kprobe_events backend: `tw watch who-deleted --probe-backend kprobe-events` defines
//         p:tw/unlink (struct offsets from the guest's BTF via pahole), decodes the rm, and
//         removes the event when it ends
//     (e) layout mismatch: a hand-written tw/unlink kprobe event with dfd and pathname swapped
//         makes `tw probe load unlink` fail naming dfd with the expected/actual offsets (and tw
//         leaves that event, which it did not create, alone until `tw probe unload`); one with an
//         8-byte dfd makes checkLayout() throw LayoutMismatchError(dfd, 16/4 vs 16/8)
//     (f) the generic custom_event handler gets the payload from the GENERATED unpacker:
//         `tw watch test/fixtures/unlink-payload-watch.mjs <path> --probe-backend module` (a watch
//         declaring plugin-fswatch's unlink probe) loads tw_unlink, imports unlink.unpack.js and
//         keeps e.data / e.unpacker / e.specHash for the rm of a known path by a known pid; it
//         records the trace (--record), which the host then replays through the same watch
//         (offline, the generated unpacker is used after checking the recording's format)
//     (g) the same with --probe-backend kprobe-events
//     (p) path() across mounts (in (d)'s API run): with a tmpfs on /mnt/twtest and another on
//         /mnt/twtest/inner, plugin-fswatch's open_write module loaded by loadModule (struct mount
//         offsets read from the guest's BTF with pahole, passed as tw_mnt_* params) reports the
//         full paths of files opened for writing on each; loaded with pahole missing it falls back
//         (one note, paths inside each tmpfs); insmod with impossible offsets fails in tw_init;
//         possible but wrong offsets walk garbage without an oops
//     (m) the culprit watches on files of the guest's root (an overlay: stat(2) gives its files
//         a layer's device, the probes the overlay's): who-modified through the module (a first
//         culprit that ends it; a --keep-going sequence of an append, an O_TRUNC open by a
//         relative name from another cwd, a directory fd, a hard link, a relative rm, the path
//         created again), through BPF (an editor-style save and the change after it), and its
//         clear refusal of kprobe events; who-deleted through the module (tw:unlink_cwd, with the
//         caller's cwd) and kprobe events (tw:unlink) of a short-lived rm of a relative name.
//     (n) kill -9 of a tw watch through a module, then through a kprobe event, once as soon as
//         the module or event exists (before tw traces) and once while it traces: its guardian
//         process removes the module or the kprobe event and the instance
//     (h) BPF beside the other two: `tw dump -e tw:unlink --probe-backend bpf` (a kprobe BPF
//         program on do_unlinkat, compiled on the host into the cache: CO-RE, one object for both
//         kernels) runs from before (a) to after (c); the rm of (a) must give the same record as
//         the module's, the rm of (c) the same as the kprobe event's; its program is gone after
//   The host's `tw probe gen --all` also stores every compiled unpacker in the unpacker cache
//   ($XDG_CACHE_HOME/tw/unpackers); the guest must find them there (no TypeScript compile in the
//   guest: the cache directory is unchanged at the end).
//   The guest runs with oops=panic panic_on_warn=1: a crashing or WARNing module ends the run
//   with code 100, which fails every test of that kernel.
//
// `tw` costs ~5-12 s per invocation under TCG (Node's startup), so the guest script runs it 10
// times and does the repetitive work (cycles 2..19 and the checkLayout() case of (e)) in one Node
// process. Kernels run side by side (1 vCPU each); a guest run takes ~300-550 s (timeout GUEST_SEC).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildResult } from '@tw/kprobe-gen';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTwDumpLine } from '../support/tw.js';
import { parseWatchJson } from '../support/watch-json.js';
import { GUEST_CRASHED, guestKernels, runInGuest, vmSkipReason, type GuestRun } from '../support/vm.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(REPO, 'packages/cli/bin/run.js');
const API = fileURLToPath(new URL('../../vm/probe-api.mjs', import.meta.url));
/** the watch of steps (f)/(g): records what custom_event got for the unlink of <path> */
const PAYLOAD_WATCH = fileURLToPath(new URL('../../fixtures/unlink-payload-watch.mjs', import.meta.url));
/** where the guest script works (and so where its victims are) */
const GUEST_W = '/tmp/tw-vm-probes-guest';
/** every probe spec the shipped plugins declare (plugin-fswatch, plugin-kill) */
// the shipped specs a module can express (openat_write, a syscall exit, is BPF only: not built)
const SPECS = ['kill', 'open_write', 'sys_kill', 'unlink', 'unlink_cwd', 'unlinkat'];

/** a guest run takes ~550-850 s under TCG (the kernels side by side on two cores, slower when the host is busy); each test waits for its kernel's run */
const GUEST_SEC = 1500;
const TEST_MS = (GUEST_SEC + 120) * 1000;

const reason = vmSkipReason();
const kernels = reason === undefined ? guestKernels() : [];
if (reason !== undefined) console.warn(`[probes.vm] skipped: ${reason}`);

interface HostBuild {
  code: number | null;
  output: string;
  ms: number;
}

interface ProbeRun {
  kver: string;
  build: HostBuild;
  run: GuestRun;
  runMs: number;
  /** step → 'ok' (plus detail) or the failure reason */
  steps: Map<string, { ok: boolean; text: string }>;
  /** `data <key> <text>` lines */
  data: Map<string, string[]>;
  /** `time <label> <guest uptime>` lines */
  times: Map<string, string>;
}

/**
 * The guest side. Runs as root in the guest with the host's filesystem underneath (read-only, a
 * tmpfs overlay on top): $CACHE is the host-built module cache, the repo is at its host path.
 */
function guestScript(cacheHome: string): string {
  return String.raw`#!/bin/bash
set -u
O=$TW_OUT/out.txt; : > "$O"
T=/sys/kernel/tracing
W=${GUEST_W}; rm -rf $W; mkdir -p $W/logs $W/bin
L=$W/logs
export XDG_CACHE_HOME='${cacheHome}'
CACHE=$XDG_CACHE_HOME/tw/modules
UNPACKERS=$XDG_CACHE_HOME/tw/unpackers
SENDERS=$XDG_CACHE_HOME/senders
# foreground commands are bounded (a hang is a FAIL with rc=124, not a guest timeout);
# tw dump / tw watch run in the background as plain node: their pid names their tracefs instance
TW="timeout 90 node ${CLI}"
TWBG="node ${CLI}"
API="timeout 120 node ${API}"
PAYLOAD_WATCH='${PAYLOAD_WATCH}'

ok() { echo "ok $*" >> "$O"; }
fail() { local s=$1; shift; echo "FAIL $s: $(echo "$*" | tr '\n' ' ' | cut -c1-900)" >> "$O"; }
data() { local k=$1; shift; echo "data $k $(echo "$*" | tr '\n' ' ')" >> "$O"; }
stamp() { echo "time $1 $(cut -d' ' -f1 /proc/uptime)" >> "$O"; }
flat() { tr '\n' ' ' < "$1" | cut -c1-600; }
# what of tw:unlink is left: a module, a dynamic event, the event dir
tw_module() { grep '^tw_unlink ' /proc/modules; }
tw_dynamic() { grep 'tw/' $T/dynamic_events; }
# wait until tw process $1 traces: its instance tw-$1-* is on and has tw:unlink enabled
# (bash builtins only but sleep: forks are slow under TCG and would steal the CPU from Node)
wait_tracing() {
  local i d on en
  for i in $(seq 1 600); do
    kill -0 $1 2>/dev/null || return 1
    for d in $T/instances/tw-$1-*; do
      on=0; en=0
      [ -d "$d" ] && read -r on < $d/tracing_on && read -r en < $d/events/tw/unlink/enable
      case "$on/$en" in 1/1*) return 0;; esac
    done 2>/dev/null
    sleep 0.1
  done
  return 1
}
# wait_line PID FILE TEXT: until FILE has a line starting with TEXT (tw's "tw: tracing" on stderr)
wait_line() {
  local i l
  for i in $(seq 1 900); do
    kill -0 $1 2>/dev/null || return 1
    while IFS= read -r l; do case "$l" in "$3"*) return 0;; esac; done < $2
    sleep 0.1
  done
  return 1
}
# stop_bg PID: SIGINT (tw ends gracefully and prints), SIGKILL after 40 s; sets rc to its exit status
stop_bg() {
  local i
  kill -INT $1 2>/dev/null
  for i in $(seq 1 400); do kill -0 $1 2>/dev/null || break; sleep 0.1; done
  kill -0 $1 2>/dev/null && kill -KILL $1
  wait $1; rc=$?
}
# rm_as PIDFILE PATH: rm PATH from a fresh process whose pid is written to PIDFILE first
rm_as() { bash -c 'echo $$ > "$1"; exec rm "$2"' rm-as "$1" "$2"; }
no_left() {  # no_left STEP-PREFIX: the three "nothing left" checks
  [ -z "$(tw_module)" ] && ok $1.no_module || fail $1.no_module "$(tw_module)"
  [ -z "$(tw_dynamic)" ] && ok $1.no_dynamic_events || fail $1.no_dynamic_events "$(tw_dynamic)"
  [ ! -e $T/events/tw/unlink ] && ok $1.no_event_dir || fail $1.no_event_dir "$(ls $T/events/tw 2>&1)"
}

stamp start
[ "$(cat /proc/sys/kernel/panic_on_warn)" = 1 ] && ok panic_on_warn || fail panic_on_warn "panic_on_warn=$(cat /proc/sys/kernel/panic_on_warn)"

# ---- the cache: the host's build for this kernel is there; any make in the guest is recorded
REL=$(cat /lib/modules/$(uname -r)/build/include/config/kernel.release)
data release "$REL"
ls -d $CACHE/unlink-*-$REL-*/ >/dev/null 2>&1 && ls $CACHE/unlink-*-$REL-*/tw_unlink.ko >/dev/null 2>&1 \
  && ok cache.present || fail cache.present "no unlink-*-$REL-*/tw_unlink.ko in $CACHE: $(ls $CACHE 2>&1)"
# (only this kernel's entries: the host may still be building the other kernel's into the same cache)
mine() { ls -a $CACHE 2>&1 | grep -F -- "-$REL-"; }
mine > $W/cache-before
# the compiled unpackers the host stored (entries being renamed into place by the other kernel's
# host build, *.tmp-*, are not entries)
unpackers() { ls -a $UNPACKERS 2>&1 | grep -v '\.tmp-'; }
ls $UNPACKERS/unlink-*/unlink.unpack.js >/dev/null 2>&1 && ok cache.unpackers_present || fail cache.unpackers_present "no unlink-*/unlink.unpack.js in $UNPACKERS: $(ls $UNPACKERS 2>&1)"
unpackers > $W/unpackers-before
printf '#!/bin/sh\necho "make $*" >> %s/make-called\nexit 2\n' $W > $W/bin/make; chmod +x $W/bin/make
export PATH=$W/bin:$PATH

# ---- (h) BPF beside the other two backends: one tw dump -e tw:unlink --probe-backend bpf (a BPF
# kprobe program on do_unlinkat, from the object the host compiled into the cache) runs from here
# until after (c), so the rm of (a) is seen by the module and by BPF, and the rm of (c) by
# kprobe-events and by BPF (kprobe-events and the module cannot both hold tw/unlink at once)
stamp h
$TWBG dump -e tw:unlink --probe-backend bpf --duration 600s > $L/h.out 2> $L/h.err &
H=$!
wait_line $H $L/h.err 'tw: tracing' && ok h.ready || fail h.ready "tw dump --probe-backend bpf never traced: $(flat $L/h.err)"
data h.tracing "$(grep '^tw: tracing' $L/h.err)"
stamp h.ready
# the generated programs loaded now (tw_unlink: by the dump above)
tw_progs() { bpftool prog list 2>&1 | grep -E ' name tw_(unlink|unlinkat) '; }

# ---- (a) module backend: load, decode
stamp a
$TW probe gen unlink --backend module --json > $L/gen.out 2> $L/gen.err; rc=$?
[ $rc = 0 ] && grep -q '"loaded": "module"' $L/gen.out && ok a.gen || fail a.gen "rc=$rc $(flat $L/gen.out) $(flat $L/gen.err)"
[ -n "$(tw_module)" ] && ok a.proc_modules || fail a.proc_modules "no tw_unlink in /proc/modules"
[ -e $T/events/tw/unlink/format ] && ok a.event_format || fail a.event_format "no events/tw/unlink/format"
stamp a.loaded
P1=$W/victim-module; touch $P1
$TWBG dump -e tw:unlink --duration 90s > $L/dump.out 2> $L/dump.err &
D=$!
if wait_tracing $D; then
  ok a.dump_ready
  stamp a.dump_ready
  rm_as $W/rm1.pid $P1; R1=$(cat $W/rm1.pid)
  data a.rm_pid $R1
  for i in $(seq 1 50); do grep -qF "$P1" $L/dump.out && break; sleep 0.1; done
else
  fail a.dump_ready "tw dump never traced: $(flat $L/dump.err)"; R1=none
fi
stop_bg $D
[ $rc = 0 ] && ok a.dump_rc || fail a.dump_rc "tw dump exit $rc: $(flat $L/dump.err)"
grep -F "$P1" $L/dump.out | while read -r l; do data a.dump "$l"; done
grep -F "\"pathname\":\"$P1\"" $L/dump.out | grep -F "\"pid\":$R1," | grep -F '"dfd":-100,' | grep -qF '"comm":"rm"}}' \
  && ok a.decoded || fail a.decoded "no tw:unlink line with pid $R1, dfd -100, pathname $P1, comm rm in: $(flat $L/dump.out)"

# ---- (b) unload (load/unload cycle 1)
stamp b
$TW probe unload unlink > $L/unload.out 2>&1; rc=$?
[ $rc = 0 ] && grep -q 'unloaded (module)' $L/unload.out && ok b.unload || fail b.unload "rc=$rc $(flat $L/unload.out)"
no_left b

# ---- (d) cycles 2..19 through the API, 20 through tw; the API's Node start also does (e)'s
# checkLayout() of an 8-byte dfd first (a kprobe event added and removed by hand), and then (p):
# open_write's path() across two tmpfs mounts
stamp d
MNT=/mnt/twtest
mkdir -p $MNT && mount -t tmpfs none $MNT && mkdir $MNT/inner && mount -t tmpfs none $MNT/inner \
  && ok p.mounted || fail p.mounted "$(grep twtest /proc/self/mounts)"
$API layout-size cycles 2 19 $W/cycles fullpath $MNT >> "$O" 2> $L/api.err; rc=$?
[ $rc = 0 ] || fail d.api_rc "probe-api.mjs exit $rc: $(flat $L/api.err)"
umount $MNT/inner $MNT
stamp d.api_done
$TW probe load unlink --backend module > $L/load20.out 2>&1; rc=$?
[ $rc = 0 ] && grep -q 'unlink: loaded (module)' $L/load20.out && [ -n "$(tw_module)" ] && ok d.tw_load_20 || fail d.tw_load_20 "rc=$rc $(flat $L/load20.out)"
I=$T/instances/vmtest-20
mkdir $I && echo 1 > $I/events/tw/unlink/enable && touch $W/cycle-20 && rm $W/cycle-20
grep -q " unlink: .* pathname=$W/cycle-20 comm=rm$" $I/trace && ok d.fires_20 || fail d.fires_20 "$(grep -v '^#' $I/trace 2>&1 | tail -3)"
echo 0 > $I/events/tw/unlink/enable; rmdir $I
$TW probe unload unlink > $L/unload20.out 2>&1; rc=$?
[ $rc = 0 ] && grep -q 'unloaded (module)' $L/unload20.out && ok d.tw_unload_20 || fail d.tw_unload_20 "rc=$rc $(flat $L/unload20.out)"
no_left d

# ---- (c) kprobe_events backend, through the who-deleted watch (loads the probe, unloads it at the end)
stamp c
P2=$W/victim-kprobe; touch $P2
$TWBG watch who-deleted $P2 --probe-backend kprobe-events --json --duration 90s > $L/watch.out 2> $L/watch.err &
D=$!
if wait_tracing $D; then
  ok c.watch_ready
  stamp c.watch_ready
  data c.kprobe_event "$(grep 'tw/unlink' $T/dynamic_events)"
  grep -q '^p:tw/unlink do_unlinkat ' $T/dynamic_events && ok c.kprobe_event || fail c.kprobe_event "dynamic_events: $(flat $T/dynamic_events)"
  [ -z "$(tw_module)" ] && ok c.not_module || fail c.not_module "tw_unlink is a module"
  # the one rm: who-deleted ends itself after it (exit 0); wait for that (a SIGINT from stop_bg
  # while Node exits would end it with 130 instead), then stop_bg finds it gone and takes its status
  rm_as $W/rm2.pid $P2; R2=$(cat $W/rm2.pid)
  data c.rm_pid $R2
  for i in $(seq 1 600); do kill -0 $D 2>/dev/null || break; sleep 0.1; done
  kill -0 $D 2>/dev/null && fail c.ended_itself "tw watch who-deleted still runs 60 s after the rm" || ok c.ended_itself
else
  fail c.watch_ready "tw watch never traced: $(flat $L/watch.err)"; R2=none
fi
stop_bg $D
[ $rc = 0 ] && ok c.watch_rc || fail c.watch_rc "tw watch exit $rc: $(flat $L/watch.err)"
# the result is the last line, after the alert lines
tail -n 1 $L/watch.out | tr -d ' \n' > $L/watch.flat
data c.watch "$(cat $L/watch.flat)"
grep -qF "\"pid\":$R2,\"tgid\":$R2,\"comm\":\"rm\"" $L/watch.flat && grep -qF "\"pathname\":\"$P2\",\"dfd\":-100" $L/watch.flat \
  && ok c.decoded || fail c.decoded "no deletion of $P2 by rm[$R2] in: $(cut -c1-600 $L/watch.flat)"
no_left c

# ---- (h) end of the BPF dump: it saw both rms; its program goes with it
stamp h.stop
[ -n "$(tw_progs)" ] && ok h.prog_loaded || fail h.prog_loaded "no tw_unlink BPF program while tw dump runs: $(bpftool prog list 2>&1 | tail -4)"
stop_bg $H
[ $rc = 0 ] && ok h.dump_rc || fail h.dump_rc "tw dump exit $rc: $(flat $L/h.err)"
grep -F "$P1" $L/h.out | while read -r l; do data h.dump_a "$l"; done
grep -F "$P2" $L/h.out | while read -r l; do data h.dump_c "$l"; done
[ -z "$(tw_progs)" ] && ok h.no_prog || fail h.no_prog "$(tw_progs)"
no_left h

# ---- (e) layout mismatch: a tw/unlink kprobe event by hand, dfd and pathname swapped
stamp e
echo 'p:tw/unlink do_unlinkat pathname=+0(+0(%si)):string dfd=%di:s32 comm=$comm:string' >> $T/kprobe_events \
  && ok e.handmade_added || fail e.handmade_added "$(tail -3 $T/error_log)"
$TW probe load unlink > $L/e.out 2> $L/e.err; rc=$?
data e.tw_load "rc=$rc $(flat $L/e.err)"
[ $rc != 0 ] && grep -q "field 'dfd': expected offset 16 size 4 .*format has offset 20 size 4" $L/e.err \
  && ok e.tw_load_rejects || fail e.tw_load_rejects "rc=$rc out: $(flat $L/e.out) err: $(flat $L/e.err)"
grep -q '^p:tw/unlink do_unlinkat pathname=' $T/dynamic_events && ok e.foreign_kept || fail e.foreign_kept "dynamic_events: $(flat $T/dynamic_events)"
$TW probe unload unlink > $L/e-unload.out 2>&1; rc=$?
[ $rc = 0 ] && grep -q 'unloaded (kprobe-events)' $L/e-unload.out && ok e.tw_unload || fail e.tw_unload "rc=$rc $(flat $L/e-unload.out)"
no_left e

# ---- (f), (g) custom_event through the generated unpacker: the fixture watch declares the unlink
# probe, keeps what custom_event got for the rm of its <path> and stops itself there
# payload_run STEP PATH BACKEND [tw args...]: one run; sets R to the rm's pid
payload_run() {
  local step=$1 path=$2 backend=$3; shift 3
  touch $path
  $TWBG watch $PAYLOAD_WATCH $path --probe-backend $backend --json --duration 90s "$@" > $L/$step.out 2> $L/$step.err &
  D=$!
  R=none
  if wait_tracing $D; then
    ok $step.watch_ready
    stamp $step.watch_ready
    data $step.dynamic_events "$(grep 'tw/' $T/dynamic_events)"
    [ -n "$(tw_module)" ] && data $step.backend module || data $step.backend kprobe-events
    rm_as $W/$step.pid $path; R=$(cat $W/$step.pid)
    data $step.rm_pid $R
    for i in $(seq 1 150); do kill -0 $D 2>/dev/null || break; sleep 0.1; done
  else
    fail $step.watch_ready "tw watch never traced: $(flat $L/$step.err)"
  fi
  stop_bg $D
  [ $rc = 0 ] && ok $step.watch_rc || fail $step.watch_rc "tw watch exit $rc: $(flat $L/$step.err)"
  data $step.watch "$(tr -d '\n' < $L/$step.out)"
  data $step.stderr "$(flat $L/$step.err)"
  grep -q '"unpacker": *"generated"' $L/$step.out && ok $step.generated || fail $step.generated "custom_event data not from the generated unpacker: $(flat $L/$step.out) $(flat $L/$step.err)"
  no_left $step
}
stamp f
payload_run f $W/victim-payload-module module --record $TW_OUT/f.dat
stamp g
payload_run g $W/victim-payload-kprobe kprobe-events

# ---- (k) who-killed through the module and kprobe-events backends: it names a short-lived kill(1)
# (its kill(2) seen by the tw:kill probe, joined to signal_generate) and ends when its victim dies.
# Each run must end by itself (the watch stops); the result is the last line.
# culprit_run STEP BACKEND WATCH ARG COMMAND...: sets C to the culprit's pid
culprit_run() {
  local step=$1 backend=$2 watch=$3 arg=$4; shift 4
  $TWBG watch $watch $arg --probe-backend $backend --json --duration 120s > $L/$step.out 2> $L/$step.err &
  D=$!
  C=none
  if wait_line $D $L/$step.err 'tw: tracing'; then
    ok $step.ready
    data $step.tracing "$(grep -m1 'tw: tracing' $L/$step.err)"
    bash -c 'echo $$ > "$1"; shift; exec "$@"' culprit $W/$step.pid "$@"; C=$(cat $W/$step.pid)
    data $step.culprit $C
    for i in $(seq 1 600); do kill -0 $D 2>/dev/null || break; sleep 0.1; done
    kill -0 $D 2>/dev/null && fail $step.ended_itself "tw watch $watch still runs 60 s after the culprit" || ok $step.ended_itself
  else
    fail $step.ready "tw watch never traced: $(flat $L/$step.err)"
  fi
  stop_bg $D
  [ $rc = 0 ] && ok $step.rc || fail $step.rc "tw watch exit $rc: $(flat $L/$step.err)"
  data $step.result "$(tail -n 1 $L/$step.out | tr -d '\n')"
  [ -z "$(grep '^tw_' /proc/modules)" ] && ok $step.no_module || fail $step.no_module "$(grep '^tw_' /proc/modules)"
  [ -z "$(tw_dynamic)" ] && ok $step.no_dynamic_events || fail $step.no_dynamic_events "$(tw_dynamic)"
}
for b in module kprobe-events; do
  stamp k.$b
  sleep 300 & V=$!
  culprit_run k.killed.$b $b who-killed $V /bin/kill -TERM $V
  wait $V 2>/dev/null
done
# (k) a kill from a second thread and one via pidfd_send_signal (both handled by the victim), then
# a short-lived kill(1)'s fatal SIGTERM; the senders are test/fixtures/signal-senders.c, built on
# the host ($SENDERS/twsender, and the same program as twvictim)
for b in module kprobe-events; do
  step=k.senders.$b
  stamp $step
  $SENDERS/twvictim victim > $W/$step.victim 2>&1 &
  V=$!
  for i in $(seq 1 300); do grep -q ready $W/$step.victim 2>/dev/null && break; sleep 0.1; done
  $TWBG watch who-killed $V --probe-backend $b --json --duration 120s > $L/$step.out 2> $L/$step.err &
  D=$!
  if wait_line $D $L/$step.err 'tw: tracing'; then
    ok $step.ready
    data $step.tracing "$(grep -m1 'tw: tracing' $L/$step.err)"
    data $step.thread "$($SENDERS/twsender kill-thread $V 10)"
    data $step.pidfd "$($SENDERS/twsender pidfd $V 1)"
    sleep 0.5
    bash -c 'echo $$ > "$1"; exec /bin/kill -TERM "$2"' k2 $W/$step.pid $V; data $step.culprit $(cat $W/$step.pid)
    for i in $(seq 1 600); do kill -0 $D 2>/dev/null || break; sleep 0.1; done
    kill -0 $D 2>/dev/null && fail $step.ended_itself "tw watch who-killed still runs 60 s after the kill" || ok $step.ended_itself
  else
    fail $step.ready "tw watch never traced: $(flat $L/$step.err)"
  fi
  stop_bg $D
  [ $rc = 0 ] && ok $step.rc || fail $step.rc "tw watch exit $rc: $(flat $L/$step.err)"
  data $step.result "$(tail -n 1 $L/$step.out | tr -d '\n')"
  kill -KILL $V 2>/dev/null; wait $V 2>/dev/null
  [ -z "$(grep '^tw_' /proc/modules)" ] && ok $step.no_module || fail $step.no_module "$(grep '^tw_' /proc/modules)"
  [ -z "$(tw_dynamic)" ] && ok $step.no_dynamic_events || fail $step.no_dynamic_events "$(tw_dynamic)"
done

# ---- (m) who-modified and who-deleted through the module and kprobe-events backends, on files on
# the guest's root, an overlay (stat(2) gives its files a layer's device; the probes see the
# overlay's). What the kprobe forms see: opens for writing (tw:open_write: a module; kprobe events
# cannot walk a path, so who-modified has no kprobe-events form) and deletions (tw:unlink_cwd, a
# module, with the caller's cwd; tw:unlink, a kprobe event, without). Then the same file through
# the default backends (BPF kprobes and syscall exits here): an editor-style save and the change after.
M=$W/m; mkdir -p $M/sub; F=$M/modified; echo a > $F
data m.fs "$(stat -f -c %T $M)"
culprit_run m.first.module module who-modified $F /usr/bin/tee -a $F </dev/null >/dev/null
# as_pid STEP COMMAND: runs COMMAND from a fresh bash whose pid is recorded as data STEP
as_pid() { local s=$1; shift; bash -c 'echo $$ > "$1"; shift; eval "$@"' as-pid $W/$s.pid "$@"; data $s $(cat $W/$s.pid); }
# seq_run STEP BACKEND ACTIONS: a --keep-going who-modified of $F while the function ACTIONS runs
seq_run() {
  local step=$1 backend=$2 actions=$3
  stamp $step
  $TWBG watch who-modified $F --probe-backend $backend --keep-going --json --duration 120s > $L/$step.out 2> $L/$step.err &
  D=$!
  if wait_line $D $L/$step.err 'tw: tracing'; then
    ok $step.ready
    data $step.tracing "$(grep -m1 'tw: tracing' $L/$step.err)"
    $actions
    sleep 1
  else
    fail $step.ready "tw watch never traced: $(flat $L/$step.err)"
  fi
  stop_bg $D
  [ $rc = 0 ] && ok $step.rc || fail $step.rc "tw watch exit $rc: $(flat $L/$step.err)"
  data $step.result "$(tail -n 1 $L/$step.out | tr -d '\n')"
  [ -z "$(grep '^tw_' /proc/modules)" ] && ok $step.no_module || fail $step.no_module "$(grep '^tw_' /proc/modules)"
  [ -z "$(tw_dynamic)" ] && ok $step.no_dynamic_events || fail $step.no_dynamic_events "$(tw_dynamic)"
}
# through the module: an append, an O_TRUNC open by a relative name from another cwd, an open
# through a directory fd, a write through a hard link, nothing for a read or another file, a
# deletion by a relative name, the path created again
module_seq() {
  as_pid m.seq.append "exec tee -a $F </dev/null >/dev/null"
  (cd $M/sub && as_pid m.seq.trunc ': > ../modified')
  as_pid m.seq.dirfd "exec python3 -c 'import os; d = os.open(\"$M\", os.O_RDONLY); os.write(os.open(\"modified\", os.O_WRONLY | os.O_APPEND, dir_fd=d), b\"x\")'"
  as_pid m.seq.link "ln $F $M/link; echo y >> $M/link"
  cat $F > /dev/null; echo x >> $M/other
  (cd $M/sub && as_pid m.seq.rm 'exec rm ../modified')
  sleep 0.5
  as_pid m.seq.create "echo new > $F"
}
seq_run m.seq module module_seq
# through the default backends: sed -i (a new file renamed over the path), then an append to the new file
auto_seq() {
  as_pid m.auto.sed "exec sed -i s/new/newer/ $F"
  sleep 1
  as_pid m.auto.after "echo z >> $F"
}
seq_run m.auto auto auto_seq
# deletions: who-deleted (rm of a relative name from another cwd; through kprobe events, which
# record no cwd, a name without .. matched on its last components) and who-modified (rm)
echo a > $M/victim
(cd $M/sub && culprit_run m.whodeleted.module module who-deleted $M/victim /bin/rm ../victim)
echo a > $M/victim
(cd $M && culprit_run m.whodeleted.kprobe-events kprobe-events who-deleted $M/victim /bin/rm victim)
echo a > $F
culprit_run m.deleted.module module who-modified $F /bin/rm $F
# who-modified has no kprobe-events form (open_write walks a path): a clear error, nothing left
echo a > $F
$TW watch who-modified $F --probe-backend kprobe-events --json > $L/m.nokprobe.out 2> $L/m.nokprobe.err; rc=$?
data m.nokprobe.rc $rc
data m.nokprobe.err "$(flat $L/m.nokprobe.err)"
[ -z "$(grep '^tw_' /proc/modules)" ] && ok m.nokprobe.no_module || fail m.nokprobe.no_module "$(grep '^tw_' /proc/modules)"
[ -z "$(tw_dynamic)" ] && ok m.nokprobe.no_dynamic_events || fail m.nokprobe.no_dynamic_events "$(tw_dynamic)"

# ---- (n) kill -9 of tw through the module and kprobe-events backends, at two points: while it
# starts (as soon as the module or the kprobe event exists) and while it traces; its guardian
# removes the module or the kprobe event and the instance (within a few seconds under TCG)
tw_held() { if [ $1 = module ]; then grep '^tw_' /proc/modules | cut -d' ' -f1; else tw_dynamic; fi; }
for b in module kprobe-events; do
  for at in starting tracing; do
    step=n.$b.$at
    stamp $step
    touch $W/n-victim
    : > $L/$step.err
    $TWBG watch who-deleted $W/n-victim --probe-backend $b --duration 120s > $L/$step.out 2> $L/$step.err &
    D=$!
    seen=
    if [ $at = starting ]; then
      # poll every 20 ms with builtins only (a fork is slow under TCG): kill as soon as the
      # object exists, before tw traces (read -t on a FIFO nobody writes is a sleep without a fork)
      [ -p $W/never ] || mkfifo $W/never
      exec 7<>$W/never
      for i in $(seq 1 4500); do
        read -r -t 0.02 -u 7 l
        if [ $b = module ]; then while read -r l; do case "$l" in tw_*) seen=$l;; esac; done < /proc/modules
        else while read -r l; do case "$l" in *tw/*) seen=$l;; esac; done < $T/dynamic_events; fi
        [ -n "$seen" ] && break
        kill -0 $D 2>/dev/null || break
      done
      exec 7>&-
      grep -q '^tw: tracing' $L/$step.err && data $step.point "after tw: tracing" || data $step.point "before tw: tracing"
    elif wait_line $D $L/$step.err 'tw: tracing'; then
      seen=$(tw_held $b)
    fi
    if [ -n "$seen" ]; then
      ok $step.ready
      data $step.before "$seen"
      kill -KILL $D; wait $D 2>/dev/null
      for i in $(seq 1 100); do
        [ -z "$(tw_held $b)" ] && ! ls -d $T/instances/tw-$D-* >/dev/null 2>&1 && break
        sleep 0.1
      done
      data $step.gone_after "$i"
      [ -z "$(grep '^tw_' /proc/modules)" ] && ok $step.no_module || fail $step.no_module "10 s after kill -9: $(grep '^tw_' /proc/modules)"
      [ -z "$(tw_dynamic)" ] && ok $step.no_dynamic_events || fail $step.no_dynamic_events "10 s after kill -9: $(tw_dynamic)"
      ls -d $T/instances/tw-$D-* >/dev/null 2>&1 && fail $step.no_instance "10 s after kill -9: $(ls -d $T/instances/tw-$D-*)" || ok $step.no_instance
    else
      fail $step.ready "tw never made its probe: $(flat $L/$step.err)"
      stop_bg $D
    fi
  done
done

# ---- every build in the guest was a cache hit
[ ! -e $W/make-called ] && ok cache.no_make || fail cache.no_make "make ran in the guest: $(flat $W/make-called)"
mine > $W/cache-after
cmp -s $W/cache-before $W/cache-after && ok cache.unchanged || fail cache.unchanged "$(diff $W/cache-before $W/cache-after | tr '\n' ' ')"
unpackers > $W/unpackers-after
cmp -s $W/unpackers-before $W/unpackers-after && ok cache.unpackers_unchanged || fail cache.unpackers_unchanged "$(diff $W/unpackers-before $W/unpackers-after | tr '\n' ' ')"
stamp end
`;
}

function parse(kver: string, build: HostBuild, run: GuestRun, runMs: number): ProbeRun {
  const steps = new Map<string, { ok: boolean; text: string }>();
  const data = new Map<string, string[]>();
  const times = new Map<string, string>();
  for (const line of run.out.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^ok (\S+) ?(.*)$/.exec(line))) {
      // a step that failed once stays failed
      if (!steps.has(m[1]!)) steps.set(m[1]!, { ok: true, text: m[2]! });
    } else if ((m = /^FAIL (\S+?): ?(.*)$/.exec(line))) steps.set(m[1]!, { ok: false, text: m[2]! });
    else if ((m = /^data (\S+) ?(.*)$/.exec(line))) data.set(m[1]!, [...(data.get(m[1]!) ?? []), m[2]!.trimEnd()]);
    else if ((m = /^time (\S+) (\S+)$/.exec(line))) times.set(m[1]!, m[2]!);
  }
  return { kver, build, run, runMs, steps, data, times };
}

/** Build every probe module on the host for `kver` into the cache under `cacheHome`. */
function hostBuild(kver: string, cacheHome: string): Promise<HostBuild> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'probe', 'gen', '--all', '--no-load', '--kdir', `/lib/modules/${kver}/build`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_CACHE_HOME: cacheHome },
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', (e) => resolve({ code: null, output: `cannot run tw: ${e.message}`, ms: Date.now() - t0 }));
    child.on('close', (code) => resolve({ code, output: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0 }));
  });
}

/** The cache entries (dir, stamp) built for `kver`: <cacheHome>/tw/modules/<name>-<hash>-<release>-<src>/ */
function cacheEntries(cacheHome: string, kver: string): Array<{ dir: string; stamp: Record<string, string> }> {
  const root = join(cacheHome, 'tw', 'modules');
  const out: Array<{ dir: string; stamp: Record<string, string> }> = [];
  for (const d of existsSync(root) ? readdirSync(root) : []) {
    try {
      const stamp = JSON.parse(readFileSync(join(root, d, '.tw-build.json'), 'utf8')) as Record<string, string>;
      if (stamp['utsRelease'] === kver) out.push({ dir: join(root, d), stamp });
    } catch {
      // not a finished entry
    }
  }
  return out;
}

/** What the payload fixture's end() returns: the custom_event copies it kept for its <path>. */
interface PayloadResult {
  seen: Array<{ event: string; pid: number; unpacker: string; specHash: string | null; data: Record<string, unknown>; fields: Record<string, unknown>; rawBytes: number }>;
  others: number;
}

/** The spec hash of plugin-fswatch's unlink probe (what the generated unlink.unpack.js carries). */
async function unlinkSpecHash(): Promise<string> {
  // imported here: the packages' dist may only exist after beforeAll's build
  const { modelOf } = await import('@tw/kprobe-gen');
  const { unlink } = await import('@tw/plugin-fswatch/probes');
  return modelOf(unlink).hash;
}

/** The payload fixture saw exactly the rm of `path` by `pid`, unpacked by the generated unpacker. */
async function expectGeneratedPayload(result: PayloadResult | undefined, path: string, pid: number, why: string): Promise<void> {
  const hash = await unlinkSpecHash();
  expect(result, why).toEqual({
    seen: [
      {
        event: 'tw:unlink',
        pid,
        unpacker: 'generated',
        specHash: hash,
        // the generated unpackUnlink(): the spec's fields, pid (common_pid) included
        data: { dfd: -100, pathname: path, pid, comm: 'rm' },
        // the format-decoded fields, for comparison (the probe header's __probe_ip included)
        fields: { __probe_ip: expect.any(String), dfd: -100, pathname: path, comm: 'rm' },
        rawBytes: expect.any(Number),
      },
    ],
    others: expect.any(Number),
  });
}

function payloadOf(s: ProbeRun, step: string): PayloadResult | undefined {
  const text = s.data.get(`${step}.watch`)?.[0];
  try {
    return text === undefined ? undefined : (JSON.parse(text) as PayloadResult);
  } catch {
    return undefined;
  }
}

function ctx(s: ProbeRun): string {
  return (
    `kernel ${s.kver}, guest exit ${s.run.code}${s.run.code === GUEST_CRASHED ? ' (the guest crashed, panicked/WARNed with panic_on_warn, or timed out)' : ''}\n` +
    `--- out.txt\n${s.run.out.slice(0, 6000)}\n--- console (tail)\n${s.run.log.split('\n').slice(-40).join('\n')}`
  );
}

/** Every named step must have reported ok; the failures (and missing ones) with their reasons otherwise. */
function expectSteps(s: ProbeRun, names: readonly string[]): void {
  const bad = names.flatMap((n) => {
    const st = s.steps.get(n);
    if (!st) return [`${n}: never reported (the guest script stopped before it?)`];
    return st.ok ? [] : [`${n}: ${st.text}`];
  });
  expect(bad, `failed steps on ${s.kver}:\n  ${bad.join('\n  ')}\n\n${ctx(s)}`).toEqual([]);
}

describe.skipIf(reason !== undefined)(`dynamic probes in the qemu guest${reason !== undefined ? ` (skipped: ${reason})` : ''}`, () => {
  const runs = new Map<string, Promise<ProbeRun>>();
  const t0 = Date.now();
  let cacheHome = '';

  beforeAll(() => {
    if (!existsSync(join(REPO, 'packages/cli/dist/index.js')) || !existsSync(join(REPO, 'packages/kprobe-gen/dist/index.js'))) {
      const b = spawnSync('npx', ['turbo', 'run', 'build'], { cwd: REPO, encoding: 'utf8' });
      if (b.status !== 0) throw new Error(`npx turbo run build failed: ${b.stderr}`);
    }
    // no whitespace: the guest script quotes it, but keep it plain; /tmp is visible in the guest
    cacheHome = mkdtempSync('/tmp/tw-probes-cache-');
    // (k)'s signal senders (the guest runs the host's binaries)
    mkdirSync(join(cacheHome, 'senders'));
    const cc = spawnSync('cc', ['-O2', '-pthread', '-o', join(cacheHome, 'senders', 'twsender'), join(REPO, 'test/fixtures/signal-senders.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc test/fixtures/signal-senders.c: ${cc.stderr}`);
    copyFileSync(join(cacheHome, 'senders', 'twsender'), join(cacheHome, 'senders', 'twvictim'));
    // (h)'s BPF object, compiled here into the cache the guest uses (CO-RE: one object for every
    // kernel); the guest finds it by its key and does not run clang
    const bpfObject = (async () => {
      const { compileBpf } = await import('@tw/kprobe-gen');
      const { unlink } = await import('@tw/plugin-fswatch/probes');
      return compileBpf(unlink, { objectCacheDir: join(cacheHome, 'tw', 'bpf', 'objects') });
    })();
    for (const k of kernels) {
      const p = (async () => {
        await bpfObject;
        const build = await hostBuild(k, cacheHome);
        const r0 = Date.now();
        const run = await runInGuest(k, guestScript(cacheHome), { timeoutSec: GUEST_SEC, collect: ['f.dat'] });
        return parse(k, build, run, Date.now() - r0);
      })();
      p.catch(() => undefined); // awaited (and reported) by the tests
      runs.set(k, p);
    }
  }, TEST_MS);

  afterAll(async () => {
    const done = await Promise.allSettled(runs.values());
    const lines = done.map((d) => {
      if (d.status !== 'fulfilled') return `failed: ${String(d.reason)}`;
      const s = d.value;
      const t = (k: string) => s.times.get(k) ?? '?';
      return (
        `${s.kver}: host build ${(s.build.ms / 1000).toFixed(1)} s, guest run ${(s.runMs / 1000).toFixed(1)} s ` +
        `(guest uptime: start ${t('start')}, a ${t('a')}, loaded ${t('a.loaded')}, dump ready ${t('a.dump_ready')}, b ${t('b')}, d ${t('d')}, ` +
        `api done ${t('d.api_done')}, c ${t('c')}, watch ready ${t('c.watch_ready')}, e ${t('e')}, f ${t('f')}, ready ${t('f.watch_ready')}, g ${t('g')}, ready ${t('g.watch_ready')}, h ${t('h')}, ready ${t('h.ready')}, h stop ${t('h.stop')}, end ${t('end')})`
      );
    });
    console.log(`[probes.vm] ${lines.join('; ')}; all ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (cacheHome !== '') rmSync(cacheHome, { recursive: true, force: true });
  });

  if (kernels.length === 0) it('has a guest kernel', () => undefined);

  for (const kver of kernels) {
    const get = async (): Promise<ProbeRun> => {
      const p = runs.get(kver);
      if (!p) throw new Error(`no run for ${kver}`);
      return p;
    };

    describe(kver, () => {
      it('builds every probe module on the host (tw probe gen --all --no-load --kdir) into the cache', async () => {
        const s = await get();
        expect(s.build.code, s.build.output).toBe(0);
        const entries = cacheEntries(cacheHome, kver);
        expect(entries.map((e) => e.stamp['spec']).sort(), s.build.output).toEqual(SPECS);
        for (const e of entries) {
          expect(existsSync(join(e.dir, `tw_${e.stamp['spec']!}.ko`)), e.dir).toBe(true);
          expect(e.stamp['kdir'], e.dir).toBe(`/lib/modules/${kver}/build`);
        }
      }, TEST_MS);

      it('keys the cache by the UTS release too: a kernel with the same kernel.release but another uname -r (a Debian 6.1 flavour) gets no cache hit', async () => {
        const s = await get();
        expect(s.build.code, s.build.output).toBe(0);
        const kdir = `/lib/modules/${kver}/build`;
        // imported here: the packages' dist may only exist after beforeAll's build
        const { buildModule } = await import('@tw/kprobe-gen');
        const { unlink } = await import('@tw/plugin-fswatch/probes');
        // a copy of the cache (the other kernel's guest may still be reading the real one)
        const tmp = mkdtempSync('/tmp/tw-probes-flavour-');
        try {
          const cacheDir = join(tmp, 'modules');
          cpSync(join(cacheHome, 'tw', 'modules'), cacheDir, { recursive: true });
          const hit = await buildModule(unlink, { kdir, cacheDir, make: '/nonexistent/make' });
          expect(hit.cached, 'control: the real tree hits the host-built module').toBe(true);
          // what Debian bookworm ships: linux-headers-6.1.0-56-amd64 and -cloud-amd64 both say 6.1.192
          // in include/config/kernel.release; only UTS_RELEASE (the modules' vermagic) tells them apart
          const fake = join(tmp, 'kdir');
          mkdirSync(join(fake, 'include', 'config'), { recursive: true });
          mkdirSync(join(fake, 'include', 'generated'), { recursive: true });
          copyFileSync(join(kdir, 'include/config/kernel.release'), join(fake, 'include/config/kernel.release'));
          copyFileSync(join(kdir, '.config'), join(fake, '.config'));
          symlinkSync(join(kdir, 'Module.symvers'), join(fake, 'Module.symvers'));
          writeFileSync(join(fake, 'include/generated/utsrelease.h'), `#define UTS_RELEASE "${kver}-otherflavour"\n`);
          let reused: BuildResult | undefined;
          let err: unknown;
          try {
            reused = await buildModule(unlink, { kdir: fake, cacheDir, make: '/nonexistent/make' });
          } catch (e) {
            err = e;
          }
          expect(reused, `buildModule for UTS ${kver}-otherflavour reused ${reused?.ko} (vermagic ${kver})`).toBeUndefined();
          // it had to build (and could not: make does not exist)
          expect((err as { code?: string }).code, String(err)).toBe('TOOL_START');
        } finally {
          rmSync(tmp, { recursive: true, force: true });
        }
      }, TEST_MS);

      it(`runs the guest to the end without a crash (panic_on_warn; a crash is ${GUEST_CRASHED})`, async () => {
        const s = await get();
        expect(s.run.code, ctx(s)).not.toBe(GUEST_CRASHED);
        expect(s.run.code, ctx(s)).toBe(0);
        expectSteps(s, ['panic_on_warn']);
        expect(s.times.get('end'), ctx(s)).toBeDefined();
      }, TEST_MS);

      it('reuses the host-built modules in the guest: every build there is a cache hit (make never runs)', async () => {
        const s = await get();
        expectSteps(s, ['cache.present', 'cache.no_make', 'cache.unchanged']);
      }, TEST_MS);

      it('(a) tw probe gen unlink loads tw_unlink; tw dump decodes an rm (pathname, pid, comm, dfd)', async () => {
        const s = await get();
        expectSteps(s, ['a.gen', 'a.proc_modules', 'a.event_format', 'a.dump_ready', 'a.dump_rc', 'a.decoded']);
        const pid = Number(s.data.get('a.rm_pid')?.[0]);
        const events = (s.data.get('a.dump') ?? []).map((l, i) => parseTwDumpLine(l, i + 1));
        expect(events.map((e) => ({ event: e.event, pid: e.pid, fields: { ...e.fields, __probe_ip: undefined } })), ctx(s)).toEqual([
          { event: 'tw:unlink', pid, fields: { __probe_ip: undefined, dfd: -100, pathname: '/tmp/tw-vm-probes-guest/victim-module', comm: 'rm' } },
        ]);
      }, TEST_MS);

      it('(b) tw probe unload unlink leaves no module, no tw dynamic event, no events/tw/unlink', async () => {
        const s = await get();
        expectSteps(s, ['b.unload', 'b.no_module', 'b.no_dynamic_events', 'b.no_event_dir']);
      }, TEST_MS);

      it('(c) the kprobe_events backend: tw watch who-deleted defines p:tw/unlink, decodes the rm, ends by itself after it, removes the event', async () => {
        const s = await get();
        expectSteps(s, ['c.watch_ready', 'c.kprobe_event', 'c.not_module', 'c.ended_itself', 'c.watch_rc', 'c.decoded', 'c.no_module', 'c.no_dynamic_events', 'c.no_event_dir']);
        // struct filename's name member at offset 0, read from the guest's BTF
        expect(s.data.get('c.kprobe_event')?.[0], ctx(s)).toBe('p:tw/unlink do_unlinkat dfd=%di:s32 pathname=+0(+0(%si)):string comm=$comm:string');
      }, TEST_MS);

      it('(h) the same rm through module, kprobe-events and BPF (a kprobe program): the same pathname, pid, comm and dfd; the BPF program goes with tw', async () => {
        const s = await get();
        expectSteps(s, ['h.ready', 'h.prog_loaded', 'h.dump_rc', 'h.no_prog', 'h.no_module', 'h.no_dynamic_events', 'h.no_event_dir', 'a.decoded', 'c.decoded']);
        expect(s.data.get('h.tracing')?.[0], ctx(s)).toMatch(/^tw: tracing .*tw:unlink via bpf/);
        const fields = (l: string, i: number) => {
          const e = parseTwDumpLine(l, i + 1);
          return { event: e.event, pid: e.pid, dfd: e.fields.dfd, pathname: e.fields.pathname, comm: e.fields.comm };
        };
        const bpfA = (s.data.get('h.dump_a') ?? []).map(fields);
        const bpfC = (s.data.get('h.dump_c') ?? []).map(fields);
        // (a)'s rm: the module's record (tw dump) and BPF's are the same call
        const moduleA = (s.data.get('a.dump') ?? []).map(fields);
        expect(moduleA, ctx(s)).toHaveLength(1);
        expect(bpfA, ctx(s)).toEqual(moduleA);
        // (c)'s rm: the kprobe event's record (the who-deleted watch's deletion) and BPF's
        const flat = s.data.get('c.watch')?.[0] ?? '';
        const watched = (JSON.parse(flat) as { deletions?: Array<{ pid: number; comm: string; dfd: number; pathname: string }> }).deletions ?? [];
        const kprobeC = watched.map((d) => ({ event: 'tw:unlink', pid: d.pid, dfd: d.dfd, pathname: d.pathname, comm: d.comm }));
        expect(kprobeC, ctx(s)).toHaveLength(1);
        expect(bpfC, ctx(s)).toEqual(kprobeC);
        // and they are the rms the script made
        expect(bpfA[0], ctx(s)).toEqual({ event: 'tw:unlink', pid: Number(s.data.get('a.rm_pid')?.[0]), dfd: -100, pathname: `${GUEST_W}/victim-module`, comm: 'rm' });
        expect(bpfC[0], ctx(s)).toEqual({ event: 'tw:unlink', pid: Number(s.data.get('c.rm_pid')?.[0]), dfd: -100, pathname: `${GUEST_W}/victim-kprobe`, comm: 'rm' });
      }, TEST_MS);

      it('(d) loads and unloads tw_unlink 20 times in a row (1 and 20 via tw, 2-19 via the API), the event firing each time', async () => {
        const s = await get();
        expectSteps(s, ['a.gen', 'b.unload', 'd.api_cycles', 'd.tw_load_20', 'd.fires_20', 'd.tw_unload_20', 'd.no_module', 'd.no_dynamic_events', 'd.no_event_dir']);
        expect(s.steps.get('d.api_cycles')?.text, ctx(s)).toMatch(/^cycles 2\.\.19 /);
      }, TEST_MS);

      it('(p) path() crosses mounts: open_write reports /mnt/twtest/<file> and /mnt/twtest/inner/<file>; falls back without pahole; tw_init refuses impossible offsets; garbage ones do not oops', async () => {
        const s = await get();
        expectSteps(s, ['p.mounted', 'p.full', 'p.fallback', 'p.rejects', 'p.garbage', 'p.nothing_left', 'd.api_cycles']);
        // offsets from the guest's BTF (the same on Debian 6.1 and 6.12), then the two paths
        expect(s.steps.get('p.full')?.text, ctx(s)).toBe('16,24,32 /mnt/twtest/fullpath-top /mnt/twtest/inner/fullpath-inner');
        expect(s.steps.get('p.fallback')?.text, ctx(s)).toMatch(
          /^\/fullpath-top \/fullpath-inner \| tw_open_write: path\(\) stays inside each file's filesystem \(mount points not crossed\): no struct mount layout: \/nonexistent\/pahole is not installed or cannot run$/,
        );
      }, TEST_MS);

      it('(e) detects a layout mismatch: tw probe load names the field and both placements; checkLayout throws LayoutMismatchError', async () => {
        const s = await get();
        expectSteps(s, ['e.handmade_added', 'e.tw_load_rejects', 'e.foreign_kept', 'e.tw_unload', 'e.no_module', 'e.no_dynamic_events', 'e.no_event_dir', 'e.layout_size', 'e.layout_size_removed']);
        expect(s.data.get('e.tw_load')?.[0], ctx(s)).toBe(
          "rc=9 tw: event tw:unlink, field 'dfd': expected offset 16 size 4 (s32), the kernel's format has offset 20 size 4 (s32 (signed))",
        );
      }, TEST_MS);

      it('(f) custom_event gets the payload from the generated unpacker (module backend): pathname, pid, comm, dfd, unpacker and spec hash', async () => {
        const s = await get();
        expectSteps(s, ['f.watch_ready', 'f.watch_rc', 'f.generated', 'f.no_module', 'f.no_dynamic_events', 'f.no_event_dir']);
        expect(s.data.get('f.backend')?.[0], ctx(s)).toBe('module');
        const pid = Number(s.data.get('f.rm_pid')?.[0]);
        await expectGeneratedPayload(payloadOf(s, 'f'), `${GUEST_W}/victim-payload-module`, pid, ctx(s));
      }, TEST_MS);

      it('(f) the recording of that run, replayed on the host: the generated unpacker again, after checking the recording\'s format', async () => {
        const s = await get();
        const rec = s.run.files.get('f.dat');
        expect(rec, `no f.dat from the guest\n${ctx(s)}`).toBeDefined();
        const pid = Number(s.data.get('f.rm_pid')?.[0]);
        const tmp = mkdtempSync('/tmp/tw-probes-replay-');
        try {
          writeFileSync(join(tmp, 'f.dat'), rec!);
          // a cold unpacker cache: the host compiles unlink.unpack.js for the replay
          const r = spawnSync(process.execPath, [CLI, 'watch', PAYLOAD_WATCH, `${GUEST_W}/victim-payload-module`, '--input', join(tmp, 'f.dat'), '--json'], {
            encoding: 'utf8',
            env: { ...process.env, XDG_CACHE_HOME: join(tmp, 'cache') },
          });
          expect(r.status, r.stderr).toBe(0);
          await expectGeneratedPayload(parseWatchJson<PayloadResult>(r.stdout).result, `${GUEST_W}/victim-payload-module`, pid, `${r.stdout}\n${r.stderr}`);
          expect(existsSync(join(tmp, 'cache', 'tw', 'unpackers')), 'the replay stored the unpacker it compiled').toBe(true);
        } finally {
          rmSync(tmp, { recursive: true, force: true });
        }
      }, TEST_MS);

      it('(g) custom_event gets the payload from the generated unpacker (kprobe_events backend)', async () => {
        const s = await get();
        expectSteps(s, ['g.watch_ready', 'g.watch_rc', 'g.generated', 'g.no_module', 'g.no_dynamic_events', 'g.no_event_dir']);
        expect(s.data.get('g.backend')?.[0], ctx(s)).toBe('kprobe-events');
        expect(s.data.get('g.dynamic_events')?.[0], ctx(s)).toBe('p:tw/unlink do_unlinkat dfd=%di:s32 pathname=+0(+0(%si)):string comm=$comm:string');
        const pid = Number(s.data.get('g.rm_pid')?.[0]);
        await expectGeneratedPayload(payloadOf(s, 'g'), `${GUEST_W}/victim-payload-kprobe`, pid, ctx(s));
      }, TEST_MS);

      for (const backend of ['module', 'kprobe-events'] as const) {
        it(`(k) who-killed through ${backend}: names a short-lived kill(1) and ends with its victim`, async () => {
          const s = await get();
          expectSteps(s, ['ready', 'ended_itself', 'rc', 'no_module', 'no_dynamic_events'].map((x) => `k.killed.${backend}.${x}`));
          expect(s.data.get(`k.killed.${backend}.tracing`)?.[0], ctx(s)).toContain(`tw:kill via ${backend}`);
          const killer = Number(s.data.get(`k.killed.${backend}.culprit`)?.[0]);
          const killed = JSON.parse(s.data.get(`k.killed.${backend}.result`)?.[0] ?? '{}') as { signals?: Array<Record<string, unknown>>; killedBy?: Record<string, unknown>; answered?: boolean };
          expect(killed.signals?.map((x) => [x.tgid, x.comm, x.signal, x.via, x.result]), ctx(s)).toEqual([[killer, 'kill', 'SIGTERM', 'kill', 'delivered']]);
          expect(killed.killedBy, ctx(s)).toMatchObject({ tgid: killer, signal: 'SIGTERM' });
          expect(killed.answered, ctx(s)).toBe(true);
        }, TEST_MS);

        it(`(k) who-killed through ${backend}: a kill from a second thread and one by pidfd_send_signal, each named, then the fatal kill`, async () => {
          const s = await get();
          const step = `k.senders.${backend}`;
          expectSteps(s, ['ready', 'ended_itself', 'rc', 'no_module', 'no_dynamic_events'].map((x) => `${step}.${x}`));
          const [tgid, tid] = (s.data.get(`${step}.thread`)?.[0] ?? '').split(' ').map(Number);
          const [pidfd] = (s.data.get(`${step}.pidfd`)?.[0] ?? '').split(' ').map(Number);
          const killer = Number(s.data.get(`${step}.culprit`)?.[0]);
          const r = JSON.parse(s.data.get(`${step}.result`)?.[0] ?? '{}') as { signals?: Array<Record<string, unknown>>; answered?: boolean };
          expect(r.signals?.map((x) => [x.tgid, x.pid, x.comm, x.signal, x.via, x.result]), ctx(s)).toEqual([
            [tgid, tid, 'twsender', 'SIGUSR1', 'kill', 'delivered'],
            [pidfd, pidfd, 'twsender', 'SIGHUP', 'pidfd_send_signal', 'delivered'],
            [killer, killer, 'kill', 'SIGTERM', 'kill', 'delivered'],
          ]);
          expect(tid, 'the kill came from a second thread').not.toBe(tgid);
          expect(r.answered, ctx(s)).toBe(true);
        }, TEST_MS);
      }

      // (m): files on the guest's root, an overlay
      const changesOf = (s: ProbeRun, step: string) => {
        const r = JSON.parse(s.data.get(`${step}.result`)?.[0] ?? '{}') as { changes?: Array<Record<string, unknown>>; answered?: boolean; lost?: number };
        return { changes: (r.changes ?? []).map((x) => [x.what, x.comm, x.tgid]), answered: r.answered, lost: r.lost };
      };
      const pidOf = (s: ProbeRun, key: string) => Number(s.data.get(key)?.[0]);
      const nothingLeft = (step: string) => ['rc', 'no_module', 'no_dynamic_events'].map((x) => `${step}.${x}`);

      it('(m) who-modified through the module on the overlay root: names tee, which opened the file for appending, and ends', async () => {
        const s = await get();
        expect(s.data.get('m.fs')?.[0], ctx(s)).toBe('overlayfs');
        expectSteps(s, ['ready', 'ended_itself', 'rc', 'no_module', 'no_dynamic_events'].map((x) => `m.first.module.${x}`));
        expect(s.data.get('m.first.module.tracing')?.[0], ctx(s)).toContain('tw:open_write via module');
        const r = changesOf(s, 'm.first.module');
        expect(r.changes, ctx(s)).toEqual([['open', 'tee', pidOf(s, 'm.first.module.culprit')]]);
        expect(r.answered, ctx(s)).toBe(true);
      }, TEST_MS);

      it('(m) who-modified --keep-going through the module: append, O_TRUNC by a relative name from another cwd, a directory fd, a hard link, a relative rm, the path created again; nothing for a read or another file', async () => {
        const s = await get();
        expectSteps(s, ['m.seq.ready', ...nothingLeft('m.seq')]);
        const line = s.data.get('m.seq.tracing')?.[0] ?? '';
        expect(line, ctx(s)).toContain('tw:open_write via module');
        expect(line, ctx(s)).toContain('tw:unlink_cwd via module');
        const r = changesOf(s, 'm.seq');
        const p = (k: string) => pidOf(s, `m.seq.${k}`);
        expect(r.changes, ctx(s)).toEqual([
          ['open', 'tee', p('append')],
          ['open', 'bash', p('trunc')],
          ['open', 'python3', p('dirfd')],
          ['open', 'bash', p('link')],
          ['deleted', 'rm', p('rm')],
          ['created', 'bash', p('create')],
        ]);
        expect(r.lost, ctx(s)).toBe(0);
      }, TEST_MS);

      it('(m) who-modified through the default backends (BPF) on the overlay root: an editor-style save (sed -i) and the change of the new file after it', async () => {
        const s = await get();
        expectSteps(s, ['m.auto.ready', ...nothingLeft('m.auto')]);
        expect(s.data.get('m.auto.tracing')?.[0], ctx(s)).toContain('via bpf');
        const r = changesOf(s, 'm.auto');
        const after = pidOf(s, 'm.auto.after');
        expect(r.changes, ctx(s)).toEqual([
          ['replaced', 'sed', pidOf(s, 'm.auto.sed')],
          ['open', 'bash', after],
          ['write', 'bash', after],
        ]);
      }, TEST_MS);

      for (const backend of ['module', 'kprobe-events'] as const) {
        it(`(m) who-deleted through ${backend}: a short-lived rm of a relative name from another directory, then it ends`, async () => {
          const s = await get();
          const step = `m.whodeleted.${backend}`;
          expectSteps(s, ['ready', 'ended_itself', 'rc', 'no_module', 'no_dynamic_events'].map((x) => `${step}.${x}`));
          expect(s.data.get(`${step}.tracing`)?.[0], ctx(s)).toContain(backend === 'module' ? 'tw:unlink_cwd via module' : 'tw:unlink via kprobe-events');
          const r = JSON.parse(s.data.get(`${step}.result`)?.[0] ?? '{}') as { deletions?: Array<Record<string, unknown>>; answered?: boolean };
          expect(r.deletions?.map((d) => [d.kind, d.comm, d.tgid]), ctx(s)).toEqual([['unlink', 'rm', pidOf(s, `${step}.culprit`)]]);
          expect(r.answered, ctx(s)).toBe(true);
        }, TEST_MS);
      }

      it('(m) who-modified through the module names a short-lived rm and ends; it has no kprobe-events form, and says so', async () => {
        const s = await get();
        expectSteps(s, ['ready', 'ended_itself', 'rc', 'no_module', 'no_dynamic_events'].map((x) => `m.deleted.module.${x}`));
        const r = changesOf(s, 'm.deleted.module');
        expect(r.changes, ctx(s)).toEqual([['deleted', 'rm', pidOf(s, 'm.deleted.module.culprit')]]);
        expect(r.answered, ctx(s)).toBe(true);
        expectSteps(s, ['m.nokprobe.no_module', 'm.nokprobe.no_dynamic_events']);
        expect(s.data.get('m.nokprobe.rc')?.[0], ctx(s)).toBe('5');
        expect(s.data.get('m.nokprobe.err')?.[0], ctx(s)).toMatch(/^tw: .*open_write/);
      }, TEST_MS);

      for (const backend of ['module', 'kprobe-events'] as const) {
        for (const at of ['starting', 'tracing'] as const) {
          it(`(n) kill -9 of tw ${at === 'starting' ? 'starting' : 'tracing'} through ${backend}: its guardian removes the ${backend === 'module' ? 'module' : 'kprobe event'} and the instance`, async () => {
            const s = await get();
            const step = `n.${backend}.${at}`;
            expectSteps(s, ['ready', 'no_module', 'no_dynamic_events', 'no_instance'].map((x) => `${step}.${x}`));
            // it was there when tw was killed
            expect(s.data.get(`${step}.before`)?.[0], ctx(s)).toMatch(backend === 'module' ? /^tw_unlink_cwd(\s|$)/ : /p:tw\/unlink do_unlinkat/);
          }, TEST_MS);
        }
      }

      it('finds every compiled unpacker in the cache the host filled (the guest compiles none)', async () => {
        const s = await get();
        expectSteps(s, ['cache.unpackers_present', 'cache.unpackers_unchanged']);
      }, TEST_MS);
    });
  }
});
