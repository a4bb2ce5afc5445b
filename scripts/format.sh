#!/usr/bin/env bash
# Formats weft's C++ sources with clang-format 14 and the repository's .clang-format.
# Usage: scripts/format.sh            rewrite every file in place
#        scripts/format.sh --check    list the files that are not formatted; exit 1 if any
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$fmt" ]; then
  echo "format: clang-format-14 is missing (apt-get install clang-format-14)" >&2
  exit 1
fi
case "$("$fmt" --version)" in
  *" 14."*) ;;
  *) echo "format: $fmt is not clang-format 14; other versions format differently" >&2; exit 1 ;;
esac
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- 'include/*.hpp' 'tests/*.hpp' 'tests/*.cpp' 'benchmarks/*.hpp' \
                                      'benchmarks/*.cpp' 'examples/*.cpp')
if [ "${1:-}" = "--check" ]; then
  bad=0
  for f in "${files[@]}"; do
    if ! "$fmt" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
      echo "not formatted: $f"
      bad=1
    fi
  done
  if [ "$bad" = 1 ]; then
    echo "format: run scripts/format.sh to fix" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files formatted"
else
  "$fmt" --style=file -i "${files[@]}"
fi
