#!/usr/bin/env python3
"""Writes the H5 interop fixtures under tests/data/h5/ with real tf-keras as the oracle.

Run it with the interpreter of the venv that tests/interop/setup_venv.sh creates:

    "$(tests/interop/setup_venv.sh)/bin/python" tests/interop/generate_h5_fixtures.py

For every model of MODELS (tiny: the whole directory stays well under 1 MB) it builds the
model with tf-keras 2.17, compiles it, trains it two steps (so the optimizer has state),
and writes
  <name>.h5            model.save(..., include_optimizer=True)  (whole model, legacy H5)
  <name>.noopt.h5      model.save(..., include_optimizer=False)
  <name>_weights.h5    model.save_weights(...)                  (weights only, Keras layout)
  <name>.x<i>.npy      inputs; <name>.y<i>.npy: model.predict(x) (inference mode)
  <name>.tx<i>.npy / <name>.ty<i>.npy   a training batch
and records in index.json the two losses tf-keras gets from train_on_batch on that batch
right after the save: a model reloaded with its optimizer state must reproduce them.

Dialects besides tf-keras 2.17's own:
  sequential_keras212.h5  the same file as sequential.h5, rewritten with h5py into the Keras
                          <= 2.12 dialect: no module/registered_name in model_config, the
                          optimizer written as "Custom>Adam" and keras_version 2.12.0
  sequential_legacy_opt.h5  the model compiled with tf.keras.optimizers.legacy.Adam
                          (OptimizerV2 order: iter, hyper-parameters, all m, all v)
  keras3_sequential.h5    written by Keras 3 (keras.src.legacy.saving.legacy_h5_format), in
                          a subprocess without TF_USE_LEGACY_KERAS

Deterministic: numpy RandomState seeds, op determinism, one thread.

The committed directory is tf-keras 2.17.0's and is written only by it. With --out DIR the
generator also runs under tf-keras 2.21.0 (the interop venv): tests/interop/
fixture_set_current_venv.sh h5 writes that second version into a cache outside the repository
and runs the H5 tests on it (ctest: h5.fixtures.current_venv).
"""

import os
import sys

if "--keras3" not in sys.argv:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import json  # noqa: E402
import subprocess  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DEFAULT = os.path.normpath(os.path.join(HERE, "..", "data", "h5"))
OUT = OUT_DEFAULT
# tf-keras versions this generator runs with; the committed directory is 2.17.0's only.
SUPPORTED_TF_KERAS = ("2.17.0", "2.21.0")
COMMITTED_TF_KERAS = "2.17.0"


def rng(name):
    return np.random.RandomState(zlib.crc32(name.encode()) & 0x7FFFFFFF)


def setup_tf():
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    tf.random.set_seed(1234)
    return tf


def save_npy(name, arr):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(arr))
    return name


def build_models(keras):
    L = keras.layers
    models = {}

    m = keras.Sequential([keras.Input((4,)), L.Dense(8, activation="relu"), L.Dense(3, activation="softmax")],
                         name="sequential")
    models["sequential"] = (m, "adam", "categorical_crossentropy", ["accuracy"], [(4,)], [(3,)], "onehot")

    a = keras.Input((5,), name="in_a")
    b = keras.Input((5,), name="in_b")
    shared = L.Dense(6, activation="tanh", name="shared")
    merged = L.Concatenate(name="concat")([shared(a), shared(b)])
    out = L.Dense(2, name="head")(merged)
    m = keras.Model([a, b], out, name="functional_shared")
    models["functional_shared"] = (m, "adam", "mse", None, [(5,), (5,)], [(2,)], "real")

    i = keras.Input((8, 8, 1), name="image")
    x = L.Conv2D(4, 3, activation="relu", name="conv")(i)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    o = L.Dense(3, name="logits")(x)
    m = keras.Model(i, o, name="cnn")
    models["cnn"] = (m, keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), "mse", None, [(8, 8, 1)], [(3,)],
                     "real")

    m = keras.Sequential([keras.Input((5, 3)), L.LSTM(4, name="lstm"), L.Dense(2, name="out")], name="lstm")
    models["lstm"] = (m, keras.optimizers.RMSprop(learning_rate=0.01), "mse", None, [(5, 3)], [(2,)], "real")

    i = keras.Input((6,), name="features")
    x = L.Dense(5, name="dense")(i)
    x = L.BatchNormalization(name="bn")(x)
    o = L.Dense(1, name="out")(x)
    m = keras.Model(i, o, name="batchnorm")
    models["batchnorm"] = (m, "adam", "mse", None, [(6,)], [(1,)], "real")

    inner = keras.Sequential([keras.Input((4,)), L.Dense(4, activation="relu", name="inner_dense"),
                              L.BatchNormalization(name="inner_bn")], name="inner")
    i = keras.Input((4,), name="x")
    o = L.Dense(2, name="top")(inner(i))
    m = keras.Model(i, o, name="nested")
    models["nested"] = (m, "adam", "mse", None, [(4,)], [(2,)], "real")

    # Layer names with '/', as keras.applications' DenseNet writes them ("conv1/conv"): h5py
    # stores each as nested groups, and the weight names nest inside them again.
    i = keras.Input((6, 6, 2), name="input/image")
    x = L.Conv2D(3, 3, use_bias=False, name="conv1/conv")(i)
    x = L.BatchNormalization(name="conv1/bn")(x)
    x = L.Activation("relu", name="conv1/relu")(x)
    x = L.Conv2D(2, 1, name="conv1")(x)  # a layer whose group also holds the groups above
    x = L.GlobalAveragePooling2D(name="pool/gap")(x)
    o = L.Dense(2, name="head/fc")(x)
    m = keras.Model(i, o, name="slash/names")
    models["slash_names"] = (m, "adam", "mse", None, [(6, 6, 2)], [(2,)], "real")
    return models


def targets(r, shapes, kind, n):
    out = []
    for s in shapes:
        if kind == "onehot":
            out.append(np.eye(s[0], dtype=np.float32)[r.randint(0, s[0], size=n)])
        else:
            out.append(r.normal(size=(n,) + s).astype(np.float32))
    return out


def one_model(tf, keras, name, spec, index, optimizer_override=None, file_name=None):
    model, optimizer, loss, metrics, in_shapes, out_shapes, kind = spec
    file_name = file_name or name
    r = rng(file_name)
    for w in model.weights:
        # Non-zero, varied values everywhere (biases and BN statistics included).
        base = r.normal(scale=0.5, size=w.shape).astype(w.dtype.as_numpy_dtype)
        if "moving_variance" in w.name:
            base = np.abs(base) + 0.5
        w.assign(base)
    model.compile(optimizer=optimizer_override or optimizer, loss=loss, metrics=metrics)
    n = 6
    tx = [r.normal(size=(n,) + s).astype(np.float32) for s in in_shapes]
    ty = targets(r, out_shapes, kind, n)
    fit_x = tx if len(tx) > 1 else tx[0]
    fit_y = ty if len(ty) > 1 else ty[0]
    for _ in range(2):
        model.train_on_batch(fit_x, fit_y)
    x = [r.normal(size=(5,) + s).astype(np.float32) for s in in_shapes]
    y = model.predict(x if len(x) > 1 else x[0], verbose=0)
    y = y if isinstance(y, list) else [y]

    entry = {"model": name, "files": {}, "inputs": [], "outputs": [], "train_x": [], "train_y": []}
    whole = file_name + ".h5"
    model.save(os.path.join(OUT, whole), include_optimizer=True)
    entry["files"]["whole"] = whole
    if optimizer_override is None:
        noopt = file_name + ".noopt.h5"
        model.save(os.path.join(OUT, noopt), include_optimizer=False)
        weights = file_name + "_weights.h5"
        model.save_weights(os.path.join(OUT, weights))
        entry["files"]["noopt"] = noopt
        entry["files"]["weights"] = weights
    for i, a in enumerate(x):
        entry["inputs"].append(save_npy(f"{file_name}.x{i}.npy", a))
    for i, a in enumerate(y):
        entry["outputs"].append(save_npy(f"{file_name}.y{i}.npy", a))
    for i, a in enumerate(tx):
        entry["train_x"].append(save_npy(f"{file_name}.tx{i}.npy", a))
    for i, a in enumerate(ty):
        entry["train_y"].append(save_npy(f"{file_name}.ty{i}.npy", a))
    # What the saved state does next: two more steps on the same batch.
    losses = []
    for _ in range(2):
        res = model.train_on_batch(fit_x, fit_y)
        losses.append(float(res[0] if isinstance(res, list) else res))
    entry["next_losses"] = losses
    entry["optimizer"] = type(model.optimizer).__name__
    import h5py

    with h5py.File(os.path.join(OUT, whole), "r") as f:
        entry["optimizer_weight_names"] = [n.decode() if isinstance(n, bytes) else str(n) for n in f["optimizer_weights"].attrs["weight_names"]]
    index[file_name] = entry


def keras212_dialect(tf, index):
    """sequential.h5 rewritten into the Keras <= 2.12 dialect (facts: FORMATS.md §1.8, §2.2)."""
    import h5py
    import shutil

    src = os.path.join(OUT, "sequential.h5")
    dst = os.path.join(OUT, "sequential_keras212.h5")
    shutil.copyfile(src, dst)

    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in ("module", "registered_name", "build_config")}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o

    with h5py.File(dst, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = json.dumps(strip(cfg)).encode("utf8")
        tc = json.loads(f.attrs["training_config"])
        tc["optimizer_config"]["class_name"] = "Custom>Adam"
        f.attrs["training_config"] = json.dumps(strip(tc)).encode("utf8")
        f.attrs["keras_version"] = "2.12.0"
        f["model_weights"].attrs["keras_version"] = b"2.12.0"
    e = dict(index["sequential"])
    e["files"] = {"whole": "sequential_keras212.h5"}
    index["sequential_keras212"] = e


def keras3_file():
    """Runs in a subprocess with Keras 3: a legacy-H5 file as Keras 3 writes it."""
    import keras

    r = rng("keras3_sequential")
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="d1"),
                          keras.layers.Dense(3, name="d2")], name="keras3_sequential")
    for w in m.weights:
        w.assign(r.normal(scale=0.5, size=w.shape).astype("float32"))
    m.compile(optimizer="adam", loss="mse")
    tx = r.normal(size=(6, 4)).astype(np.float32)
    ty = r.normal(size=(6, 3)).astype(np.float32)
    for _ in range(2):
        m.train_on_batch(tx, ty)
    x = r.normal(size=(5, 4)).astype(np.float32)
    y = m.predict(x, verbose=0)
    keras.saving.save_model(m, os.path.join(OUT, "keras3_sequential.h5"))
    losses = [float(m.train_on_batch(tx, ty)) for _ in range(2)]
    entry = {"model": "keras3_sequential", "files": {"whole": "keras3_sequential.h5"},
             "inputs": [save_npy("keras3_sequential.x0.npy", x)], "outputs": [save_npy("keras3_sequential.y0.npy", y)],
             "train_x": [save_npy("keras3_sequential.tx0.npy", tx)],
             "train_y": [save_npy("keras3_sequential.ty0.npy", ty)], "next_losses": losses,
             "optimizer": "Adam", "keras_version": keras.__version__}
    print(json.dumps(entry))


def main():
    import argparse
    import importlib.metadata as md

    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=OUT_DEFAULT, help="directory to write (default: tests/data/h5)")
    ap.add_argument("--keras3", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    OUT = os.path.abspath(args.out)
    found = md.version("tf-keras")
    if found not in SUPPORTED_TF_KERAS:
        sys.exit("generate_h5_fixtures.py: needs tf-keras %s, found %s" % (" or ".join(SUPPORTED_TF_KERAS), found))
    # The committed fixtures stay 2.17's (issue 18: the venv is 2.21; its files go elsewhere with --out).
    if found != COMMITTED_TF_KERAS and os.path.realpath(OUT) == os.path.realpath(OUT_DEFAULT):
        sys.exit("generate_h5_fixtures.py: tests/data/h5 is written by tf-keras %s, found %s (use --out DIR)"
                 % (COMMITTED_TF_KERAS, found))
    if args.keras3:
        keras3_file()
        return
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    tf = setup_tf()
    import tf_keras as keras

    index = {}
    for name, spec in build_models(keras).items():
        one_model(tf, keras, name, spec, index)
    # The legacy OptimizerV2 layout, on a fresh copy of the sequential model.
    spec = build_models(keras)["sequential"]
    one_model(tf, keras, "sequential", spec, index, optimizer_override=keras.optimizers.legacy.Adam(),
              file_name="sequential_legacy_opt")
    keras212_dialect(tf, index)
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--keras3", "--out", OUT], env=env, check=True,
                         capture_output=True, text=True).stdout
    k3 = json.loads(out.strip().splitlines()[-1])
    index["keras3_sequential"] = k3
    import h5py

    meta = {"tensorflow": tf.__version__, "tf_keras": keras.__version__, "numpy": np.__version__,
            "h5py": h5py.__version__, "atol": 1e-5, "rtol": 1e-5, "loss_rtol": 1e-4}
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"meta": meta, "models": index}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
