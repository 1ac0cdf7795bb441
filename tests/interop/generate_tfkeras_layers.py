"""The layer harness's fixtures: small models of one layer family, computed by real tf-keras.

For tests/plugins/layers/tfkeras_layers_test.cpp (run at test time through
test::generate_with_script, cached per family). The models come from
tests/interop/layer_models/<family>.py, whose `models(keras, rng)` returns a list of dicts
(name, model, x, and optionally grad, keras3, atol; see tests/interop/README.md). For each
model OUT/<name>/ holds
  model.h5       tf-keras's H5 save (config and weights)
  savedmodel/    tf-keras's SavedModel save
  model.json     model.to_json()
  w<i>.npy       model.weights[i]
  x<i>.npy       input i
  y<i>.npy       tf-keras's output i (model(x, training=False))
  g<i>.npy       the gradient of sum over float outputs of sum(y * y) / 2 w.r.t.
                 model.trainable_weights[i] (tf.GradientTape, training=False; zeros where the
                 loss does not depend on it); only when the model's `grad` is true
and, for models whose `keras3` is true, OUT/<name>/keras3/ holds the same model built by the
same builder under Keras 3 (a second process), saved by Keras 3: model.keras, x<i>.npy,
y<i>.npy. OUT/index.json lists the models with their counts, weight names, layer classes and
the versions used.

Usage: python generate_tfkeras_layers.py --family FAMILY --out DIR
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def load_family(family):
    path = os.path.join(HERE, "layer_models", family + ".py")
    if not os.path.isfile(path):
        sys.exit(f"no layer family module {path}")
    spec = importlib.util.spec_from_file_location("layer_models_" + family, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def specs(keras, family):
    import numpy as np

    rng = np.random.RandomState(zlib.crc32(family.encode("utf-8")) & 0x7FFFFFFF)
    out = load_family(family).models(keras, rng)
    names = [s["name"] for s in out]
    if len(set(names)) != len(names):
        sys.exit(f"{family}: model names repeat: {names}")
    return out


def as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def outputs_of(model, xs):
    ys = model(xs if len(xs) > 1 else xs[0], training=False)
    return [y.numpy() for y in as_list(ys)]


def save_arrays(directory, prefix, arrays):
    import numpy as np

    for i, a in enumerate(arrays):
        if a.dtype == object:  # tf.string outputs: bytes objects, kept as numpy str ('<U')
            a = np.array([v.decode("utf-8") for v in a.reshape(-1)], dtype=str).reshape(a.shape)
        np.save(os.path.join(directory, f"{prefix}{i}.npy"), a, allow_pickle=False)


def tf_keras_pass(family, out):
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import tf_keras as keras

    index = {"family": family, "models": {}}
    for s in specs(keras, family):
        name, model, xs = s["name"], s["model"], [np.asarray(x) for x in s["x"]]
        d = os.path.join(out, name)
        os.makedirs(d)
        model.save(os.path.join(d, "model.h5"), save_format="h5")
        model.save(os.path.join(d, "savedmodel"), save_format="tf")
        with open(os.path.join(d, "model.json"), "w") as f:
            f.write(model.to_json())
        save_arrays(d, "w", [w.numpy() for w in model.weights])
        save_arrays(d, "x", xs)
        ys = outputs_of(model, xs)
        save_arrays(d, "y", ys)
        grad = bool(s.get("grad", True))
        if grad:
            feeds = [tf.constant(x) for x in xs]
            with tf.GradientTape() as tape:
                yy = as_list(model(feeds if len(feeds) > 1 else feeds[0], training=False))
                loss = tf.add_n([tf.reduce_sum(y * y) / 2 for y in yy if y.dtype.is_floating])
            grads = tape.gradient(loss, model.trainable_weights)
            save_arrays(d, "g", [np.zeros(w.shape, w.dtype.as_numpy_dtype) if g is None else tf.convert_to_tensor(g).numpy()
                                 for w, g in zip(model.trainable_weights, grads)])
        index["models"][name] = {
            "inputs": len(xs),
            "outputs": len(ys),
            "weights": len(model.weights),
            "trainable": len(model.trainable_weights),
            "weight_names": [w.name for w in model.weights],
            "classes": sorted({type(l).__name__ for l in model.layers} - {"InputLayer"}),
            "grad": grad,
            "keras3": bool(s.get("keras3", True)),
            "atol": float(s.get("atol", 1e-5)),
        }
    index["versions"] = {"tensorflow": tf.__version__, "tf_keras": keras.__version__}
    return index


def keras3_pass(family, out):
    os.environ.pop("TF_USE_LEGACY_KERAS", None)
    import keras
    import numpy as np

    errors = {}
    for s in specs(keras, family):
        if not s.get("keras3", True):
            continue
        d = os.path.join(out, s["name"], "keras3")
        try:
            os.makedirs(d)
            xs = [np.asarray(x) for x in s["x"]]
            s["model"].save(os.path.join(d, "model.keras"))
            save_arrays(d, "x", xs)
            save_arrays(d, "y", outputs_of(s["model"], xs))
        except Exception as e:  # recorded: the C++ test fails naming the model and the error
            errors[s["name"]] = f"{type(e).__name__}: {e}"
    return {"keras": keras.__version__, "errors": errors}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--family", required=True)
    p.add_argument("--keras3-pass", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if a.keras3_pass:
        print(json.dumps(keras3_pass(a.family, a.out)))
        return
    os.makedirs(a.out, exist_ok=True)
    index = tf_keras_pass(a.family, a.out)
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)
    k3 = subprocess.run([sys.executable, os.path.abspath(__file__), "--family", a.family, "--keras3-pass", "--out", a.out],
                        env=env, capture_output=True, text=True)
    if k3.returncode != 0:
        sys.exit("the Keras 3 pass failed:\n" + k3.stdout + k3.stderr)
    result = json.loads(k3.stdout.strip().splitlines()[-1])
    index["versions"]["keras"] = result["keras"]
    for name, error in result["errors"].items():
        index["models"][name]["keras3_error"] = error
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
