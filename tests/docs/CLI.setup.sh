#!/bin/bash
# The doc test's setup for docs/CLI.md: the files its examples name, made with the CLI under
# test. model.json: a Sequential model, 4 inputs -> Dense(2); x.npy: two rows of 4 float32;
# my_savedmodel: that model as a SavedModel; weights_ckpt: its weights as a TF checkpoint.
# The npz format of examples/custom_format_plugin is on STRATA_PLUGIN_PATH (.doc-env).
npz=$(find "$STRATA_DOC_BUILD/examples" -name strata-format-npz.so -print -quit)
if [ -z "$npz" ]; then
  echo "the npz plugin of examples/custom_format_plugin is not built"
  exit 77
fi
echo "export STRATA_PLUGIN_PATH='$(dirname "$npz")'" > .doc-env
cat > model.json <<'JSON'
{"class_name": "Sequential", "config": {"name": "sequential", "layers": [
  {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_1"}},
  {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 2, "activation": "relu", "use_bias": true}}]},
 "keras_version": "2.17.0", "backend": "tensorflow"}
JSON
python3 - <<'PY'
import struct
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open("x.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<8f", 1, 2, 3, 4, -1, -2, -3, -4))
PY
strata convert model.json my_savedmodel > /dev/null
strata convert model.json .whole_model.h5 > /dev/null
strata convert .whole_model.h5 weights_ckpt --weights-into model.json > /dev/null
# With the interop venv (the venv-marked block): files TensorFlow writes.
if [ -n "${STRATA_DOC_VENV:-}" ]; then
  "$STRATA_DOC_VENV/bin/python" - > .venv-setup.log 2>&1 <<'PY' || { cat .venv-setup.log; exit 1; }
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np
import tf_keras as keras
import keras as keras3

rng = np.random.default_rng(0)
x = np.load("x.npy")

def dense_model():  # model.json's architecture, so that ckpt's object names match it
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="relu", name="dense")])

m = dense_model()
m.compile(optimizer="adam", loss="mse", metrics=["mae"])
m.fit(x, rng.normal(size=(2, 2)).astype("float32"), epochs=1, verbose=0)
m.save("compiled.h5")
m.save_weights("ckpt")  # TF checkpoint: the weights and the optimizer's values

a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
h = keras.layers.Concatenate()([a, b])
two = keras.Model([a, b], [keras.layers.Dense(1, name="out1")(h), keras.layers.Dense(2, name="out2")(h)])
two.compile(optimizer="sgd", loss=["mse", "mae"])
two.save("two_io.h5")
for name, shape in [("a", (6, 4)), ("b", (6, 3)), ("out1", (6, 1)), ("out2", (6, 2))]:
    np.save(name + ".npy", rng.normal(size=shape).astype("float32"))
np.save("w.npy", rng.uniform(0.0, 2.0, size=(6,)).astype("float32"))  # one weight per sample

feats = keras3.Input((4,), name="feats")
k3 = keras3.Model(feats, keras3.layers.Dense(2)(feats))
k3.export("exported_savedmodel", verbose=False)
PY
fi
