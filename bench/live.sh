#!/usr/bin/env bash
# Live tracing: how fast a syscall storm can get before each consumer loses events, and the CPU
# time each consumer spends per million events.
#
# usage: bash bench/live.sh [--quick] [--buffer-kb KB] [--seconds S] [--warmup W] [--rates LIST]
#                           [--consumers LIST] [--retries N] [--save FILE]
#
# A storm of getppid() calls pinned to one CPU (STORM_CPU, default 1) at rising rates (calls/s;
# 0 = as fast as it can), each rate for S seconds, once per consumer. The consumers (pinned to
# the other CPU, CONSUMER_CPU, default 0) all trace only raw_syscalls:sys_enter, with the same
# per-CPU ring-buffer size (--buffer-kb, default 1024):
#
#   tw-BACKEND[:MS]  tw watch ./bench/count-storm.mjs --backend BACKEND [--latency MS]
#                    (BACKEND: auto, mmap, read or js; MS defaults to tw's default, 50).
#                    Captured = the watch's count; lost = ctx.lost (sub-buffer flags and the
#                    instance's per-CPU stats).
#   twrec-BACKEND[:MS] tw record -o FILE -e raw_syscalls:sys_enter --backend BACKEND: what
#                    trace-cmd record does (sub-buffers to a trace.dat on tmpfs, nothing decoded
#                    but a count per event). Captured / lost from its --json summary.
#   trace-cmd        trace-cmd record -d --no-filter -B INSTANCE -b KB -C mono
#                    -e raw_syscalls:sys_enter -o FILE (tmpfs), stopped with SIGINT: the real tool,
#                    its default per-CPU recorder processes and file format. -d and --no-filter
#                    are what it needs to run on this kernel (without -d it fails writing
#                    /proc/sys/kernel/ftrace_enabled; without --no-filter it writes its own pids
#                    to set_ftrace_pid, is refused and 3.1.6 crashes); its recorders are left out
#                    of the trace through the instance's set_event_notrace_pid instead, as tw and
#                    the splice reader leave themselves out. It ends with exit status 1 (EPERM
#                    resetting set_ftrace_filter, after the file is complete) and leaves its
#                    instance, which the script removes. Captured = the records `trace-cmd report`
#                    prints; lost = overrun + commit overrun + dropped events from its
#                    `report --stat`.
#   splice           the floor `trace-cmd record` is built on: a private instance, one process
#                    per CPU splice()-ing whole sub-buffers of per_cpu/cpuN/trace_pipe_raw to
#                    /dev/null (live-helpers.c), woken by poll() like tw's reader (buffer_percent,
#                    or after 50 ms). Captured = "read events", lost = overrun + commit overrun
#                    + dropped events, from the instance's per_cpu/cpuN/stats.
#   perf             perf record -B -e raw_syscalls:sys_enter -C STORM_CPU -m PAGES (PAGES ×
#                    4 KiB = the same buffer) writing to tmpfs; -B skips the build-id pass over
#                    the whole file at exit, which would otherwise be most of its CPU time.
#                    Captured / lost (LOST_SAMPLES) from `perf report --stats` afterwards. perf
#                    traces the storm's CPU only (it does not filter itself out).
#
# CPU time of a consumer = its user+sys (rusage at exit, threads and child processes included)
# minus what it had used when it was ready to trace (start-up, from /proc/PID/task/*/schedstat),
# so start-up is not counted and the final drain and teardown are ("tail" column). The storm's
# own CPU is not counted. "steady" is the consumer's CPU time from W seconds into the storm
# (--warmup) until the storm ends, per million storm calls in that time: the cost once a
# consumer has settled (tw's JIT compiler has done most of its work after a second or two at
# these rates; the peers have nothing to warm up). A run is "disturbed" (*) when another tracefs instance existed at its
# start or end (someone else tracing) or other processes used more than 10% of a CPU while the
# storm ran (all busy CPU time from /proc/stat, minus the storm's and the consumer's).
#
# Prints one line per consumer and rate (where tw lost events, a "why:" line after it: tw's own
# per-CPU account — it fell behind, its reader ran late, or the kernel could not store them),
# then for each consumer the highest rate with no event
# lost and its CPU-seconds per million events, and the ratios of each tw variant to each peer
# (CPU per event; target <= 2x) with the rates where tw lost events and the peer did not
# (target: none).
#
# --quick: rates 100k, 400k and unlimited, 2.5 s each (warm-up 1 s), consumers trace-cmd,
# splice, perf, tw-auto, twrec-auto (about a minute and a half).
# Default (full): rates 50k 100k 200k 400k 800k 1.6M unlimited, 4 s each (warm-up 2 s),
# consumers trace-cmd, splice, perf, tw-read, tw-mmap, tw-js, tw-read:10 and twrec-read
# (8 to 10 minutes).
# A disturbed run is repeated up to --retries times (default 2; 1 with --quick) while the whole
# run stays within its time budget, and the least disturbed attempt kept. --save FILE writes the
# per-run results as tab-separated values.
#
# Needs root, tracefs, two CPUs, gcc, taskset, node (and the built workspace); trace-cmd and perf
# are optional (their rows say "skipped" without them).
# Leaves no tracefs state behind: every instance it (or a consumer it started) made is removed.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

quick=0
buffer_kb=1024
seconds=
rates=
consumers=
save=
retries=
warmup=
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1 ;;
    --buffer-kb) buffer_kb=${2:?}; shift ;;
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
  : "${seconds:=2.5}" "${warmup:=1}" "${rates:=100000 400000 0}" "${consumers:=trace-cmd splice perf tw-auto twrec-auto}" "${retries:=1}"
else
  : "${seconds:=4}" "${warmup:=2}" "${rates:=50000 100000 200000 400000 800000 1600000 0}" "${consumers:=trace-cmd splice perf tw-read tw-mmap tw-js tw-read:10 twrec-read}" "${retries:=2}"
fi
rates=${rates//,/ }
consumers=${consumers//,/ }
[[ $buffer_kb =~ ^[0-9]+$ && $buffer_kb -ge 64 ]] || { echo "$0: --buffer-kb must be an integer >= 64" >&2; exit 2; }
[[ $seconds =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "$0: --seconds must be a number" >&2; exit 2; }
[[ $warmup =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v w="$warmup" -v s="$seconds" 'BEGIN { exit !(w < s) }' || { echo "$0: --warmup must be a number below --seconds" >&2; exit 2; }
[[ $retries =~ ^[0-9]+$ ]] || { echo "$0: --retries must be a non-negative integer" >&2; exit 2; }
for r in $rates; do [[ $r =~ ^[0-9]+$ ]] || { echo "$0: rate '$r' is not an integer (calls/s; 0 = unlimited)" >&2; exit 2; }; done
for c in $consumers; do
  [[ $c =~ ^(trace-cmd|splice|perf|tw(rec)?-(auto|mmap|read|js)(:[0-9]+)?)$ ]] || { echo "$0: unknown consumer '$c'" >&2; exit 2; }
done

STORM_CPU=${STORM_CPU:-1}
CONSUMER_CPU=${CONSUMER_CPU:-0}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/bench
cli=$root/packages/cli/bin/run.js

[[ $(id -u) -eq 0 ]] || { echo "$0: must run as root (tracefs)" >&2; exit 1; }
for cmd in gcc taskset node; do
  command -v "$cmd" >/dev/null || { echo "$0: $cmd is not installed" >&2; exit 1; }
done
[[ -f $cli && -d $root/packages/cli/dist ]] || { echo "$0: tw CLI not built ($cli); run: npx turbo run build" >&2; exit 1; }
for c in "$STORM_CPU" "$CONSUMER_CPU"; do
  [[ -d /sys/devices/system/cpu/cpu$c ]] || { echo "$0: no CPU $c (set STORM_CPU / CONSUMER_CPU)" >&2; exit 1; }
done
tracefs=$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)
[[ -n $tracefs && -d $tracefs/instances ]] || { echo "$0: tracefs with instances is not mounted" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tw-live.XXXXXX")
# perf writes its data here: tmpfs when there is one, so the disk does not limit it
if [[ -d /dev/shm && -w /dev/shm ]]; then shm=$(mktemp -d /dev/shm/tw-live.XXXXXX); else shm=$tmp; fi
inst_seq=0
our_instances=() # instance directories this script created
our_pids=()      # processes the current run started (killed if the script is interrupted)
tw_pids=()       # tw processes of the current run (their instances are tw-<pid>-<n>)
all_tw_pids=()   # every tw process this script started (for the final check)
top_set_event_before=$(cat "$tracefs/set_event")
top_tracing_on_before=$(cat "$tracefs/tracing_on")

remove_instance() { # DIR
  local d=$1 i
  [[ -d $d ]] || return 0
  echo 0 > "$d/tracing_on" 2>/dev/null || true
  echo 0 > "$d/events/enable" 2>/dev/null || true
  : > "$d/set_event_notrace_pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    rmdir "$d" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$0: warning: could not remove $d" >&2
  return 1
}

cleanup() {
  local rc=$? p d i alive
  trap - EXIT INT TERM
  # TERM (tw and perf end gracefully: tw removes its instance), up to 3 s, then KILL
  for p in "${our_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 30; i++)); do
    alive=0
    for p in "${our_pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive -eq 1 ]] || break
    sleep 0.1
  done
  for p in "${our_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${our_instances[@]}"; do remove_instance "$d" || true; done
  # instances of tw processes we started and had to kill (tw-<pid>-<n>)
  for p in "${tw_pids[@]}"; do
    for d in "$tracefs"/instances/tw-"$p"-*; do [[ -d $d ]] && { remove_instance "$d" || true; }; done
  done
  # top-level: the probe of trace-cmd record must not have changed it
  if [[ $(cat "$tracefs/set_event") != "$top_set_event_before" ]]; then
    echo "$0: restoring the top-level set_event" >&2
    printf '%s\n' "$top_set_event_before" > "$tracefs/set_event" 2>/dev/null || true
  fi
  [[ $(cat "$tracefs/tracing_on") == "$top_tracing_on_before" ]] || echo "$top_tracing_on_before" > "$tracefs/tracing_on" 2>/dev/null || true
  rm -rf "$tmp"
  [[ $shm == "$tmp" ]] || rm -rf "$shm"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_instance() { # sets INST (directory)
  local name="twbench-$$-$((inst_seq++))"
  INST=$tracefs/instances/$name
  mkdir "$INST"
  our_instances+=("$INST")
  echo 0 > "$INST/tracing_on"
}

# --- build the helpers
helpers=$tmp/live-helpers
gcc -O2 -Wall -o "$helpers" "$bench/live-helpers.c" || { echo "$0: cannot compile bench/live-helpers.c" >&2; exit 1; }

# the shared helpers: cpu_ns_of, wait_exit, nap, launch
# shellcheck source=bench/lib.sh
source "$bench/lib.sh"

storm() { # RATE PID...: runs the storm on STORM_CPU; sets CALLS, CALL_RATE and STORM_NS (its CPU
  # time), and STEADY_NS: the CPU time PIDs (the consumer) used in the storm's steady part (after
  # its first $warmup seconds, up to the storm's end)
  local out rate=$1 c_mid c_end
  shift
  launch "$tmp/storm" "$tmp/storm.out" taskset -c "$STORM_CPU" "$helpers" storm "$rate" "$seconds"
  nap "$warmup"
  c_mid=$(cpu_ns_of "$@")
  wait "$WRAPPER"
  c_end=$(cpu_ns_of "$@")
  STEADY_NS=$((c_end - c_mid))
  out=$(cat "$tmp/storm.out")
  read -r su ss _ < "$tmp/storm.cpu"
  STORM_NS=$(((su + ss) * 1000))
  CALLS=$(sed -n 's/.*calls=\([0-9]*\).*/\1/p' <<< "$out")
  CALL_RATE=$(awk -v o="$out" 'BEGIN { split(o, a, /[= ]/); printf "%.0f", a[2] / a[4] }')
  STEADY_CALLS=$(awk -v r="$CALL_RATE" -v s="$seconds" -v w="$warmup" 'BEGIN { printf "%.0f", r * (s - w) }')
}

# --- the consumers. Each sets CAPTURED, LOST, CPU_NS (or SKIP=reason).

run_tw() { # watch|record BACKEND LATENCY_MS RATE
  local kind=$1 backend=$2 latency=$3 rate=$4 out=$tmp/tw.$RANDOM pid wrapper i c0 c1 ready=0 d
  local args=()
  if [[ $kind == record ]]; then
    rm -f "$shm/tw.dat"
    args=(record -o "$shm/tw.dat" -e raw_syscalls:sys_enter)
  else
    args=(watch "$bench/count-storm.mjs")
  fi
  [[ -n $latency ]] && args+=(--latency "$latency")
  launch "$out" "$out.json" taskset -c "$CONSUMER_CPU" node "$cli" "${args[@]}" \
    --json --buffer-kb "$buffer_kb" --backend "$backend"
  wrapper=$WRAPPER pid=$PID
  if [[ -z $pid ]]; then
    wait_exit "$wrapper" 5
    SKIP="tw did not start: $(tail -2 "$out.err" | tr '\n' ' ')"
    return
  fi
  tw_pids+=("$pid")
  all_tw_pids+=("$pid")
  # ready: its instance exists and tracing is on
  for ((i = 0; i < 600; i++)); do
    for d in "$tracefs"/instances/tw-"$pid"-*; do
      if [[ -f $d/tracing_on && $(cat "$d/tracing_on" 2>/dev/null) == 1 ]]; then ready=1; fi
    done
    [[ $ready -eq 1 ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.025
  done
  if [[ $ready -ne 1 ]]; then
    wait_exit "$wrapper" 10
    SKIP="tw did not start: $(tail -2 "$out.err" | tr '\n' ' ')"
    return
  fi
  c0=$(cpu_ns_of "$pid")
  window_start
  storm "$rate" "$pid"
  nap "$(awk -v l="${latency:-50}" 'BEGIN { print (l + 300) / 1000 }')"
  c1=$(cpu_ns_of "$pid")
  window_end $((c1 - c0))
  kill -INT "$pid" 2>/dev/null || true
  wait_exit "$wrapper" 30
  read -r u s code < "$out.cpu" || { SKIP="tw: no rusage"; return; }
  if [[ $code -ne 0 ]]; then SKIP="tw exited with $code: $(tail -2 "$out.err" | tr '\n' ' ')"; return; fi
  CPU_NS=$(((u + s) * 1000 - c0))
  TAIL_NS=$(((u + s) * 1000 - c1))
  # (watch: count-storm's result; record: tw record's summary)
  read -r CAPTURED LOST < <(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.total ?? r.events, r.lost);' "$out.json")
  # tw's own per-CPU account of a loss (tw fell behind / its reader ran late / the kernel)
  ((LOST == 0)) || WHY=$(grep '^tw: warning: CPU' "$out.err" | sed 's/^tw: warning: //' | paste -sd ';' || true)
  rm -f "$shm/tw.dat"
}

run_splice() { # RATE
  local rate=$1 out=$tmp/splice.$RANDOM wrapper pid kids i c0 c1 files=() subbuf c st
  new_instance
  local inst=$INST
  echo "$buffer_kb" > "$inst/buffer_size_kb"
  if grep -qw mono "$inst/trace_clock"; then echo mono > "$inst/trace_clock"; fi
  echo 1 > "$inst/events/raw_syscalls/sys_enter/enable"
  subbuf=4096
  [[ -f $inst/buffer_subbuf_size_kb ]] && subbuf=$(($(cat "$inst/buffer_subbuf_size_kb") * 1024))
  for c in "$inst"/per_cpu/cpu*; do files+=("$c/trace_pipe_raw"); done
  launch "$out" "$out.out" taskset -c "$CONSUMER_CPU" "$helpers" splice /dev/null "$subbuf" 50 "${files[@]}"
  wrapper=$WRAPPER pid=$PID
  for ((i = 0; i < 400; i++)); do
    grep -q '^ready' "$out.out" 2>/dev/null && break
    kill -0 "$wrapper" 2>/dev/null || break
    sleep 0.01
  done
  if ! grep -q '^ready' "$out.out" 2>/dev/null; then
    wait_exit "$wrapper" 5
    SKIP="splice reader did not start: $(tail -2 "$out.err" | tr '\n' ' ')"
    remove_instance "$inst"
    return
  fi
  kids=$(sed -n 's/^ready //p' "$out.out")
  # like trace-cmd (and tw), the recorder does not trace itself
  # shellcheck disable=SC2086
  echo "$pid" $kids > "$inst/set_event_notrace_pid"
  # shellcheck disable=SC2086
  c0=$(cpu_ns_of "$pid" $kids)
  echo 1 > "$inst/tracing_on"
  window_start
  # shellcheck disable=SC2086
  storm "$rate" "$pid" $kids
  nap 0.35
  # shellcheck disable=SC2086
  c1=$(cpu_ns_of "$pid" $kids)
  window_end $((c1 - c0))
  echo 0 > "$inst/tracing_on"
  kill -TERM "$pid" 2>/dev/null || true
  wait_exit "$wrapper" 30
  read -r u s code < "$out.cpu" || { SKIP="splice: no rusage"; remove_instance "$inst"; return; }
  [[ $code -eq 0 ]] || { SKIP="splice reader exited with $code: $(tail -2 "$out.err" | tr '\n' ' ')"; remove_instance "$inst"; return; }
  CPU_NS=$(((u + s) * 1000 - c0))
  TAIL_NS=$(((u + s) * 1000 - c1))
  CAPTURED=0
  LOST=0
  for st in "$inst"/per_cpu/cpu*/stats; do
    read -r r l < <(awk -F': *' '
      $1 == "read events" { r = $2 }
      $1 == "overrun" || $1 == "commit overrun" || $1 == "dropped events" { l += $2 }
      END { print r + 0, l + 0 }' "$st")
    CAPTURED=$((CAPTURED + r))
    LOST=$((LOST + l))
  done
  remove_instance "$inst"
}

perf_pages=$((buffer_kb / 4))
run_perf() { # RATE
  local rate=$1 out=$tmp/perf.$RANDOM wrapper pid i c0 c1
  if ! command -v perf >/dev/null; then SKIP="perf is not installed"; return; fi
  if ((perf_pages & (perf_pages - 1))); then SKIP="--buffer-kb/4 is not a power of two (perf -m needs one)"; return; fi
  rm -f "$shm/perf.data"
  launch "$out" "$out.out" taskset -c "$CONSUMER_CPU" perf record -B -e raw_syscalls:sys_enter -C "$STORM_CPU" \
    -m "$perf_pages" -o "$shm/perf.data"
  wrapper=$WRAPPER pid=$PID
  # ready: it has written its file header (and has had a moment to start reading)
  for ((i = 0; i < 400; i++)); do
    [[ -s $shm/perf.data ]] && break
    kill -0 "$wrapper" 2>/dev/null || break
    sleep 0.01
  done
  nap 0.3
  if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
    wait_exit "$wrapper" 5
    SKIP="perf record did not start: $(grep -v '^$' "$out.err" | tail -2 | tr '\n' ' ')"
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
  read -r u s code < "$out.cpu" || { SKIP="perf: no rusage"; return; }
  [[ $code -eq 0 || $code -eq 130 ]] || { SKIP="perf record exited with $code: $(grep -v '^$' "$out.err" | tail -2 | tr '\n' ' ')"; rm -f "$shm/perf.data"; return; }
  CPU_NS=$(((u + s) * 1000 - c0))
  TAIL_NS=$(((u + s) * 1000 - c1))
  # counted afterwards (not in perf record's CPU time): the samples of the tracepoint, and the
  # lost samples perf attributes to each event (the sum is what perf record's own "lost N%"
  # warning reports)
  read -r CAPTURED LOST < <(perf report -i "$shm/perf.data" --stats 2>/dev/null | awk '
    / stats:$/ { section = $1 }
    section == "raw_syscalls:sys_enter" && /SAMPLE events:/ { cap = $3 }
    section != "" && section != "Aggregated" && /LOST_SAMPLES events:/ { lost += $3 }
    END { print (cap == "" ? "none" : cap), lost + 0 }')
  rm -f "$shm/perf.data"
  [[ $CAPTURED =~ ^[0-9]+$ ]] || SKIP="perf: no sample count in perf report --stats"
}

run_tracecmd() { # RATE: the real trace-cmd record, into a private instance (-B), to tmpfs
  local rate=$1 out=$tmp/tc.$RANDOM name="twbench-$$-tc$((inst_seq++))" wrapper pid kids= i c0 c1 st
  local inst=$tracefs/instances/$name
  if ! command -v trace-cmd >/dev/null; then SKIP="trace-cmd is not installed"; return; fi
  our_instances+=("$inst")
  rm -f "$shm"/tc.dat*
  # -d: no function tracer (enabling it needs /proc/sys/kernel/ftrace_enabled, refused here);
  # --no-filter: trace-cmd would add its own pids to set_ftrace_pid, which is refused too (and
  # 3.1.6 then crashes); its recorders are left out with set_event_notrace_pid below instead,
  # which is what tw and the splice reader do
  launch "$out" "$out.out" taskset -c "$CONSUMER_CPU" trace-cmd record -d --no-filter -B "$name" \
    -b "$buffer_kb" -C mono -e raw_syscalls:sys_enter -o "$shm/tc.dat"
  wrapper=$WRAPPER pid=$PID
  # ready: its instance is tracing and it has a recorder per CPU
  for ((i = 0; i < 400; i++)); do
    if [[ -n $pid && $(cat "$inst/tracing_on" 2>/dev/null) == 1 ]]; then
      kids=$(pgrep -P "$pid" | paste -sd ' ' || true)
      [[ $(wc -w <<< "$kids") -ge $(nproc) ]] && break
    fi
    kill -0 "$wrapper" 2>/dev/null || break
    sleep 0.01
  done
  if [[ -z $pid || $(wc -w <<< "$kids") -lt $(nproc) ]] || ! kill -0 "$pid" 2>/dev/null; then
    [[ -z $pid ]] || kill -INT "$pid" 2>/dev/null || true
    wait_exit "$wrapper" 5
    SKIP="trace-cmd record did not start: $(grep -v '^$' "$out.err" | tail -2 | tr '\n' ' ')"
    remove_instance "$inst" || true
    return
  fi
  # shellcheck disable=SC2086
  our_pids+=($kids) # (killed too if the script is interrupted)
  # shellcheck disable=SC2086
  echo "$pid" $kids > "$inst/set_event_notrace_pid"
  # shellcheck disable=SC2086
  c0=$(cpu_ns_of "$pid" $kids)
  window_start
  # shellcheck disable=SC2086
  storm "$rate" "$pid" $kids
  nap 0.35
  # shellcheck disable=SC2086
  c1=$(cpu_ns_of "$pid" $kids)
  window_end $((c1 - c0))
  kill -INT "$pid" 2>/dev/null || true
  wait_exit "$wrapper" 60
  read -r u s code < "$out.cpu" || { SKIP="trace-cmd: no rusage"; remove_instance "$inst" || true; return; }
  # it records, flushes and writes the file, then fails resetting set_ftrace_filter (EPERM
  # here): exit status 1 with that message is the expected end on this kernel
  if [[ $code -ne 0 ]] && ! { [[ $code -eq 1 ]] && grep -q 'set_ftrace_filter' "$out.err"; }; then
    SKIP="trace-cmd record exited with $code: $(grep -v '^$' "$out.err" | tail -2 | tr '\n' ' ')"
    remove_instance "$inst" || true
    rm -f "$shm"/tc.dat*
    return
  fi
  CPU_NS=$(((u + s) * 1000 - c0))
  TAIL_NS=$(((u + s) * 1000 - c1))
  # counted afterwards by trace-cmd report (not in its CPU time): the records in the file, and
  # the kernel's overrun + commit overrun + dropped events it stored for each CPU
  CAPTURED=$(trace-cmd report -i "$shm/tc.dat" 2>/dev/null | grep -c ' sys_enter: ' || true)
  LOST=$(trace-cmd report --stat -i "$shm/tc.dat" 2>/dev/null | awk -F': *' '
    $1 == "overrun" || $1 == "commit overrun" || $1 == "dropped events" { l += $2 }
    END { print l + 0 }')
  rm -f "$shm"/tc.dat*
  remove_instance "$inst" || true # trace-cmd's failed reset leaves it behind
  [[ $CAPTURED -gt 0 ]] || SKIP="trace-cmd: no record in its file"
}

# --- what else is running (a busy machine spoils the numbers)
others=$(ls "$tracefs/instances" | grep -v "^twbench-$$-" | paste -sd ' ' || true)
load=$(cut -d' ' -f1 /proc/loadavg)

echo "tw live benchmark — $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs, node $(node --version)"
command -v trace-cmd >/dev/null && echo "peer versions: $(trace-cmd --version 2>/dev/null | grep -o "version [^ ]*" | head -1 | sed "s/^/trace-cmd /")$(command -v perf >/dev/null && echo ", $(perf --version 2>/dev/null)")"
echo "storm: getppid() on CPU $STORM_CPU, ${seconds}s per rate; consumers on CPU $CONSUMER_CPU; event raw_syscalls:sys_enter; buffer ${buffer_kb} KiB per CPU"
echo "peers: trace-cmd = trace-cmd record -d --no-filter -B (its own instance) to tmpfs; splice = trace-cmd's recorder floor (splice trace_pipe_raw -> /dev/null, one process per CPU); perf = perf record -C $STORM_CPU -m $perf_pages to tmpfs"
[[ -z $others ]] || echo "warning: other tracefs instances exist ($others): someone else is tracing; numbers may be disturbed"
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
others_now() { ls "$tracefs/instances" | grep -v -E "^twbench-$$-" | grep -v -E "^tw-($(IFS='|'; echo "${tw_pids[*]:-0}"))-" | paste -sd ' ' || true; }

results=$tmp/results.tsv
printf 'consumer\trate\tcall_rate\tcalls\tcaptured\tlost\tcpu_ns\ttail_ns\tdisturbed\tskip\tothers_ns\twindow_ns\tsteady_ns\tsteady_calls\n' > "$results"
printf '%-12s %9s %10s %10s %10s %7s %8s %8s %9s %9s\n' consumer rate 'calls/s' captured lost 'lost%' 'CPU ms' 'tail ms' 'CPU s/M' 'steady'
disturbed_any=0
run_once() { # CONSUMER RATE: one run; sets the result variables and DISTURBED
  local c=$1 rate=$2 before spec
  # the previous run's processes have all exited and been waited for: forget their pids
  our_pids=()
  tw_pids=()
  SKIP= WHY= CAPTURED=0 LOST=0 CPU_NS=0 TAIL_NS=0 STORM_NS=0 OTHERS_NS=0 WINDOW_NS=1 CALLS=0 CALL_RATE=0 STEADY_NS=0 STEADY_CALLS=0
  before=$(others_now)
  case $c in
    splice) run_splice "$rate" ;;
    trace-cmd) run_tracecmd "$rate" ;;
    perf) run_perf "$rate" ;;
    tw-* | twrec-*)
      spec=${c#*-}
      run_tw "$([[ $c == twrec-* ]] && echo record || echo watch)" "${spec%%:*}" "$([[ $spec == *:* ]] && echo "${spec#*:}")" "$rate"
      ;;
  esac
  # someone else tracing at the start or the end of the run, or other processes using more
  # than 10% of a CPU while the storm ran (all CPU time, minus the storm's and the
  # consumer's): the run is disturbed
  DISTURBED=0
  if [[ -n $before || -n $(others_now) ]] || ((OTHERS_NS * 10 > WINDOW_NS)); then DISTURBED=1; fi
}

retried=0
# a retry is made only while the whole run still fits its time budget (full 11 min, quick 2 min)
budget=$((quick ? 120 : 660))
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
      row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$c" "$rate" "$CALL_RATE" "$CALLS" "$CAPTURED" "$LOST" "$CPU_NS" "$TAIL_NS" "$DISTURBED" "$SKIP" "$OTHERS_NS" "$WINDOW_NS" "$STEADY_NS" "$STEADY_CALLS")
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
    IFS='|' read -r _ _ CALL_RATE CALLS CAPTURED LOST CPU_NS TAIL_NS DISTURBED SKIP OTHERS_NS WINDOW_NS STEADY_NS STEADY_CALLS <<< "${best//$'\t'/|}"
    [[ $DISTURBED -eq 0 ]] || disturbed_any=1
    label=$([[ $rate -eq 0 ]] && echo unlimited || echo "$rate")
    if [[ -n $SKIP ]]; then
      printf '%-12s %9s  skipped: %s\n' "$c" "$label" "$SKIP"
    else
      awk -v c="$c" -v r="$label" -v cr="$CALL_RATE" -v cap="$CAPTURED" -v lost="$LOST" -v ns="$CPU_NS" -v tail="$TAIL_NS" -v d="$DISTURBED" -v sn="$STEADY_NS" -v sc="$STEADY_CALLS" 'BEGIN {
        printf "%-12s %9s %10s %10d %10d %6.2f%% %8.1f %8.1f %9.3f %9.3f%s\n", c, r, cr, cap, lost,
          (cap + lost > 0 ? 100 * lost / (cap + lost) : 0), ns / 1e6, tail / 1e6, (cap > 0 ? (ns / 1e9) / (cap / 1e6) : 0),
          (sc > 0 ? (sn / 1e9) / (sc / 1e6) : 0), (d == 1 ? "  (*)" : "") }'
    fi
    [[ -z $best_why ]] || printf '%-12s %9s  why: %s\n' '' '' "$best_why"
    printf '%s\n' "$best" >> "$results"
  done
done
echo "CPU ms: the consumer's user+sys from ready-to-trace to exit; tail ms: the part after it was told to stop (final drain, end, teardown); CPU s/M: CPU ms per million captured events"
echo "steady: CPU s per million storm calls after the storm's first ${warmup}s, until it ends (no start-up, JIT warm-up or teardown)"
[[ $retried -eq 0 ]] || echo "$retried disturbed run(s) were repeated (--retries $retries); the least disturbed run of each is shown"
[[ $disturbed_any -eq 0 ]] || echo "(*) disturbed even so: another tracefs instance existed, or other processes used > 10% of a CPU during the run"
[[ -z $save ]] || cp "$results" "$save"

echo
node - "$results" <<'EOF'
const rows = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').slice(1).map((l) => {
  const [consumer, rate, callRate, calls, captured, lost, cpuNs, tailNs, disturbed, skip, othersNs, windowNs, steadyNs, steadyCalls] = l.split('\t');
  return { consumer, rate: +rate, callRate: +callRate, captured: +captured, lost: +lost, cpuNs: +cpuNs, steadyNs: +steadyNs, steadyCalls: +steadyCalls, skip };
}).filter((r) => !r.skip);
const label = (rate) => (rate === 0 ? 'unlimited' : rate >= 1e6 ? `${rate / 1e6}M` : `${rate / 1e3}k`);
const consumers = [...new Set(rows.map((r) => r.consumer))];
const rates = [...new Set(rows.map((r) => r.rate))];
const get = (c, rate) => rows.find((r) => r.consumer === c && r.rate === rate);
const perM = (r) => (r.captured > 0 ? r.cpuNs / 1e9 / (r.captured / 1e6) : NaN);
const steadyPerM = (r) => (r.steadyCalls > 0 ? r.steadyNs / 1e9 / (r.steadyCalls / 1e6) : NaN);
const of = (c) => rows.filter((r) => r.consumer === c);
const total = (c, only = () => true) => {
  const rs = of(c).filter((r) => only(r.rate));
  const ns = rs.reduce((a, r) => a + r.cpuNs, 0), ev = rs.reduce((a, r) => a + r.captured, 0);
  return ev > 0 ? ns / 1e9 / (ev / 1e6) : NaN;
};
console.log('consumer      highest rate, 0 lost  (calls/s reached)  CPU s per M events, all rates');
for (const c of consumers) {
  // the highest rate up to which nothing was lost (rates rising; the first loss ends it)
  let best = null;
  for (const rate of [...rates].sort((a, b) => (a || Infinity) - (b || Infinity))) {
    const r = get(c, rate);
    if (!r || r.lost > 0) break;
    best = r;
  }
  console.log(`${c.padEnd(13)} ${(best ? label(best.rate) : 'none').padEnd(21)} ${(best ? `${best.callRate}` : '-').padEnd(18)} ${total(c).toFixed(3)}`);
}
const peers = consumers.filter((c) => !c.startsWith('tw'));
const tws = consumers.filter((c) => c.startsWith('tw'));
if (peers.length && tws.length) {
  console.log('\nratios, tw ÷ peer, of CPU per captured event (target: <= 2x at every rate where neither lost an event):');
  console.log('per rate (! = tw lost events where the peer lost none; target: never); the worst of the like-for-like rates;');
  console.log('and summed over those rates and over all rates (sums are dominated by the highest rates)');
  for (const t of tws) for (const p of peers) {
    const per = rates.map((rate) => {
      const a = get(t, rate), b = get(p, rate);
      if (!a || !b) return `${label(rate)} -`;
      return `${label(rate)} ${(perM(a) / perM(b)).toFixed(2)}x${a.lost > 0 && b.lost === 0 ? '!' : ''}`;
    });
    const bad = rates.filter((rate) => { const a = get(t, rate), b = get(p, rate); return a && b && a.lost > 0 && b.lost === 0; });
    const clean = (rate) => { const a = get(t, rate), b = get(p, rate); return a && b && a.lost === 0 && b.lost === 0; };
    const cleanRates = rates.filter(clean);
    const like = total(t, clean) / total(p, clean), overall = total(t) / total(p);
    const worst = Math.max(...cleanRates.map((rate) => perM(get(t, rate)) / perM(get(p, rate))));
    console.log(`${t} ÷ ${p}: ${per.join(', ')}`);
    console.log(`  like for like (${cleanRates.length ? cleanRates.map(label).join(', ') : 'no rate'}): ${cleanRates.length ? `worst ${worst.toFixed(2)}x ${worst <= 2 ? '(target met)' : '(over 2x)'}, summed ${like.toFixed(2)}x` : '-'}; all rates summed ${overall.toFixed(2)}x`);
    const steady = cleanRates.map((rate) => `${label(rate)} ${(steadyPerM(get(t, rate)) / steadyPerM(get(p, rate))).toFixed(2)}x`);
    const steadyWorst = Math.max(...cleanRates.map((rate) => steadyPerM(get(t, rate)) / steadyPerM(get(p, rate))));
    console.log(`  steady state (after the warm-up), like for like: ${steady.length ? `${steady.join(', ')}; worst ${steadyWorst.toFixed(2)}x ${steadyWorst <= 2 ? '(target met)' : '(over 2x)'}` : '-'}`);
    console.log(`  lossless wherever ${p} is: ${bad.length ? `no: lost ${bad.map((rate) => { const a = get(t, rate); return `${(100 * a.lost / (a.lost + a.captured)).toFixed(1)}% at ${label(rate)}`; }).join(', ')}` : 'yes (target met)'}`);
  }
}
EOF

# --- nothing of ours may be left
leftover=$(ls "$tracefs/instances" | grep -E "^twbench-$$-" || true)
for p in "${all_tw_pids[@]}"; do leftover+=" $(ls "$tracefs/instances" | grep -E "^tw-$p-" || true)"; done
leftover=$(echo $leftover)
echo
if [[ -n $leftover ]]; then echo "tracefs: instances left behind: $leftover"; else echo "tracefs: no instance of this run left; top-level set_event: '$(cat "$tracefs/set_event")'"; fi
