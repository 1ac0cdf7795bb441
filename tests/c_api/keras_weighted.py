"""tf-keras's side of c_api.CApiWeightedInterop: Keras's sample_weight on a compiled H5 file.

usage: keras_weighted.py MODEL.h5 X.npy Y.npy OUT_DIR
Loads MODEL.h5 with its training configuration and optimizer state (load_model, compile=True),
then, on x/y with the sample weights W = [0.5, 1, 2, 0, 3, 1.5] (written to OUT_DIR/w.npy as
float32), in this order:
  test_on_batch(x, y, sample_weight=W)
  evaluate(x, y, batch_size=4, sample_weight=W)
  train_on_batch(x[:4], y[:4], sample_weight=W[:4])
  fit(x, y, sample_weight=W, epochs=2, batch_size=2, shuffle=False, validation_split=1/3)
and writes OUT_DIR/results.json ({"test_on_batch": {...}, "evaluate": {...},
"train_on_batch": {...}, "history": {...}}) and OUT_DIR/pred.npy (predict(x) at the end).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402


def floats(d):
    return {k: float(v) for k, v in d.items()}


def main():
    model_path, x_path, y_path, out = sys.argv[1:5]
    model = keras.models.load_model(model_path)
    x, y = np.load(x_path), np.load(y_path)
    w = np.array([0.5, 1.0, 2.0, 0.0, 3.0, 1.5], dtype=np.float32)
    np.save(os.path.join(out, "w.npy"), w)
    results = {
        "test_on_batch": floats(model.test_on_batch(x, y, sample_weight=w, return_dict=True)),
        "evaluate": floats(model.evaluate(x, y, batch_size=4, sample_weight=w, verbose=0, return_dict=True)),
        "train_on_batch": floats(model.train_on_batch(x[:4], y[:4], sample_weight=w[:4], return_dict=True)),
    }
    history = model.fit(x, y, sample_weight=w, epochs=2, batch_size=2, shuffle=False,
                        validation_split=1.0 / 3.0, verbose=0)
    results["history"] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f)
    np.save(os.path.join(out, "pred.npy"), model.predict(x, verbose=0))
    print("keras_weighted.py: ok", keras.__version__)


if __name__ == "__main__":
    main()
