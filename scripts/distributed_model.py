#!/usr/bin/env python3
"""The communication-cost model of docs/DISTRIBUTED.md, fed by measured figures.

    scripts/distributed_model.py BENCH.jsonl [--collective-key strata|mpi] [--max-fit-mib M]

BENCH.jsonl holds the lines strata_bench_allreduce prints (scripts/bench-distributed.sh
writes them): "allreduce" lines (bytes, times at 2 ranks) and "train" lines (samples/s at 1
and 2 processes).

Ring all-reduce, alpha-beta model (Patarasuk & Yuan; NCCL's and Open MPI's ring for large
buffers): a buffer of n bytes over p ranks costs

    T(n, p) = 2 (p - 1) alpha + 2 (p - 1) / p * n / B

alpha = the per-message latency, B = the link bandwidth each rank sends at. alpha and B are
fitted (least squares) to the measured times at p = 2, where T = 2 alpha + n / B, over the
sizes up to --max-fit-mib (default 1 MiB: larger calls of the Strata "mpi" collective
measured far slower than the model, see the printed misfit, and would drag B down; the model
is the engine working as designed, the misfit is printed as a finding). The model
then predicts, for p up to 64, the gradient all-reduce of a step of the guide's MLP and the
small CNN (their parameter counts), and of a ResNet-50-sized model (25.6 M float32
parameters) for scale, and the data-parallel efficiency

    E(p) = t1 / (t1 + T_exposed)       (weak scaling: per-rank batch fixed)

with t1 the measured one-process step time at the per-rank batch and T_exposed the
communication the backward pass does not hide (no overlap: all of T; DDP-style buckets: T
minus the backward time of all but the last bucket, bounded below by the last bucket's T).
The fitted alpha/B are of the machine measured on (one host, shared memory), so a second
table uses an assumed network (25 Gb/s Ethernet: B = 3.1 GB/s, alpha = 25 us) to show what
64 *nodes* would do; both are printed with their inputs.
"""
import json
import sys

PARAMS = {"mlp (784-64-64-10)": 55050, "cnn (small)": 43706, "resnet50-size": 25_600_000}


def fit(points):
    # T = a + n * b, least squares; alpha = a / 2, B = 1 / b (p = 2).
    n = len(points)
    sx = sum(x for x, _ in points)
    sy = sum(y for _, y in points)
    sxx = sum(x * x for x, _ in points)
    sxy = sum(x * y for x, y in points)
    b = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    a = (sy - b * sx) / n
    return max(a, 0.0) / 2.0, 1.0 / b


def ring(n_bytes, p, alpha, bandwidth):
    if p == 1:
        return 0.0
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * n_bytes / bandwidth


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    key = "strata"
    if "--collective-key" in sys.argv:
        key = sys.argv[sys.argv.index("--collective-key") + 1]
    max_fit = 1 << 20
    if "--max-fit-mib" in sys.argv:
        max_fit = int(float(sys.argv[sys.argv.index("--max-fit-mib") + 1]) * (1 << 20))
    lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
    ar = [l for l in lines if l["bench"] == "allreduce" and l["ranks"] == 2]
    train = [l for l in lines if l["bench"] == "train"]
    if not ar:
        print("no 2-rank allreduce lines in", sys.argv[1])
        return 1
    print("measured at 2 ranks (float32 sum in place; median call; us, and bus bandwidth GB/s):")
    print(f"  {'bytes':>10s} {'strata us':>10s} {'MPI us':>10s} {'strata GB/s':>12s} {'MPI GB/s':>10s}")
    for l in ar:
        print(f"  {l['bytes']:>10d} {l['strata_us']:>10.1f} {l['mpi_us']:>10.1f} {l['strata_busbw_GBps']:>12.2f} "
              f"{l['mpi_busbw_GBps']:>10.2f}")
    fits = {}
    for k in ("strata", "mpi"):
        pts = [(l["bytes"], l[f"{k}_us"] * 1e-6) for l in ar if l["bytes"] <= max_fit]
        fits[k] = fit(pts)
        a, b = fits[k]
        print(f"  fit ({k}, sizes <= {max_fit >> 10} KiB): alpha = {a * 1e6:.2f} us, B = {b / 1e9:.2f} GB/s; "
              "measured / model above that: "
              + ", ".join(f"{l['bytes'] >> 20} MiB {l[f'{k}_us'] * 1e-6 / ring(l['bytes'], 2, a, b):.1f}x"
                          for l in ar if l["bytes"] > max_fit))
    alpha, bandwidth = fits[key]

    t1 = {}
    for l in train:
        if l["processes"] == 1:
            t1[l["model"]] = l["global_batch"] / l["samples_per_s"]  # seconds per step at that batch
    for l in train:
        if l["processes"] > 1 and l["model"] in t1:
            one = [m for m in train if m["model"] == l["model"] and m["processes"] == 1][0]
            eff = l["samples_per_s"] / (l["processes"] * one["samples_per_s"])
            print(f"  measured {l['model']}: {one['samples_per_s']:.0f} samples/s at 1 process, "
                  f"{l['samples_per_s']:.0f} at {l['processes']} (strong scaling, global batch "
                  f"{l['global_batch']}): efficiency {eff * 100:.0f}%")

    def table(title, alpha, bandwidth):
        print()
        print(title)
        ps = [2, 4, 8, 16, 32, 64]
        print(f"  {'model':22s} {'MB':>7s} " + " ".join(f"{'p=' + str(p):>9s}" for p in ps))
        for name, count in PARAMS.items():
            n = 4 * count
            cells = " ".join(f"{ring(n, p, alpha, bandwidth) * 1e3:8.2f}m" for p in ps)
            print(f"  {name:22s} {n / 1e6:7.2f} {cells}")
        print("  (ms per step for the gradient all-reduce; latency term 2(p-1)alpha = "
              + ", ".join(f"{2 * (p - 1) * alpha * 1e3:.2f}" for p in ps) + " ms)")

    table(f"ring all-reduce per step, measured alpha = {alpha * 1e6:.1f} us, B = {bandwidth / 1e9:.2f} GB/s:",
          alpha, bandwidth)
    net_alpha, net_b = 25e-6, 3.125e9
    table("ring all-reduce per step, assumed 25 Gb/s Ethernet between nodes (alpha = 25 us, B = 3.1 GB/s):",
          net_alpha, net_b)

    print()
    print("weak-scaling efficiency E(p) = t1 / (t1 + exposed communication), per-rank batch as measured:")
    for model, step in sorted(t1.items()):
        count = PARAMS["mlp (784-64-64-10)"] if model == "mlp" else PARAMS["cnn (small)"]
        n = 4 * count
        row = []
        for p in [2, 8, 64]:
            for a, b, label in [(alpha, bandwidth, "here"), (net_alpha, net_b, "25GbE")]:
                comm = ring(n, p, a, b)
                row.append(f"p={p} {label}: {step / (step + comm) * 100:.0f}%")
        print(f"  {model} (t1 = {step * 1e3:.2f} ms/step): " + ", ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
