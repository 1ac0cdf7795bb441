#!/usr/bin/env python3
"""Keras 3 `.keras` archives written by the JAX backend, for Strata's interop tests (issue 21).

    KERAS_BACKEND=jax generate_keras3_jax_archives.py OUT_DIR

Run in the venv of tests/interop/setup_jax_venv.sh (Keras 3 with jax[cpu], no TensorFlow);
one process, fixed seeds (keras.utils.set_random_seed per model). Models (OUT_DIR/<name>/):
  functional_bn   Functional Dense(relu) -> BatchNormalization -> Dense, Adam(0.01), mse
  recurrent       Embedding -> LSTM -> Dense(softmax), sparse categorical crossentropy,
                  SGD(0.1, momentum=0.5)
Each model is compiled, trained 2 steps (fit, batch 8, no shuffle) on fixed data, then written:
  model.keras          model.save
  model.weights.h5     model.save_weights
  x<i>.npy, y<i>.npy   the inputs and targets (the step's batch)
  pred<i>.npy          model.predict(x) at the saved state
  w<i>.npy             model.get_weights() at the saved state
  next<i>.npy          get_weights() after ONE train_on_batch(x, y) of the model that
                       keras.saving.load_model read back from model.keras
OUT_DIR/index.json has, per model, the counts, the losses of that step and the next (loss1,
loss2), the archive's members and metadata.json, and the dtype and shape of every dataset in
its model.weights.h5 (path -> "int32[]"; what a JAX archive stores differently, e.g. the
optimizer's iteration counter); the versions and the backend. OUT_DIR/done is written last.
"""
import os
import sys
import tempfile
import warnings
import zipfile

os.environ["KERAS_BACKEND"] = "jax"  # this generator is about the JAX backend only
os.environ.setdefault("JAX_PLATFORMS", "cpu")
warnings.filterwarnings("ignore")

import h5py  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
from keras3_archive_common import one, rng_for, save_npys, save_outputs_and_resume, uniform, write_fixtures  # noqa: E402

BATCH = 16


# Each builder returns (model, optimizer, compile kwargs, xs, ys).
def functional_bn(rng):
    x = keras.Input((6,), name="x")
    h = layers.Dense(8, activation="relu", name="dense_in")(x)
    h = layers.BatchNormalization(name="bn")(h)
    out = layers.Dense(3, name="head")(h)
    m = keras.Model(x, out, name="functional_bn")
    return m, keras.optimizers.Adam(0.01), dict(loss="mse"), [uniform(rng, (BATCH, 6))], [uniform(rng, (BATCH, 3))]


def recurrent(rng):
    x = keras.Input((7,), dtype="int32", name="tokens")
    h = layers.Embedding(20, 6, name="embedding")(x)
    h = layers.LSTM(5, name="lstm")(h)
    out = layers.Dense(3, activation="softmax", name="head")(h)
    m = keras.Model(x, out, name="recurrent")
    xs = [rng.integers(0, 20, (BATCH, 7)).astype("int32")]
    ys = [rng.integers(0, 3, (BATCH,)).astype("int32")]
    return m, keras.optimizers.SGD(0.1, momentum=0.5), dict(loss="sparse_categorical_crossentropy"), xs, ys


MODELS = [functional_bn, recurrent]


def h5_datasets(archive):
    """{path: "dtype[shape]"} of every dataset of the archive's model.weights.h5."""
    out = {}
    with zipfile.ZipFile(archive) as z, tempfile.TemporaryDirectory() as tmp:
        z.extract("model.weights.h5", tmp)
        with h5py.File(os.path.join(tmp, "model.weights.h5"), "r") as f:

            def visit(path, obj):
                if isinstance(obj, h5py.Dataset):
                    out[path] = f"{obj.dtype}{list(obj.shape)}"

            f.visititems(visit)
    return out


def generate(name, builder, out):
    d = os.path.join(out, name)
    os.makedirs(d)
    keras.utils.set_random_seed(1234)
    model, optimizer, compile_kw, xs, ys = builder(rng_for(name))
    model.compile(optimizer=optimizer, **compile_kw)
    model.fit(one(xs), one(ys), batch_size=8, epochs=1, shuffle=False, verbose=0)

    archive = os.path.join(d, "model.keras")
    model.save(archive)
    model.save_weights(os.path.join(d, "model.weights.h5"))
    save_npys(d, "x", xs)
    entry = save_outputs_and_resume(model, optimizer, d, xs, ys, lambda: keras.saving.load_model(archive))
    entry["h5_datasets"] = h5_datasets(archive)
    return entry


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: generate_keras3_jax_archives.py OUT_DIR")
    if keras.backend.backend() != "jax":
        sys.exit(f"Keras runs the {keras.backend.backend()} backend here, not jax")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    index = {
        "versions": {"keras": keras.__version__, "jax": jax.__version__, "numpy": np.__version__},
        "backend": keras.backend.backend(),
        "models": {},
    }
    write_fixtures(out, index, MODELS, generate)


if __name__ == "__main__":
    main()
