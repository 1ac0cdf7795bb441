"""Files that `strata info` must describe (tests/cli/cli_info_test.cpp), written by TensorFlow.

python generate_info_files.py --out DIR writes:
  half_plus_two/      TF Serving's half_plus_two in its TF2 form: a tf.Module whose tf.function
                      `serve` (signature serving_default, input "x" float32 (None,), output
                      "y") computes 0.5 * x + 2; no Keras metadata
  module_two/         a tf.Module with two signatures (serving_default: "a" float32 (None, 3)
                      and "b" int64 (None,) -> "sum", "count"; "scale": "x" -> "scaled") and an
                      extra tf.function `double` without a signature
  tf1/                a TF1 SavedModel (SavedModelBuilder, tag "serve", signature
                      serving_default: "x" -> "y"), no object graph
  weights.h5          tf-keras save_weights of a small model (weights only)
  unknown_opt.h5      a compiled tf-keras model whose training_config names the optimizer class
                      "NoSuchOptimizer" (rewritten with h5py)
and done.txt.
"""
import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402


class HalfPlusTwo(tf.Module):
    def __init__(self):
        super().__init__()
        self.a = tf.Variable(0.5, name="a")
        self.b = tf.Variable(2.0, name="b")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": self.a * x + self.b}


class TwoSignatures(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.ones([3]), name="w")

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="a"),
                                  tf.TensorSpec([None], tf.int64, name="b")])
    def both(self, a, b):
        return {"sum": tf.reduce_sum(a * self.w, axis=1), "count": b + 1}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def scale(self, x):
        return {"scaled": x * self.w}

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def double(self, x):
        return x * 2.0


def tf1_saved_model(path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        a = tf.compat.v1.Variable(0.5, name="a")
        y = tf.add(a * x, 2.0, name="y")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(path)
            sig = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)  # noqa: E731
    m = HalfPlusTwo()
    tf.saved_model.save(m, out("half_plus_two"), signatures={"serving_default": m.serve})
    t = TwoSignatures()
    tf.saved_model.save(t, out("module_two"), signatures={"serving_default": t.both, "scale": t.scale})
    tf1_saved_model(out("tf1"))
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,), name="d1"),
                              keras.layers.BatchNormalization(name="bn"),
                              keras.layers.Dense(2, name="d2")], name="info_model")
    model.save_weights(out("weights.h5"))
    model.compile(keras.optimizers.Adam(), "mse")
    model.fit(np.zeros((4, 4), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    model.save(out("unknown_opt.h5"))
    with h5py.File(out("unknown_opt.h5"), "r+") as f:
        tc = json.loads(f.attrs["training_config"])
        tc["optimizer_config"]["class_name"] = "NoSuchOptimizer"
        f.attrs["training_config"] = json.dumps(tc)
    with open(out("done.txt"), "w") as f:
        f.write(tf.__version__ + "\n")


if __name__ == "__main__":
    main()
