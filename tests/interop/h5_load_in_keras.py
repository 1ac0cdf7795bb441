#!/usr/bin/env python3
"""The other direction of the H5 interop tests: the interop venv's tf-keras (2.21 since
issue 18; 2.17 before) loads what Strata saved.

    python h5_load_in_keras.py MANIFEST.json

MANIFEST (written by strata_h5_tests, H5Interop.KerasLoadsWhatStrataSaved) lists per model:
  whole    a whole-model .h5 Strata saved (with optimizer)
  weights  a weights-only .h5 Strata saved
  arch     a tf-keras file of the same architecture (tests/data/h5/<name>.noopt.h5)
  inputs   .npy inputs; strata_outputs: what Strata predicted for them
For each: tf.keras.models.load_model(whole) must predict Strata's outputs, and a model
loaded from `arch` must predict them after load_weights(weights); within
atol + rtol*|ref| (1e-5 each). Prints one line per check; exits 1 when any fails.
"""

import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def close(got, ref, atol=1e-5, rtol=1e-5):
    got = np.asarray(got)
    return got.shape == ref.shape and bool(np.all(np.abs(got - ref) <= atol + rtol * np.abs(ref)))


def predict(model, xs):
    y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return y if isinstance(y, list) else [y]


def main():
    manifest = json.load(open(sys.argv[1]))
    failed = 0
    for m in manifest["models"]:
        xs = [np.load(p) for p in m["inputs"]]
        refs = [np.load(p) for p in m["strata_outputs"]]
        try:
            model = tf.keras.models.load_model(m["whole"])
            ok = all(close(g, r) for g, r in zip(predict(model, xs), refs))
            opt = model.optimizer is not None and len(model.optimizer.variables) > 1
            print(f"{m['name']}: load_model {'ok' if ok else 'MISMATCH'}; optimizer state {'restored' if opt else 'MISSING'}")
            failed += (not ok) + (not opt)
        except Exception as e:  # noqa: BLE001
            print(f"{m['name']}: load_model FAILED: {type(e).__name__}: {e}")
            failed += 1
        try:
            arch = tf.keras.models.load_model(m["arch"], compile=False)
            arch.load_weights(m["weights"])
            ok = all(close(g, r) for g, r in zip(predict(arch, xs), refs))
            print(f"{m['name']}: load_weights {'ok' if ok else 'MISMATCH'}")
            failed += not ok
        except Exception as e:  # noqa: BLE001
            print(f"{m['name']}: load_weights FAILED: {type(e).__name__}: {e}")
            failed += 1
    print(f"{failed} failures")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
