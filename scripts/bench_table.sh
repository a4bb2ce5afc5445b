#!/usr/bin/env bash
# Prints a Google Benchmark JSON file as a Markdown table: ns per item (median of the
# repetitions, with min-max), one row per benchmark. Usage: scripts/bench_table.sh bench.json
set -euo pipefail
json="${1:?usage: bench_table.sh bench.json}"
command -v jq >/dev/null || { echo "bench_table.sh: jq is missing (apt-get install jq)"; exit 1; }
echo "| benchmark | ns per item, median | min - max | repetitions |"
echo "|---|---:|---:|---:|"
jq -r '
  [.benchmarks[] | select(.run_type == "iteration") | {name: .run_name, ns: (1e9 / .items_per_second)}]
  | group_by(.name)[]
  | (map(.ns) | sort) as $v
  | "| \(.[0].name) | \($v[(($v|length)/2|floor)] | . * 10 | round / 10) | \($v[0] | . * 10 | round / 10) - \($v[-1] | . * 10 | round / 10) | \($v|length) |"
' "$json"
