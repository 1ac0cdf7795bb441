"""tf-keras's side of tests/cli/cli_named_test.cpp's interop case: a model with two inputs and
two outputs, its arrays given by name and one weight per sample.

python generate_cli_named.py --out DIR writes
  named.h5                 the compiled model before training (inputs "a" (4,), "b" (2,);
                           outputs "out1" (2, mse, mae), "out2" (1, binary_crossentropy, accuracy))
  named.a.npy, named.b.npy, named.out1.npy, named.out2.npy   the data (32 samples)
  named.w.npy              the sample weights (float32, 32)
  named.keras_history.json History.history of fit({"b": b, "a": a}, {"out2": y2, "out1": y1},
                           sample_weight=w, epochs=2, batch_size=16, shuffle=False) on named.h5
                           loaded back, and named.keras_w<i>.npy its weights after it
  named.evaluate.json      evaluate(..., sample_weight=w, batch_size=16, return_dict=True) on
                           named.h5 loaded back (untrained)
  meta.json                {"weights": k, "tf_keras": version}
"""
import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import layers  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = lambda suffix: os.path.join(args.out, "named" + suffix)  # noqa: E731
    keras.utils.set_random_seed(5)
    a = keras.Input((4,), name="a")
    b = keras.Input((2,), name="b")
    h = layers.Dense(5, activation="tanh", name="mix")(layers.Concatenate(name="cat")([a, b]))
    out1 = layers.Dense(2, name="out1")(h)
    out2 = layers.Dense(1, activation="sigmoid", name="out2")(h)
    model = keras.Model([a, b], [out1, out2], name="named")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss=["mse", "binary_crossentropy"],
                  metrics=[["mae"], ["accuracy"]])
    model.save(path(".h5"))
    rng = np.random.default_rng(4)
    data = {"a": rng.standard_normal((32, 4)).astype("float32"), "b": rng.standard_normal((32, 2)).astype("float32"),
            "out1": rng.standard_normal((32, 2)).astype("float32"),
            "out2": rng.integers(0, 2, (32, 1)).astype("float32")}
    w = rng.uniform(0.0, 2.0, (32,)).astype("float32")
    for k, v in data.items():
        np.save(path(f".{k}.npy"), v)
    np.save(path(".w.npy"), w)
    xs = {"b": data["b"], "a": data["a"]}
    ys = {"out2": data["out2"], "out1": data["out1"]}
    m = keras.models.load_model(path(".h5"))
    h = m.fit(xs, ys, sample_weight=w, epochs=2, batch_size=16, shuffle=False, verbose=0)
    with open(path(".keras_history.json"), "w") as f:
        json.dump({k: [float(v) for v in vs] for k, vs in h.history.items()}, f)
    for i, v in enumerate(m.weights):
        np.save(path(f".keras_w{i}.npy"), v.numpy())
    e = keras.models.load_model(path(".h5")).evaluate(xs, ys, sample_weight=w, batch_size=16, verbose=0,
                                                      return_dict=True)
    with open(path(".evaluate.json"), "w") as f:
        json.dump({k: float(v) for k, v in e.items()}, f)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"weights": len(m.weights), "tf_keras": keras.__version__}, f)


if __name__ == "__main__":
    main()
