"""Keras 3 weights files for tests/plugins/keras/keras3_weights_test.cpp.

  python generate_keras3_weights.py --out DIR
      For each model below: builds it with Keras 3, compiles it, trains 2 steps, and writes
      NAME.weights.h5 (save_weights), NAME.weights.json + shards (sharded save_weights with
      max_shard_size twice the largest variable's float64 size, in NAME.max_shard_size.txt;
      oversize.txt: what Keras says to a limit below a variable's size),
      NAME.json (model.to_json()), NAME.optimizer.json ({"class_name", "config"} of the
      optimizer), NAME.x<i>.npy (inputs), NAME.t<i>.npy (targets), NAME.y<i>.npy (Keras's
      predictions after training), NAME.next.weights.h5 (after one more step on the first
      4 samples), for the models in SKIPS NAME.skipped.weights.h5 (the state after loading
      NAME.weights.h5 over NAME.next's with load_weights(objects_to_skip=...)) and
      NAME.skip.txt (the names of the objects skipped), bf16.* (a model with bfloat16
      variables, below), npz.keras and npz_keras_load.txt (an archive with
      weights_format="npz", below), and names.txt, then DONE.
  python generate_keras3_weights.py --verify FIXTURES STRATA_DIR
      For each STRATA_DIR/NAME.weights.h5 and NAME.weights.json (sharded), written by
      Strata: rebuilds NAME with Keras 3,
      builds its optimizer, loads Strata's file, and compares every model variable and
      optimizer variable with what loading Keras's own NAME.weights.h5 gives, bit for bit
      (Nadam's u_product, which Strata recomputes, to 1 ulp). Exit 0 when all match.
  python generate_keras3_weights.py --verify-bf16 FIXTURES STRATA_FILE
      Loads Strata's weights file of the bf16 model into Keras 3's bf16 model: every
      variable bfloat16 and bit for bit what Keras's own bf16.weights.h5 gives.

One process, TensorFlow backend, Keras 3 (the interop venv).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402

L = keras.layers


def models():
    """(name, model, optimizer, inputs, targets) for every case."""
    rng = np.random.default_rng(7)

    def normal(*shape):
        return rng.standard_normal(shape).astype("float32")

    out = []

    m = keras.Sequential([keras.Input((4,)), L.Dense(3, activation="relu"), L.Dense(2)], name="seq")
    out.append(("sequential_adam", m, keras.optimizers.Adam(0.01), [normal(8, 4)], [normal(8, 2)]))

    a = keras.Input((4,), name="in_a")
    b = keras.Input((4,), name="in_b")
    shared = L.Dense(5, activation="tanh", name="shared")
    sa, sb = shared(a), shared(b)
    inner = keras.Sequential([keras.Input((10,)), L.Dense(3), L.Dense(2)], name="inner")
    c = L.Concatenate()([sa, sb])
    o1 = L.Dense(2, name="out_1")(c)
    o2 = inner(c)
    m = keras.Model([a, b], [o1, o2], name="multi")
    out.append(("functional_sgd_momentum", m, keras.optimizers.SGD(0.05, momentum=0.9),
                [normal(8, 4), normal(8, 4)], [normal(8, 2), normal(8, 2)]))

    x = keras.Input((6,))
    sub_in = keras.Input((6,))
    sub = keras.Model(sub_in, L.Dense(4, activation="relu")(L.Dense(5)(sub_in)), name="sub")
    m = keras.Model(x, L.Dense(1)(sub(x)), name="nested")
    out.append(("nested_rmsprop", m, keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                [normal(8, 6)], [normal(8, 1)]))

    x = keras.Input((5, 3))
    h = L.LSTM(4, return_sequences=True)(x)
    h = L.Bidirectional(L.GRU(3, return_sequences=True))(h)
    h = L.TimeDistributed(L.Dense(3))(h)
    h = L.SimpleRNN(2)(h)
    m = keras.Model(x, h, name="recurrent")
    out.append(("recurrent_nadam", m, keras.optimizers.Nadam(0.01), [normal(8, 5, 3)], [normal(8, 2)]))

    x = keras.Input((6, 6, 2))
    h = L.Conv2D(3, 3)(x)
    h = L.BatchNormalization()(h)
    h = L.Flatten()(h)
    m = keras.Model(x, L.Dense(2)(h), name="conv")
    out.append(("conv_adamax", m, keras.optimizers.Adamax(0.01), [normal(8, 6, 6, 2)], [normal(8, 2)]))

    x = keras.Input((4, 6))
    h = L.MultiHeadAttention(2, 3)(x, x)
    h = L.LayerNormalization()(L.Add()([x, h]))
    h = L.GlobalAveragePooling1D()(h)
    m = keras.Model(x, L.Dense(2)(h), name="attention")
    out.append(("attention_adamw", m, keras.optimizers.AdamW(0.01), [normal(8, 4, 6)], [normal(8, 2)]))

    # Ids unique within each batch of 4: with repeated ids Keras 3's Adagrad (TF backend)
    # adds the square of each occurrence's gradient slice (IndexedSlices), not the square of
    # their sum as tf-keras and Strata do, and the next step differs (by ~1e-2 here).
    m = keras.Sequential([keras.Input((3,), dtype="int32"), L.Embedding(24, 4), L.GlobalAveragePooling1D(),
                          L.Dense(1)], name="emb")
    ids = rng.permutation(24).reshape(8, 3).astype("int32")
    out.append(("embedding_adagrad", m, keras.optimizers.Adagrad(0.1), [ids], [normal(8, 1)]))

    x = keras.Input((4, 6))
    h = L.RNN([L.LSTMCell(3), L.GRUCell(2)], return_sequences=True)(x)
    h = L.Attention(use_scale=True)([h, h])
    h = L.AdditiveAttention()([h, h])
    h = L.EinsumDense("abc,cd->abd", output_shape=(4, 3), bias_axes="d")(h)
    h = L.PReLU()(L.Flatten()(h))
    m = keras.Model(x, L.Dense(2)(h), name="stacked")
    out.append(("stacked_attention_amsgrad", m, keras.optimizers.Adam(0.01, amsgrad=True), [normal(8, 4, 6)],
                [normal(8, 2)]))

    x = keras.Input((7, 7, 2))
    h = L.SeparableConv2D(3, 2)(x)
    h = L.DepthwiseConv2D(2)(h)
    h = L.Conv2DTranspose(2, 2)(h)
    h = L.GlobalAveragePooling2D()(h)
    m = keras.Model(x, L.Dense(2)(h), name="convs")
    out.append(("convs_rmsprop", m, keras.optimizers.RMSprop(0.01), [normal(8, 7, 7, 2)], [normal(8, 2)]))

    norm = L.Normalization()
    norm.adapt(normal(16, 3))
    m = keras.Sequential([keras.Input((3,)), norm, L.Dense(4), L.Dropout(0.0), L.Dense(2)], name="prep")
    out.append(("normalization_sgd_nesterov", m, keras.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
                [normal(8, 3)], [normal(8, 2)]))

    m = keras.Sequential([keras.Input((3,)), L.Dense(2)], name="plain")
    out.append(("sequential_sgd", m, keras.optimizers.SGD(0.1), [normal(8, 3)], [normal(8, 2)]))

    m = keras.Sequential([keras.Input((3,)), L.Dense(2)], name="sched")
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5)
    out.append(("sequential_schedule", m, keras.optimizers.Adam(schedule), [normal(8, 3)], [normal(8, 2)]))

    m = keras.Sequential([keras.Input((3,)), L.Dense(2)], name="ftrl")
    out.append(("sequential_ftrl", m, keras.optimizers.Ftrl(0.1), [normal(8, 3)], [normal(8, 2)]))

    m = keras.Sequential([keras.Input((3,)), L.Dense(2)], name="adadelta")
    out.append(("sequential_adadelta", m, keras.optimizers.Adadelta(1.0), [normal(8, 3)], [normal(8, 2)]))
    return out


# objects_to_skip for a partial load (NAME.skipped.weights.h5): a layer; a nested model and
# the optimizer.
SKIPS = {
    "sequential_adam": lambda m: [m.layers[0]],
    "functional_sgd_momentum": lambda m: [m.get_layer("inner"), m.optimizer],
}


class Block(keras.layers.Layer):
    """A custom layer with tracked children: a public and a private attribute."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj = L.Dense(3)
        self._gate = L.Dense(3, activation="sigmoid")

    def call(self, x):
        return self.proj(x) * self._gate(x)


class Sub(keras.Model):
    """A subclassed model: attributes sorted by name, `layers` in between (saving_lib)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.zz = L.Dense(2)
        self.aa = L.Dense(3)
        self.blocks = [Block(), L.Dense(3)]

    def call(self, x):
        return self.zz(self.blocks[1](self.blocks[0](self.aa(x))))


def subclassed(out):
    """subclassed.weights.h5 (and .x0/.y0.npy) of Sub, trained 2 steps with Adam."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 4)).astype("float32")
    y = rng.standard_normal((8, 2)).astype("float32")
    m = Sub()
    m.compile(keras.optimizers.Adam(0.01), "mse")
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    m.save_weights(os.path.join(out, "subclassed.weights.h5"))
    np.save(os.path.join(out, "subclassed.x0.npy"), x)
    np.save(os.path.join(out, "subclassed.y0.npy"), np.asarray(m.predict(x, verbose=0)))


def bfloat16(out):
    """bf16.weights.h5 of a model whose variables are bfloat16 (dtype="bfloat16": Keras 3
    stores them as 2-byte opaque datasets with attribute dtype="bfloat16"), trained 2 steps
    with Adam (its slots are bfloat16 too); bf16.json, bf16.optimizer.json,
    bf16.keras_optimizer.json, bf16.x0.npy, bf16.y0.npy."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((8, 4)).astype("float32")
    y = rng.standard_normal((8, 2)).astype("float32")
    m = keras.Sequential([keras.Input((4,)), L.Dense(3, activation="relu", dtype="bfloat16"),
                          L.Dense(2, dtype="bfloat16")], name="bf16")
    opt = keras.optimizers.Adam(0.01)
    m.compile(opt, "mse")
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    m.save_weights(os.path.join(out, "bf16.weights.h5"))
    with open(os.path.join(out, "bf16.json"), "w") as f:
        f.write(m.to_json())
    with open(os.path.join(out, "bf16.optimizer.json"), "w") as f:
        json.dump(optimizer_json(opt), f)
    with open(os.path.join(out, "bf16.keras_optimizer.json"), "w") as f:
        json.dump(keras.saving.serialize_keras_object(opt), f)
    np.save(os.path.join(out, "bf16.x0.npy"), x)
    np.save(os.path.join(out, "bf16.y0.npy"), np.asarray(m.predict(x, verbose=0)).astype("float32"))


def npz_archive(out):
    """npz.keras: saving_lib.save_model(..., weights_format="npz") of a small model, and
    npz_keras_load.txt: what Keras 3's own load_model says to it. (Keras 3.15's NpzIOStore
    np.savez-es a dict of Keras Variable objects per object path: pickled object arrays,
    which its np.load(allow_pickle=False) refuses.)"""
    from keras.src.saving import saving_lib

    m = keras.Sequential([keras.Input((3,)), L.Dense(2)], name="npz")
    saving_lib.save_model(m, os.path.join(out, "npz.keras"), weights_format="npz")
    try:
        keras.saving.load_model(os.path.join(out, "npz.keras"))
        said = "loaded"
    except Exception as e:  # noqa: BLE001 - recorded for the test
        said = f"{type(e).__name__}: {e}"
    with open(os.path.join(out, "npz_keras_load.txt"), "w") as f:
        f.write(said + "\n")


def optimizer_json(opt):
    config = opt.get_config()
    lr = config["learning_rate"]
    if isinstance(lr, dict) and "config" in lr:  # a schedule, as {"class_name", "config"}
        config["learning_rate"] = {"class_name": lr["class_name"], "config": lr["config"]}
    for key in ("loss_scale_factor", "gradient_accumulation_steps", "use_ema", "ema_momentum",
                "ema_overwrite_frequency"):
        config.pop(key, None)
    return {"class_name": type(opt).__name__, "config": config}


def compile_from(model, keras_opt_json):
    model.compile(keras.saving.deserialize_keras_object(keras_opt_json), "mse")
    model.optimizer.build(model.trainable_variables)
    model.optimizer.build(model.trainable_variables)


def generate(out):
    os.makedirs(out, exist_ok=True)
    names = []
    for name, model, opt, x, y in models():
        model.compile(opt, "mse")
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)  # 2 steps
        model.save_weights(os.path.join(out, name + ".weights.h5"))
        largest = max(int(np.prod(v.shape)) * 8 for v in model.weights + opt.variables)
        shard_gb = largest * 2 / 1024**3
        model.save_weights(os.path.join(out, name + ".weights.json"), max_shard_size=shard_gb)
        with open(os.path.join(out, name + ".max_shard_size.txt"), "w") as f:
            f.write(repr(shard_gb) + "\n")
        if name == "sequential_adam":
            # A variable larger than the limit: Keras 3 refuses the save (no shard of its own).
            biggest = max(int(np.prod(v.shape)) * 4 for v in model.weights)
            try:
                model.save_weights(os.path.join(out, "oversize.weights.json"), max_shard_size=(biggest - 1) / 1024**3)
                refused = "saved"
            except ValueError as e:
                refused = "ValueError: " + str(e)
            with open(os.path.join(out, "oversize.txt"), "w") as f:
                f.write(refused + "\n")
        with open(os.path.join(out, name + ".json"), "w") as f:
            f.write(model.to_json())
        with open(os.path.join(out, name + ".optimizer.json"), "w") as f:
            json.dump(optimizer_json(opt), f)
        with open(os.path.join(out, name + ".keras_optimizer.json"), "w") as f:
            json.dump(keras.saving.serialize_keras_object(opt), f)
        predictions = model.predict(x, verbose=0)
        if not isinstance(predictions, (list, tuple)):
            predictions = [predictions]
        for i, v in enumerate(x):
            np.save(os.path.join(out, f"{name}.x{i}.npy"), v)
        for i, v in enumerate(predictions):
            np.save(os.path.join(out, f"{name}.y{i}.npy"), np.asarray(v))
        # One more step on the first batch, for Strata's next step to compare with.
        for i, v in enumerate(y):
            np.save(os.path.join(out, f"{name}.t{i}.npy"), v)
        model.train_on_batch([v[:4] for v in x], [v[:4] for v in y])
        model.save_weights(os.path.join(out, name + ".next.weights.h5"))
        if name in SKIPS:
            # A partial load over that state: the objects named keep their values.
            objects = SKIPS[name](model)
            keras.saving.load_weights(model, os.path.join(out, name + ".weights.h5"), objects_to_skip=objects)
            model.save_weights(os.path.join(out, name + ".skipped.weights.h5"))
            with open(os.path.join(out, name + ".skip.txt"), "w") as f:
                f.write("\n".join("optimizer" if o is model.optimizer else o.name for o in objects) + "\n")
        names.append(name)
    subclassed(out)
    bfloat16(out)
    npz_archive(out)
    with open(os.path.join(out, "names.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    with open(os.path.join(out, "DONE"), "w") as f:
        f.write(keras.__version__ + "\n")
    return 0


def verify(fixtures, strata_dir):
    failures = []
    checked = 0
    with open(os.path.join(fixtures, "names.txt")) as f:
        names = [n for n in f.read().split() if n]
    for name, suffix in [(n, s) for n in names for s in (".weights.h5", ".weights.json")]:
        strata_file = os.path.join(strata_dir, name + suffix)
        if not os.path.exists(strata_file):
            continue
        with open(os.path.join(fixtures, name + ".json")) as f:
            architecture = f.read()
        with open(os.path.join(fixtures, name + ".optimizer.json")) as f:
            opt_json = json.load(f)
        with open(os.path.join(fixtures, name + ".keras_optimizer.json")) as f:
            keras_opt_json = json.load(f)
        loaded = []
        for path in (os.path.join(fixtures, name + ".weights.h5"), strata_file):
            m = keras.models.model_from_json(architecture)
            compile_from(m, keras_opt_json)
            m.load_weights(path)
            loaded.append(m)
        keras_model, strata_model = loaded
        for a, b in zip(keras_model.weights, strata_model.weights):
            if a.dtype != b.dtype:
                failures.append(f"{name}{suffix}: weight {a.path} is {b.dtype}, not {a.dtype}")
            if a.shape != b.shape or np.asarray(a).tobytes() != np.asarray(b).tobytes():
                failures.append(f"{name}{suffix}: weight {a.path} differs")
        ka, sa = keras_model.optimizer.variables, strata_model.optimizer.variables
        if len(ka) != len(sa):
            failures.append(f"{name}: {len(ka)} optimizer variables vs {len(sa)}")
        for index, (a, b) in enumerate(zip(ka, sa)):
            va, vb = np.asarray(a), np.asarray(b)
            if va.shape != vb.shape:
                failures.append(f"{name}: optimizer variable {a.path} shape {va.shape} vs {vb.shape}")
            elif va.tobytes() != vb.tobytes():
                # Nadam's u_product (its last variable) is recomputed by Strata: 1 ulp.
                product = opt_json["class_name"] == "Nadam" and index == len(ka) - 1
                close = va.dtype.kind == "f" and np.all(np.abs(va - vb) <= np.spacing(np.abs(va)))
                if not (product and close):
                    failures.append(f"{name}: optimizer variable {index} ({a.path}): {va!r} vs {vb!r}")
        checked += 1
    for line in failures:
        print("MISMATCH", line)
    print(f"checked {checked} models, {len(failures)} mismatches")
    return 1 if failures or checked == 0 else 0


def verify_bf16(fixtures, strata_file):
    """Keras 3 loads Strata's bf16 weights file into the bf16 model: every variable bfloat16
    and bit for bit what loading Keras's own bf16.weights.h5 gives."""
    with open(os.path.join(fixtures, "bf16.json")) as f:
        architecture = f.read()
    loaded = []
    for path in (os.path.join(fixtures, "bf16.weights.h5"), strata_file):
        m = keras.models.model_from_json(architecture)
        m.load_weights(path)
        loaded.append(m)
    failures = []
    for a, b in zip(loaded[0].weights, loaded[1].weights):
        if a.dtype != "bfloat16" or b.dtype != "bfloat16":
            failures.append(f"weight {a.path}: {a.dtype} / {b.dtype}, not bfloat16")
        elif np.asarray(a).tobytes() != np.asarray(b).tobytes():
            failures.append(f"weight {a.path} differs")
    for line in failures:
        print("MISMATCH", line)
    print(f"checked {len(loaded[0].weights)} bfloat16 variables, {len(failures)} mismatches")
    return 1 if failures or not loaded[0].weights else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--verify-bf16":
        sys.exit(verify_bf16(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        sys.exit(generate(sys.argv[2]))
    if len(sys.argv) == 4 and sys.argv[1] == "--verify":
        sys.exit(verify(sys.argv[2], sys.argv[3]))
    print(__doc__)
    sys.exit(2)
