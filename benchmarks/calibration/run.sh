#!/usr/bin/env bash
# Calibration: builds the microbenchmarks natively and as a vmxsim workload from one source
# (calib.c), runs both, and writes docs/calibration.md (native vs simulated TSC ticks per
# iteration, error %). One command:
#   bash benchmarks/calibration/run.sh [BUILD_DIR] [PROFILE]      (defaults: build, zen5)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
profile=${2:-zen5}
case $build in /*) ;; *) build=$root/$build ;; esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target calib_native workload_calib vmxsim >/dev/null

# Native: three processes, each the best of five runs per benchmark; the best overall is kept
# (other work on the machine only ever adds time).
for i in 1 2 3; do "$build/benchmarks/calib_native" "" 5 >"$out/native.$i"; done
# Simulated: deterministic, one run.
"$build/vmxsim" -kernel "$build/workloads/calib.elf" --cpu "$profile" -q --stats-json "$out/stats.json" \
  >"$out/sim" 2>/dev/null || true
"$build/vmxsim" --list-params 2>/dev/null >"$out/params" || true

/usr/bin/python3 "$here/report.py" --native "$out"/native.* --sim "$out/sim" --profile "$profile" \
  --cpuinfo /proc/cpuinfo --out "$root/docs/calibration.md"
echo "wrote $root/docs/calibration.md"
