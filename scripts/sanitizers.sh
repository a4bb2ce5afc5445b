#!/usr/bin/env bash
# Builds and runs the test suites under ThreadSanitizer and AddressSanitizer+UBSan (clang 14).
# Usage: scripts/sanitizers.sh [tsan] [asan]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh sanitizers
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(tsan asan)
for p in "${presets[@]}"; do
  echo "== $p =="
  cmake --workflow --preset "$p" --fresh
done
