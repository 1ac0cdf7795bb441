#!/usr/bin/env python3
"""Loads a SavedModel directory with tf-keras and prints what TF says.

    savedmodel_load_in_keras.py DIR X.npy [Y.npy]

Prints "keras-load: ok" plus the max abs difference to Y when tf.keras.models.load_model
works; otherwise "keras-load: FAILED <exception type>: <message>" and then tries
tf.train.load_checkpoint(DIR/variables/variables), printing "checkpoint: ok <n keys>".
Exit status 0 when Keras loaded and matched within 1e-5, 2 when only the checkpoint
level worked, 1 otherwise.
"""
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402


def main():
    d, xpath = sys.argv[1], sys.argv[2]
    x = np.load(xpath)
    try:
        m = keras.models.load_model(d)
        y = m.predict(x, verbose=0)
        diff = float(np.max(np.abs(y - np.load(sys.argv[3])))) if len(sys.argv) > 3 else 0.0
        print("keras-load: ok max_abs_diff", diff)
        return 0 if diff <= 1e-5 else 1
    except Exception as e:  # noqa: BLE001 - we report whatever TF says
        print("keras-load: FAILED %s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    try:
        r = tf.train.load_checkpoint(os.path.join(d, "variables", "variables"))
        print("checkpoint: ok", len(r.get_variable_to_shape_map()), "keys")
        return 2
    except Exception as e:  # noqa: BLE001
        print("checkpoint: FAILED %s: %s" % (type(e).__name__, e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
