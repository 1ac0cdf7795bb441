#!/usr/bin/env python3
"""SavedModels without Keras metadata, for `strata predict --signature` (label interop).

    generate_plain_savedmodels.py OUT_DIR

Writes, under OUT_DIR, one directory per model and for each its inputs and what
TensorFlow's own signature returns on them:
  half_plus_two/          TF Serving's example in its TF2 form: a tf.Module, y = 0.5 x + 2
  two_heads/              a tf.Module of two keyword inputs and a dict of two outputs, with
                          variables, plus a second signature `scaled` (one input, tuple output)
  keras3_export/          Keras 3 `model.export()` of a small Functional model (its signatures
                          serve and serving_default; outputs keyed output_0)
  tf1_session/            a TF1 SavedModel (tf.compat.v1 builder: a session graph, no object graph)
  <model>.<signature>.in.<key>.npy    the inputs, by argument key
  <model>.<signature>.out.<key>.npy   TensorFlow's outputs, by output key
A file OUT_DIR/done is written last.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def record(out, model, loaded, signature, feeds):
    for k, v in feeds.items():
        np.save(os.path.join(out, "%s.%s.in.%s.npy" % (model, signature, k)), v)
    result = loaded.signatures[signature](**{k: tf.constant(v) for k, v in feeds.items()})
    for k, v in result.items():
        np.save(os.path.join(out, "%s.%s.out.%s.npy" % (model, signature, k)), v.numpy())


class HalfPlusTwo(tf.Module):
    def __init__(self):
        super().__init__()
        self.a = tf.Variable(0.5)
        self.b = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": self.a * x + self.b}


class TwoHeads(tf.Module):
    def __init__(self, rng):
        super().__init__()
        self.w = tf.Variable(rng.normal(size=(3, 2)).astype(np.float32), name="w")
        self.v = tf.Variable(rng.normal(size=(2,)).astype(np.float32), name="v")

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="zfeat"),
                                  tf.TensorSpec([None, 2], tf.float32, name="abias")])
    def serve(self, zfeat, abias):
        h = tf.matmul(zfeat, self.w) + abias
        return {"score": tf.nn.relu(h), "total": tf.reduce_sum(h * self.v, axis=1)}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="zfeat")])
    def scaled(self, zfeat):
        return (tf.matmul(zfeat, self.w) * 2.0, tf.tanh(zfeat))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(19)

    hpt = HalfPlusTwo()
    tf.saved_model.save(hpt, os.path.join(out, "half_plus_two"), signatures={"serving_default": hpt.serve})
    loaded = tf.saved_model.load(os.path.join(out, "half_plus_two"))
    record(out, "half_plus_two", loaded, "serving_default", {"x": np.array([1.0, 2.0, 5.0], np.float32)})

    heads = TwoHeads(rng)
    tf.saved_model.save(heads, os.path.join(out, "two_heads"),
                        signatures={"serving_default": heads.serve, "scaled": heads.scaled})
    loaded = tf.saved_model.load(os.path.join(out, "two_heads"))
    feeds = {"zfeat": rng.normal(size=(4, 3)).astype(np.float32), "abias": rng.normal(size=(4, 2)).astype(np.float32)}
    record(out, "two_heads", loaded, "serving_default", feeds)
    record(out, "two_heads", loaded, "scaled", {"zfeat": feeds["zfeat"]})

    import keras  # Keras 3
    inp = keras.Input((3,), name="feats")
    h = keras.layers.Dense(4, activation="tanh", name="hidden")(inp)
    k3 = keras.Model(inp, keras.layers.Dense(2, name="head")(h))
    k3.export(os.path.join(out, "keras3_export"), verbose=False)
    loaded = tf.saved_model.load(os.path.join(out, "keras3_export"))
    feats = {"feats": rng.normal(size=(5, 3)).astype(np.float32)}
    record(out, "keras3_export", loaded, "serving_default", feats)
    record(out, "keras3_export", loaded, "serve", feats)

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        y = tf.identity(x * 0.5 + 2.0, name="y")
        with tf.compat.v1.Session(graph=g) as sess:
            builder = tf.compat.v1.saved_model.Builder(os.path.join(out, "tf1_session"))
            sig = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()
    with open(os.path.join(out, "done"), "w") as f:
        f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
