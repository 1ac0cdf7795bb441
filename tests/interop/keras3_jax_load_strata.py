#!/usr/bin/env python3
"""Keras 3 on the JAX backend reads the `.keras` archives Strata wrote (issue 21; run by
keras3_jax_archive_test.cpp in the venv of setup_jax_venv.sh).

    KERAS_BACKEND=jax keras3_jax_load_strata.py WORK_DIR

WORK_DIR has one directory per model, holding what Strata wrote:
  model.keras          save_model
  x<i>.npy, y<i>.npy   the data
  pred<i>.npy          Strata's predictions of x at the saved state
  next<i>.npy          Strata's weights after one train_on_batch(x, y) from the saved state
  step.json            {"loss1": that step's loss, "iterations": the optimizer's step count
                       at the saved state}
For each model it prints one line per check, "<model> <check>: ok" or
"<model> <check>: FAIL <what differs>", then "SUMMARY <ok> <failed>"; exits 1 on a failure.
Checks:
  load        keras.saving.load_model(model.keras), compiled
  predict     its predictions = pred<i>.npy (|d| <= 1e-5 + 1e-5 |ref|)
  iterations  its optimizer.iterations = step.json's iterations
  resume      one train_on_batch: the weights = next<i>.npy (relative 1e-4, absolute 1e-6
              floor) and the loss = step.json's loss1 (relative 1e-4)
"""
import json
import os
import sys
import warnings

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import keras  # noqa: E402

from keras3_archive_common import as_list, differs_close, finish, npys, one, report  # noqa: E402

def check(name, d):
    try:
        model = keras.saving.load_model(os.path.join(d, "model.keras"))
    except Exception as e:  # noqa: BLE001
        report(name, "load", f"{type(e).__name__}: {e}")
        return
    report(name, "load", None if model.compiled else "the model is not compiled")
    xs, ys = npys(d, "x"), npys(d, "y")
    with open(os.path.join(d, "step.json")) as f:
        step = json.load(f)
    report(name, "predict", differs_close(as_list(model.predict(one(xs), verbose=0)), npys(d, "pred"), 1e-5, 1e-5))
    got = int(np.asarray(model.optimizer.iterations))
    report(name, "iterations", None if got == step["iterations"] else f"{got}, expected {step['iterations']}")
    keras.utils.set_random_seed(99)
    try:
        loss = float(as_list(model.train_on_batch(one(xs), one(ys)))[0])
    except Exception as e:  # noqa: BLE001
        report(name, "resume", f"train_on_batch: {type(e).__name__}: {e}")
        return
    problem = differs_close(model.get_weights(), npys(d, "next"), 1e-4, 1e-6)
    if problem is None and not abs(loss - step["loss1"]) <= 1e-4 * abs(step["loss1"]):
        problem = f"loss {loss!r}, Strata {step['loss1']!r}"
    report(name, "resume", problem)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: keras3_jax_load_strata.py WORK_DIR")
    if keras.backend.backend() != "jax":
        sys.exit(f"Keras runs the {keras.backend.backend()} backend here, not jax")
    work = sys.argv[1]
    for name in sorted(os.listdir(work)):
        if os.path.isdir(os.path.join(work, name)):
            check(name, os.path.join(work, name))
    finish()


if __name__ == "__main__":
    main()
