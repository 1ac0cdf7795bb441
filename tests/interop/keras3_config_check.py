#!/usr/bin/env python3
"""Loads the `.keras` archives Strata wrote into real Keras 3 and checks their predictions.

Usage: keras3_config_check.py DIR
DIR holds one folder per case (written by keras3_config_write_test.cpp): model.keras (what
strata::save_model wrote), x<i>.npy (inputs) and y<i>.npy (Strata's predictions). For each case
keras.saving.load_model reads the archive (config.json in Keras 3's dialect, Keras 3's weights
layout) and predicts; the case passes when the outputs match Strata's (rtol = atol = 1e-5).
Writes DIR/results.json: {case: "ok" | "<what failed>"}.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import keras  # noqa: E402


def arrays(folder, prefix):
    out = []
    while os.path.exists(os.path.join(folder, "%s%d.npy" % (prefix, len(out)))):
        out.append(np.load(os.path.join(folder, "%s%d.npy" % (prefix, len(out)))))
    return out


def check(folder):
    model = keras.saving.load_model(os.path.join(folder, "model.keras"))
    xs = arrays(folder, "x")
    ys = arrays(folder, "y")
    got = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    if not isinstance(got, (list, tuple)):
        got = [got]
    if isinstance(got, dict):
        got = list(got.values())
    if len(got) != len(ys):
        return "Keras 3 gives %d outputs, Strata %d" % (len(got), len(ys))
    for i, (g, y) in enumerate(zip(got, ys)):
        g = np.asarray(g)
        if g.shape != y.shape:
            return "output %d: Keras 3 shape %s, Strata %s" % (i, g.shape, y.shape)
        if not np.allclose(g, y, rtol=1e-5, atol=1e-5):
            return "output %d differs: max |diff| %g" % (i, float(np.max(np.abs(g - y))))
    return "ok"


def main():
    root = sys.argv[1]
    results = {}
    for case in sorted(os.listdir(root)):
        folder = os.path.join(root, case)
        if not os.path.isdir(folder):
            continue
        try:
            results[case] = check(folder)
        except Exception as e:  # noqa: BLE001 - every failure is reported per case
            results[case] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:400] if str(e) else "")
        keras.backend.clear_session()
    with open(os.path.join(root, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
