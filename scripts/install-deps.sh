#!/usr/bin/env bash
# Installs every Debian 12 package that building, running, testing and
# benchmarking Tachyon needs. Idempotent: does nothing when all are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  g++ clang-14 libclang-rt-14-dev clang-format-14
  liburing-dev libabsl-dev libasio-dev libtomlplusplus-dev libboost1.81-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 procps gnuplot-nox
  libjs-chart.js chromium chromium-driver python3-selenium
  libxdp-dev libbpf-dev xdp-tools bpftool llvm-14 gcc-multilib ethtool
  libdpdk-dev dpdk-dev
  libssl-dev openssl libsodium-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    SUDO="sudo"
  else
    echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
