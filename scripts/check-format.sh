#!/usr/bin/env bash
# Fails if any C++ source differs from .clang-format (Google style).
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format)}
mapfile -t files < <(git ls-files '*.h' '*.cpp')
if ((${#files[@]} == 0)); then exit 0; fi
"$CLANG_FORMAT" --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files clean"
