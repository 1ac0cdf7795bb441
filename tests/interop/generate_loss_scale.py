"""Keras's LossScaleOptimizer in the files each Keras writes, and the steps it takes.

For tests/interop/loss_scale_test.cpp (run at test time, cached). Each case OUT/<name>/ holds
  saved.<ext>     the model after 3 train_on_batch steps on x, y (with its optimizer state)
  x.npy, y.npy    the batch
  next_w<i>.npy   model.trainable_weights[i] after one more step of the model in memory
                  (what a complete resume from `saved` must give)
  next.json       the loss scale after that step (dynamic_scale / current_loss_scale), the
                  inner optimizer's iterations, the wrapper's class, and the iterations Keras's
                  own load_model of `saved` starts from (tf-keras: 0, it restores no state)
Cases (float32 models: the scale is a power of 2, so Strata's float32 steps equal Keras's):
  k3_dynamic      Keras 3 LossScaleOptimizer(Adam), initial_scale 64, dynamic_growth_steps 2, .keras
  tfk_dynamic_h5  tf-keras LossScaleOptimizerV3(Adam) dynamic, growth 2, H5 (the scale is not in H5)
  tfk_fixed_sm    tf-keras LossScaleOptimizerV3(SGD), dynamic=False, initial_scale 128, SavedModel
  tfk_legacy_sm   tf-keras LossScaleOptimizer around the legacy SGD(momentum), SavedModel
                  (`.OPTIMIZER_SLOT` keys and optimizer/loss_scale/current_loss_scale)
  tfk_legacy_grow_sm  the same wrapper with initial_scale 64 and dynamic_growth_steps 2: the
                  file's scale (128, one good step) is not the initial one, and the next step
                  doubles it (a resume that restarts at initial_scale gives 64, then 64)
next.json also holds saved_scale: the scale when the file was written.
and mixed_h5: a tf-keras mixed_float16 model (float32 output layer) compiled with "adam", which
tf-keras wraps in LossScaleOptimizerV3; pred.npy is tf-keras's prediction (float16 compute).
With --check DIR NAME FILE: tf-keras (or Keras 3 for .keras) loads Strata's FILE and prints
the wrapper's class, the loss scale, the layers' dtype policies and the prediction on
DIR/NAME/x.npy as JSON.
Usage: python generate_loss_scale.py --out DIR
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""


def keras_for(which):
    if which == "k3":
        os.environ.pop("TF_USE_LEGACY_KERAS", None)
        import keras
    else:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tf_keras as keras
    return keras


def scale_of(opt):
    if hasattr(opt, "dynamic_scale"):
        return float(opt.dynamic_scale.numpy())
    return float(opt.loss_scale.numpy() if hasattr(opt.loss_scale, "numpy") else opt.loss_scale)


def model(keras, np, mixed=False):
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
    i = keras.Input((4,))
    h = keras.layers.Dense(8, activation="tanh", name="hidden")(i)
    o = keras.layers.Dense(2, name="out", dtype="float32")(h)
    m = keras.Model(i, o)
    r = np.random.RandomState(4)
    m.set_weights([r.uniform(-0.5, 0.5, w.shape).astype("float32") for w in m.get_weights()])
    return m


def run(which, out):
    keras = keras_for(which)
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    r = np.random.RandomState(9)
    x = r.uniform(-1, 1, (8, 4)).astype("float32")
    y = r.uniform(-1, 1, (8, 2)).astype("float32")
    if which == "k3":
        O = keras.optimizers
        cases = {"k3_dynamic": (lambda: O.LossScaleOptimizer(O.Adam(0.01), initial_scale=64.0, dynamic_growth_steps=2),
                                "keras", False)}
    else:
        MP = keras.mixed_precision
        cases = {
            "tfk_dynamic_h5": (lambda: MP.LossScaleOptimizer(keras.optimizers.Adam(0.01), initial_scale=64,
                                                             dynamic_growth_steps=2), "h5", False),
            "tfk_fixed_sm": (lambda: MP.LossScaleOptimizer(keras.optimizers.SGD(0.1), dynamic=False, initial_scale=128),
                             "tf", False),
            "tfk_legacy_sm": (lambda: MP.LossScaleOptimizer(keras.optimizers.legacy.SGD(0.1, momentum=0.9)), "tf", False),
            "tfk_legacy_grow_sm": (lambda: MP.LossScaleOptimizer(keras.optimizers.legacy.SGD(0.1, momentum=0.9),
                                                                 initial_scale=64, dynamic_growth_steps=2), "tf", False),
            "mixed_h5": (lambda: "adam", "h5", True),
        }
    index = {}
    for name, (make, fmt, mixed) in cases.items():
        d = os.path.join(out, name)
        os.makedirs(d)
        m = model(keras, np, mixed)
        m.compile(optimizer=make(), loss="mse")
        for _ in range(3):
            m.train_on_batch(x, y)
        saved_scale = scale_of(m.optimizer)
        saved = os.path.join(d, {"keras": "saved.keras", "h5": "saved.h5", "tf": "saved"}[fmt])
        if fmt == "tf":
            m.save(saved, save_format="tf")
        else:
            m.save(saved)
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), y)
        if mixed:
            np.save(os.path.join(d, "pred.npy"), m.predict(x, verbose=0).astype("float32"))
        # What Keras's own reload resumes from (tf-keras 2.21 restores no LossScaleOptimizer
        # state from H5 or SavedModel: its iterations start again at 0).
        again = keras.models.load_model(saved)
        reloaded = getattr(again.optimizer, "inner_optimizer", again.optimizer).iterations
        # The oracle: the saved model continuing in memory, as a complete resume must.
        m.train_on_batch(x, y)
        for i, w in enumerate(m.trainable_weights):
            np.save(os.path.join(d, f"next_w{i}.npy"), w.numpy())
        opt = m.optimizer
        inner = getattr(opt, "inner_optimizer", None)
        iterations = int((inner if inner is not None else opt).iterations.numpy())
        info = {"class": type(opt).__name__, "scale": scale_of(opt), "iterations": iterations,
                "file": os.path.basename(saved), "mixed": mixed, "keras_reload_iterations": int(reloaded.numpy()),
                "saved_scale": saved_scale}
        with open(os.path.join(d, "next.json"), "w") as f:
            json.dump(info, f)
        index[name] = info
        keras.mixed_precision.set_global_policy("float32")
    return index


def check(name_dir, path):
    which = "k3" if path.endswith(".keras") else "tfk"
    keras = keras_for(which)
    import numpy as np

    m = keras.models.load_model(path)
    opt = m.optimizer
    x = np.load(os.path.join(name_dir, "x.npy"))
    # The scale as TensorFlow reads it from a SavedModel's checkpoint (tf-keras's load_model
    # restarts at initial_scale, so `scale` above does not show what the file holds).
    file_scale = None
    if os.path.isdir(path):
        import tensorflow as tf
        reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
        key = "optimizer/loss_scale/current_loss_scale/.ATTRIBUTES/VARIABLE_VALUE"
        if reader.has_tensor(key):
            file_scale = float(reader.get_tensor(key))
    print(json.dumps({"class": type(opt).__name__, "scale": scale_of(opt), "file_scale": file_scale,
                      "policies": [l.dtype_policy.name for l in m.layers],
                      "pred": np.asarray(m(x, training=False), dtype="float64").tolist()}))


def main():
    if sys.argv[1] == "--check":
        check(os.path.join(sys.argv[2], sys.argv[3]), sys.argv[4])
        return
    if sys.argv[1] == "--pass":
        print(json.dumps(run(sys.argv[2], sys.argv[3])))
        return
    out = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    index = {}
    for which in ("k3", "tfk"):
        env = dict(os.environ)
        env.pop("TF_USE_LEGACY_KERAS", None)
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--pass", which, out], env=env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"the {which} pass failed:\n{p.stdout}{p.stderr}")
        index.update(json.loads(p.stdout.strip().splitlines()[-1]))
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"cases": index}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
