#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 and runs each for $2 seconds,
# seeded from protocol/vectors/ (scripts/vectors-to-corpus.py) and from
# tests/fuzz/corpus/<target>/ where a target has hand-written seeds.
set -euo pipefail
dir=${1:?build dir}; seconds=${2:-60}
cd "$(dirname "$0")/.."
root=$PWD
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DTACHYON_BUILD_FUZZ=ON \
  -DTACHYON_BUILD_TESTS=OFF -DTACHYON_BUILD_BENCH=OFF
cmake --build "$dir" -j "$(nproc)" --target fuzz_targets
for target in "$dir"/tests/fuzz/fuzz_*; do
  [[ -x $target ]] || continue
  name=$(basename "$target")
  corpus="$dir/corpus/$name"
  mkdir -p "$corpus"
  if [[ -d "$root/tests/fuzz/corpus/$name" ]]; then
    # Seeds of a fuzzer whose input is not a protocol frame.
    cp "$root/tests/fuzz/corpus/$name"/* "$corpus"/
  else
    python3 scripts/vectors-to-corpus.py "$root/protocol/vectors" "$corpus" "$name"
  fi
  echo "fuzz: $name for ${seconds}s"
  "$target" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 "$corpus"
done
