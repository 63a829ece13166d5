#!/usr/bin/env bash
# Runs every microbenchmark binary built in BUILD_DIR/bench/micro
# (tachyon-micro-*) and prints its results. Figures from a shared, noisy
# machine: compare ratios between runs, not absolute times.
#   scripts/run-micro-bench.sh build/release
#   scripts/run-micro-bench.sh build/release --benchmark_filter=Decode
# Extra arguments go to every binary. MIN_TIME (seconds, default 0.2) sets
# --benchmark_min_time; Google Benchmark 1.7.1 takes a plain number there.
set -euo pipefail
dir=${1:?usage: run-micro-bench.sh BUILD_DIR [benchmark flags...]}
shift
bench_dir="$dir/bench/micro"
shopt -s nullglob
binaries=("$bench_dir"/tachyon-micro-*)
ran=0
for bin in "${binaries[@]}"; do
  [[ -f $bin && -x $bin ]] || continue
  echo "== $(basename "$bin")"
  "$bin" --benchmark_min_time="${MIN_TIME:-0.2}" \
    --benchmark_counters_tabular=true "$@"
  echo
  ran=$((ran + 1))
done
if ((ran == 0)); then
  echo "run-micro-bench: no tachyon-micro-* binaries in $bench_dir;" \
    "build them first (cmake --build $dir --target tachyon-micro-codec)" >&2
  exit 1
fi
