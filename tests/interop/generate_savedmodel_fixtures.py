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

The committed directory is tf-keras 2.17.0's and is written only by it. With --out DIR the
generator also runs under tf-keras 2.21.0 (the interop venv): tests/interop/
fixture_set_current_venv.sh savedmodel writes that second version into a cache outside the
repository and runs the SavedModel tests on it (ctest: savedmodel.fixtures.current_venv).
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
OUT_DEFAULT = os.path.normpath(os.path.join(HERE, "..", "data", "savedmodel"))
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


def birnn_masked(keras):
    """A masked bidirectional RNN (the backward layer's trace reverses its input: ReverseV2)
    whose output is concatenated with the masked embedding (Concatenate merges the two masks
    with All)."""
    L = keras.layers
    inp = keras.Input((4,))
    e = L.Embedding(10, 3, mask_zero=True)(inp)
    b = L.Bidirectional(L.SimpleRNN(4, return_sequences=True))(e)
    c = L.Concatenate()([b, e])
    out = L.Dense(2)(L.GlobalAveragePooling1D()(c))
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (4,), 2


def grouped_conv_reshape(keras):
    """RegNet's grouped convolution (one Conv2D whose filter has channels / groups inputs in
    the traces) and MobileNet's head (GlobalAveragePooling2D, then Reshape to [batch, 1, 1, c]
    with the batch read from the input's shape, then a 1x1 Conv2D)."""
    L = keras.layers
    inp = keras.Input((6, 6, 4))
    x = L.Conv2D(6, 3, groups=2, activation="relu")(inp)
    x = L.Reshape((1, 1, 6))(L.GlobalAveragePooling2D()(x))
    out = L.Flatten()(L.Conv2D(2, 1)(x))
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (6, 6, 4), 2


def dropout_conv(keras):
    """Dropout before a Conv2D (MobileNet's and EfficientNet's heads and blocks): the
    inference trace of the layer after it must keep the image's rank."""
    L = keras.layers
    inp = keras.Input((5, 5, 3))
    x = L.Conv2D(4, 3, padding="same")(inp)
    x = L.Dropout(0.3, noise_shape=(None, 1, 1, 4))(x)
    x = L.Conv2D(3, 1)(x)
    x = L.Dropout(0.2)(L.GlobalAveragePooling2D(keepdims=True)(x))
    out = L.Flatten()(L.Conv2D(2, 1)(x))
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (5, 5, 3), 2


# ---- issue 18, trace ops: Erfc, Einsum, ResizeBilinear / ResizeNearestNeighbor ----------------
# Each returns (model, input shape, output size[, data shape]): the data shape is the one
# the inputs are drawn with when the model's input shape has unknown dimensions.

def erfc_gelu(keras):
    """Exact gelu written with erfc, as newer TensorFlow versions trace tf.nn.gelu:
    0.5 x erfc(-x / sqrt(2)) (TFOpLambda layers: Mul, Erfc)."""
    import tensorflow as tf

    inp = keras.Input((4,))
    h = keras.layers.Dense(6)(inp)
    g = 0.5 * h * tf.math.erfc(-h * 0.7071067811865476)
    out = keras.layers.Dense(2)(g)
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (4,), 2


def einsum_attention(keras):
    """EinsumDense and MultiHeadAttention: their traces hold Einsum nodes."""
    inp = keras.Input((4, 6))
    x = keras.layers.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d")(inp)
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(2)(x)
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (4, 6), 2


def upsampling_resizing(keras):
    """UpSampling2D nearest and bilinear and Resizing (bilinear and nearest):
    ResizeNearestNeighbor and ResizeBilinear with half_pixel_centers."""
    inp = keras.Input((3, 4, 2))
    x = keras.layers.UpSampling2D(2, interpolation="nearest")(inp)
    x = keras.layers.UpSampling2D((1, 2), interpolation="bilinear")(x)
    x = keras.layers.Resizing(5, 7)(x)
    x = keras.layers.Resizing(4, 3, interpolation="nearest")(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(2)(x)
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (3, 4, 2), 2


def resize_unknown_size(keras):
    """Images of unknown height and width: UpSampling2D's size is computed from the
    input's dynamic shape; Resizing then gives a known size again."""
    inp = keras.Input((None, None, 3))
    x = keras.layers.UpSampling2D(2, interpolation="bilinear")(inp)
    x = keras.layers.Conv2D(2, 3, padding="same")(x)
    x = keras.layers.UpSampling2D((2, 1), interpolation="nearest")(x)
    x = keras.layers.Resizing(4, 5)(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(2)(x)
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (None, None, 3), 2, (5, 3, 3)


def image_resize_lambda(keras):
    """tf.image.resize called on Keras tensors (TFOpLambda), bilinear and nearest, and
    the TF1 forms with align_corners (tf.compat.v1.image.resize_*)."""
    import tensorflow as tf

    inp = keras.Input((5, 5, 2))
    x = tf.image.resize(inp, (3, 4))
    x = tf.image.resize(x, (6, 7), method="nearest")
    x = tf.compat.v1.image.resize_bilinear(x, (4, 5), align_corners=True)
    x = tf.compat.v1.image.resize_nearest_neighbor(x, (7, 3), align_corners=True)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(2)(x)
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m, (5, 5, 2), 2


MODELS = {
    "dense_sequential": dense_sequential,
    "conv_bn_functional": conv_bn_functional,
    "lstm_sequential": lstm_sequential,
    "custom_layer_functional": custom_layer_functional,
    "gru_sequential": gru_sequential,
    "simple_rnn_sequential": simple_rnn_sequential,
    "gelu_dense": gelu_dense,
    "embedding_sequential": embedding_sequential,
    "birnn_masked": birnn_masked,
    "grouped_conv_reshape": grouped_conv_reshape,
    "dropout_conv": dropout_conv,
    # issue 18, trace ops
    "erfc_gelu": erfc_gelu,
    "einsum_attention": einsum_attention,
    "upsampling_resizing": upsampling_resizing,
    "resize_unknown_size": resize_unknown_size,
    "image_resize_lambda": image_resize_lambda,
}


def main():
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", help="regenerate only these models (others keep their files)")
    ap.add_argument("--out", default=OUT_DEFAULT, help="directory to write (default: tests/data/savedmodel)")
    args = ap.parse_args()
    import importlib.metadata as md
    import sys

    global OUT
    OUT = os.path.abspath(args.out)
    found = md.version("tf-keras")
    if found not in SUPPORTED_TF_KERAS:
        sys.exit("generate_savedmodel_fixtures.py: needs tf-keras %s, found %s" % (" or ".join(SUPPORTED_TF_KERAS), found))
    # The committed fixtures stay 2.17's (issue 18: the venv is 2.21; its files go elsewhere with --out).
    if found != COMMITTED_TF_KERAS and os.path.realpath(OUT) == os.path.realpath(OUT_DEFAULT):
        sys.exit("generate_savedmodel_fixtures.py: tests/data/savedmodel is written by tf-keras %s, found %s "
                 "(use --out DIR)" % (COMMITTED_TF_KERAS, found))
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
        model, in_shape, out_dim, *data_shape = make(keras)
        in_shape = data_shape[0] if data_shape else in_shape
        out_shape = out_dim if isinstance(out_dim, tuple) else (out_dim,)
        tx = r.rand(4, *in_shape).astype("float32")
        ty = r.rand(4, *out_shape).astype("float32")
        if name in ("embedding_sequential", "birnn_masked"):
            tx = r.randint(0, 10, (4, *in_shape)).astype("float32")
        if name == "dense_sequential":
            ty = np.eye(out_dim, dtype="float32")[r.randint(0, out_dim, 4)]
        model.train_on_batch(tx, ty)
        model.train_on_batch(tx, ty)
        x = r.rand(3, *in_shape).astype("float32")
        if name in ("embedding_sequential", "birnn_masked"):
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
