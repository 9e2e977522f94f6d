#!/usr/bin/env bash
# Installs the Debian packages kiln builds and runs with, when any is missing.
# Idempotent; prints nothing when everything is present. Needs root (or sudo)
# only when something has to be installed.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config
  llvm-19-dev libhwy-dev libabsl-dev nlohmann-json3-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist
  linux-perf gdb  # the profiler's perf and gdb tests (tests/codegen/jit_tools_test.cc)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "kiln setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
