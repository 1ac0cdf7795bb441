#!/usr/bin/env bash
# The distributed figures of docs/DISTRIBUTED.md (issue 24): strata_bench_allreduce under
# mpirun — the Strata collective's all-reduce against MPI_Allreduce at 2 ranks (8 B, 4 KiB
# ... 64 MiB), fit's throughput of the MLP and the CNN at 1 and 2 processes — into
# OUT/bench.jsonl, then scripts/distributed_model.py over it into OUT/model.txt.
#
#   scripts/bench-distributed.sh [BUILD_DIR] [OUT_DIR]     (defaults: build, build/bench-distributed)
#
# MODE=overlap instead measures the "mpi" collective's progress thread (docs/DISTRIBUTED.md,
# "What overlaps"): `strata_bench_allreduce overlap` at 2 ranks trains two copies of a model in
# ONE job, under two strategies with the thread off and on, one epoch each in turn (PAIRS
# pairs, default 8), so that the machine's load hits both alike; REPEAT jobs (default 3) per
# case: "deep" (784-4x1024-10, 15.6 MB of gradients in 4 MiB buckets: 7) with the eager step
# (STRATA_TRACED_TRAIN_STEP=0, whose backward walk launches the buckets) and the traced one,
# the guide's MLP and the small CNN; plus "deep" in one process. Into OUT/overlap.jsonl, then
# per case the medians over the jobs of the step times and of the on/off ratio.
#
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
  export STRATA_TRACED_TRAIN_STEP=1
  mpirun_+=(-x STRATA_TRACED_TRAIN_STEP)
  {
    echo "# $(date -u +%FT%TZ) $(nproc --all) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    "${mpirun_[@]}" -np 1 "$bench" train --model deep --samples 512 --epochs 4
    for job in $(seq "${REPEAT:-3}"); do
      STRATA_TRACED_TRAIN_STEP=0 "${mpirun_[@]}" -np 2 "$bench" overlap --model deep --samples 512 --bucket-kib 4096 --pairs "${PAIRS:-8}"
      STRATA_TRACED_TRAIN_STEP=1 "${mpirun_[@]}" -np 2 "$bench" overlap --model deep --samples 512 --bucket-kib 4096 --pairs "${PAIRS:-8}"
      "${mpirun_[@]}" -np 2 "$bench" overlap --model mlp --pairs "${PAIRS:-8}"
      "${mpirun_[@]}" -np 2 "$bench" overlap --model cnn --samples 1024 --pairs "${PAIRS:-8}"
      echo "# job $job done $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    done
  } | tee "$out/overlap.jsonl"
  python3 - "$out/overlap.jsonl" <<'PY'
import json, statistics, sys
cases = {}
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    l = json.loads(line)
    if l["bench"] == "train":
        print(f"{l['model']:5} 1 process: {l['step_ms']:.3f} ms a step")
        continue
    step = "eager" if l["traced_step"] == "0" else "traced"
    cases.setdefault((l["model"], step, l["buckets"]), []).append(l)
print("2 ranks, progress thread off / on, alternating epochs in one job; medians over the jobs")
for (model, step, buckets), ls in sorted(cases.items()):
    med = lambda k: statistics.median(l[k] for l in ls)
    ratios = ", ".join(f"{l['on_over_off']:.2f}" for l in ls)
    print(f"{model:5} {step:6} buckets={buckets}: off {med('off_step_ms'):8.3f} ms, on {med('on_step_ms'):8.3f} ms,"
          f" on/off {med('on_over_off'):.3f} (jobs: {ratios})")
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
