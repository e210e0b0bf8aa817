#!/usr/bin/env bash
# Decode throughput and peak memory of tw against trace-cmd on one trace.dat.
#
# usage: bench/decode.sh FILE
#
# Runs, on FILE:
#   tw watch allcounts --input FILE        (node packages/cli/bin/run.js)
#   tw dump --input FILE > /dev/null
#   trace-cmd report -i FILE > /dev/null
# and prints events/s of each, the ratios tw/trace-cmd, and the peak RSS of each
# (GNU time -v). The event count is the "total" of `tw watch allcounts --json`.
# BENCH_RUNS=N (default 1) runs each command N times and keeps the fastest.
set -euo pipefail

usage() {
  echo "usage: $0 FILE" >&2
  echo "  prints events/s and peak RSS of tw watch allcounts, tw dump and trace-cmd report on FILE" >&2
  exit 2
}

[[ $# -eq 1 ]] || usage
file=$1
[[ -f $file && -r $file ]] || { echo "$0: cannot read '$file'" >&2; usage; }
runs=${BENCH_RUNS:-1}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "$0: BENCH_RUNS must be a positive integer" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cli=$root/packages/cli/bin/run.js
[[ -f $cli ]] || { echo "$0: tw CLI not found at $cli (build the workspace first)" >&2; exit 1; }
command -v node >/dev/null || { echo "$0: node is not installed" >&2; exit 1; }
command -v trace-cmd >/dev/null || { echo "$0: trace-cmd is not installed" >&2; exit 1; }

# GNU time for the peak RSS; install it when missing and we can
timebin=/usr/bin/time
if ! "$timebin" -v true >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing GNU time (package 'time') for peak RSS ..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 || true
  fi
fi
have_time=0
"$timebin" -v true >/dev/null 2>&1 && have_time=1
[[ $have_time -eq 1 ]] || echo "$0: GNU time not available: peak RSS will be shown as n/a (install package 'time')" >&2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tw-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

events=$(node "$cli" watch allcounts --input "$file" --json | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const t = JSON.parse(s).total;
    if (!Number.isInteger(t)) { console.error("no integer total in tw watch allcounts --json output"); process.exit(1); }
    console.log(t);
  });')
[[ $events =~ ^[0-9]+$ && $events -gt 0 ]] || { echo "$0: no events in $file (tw watch allcounts total: '$events')" >&2; exit 1; }

# measure NAME CMD...: sets SECS (fastest of $runs) and RSS_KB (max), stdout -> /dev/null
measure() {
  local name=$1
  shift
  SECS=
  RSS_KB=0
  local i start end secs rss
  for ((i = 0; i < runs; i++)); do
    start=$(date +%s%N)
    if [[ $have_time -eq 1 ]]; then
      if ! "$timebin" -v -o "$tmp/time.txt" "$@" > /dev/null 2> "$tmp/err.txt"; then
        echo "$0: $name failed: $(tail -3 "$tmp/err.txt")" >&2
        exit 1
      fi
      rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")
    else
      if ! "$@" > /dev/null 2> "$tmp/err.txt"; then
        echo "$0: $name failed: $(tail -3 "$tmp/err.txt")" >&2
        exit 1
      fi
      rss=0
    fi
    end=$(date +%s%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    if [[ -z $SECS ]] || awk -v x="$secs" -v y="$SECS" 'BEGIN { exit !(x < y) }'; then SECS=$secs; fi
    if ((rss > RSS_KB)); then RSS_KB=$rss; fi
  done
}

row() { # NAME SECS RSS_KB
  local eps rss
  eps=$(awk -v n="$events" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  if [[ $have_time -eq 1 ]]; then rss=$(awk -v k="$3" 'BEGIN { printf "%.1f", k / 1024 }'); else rss=n/a; fi
  printf '%-24s %10s %14s %14s\n' "$1" "$2" "$eps" "$rss"
}

size_mb=$(awk -v b="$(stat -c %s "$file")" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "file: $file ($size_mb MB), events: $events, runs: $runs"

measure 'tw watch allcounts' node "$cli" watch allcounts --input "$file"
ac_s=$SECS ac_rss=$RSS_KB
measure 'tw dump' node "$cli" dump --input "$file"
dump_s=$SECS dump_rss=$RSS_KB
measure 'trace-cmd report' trace-cmd report -i "$file"
tc_s=$SECS tc_rss=$RSS_KB

printf '%-24s %10s %14s %14s\n' 'command' 'seconds' 'events/s' 'peak RSS MB'
row 'tw watch allcounts' "$ac_s" "$ac_rss"
row 'tw dump' "$dump_s" "$dump_rss"
row 'trace-cmd report' "$tc_s" "$tc_rss"
# ratio of events/s = inverse ratio of times
awk -v a="$ac_s" -v d="$dump_s" -v t="$tc_s" 'BEGIN {
  printf "ratio tw allcounts / trace-cmd report (events/s): %.2fx\n", (a > 0 ? t / a : 0)
  printf "ratio tw dump / trace-cmd report (events/s):      %.2fx\n", (d > 0 ? t / d : 0)
}'
