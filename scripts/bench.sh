#!/usr/bin/env bash
# The benchmark command. Installs what is missing, builds Release, and runs the placement
# benchmark (where I/O continuations should run: inline on the I/O thread, on the worker pool,
# or adaptive), printing its table; JSON, TSV and (with gnuplot) PNG plots go to build/release/.
#
# scripts/bench.sh [--quick | --full] [--all] [weft_placement_bench flags...]
#   --quick  under a minute: 32 connections, 1 I/O thread, 3 short repetitions
#   --full   (default) 1/32/256 connections, 1 and 2 I/O threads, 5 repetitions (~15 min)
#   --all    afterwards, every micro-benchmark of the other milestones with its peers in the
#            same run (task core, pool against oneTBB, schedulers against Asio, echo against
#            Asio and a plain epoll loop): the run_bench target
set -euo pipefail
cd "$(dirname "$0")/.."
mode=--full
all=0
extra=()
for arg in "$@"; do
  case "$arg" in
    --quick|--full) mode="$arg" ;;
    --all) all=1 ;;
    *) extra+=("$arg") ;;
  esac
done
scripts/ensure-deps.sh bench
cmake --preset release --fresh >/dev/null
cmake --build --preset release --target weft_placement_bench
out=build/release
build/release/benchmarks/weft_placement_bench "$mode" --json "$out/placement.json" --tsv "$out/placement.tsv" "${extra[@]}"
if command -v gnuplot >/dev/null; then
  conns=$(awk -F'\t' '!/^#/ {print $3}' "$out/placement.tsv" | sort -n -u | tr '\n' ' ')
  tics=$(awk -F'\t' '!/^#/ && !seen[$4]++ {printf "%s\"%s\" %s", (n++ ? ", " : ""), $5, $4}' "$out/placement.tsv")
  for io in $(awk -F'\t' '!/^#/ {print $1}' "$out/placement.tsv" | sort -n -u); do
    gnuplot -e "in='$out/placement.tsv'; out='$out/placement_io$io.png'; io=$io; conns='$conns'; tics='$tics'" scripts/plot_placement.gp
    echo "plot: $out/placement_io$io.png"
  done
else
  echo "gnuplot is not installed (apt-get install gnuplot-nox): no plot, the table above is the result"
fi
# A timeline of one short run of the server (pool policy, 32 connections, 10 us of work): where
# each continuation ran, I/O threads and workers in their own lanes (docs/guide/diagnostics.md).
WEFT_PLACEMENT_TRACE="$out/placement_trace.json" build/release/benchmarks/weft_placement_bench --quick \
  --policies pool --conns 32 --work 10 --io 1 --reps 1 --seconds 0.2 --no-pump > /dev/null
echo "timeline: $out/placement_trace.json.html (trace for ui.perfetto.dev: $out/placement_trace.json)"
if [ "$all" = 1 ]; then
  cmake --build --preset bench
fi
