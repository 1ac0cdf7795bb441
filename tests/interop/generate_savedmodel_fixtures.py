#!/usr/bin/env python3
"""Writes the SavedModel interop fixtures under tests/data/savedmodel/ with real tf-keras.

Run it with the interpreter of the venv that tests/interop/setup_venv.sh creates:

    "$(tests/interop/setup_venv.sh)/bin/python" tests/interop/generate_savedmodel_fixtures.py

For every tiny model of MODELS it builds the model with tf-keras 2.17, compiles it with
Adam, trains two steps (so the optimizer has slot variables), and writes
  <name>/              model.save(<name>, save_format="tf")  (SavedModel directory)
  <name>.x.npy         inputs; <name>.y.npy: model.predict(x) (inference mode)
  <name>.tx.npy / <name>.ty.npy   a training batch
and records in index.json the loss train_on_batch gives on that batch right after the
save: a model reloaded with its optimizer state must reproduce it.
Deterministic: numpy RandomState seeds, op determinism, one thread.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import json  # noqa: E402
import shutil  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "data", "savedmodel"))


def rng(name):
    return np.random.RandomState(zlib.crc32(name.encode()) & 0x7FFFFFFF)


def setup_tf():
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    tf.random.set_seed(1234)
    return tf


def dense_sequential(keras):
    m = keras.Sequential([
        keras.layers.Dense(5, activation="relu", input_shape=(4,)),
        keras.layers.Dense(3, activation="softmax"),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy",
              metrics=["accuracy"])
    return m, (4,), 3


def conv_bn_functional(keras):
    inp = keras.Input((6, 6, 2), name="image")
    x = keras.layers.Conv2D(3, 3, padding="same")(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(2, name="logits")(x)
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (6, 6, 2), 2


def lstm_sequential(keras):
    m = keras.Sequential([
        keras.layers.LSTM(4, input_shape=(5, 3)),
        keras.layers.Dense(2),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (5, 3), 2


def custom_layer_functional(keras):
    """A Functional model with a layer class only this script has: Strata loads it from the
    traced functions TensorFlow wrote (there is no CustomDense class in Strata)."""
    import tensorflow as tf

    class CustomDense(keras.layers.Layer):
        def __init__(self, units=5, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(input_shape[-1], self.units),
                                     initializer="random_normal")
            self.b = self.add_weight(name="b", shape=(self.units,), initializer="random_normal")

        def call(self, inputs):
            return tf.nn.relu(tf.matmul(inputs, self.w) + self.b)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    inp = keras.Input((4,), name="features")
    x = CustomDense(5, name="custom")(inp)
    out = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (4,), 3


def gru_sequential(keras):
    m = keras.Sequential([
        keras.layers.GRU(4, input_shape=(5, 3), return_sequences=True),
        keras.layers.Dense(2),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (5, 3), (5, 2)


def simple_rnn_sequential(keras):
    m = keras.Sequential([
        keras.layers.SimpleRNN(4, input_shape=(5, 3)),
        keras.layers.Dense(2),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (5, 3), 2


def gelu_dense(keras):
    m = keras.Sequential([
        keras.layers.Dense(6, activation="gelu", input_shape=(4,)),
        keras.layers.Dense(2),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (4,), 2


def embedding_sequential(keras):
    """Embedding's lookup is a ResourceGather on the variable handle in the traces; the
    float inputs are cast to int32 first (tf-keras's Embedding.call)."""
    m = keras.Sequential([
        keras.layers.Embedding(10, 3, input_length=4, input_shape=(4,)),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (4,), 2


MODELS = {
    "dense_sequential": dense_sequential,
    "conv_bn_functional": conv_bn_functional,
    "lstm_sequential": lstm_sequential,
    "custom_layer_functional": custom_layer_functional,
    "gru_sequential": gru_sequential,
    "simple_rnn_sequential": simple_rnn_sequential,
    "gelu_dense": gelu_dense,
    "embedding_sequential": embedding_sequential,
}


def main():
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", help="regenerate only these models (others keep their files)")
    args = ap.parse_args()
    import importlib.metadata as md
    import sys
    if md.version("tf-keras") != "2.17.0":  # the committed fixtures stay 2.17's (issue 18: the venv is 2.21)
        sys.exit("generate_savedmodel_fixtures.py: tests/data/savedmodel is written by tf-keras 2.17.0, found %s"
                 % md.version("tf-keras"))
    tf = setup_tf()
    import tf_keras as keras

    os.makedirs(OUT, exist_ok=True)
    index = {"tensorflow": tf.__version__, "tf_keras": keras.__version__, "models": {}}
    if args.only and os.path.exists(os.path.join(OUT, "index.json")):
        with open(os.path.join(OUT, "index.json")) as f:
            index["models"] = json.load(f)["models"]
    for name, make in MODELS.items():
        if args.only and name not in args.only:
            continue
        r = rng(name)
        model, in_shape, out_dim = make(keras)
        out_shape = out_dim if isinstance(out_dim, tuple) else (out_dim,)
        tx = r.rand(4, *in_shape).astype("float32")
        ty = r.rand(4, *out_shape).astype("float32")
        if name == "embedding_sequential":
            tx = r.randint(0, 10, (4, *in_shape)).astype("float32")
        if name == "dense_sequential":
            ty = np.eye(out_dim, dtype="float32")[r.randint(0, out_dim, 4)]
        model.train_on_batch(tx, ty)
        model.train_on_batch(tx, ty)
        x = r.rand(3, *in_shape).astype("float32")
        if name == "embedding_sequential":
            x = r.randint(0, 10, (3, *in_shape)).astype("float32")
        y = model.predict(x, verbose=0)
        d = os.path.join(OUT, name)
        shutil.rmtree(d, ignore_errors=True)
        model.save(d, save_format="tf")
        np.save(os.path.join(OUT, name + ".x.npy"), x)
        np.save(os.path.join(OUT, name + ".y.npy"), y)
        np.save(os.path.join(OUT, name + ".tx.npy"), tx)
        np.save(os.path.join(OUT, name + ".ty.npy"), ty)
        loss = model.train_on_batch(tx, ty)
        loss = loss[0] if isinstance(loss, list) else loss
        index["models"][name] = {"loss_after_save": float(loss),
                                 "optimizer_iterations": 2}
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
