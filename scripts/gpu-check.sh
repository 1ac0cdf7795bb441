#!/usr/bin/env bash
# The CUDA backend's checks on a lent GPU machine, in two steps:
#
#   scripts/gpu-check.sh pack [BUILD_DIR]   here: builds what the GPU machine needs and
#                                           copies it into build-gpu-pack/ (~20 MB): the
#                                           op test program (GoogleTest and the ref kernels
#                                           linked in), the CUDA benchmark, libstrata, the
#                                           CUDA, layers, training and checkpoint plugins
#                                           (the model-level conformance cases), and this
#                                           machine's libstdc++/libgcc_s/libprotobuf/libz.
#                                           No oneDNN, no HDF5, no cuBLAS: the GPU machine
#                                           has its own CUDA libraries.
#   scripts/gpu-check.sh run [OUT_DIR]      there (the device tool carries build-gpu-pack/):
#                                           runs the CUDA conformance and gradient suites
#                                           against the ref kernels, the CUDA backend tests,
#                                           the one-rank NCCL communicator check (an
#                                           all-reduce, broadcast and all-gather of a known
#                                           buffer on one GPU; when the collective-nccl plugin
#                                           was built) and the GPU benchmark, and writes
#                                           OUT_DIR/gpu-report.md (+ the raw outputs).
#
# Example with the device tool: pack here, then
#   run(command="scripts/gpu-check.sh run \"$OUT\"", carry=["build-gpu-pack"], timeout_s=420)
set -euo pipefail
cd "$(dirname "$0")/.."
pack=build-gpu-pack

case "${1:-}" in
  pack)
    build="${2:-build}"
    plugins=(backend-cuda layers training format-checkpoint)
    targets=(strata_op_tests strata_bench_cuda)
    # The NCCL collective (issue 24) where nvcc and nccl.h were found: its plugin and its test
    # program (a one-rank communicator; NCCL refuses two ranks on one GPU).
    if [ -f "$build/tests/plugins/collective-nccl/CTestTestfile.cmake" ]; then
      plugins+=(collective-nccl)
      targets+=(strata_collective_nccl_tests)
    fi
    cmake --build "$build" --target "${targets[@]}" "${plugins[@]/#/strata_plugin_}"
    rm -rf "$pack"
    mkdir -p "$pack/bin" "$pack/lib/strata/plugins" "$pack/deps"
    for target in "${targets[@]}"; do cp "$build/bin/$target" "$pack/bin/"; done
    cp -P "$build"/lib/libstrata.so* "$build"/lib/libstrata_proto.so* "$pack/lib/"
    for plugin in "${plugins[@]}"; do
      cp "$build/lib/strata/plugins/strata-$plugin.so" "$pack/lib/strata/plugins/"
    done
    # The C++ runtime and the checkpoint plugin's libraries, as this machine has them.
    for lib in libstdc++.so.6 libgcc_s.so.1 libprotobuf.so.32 libz.so.1; do
      path="$(ldd "$pack/bin/strata_op_tests" "$pack/lib/strata/plugins/strata-format-checkpoint.so" |
        awk -v l="$lib" '$1 == l {print $3; exit}')"
      [ -n "$path" ] || { echo "gpu-check: $lib not found by ldd" >&2; exit 1; }
      cp -L "$path" "$pack/deps/"
    done
    du -sh "$pack"
    ;;
  run)
    out="${2:-${OUT:-gpu-out}}"
    mkdir -p "$out"
    here=$PWD
    export LD_LIBRARY_PATH="$here/$pack/lib:$here/$pack/deps${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export STRATA_PLUGIN_PATH="$here/$pack/lib/strata/plugins"
    {
      echo "# GPU check $(date -u +%FT%TZ)"
      echo
      echo '```'
      nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
      "$pack/bin/strata_op_tests" --gtest_list_tests >/dev/null && echo "test program starts"
      echo '```'
    } > "$out/gpu-report.md"
    set +e
    timeout 300 "$pack/bin/strata_op_tests" --gtest_filter='Cuda*:CudaBackend*' \
      --gtest_output="xml:$out/cuda-tests.xml" > "$out/cuda-tests.txt" 2>&1
    tests_rc=$?
    timeout 180 "$pack/bin/strata_bench_cuda" --benchmark_min_time=0.2 > "$out/cuda-bench.txt" 2>&1
    bench_rc=$?
    nccl_rc=absent
    if [ -x "$pack/bin/strata_collective_nccl_tests" ]; then
      # libnccl (~200 MB, too big for the pack) is the GPU machine's own (its CUDA toolkit's
      # lib directory through the plugin's RUNPATH, or LD_LIBRARY_PATH); without it the test
      # is skipped and says so.
      timeout 120 "$pack/bin/strata_collective_nccl_tests" > "$out/nccl-tests.txt" 2>&1
      nccl_rc=$?
    fi
    set -e
    {
      echo
      echo "## Tests (exit $tests_rc): Cuda/OpConformance, Cuda/GradientCheck, Cuda/ModelConformance, CudaBackend"
      echo '```'
      grep -E '^\[  (PASSED|FAILED|SKIPPED) \]|tests? from .* ran' "$out/cuda-tests.txt" | head -60 || true
      echo '```'
      echo "Model-level deviations from the ref device:"
      echo '```'
      grep -E '^\[ conform  \]' "$out/cuda-tests.txt" | head -80 || true
      echo '```'
      echo "Failed ops (first message line each):"
      echo '```'
      grep -E -A3 '^\[ RUN' "$out/cuda-tests.txt" | grep -E 'no kernel|Error|error' | sort | uniq -c | sort -rn | head -40 || true
      echo '```'
      echo
      echo "## NCCL, one rank on one GPU (exit $nccl_rc; multi-GPU NCCL is untested until a multi-GPU machine is available)"
      echo '```'
      grep -E '^\[  (PASSED|FAILED|SKIPPED) \]|^\[ +(OK|FAILED|SKIPPED) +\]|tests? from .* ran' "$out/nccl-tests.txt" 2>/dev/null | head -20 || true
      echo '```'
      echo
      echo "## Benchmark (exit $bench_rc)"
      echo '```'
      cat "$out/cuda-bench.txt"
      echo '```'
    } >> "$out/gpu-report.md"
    cat "$out/gpu-report.md"
    ;;
  *)
    echo "usage: scripts/gpu-check.sh pack [BUILD_DIR] | run [OUT_DIR]" >&2
    exit 2
    ;;
esac
