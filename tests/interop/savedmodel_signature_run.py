#!/usr/bin/env python3
"""Runs the serving signature of a SavedModel Strata wrote, by its keys, two ways.

    savedmodel_signature_run.py DIR IN_DIR OUT_DIR

IN_DIR holds one <input key>.npy per signature input. Writes OUT_DIR/tf/<output key>.npy
(tf.saved_model.load(DIR).signatures["serving_default"](**inputs)) and OUT_DIR/cli/<output
key>.npy (saved_model_cli run: TF1's session loader), and prints the signature's keys:
  inputs: k1 k2 ...
  outputs: k1 k2 ...
  tf-keras: <the keys of the SavedModel tf-keras writes of load_model(DIR)>, same form
Exit status: 0 when every step ran.
"""
import os
import subprocess
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402


def keys_of(d):
    f = tf.saved_model.load(d).signatures["serving_default"]
    return f, sorted(f.structured_input_signature[1].keys()), sorted(f.structured_outputs.keys())


def main():
    d, in_dir, out_dir = sys.argv[1:4]
    f, ins, outs = keys_of(d)
    print("inputs: " + " ".join(ins))
    print("outputs: " + " ".join(outs))
    feeds = {k: np.load(os.path.join(in_dir, k + ".npy")) for k in ins}
    results = f(**{k: tf.constant(v) for k, v in feeds.items()})
    os.makedirs(os.path.join(out_dir, "tf"), exist_ok=True)
    for k, v in results.items():
        np.save(os.path.join(out_dir, "tf", k + ".npy"), v.numpy())
    run = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run", "--dir", d,
                          "--tag_set", "serve", "--signature_def", "serving_default", "--inputs",
                          ";".join("%s=%s" % (k, os.path.join(in_dir, k + ".npy")) for k in ins),
                          "--outdir", os.path.join(out_dir, "cli")], capture_output=True, text=True)
    if run.returncode != 0:
        print("saved_model_cli run failed: " + run.stderr[-500:])
        return 1
    m = keras.models.load_model(d)
    resaved = os.path.join(out_dir, "resaved")
    m.save(resaved, save_format="tf")
    _, theirs_in, theirs_out = keys_of(resaved)
    print("tf-keras: inputs: %s outputs: %s" % (" ".join(theirs_in), " ".join(theirs_out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
