#!/usr/bin/env bash
# The main job: build, then run vmxsim on its built-in default workload and print statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec build/vmxsim --stats "$@"
