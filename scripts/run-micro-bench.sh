#!/usr/bin/env bash
# Runs every microbenchmark binary built in BUILD_DIR/bench/micro
# (tachyon-micro-*) and prints its results. Figures from a shared, noisy
# machine: compare ratios between runs, not absolute times.
#   scripts/run-micro-bench.sh build/release
#   scripts/run-micro-bench.sh build/release --benchmark_filter=Decode
#   ONLY=udp scripts/run-micro-bench.sh build/release
# Extra arguments go to every binary. MIN_TIME (seconds, default 0.2) sets
# --benchmark_min_time; Google Benchmark 1.7.1 takes a plain number there.
# ONLY=<area>[,<area>...] runs just tachyon-micro-<area> (codec, stream, udp).
# tachyon-micro-udp (UDP ingress/egress over loopback) prints the
# batched/naive ratios after its table.
set -euo pipefail
dir=${1:?usage: run-micro-bench.sh BUILD_DIR [benchmark flags...]}
shift
bench_dir="$dir/bench/micro"
shopt -s nullglob
if [[ -n ${ONLY:-} ]]; then
  binaries=()
  IFS=, read -ra areas <<<"$ONLY"
  for area in "${areas[@]}"; do binaries+=("$bench_dir/tachyon-micro-$area"); done
else
  binaries=("$bench_dir"/tachyon-micro-*)
fi
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
  echo "run-micro-bench: no ${ONLY:+matching }tachyon-micro-* binaries in" \
    "$bench_dir; build them first (cmake --build $dir --target" \
    "tachyon-micro-codec tachyon-micro-stream tachyon-micro-udp)" >&2
  exit 1
fi
