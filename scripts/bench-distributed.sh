#!/usr/bin/env bash
# The distributed figures of docs/DISTRIBUTED.md (issue 24): strata_bench_allreduce under
# mpirun — the Strata collective's all-reduce against MPI_Allreduce at 2 ranks (8 B, 4 KiB
# ... 64 MiB), fit's throughput of the MLP and the CNN at 1 and 2 processes — into
# OUT/bench.jsonl, then scripts/distributed_model.py over it into OUT/model.txt.
#
#   scripts/bench-distributed.sh [BUILD_DIR] [OUT_DIR]     (defaults: build, build/bench-distributed)
#
# Needs a build with STRATA_BUILD_BENCH=ON and MPI found (strata_bench_allreduce) and the
# collective-mpi plugin in the build's plugin directory. One OpenMP thread per rank; as root
# the Open MPI variables below allow it; --oversubscribe for machines with fewer cores;
# --bind-to none, so that a rank is not pinned to a core another process keeps busy.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
out="${2:-$build/bench-distributed}"
mkdir -p "$out"
bench="$build/bin/strata_bench_allreduce"
[ -x "$bench" ] || { echo "bench-distributed: $bench not built (STRATA_BUILD_BENCH=ON, MPI)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 STRATA_NUM_THREADS=1 OMP_NUM_THREADS=1
mpirun_=(mpirun --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none -x STRATA_NUM_THREADS -x OMP_NUM_THREADS)
{
  echo "# $(date -u +%FT%TZ) $(nproc --all) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "${mpirun_[@]}" -np 2 "$bench" allreduce --collective "${COLLECTIVE:-mpi}"
  for model in mlp cnn; do
    for np in 1 2; do
      "${mpirun_[@]}" -np "$np" "$bench" train --model "$model" --batch "${BATCH:-64}" --samples "${SAMPLES:-4096}"
    done
  done
} | tee "$out/bench.jsonl"
python3 scripts/distributed_model.py "$out/bench.jsonl" | tee "$out/model.txt"
