#!/usr/bin/env bash
# BPF probes, live: how many events per second tw's BPF probe path delivers to a JavaScript
# handler, how many it loses and the CPU time it spends per event, next to bpftrace printing one
# line per event from the same tracepoint.
#
# usage: bash bench/bpf.sh [--quick] [--seconds S] [--warmup W] [--rates LIST]
#                          [--consumers LIST] [--retries N] [--save FILE]
#
# A storm of unlinkat(AT_FDCWD, PATH, 0) calls pinned to one CPU (STORM_CPU, default 1) at rising
# rates (calls/s; 0 = as fast as it can), each rate for S seconds, once per consumer. PATH is a
# path in this run's temporary directory that does not exist, so every call fails with ENOENT
# and is still one hit of the tracepoint syscalls/sys_enter_unlinkat (the storm helper,
# bench/live-helpers.c, refuses a PATH that exists and stops at a call that does not fail with
# ENOENT). The consumers, pinned to the other CPU (CONSUMER_CPU, default 0), see every unlinkat
# on the machine (neither filters by process); "delivered" counts the events whose pathname is
# PATH, and the other events (the machine's own unlinkat calls, few) are left out of it:
#
#   tw[:MS]    tw watch ./bench/count-unlinkat.mjs PATH --probe-backend bpf [--latency MS]: tw's
#              shipped probe spec `unlinkat` (plugin-fswatch; the syscall entry, pathname read
#              from user memory), compiled to a BPF program on syscalls/sys_enter_unlinkat,
#              records through a BPF ring buffer (4 MiB) to tw's reader thread, decoded and handed
#              to the watch's handler, which counts them and compares each pathname with PATH.
#              Delivered = that count; lost = the watch's ctx.lost (the probe's per-CPU count of
#              records its ring buffer had no room for, and the tracefs instance's losses). MS
#              defaults to tw's default, 50.
#   bpftrace   bpftrace -B full -o FILE -e 'tracepoint:syscalls:sys_enter_unlinkat
#              { printf("%s\n", str(args->pathname)); }', FILE on tmpfs, stopped with SIGINT:
#              one line per event, the pathname as a string, through bpftrace's per-CPU perf
#              buffers (its default 64 pages per CPU), its output buffered (-B full; with -o it
#              is anyway), not written per line. Delivered = the lines equal to PATH, counted
#              afterwards; lost = the "Lost N events" it reports.
#
# Each consumer is ready when it says so and only then is the storm started: tw when it prints
# its "tw: tracing" line (its probe is attached by then), bpftrace when it has printed "Attaching
# 1 probe..." and waits in epoll_wait for its perf buffers.
#
# CPU time of a consumer = its user+sys (rusage at exit, threads included) minus what it had used
# when it was ready (from /proc/PID/task/*/schedstat), so start-up (tw's node and BPF load,
# bpftrace's LLVM compile) is not counted and the final drain and teardown are ("tail" column).
# The storm's own CPU time is not counted in the consumer's, but the BPF program runs in the
# storm's context: "storm µs" is the storm's CPU time per call (the syscall, the tracepoint and
# the consumer's BPF program). "steady" is the consumer's CPU time from W seconds into the storm
# (--warmup) until the storm ends, per storm call in that time: the cost once tw's JIT compiler
# has done most of its work. A run is "disturbed" (*) when another tracefs instance existed at
# its start or end (someone else tracing) or other processes used more than 10% of a CPU while
# the storm ran (all busy CPU time from /proc/stat, minus the storm's and the consumer's).
#
# Prints one line per consumer and rate (calls/s reached, delivered per second, lost, missing =
# storm calls not delivered, CPU, CPU µs per delivered event), with tw's own reason under a run
# where it lost events; then per rate the ratio tw ÷ bpftrace of CPU per event (target: <= 1x),
# and the rates where tw lost events (or did not deliver every call) and bpftrace did not
# (target: none). The consumers' BPF programs, and the wake-ups of their readers, run in the
# storm's context, so at high rates the storm does not reach the same rate under both: the
# ratios mark such rates ("@") with the rate each reached.
#
# --quick: rates 10k, 100k and unlimited, 2.5 s each (warm-up 1 s), consumers bpftrace and tw
# (about a minute).
# Default (full): rates 10k 50k 100k 200k 400k unlimited, 4 s each (warm-up 2 s), consumers
# bpftrace, tw and tw:10 (about five minutes).
# A disturbed run is repeated up to --retries times (default 2; 1 with --quick) while the whole
# run stays within its time budget, and the least disturbed attempt kept. --save FILE writes the
# per-run results as tab-separated values.
#
# Needs root, tracefs, BPF, two CPUs, gcc, taskset, node, the built workspace and clang (tw compiles
# its probe with it, once, then caches it); bpftrace is optional (its rows say "skipped" without
# it; Debian: apt-get install bpftrace).
# Leaves nothing behind: the consumers' BPF programs go with their processes, and the tracefs
# instance of a tw process it had to kill is removed.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

quick=0
seconds=
rates=
consumers=
save=
retries=
warmup=
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1 ;;
    --seconds) seconds=${2:?}; shift ;;
    --rates) rates=${2:?}; shift ;;
    --consumers) consumers=${2:?}; shift ;;
    --save) save=${2:?}; shift ;;
    --retries) retries=${2:?}; shift ;;
    --warmup) warmup=${2:?}; shift ;;
    -h | --help) usage ;;
    *) echo "$0: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
if [[ $quick -eq 1 ]]; then
  : "${seconds:=2.5}" "${warmup:=1}" "${rates:=10000 100000 0}" "${consumers:=bpftrace tw}" "${retries:=1}"
else
  : "${seconds:=4}" "${warmup:=2}" "${rates:=10000 50000 100000 200000 400000 0}" "${consumers:=bpftrace tw tw:10}" "${retries:=2}"
fi
rates=${rates//,/ }
consumers=${consumers//,/ }
[[ $seconds =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "$0: --seconds must be a number" >&2; exit 2; }
[[ $warmup =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v w="$warmup" -v s="$seconds" 'BEGIN { exit !(w < s) }' || { echo "$0: --warmup must be a number below --seconds" >&2; exit 2; }
[[ $retries =~ ^[0-9]+$ ]] || { echo "$0: --retries must be a non-negative integer" >&2; exit 2; }
for r in $rates; do [[ $r =~ ^[0-9]+$ ]] || { echo "$0: rate '$r' is not an integer (calls/s; 0 = unlimited)" >&2; exit 2; }; done
for c in $consumers; do
  [[ $c =~ ^(bpftrace|tw(:[0-9]+)?)$ ]] || { echo "$0: unknown consumer '$c' (bpftrace, tw or tw:MS)" >&2; exit 2; }
done

STORM_CPU=${STORM_CPU:-1}
CONSUMER_CPU=${CONSUMER_CPU:-0}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/bench
cli=$root/packages/cli/bin/run.js

[[ $(id -u) -eq 0 ]] || { echo "$0: must run as root (BPF, tracefs)" >&2; exit 1; }
for cmd in gcc taskset node; do
  command -v "$cmd" >/dev/null || { echo "$0: $cmd is not installed" >&2; exit 1; }
done
[[ -f $cli && -d $root/packages/cli/dist ]] || { echo "$0: tw CLI not built ($cli); run: npx turbo run build" >&2; exit 1; }
for c in "$STORM_CPU" "$CONSUMER_CPU"; do
  [[ -d /sys/devices/system/cpu/cpu$c ]] || { echo "$0: no CPU $c (set STORM_CPU / CONSUMER_CPU)" >&2; exit 1; }
done
tracefs=$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)
[[ -n $tracefs && -d $tracefs/instances ]] || { echo "$0: tracefs with instances is not mounted" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tw-bpf.XXXXXX")
# bpftrace writes its lines here: tmpfs when there is one, so the disk does not limit it
if [[ -d /dev/shm && -w /dev/shm ]]; then shm=$(mktemp -d /dev/shm/tw-bpf.XXXXXX); else shm=$tmp; fi
# the storm's pathname: in a directory that is never made. bpftrace's str() keeps 63 characters.
storm_path=$tmp/absent/unlinkat-storm
our_pids=()    # processes the current run started (killed if the script is interrupted)
tw_pids=()     # tw processes of the current run (their instances are tw-<pid>-<n>)
all_tw_pids=() # every tw process this script started (for the final check)

remove_instance() { # DIR (its owner may still be removing it)
  local d=$1 i
  { echo 0 > "$d/tracing_on"; } 2>/dev/null || true
  { echo 0 > "$d/events/enable"; } 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    [[ -d $d ]] || return 0
    rmdir "$d" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$0: warning: could not remove $d" >&2
  return 1
}

cleanup() {
  local rc=$? p d i alive
  trap - EXIT INT TERM
  # TERM (tw and bpftrace end gracefully: tw removes its instance), up to 10 s, then KILL
  for p in "${our_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do
    alive=0
    for p in "${our_pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive -eq 1 ]] || break
    sleep 0.1
  done
  for p in "${our_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # instances of tw processes we started and had to kill (tw-<pid>-<n>)
  for p in "${tw_pids[@]}"; do
    for d in "$tracefs"/instances/tw-"$p"-*; do [[ -d $d ]] && { remove_instance "$d" || true; }; done
  done
  rm -rf "$tmp"
  [[ $shm == "$tmp" ]] || rm -rf "$shm"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

((${#storm_path} <= 63)) || { echo "$0: the storm's path '$storm_path' is longer than bpftrace's 63-character strings; set TMPDIR to a shorter directory" >&2; exit 1; }

# --- build the helpers
helpers=$tmp/live-helpers
gcc -O2 -Wall -o "$helpers" "$bench/live-helpers.c" || { echo "$0: cannot compile bench/live-helpers.c" >&2; exit 1; }

# the shared helpers: cpu_ns_of, wait_exit, nap, launch
# shellcheck source=bench/lib.sh
source "$bench/lib.sh"

storm() { # RATE PID...: runs the unlinkat storm on STORM_CPU; sets CALLS, CALL_RATE and STORM_NS
  # (its CPU time), and STEADY_NS: the CPU time PIDs (the consumer) used in the storm's steady
  # part (after its first $warmup seconds, up to the storm's end). STORM_ERR: why it failed.
  local out rate=$1 c_mid c_end code
  shift
  launch "$tmp/storm" "$tmp/storm.out" taskset -c "$STORM_CPU" "$helpers" storm "$rate" "$seconds" unlinkat "$storm_path"
  nap "$warmup"
  c_mid=$(cpu_ns_of "$@")
  wait "$WRAPPER" || true
  c_end=$(cpu_ns_of "$@")
  STEADY_NS=$((c_end - c_mid))
  out=$(cat "$tmp/storm.out")
  read -r su ss code < "$tmp/storm.cpu"
  STORM_ERR=
  [[ $code -eq 0 ]] || STORM_ERR="the storm failed: $(tail -1 "$tmp/storm.err")"
  STORM_NS=$(((su + ss) * 1000))
  CALLS=$(sed -n 's/.*calls=\([0-9]*\).*/\1/p' <<< "$out")
  CALL_RATE=$(awk -v o="$out" 'BEGIN { split(o, a, /[= ]/); printf "%.0f", a[2] / a[4] }')
  STEADY_CALLS=$(awk -v r="$CALL_RATE" -v s="$seconds" -v w="$warmup" 'BEGIN { printf "%.0f", r * (s - w) }')
}

# --- the consumers. Each sets DELIVERED, OTHER (events not from the storm), LOST, CPU_NS and
# TAIL_NS (or SKIP=reason).

run_tw() { # LATENCY_MS RATE
  local latency=$1 rate=$2 out=$tmp/tw.$RANDOM pid wrapper i c0 c1
  local args=(watch "$bench/count-unlinkat.mjs" "$storm_path" --probe-backend bpf --json)
  [[ -n $latency ]] && args+=(--latency "$latency")
  launch "$out" "$out.json" taskset -c "$CONSUMER_CPU" node "$cli" "${args[@]}"
  wrapper=$WRAPPER pid=$PID
  if [[ -z $pid ]]; then
    wait_exit "$wrapper" 5
    SKIP="tw did not start: $(tail -2 "$out.err" | tr '\n' ' ')"
    return
  fi
  tw_pids+=("$pid")
  all_tw_pids+=("$pid")
  # ready: it says so (the probe is attached and the readers run), up to 2 minutes (the first
  # run compiles the probe with clang)
  for ((i = 0; i < 2400; i++)); do
    grep -q '^tw: tracing' "$out.err" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q '^tw: tracing' "$out.err" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    wait_exit "$wrapper" 10
    SKIP="tw did not start: $(grep -v '^$' "$out.err" | tail -2 | tr '\n' ' ')"
    return
  fi
  if ! grep -q '^tw: tracing.*tw:unlinkat via bpf' "$out.err"; then
    kill -INT "$pid" 2>/dev/null || true
    wait_exit "$wrapper" 30
    SKIP="tw did not bring tw:unlinkat up through BPF: $(grep '^tw: tracing' "$out.err")"
    return
  fi
  c0=$(cpu_ns_of "$pid")
  window_start
  storm "$rate" "$pid"
  # tw's latency (its default 50 ms) and a margin for the last events to reach the handler
  nap "$(awk -v l="${latency:-50}" 'BEGIN { print (l + 300) / 1000 }')"
  c1=$(cpu_ns_of "$pid")
  window_end $((c1 - c0))
  kill -INT "$pid" 2>/dev/null || true
  wait_exit "$wrapper" 30
  [[ -z $STORM_ERR ]] || { SKIP=$STORM_ERR; return; }
  read -r u s code < "$out.cpu" || { SKIP="tw: no rusage"; return; }
  if [[ $code -ne 0 ]]; then SKIP="tw exited with $code: $(tail -2 "$out.err" | tr '\n' ' ')"; return; fi
  CPU_NS=$(((u + s) * 1000 - c0))
  TAIL_NS=$(((u + s) * 1000 - c1))
  read -r DELIVERED OTHER LOST < <(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.storm, r.total - r.storm, r.lost);' "$out.json" 2>/dev/null || echo)
  [[ $DELIVERED =~ ^[0-9]+$ && $LOST =~ ^[0-9]+$ ]] || { SKIP="tw: no count in its --json result"; DELIVERED=0 LOST=0; return; }
  # tw's own account of a loss (which CPU, and why)
  ((LOST == 0)) || WHY=$(grep '^tw: warning:' "$out.err" | sed 's/^tw: warning: //' | paste -sd ';' || true)
}

bpftrace_prog='tracepoint:syscalls:sys_enter_unlinkat { printf("%s\n", str(args->pathname)); }'
run_bpftrace() { # RATE
  local rate=$1 out=$tmp/bt.$RANDOM file=$shm/bpftrace.out pid wrapper i c0 c1 attached=0
  if ! command -v bpftrace >/dev/null; then SKIP="bpftrace is not installed"; return; fi
  rm -f "$file"
  launch "$out" "$out.out" taskset -c "$CONSUMER_CPU" bpftrace -B full -o "$file" -e "$bpftrace_prog"
  wrapper=$WRAPPER pid=$PID
  # ready: it has said "Attaching 1 probe..." (its first line, written at once) and then waits
  # for events in epoll_wait; where wchan is not available, 1 s after that line
  for ((i = 0; i < 1200; i++)); do
    [[ -n $pid ]] || break
    kill -0 "$pid" 2>/dev/null || break
    if ((attached == 0)) && grep -q '^Attaching 1 probe' "$file" 2>/dev/null; then attached=$i; fi
    if ((attached > 0)); then
      [[ $(cat "/proc/$pid/wchan" 2>/dev/null) == *ep*poll* ]] && break
      ((i - attached < 20)) || break
    fi
    sleep 0.05
  done
  if ((attached == 0)) || ! kill -0 "$pid" 2>/dev/null; then
    [[ -z $pid ]] || kill -INT "$pid" 2>/dev/null || true
    wait_exit "$wrapper" 10
    SKIP="bpftrace did not start: $(grep -v -e '^$' -e RLIMIT_MEMLOCK "$out.err" | tail -2 | tr '\n' ' ')"
    return
  fi
  c0=$(cpu_ns_of "$pid")
  window_start
  storm "$rate" "$pid"
  nap 0.35
  c1=$(cpu_ns_of "$pid")
  window_end $((c1 - c0))
  kill -INT "$pid" 2>/dev/null || true
  wait_exit "$wrapper" 30
  [[ -z $STORM_ERR ]] || { SKIP=$STORM_ERR; rm -f "$file"; return; }
  read -r u s code < "$out.cpu" || { SKIP="bpftrace: no rusage"; rm -f "$file"; return; }
  [[ $code -eq 0 ]] || { SKIP="bpftrace exited with $code: $(grep -v -e '^$' -e RLIMIT_MEMLOCK "$out.err" | tail -2 | tr '\n' ' ')"; rm -f "$file"; return; }
  CPU_NS=$(((u + s) * 1000 - c0))
  TAIL_NS=$(((u + s) * 1000 - c1))
  # counted afterwards (not in bpftrace's CPU time): its lines equal to the storm's path, the
  # other events' lines, and the "Lost N events" it reports (in its output or on stderr)
  read -r DELIVERED OTHER LOST < <(cat "$file" "$out.err" | awk -v p="$storm_path" '
    $0 == p { d++; next }
    /^Lost [0-9]+ events$/ { l += $2; next }
    /^Attaching [0-9]+ probes?\.\.\.$/ || /RLIMIT_MEMLOCK/ || /^$/ { next }
    { o++ }
    END { print d + 0, o + 0, l + 0 }')
  rm -f "$file"
}

# --- what else is running (a busy machine spoils the numbers)
others=$(ls "$tracefs/instances" | paste -sd ' ' || true)
load=$(cut -d' ' -f1 /proc/loadavg)

echo "tw BPF probe benchmark — $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs, node $(node --version)"
if command -v bpftrace >/dev/null; then echo "peer version: $(bpftrace --version 2>/dev/null | head -1)"; else echo "peer: bpftrace is not installed (its rows are skipped)"; fi
echo "storm: unlinkat(AT_FDCWD, \"$storm_path\", 0) = -ENOENT on CPU $STORM_CPU, ${seconds}s per rate; consumers on CPU $CONSUMER_CPU; tracepoint syscalls:sys_enter_unlinkat"
echo "tw: the probe spec unlinkat through BPF (4 MiB ring buffer) to a watch handler; bpftrace: printf(\"%s\\n\", str(args->pathname)) per event, -B full, to tmpfs"
[[ -z $others ]] || echo "warning: tracefs instances exist ($others): someone else is tracing; numbers may be disturbed"
awk -v l="$load" 'BEGIN { exit !(l > 0.5) }' && echo "warning: load average $load before the run"
echo

busy_ns() { # CPU time (ns) all CPUs have spent not idle, from /proc/stat (USER_HZ ticks)
  awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.0f\n", ($2 + $3 + $4 + $7 + $8 + $9) * 1e9 / hz; exit }' /proc/stat
}
# around the storm (and the settling after it): how much CPU did other processes use?
window_start() {
  W_BUSY0=$(busy_ns)
  W_T0=$(date +%s%N)
}
window_end() { # CONSUMER_NS (its CPU time in the window); sets OTHERS_NS and WINDOW_NS
  local busy1 t1
  busy1=$(busy_ns)
  t1=$(date +%s%N)
  OTHERS_NS=$((busy1 - W_BUSY0 - STORM_NS - $1))
  WINDOW_NS=$((t1 - W_T0))
}
others_now() { ls "$tracefs/instances" | grep -v -E "^tw-($(IFS='|'; echo "${tw_pids[*]:-0}"))-" | paste -sd ' ' || true; }

results=$tmp/results.tsv
printf 'consumer\trate\tcall_rate\tcalls\tdelivered\tother\tlost\tcpu_ns\ttail_ns\tstorm_ns\tdisturbed\tskip\tothers_ns\twindow_ns\tsteady_ns\tsteady_calls\n' > "$results"
printf '%-9s %9s %9s %10s %9s %8s %8s %8s %8s %8s %8s %8s\n' consumer rate 'calls/s' delivered 'deliv/s' lost missing 'CPU ms' 'tail ms' 'µs/ev' steady 'storm µs'
disturbed_any=0
run_once() { # CONSUMER RATE: one run; sets the result variables and DISTURBED
  local c=$1 rate=$2 before
  # the previous run's processes have all exited and been waited for: forget their pids
  our_pids=()
  tw_pids=()
  SKIP= WHY= STORM_ERR= DELIVERED=0 OTHER=0 LOST=0 CPU_NS=0 TAIL_NS=0 STORM_NS=0 OTHERS_NS=0 WINDOW_NS=1 CALLS=0 CALL_RATE=0 STEADY_NS=0 STEADY_CALLS=0
  before=$(others_now)
  case $c in
    bpftrace) run_bpftrace "$rate" ;;
    tw) run_tw '' "$rate" ;;
    tw:*) run_tw "${c#tw:}" "$rate" ;;
  esac
  # someone else tracing at the start or the end of the run, or other processes using more
  # than 10% of a CPU while the storm ran: the run is disturbed
  DISTURBED=0
  if [[ -n $before || -n $(others_now) ]] || ((OTHERS_NS * 10 > WINDOW_NS)); then DISTURBED=1; fi
}

retried=0
# a retry is made only while the whole run still fits its time budget (full 8 min, quick 2 min)
budget=$((quick ? 120 : 480))
runs_left=$(($(wc -w <<< "$rates") * $(wc -w <<< "$consumers")))
runs_done=0
loop_start=$SECONDS
for rate in $rates; do
  for c in $consumers; do
    # a disturbed run is tried again (--retries times); the least disturbed one is kept
    best=
    for ((attempt = 0; attempt <= retries; attempt++)); do
      ((attempt == 0)) || retried=$((retried + 1))
      run_once "$c" "$rate"
      row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$c" "$rate" "$CALL_RATE" "$CALLS" "$DELIVERED" "$OTHER" "$LOST" "$CPU_NS" "$TAIL_NS" "$STORM_NS" "$DISTURBED" "$SKIP" "$OTHERS_NS" "$WINDOW_NS" "$STEADY_NS" "$STEADY_CALLS")
      if [[ -z $best ]] || awk -v a="$OTHERS_NS" -v w="$WINDOW_NS" -v b="$best_share" 'BEGIN { exit !(a / w < b) }'; then
        best=$row
        best_why=$WHY
        best_share=$(awk -v a="$OTHERS_NS" -v w="$WINDOW_NS" 'BEGIN { print a / w }')
      fi
      [[ $DISTURBED -eq 1 && -z $SKIP ]] || break
      runs_done=$((runs_done + 1))
      # seconds per run so far, times the runs still to do (this one again included)
      (((SECONDS - loop_start) * (runs_done + runs_left) / runs_done + loop_start < budget)) || break
    done
    runs_left=$((runs_left - 1))
    IFS='|' read -r _ _ CALL_RATE CALLS DELIVERED OTHER LOST CPU_NS TAIL_NS STORM_NS DISTURBED SKIP OTHERS_NS WINDOW_NS STEADY_NS STEADY_CALLS <<< "${best//$'\t'/|}"
    [[ $DISTURBED -eq 0 ]] || disturbed_any=1
    label=$([[ $rate -eq 0 ]] && echo unlimited || echo "$rate")
    if [[ -n $SKIP ]]; then
      printf '%-9s %9s  skipped: %s\n' "$c" "$label" "$SKIP"
    else
      awk -v c="$c" -v r="$label" -v cr="$CALL_RATE" -v calls="$CALLS" -v del="$DELIVERED" -v lost="$LOST" -v ns="$CPU_NS" -v tail="$TAIL_NS" \
        -v st="$STORM_NS" -v d="$DISTURBED" -v sn="$STEADY_NS" -v sc="$STEADY_CALLS" -v s="$seconds" 'BEGIN {
        printf "%-9s %9s %9s %10d %9.0f %8d %8d %8.1f %8.1f %8.3f %8.3f %8.3f%s\n", c, r, cr, del, del / s, lost, (calls > del ? calls - del : 0),
          ns / 1e6, tail / 1e6, (del > 0 ? ns / 1e3 / del : 0), (sc > 0 ? sn / 1e3 / sc : 0), (calls > 0 ? st / 1e3 / calls : 0), (d == 1 ? "  (*)" : "") }'
    fi
    [[ -z $best_why ]] || printf '%-9s %9s  why: %s\n' '' '' "$best_why"
    printf '%s\n' "$best" >> "$results"
  done
done
echo "deliv/s: events delivered per second of storm; lost: what the consumer reports lost; missing: storm calls it did not deliver"
echo "CPU ms: the consumer's user+sys from ready to exit; tail ms: the part after it was told to stop; µs/ev: CPU µs per delivered event"
echo "steady: CPU µs per storm call after the storm's first ${warmup}s, until it ends; storm µs: the storm's own CPU per call (syscall + tracepoint + BPF program)"
[[ $retried -eq 0 ]] || echo "$retried disturbed run(s) were repeated (--retries $retries); the least disturbed run of each is shown"
[[ $disturbed_any -eq 0 ]] || echo "(*) disturbed even so: another tracefs instance existed, or other processes used > 10% of a CPU during the run"
[[ -z $save ]] || cp "$results" "$save"

echo
node - "$results" <<'EOF'
const rows = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').slice(1).map((l) => {
  const [consumer, rate, callRate, calls, delivered, other, lost, cpuNs, tailNs, stormNs, disturbed, skip, othersNs, windowNs, steadyNs, steadyCalls] = l.split('\t');
  return { consumer, rate: +rate, callRate: +callRate, calls: +calls, delivered: +delivered, lost: +lost, cpuNs: +cpuNs, steadyNs: +steadyNs, steadyCalls: +steadyCalls, disturbed: disturbed === '1', skip };
}).filter((r) => !r.skip);
const label = (rate) => (rate === 0 ? 'unlimited' : rate >= 1e6 ? `${rate / 1e6}M` : `${rate / 1e3}k`);
const consumers = [...new Set(rows.map((r) => r.consumer))];
const rates = [...new Set(rows.map((r) => r.rate))];
const get = (c, rate) => rows.find((r) => r.consumer === c && r.rate === rate);
// a run is whole when it delivered every storm call and reported nothing lost
const whole = (r) => r.lost === 0 && r.delivered >= r.calls;
const perEv = (r) => (r.delivered > 0 ? r.cpuNs / 1e3 / r.delivered : NaN);
const steadyPerEv = (r) => (r.steadyCalls > 0 ? r.steadyNs / 1e3 / r.steadyCalls : NaN);
console.log('consumer  highest rate, every call delivered  (calls/s reached)  CPU µs per event, all rates');
for (const c of consumers) {
  // the highest rate up to which every call was delivered (rates rising; the first miss ends it)
  let best = null;
  for (const rate of [...rates].sort((a, b) => (a || Infinity) - (b || Infinity))) {
    const r = get(c, rate);
    if (!r || !whole(r)) break;
    best = r;
  }
  const rs = rows.filter((r) => r.consumer === c);
  const all = rs.reduce((a, r) => a + r.cpuNs, 0) / 1e3 / rs.reduce((a, r) => a + r.delivered, 0);
  console.log(`${c.padEnd(9)} ${(best ? label(best.rate) : 'none').padEnd(36)} ${(best ? `${best.callRate}` : '-').padEnd(18)} ${all.toFixed(3)}`);
}
const tws = consumers.filter((c) => c.startsWith('tw'));
if (consumers.includes('bpftrace') && tws.length) {
  console.log('\nratios, tw ÷ bpftrace, of CPU per delivered event (target: <= 1x), each as all-in/steady;');
  console.log('! = tw lost events or missed calls where bpftrace delivered every call (target: never); * = either run disturbed;');
  console.log('@ = the storm reached call rates more than 10% apart under the two (not the same load: each consumer\'s BPF program runs in the storm)');
  for (const t of tws) {
    const cells = [], bad = [], over = [];
    for (const rate of rates) {
      const a = get(t, rate), b = get('bpftrace', rate);
      if (!a || !b) { cells.push(`${label(rate)} -`); continue; }
      const ratio = perEv(a) / perEv(b), steady = steadyPerEv(a) / steadyPerEv(b);
      const lostWhereNot = !whole(a) && whole(b);
      const apart = Math.abs(a.callRate - b.callRate) > 0.1 * Math.max(a.callRate, b.callRate);
      const loads = apart ? `; storm ${a.callRate} calls/s under ${t}, ${b.callRate} under bpftrace` : '';
      if (lostWhereNot) bad.push(`${label(rate)} (lost ${a.lost}, missing ${Math.max(0, a.calls - a.delivered)}${loads})`);
      if (ratio > 1) over.push(`${label(rate)} ${ratio.toFixed(2)}x`);
      cells.push(`${label(rate)} ${ratio.toFixed(2)}x/${steady.toFixed(2)}x${lostWhereNot ? '!' : ''}${apart ? '@' : ''}${a.disturbed || b.disturbed ? '*' : ''}`);
    }
    console.log(`${t} ÷ bpftrace: ${cells.join(', ')}`);
    console.log(`  CPU per event <= 1x: ${over.length ? `no: ${over.join(', ')}` : 'yes at every rate (target met)'}`);
    console.log(`  every call delivered wherever bpftrace delivered every call: ${bad.length ? `no: ${bad.join(', ')}` : 'yes (target met)'}`);
  }
}
EOF

# --- nothing of ours may be left
leftover=
for p in "${all_tw_pids[@]}"; do leftover+=" $(ls "$tracefs/instances" | grep -E "^tw-$p-" || true)"; done
leftover=$(echo $leftover)
echo
if [[ -n $leftover ]]; then echo "tracefs: instances left behind: $leftover"; else echo "tracefs: no instance of this run left"; fi
