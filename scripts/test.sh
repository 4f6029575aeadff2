#!/usr/bin/env bash
# The whole test suite: build, then run every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --no-tests=error --output-on-failure -j"$(nproc)" --timeout 600
