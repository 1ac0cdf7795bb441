#!/usr/bin/env python3
"""What the interop venv's TensorFlow / tf-keras (2.21 since issue 18; 2.17 before) make of a
SavedModel directory Strata wrote.

    savedmodel_load_in_keras.py DIR X.npy STRATA_Y.npy [TX.npy TY.npy]

Prints one line per level, each "ok ..." or "FAILED <exception type>: <message>":
  tf-load:    tf.saved_model.load(DIR).signatures["serving_default"](<input key>=X)[<first output key>],
              compared with Strata's predictions STRATA_Y (max abs difference <= 1e-5)
  call:       the loaded object's __call__(X) (Keras's traced call, training=False)
  cli:        saved_model_cli show --all lists serving_default with its input's shape
  cli-run:    saved_model_cli run (TF1 session loader: the graph_def's placeholders,
              variable handles, restore op and StatefulPartitionedCall) on X, against STRATA_Y
  keras-load: tf_keras.models.load_model(DIR).predict(X) against STRATA_Y, and the
              optimizer the loaded model was compiled with (from the training config)
  keys:       the serving signature's input and output keys equal those of the SavedModel
              tf-keras writes of the model it loaded (keyed by the model's input and output names)
  keras-fit:  (with TX, TY) that model's fit(TX, TY) for 2 epochs: the loss is finite and,
              evaluated again, lower than before (the guide's "fit after load_model")
  checkpoint: tf.train.load_checkpoint(DIR/variables/variables)
Exit status: 0 when every level is ok; 1 otherwise.
"""
import os
import re
import subprocess
import sys
import tempfile

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402


def first_line(e):
    text = str(e)
    return "%s: %s" % (type(e).__name__, text.splitlines()[0] if text else "")


def signature_keys(d):
    f = tf.saved_model.load(d).signatures["serving_default"]
    return sorted(f.structured_input_signature[1].keys()), sorted(f.structured_outputs.keys())


def main():
    d, x, want = sys.argv[1], np.load(sys.argv[2]), np.load(sys.argv[3])
    ok = True
    in_key, out_key = "input_1", "output_1"
    try:
        loaded = tf.saved_model.load(d)
        sig = loaded.signatures["serving_default"]
        in_key = sorted(sig.structured_input_signature[1].keys())[0]
        out_key = sorted(sig.structured_outputs.keys())[0]
        y = sig(**{in_key: tf.constant(x)})[out_key].numpy()
        diff = float(np.max(np.abs(y - want)))
        print("tf-load: %s max_abs_diff %g" % ("ok" if diff <= 1e-5 else "DIFFERS", diff))
        ok = ok and diff <= 1e-5
        y = loaded(tf.constant(x)).numpy()
        diff = float(np.max(np.abs(y - want)))
        print("call: %s max_abs_diff %g" % ("ok" if diff <= 1e-5 else "DIFFERS", diff))
        ok = ok and diff <= 1e-5
    except Exception as e:  # noqa: BLE001 - we report whatever TF says
        print("tf-load: FAILED " + first_line(e))
        ok = False
    cli = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir", d, "--all"],
                         capture_output=True, text=True)
    # The batch is unknown (-1); so may be other dimensions (a sequence of unknown length).
    shape = "shape: (-1, " + ", ".join(str(s) for s in x.shape[1:]) + ")"
    pattern = re.escape("shape: (-1") + "".join(re.escape(", ") + "(-1|%d)" % s for s in x.shape[1:]) + re.escape(")")
    found = re.search(pattern, cli.stdout)
    shape = found.group(0) if found else shape
    listed = cli.returncode == 0 and "signature_def['serving_default']" in cli.stdout and found is not None
    print("cli: " + ("ok serving_default, " + in_key + " " + shape if listed else "FAILED " + cli.stdout[-300:] + cli.stderr[-300:]))
    ok = ok and listed
    with tempfile.TemporaryDirectory() as out_dir:
        x_file = os.path.join(out_dir, "x.npy")
        np.save(x_file, x)
        run = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run", "--dir", d,
                              "--tag_set", "serve", "--signature_def", "serving_default", "--inputs",
                              in_key + "=" + x_file, "--outdir", os.path.join(out_dir, "y")],
                             capture_output=True, text=True)
        y_file = os.path.join(out_dir, "y", out_key + ".npy")
        if run.returncode == 0 and os.path.exists(y_file):
            diff = float(np.max(np.abs(np.load(y_file) - want)))
            print("cli-run: %s max_abs_diff %g" % ("ok" if diff <= 1e-5 else "DIFFERS", diff))
            ok = ok and diff <= 1e-5
        else:
            print("cli-run: FAILED " + (run.stderr.strip().splitlines() or ["(no output)"])[-1])
            ok = False
    m = None
    try:
        m = keras.models.load_model(d)
        diff = float(np.max(np.abs(m.predict(x, verbose=0) - want)))
        optimizer = type(m.optimizer).__name__ if m.optimizer is not None else "none"
        print("keras-load: %s max_abs_diff %g optimizer %s" % ("ok" if diff <= 1e-5 else "DIFFERS", diff, optimizer))
        ok = ok and diff <= 1e-5
    except Exception as e:  # noqa: BLE001
        print("keras-load: FAILED " + first_line(e))
        ok = False
    if m is not None:
        try:
            with tempfile.TemporaryDirectory() as resaved:
                m.save(resaved, save_format="tf")
                theirs, ours = signature_keys(resaved), signature_keys(d)
            same = theirs == ours
            print("keys: %s strata %s tf-keras %s" % ("ok" if same else "DIFFER", ours, theirs))
            ok = ok and same
        except Exception as e:  # noqa: BLE001
            print("keys: FAILED " + first_line(e))
            ok = False
    if m is not None and len(sys.argv) > 5:
        try:
            tx, ty = np.load(sys.argv[4]), np.load(sys.argv[5])
            before = m.evaluate(tx, ty, verbose=0)
            before = before[0] if isinstance(before, list) else before
            m.fit(tx, ty, epochs=2, verbose=0)
            after = m.evaluate(tx, ty, verbose=0)
            after = after[0] if isinstance(after, list) else after
            good = bool(np.isfinite(after)) and after < before
            print("keras-fit: %s loss %.6g -> %.6g" % ("ok" if good else "NOT-LEARNING", before, after))
            ok = ok and good
        except Exception as e:  # noqa: BLE001
            print("keras-fit: FAILED " + first_line(e))
            ok = False
    try:
        r = tf.train.load_checkpoint(os.path.join(d, "variables", "variables"))
        print("checkpoint: ok", len(r.get_variable_to_shape_map()), "keys")
    except Exception as e:  # noqa: BLE001
        print("checkpoint: FAILED " + first_line(e))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
