#!/usr/bin/env python3
"""The exact answer of the zoo's training step (issue 18), against which Strata's float32
step and TensorFlow's two float32 steps are measured (tests/zoo/zoo_test.cpp,
OneTrainingStepEqualsKeras).

    python tests/zoo/zoo_reference.py DIR OUT [DIR OUT]...

DIR is one model's directory written by zoo_models.py generate (model.json, weights.h5,
x.npy, t.npy). tf-keras builds the same model with every layer in float64, loads the same
weights, compiles it as the generator did (SGD 1e-3, categorical cross-entropy) and runs the
same two train_on_batch steps in float64. OUT (created atomically: written beside it, then
renamed) receives one NNNN.npy per weight after the first step, in float64, and index.json:
{"names": [weight names, tf-keras's, without ":0"], "losses": [first, second],
 "tf_keras": version}.

Why float64: a step of a deep network with batch normalization on 4 samples is
ill-conditioned, so two correct float32 implementations (TensorFlow with and without its
oneDNN kernels) differ by up to several percent of the step on some weights. What tells
a correct float32 implementation from a wrong one is its distance from the exact step,
compared with TensorFlow's own distance from it.

One difference is structural, not rounding: in float64 tf-keras cannot use its fused
batch-normalization kernel, and only the fused path applies Bessel's correction n/(n-1)
to the variance that enters moving_variance. The test therefore compares moving_variance
with TensorFlow's float32 step instead (it is a forward quantity, where float32
implementations agree closely).
"""
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ["TF_USE_LEGACY_KERAS"] = "1"


def to_float64(node):
    """The config with every float32 dtype (layers' "dtype", InputLayer's) made float64."""
    if isinstance(node, dict):
        return {k: ("float64" if k == "dtype" and v == "float32" else to_float64(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [to_float64(v) for v in node]
    return node


def reference(d, out):
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras
    from tf_keras.src.applications.convnext import LayerScale, StochasticDepth

    keras.backend.clear_session()
    keras.backend.set_floatx("float64")
    config = to_float64(json.load(open(os.path.join(d, "model.json"))))
    model = keras.models.model_from_json(json.dumps(config),
                                         custom_objects={"LayerScale": LayerScale, "StochasticDepth": StochasticDepth})
    model.load_weights(os.path.join(d, "weights.h5"))
    wrong = [w.name for w in model.weights if w.dtype != tf.float64]
    if wrong:
        raise SystemExit(f"weights not in float64: {wrong[:5]}")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-3), loss="categorical_crossentropy")
    x = np.load(os.path.join(d, "x.npy"))
    if x.dtype == np.float32:
        x = x.astype(np.float64)
    t = np.load(os.path.join(d, "t.npy")).astype(np.float64)
    loss1 = float(model.train_on_batch(x, t))
    parent = os.path.dirname(os.path.abspath(out))
    tmp = tempfile.mkdtemp(prefix=".reference-", dir=parent)
    names = []
    for i, w in enumerate(model.weights):
        name = w.name[:-2] if w.name.endswith(":0") else w.name
        names.append(name)
        np.save(os.path.join(tmp, "%04d.npy" % i), w.numpy().astype(np.float64))
    loss2 = float(model.train_on_batch(x, t))
    with open(os.path.join(tmp, "index.json"), "w") as f:
        json.dump({"names": names, "losses": [loss1, loss2], "tf_keras": keras.__version__}, f, indent=1)
    try:
        os.rename(tmp, out)
    except OSError:  # another process wrote it first
        shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.exists(os.path.join(out, "index.json")):
            raise


def main():
    pairs = sys.argv[1:]
    if not pairs or len(pairs) % 2:
        raise SystemExit(__doc__)
    import tensorflow as tf
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    for i in range(0, len(pairs), 2):  # one process for several models: TensorFlow starts once
        reference(pairs[i], pairs[i + 1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
