"""tf-keras SavedModels of recurrent models over sequences of any length.

For tests/interop/dynamic_recurrent_test.cpp (run at test time, cached): the model's input is
Input((None, 3)), so the While loop of its traced call runs as many times as the input is long,
known only at run time. For each model OUT/<name>/ holds
  model/                 the model saved with save_format="tf"
  x<k>.npy, traced<k>.npy  inputs of length k (k = 2, 5, 7; batches 3, 2, 3) and what the
                         SavedModel's restored call gives for them (tf.saved_model.load(dir)(x,
                         training=False)): TensorFlow running the traces Strata revives
and OUT/index.json lists the models and lengths.
Usage: python generate_dynamic_recurrent.py --out DIR
"""
import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
import tf_keras as keras  # noqa: E402

L = keras.layers
LENGTHS = {2: 3, 5: 2, 7: 3}  # length -> batch


def models():
    i = keras.Input((None, 3))
    yield "lstm", keras.Model(i, L.Dense(2)(L.LSTM(4)(i)))
    i = keras.Input((None, 3))
    yield "gru_sequences", keras.Model(i, L.GRU(4, return_sequences=True)(i))


def main():
    out = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    index = {}
    for seed, (name, m) in enumerate(models()):
        r = np.random.RandomState(40 + seed)
        m.set_weights([r.uniform(-0.5, 0.5, w.shape).astype("float32") for w in m.get_weights()])
        d = os.path.join(out, name)
        os.makedirs(d)
        m.save(os.path.join(d, "model"), save_format="tf")
        restored = tf.saved_model.load(os.path.join(d, "model"))
        for length, batch in LENGTHS.items():
            x = r.uniform(-1, 1, (batch, length, 3)).astype("float32")
            np.save(os.path.join(d, f"x{length}.npy"), x)
            np.save(os.path.join(d, f"traced{length}.npy"), restored(tf.constant(x), training=False).numpy())
        index[name] = {"lengths": sorted(LENGTHS)}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"models": index}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
