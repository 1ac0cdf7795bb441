"""Helpers shared by the Keras 3 `.keras` archive scripts (issue 21): the generators
generate_keras3_archives.py (TensorFlow backend) and generate_keras3_jax_archives.py (JAX
backend), and the loaders keras3_load_strata.py and keras3_jax_load_strata.py.

It imports numpy only: the JAX scripts run in setup_jax_venv.sh's venv, which has no
TensorFlow. The scripts import it from their own directory (Python puts a script's directory
first on sys.path). The generators' cache keys in keras3_archive_test.cpp and
keras3_jax_archive_test.cpp hash this file too: changing it regenerates their fixtures.
"""
import os

import numpy as np

RESULTS = {"ok": 0, "failed": 0}


def rng_for(name):
    """The generator's random numbers for the model `name`, the same in every run."""
    return np.random.default_rng(sum(ord(c) for c in name))


def uniform(rng, shape):
    return rng.uniform(-1.0, 1.0, size=shape).astype("float32")


def as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def one(v):
    """A list of one input (or target) as Keras's fit/predict take it: the array itself."""
    return v[0] if len(v) == 1 else v


def step_loss(logs):
    """The loss of a train_on_batch result (a scalar, or a list with the loss first)."""
    return float(as_list(logs)[0])


def save_npys(d, prefix, arrays):
    """d/<prefix>0.npy, d/<prefix>1.npy, ..."""
    for i, a in enumerate(arrays):
        np.save(os.path.join(d, f"{prefix}{i}.npy"), np.asarray(a))


def npys(d, prefix):
    """The arrays of d/<prefix>0.npy, d/<prefix>1.npy, ... up to the first missing one."""
    out = []
    while os.path.exists(os.path.join(d, f"{prefix}{len(out)}.npy")):
        out.append(np.load(os.path.join(d, f"{prefix}{len(out)}.npy")))
    return out


def report(model, check, problem=None):
    """Prints the loader's line for one check, "<model> <check>: ok" or "... FAIL <problem>"."""
    if problem is None:
        RESULTS["ok"] += 1
        print(f"{model} {check}: ok", flush=True)
    else:
        RESULTS["failed"] += 1
        print(f"{model} {check}: FAIL {problem}", flush=True)


def finish():
    """Prints "SUMMARY <ok> <failed>" and exits, 1 when a check failed."""
    print(f"SUMMARY {RESULTS['ok']} {RESULTS['failed']}", flush=True)
    raise SystemExit(1 if RESULTS["failed"] else 0)


def differs_close(got, want, rel, floor):
    """None when every element of `got` is within floor + rel * |want| of `want`, else what differs."""
    if len(got) != len(want):
        return f"{len(got)} arrays, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)
        if g.shape != w.shape:
            return f"array {i}: shape {list(g.shape)}, expected {list(w.shape)}"
        bad = np.abs(g - w) > floor + rel * np.abs(w)
        if bad.any():
            idx = int(np.argmax(bad.reshape(-1)))
            return f"array {i} element {idx}: {g.reshape(-1)[idx]!r}, expected {w.reshape(-1)[idx]!r}"
    return None
