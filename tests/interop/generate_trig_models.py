"""Models whose graphs apply trigonometric functions and cumulative sums (issue 23).

For tests/interop/trig_ops_test.cpp (run at test time, cached). Usage:

  generate_trig_models.py --out DIR
      DIR/<model>/ for each model below, and DIR/index.json (per model: its files and its
      counts of inputs, outputs and weights). tf-keras models (TFOpLambda layers of tf.math.*):
        saved.h5, saved_sm/   model.save as H5 and as SavedModel (compiled: SGD(0.1), mse)
        x0.npy, y0.npy        an input and tf-keras's prediction on it
        tx.npy, ty.npy        a training batch
        after<i>.npy          model.weights[i] after one train_on_batch(tx, ty) from the
                              saved state (on a copy loaded from saved.h5)
      Keras 3 models (op layers of keras.src.ops.numpy) :
        model.keras           model.save
        x<i>.npy, y<i>.npy    inputs and Keras 3's outputs (model(x, training=False))
        g<i>.npy              d(loss)/d(model.weights[i]), loss = sum over the outputs of
                              sum(y * y) / 2 (tf.GradientTape)
  generate_trig_models.py --check-tfkeras FILE X.npy Y.npy
      tf-keras loads FILE (H5 or SavedModel) and predicts X; prints "ok" when that equals Y
      (|d| <= 1e-5 + 1e-5 |Y|), "FAIL ..." otherwise (exit status 1).
  generate_trig_models.py --check-keras3 FILE X0.npy Y0.npy [X1.npy Y1.npy ...]
      the same with Keras 3 and a .keras archive (one Xi per input, one Yi per output, in
      order: the X files first).

Models:
  tfk_positional   x (6 steps, 8 features) plus a sinusoidal positional encoding computed in
                   the model: positions = tf.math.cumsum(ones, axis=1, exclusive=True), angles
                   = a frozen Dense of the frequencies 1 / 10000^(2i/8), tf.math.sin and
                   tf.math.cos concatenated; then Dense, reduce_mean over time, Dense.
  tfk_trig_all     every tf.math function Strata maps here (sin ... atanh, atan2, cumsum
                   with exclusive / reverse, cumprod) on a Dense output, concatenated.
  k3_trig          Keras 3: keras.ops.sin, cos, tan, arcsin ... arctanh, arctan2, cumsum (axis
                   and None), cumprod, and a positional encoding from cumsum.
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

BATCH = 3


def close(got, want):
    import numpy as np

    got = np.asarray(got, dtype="float64")
    want = np.asarray(want, dtype="float64")
    if got.shape != want.shape:
        return "shape %s, expected %s" % (got.shape, want.shape)
    bad = np.abs(got - want) > 1e-5 + 1e-5 * np.abs(want)
    if bad.any():
        i = int(np.argmax(bad.reshape(-1)))
        return "element %d: %r, expected %r" % (i, got.reshape(-1)[i], want.reshape(-1)[i])
    return ""


# ---- tf-keras ------------------------------------------------------------------------------


def tfk_models():
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    L = keras.layers
    out = {}

    x = keras.Input((6, 8), name="x")
    ones = x[:, :, :1] * 0.0 + 1.0
    positions = tf.math.cumsum(ones, axis=1, exclusive=True)
    angles = L.Dense(4, use_bias=False, trainable=False, name="frequencies")(positions)
    pe = tf.concat([tf.math.sin(angles), tf.math.cos(angles)], axis=-1)
    h = L.Dense(8, activation="tanh", name="mix")(x + pe)
    y = L.Dense(3, name="head")(tf.math.reduce_mean(h, axis=1))
    m = keras.Model(x, y)
    freqs = 1.0 / np.power(10000.0, np.arange(0, 8, 2) / 8.0)
    m.get_layer("frequencies").set_weights([freqs.reshape(1, 4).astype("float32")])
    out["tfk_positional"] = (m, (6, 8), (3,))

    x = keras.Input((4, 5), name="x")
    h = L.Dense(5, name="d")(x)
    t = tf.math.tanh(h) * 0.9
    parts = [tf.math.sin(h), tf.math.cos(h), tf.math.tan(h * 0.5), tf.math.asin(t), tf.math.acos(t),
             tf.math.atan(h), tf.math.sinh(h), tf.math.cosh(h), tf.math.asinh(h),
             tf.math.acosh(tf.math.square(h) + 1.1), tf.math.atanh(t), tf.math.atan2(h, x),
             tf.math.cumsum(h, axis=1), tf.math.cumsum(h, axis=1, reverse=True),
             tf.math.cumsum(h, axis=2, exclusive=True, reverse=True), tf.cumsum(h, -1, exclusive=True),
             tf.math.cumprod(t + 1.5, axis=1), tf.math.cumprod(t + 1.5, axis=2, exclusive=True, reverse=True)]
    m = keras.Model(x, tf.concat(parts, axis=-1))
    out["tfk_trig_all"] = (m, (4, 5), (4, 5 * len(parts)))
    return out


def generate_tfkeras(out, index):
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    tf.keras.utils.set_random_seed(7)
    for name, (m, in_shape, out_shape) in sorted(tfk_models().items()):
        r = np.random.RandomState(len(name))
        d = os.path.join(out, name)
        os.makedirs(d)
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        x = r.uniform(-1.5, 1.5, size=(BATCH,) + in_shape).astype("float32")
        np.save(os.path.join(d, "x0.npy"), x)
        np.save(os.path.join(d, "y0.npy"), m.predict(x, verbose=0))
        m.save(os.path.join(d, "saved.h5"))
        m.save(os.path.join(d, "saved_sm"), save_format="tf")
        tx = r.uniform(-1.5, 1.5, size=(BATCH,) + in_shape).astype("float32")
        ty = r.uniform(-1.0, 1.0, size=(BATCH,) + out_shape).astype("float32")
        np.save(os.path.join(d, "tx.npy"), tx)
        np.save(os.path.join(d, "ty.npy"), ty)
        trained = keras.models.load_model(os.path.join(d, "saved.h5"))
        trained.train_on_batch(tx, ty)
        for i, w in enumerate(trained.weights):
            np.save(os.path.join(d, "after%d.npy" % i), w.numpy())
        index[name] = {"kind": "tf-keras", "inputs": 1, "outputs": 1, "weights": len(trained.weights),
                       "weight_names": [w.name.split(":")[0] for w in trained.weights]}


def check_tfkeras(path, xnpy, ynpy):
    import numpy as np
    import tf_keras as keras

    m = keras.models.load_model(path)
    why = close(m.predict(np.load(xnpy), verbose=0), np.load(ynpy))
    print("ok" if not why else "FAIL " + why)
    return 0 if not why else 1


# ---- Keras 3 -------------------------------------------------------------------------------


def k3_models():
    import keras
    import numpy as np

    ops = keras.ops
    L = keras.layers
    x = keras.Input((4, 5), name="x")
    h = L.Dense(5, name="d")(x)
    t = ops.tanh(h) * 0.9
    positions = ops.cumsum(ops.ones_like(x[:, :, :1]), axis=1) - 1.0
    angles = L.Dense(2, use_bias=False, trainable=False, name="frequencies")(positions)
    pe = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
    outs = [ops.sin(h), ops.cos(h), ops.tan(h * 0.5), ops.arcsin(t), ops.arccos(t), ops.arctan(h), ops.sinh(h),
            ops.cosh(h), ops.arcsinh(h), ops.arccosh(ops.square(h) + 1.1), ops.arctanh(t), ops.arctan2(h, x),
            ops.arctan2(h, 2.0), ops.cumsum(h, axis=1), ops.cumsum(h), ops.cumsum(h, axis=-1),
            ops.cumprod(t + 1.5, axis=1), L.Dense(3, name="mix")(h[:, :, :4] + pe)]
    m = keras.Model(x, outs)
    m.get_layer("frequencies").set_weights([np.array([[1.0, 0.01]], "float32")])
    return {"k3_trig": (m, [(4, 5)])}


def generate_keras3(out, index):
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(5)
    for name, (m, in_shapes) in sorted(k3_models().items()):
        r = np.random.RandomState(len(name))
        d = os.path.join(out, name)
        os.makedirs(d)
        xs = [r.uniform(-1.5, 1.5, size=(BATCH,) + s).astype("float32") for s in in_shapes]
        for i, x in enumerate(xs):
            np.save(os.path.join(d, "x%d.npy" % i), x)
        with tf.GradientTape() as tape:
            ys = m([tf.constant(x) for x in xs] if len(xs) > 1 else tf.constant(xs[0]), training=False)
            ys = ys if isinstance(ys, (list, tuple)) else [ys]
            loss = tf.add_n([tf.reduce_sum(tf.square(y)) / 2.0 for y in ys])
        grads = tape.gradient(loss, [w.value for w in m.weights])
        for i, y in enumerate(ys):
            np.save(os.path.join(d, "y%d.npy" % i), np.asarray(y))
        for i, (w, g) in enumerate(zip(m.weights, grads)):
            np.save(os.path.join(d, "g%d.npy" % i), np.zeros(w.shape, "float32") if g is None else np.asarray(g))
        m.save(os.path.join(d, "model.keras"))
        index[name] = {"kind": "keras3", "inputs": len(xs), "outputs": len(ys), "weights": len(m.weights)}


def check_keras3(path, files):
    import keras
    import numpy as np

    m = keras.saving.load_model(path)
    n = len(m.inputs)
    xs = [np.load(f) for f in files[:n]]
    ys = m(xs if n > 1 else xs[0], training=False)
    ys = ys if isinstance(ys, (list, tuple)) else [ys]
    want = [np.load(f) for f in files[n:]]
    if len(ys) != len(want):
        print("FAIL %d outputs, expected %d" % (len(ys), len(want)))
        return 1
    for i, (y, w) in enumerate(zip(ys, want)):
        why = close(np.asarray(y), w)
        if why:
            print("FAIL output %d: %s" % (i, why))
            return 1
    print("ok")
    return 0


def main():
    mode = sys.argv[1]
    if mode == "--check-tfkeras":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        sys.exit(check_tfkeras(*sys.argv[2:5]))
    if mode == "--check-keras3":
        os.environ.pop("TF_USE_LEGACY_KERAS", None)
        sys.exit(check_keras3(sys.argv[2], sys.argv[3:]))
    if mode == "--keras3-part":  # the Keras 3 models, in a process of their own
        out = sys.argv[2]
        index = {}
        generate_keras3(out, index)
        with open(os.path.join(out, "index_keras3.json"), "w") as f:
            json.dump(index, f)
        return
    out = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    index = {}
    generate_tfkeras(out, index)
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)
    subprocess.run([sys.executable, os.path.abspath(__file__), "--keras3-part", out], check=True, env=env)
    with open(os.path.join(out, "index_keras3.json")) as f:
        index.update(json.load(f))
    os.remove(os.path.join(out, "index_keras3.json"))
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"models": index}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
