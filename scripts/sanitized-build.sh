#!/usr/bin/env bash
# Builds the tests with clang-14 under a sanitizer and runs them.
#   scripts/sanitized-build.sh address build/asan   # ASan + UBSan, all tests
#   scripts/sanitized-build.sh thread  build/tsan   # TSan, concurrency tests
set -euo pipefail
kind=${1:?address|thread}; dir=${2:?build dir}
cd "$(dirname "$0")/.."
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DTACHYON_SANITIZE="$kind" \
  -DTACHYON_BUILD_BENCH=OFF
if [[ $kind == thread ]]; then
  # TSan runs only the concurrency tests: build those binaries and the
  # programs they may start (the gateway, the tools), not every target.
  # A test split into parts (name.part) is the binary `name`.
  targets=$(cd "$dir" && ctest -N -L concurrency |
    sed -n 's/^ *Test *#[0-9]*: \([^ .]*\).*/\1/p' | sort -u)
  programs=$(cd "$dir" && ninja -t targets all |
    sed -n 's#^\(src\|clients\)/\(.*/\)\{0,1\}\([^/:]*\): CXX_EXECUTABLE_LINKER.*#\3#p')
  # shellcheck disable=SC2086
  cmake --build "$dir" -j "$(nproc)" --target $targets $programs
else
  cmake --build "$dir" -j "$(nproc)"
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
label_args=()
if [[ $kind == thread ]]; then label_args=(-L concurrency); fi
cd "$dir" && ctest --output-on-failure -j "$(nproc)" "${label_args[@]}"
