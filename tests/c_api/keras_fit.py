"""tf-keras's side of c_api.CApiTrainingInterop: fit a compiled H5 file as Keras does.

usage: keras_fit.py MODEL.h5 X.npy Y.npy OUT_DIR
Loads MODEL.h5 with its training configuration and optimizer state (load_model, compile=True),
fits x/y with epochs=3, batch_size=2, shuffle=False, validation_split=1/3, verbose=0, and writes
OUT_DIR/history.json (json.dumps(history.history)) and OUT_DIR/pred.npy (predict(x) after fit).
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402


def main():
    model_path, x_path, y_path, out = sys.argv[1:5]
    model = keras.models.load_model(model_path)
    x, y = np.load(x_path), np.load(y_path)
    history = model.fit(x, y, epochs=3, batch_size=2, shuffle=False, validation_split=1.0 / 3.0, verbose=0)
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, f)
    np.save(os.path.join(out, "pred.npy"), model.predict(x, verbose=0))
    print("keras_fit.py: ok", keras.__version__)


if __name__ == "__main__":
    main()
