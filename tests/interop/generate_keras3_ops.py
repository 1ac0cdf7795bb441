"""Keras 3 functional models that apply keras.ops to symbolic tensors (issue 23).

Keras 3 stores each such call as a layer entry of the op's class (module keras.src.ops.numpy,
.nn, .core, ...: Multiply, Mean, GetItem, ...), its constructor arguments as the config and
its other call arguments (Python numbers, lists, slices, None) in the inbound node. For
tests/plugins/layers/keras_ops_test.cpp (run at test time, cached). Two modes:

  generate_keras3_ops.py --out DIR     writes DIR/<model>/ with
      model.keras   model.save (real Keras 3, TensorFlow backend)
      x<i>.npy      input i
      y<i>.npy      Keras 3's output i (model(x, training=False))
      g<i>.npy      d(loss)/d(model.weights[i]), loss = sum over the floating outputs of
                    sum(y * y) / 2 (tf.GradientTape; zeros where the loss does not depend on it)
    and DIR/index.json: per model its counts of inputs, outputs and weights, and the op
    classes its config names ("module.Class").
  generate_keras3_ops.py --check DIR   for each DIR/<model>/model.keras (what Strata wrote)
      Keras 3 loads it and predicts x<i>.npy; prints "<model> keras3: ok" when that equals
      y<i>.npy (|d| <= 1e-5 + 1e-5 |y|, dtypes' kinds alike), "<model> keras3: FAIL ..."
      otherwise, then "SUMMARY <ok> <failed>"; exits 1 on a failure.
"""
import json
import os
import sys
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("TF_USE_LEGACY_KERAS", None)
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np  # noqa: E402


def models(keras):
    ops = keras.ops
    L = keras.layers
    out = {}
    r = np.random.RandomState(11)

    def f(*shape):
        return r.uniform(-1.5, 1.5, size=(3,) + shape).astype("float32")

    # Python scalars on either side, the operator forms and the ops' own spellings.
    x = keras.Input((3, 4))
    y = keras.Input((3, 4))
    h = L.Dense(4, name="d")(x)
    a = ops.abs(h)
    outs = [h * 2.0, 2.0 - h, h / 3.0, 1.5 / (a + 1.0), h + y, h - y, ops.multiply(h, y), ops.divide(h, a + 0.5),
            ops.maximum(h, 0.1), ops.minimum(h, y), h ** 2, ops.power(a + 0.5, y), -h, a, ops.square(h),
            ops.sqrt(a + 1.0), ops.exp(h), ops.log(a + 1.0), ops.log1p(a), ops.sign(h), ops.floor(h * 3),
            ops.reciprocal(a + 1.0), ops.subtract(h, 1), ops.add(3, h), ops.true_divide(h, 4),
            ops.negative(y), ops.absolute(y), ops.tanh(h), ops.sigmoid(h), h * 2]
    out["k3ops_arithmetic"] = ([x, y], outs, [f(3, 4), f(3, 4)])

    x = keras.Input((3, 5))
    h = L.Dense(5, name="d")(x)
    outs = [ops.relu(h), ops.relu6(h * 5), ops.sigmoid(h), ops.softplus(h), ops.softsign(h), ops.silu(h),
            ops.gelu(h), ops.gelu(h, approximate=False), ops.elu(h), ops.elu(h, alpha=0.5), ops.selu(h),
            ops.softmax(h), ops.softmax(h, axis=1), ops.log_softmax(h, axis=-1), ops.leaky_relu(h),
            ops.leaky_relu(h, negative_slope=0.3), ops.hard_sigmoid(h), ops.erf(h)]
    out["k3ops_activations"] = ([x], outs, [f(3, 5)])

    x = keras.Input((3, 4))
    h = L.Dense(4, name="d")(x)
    outs = [ops.sum(h), ops.sum(h, axis=1), ops.mean(h, axis=[1, 2], keepdims=True), ops.max(h, axis=-1),
            ops.min(h, axis=1, keepdims=True), ops.prod(h, axis=2), ops.mean(h),
            ops.argmax(h, axis=-1), ops.argmin(h, axis=1), ops.any(ops.greater(h, 0.5), axis=-1),
            ops.all(h > -1.0, axis=1), ops.cast(ops.not_equal(h, 0), "float32"),
            ops.cast(ops.logical_and(h > 0, h < 1), "int32"), ops.logical_or(h > 1, h < -1),
            ops.logical_not(h >= 0), ops.cast(ops.equal(ops.floor(h), 0.0), "float32"), h <= 0.2,
            ops.cast(h, "int32"), ops.any(h), ops.all(h > -9)]
    out["k3ops_reductions"] = ([x], outs, [f(3, 4)])

    x = keras.Input((3, 4))
    y = keras.Input((3, 4))
    h = L.Dense(4, name="d")(x)
    parts = ops.split(h, 2, axis=-1)
    outs = [ops.reshape(h, (-1, 12)), ops.reshape(h, (-1, 2, 6)), ops.transpose(h, (0, 2, 1)), ops.transpose(h),
            ops.expand_dims(h, 1), ops.expand_dims(h, -1), ops.squeeze(ops.expand_dims(h, 2), axis=2),
            ops.concatenate([h, y], axis=-1), ops.concatenate([h, y, h], axis=1), ops.stack([h, y], axis=1),
            ops.stack([h, y]), parts[0], parts[1], ops.take(h, [0, 2], axis=1), ops.take(h, 3, axis=-1),
            ops.pad(h, [[0, 0], [1, 1], [0, 2]]), ops.pad(h, [[0, 0], [2, 0], [1, 1]], constant_values=0.5),
            ops.matmul(h, ops.transpose(y, (0, 2, 1))), ops.einsum("bij,bkj->bik", h, y), ops.einsum("bij->bj", h),
            ops.where(h > 0, h, y), ops.where(y > 0.5, h, 0.0), ops.clip(h, -0.5, 0.7),
            h[:, 1:], h[:, 0], h[..., ::2], h[:, None, -1, 1:3], h[:, :, 2], ops.tile(h, (1, 2, 1))]
    out["k3ops_shapes"] = ([x, y], outs, [f(3, 4), f(3, 4)])

    x = keras.Input((3, 4))
    h = L.Dense(4, name="d")(x)
    a = ops.abs(h) + 1.0
    outs = [ops.logsumexp(h, axis=-1), ops.logsumexp(h, axis=1, keepdims=True), ops.var(h, axis=1),
            ops.std(h, axis=-1, keepdims=True), ops.swapaxes(h, 1, 2), ops.moveaxis(h, 1, 2), ops.moveaxis(h, 2, 0),
            ops.broadcast_to(ops.expand_dims(h[0], 0), (3, 3, 4)), ops.flip(h, axis=1), ops.flip(h, axis=[1, 2]),
            ops.log2(a), ops.log10(a), ops.amax(h, axis=1), ops.amin(h, axis=-1), ops.count_nonzero(ops.floor(h), axis=1),
            ops.isnan(ops.log(h)), ops.ravel(h), ops.hard_silu(h), ops.one_hot(ops.argmax(h, axis=-1), 4),
            ops.ceil(h), ops.expm1(h), h % 0.7, h // 0.5, ops.zeros_like(h), ops.ones_like(h), ops.stop_gradient(h) * h,
            ops.rsqrt(a)]
    out["k3ops_more"] = ([x], outs, [f(3, 4)])

    # Stop 37's classes: rounding, tests of values, triangles, repeats, averages, stacking,
    # products and rolls.
    x = keras.Input((3, 4))
    y = keras.Input((3, 4))
    h = L.Dense(4, name="d")(x)
    outs = [ops.round(h * 3), ops.round(h, 1), ops.isinf(ops.log(ops.abs(ops.floor(h)))), ops.isfinite(ops.log(h)),
            ops.logical_xor(h > 0, y > 0), ops.repeat(h, 2, axis=1), ops.repeat(h, 3, axis=-1), ops.tril(h),
            ops.tril(h, -1), ops.triu(h, k=1), ops.triu(h), ops.outer(h[0, 0], y[1, 1]), ops.average(h, axis=1),
            ops.average(h, axis=1, weights=ops.abs(y[0, :, 0]) + 0.5), ops.average(h, axis=-1, weights=ops.abs(y) + 0.1),
            ops.hstack([h, y]), ops.vstack([h, y]), ops.copy(h), ops.nan_to_num(ops.log(h)),
            ops.nan_to_num(ops.log(h), nan=0.5, posinf=1.0, neginf=-1.0), ops.logaddexp(h, y),
            ops.divide_no_nan(h, ops.floor(y)), ops.full_like(h, 3.0), ops.full_like(h, 2, dtype="int32"),
            ops.tensordot(h, y, axes=[[2], [2]]), ops.tensordot(h, ops.transpose(y[0]), axes=1),
            ops.dot(h, ops.transpose(y, (0, 2, 1))), ops.dot(h, y[0, 0]), ops.roll(h, 1, axis=1),
            ops.roll(h, -2, axis=2), ops.roll(h, 5)]
    out["k3ops_numpy_extra"] = ([x, y], outs, [f(3, 4), f(3, 4)])

    # Norms, normalisation, pooling, moments, resizing and slices of images.
    x = keras.Input((4, 4, 2))
    h = L.Dense(2, name="d")(x)
    mean, variance = ops.moments(h, axes=[1, 2])
    outs = [ops.norm(h, axis=-1), ops.norm(h, ord=1, axis=-1, keepdims=True), ops.norm(h, ord=float("inf"), axis=1),
            ops.norm(h, ord=0, axis=-1), ops.norm(h, ord=3, axis=2), ops.norm(h, ord="fro", axis=(1, 2)),
            ops.norm(h, ord=1, axis=(1, 2)), ops.norm(h, ord=-1, axis=(2, 1), keepdims=True),
            ops.norm(h, ord=float("-inf"), axis=(1, 2)), ops.norm(h, ord=float("inf"), axis=(2, 1)), ops.norm(h[0, 0]),
            ops.normalize(h), ops.normalize(h, axis=1, order=1), ops.normalize(h, order=3), ops.log_sigmoid(h),
            ops.hard_tanh(h * 2), ops.max_pool(h, 2), ops.average_pool(h, 2, strides=1, padding="same"),
            ops.max_pool(h[:, 0], 2), ops.average_pool(h[:, 1], 3, strides=1, padding="valid"), mean, variance,
            ops.moments(h, axes=[-1], keepdims=True)[1], ops.image.resize(h, (6, 8)),
            ops.image.resize(h, (3, 5), interpolation="nearest"), ops.image.resize(h[0], (6, 6)),
            ops.slice(h, (0, 1, 0, 0), (3, 2, 3, 2))]
    out["k3ops_linalg_nn_image"] = ([x], outs, [f(4, 4, 2)])

    # Keras 3's Masking -> ConvLSTM2D writes its mask ops (Any, NotEqual, ...) into the graph.
    x = keras.Input((3, 4, 4, 2))
    m = L.Masking(mask_value=0.0)(x)
    c = L.ConvLSTM2D(3, 3, padding="same", name="convlstm")(m)
    feed = f(3, 4, 4, 2)
    feed[1, 2] = 0.0
    out["k3ops_masking_convlstm2d"] = ([x], [c], [feed])

    # Embedding(mask_zero=True) -> LSTM and Masking -> GRU: the masks as NotEqual / Any op layers
    # and the recurrent layers' mask tensor argument.
    ids = keras.Input((4,), dtype="int32")
    e = L.Embedding(6, 3, mask_zero=True, name="emb")(ids)
    out["k3ops_embedding_mask_lstm"] = ([ids], [L.LSTM(2, return_sequences=True, name="lstm")(e)],
                                        [np.array([[1, 2, 0, 0], [3, 4, 5, 0], [5, 1, 1, 2]], "int32")])
    x = keras.Input((4, 3))
    g = L.GRU(2, name="gru")(L.Masking(mask_value=0.0)(x))
    feed = f(4, 3)
    feed[0, 2:] = 0.0
    out["k3ops_masking_gru"] = ([x], [g], [feed])

    # Keras 3 records the mask it passes to Bidirectional and GlobalAveragePooling1D (a layer
    # that takes no other call arguments) too.
    ids = keras.Input((5,), dtype="int32")
    e = L.Embedding(7, 4, mask_zero=True, name="emb")(ids)
    h = L.Bidirectional(L.LSTM(3, return_sequences=True), name="bidi")(e)
    out["k3ops_embedding_mask_pooling"] = ([ids], [L.GlobalAveragePooling1D(name="pool")(h)],
                                           [np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 0], [5, 1, 1, 2, 2]], "int32")])

    # An op class Strata does not read.
    x = keras.Input((5,))
    out["k3ops_unsupported"] = ([x], [ops.sort(x * 1.0)], [f(5)])
    return out


def op_classes(config):
    found = set()

    def walk(v):
        if isinstance(v, dict):
            if str(v.get("module", "")).startswith("keras.src.ops"):
                found.add(v["module"] + "." + v["class_name"])
            for e in v.values():
                walk(e)
        elif isinstance(v, list):
            for e in v:
                walk(e)

    walk(config)
    return sorted(found)


def generate(out_dir):
    import keras
    import tensorflow as tf

    os.makedirs(out_dir, exist_ok=True)
    index = {"keras_version": keras.__version__, "models": {}}
    for seed, (name, (inputs, outputs, feeds)) in enumerate(sorted(models(keras).items())):
        model = keras.Model(inputs, outputs, name=name)
        r = np.random.RandomState(100 + seed)
        for w in model.weights:
            w.assign(r.uniform(-0.8, 0.8, size=tuple(w.shape)).astype("float32"))
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.keras")
        model.save(path)
        if name == "k3ops_unsupported":
            ys = [model(feeds, training=False)]
            grads = [None] * len(model.weights)
        else:
            feeds_t = [tf.convert_to_tensor(v) for v in feeds]
            with tf.GradientTape() as tape:
                ys = model(feeds_t, training=False)
                ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
                terms = [tf.reduce_sum(y * y) / 2.0 for y in ys if y.dtype.is_floating]
                loss = tf.add_n(terms)
            grads = tape.gradient(loss, model.weights)
        for i, w in enumerate(model.weights):
            g = grads[i]
            np.save(os.path.join(d, "g%d.npy" % i),
                    np.zeros(w.shape, "float32") if g is None else tf.convert_to_tensor(g).numpy())
        for i, x in enumerate(feeds):
            np.save(os.path.join(d, "x%d.npy" % i), x)
        for i, y in enumerate(ys):
            np.save(os.path.join(d, "y%d.npy" % i), np.asarray(y))
        config = json.loads(zipfile.ZipFile(path).read("config.json"))
        index["models"][name] = {"inputs": len(feeds), "outputs": len(ys), "weights": len(model.weights),
                                 "classes": op_classes(config)}
    with open(os.path.join(out_dir, "index.json"), "w") as fh:
        json.dump(index, fh, indent=1)


def check(work_dir):
    import keras

    ok = failed = 0
    for name in sorted(os.listdir(work_dir)):
        d = os.path.join(work_dir, name)
        path = os.path.join(d, "model.keras")
        if not os.path.isfile(path):
            continue
        try:
            model = keras.saving.load_model(path)
            xs = []
            while os.path.exists(os.path.join(d, "x%d.npy" % len(xs))):
                xs.append(np.load(os.path.join(d, "x%d.npy" % len(xs))))
            ys = model(xs if len(xs) > 1 else xs[0], training=False)
            ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
            bad = []
            for i, y in enumerate(ys):
                want = np.load(os.path.join(d, "y%d.npy" % i))
                got = np.asarray(y)
                if got.shape != want.shape or got.dtype.kind != want.dtype.kind:
                    bad.append("output %d: %s %s, want %s %s" % (i, got.dtype, got.shape, want.dtype, want.shape))
                elif not np.allclose(got.astype("float64"), want.astype("float64"), atol=1e-5, rtol=1e-5):
                    bad.append("output %d: max |d| %g" % (i, np.max(np.abs(got.astype("float64") - want))))
            if bad:
                failed += 1
                print("%s keras3: FAIL %s" % (name, "; ".join(bad)))
            else:
                ok += 1
                print("%s keras3: ok" % name)
        except Exception as e:  # noqa: BLE001 - reported per model
            failed += 1
            print("%s keras3: FAIL %s: %s" % (name, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    print("SUMMARY %d %d" % (ok, failed))
    return 1 if failed else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        generate(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    else:
        sys.exit("usage: generate_keras3_ops.py --out DIR | --check DIR")


if __name__ == "__main__":
    main()
