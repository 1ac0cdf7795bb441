"""Keras 3's layers that tf-keras lacks, computed by real Keras 3 (TensorFlow backend).

For tests/plugins/layers/keras3_layers_test.cpp (run at test time through
test::generate_with_script, cached): small Functional models with RMSNormalization,
AdaptiveAveragePooling1D/2D/3D, AdaptiveMaxPooling1D/2D/3D, ReversibleEmbedding and
GroupQueryAttention, several argument combinations each, random weights. For each model
OUT/<name>/ holds:
  model.json     model.to_json()
  model.h5       model.save("model.h5"): Keras 3's legacy H5 (config and weights)
  w<i>.npy       model.weights[i] (Keras 3's order)
  x<i>.npy       input i
  y<i>.npy       Keras 3's output i (model(x, training=False))
  g<i>.npy       the gradient of loss = sum over outputs of sum(y * y) / 2 w.r.t. model.weights[i]
                 (tf.GradientTape, training=False; zeros where the loss does not depend on it)
and OUT/index.json lists the models with their counts of inputs, outputs and weights, and
the sum and count of model.losses after that call (activity regularizers).
Usage: python generate_keras3_layers.py --out DIR
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("TF_USE_LEGACY_KERAS", None)
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np  # noqa: E402


def models(keras):
    L = keras.layers
    out = {}

    def add(name, inputs, outputs, feeds):
        out[name] = (inputs, outputs, feeds)

    r = np.random.RandomState(7)

    def f(*shape):
        return r.uniform(-1.5, 1.5, size=(2,) + shape).astype("float32")

    # RMSNormalization: default axis; a list of axes; negative axes and another epsilon.
    x = keras.Input((3, 5))
    add("rms_default", [x], [L.RMSNormalization(name="rms")(L.Dense(5, name="d")(x))], [f(3, 5)])
    x = keras.Input((3, 5))
    add("rms_axes_list", [x], [L.RMSNormalization(axis=[1, 2], epsilon=1e-3, name="rms")(x)], [f(3, 5)])
    x = keras.Input((2, 3, 4))
    add("rms_negative_axes", [x], [L.RMSNormalization(axis=[-1, -2], epsilon=0.5, name="rms")(L.Dense(4, name="d")(x))],
        [f(2, 3, 4)])

    # Adaptive pooling after a Dense, so that the weights' gradients pass through it.
    cases = [
        ("avg1d", L.AdaptiveAveragePooling1D, (7, 3), 3, "channels_last"),
        ("avg1d_up", L.AdaptiveAveragePooling1D, (3, 7), 10, "channels_first"),
        ("max1d", L.AdaptiveMaxPooling1D, (10, 2), (4,), "channels_last"),
        ("max1d_first", L.AdaptiveMaxPooling1D, (2, 7), 5, "channels_first"),
        ("avg2d", L.AdaptiveAveragePooling2D, (7, 9, 2), (3, 4), "channels_last"),
        ("avg2d_first", L.AdaptiveAveragePooling2D, (2, 5, 6), 4, "channels_first"),
        ("max2d", L.AdaptiveMaxPooling2D, (6, 5, 3), (4, 2), "channels_last"),
        ("max2d_first", L.AdaptiveMaxPooling2D, (3, 4, 7), (3, 3), "channels_first"),
        ("avg3d", L.AdaptiveAveragePooling3D, (5, 4, 6, 2), (2, 3, 4), "channels_last"),
        ("avg3d_first", L.AdaptiveAveragePooling3D, (2, 3, 5, 4), 2, "channels_first"),
        ("max3d", L.AdaptiveMaxPooling3D, (4, 5, 3, 2), (3, 2, 2), "channels_last"),
        ("max3d_first", L.AdaptiveMaxPooling3D, (2, 6, 4, 5), (4, 3, 2), "channels_first"),
    ]
    for name, cls, shape, size, fmt in cases:
        x = keras.Input(shape)
        h = L.Dense(shape[-1], name="d")(x)
        add("adaptive_" + name, [x], [cls(size, data_format=fmt, name="pool")(h)], [f(*shape)])

    # ReversibleEmbedding: tied, untied with a soft cap, mask_zero feeding a masked pooling.
    ids = keras.Input((5,), dtype="int32")
    id_feed = np.array([[1, 4, 0, 9, 3], [0, 2, 7, 7, 5]], dtype="int32")
    e = L.ReversibleEmbedding(10, 4, name="emb")
    h = e(ids)
    add("reversible_tied", [ids], [e(L.Dense(4, name="d")(h), reverse=True)], [id_feed])
    ids = keras.Input((5,), dtype="int32")
    e = L.ReversibleEmbedding(10, 4, tie_weights=False, logit_soft_cap=2.0, name="emb")
    add("reversible_untied_cap", [ids], [e(e(ids), reverse=True)], [id_feed])
    ids = keras.Input((5,), dtype="int32")
    e = L.ReversibleEmbedding(10, 4, mask_zero=True, name="emb")
    h = e(ids)
    pooled = L.GlobalAveragePooling1D(name="gap")(h)
    add("reversible_mask_zero", [ids], [pooled, e(h, reverse=True)], [id_feed])
    hid = keras.Input((4,))
    e = L.ReversibleEmbedding(6, 4, tie_weights=False, reverse_dtype="float32", name="emb")
    add("reversible_reverse_only", [hid], [e(hid, reverse=True)], [f(4)])

    # GroupQueryAttention.
    q = keras.Input((3, 4))
    v = keras.Input((5, 4))
    add("gqa_basic", [q, v],
        [L.GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=2, name="gqa")(q, v)],
        [f(3, 4), f(5, 4)])
    q = keras.Input((3, 4))
    v = keras.Input((5, 4))
    k = keras.Input((5, 6))
    m = keras.Input((3, 5))
    mask = np.ones((2, 3, 5), "float32")
    mask[0, :, 3:] = 0
    mask[1, 1, :] = 0  # a fully masked row
    o, s = L.GroupQueryAttention(head_dim=3, num_query_heads=2, num_key_value_heads=1, name="gqa")(
        q, v, key=k, attention_mask=m, return_attention_scores=True)
    add("gqa_key_mask_scores", [q, v, k, m], [o, s], [f(3, 4), f(5, 4), f(5, 6), mask])
    q = keras.Input((3, 4))
    m = keras.Input((3, 5))
    add("gqa_masked_row_fast_path", [q, v, m],
        [L.GroupQueryAttention(head_dim=2, num_query_heads=2, num_key_value_heads=1, name="gqa")(
            q, v, attention_mask=m)],
        [f(3, 4), f(5, 4), mask])
    x = keras.Input((4, 6))
    add("gqa_causal_gate_nobias", [x],
        [L.GroupQueryAttention(head_dim=2, num_query_heads=6, num_key_value_heads=3, use_gate=True, use_bias=False,
                               dropout=0.25, name="gqa")(x, x, use_causal_mask=True)],
        [f(4, 6)])
    x = keras.Input((None, 4))
    o, s = L.GroupQueryAttention(head_dim=2, num_query_heads=2, num_key_value_heads=2, sliding_window=2, name="gqa")(
        x, x, use_causal_mask=True, return_attention_scores=True)
    add("gqa_sliding_unknown_length", [x], [o, s], [f(6, 4)])
    ids = keras.Input((5,), dtype="int32")
    h = L.Embedding(10, 4, mask_zero=True, name="emb")(ids)
    add("gqa_keras_masks", [ids],
        [L.GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=2, name="gqa")(h, h)],
        [np.array([[1, 4, 0, 9, 3], [2, 2, 7, 0, 0]], dtype="int32")])

    # Activity regularizers (Keras 3's base Layer takes one from any layer): the losses too.
    x = keras.Input((4, 4))
    h = L.RMSNormalization(activity_regularizer=keras.regularizers.L2(0.01), name="rms")(x)
    h = L.GroupQueryAttention(head_dim=2, num_query_heads=2, num_key_value_heads=1,
                              activity_regularizer=keras.regularizers.L1(0.02), name="gqa")(h, h)
    p = L.AdaptiveMaxPooling1D(3, activity_regularizer="l2", name="pool")(h)
    ids = keras.Input((3,), dtype="int32")
    e = L.ReversibleEmbedding(5, 4, activity_regularizer=keras.regularizers.L2(0.03), name="emb")
    add("activity_regularizers", [x, ids], [p, e(e(ids), reverse=True)], [f(4, 4), np.array([[1, 2, 3], [4, 0, 1]], "int32")])
    return out


def main():
    if "--out" not in sys.argv:
        sys.exit("usage: generate_keras3_layers.py --out DIR")
    out_dir = sys.argv[sys.argv.index("--out") + 1]
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
        with open(os.path.join(d, "model.json"), "w") as fh:
            fh.write(model.to_json())
        model.save(os.path.join(d, "model.h5"))  # Keras 3's legacy H5
        with tf.GradientTape() as tape:
            ys = model(feeds, training=False)
            ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
            loss = tf.add_n([tf.reduce_sum(y * y) / 2.0 for y in ys])
        grads = tape.gradient(loss, model.weights)
        for i, w in enumerate(model.weights):
            np.save(os.path.join(d, "w%d.npy" % i), w.numpy())
            g = grads[i]
            np.save(os.path.join(d, "g%d.npy" % i), np.zeros(w.shape, "float32") if g is None else tf.convert_to_tensor(g).numpy())
        regularization = [float(np.asarray(v)) for v in model.losses]
        for i, x in enumerate(feeds):
            np.save(os.path.join(d, "x%d.npy" % i), x)
        for i, y in enumerate(ys):
            np.save(os.path.join(d, "y%d.npy" % i), np.asarray(y))
        index["models"][name] = {"inputs": len(feeds), "outputs": len(ys), "weights": len(model.weights),
                                 "weight_paths": [w.path for w in model.weights],
                                 "activity_losses": sum(regularization), "activity_loss_terms": len(regularization)}
    with open(os.path.join(out_dir, "index.json"), "w") as fh:
        json.dump(index, fh, indent=1)


if __name__ == "__main__":
    main()
