# Shell functions bench/live.sh and bench/bpf.sh share (sourced, not run). They expect:
#   helpers   the compiled bench/live-helpers.c
#   our_pids  an array of the processes the current run started (the caller's cleanup kills them)

cpu_ns_of() { # PID... -> CPU time used so far (ns) by all their threads
  local sum=0 p f v
  for p in "$@"; do
    for f in /proc/"$p"/task/*/schedstat; do
      read -r v _ 2>/dev/null < "$f" || continue
      sum=$((sum + v))
    done
  done
  echo "$sum"
}

wait_exit() { # PID TIMEOUT_S: wait for a child of this shell; TERM then KILL after the timeout
  local p=$1 t=$2 i
  for ((i = 0; i < t * 20; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$p" 2>/dev/null; then
    echo "$0: warning: pid $p did not exit in ${t}s, terminating it" >&2
    kill -TERM "$p" 2>/dev/null || true
    sleep 1
    kill -KILL "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
}

# sleep, but let a signal to this script end it at once (bash runs traps only between commands,
# and while it waits for a background job)
nap() {
  sleep "$1" &
  our_pids+=($!)
  wait $!
}

# launch OUT STDOUT CMD...: runs CMD under cpurun in the background (stderr to OUT.err, its
# rusage to OUT.cpu); sets WRAPPER (cpurun) and PID (CMD itself, empty if it never started).
# Both are killed if the script is interrupted.
launch() {
  local out=$1 stdout=$2 i
  shift 2
  "$helpers" cpurun "$out.cpu" "$@" > "$stdout" 2> "$out.err" &
  WRAPPER=$!
  our_pids+=("$WRAPPER")
  PID=
  for ((i = 0; i < 400; i++)); do
    if [[ -s $out.cpu.pid ]]; then
      PID=$(cat "$out.cpu.pid")
      our_pids+=("$PID")
      return
    fi
    kill -0 "$WRAPPER" 2>/dev/null || return
    sleep 0.01
  done
}
