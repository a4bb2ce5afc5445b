#!/usr/bin/env bash
# Builds and runs the test suites under ThreadSanitizer and AddressSanitizer+UBSan (clang 14),
# and the coroutine, cancellation, composition, I/O (processes and UNIX sockets included) and sync suites under g++ 12's AddressSanitizer+UBSan (asan-gcc:
# g++ compiles coroutines differently, decision 0009).
# Usage: scripts/sanitizers.sh [tsan] [asan] [asan-gcc]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh sanitizers
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(tsan asan asan-gcc)
for p in "${presets[@]}"; do
  echo "== $p =="
  cmake --workflow --preset "$p" --fresh
done
