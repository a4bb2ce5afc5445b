#!/usr/bin/env bash
# The test command: installs what is missing, then configures, builds and runs every test
# (g++ Debug with -Werror; unit, stress, example and consumer tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh test
cmake --workflow --preset dev --fresh
