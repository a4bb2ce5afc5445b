#!/usr/bin/env bash
# Instructions per operation under callgrind: (Ir(2N) - Ir(N)) / N, so start-up cancels.
# Usage: scripts/callgrind.sh [N] (default 100000); needs the release build (scripts/bench.sh).
# WEFT_IR_PROBE=path measures another build's probe (e.g. an earlier commit's, for a before/after);
# WEFT_IR_WORKLOADS="chain_spawn chain_then" measures only those; WEFT_DIAG=registry|trace measures
# with diagnostics on (docs/guide/diagnostics.md).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
probe="${WEFT_IR_PROBE:-build/release/benchmarks/weft_ir_probe}"
[ -x "$probe" ] || cmake --build build/release --target weft_ir_probe
only="${WEFT_IR_WORKLOADS:-}"
wanted() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)"; exit 1; }
ir() {  # total instructions of one run
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$probe" "$1" "$2" >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'
  rm -f "$out"
}
echo "| workload (1 worker) | instructions per operation |"
echo "|---|---:|"
for w in chain_spawn chain_resume_on strand_resume_on chain_then spawn_get fan_out asio_post mutex_lock mutex_scoped_lock channel_write_read parallel_for_call parallel_for_iteration; do
  wanted "$w" || continue
  a=$(ir "$w" "$n") || continue
  b=$(ir "$w" $((2 * n))) || continue
  [ -n "$a" ] && [ -n "$b" ] && echo "| $w | $(( (b - a) / n )) |"
done

# Spawn-join: fib(20) and fib(22) spawn 10,945 and 28,656 tasks; instructions per spawned task.
for w in fib_spawn fib_local; do
  wanted "$w" || continue
  a=$(ir "$w" 20) || continue
  b=$(ir "$w" 22) || continue
  [ -n "$a" ] && [ -n "$b" ] && echo "| $w (per spawned task) | $(( (b - a) / (28656 - 10945) )) |"
done
