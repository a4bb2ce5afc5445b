#!/usr/bin/env bash
# The benchmark command: installs what is missing, builds Release, runs the main benchmark
# (5 repetitions, peers in the same run) and prints its table. JSON: build/release/bench.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh bench
cmake --workflow --preset bench --fresh
