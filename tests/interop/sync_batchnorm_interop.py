#!/usr/bin/env python3
"""Synchronized batch normalization between Strata and real tf-keras / Keras 3
(tests/interop/sync_batchnorm_interop_test.cpp runs it with the interop venv).

    sync_batchnorm_interop.py write DIR   tf-keras and Keras 3 write their files into DIR
    sync_batchnorm_interop.py check DIR   tf-keras and Keras 3 load the files Strata wrote
                                          into DIR; DIR/check.json says what they found

write: tf-keras 2.x: Input(4) -> SyncBatchNormalization("sync") ->
BatchNormalization(synchronized=True, "bn_sync") -> Dense(2), moving statistics set, as H5
(tfk.h5), SavedModel (tfk_savedmodel) and to_json (tfk.json); Keras 3: Input(4) ->
BatchNormalization(synchronized=True, "bn_sync") -> Dense(2) as k3.keras. x.npy the
inputs, y_tfk.npy / y_k3.npy their inference outputs.

check: for each of s_tfk.h5, s_tfk_savedmodel, s_tfk.json (tf-keras's model as Strata
wrote it), s_k3.h5 (Keras 3's model written by Strata as H5) loaded by tf-keras, and
s_tfk.keras, s_k3.keras loaded by Keras 3: every normalization layer's class and
`synchronized`, and the largest difference of the predictions from Strata's
(y_strata_tfk.npy, y_strata_k3.npy).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402


def set_statistics(model, rng):
    for layer in model.layers:
        if "normalization" in type(layer).__name__.lower():
            shapes = [w.shape for w in layer.get_weights()]
            gamma, beta, mean, var = [rng.standard_normal(s).astype("float32") for s in shapes]
            layer.set_weights([gamma, beta, mean, np.abs(var) + 0.5])


def write(out):
    import tf_keras as tfk
    import keras

    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4)).astype("float32")
    np.save(os.path.join(out, "x.npy"), x)

    m = tfk.Sequential([tfk.Input((4,)),
                        tfk.layers.experimental.SyncBatchNormalization(name="sync"),
                        tfk.layers.BatchNormalization(synchronized=True, name="bn_sync"),
                        tfk.layers.Dense(2, name="d")])
    set_statistics(m, rng)
    np.save(os.path.join(out, "y_tfk.npy"), m.predict(x, verbose=0))
    m.save(os.path.join(out, "tfk.h5"), save_format="h5")
    m.save(os.path.join(out, "tfk_savedmodel"), save_format="tf")
    with open(os.path.join(out, "tfk.json"), "w") as f:
        f.write(m.to_json())

    k = keras.Sequential([keras.Input((4,)),
                          keras.layers.BatchNormalization(synchronized=True, name="bn_sync"),
                          keras.layers.Dense(2, name="d")])
    set_statistics(k, rng)
    np.save(os.path.join(out, "y_k3.npy"), np.asarray(k.predict(x, verbose=0)))
    k.save(os.path.join(out, "k3.keras"))


def layers_of(model):
    return {layer.name: [type(layer).__name__, bool(getattr(layer, "synchronized", False))]
            for layer in model.layers if "normalization" in type(layer).__name__.lower()}


def check(out):
    import tf_keras as tfk
    import keras

    x = np.load(os.path.join(out, "x.npy"))
    results = {}

    def record(key, model, expected):
        y = np.asarray(model.predict(x, verbose=0))
        results[key] = {"layers": layers_of(model),
                        "max_diff": float(np.max(np.abs(y - np.load(os.path.join(out, expected)))))}

    record("tfk<-s_tfk.h5", tfk.models.load_model(os.path.join(out, "s_tfk.h5")), "y_strata_tfk.npy")
    record("tfk<-s_tfk_savedmodel", tfk.models.load_model(os.path.join(out, "s_tfk_savedmodel")), "y_strata_tfk.npy")
    with open(os.path.join(out, "s_tfk.json")) as f:
        from_json = tfk.models.model_from_json(f.read())
    results["tfk<-s_tfk.json"] = {"layers": layers_of(from_json)}
    record("tfk<-s_k3.h5", tfk.models.load_model(os.path.join(out, "s_k3.h5")), "y_strata_k3.npy")
    record("k3<-s_tfk.keras", keras.saving.load_model(os.path.join(out, "s_tfk.keras")), "y_strata_tfk.npy")
    record("k3<-s_k3.keras", keras.saving.load_model(os.path.join(out, "s_k3.keras")), "y_strata_k3.npy")
    with open(os.path.join(out, "check.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])
