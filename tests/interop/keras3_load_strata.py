#!/usr/bin/env python3
"""Real Keras 3 reads the Keras 3 files Strata wrote (issue 21; run by keras3_archive_test.cpp).

    keras3_load_strata.py FIXTURE_DIR WORK_DIR

FIXTURE_DIR is what generate_keras3_archives.py wrote. WORK_DIR has one directory per model,
named as the fixture's model whose archive Strata loaded (or any other name for a model Strata
built itself), holding what Strata wrote, with the fixture's file names:
  model.keras          save_model (required)
  model.weights.h5     save_weights (optional)
  model.weights.json   save_weights, sharded (optional; its shards beside it)
  pred<i>.npy          Strata's predictions of x at the saved state (optional)
  next<i>.npy          Strata's weights after one train_on_batch(x, y) from the saved state
  step.json            {"loss1": ...}: that step's loss (optional)
  x<i>.npy, y<i>.npy   the data (optional; else the fixture's)
  model_dir/           the unzipped directory form (optional)
  convert_*            files `strata convert` wrote: *.keras (load_model), *.h5 (tf-keras's
                       load_model), or
                       *.weights.h5 / *.weights.json (load_weights into the fixture's model)
For each model it prints one line per check, "<model> <check>: ok" or
"<model> <check>: FAIL <what differs>", then "SUMMARY <ok> <failed>"; exits 1 on a failure.
Checks:
  load            keras.saving.load_model(model.keras)
  predict         its predictions = pred<i>.npy (|d| <= 1e-5 + 1e-5 |ref|)
  weights_exact   its get_weights() = the fixture's w<i>.npy, bit for bit (a fixture model:
                  Strata saved what it loaded, unchanged)
  resume_exact    one train_on_batch from Strata's file = one from Keras's own model.keras,
                  bit for bit (weights after the step and the loss), same seeds
  resume_strata   Keras 3's step from Strata's file = next<i>.npy (relative 1e-4, absolute
                  1e-6 floor) and step.json's loss1 (relative 1e-4); not for a model whose
                  training draws random numbers (the fixture's "stochastic_training")
  weights_h5, weights_json   load_weights into the fixture's model (its weights zeroed first):
                  get_weights() = w<i>.npy bit for bit, and it predicts pred<i>.npy
  model_dir       the unzipped directory form (save_model(zipped=False)) loads with the
                  weights w<i>.npy bit for bit
  convert_<file>  the converted file's weights = w<i>.npy bit for bit; a legacy `.h5` (Strata
                  writes tf-keras's dialect there, which Keras 3's legacy loader refuses: the
                  optimizer keys jit_compile/is_legacy_optimizer, LSTM time_major, ...) is read
                  by tf-keras instead ("convert_<file> (tf-keras)", the arrays compared as a
                  multiset: tf-keras lists trainable weights first); not for custom classes
Run with WORK_DIR = FIXTURE_DIR, it checks Keras 3's own files (every check must pass there).
"""
import glob
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_keras3_archives import CUSTOM_OBJECTS  # noqa: E402  (registers the classes too)
from keras3_archive_common import as_list, differs_close, finish, npys, one, report  # noqa: E402

SEED = 99
def load_data(d, fixture):
    for where in (d, fixture):
        if where is None:
            continue
        if os.path.exists(os.path.join(where, "x0.json")):
            with open(os.path.join(where, "x0.json")) as f:
                xs = [tf.constant(np.array(json.load(f), dtype=str))]
        else:
            xs = npys(where, "x")
        if xs:
            return xs, npys(where, "y")
    return [], []


def differs_exact(got, want):
    if len(got) != len(want):
        return f"{len(got)} arrays, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape or g.dtype != w.dtype:
            return f"array {i}: {g.dtype}{list(g.shape)}, expected {w.dtype}{list(w.shape)}"
        if g.tobytes() != w.tobytes():
            idx = int(np.argmax(g.reshape(-1) != w.reshape(-1)))
            return f"array {i} element {idx}: {g.reshape(-1)[idx]!r}, expected {w.reshape(-1)[idx]!r}"
    return None


def differs_as_set(got, want):
    """differs_exact regardless of order (tf-keras lists a model's trainable weights first)."""

    def key(a):
        a = np.asarray(a)
        return (str(a.dtype), a.shape, a.tobytes())

    if sorted(map(key, got)) == sorted(map(key, want)):
        return None
    return "the arrays differ: " + (differs_exact(got, want) or "in order")


def load_tf_keras(path):
    import tf_keras  # only here: Strata writes legacy H5 in tf-keras's dialect, which Keras 3 refuses

    return tf_keras.models.load_model(path, compile=False)


def load(path):
    return keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS)


def step(path, xs, ys):
    """load_model(path), then one train_on_batch: (weights after it, its loss)."""
    keras.utils.set_random_seed(SEED)
    m = load(path)
    loss = float(as_list(m.train_on_batch(one(xs), one(ys)))[0])
    return m.get_weights(), loss


def zeroed_fixture_model(fixture):
    m = load(os.path.join(fixture, "model.keras"))
    m.set_weights([np.zeros_like(w) for w in m.get_weights()])
    return m


def check_model(name, d, fixture, info):
    xs, ys = load_data(d, fixture)
    preds = npys(d, "pred")
    want_w = npys(fixture, "w") if fixture else None
    keras_file = os.path.join(d, "model.keras")
    try:
        model = load(keras_file)
    except Exception as e:  # noqa: BLE001  (reported, the next model runs)
        report(name, "load", f"{type(e).__name__}: {e}".replace("\n", " ")[:600])
        return
    report(name, "load")
    if preds:
        got = as_list(model.predict(one(xs), verbose=0))
        report(name, "predict", differs_close(got, preds, 1e-5, 1e-5))
    if want_w is not None:
        report(name, "weights_exact", differs_exact(model.get_weights(), want_w))
    if ys:
        w_strata_file, loss_strata_file = step(keras_file, xs, ys)
        if fixture:
            w_own, loss_own = step(os.path.join(fixture, "model.keras"), xs, ys)
            problem = differs_exact(w_strata_file, w_own)
            if problem is None and np.float32(loss_strata_file) != np.float32(loss_own):
                problem = f"loss {loss_strata_file!r}, expected {loss_own!r}"
            report(name, "resume_exact", problem)
        nexts = npys(d, "next")
        if nexts and not info.get("stochastic_training"):
            problem = differs_close(w_strata_file, nexts, 1e-4, 1e-6)
            step_json = os.path.join(d, "step.json")
            if problem is None and os.path.exists(step_json):
                with open(step_json) as f:
                    strata_loss = json.load(f)["loss1"]
                if abs(strata_loss - loss_strata_file) > 1e-4 * abs(loss_strata_file):
                    problem = f"loss {strata_loss!r} (Strata), Keras 3 {loss_strata_file!r}"
            report(name, "resume_strata", problem)
    if fixture:
        for check, file in (("weights_h5", "model.weights.h5"), ("weights_json", "model.weights.json")):
            path = os.path.join(d, file)
            if not os.path.exists(path):
                continue
            try:
                m = zeroed_fixture_model(fixture)
                m.load_weights(path)
                problem = differs_exact(m.get_weights(), want_w)
                if problem is None and preds:
                    problem = differs_close(as_list(m.predict(one(xs), verbose=0)), preds, 1e-5, 1e-5)
            except Exception as e:  # noqa: BLE001
                problem = f"{type(e).__name__}: {e}".replace("\n", " ")[:600]
            report(name, check, problem)
        if os.path.isdir(os.path.join(d, "model_dir")):
            try:
                problem = differs_exact(load(os.path.join(d, "model_dir")).get_weights(), want_w)
            except Exception as e:  # noqa: BLE001
                problem = f"{type(e).__name__}: {e}".replace("\n", " ")[:600]
            report(name, "model_dir", problem)
        for path in sorted(glob.glob(os.path.join(d, "convert_*"))):
            base = os.path.basename(path)
            if base.endswith(".h5") and "_0000" in base:
                continue  # a shard of a sharded convert
            legacy_h5 = base.endswith(".h5") and not base.endswith(".weights.h5")
            if legacy_h5 and info.get("custom_class"):
                continue  # tf-keras has no StrataTest classes
            try:
                if legacy_h5:
                    problem = differs_as_set(load_tf_keras(path).get_weights(), want_w)
                    report(name, base + " (tf-keras)", problem)
                    continue
                if base.endswith((".weights.h5", ".weights.json")):
                    m = zeroed_fixture_model(fixture)
                    m.load_weights(path)
                else:
                    m = load(path)
                problem = differs_exact(m.get_weights(), want_w)
            except Exception as e:  # noqa: BLE001
                problem = f"{type(e).__name__}: {e}".replace("\n", " ")[:600]
            report(name, base, problem)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: keras3_load_strata.py FIXTURE_DIR WORK_DIR")
    fixture_dir, work_dir = sys.argv[1], sys.argv[2]
    tf.get_logger().setLevel("ERROR")
    with open(os.path.join(fixture_dir, "index.json")) as f:
        index = json.load(f)
    for name in sorted(os.listdir(work_dir)):
        d = os.path.join(work_dir, name)
        if not os.path.isfile(os.path.join(d, "model.keras")):
            continue
        info = index["models"].get(name)
        if info is not None and info.get("unknown_to_strata") and work_dir != fixture_dir:
            continue
        fixture = os.path.join(fixture_dir, name) if info is not None else None
        check_model(name, d, fixture, info or {})
    finish()


if __name__ == "__main__":
    main()
