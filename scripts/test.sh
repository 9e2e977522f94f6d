#!/usr/bin/env bash
# The whole test suite: set up, build everything, run every ctest test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
