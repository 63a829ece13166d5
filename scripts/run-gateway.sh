#!/usr/bin/env bash
# Starts tachyon-gateway from build dir $1 on config $2 (extra args pass on).
set -euo pipefail
build=${1:?build dir}; config=${2:?config file}; shift 2
bin="$build/src/tachyon-gateway"
if [[ ! -x "$bin" ]]; then
  echo "run-gateway: $bin was not built" >&2
  exit 1
fi
exec "$bin" --config "$config" "$@"
