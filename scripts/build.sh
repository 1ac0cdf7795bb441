#!/usr/bin/env bash
# Configures and builds Strata with CMake + Ninja.
#   scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
# Default BUILD_DIR: build (Release, warnings as errors).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
cmake -S . -B "$dir" -G Ninja -DSTRATA_WERROR=ON "$@"
cmake --build "$dir"
