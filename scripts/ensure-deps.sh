#!/usr/bin/env bash
# Installs the Debian packages weft needs for a purpose, only those missing, never prompting.
# Usage: scripts/ensure-deps.sh test|bench|sanitizers|all
# As root or with passwordless sudo it runs apt-get; otherwise it prints the exact command and
# exits 1 if a required package is missing (optional ones are only reported).
set -euo pipefail
purpose="${1:-test}"

required=(cmake ninja-build g++ pkg-config)
optional=(liburing-dev libfmt-dev)
case "$purpose" in
  test)       required+=(catch2 libbenchmark-dev relacy-dev python3 graphviz clang-format-14); optional+=(libasio-dev libtbb-dev librabbitmq-dev rabbitmq-server chromium) ;;
  bench)      required+=(libbenchmark-dev jq libfmt-dev); optional+=(libasio-dev libtbb-dev libomp-dev valgrind libbenchmark-tools python3-scipy gnuplot-nox librabbitmq-dev rabbitmq-server) ;;
  sanitizers) required+=(catch2 g++-12 clang-14 libclang-rt-14-dev relacy-dev); optional+=(librabbitmq-dev rabbitmq-server) ;;
  all)        required+=(catch2 libbenchmark-dev relacy-dev python3 graphviz clang-format-14 jq clang-14 libclang-rt-14-dev); optional+=(libasio-dev libtbb-dev libomp-dev valgrind libbenchmark-tools python3-scipy gnuplot-nox librabbitmq-dev rabbitmq-server chromium) ;;
  *) echo "usage: $0 test|bench|sanitizers|all" >&2; exit 2 ;;
esac

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing_required=(); missing_optional=()
for p in "${required[@]}"; do is_installed "$p" || missing_required+=("$p"); done
for p in "${optional[@]}"; do is_installed "$p" || missing_optional+=("$p"); done

if [ ${#missing_required[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  echo "ensure-deps ($purpose): all packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo_cmd=(sudo -n)
  else
    echo "ensure-deps ($purpose): missing packages; run:"
    echo "  sudo apt-get install -y --no-install-recommends ${missing_required[*]} ${missing_optional[*]}"
    [ ${#missing_required[@]} -eq 0 ] && exit 0 || exit 1
  fi
fi

apt=("${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q)
echo "ensure-deps ($purpose): installing ${missing_required[*]} ${missing_optional[*]}"
"${apt[@]}" update >/dev/null
if [ ${#missing_required[@]} -gt 0 ]; then
  "${apt[@]}" install --no-install-recommends "${missing_required[@]}"
fi
# rabbitmq-server is installed for the tests' private nodes only: keep Debian from starting its
# system-wide service on install (policy-rc.d 101 = "do not start"), where no policy is set.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ " ${missing_optional[*]} " == *" rabbitmq-server "* ]] && [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
fi
for p in "${missing_optional[@]}"; do
  "${apt[@]}" install --no-install-recommends "$p" || echo "ensure-deps: optional package $p not installed"
done
if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi
