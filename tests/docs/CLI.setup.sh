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
