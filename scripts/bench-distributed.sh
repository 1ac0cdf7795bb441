#!/usr/bin/env bash
# The distributed figures of docs/DISTRIBUTED.md (issue 24): strata_bench_allreduce under
# mpirun — the Strata collective's all-reduce against MPI_Allreduce at 2 ranks (8 B, 4 KiB
# ... 64 MiB), fit's throughput of the MLP and the CNN at 1 and 2 processes — into
# OUT/bench.jsonl, then scripts/distributed_model.py over it into OUT/model.txt.
#
#   scripts/bench-distributed.sh [BUILD_DIR] [OUT_DIR]     (defaults: build, build/bench-distributed)
#
# MODE=overlap instead measures the "mpi" collective's progress thread (docs/DISTRIBUTED.md,
# "What overlaps"): ROUNDS (default 5) rounds, each running every case at 2 ranks with
# STRATA_MPI_PROGRESS_THREAD=0 and then =1 (alternating, so that the machine's load hits both
# alike) — "deep" (bench/allreduce_bench.cpp: 784-4x1024-10, global batch 64, 4 MiB buckets:
# 7 buckets) with the eager step (STRATA_TRACED_TRAIN_STEP=0, whose backward walk launches
# the buckets) and the traced one, the guide's MLP and the small CNN — and "deep" at 1
# process; into OUT/overlap.jsonl, then the median step time per case and setting.
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
if [ "${MODE:-}" = overlap ]; then
  mpirun_+=(-x STRATA_MPI_PROGRESS_THREAD -x STRATA_TRACED_TRAIN_STEP)
  {
    echo "# $(date -u +%FT%TZ) $(nproc --all) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    for round in $(seq "${ROUNDS:-5}"); do
      STRATA_TRACED_TRAIN_STEP=1 "${mpirun_[@]}" -np 1 "$bench" train --model deep --samples 512 --epochs 4
      for thread in 0 1; do
        export STRATA_MPI_PROGRESS_THREAD=$thread
        STRATA_TRACED_TRAIN_STEP=0 "${mpirun_[@]}" -np 2 "$bench" train --model deep --samples 512 --epochs 4 --bucket-kib 4096
        STRATA_TRACED_TRAIN_STEP=1 "${mpirun_[@]}" -np 2 "$bench" train --model deep --samples 512 --epochs 4 --bucket-kib 4096
        STRATA_TRACED_TRAIN_STEP=1 "${mpirun_[@]}" -np 2 "$bench" train --model mlp
        STRATA_TRACED_TRAIN_STEP=1 "${mpirun_[@]}" -np 2 "$bench" train --model cnn
      done
      echo "# round $round done $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    done
  } | tee "$out/overlap.jsonl"
  python3 - "$out/overlap.jsonl" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if line.startswith("{"):
        l = json.loads(line)
        step = "eager" if l["traced_step"] == "0" else "traced"
        key = (l["model"], l["processes"], step, l["buckets"])
        runs.setdefault(key, {}).setdefault(l["progress_thread"] if l["processes"] > 1 else "-", []).append(l["step_ms"])
print("median step ms (runs) per case; progress thread off (0) / on (1)")
for (model, procs, step, buckets), by in sorted(runs.items()):
    cells = "  ".join(f"{t}: {statistics.median(v):8.3f} ({len(v)}: {min(v):.3f}-{max(v):.3f})" for t, v in sorted(by.items()))
    ratio = ""
    if "0" in by and "1" in by:
        ratio = f"  on/off {statistics.median(by['1']) / statistics.median(by['0']):.3f}"
    print(f"{model:5} np={procs} {step:6} buckets={buckets}:  {cells}{ratio}")
PY
  exit 0
fi
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
