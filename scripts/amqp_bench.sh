#!/usr/bin/env bash
# weft::amqp against plain rabbitmq-c on a private RabbitMQ node: builds the release preset's
# weft_amqp_bench, starts a node under the build folder, runs the benchmark with
# WEFT_AMQP_URL pointing at it, stops the node. Extra arguments go to the benchmark.
# Usage: scripts/amqp_bench.sh [--benchmark_repetitions=5 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release > /dev/null
cmake --build build/release --target weft_amqp_bench
dir="$PWD/build/release/amqp-bench-broker"
port=24960
scripts/rabbitmq-node.sh start "$dir" "$port"
trap 'scripts/rabbitmq-node.sh stop "$dir"' EXIT
if grep -q '^unavailable=1' "$dir/env"; then
  echo "amqp_bench: no RabbitMQ server installed (scripts/ensure-deps.sh bench installs it)" >&2
  exit 1
fi
WEFT_AMQP_URL="amqp://guest:guest@127.0.0.1:$port/" build/release/benchmarks/weft_amqp_bench \
  --benchmark_out=build/release/amqp_bench.json --benchmark_out_format=json "$@"
