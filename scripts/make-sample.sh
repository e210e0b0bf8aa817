#!/usr/bin/env bash
# Makes examples/sample.dat: a small real recording (trace-cmd v7, zstd) of a known workload, so
# every offline watch can be tried without root. Needs root, tracefs and trace-cmd.
#   workload: a shell that creates and deletes files, a `sleep` killed with SIGKILL, a burst of
#   getppid calls, and a few short commands — on both CPUs.
set -euo pipefail
out=${1:-"$(dirname "$0")/../examples/sample.dat"}
T=/sys/kernel/tracing
[ -d "$T/instances" ] || mount -t tracefs nodev "$T"
inst="tw-sample-$$"
I="$T/instances/$inst"
cleanup() { [ -d "$I" ] && { echo 0 > "$I/tracing_on"; echo > "$I/set_event"; rmdir "$I"; } || true; }
trap cleanup EXIT
mkdir "$I"
echo 4096 > "$I/buffer_size_kb"
for e in raw_syscalls syscalls sched/sched_process_fork sched/sched_process_exec sched/sched_process_exit \
         sched/sched_switch signal task; do
  echo 1 > "$I/events/$e/enable"
done
dir=$(mktemp -d)
taskset -c 0 bash -c "for i in 1 2 3 4 5; do echo data > $dir/f\$i; done; rm -f $dir/f*; ls $dir >/dev/null" 
taskset -c 1 sleep 30 & victim=$!
sleep 0.1; kill -9 "$victim"; wait "$victim" 2>/dev/null || true
taskset -c 1 python3 -c 'import os
for _ in range(200): os.getppid()'
taskset -c 0 sh -c 'uname -a >/dev/null; id >/dev/null'
rmdir "$dir"
echo 0 > "$I/tracing_on"
trace-cmd extract -B "$inst" -o "$out" >/dev/null
echo "wrote $out (victim pid $victim)"
