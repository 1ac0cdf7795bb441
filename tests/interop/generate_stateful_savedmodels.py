"""Stateful recurrent models saved by tf-keras as SavedModels, and tf-keras reading Strata's.

tf-keras writes a stateful layer's current states into a SavedModel (under the layer's
`keras_api/states/<i>`) and its load_model continues from them. Generated at test time into
a cache directory (tests/plugins/savedmodel/stateful_savedmodel_test.cpp), not committed:
each SavedModel is about 600 KB.

  generate --out DIR      for each model M: DIR/M/savedmodel (saved after predicting x1, so the
                          states are not zeros), x1.npy, x2.npy, y1.npy (tf-keras's first
                          predict), continued.npy (tf-keras's load_model of the SavedModel,
                          predicting x2: continues from the saved states), fresh.npy (the same
                          after reset_states: zeros), meta.json
  predict --model DIR --x X.npy --out Y.npy [--reset]
                          tf-keras's load_model(DIR).predict(X) (after reset_states with --reset);
                          checks the states are where tf-keras keeps them first
"""
import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

BATCH = 2
STEPS = 3
FEATURES = 2


def models():
    L = keras.layers
    shape = (BATCH, STEPS, FEATURES)

    def functional(layer):
        inp = keras.Input(batch_shape=shape)
        return keras.Model(inp, layer(inp))

    return {
        "lstm": lambda: functional(L.LSTM(4, stateful=True)),
        "gru": lambda: functional(L.GRU(3, stateful=True, return_sequences=True)),
        "simple_rnn": lambda: functional(L.SimpleRNN(4, stateful=True)),
        "bidirectional_lstm": lambda: functional(L.Bidirectional(L.LSTM(3, stateful=True))),
        "sequential_lstm_gru": lambda: keras.Sequential([
            L.LSTM(4, stateful=True, return_sequences=True, batch_input_shape=shape),
            L.GRU(3, stateful=True),
            L.Dense(2),
        ]),
    }


def state_keys(path):
    reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
    return sorted(k for k in reader.get_variable_to_shape_map() if "/keras_api/states/" in k)


def generate(out):
    for i, (name, make) in enumerate(models().items()):
        np.random.seed(100 + i)
        tf.random.set_seed(100 + i)
        model = make()
        # weights large enough that the states matter
        for w in model.weights:
            w.assign(np.random.uniform(-0.8, 0.8, w.shape).astype("float32"))
        x1 = np.random.uniform(-1, 1, (BATCH, STEPS, FEATURES)).astype("float32")
        x2 = np.random.uniform(-1, 1, (BATCH, STEPS, FEATURES)).astype("float32")
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        y1 = model.predict(x1, batch_size=BATCH, verbose=0)
        model.save(os.path.join(d, "savedmodel"), save_format="tf")
        keys = state_keys(os.path.join(d, "savedmodel"))
        assert keys, f"{name}: tf-keras wrote no states"
        loaded = keras.models.load_model(os.path.join(d, "savedmodel"))
        continued = loaded.predict(x2, batch_size=BATCH, verbose=0)
        assert np.allclose(continued, model.predict(x2, batch_size=BATCH, verbose=0), atol=1e-6)
        loaded.reset_states()
        fresh = loaded.predict(x2, batch_size=BATCH, verbose=0)
        assert np.abs(continued - fresh).max() > 1e-3, f"{name}: the states make no difference"
        for n, a in (("x1", x1), ("x2", x2), ("y1", y1), ("continued", continued), ("fresh", fresh)):
            np.save(os.path.join(d, n + ".npy"), a.astype("float32"))
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump({"state_keys": keys, "tf_keras": keras.__version__, "tensorflow": tf.__version__}, f, indent=1)


def predict(model_dir, x_path, out, reset):
    keys = state_keys(model_dir)
    if not keys:
        sys.exit(f"{model_dir}: no keras_api/states values in variables/")
    model = keras.models.load_model(model_dir)
    if reset:
        model.reset_states()
    x = np.load(x_path)
    np.save(out, model.predict(x, batch_size=x.shape[0], verbose=0).astype("float32"))
    print(json.dumps({"state_keys": keys}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", required=True)
    r = sub.add_parser("predict")
    r.add_argument("--model", required=True)
    r.add_argument("--x", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--reset", action="store_true")
    a = p.parse_args()
    if a.cmd == "generate":
        generate(a.out)
    else:
        predict(a.model, a.x, a.out, a.reset)


if __name__ == "__main__":
    main()
