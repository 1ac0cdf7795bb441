"""The optimizer options Keras runs in the base optimizer, computed by real Keras.

For tests/interop/optimizer_options_test.cpp (run at test time, cached): use_ema (with and
without ema_overwrite_frequency) in tf-keras 2.11+ and Keras 3, and Keras 3's
gradient_accumulation_steps and loss_scale_factor, on Adam, SGD (with and without momentum),
RMSprop and Nadam. For each case OUT/<name>/ holds
  initial.keras | initial.h5  the compiled, untrained model (Keras 3 archive / tf-keras H5)
  x<b>.npy, y<b>.npy          the batches b = 0..4
  step<k>_w<i>.npy            model.trainable_weights[i] after train_on_batch of batches 0..k
  mid.keras | mid.h5          the model saved after batches 0..1 (with the optimizer state)
  fit_w<i>.npy                the weights after fit over the five batches (batch 8, no shuffle)
                              from the initial model (Keras finalizes: use_ema's averages)
OUT/index.json lists the cases (keras: "3" or "tf_keras", optimizer config, counts).

`--resume NAME DIR FILE` (used by the test): Keras 3 loads FILE (Strata's archive saved after
batches 0..1), trains batches 2..4 and prints the largest relative difference from
step4_w<i>.npy as JSON.

Usage: python generate_optimizer_options.py --out DIR
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

BATCHES = 5
MID = 2  # batches trained before the mid save

CASES = [
    # (name, which Keras, optimizer class, its keyword arguments)
    ("k3_adam_ema", "3", "Adam", dict(learning_rate=0.05, use_ema=True, ema_momentum=0.9)),
    ("k3_sgd_ema_overwrite", "3", "SGD", dict(learning_rate=0.1, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=2)),
    ("k3_adam_accumulate", "3", "Adam", dict(learning_rate=0.05, gradient_accumulation_steps=2)),
    ("k3_sgd_accumulate", "3", "SGD", dict(learning_rate=0.1, gradient_accumulation_steps=3)),
    ("k3_momentum_accumulate_ema", "3", "SGD",
     dict(learning_rate=0.1, momentum=0.9, gradient_accumulation_steps=2, use_ema=True, ema_momentum=0.7)),
    ("k3_rmsprop_loss_scale", "3", "RMSprop", dict(learning_rate=0.01, loss_scale_factor=3.0)),
    ("k3_adam_loss_scale_pow2", "3", "Adam", dict(learning_rate=0.05, loss_scale_factor=1024.0)),
    ("k3_nadam_ema", "3", "Nadam", dict(learning_rate=0.02, use_ema=True)),
    ("tfk_adam_ema", "tf_keras", "Adam", dict(learning_rate=0.05, use_ema=True, ema_momentum=0.9)),
    ("tfk_sgd_ema_overwrite", "tf_keras", "SGD",
     dict(learning_rate=0.1, momentum=0.5, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=3)),
]


def data(np):
    r = np.random.RandomState(11)
    xs = [r.uniform(-1, 1, (8, 4)).astype("float32") for _ in range(BATCHES)]
    ys = [r.uniform(-1, 1, (8, 2)).astype("float32") for _ in range(BATCHES)]
    return xs, ys


def build(keras, cls, kwargs, np):
    i = keras.Input((4,))
    h = keras.layers.Dense(3, activation="tanh", name="hidden")(i)
    o = keras.layers.Dense(2, name="out")(h)
    model = keras.Model(i, o)
    r = np.random.RandomState(5)
    model.set_weights([r.uniform(-0.6, 0.6, w.shape).astype("float32") for w in model.get_weights()])
    model.compile(optimizer=getattr(keras.optimizers, cls)(**kwargs), loss="mse")
    return model


def run(which, out):
    if which == "tf_keras":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tf_keras as keras
        ext = "h5"
    else:
        os.environ.pop("TF_USE_LEGACY_KERAS", None)
        import keras
        ext = "keras"
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    xs, ys = data(np)
    index = {}
    for name, w, cls, kwargs in CASES:
        if w != which:
            continue
        d = os.path.join(out, name)
        os.makedirs(d)
        for b in range(BATCHES):
            np.save(os.path.join(d, f"x{b}.npy"), xs[b])
            np.save(os.path.join(d, f"y{b}.npy"), ys[b])
        model = build(keras, cls, kwargs, np)
        model.save(os.path.join(d, "initial." + ext))
        for b in range(BATCHES):
            model.train_on_batch(xs[b], ys[b])
            for i, v in enumerate(model.trainable_weights):
                np.save(os.path.join(d, f"step{b}_w{i}.npy"), v.numpy())
            if b == MID - 1:
                model.save(os.path.join(d, "mid." + ext))
        model = build(keras, cls, kwargs, np)
        model.fit(np.concatenate(xs), np.concatenate(ys), batch_size=8, epochs=1, shuffle=False, verbose=0)
        for i, v in enumerate(model.trainable_weights):
            np.save(os.path.join(d, f"fit_w{i}.npy"), v.numpy())
        index[name] = {"keras": which, "ext": ext, "optimizer": cls, "kwargs": kwargs, "batches": BATCHES, "mid": MID,
                       "trainable": len(model.trainable_weights)}
    return index


def resume(name, d, path):
    os.environ.pop("TF_USE_LEGACY_KERAS", None)
    import keras
    import numpy as np

    model = keras.saving.load_model(path)
    for b in range(MID, BATCHES):
        model.train_on_batch(np.load(os.path.join(d, f"x{b}.npy")), np.load(os.path.join(d, f"y{b}.npy")))
    worst = 0.0
    for i, v in enumerate(model.trainable_weights):
        want = np.load(os.path.join(d, f"step{BATCHES - 1}_w{i}.npy"))
        worst = max(worst, float(np.max(np.abs(v.numpy() - want) / (np.abs(want) + 1e-6))))
    print(json.dumps({"case": name, "worst_relative": worst}))


def main():
    if sys.argv[1] == "--resume":
        resume(*sys.argv[2:5])
        return
    if sys.argv[1] == "--pass":
        print(json.dumps(run(sys.argv[2], sys.argv[3])))
        return
    assert sys.argv[1] == "--out"
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    index = {}
    for which in ("3", "tf_keras"):  # one process each: TF_USE_LEGACY_KERAS is read at import
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
