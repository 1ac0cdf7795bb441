"""Helpers shared by the Keras 3 `.keras` archive scripts (issue 21): the generators
generate_keras3_archives.py (TensorFlow backend) and generate_keras3_jax_archives.py (JAX
backend), and the loaders keras3_load_strata.py and keras3_jax_load_strata.py.

It imports numpy only (and keras, within save_outputs_and_resume): the JAX scripts run in
setup_jax_venv.sh's venv, which has no TensorFlow. The scripts import it from their own directory (Python puts a script's directory
first on sys.path). The generators' cache keys in keras3_archive_test.cpp and
keras3_jax_archive_test.cpp hash this file too: changing it regenerates their fixtures.
"""
import json
import os
import zipfile

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


def write_fixtures(out, index, models, generate):
    """Fills index["models"][name] with generate(name, builder, out) for each builder of `models`
    (named by its function name), writes out/index.json and, last, out/done."""
    for builder in models:
        index["models"][builder.__name__] = generate(builder.__name__, builder, out)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
    with open(os.path.join(out, "done"), "w") as f:
        f.write("ok\n")


def save_outputs_and_resume(model, optimizer, d, xs, ys, load):
    """After the generator saved `model` (fitted with `optimizer`) as d/model.keras and xs: saves
    ys, its predictions and its weights (y, pred, w<i>.npy); then Keras resuming from its own
    file: load() (seed 99) and two train_on_batch steps, next<i>.npy the weights after the first.
    Returns index.json's entry: the counts, both losses, the archive's members and metadata."""
    import keras  # the backend is the generator's (KERAS_BACKEND is set before it imports keras)

    save_npys(d, "y", ys)
    preds = as_list(model.predict(one(xs), verbose=0))
    save_npys(d, "pred", preds)
    weights = model.get_weights()
    save_npys(d, "w", weights)

    keras.utils.set_random_seed(99)
    loaded = load()
    loss1 = step_loss(loaded.train_on_batch(one(xs), one(ys)))
    save_npys(d, "next", loaded.get_weights())
    loss2 = step_loss(loaded.train_on_batch(one(xs), one(ys)))

    with zipfile.ZipFile(os.path.join(d, "model.keras")) as z:
        members = z.namelist()
        metadata = json.loads(z.read("metadata.json"))
    return {
        "inputs": len(xs),
        "outputs": len(preds),
        "targets": len(ys),
        "weights": len(weights),
        "optimizer": type(optimizer).__name__,
        "optimizer_variables": len(model.optimizer.variables),
        "loss1": loss1,
        "loss2": loss2,
        "archive_members": members,
        "metadata": metadata,
    }


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
