"""tf-keras's own fit on the files that tests/cli/cli_fit_interop_test.cpp gives `strata fit`.

python generate_cli_fit.py --out DIR writes, for each case NAME:
  NAME.h5                 the compiled model before training (the file both sides start from)
  NAME.x<i>.npy, NAME.y<i>.npy   the data, in the model's input/output order
  NAME.keras_history.json History.history of tf-keras's fit(epochs=2, batch_size=16, shuffle=False)
                          on NAME.h5 loaded back, and NAME.keras_w<i>.npy its weights after it
                          (model.weights order)
  NAME.e1.h5              after one epoch of that fit, saved with its optimizer state
  NAME.resume_history.json, NAME.resume_w<i>.npy  tf-keras loading NAME.e1.h5 and fitting the
                          second epoch (initial_epoch=1, epochs=2)
and, for `strata convert CKPT OUT --weights-into ARCH`: convert.ckpt* (tf-keras's save_weights
of a compiled, trained model: weights and Adam's values), convert.json (its to_json),
convert.compiled.h5 (the same model compiled, untrained: other weights), convert.w<i>.npy (the
trained weights); and meta.json ({"cases": {NAME: {"inputs": n, "outputs": m, "weights": k}}, "tf_keras": ...}).
Shuffling is off on both sides: Keras shuffles with its own generator, which Strata does not
reproduce.
"""
import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import layers  # noqa: E402

EPOCHS = 2
BATCH = 16


def sequential():
    model = keras.Sequential([
        layers.Dense(8, activation="relu", input_shape=(4,), name="hidden"),
        layers.Dense(3, name="head"),
    ], name="seq")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    rng = np.random.default_rng(1)
    return model, [rng.standard_normal((48, 4)).astype("float32")], [rng.standard_normal((48, 3)).astype("float32")]


def conv_sgd():
    model = keras.Sequential([
        layers.Conv2D(3, 3, activation="relu", input_shape=(6, 6, 2), name="conv"),
        layers.Flatten(name="flat"),
        layers.Dense(4, activation="softmax", name="probs"),
    ], name="conv_sgd")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(2)
    return model, [rng.standard_normal((40, 6, 6, 2)).astype("float32")], [rng.integers(0, 4, (40,)).astype("int64")]


def two_in_two_out():
    a = keras.Input((4,), name="a")
    b = keras.Input((2,), name="b")
    h = layers.Dense(5, activation="tanh", name="mix")(layers.Concatenate(name="cat")([a, b]))
    out1 = layers.Dense(2, name="out1")(h)
    out2 = layers.Dense(1, activation="sigmoid", name="out2")(h)
    model = keras.Model([a, b], [out1, out2], name="two_io")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss=["mse", "binary_crossentropy"],
                  metrics=[["mae"], ["accuracy"]])
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((32, 4)).astype("float32"), rng.standard_normal((32, 2)).astype("float32")]
    ys = [rng.standard_normal((32, 2)).astype("float32"), rng.integers(0, 2, (32, 1)).astype("float32")]
    return model, xs, ys


CASES = {"seq_adam": sequential, "conv_sgd": conv_sgd, "two_io": two_in_two_out}


def history_dict(h):
    return {k: [float(v) for v in vs] for k, vs in h.history.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    meta = {"cases": {}, "tf_keras": keras.__version__}
    for name, make in CASES.items():
        keras.utils.set_random_seed(7)
        model, xs, ys = make()
        path = lambda suffix: os.path.join(args.out, name + suffix)  # noqa: E731
        model.save(path(".h5"))
        for i, x in enumerate(xs):
            np.save(path(f".x{i}.npy"), x)
        for i, y in enumerate(ys):
            np.save(path(f".y{i}.npy"), y)
        # Two epochs from the file, as strata fit starts from it.
        m = keras.models.load_model(path(".h5"))
        h = m.fit(xs, ys, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0)
        with open(path(".keras_history.json"), "w") as f:
            json.dump(history_dict(h), f)
        for i, w in enumerate(m.weights):
            np.save(path(f".keras_w{i}.npy"), w.numpy())
        # One epoch, saved with the optimizer's state; then the second from that file.
        m = keras.models.load_model(path(".h5"))
        m.fit(xs, ys, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
        m.save(path(".e1.h5"))
        r = keras.models.load_model(path(".e1.h5"))
        h = r.fit(xs, ys, epochs=EPOCHS, initial_epoch=1, batch_size=BATCH, shuffle=False, verbose=0)
        with open(path(".resume_history.json"), "w") as f:
            json.dump(history_dict(h), f)
        for i, w in enumerate(r.weights):
            np.save(path(f".resume_w{i}.npy"), w.numpy())
        meta["cases"][name] = {"inputs": len(xs), "outputs": len(ys), "weights": len(m.weights)}
    keras.utils.set_random_seed(8)
    model, xs, ys = sequential()
    model.save(os.path.join(args.out, "convert.compiled.h5"))
    model, xs, ys = sequential()
    model.fit(xs, ys, epochs=1, batch_size=BATCH, verbose=0)
    model.save_weights(os.path.join(args.out, "convert.ckpt"))
    with open(os.path.join(args.out, "convert.json"), "w") as f:
        f.write(model.to_json())
    for i, w in enumerate(model.weights):
        np.save(os.path.join(args.out, f"convert.w{i}.npy"), w.numpy())
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
