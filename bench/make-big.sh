#!/usr/bin/env bash
# Make a large, real trace.dat for decode benchmarks and the memory check
# (tw must stay under 200 MB RSS on a 300 MB file).
#
# usage: bench/make-big.sh [-7] OUT SIZE_MB
#
#   Records SIZE_MB of ring-buffer data from a syscall storm running on CPUs 0
#   and 1 (all syscalls + raw_syscalls + sched + signal + task events) in a
#   private tracefs instance, extracts it with `trace-cmd extract` and writes OUT
#   as an uncompressed trace.dat v6 file (about SIZE_MB plus ~6 MB of metadata).
#   With -7 OUT is the zstd-compressed v7 file instead (several times smaller).
#
# Needs root, tracefs, trace-cmd, taskset and node. Leaves no tracefs state behind.
set -euo pipefail

usage() {
  echo "usage: $0 [-7] OUT SIZE_MB" >&2
  echo "  writes a real trace.dat (v6, or v7 with -7) holding about SIZE_MB of events" >&2
  exit 2
}

version=6
if [[ ${1:-} == -7 ]]; then
  version=7
  shift
fi
[[ $# -eq 2 ]] || usage
out=$1
size_mb=$2
[[ $size_mb =~ ^[0-9]+$ && $size_mb -ge 1 ]] || { echo "$0: SIZE_MB must be a positive integer, got '$size_mb'" >&2; usage; }
[[ $(id -u) -eq 0 ]] || { echo "$0: must run as root (tracefs instances)" >&2; exit 1; }
for cmd in trace-cmd taskset node; do
  command -v "$cmd" >/dev/null || { echo "$0: $cmd is not installed" >&2; exit 1; }
done

tracefs=$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)
if [[ -z $tracefs ]]; then
  mount -t tracefs nodev /sys/kernel/tracing
  tracefs=/sys/kernel/tracing
fi

out_dir=$(cd "$(dirname "$out")" && pwd)
out=$out_dir/$(basename "$out")
work=$(mktemp -d "${TMPDIR:-/tmp}/tw-make-big.XXXXXX")
inst=tw-bench-$$
idir=$tracefs/instances/$inst
storm_pids=()

cleanup() {
  local rc=$?
  for p in "${storm_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -d $idir ]]; then
    echo 0 > "$idir/tracing_on" 2>/dev/null || true
    echo 0 > "$idir/events/enable" 2>/dev/null || true
    rmdir "$idir" 2>/dev/null || echo "$0: warning: could not remove $idir" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT INT TERM

cpus=()
for c in 0 1; do
  [[ -d /sys/devices/system/cpu/cpu$c ]] && cpus+=("$c")
done
ncpu=${#cpus[@]}
[[ $ncpu -ge 1 ]] || { echo "$0: no CPU 0/1?" >&2; exit 1; }

target_bytes=$((size_mb * 1024 * 1024))
# per-CPU buffer: the CPU's share plus 25% (the storm is not perfectly even) plus
# 32 MB, since a CPU can add a few MB between two polls (~75 MB/s per CPU)
per_cpu_kb=$(((size_mb * 1024 * 5 / 4) / ncpu + 32768))
full_bytes=$(((per_cpu_kb - 24576) * 1024))

mkdir "$idir"
echo 0 > "$idir/tracing_on"
echo "$per_cpu_kb" > "$idir/buffer_size_kb"
for e in syscalls raw_syscalls sched signal task; do
  echo 1 > "$idir/events/$e/enable"
done
: > "$idir/trace"
echo 1 > "$idir/tracing_on"

storm_js='
const fs = require("fs");
const dir = process.argv[1];
let i = 0, s = 0;
for (;;) {
  for (let k = 0; k < 2000; k++) s += process.ppid;
  for (let k = 0; k < 50; k++) { try { fs.statSync(dir); } catch {} }
  const f = dir + "/f" + (i++ % 8);
  fs.writeFileSync(f, "x");
  fs.unlinkSync(f);
}'
for c in "${cpus[@]}"; do
  mkdir -p "$work/cpu$c"
  taskset -c "$c" node -e "$storm_js" "$work/cpu$c" &
  storm_pids+=($!)
  # some fork/exec traffic too
  taskset -c "$c" bash -c 'while :; do /bin/true; sleep 0.05; done' &
  storm_pids+=($!)
done

# wait until enough data is buffered, or a CPU buffer is nearly full
deadline=$((SECONDS + 600))
while :; do
  total=0
  full=0
  for c in "${cpus[@]}"; do
    b=$(awk '/^bytes:/ { print $2 }' "$idir/per_cpu/cpu$c/stats")
    total=$((total + b))
    if ((b >= full_bytes)); then full=1; fi
  done
  if ((total >= target_bytes || full || SECONDS > deadline)); then break; fi
  sleep 0.05
done
echo 0 > "$idir/tracing_on"
for p in "${storm_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
storm_pids=()
echo 0 > "$idir/events/enable"

overrun=$(cat "$idir"/per_cpu/cpu*/stats | awk '/^overrun:/ { s += $2 } END { print s + 0 }')
(cd "$work" && trace-cmd extract -B "$inst" -o "$work/big7.dat" >/dev/null 2>&1) || { echo "$0: trace-cmd extract failed" >&2; exit 1; }
if [[ $version == 7 ]]; then
  mv "$work/big7.dat" "$out"
else
  trace-cmd convert --file-version 6 -i "$work/big7.dat" -o "$out" >/dev/null 2>&1 || { echo "$0: trace-cmd convert failed" >&2; exit 1; }
fi
echo "wrote $out: trace.dat v$version, $(($(stat -c %s "$out") / 1024 / 1024)) MB, $((total / 1024 / 1024)) MB of events buffered, overrun $overrun"
