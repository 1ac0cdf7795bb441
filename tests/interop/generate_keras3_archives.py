#!/usr/bin/env python3
"""Keras 3 `.keras` archives and Keras 3 weights files for Strata's interop tests (issue 21).

    generate_keras3_archives.py OUT_DIR

Real Keras 3 (the interop venv's, TensorFlow backend), one process, fixed seeds
(keras.utils.set_random_seed per model). Models (OUT_DIR/<name>/):
  sequential          Sequential Dense/Dropout(0.25)/Dense, Adam(0.01), mse + mae
                      (training is stochastic: Dropout draws a mask, see "stochastic_training")
  sequential_sgd      Sequential Dense/Dense, SGD(0.05, momentum=0.9, nesterov)
  functional_shared   two inputs, a Dense shared by both, two outputs (mse, binary
                      crossentropy, loss_weights), AdamW(weight_decay=0.004)
  nested              Functional with a Sequential inside, RMSprop(0.01)
  custom_known        Functional with StrataTest>MxLayer_plugin (the class the test plugin
                      test-custom-objects implements: relu(x @ w + b)), Adam(amsgrad=True)
  custom_model_known  subclassed StrataTest>MxModel_plugin (tanh(inner_dense(x)); the plugin
                      has it too), SGD(0.1)
  custom_unknown      subclassed StrataTest>StrataUnknownModel: no Strata plugin has it
  recurrent           Embedding, LSTM(return_sequences), Bidirectional(GRU), softmax head,
                      sparse categorical crossentropy, SGD(momentum) (see recurrent())
  conv                Conv2D, BatchNormalization, MaxPooling2D, Conv2D, global pooling,
                      Adamax (no bias before the BatchNormalization: see conv())
  transformer         MultiHeadAttention + residual Add + LayerNormalization + Dense FFN +
                      Add + LayerNormalization, SGD(momentum) (see transformer())
  string_lookup       StringLookup (adapted: its vocabulary lives in the archive's assets/)
                      -> Embedding; Strata has no StringLookup yet (docs/LAYERS.md, issue 23)
Each model is compiled, trained 2 steps (fit, batch 8, no shuffle) on fixed data, then written:
  model.keras              model.save (zip: metadata.json, config.json, model.weights.h5[, assets/])
  model.weights.h5         model.save_weights
  model.weights.json       model.save_weights(max_shard_size=SHARD_GB): manifest + model_NNNNN.weights.h5
  model_dir/               model.save(zipped=False) (the unzipped directory form)
  x<i>.npy, y<i>.npy       the inputs and targets (the training data and the step's batch)
  pred<i>.npy              model.predict(x) at the saved state
  w<i>.npy                 model.get_weights() at the saved state
  next<i>.npy              get_weights() after ONE train_on_batch(x, y) of the model that
                           keras.saving.load_model read back from model.keras
and sequential_sgd also model_npz.keras (saving_lib.save_model(weights_format="npz"): the
archive with model.weights.npz; Keras 3.15 pickles each object's variables there and cannot
load the archive back itself: index.json's "npz_keras_loads" says what Keras did). OUT_DIR/index.json has, per model, the file names and counts,
the losses of that step and the next one (loss1, loss2: train_on_batch's loss, the loss of the
weights before each step), the archive's members and metadata.json, the shard files, the
custom class, and the versions; OUT_DIR/done is written last.

The custom classes are defined here and imported by keras3_load_strata.py. No JAX fixture: the
venv has no JAX and the tests install nothing.
"""
import json
import os
import sys
import warnings
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers, ops  # noqa: E402
from keras3_archive_common import as_list, one, rng_for, save_npys, uniform, write_fixtures  # noqa: E402
from keras3_archive_common import save_outputs_and_resume  # noqa: E402

PACKAGE = "StrataTest"
SHARD_GB = 1e-6  # 1000 bytes: several shards even for these small models
BATCH = 16
register = keras.saving.register_keras_serializable(package=PACKAGE)


@register
class MxLayer_plugin(layers.Layer):  # noqa: N801  (the name test-custom-objects registers)
    """relu(x @ w + b); w glorot_uniform, b zeros (tests/plugins/custom/matrix_objects.hpp)."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(int(input_shape[-1]), self.units), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")

    def call(self, x):
        return ops.relu(ops.matmul(x, self.w) + self.b)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config


@register
class MxModel_plugin(keras.Model):  # noqa: N801
    """tanh(inner_dense(x)), the plugin's MxModel."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner_dense = layers.Dense(units, name="inner_dense")

    def call(self, x):
        return ops.tanh(self.inner_dense(x))

    def get_config(self):
        return {"name": self.name, "units": self.units}


@register
class StrataUnknownModel(keras.Model):
    """A class no Strata plugin provides: 2 * dense(x)."""

    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = layers.Dense(units, name="dense")

    def call(self, x):
        return 2.0 * self.dense(x)

    def get_config(self):
        return {"name": self.name, "units": self.units}


CUSTOM_OBJECTS = {
    "StrataTest>MxLayer_plugin": MxLayer_plugin,
    "StrataTest>MxModel_plugin": MxModel_plugin,
    "StrataTest>StrataUnknownModel": StrataUnknownModel,
}


# Each builder returns (model, optimizer, compile kwargs, xs, ys, notes).
def sequential(rng):
    m = keras.Sequential(
        [keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dropout(0.25), layers.Dense(4)], name="sequential"
    )
    return m, keras.optimizers.Adam(0.01), dict(loss="mse", metrics=["mae"]), [uniform(rng, (BATCH, 8))], [
        uniform(rng, (BATCH, 4))
    ], {"stochastic_training": True}


def sequential_sgd(rng):
    m = keras.Sequential(
        [keras.Input((6,)), layers.Dense(8, activation="tanh"), layers.Dense(3, activation="sigmoid")],
        name="sequential_sgd",
    )
    opt = keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)
    return m, opt, dict(loss="mse"), [uniform(rng, (BATCH, 6))], [rng.uniform(0, 1, (BATCH, 3)).astype("float32")], {}


def functional_shared(rng):
    a = keras.Input((6,), name="in_a")
    b = keras.Input((6,), name="in_b")
    shared = layers.Dense(8, activation="tanh", name="shared")
    sa, sb = shared(a), shared(b)
    out_a = layers.Dense(3, name="out_a")(layers.Concatenate(name="concat")([sa, sb]))
    out_b = layers.Dense(1, activation="sigmoid", name="out_b")(layers.Add(name="add")([sa, sb]))
    m = keras.Model([a, b], [out_a, out_b], name="functional_shared")
    opt = keras.optimizers.AdamW(0.01, weight_decay=0.004)
    kw = dict(loss=["mse", "binary_crossentropy"], loss_weights=[1.0, 0.5])
    xs = [uniform(rng, (BATCH, 6)), uniform(rng, (BATCH, 6))]
    ys = [uniform(rng, (BATCH, 3)), rng.integers(0, 2, (BATCH, 1)).astype("float32")]
    return m, opt, kw, xs, ys, {}


def nested(rng):
    inner = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(4)], name="inner")
    x = keras.Input((5,), name="x")
    h = layers.Dense(6, activation="tanh", name="pre")(x)
    out = layers.Dense(2, name="head")(inner(h))
    m = keras.Model(x, out, name="nested")
    return m, keras.optimizers.RMSprop(0.01), dict(loss="mse"), [uniform(rng, (BATCH, 5))], [uniform(rng, (BATCH, 2))], {}


def custom_known(rng):
    x = keras.Input((4,), name="x")
    h = MxLayer_plugin(units=3, name="mx")(x)
    m = keras.Model(x, layers.Dense(2, name="head")(h), name="custom_known")
    opt = keras.optimizers.Adam(0.02, amsgrad=True)
    return m, opt, dict(loss="mse"), [uniform(rng, (BATCH, 4))], [uniform(rng, (BATCH, 2))], {
        "custom_class": "MxLayer_plugin"
    }


def custom_model_known(rng):
    m = MxModel_plugin(units=3, name="custom_model_known")
    xs = [uniform(rng, (BATCH, 4))]
    m(xs[0])
    return m, keras.optimizers.SGD(0.1), dict(loss="mse"), xs, [uniform(rng, (BATCH, 3))], {"custom_class": "MxModel_plugin"}


def custom_unknown(rng):
    m = StrataUnknownModel(units=2, name="custom_unknown")
    xs = [uniform(rng, (BATCH, 4))]
    m(xs[0])
    return m, keras.optimizers.SGD(0.1), dict(loss="mse"), xs, [uniform(rng, (BATCH, 2))], {
        "custom_class": "StrataUnknownModel",
        "unknown_to_strata": True,
    }


def recurrent(rng):
    x = keras.Input((7,), dtype="int32", name="tokens")
    h = layers.Embedding(20, 6, name="embedding")(x)
    h = layers.LSTM(5, return_sequences=True, name="lstm")(h)
    h = layers.Bidirectional(layers.GRU(4, name="gru"), name="bidirectional")(h)
    out = layers.Dense(3, activation="softmax", name="head")(h)
    m = keras.Model(x, out, name="recurrent")
    # SGD: with the TensorFlow backend, Keras 3's Adam-family optimizers square an
    # Embedding's sparse gradient per occurrence of a token (ops.square of the IndexedSlices)
    # and sum the squares, where tf-keras, and Keras 3 on JAX/torch, square the summed
    # gradient; SGD with momentum is linear in the gradient, so both agree.
    opt = keras.optimizers.SGD(0.1, momentum=0.5)
    xs = [rng.integers(0, 20, (BATCH, 7)).astype("int32")]
    ys = [rng.integers(0, 3, (BATCH,)).astype("int32")]
    return m, opt, dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]), xs, ys, {}


def conv(rng):
    x = keras.Input((8, 8, 3), name="image")
    # No bias before BatchNormalization: its gradient is 0 up to rounding, which Adamax would
    # turn into steps of noise (no reference to compare to).
    h = layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv_a")(x)
    h = layers.BatchNormalization(name="bn")(h)
    h = layers.Activation("relu", name="relu")(h)
    h = layers.MaxPooling2D(2, name="pool")(h)
    h = layers.Conv2D(6, 3, activation="relu", name="conv_b")(h)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    out = layers.Dense(2, name="head")(h)
    m = keras.Model(x, out, name="conv")
    return m, keras.optimizers.Adamax(0.01), dict(loss="mse"), [uniform(rng, (BATCH, 8, 8, 3))], [
        uniform(rng, (BATCH, 2))
    ], {}


def transformer(rng):
    x = keras.Input((6, 8), name="sequence")
    att = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(x, x)
    h = layers.LayerNormalization(name="ln_1")(layers.Add(name="res_1")([x, att]))
    ffn = layers.Dense(8, name="ffn_out")(layers.Dense(16, activation="relu", name="ffn_in")(h))
    h = layers.LayerNormalization(name="ln_2")(layers.Add(name="res_2")([h, ffn]))
    out = layers.Dense(2, name="head")(layers.GlobalAveragePooling1D(name="gap")(h))
    m = keras.Model(x, out, name="transformer")
    # SGD: the key projection's bias has a gradient of 0 up to rounding (softmax ignores a
    # constant added to every key's logit); an adaptive optimizer would amplify that noise.
    opt = keras.optimizers.SGD(0.05, momentum=0.9)
    return m, opt, dict(loss="mse"), [uniform(rng, (BATCH, 6, 8))], [
        uniform(rng, (BATCH, 2))
    ], {}


WORDS = np.array(["red", "green", "blue", "cyan", "magenta", "yellow"])


def string_lookup(rng):
    lookup = layers.StringLookup(name="lookup")
    lookup.adapt(WORDS[rng.integers(0, len(WORDS), 64)])
    x = keras.Input((3,), dtype="string", name="words")
    h = layers.Flatten(name="flatten")(layers.Embedding(lookup.vocabulary_size(), 2, name="embedding")(lookup(x)))
    m = keras.Model(x, layers.Dense(1, name="head")(h), name="string_lookup")
    # Words the adapt saw and one it did not (the OOV index).
    xs = [np.concatenate([WORDS[rng.integers(0, len(WORDS), (BATCH - 1, 3))], [["red", "nope", "blue"]]]).astype(str)]
    return m, keras.optimizers.SGD(0.1), dict(loss="mse"), xs, [uniform(rng, (BATCH, 1))], {
        "strings": True,
        "strata_lacks": "StringLookup",
    }


MODELS = [
    sequential,
    sequential_sgd,
    functional_shared,
    nested,
    custom_known,
    custom_model_known,
    custom_unknown,
    recurrent,
    conv,
    transformer,
    string_lookup,
]


def generate(name, builder, out):
    d = os.path.join(out, name)
    os.makedirs(d)
    keras.utils.set_random_seed(1234)
    model, optimizer, compile_kw, xs, ys, notes = builder(rng_for(name))
    model.compile(optimizer=optimizer, **compile_kw)
    if notes.get("strings"):  # numpy string arrays are no Keras 3 input; tf.string tensors are
        text = xs[0].tolist()
        xs = [tf.constant(xs[0])]
    model.fit(one(xs), one(ys), batch_size=8, epochs=1, shuffle=False, verbose=0)

    model.save(os.path.join(d, "model.keras"))
    model.save_weights(os.path.join(d, "model.weights.h5"))
    model.save_weights(os.path.join(d, "model.weights.json"), max_shard_size=SHARD_GB)
    model.save(os.path.join(d, "model_dir"), zipped=False)
    if name == "sequential_sgd":
        from keras.src.saving import saving_lib

        saving_lib.save_model(model, os.path.join(d, "model_npz.keras"), weights_format="npz")
        # Keras 3.15 writes each object's variables as a pickled dict (an object array) and
        # its own loader refuses them (np.load(allow_pickle=False)): record what it does.
        try:
            keras.saving.load_model(os.path.join(d, "model_npz.keras"), custom_objects=CUSTOM_OBJECTS)
            notes["npz_keras_loads"] = "yes"
        except Exception as e:  # noqa: BLE001
            notes["npz_keras_loads"] = f"no: {type(e).__name__}: {e}"

    if not notes.get("strings"):
        save_npys(d, "x", xs)
    else:
        with open(os.path.join(d, "x0.json"), "w") as f:
            json.dump(text, f)
    entry = save_outputs_and_resume(
        model,
        optimizer,
        d,
        xs,
        ys,
        lambda: keras.saving.load_model(os.path.join(d, "model.keras"), custom_objects=CUSTOM_OBJECTS),
    )
    with zipfile.ZipFile(os.path.join(d, "model.keras")) as z:
        members = z.namelist()
        assets = {n: z.read(n).decode("utf-8") for n in members if n.startswith("assets/") and not n.endswith("/")}
    with open(os.path.join(d, "model.weights.json")) as f:
        manifest = json.load(f)
    # Keras writes a path's shard list as a bare string when the path is in one shard.
    shards = sorted({s for files in manifest["weight_map"].values() for s in as_list(files)})
    entry.update(
        {
            "assets": assets,
            "shards": shards,
            "npz_archive": name == "sequential_sgd",
            "npz_keras_loads": None,
            "stochastic_training": False,
            "custom_class": None,
            "unknown_to_strata": False,
            "strings": False,
            "strata_lacks": None,
        }
    )
    entry.update(notes)
    return entry


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: generate_keras3_archives.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tf.get_logger().setLevel("ERROR")

    index = {
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__},
        "backend": keras.backend.backend(),
        "shard_gb": SHARD_GB,
        "models": {},
    }
    write_fixtures(out, index, MODELS, generate)


if __name__ == "__main__":
    main()
