#!/usr/bin/env bash
# ThreadSanitizer run (issue 20, "Threads"): builds the runtime, the plugins and the
# concurrency tests with clang -fsanitize=thread in BUILD_DIR (default build-tsan/) and runs
# CTest label `concurrency` there. A data race fails the run (halt_on_error).
#   scripts/tsan.sh [BUILD_DIR]
# Debian's oneDNN runs its parallel regions on GNU OpenMP, whose futex-based barriers
# ThreadSanitizer cannot see (it would report races between OpenMP workers that the
# barriers order): the run uses one OpenMP thread, so no OpenMP worker exists, and needs no
# suppression for it. The threads under test are the host's own (std::thread), as in an embedding
# application.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-tsan}"
if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' "$dir/CMakeCache.txt"; then
  rm -rf "$dir"
fi
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DSTRATA_WERROR=ON -DSTRATA_TSAN=ON \
  -DSTRATA_BUILD_BENCH=OFF -DSTRATA_WITH_CUDA=OFF > /dev/null
# Only what the concurrency tests run: the runtime (a link dependency), the plugins they load
# from the build's plugin directory, and the two test programs.
cmake --build "$dir" --target strata_concurrency_tests strata_concurrent_init_test \
  strata_plugin_layers strata_plugin_training strata_plugin_backend-onednn strata_plugin_format-h5 \
  strata_plugin_format-json strata_plugin_format-checkpoint strata_plugin_format-savedmodel
export OMP_NUM_THREADS=1
# tests/sanitizers/tsan.supp: oneDNN's internal locks, invisible to TSan (the reason is there).
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/sanitizers/tsan.supp"
ctest --test-dir "$dir" --output-on-failure -L concurrency
