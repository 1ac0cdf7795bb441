#!/usr/bin/env python3
"""Loads Strata's custom-object files in tf-keras (issue 19, label interop).

    custom_objects_load_in_keras.py DIR

DIR holds what tests/plugins/custom/custom_objects_interop_test.cpp wrote with Strata, in
the layout generate_custom_object_files.py uses for tf-keras's files: per kind <kind>.h5,
<kind>_sm/, <kind>.json (each optional), <kind>.w<i>.npy (Strata's weights), <kind>.pred.npy
(Strata's predictions on x.npy), <kind>.next<i>.npy (Strata's weights after one more
train_on_batch from the saved state) and <kind>.ref.json (Strata's evaluate). Each file is
loaded with the Python classes of generate_custom_object_files.py given as custom_objects;
tf-keras then predicts, evaluates and trains one step itself, and its numbers are compared
with Strata's. Prints one line per file:
  CELL <kind> <format> OK
  CELL <kind> <format> FAIL <what differed>
and exits 0 unless it could not run at all.
"""
import json
import os
import sys
import traceback
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
warnings.filterwarnings("ignore")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

from generate_custom_object_files import CUSTOM_OBJECTS, KINDS  # noqa: E402

TOL = 1e-5
# tf-keras 2.17's H5 reader and model_from_json look nested objects (initializers, regularizers,
# constraints, schedules) and a subclassed model's JSON up by their bare class name, not by the
# registered "Interop>Name" the file also holds: users pass both, and so does this script.
OBJECTS = dict(CUSTOM_OBJECTS)
OBJECTS.update({name.split(">")[1]: value for name, value in CUSTOM_OBJECTS.items()})

# Where tf-keras 2.17 does not restore the optimizer state of its own file (checked on the
# files of generate_custom_object_files.py: the loaded optimizer starts fresh), the step after
# the load is not compared: tf-keras's step would differ from its own in-process one too.
NO_STEP = {("optimizer", "h5"): "tf-keras restores no custom-optimizer state from H5",
           ("optimizer", "savedmodel"): "tf-keras restores no optimizer state from a SavedModel",
           ("schedule", "savedmodel"): "tf-keras restores no optimizer iterations from a SavedModel"}


def weights(d, kind, stem):
    out, i = [], 0
    while os.path.exists(os.path.join(d, "%s.%s%d.npy" % (kind, stem, i))):
        out.append(np.load(os.path.join(d, "%s.%s%d.npy" % (kind, stem, i))))
        i += 1
    return out


def differs(what, got, want):
    got, want = np.asarray(got, "float64"), np.asarray(want, "float64")
    if got.shape != want.shape:
        return "%s: shape %s, Strata %s" % (what, got.shape, want.shape)
    worst = float(np.max(np.abs(got - want))) if got.size else 0.0
    return "%s: max |tf-keras - Strata| = %g" % (what, worst) if worst > TOL else None


def check(d, kind, fmt, x, y):
    ref = json.load(open(os.path.join(d, kind + ".ref.json")))
    saved = weights(d, kind, "w")
    problems, note = [], ""
    if fmt == "json":
        model = keras.models.model_from_json(open(os.path.join(d, kind + ".json")).read(),
                                             custom_objects=OBJECTS)
        model(x)
        model.set_weights(saved)
    else:
        path = os.path.join(d, kind + (".h5" if fmt == "h5" else "_sm"))
        model = keras.models.load_model(path, custom_objects=OBJECTS)
        got = model.get_weights()
        if len(got) != len(saved):
            problems.append("%d weights, Strata %d" % (len(got), len(saved)))
        else:
            problems += [differs("weight %d" % i, g, s) for i, (g, s) in enumerate(zip(got, saved))]
    problems.append(differs("predict", model.predict(x, verbose=0), np.load(os.path.join(d, kind + ".pred.npy"))))
    if fmt != "json":
        if model.optimizer is None or not model.compiled_loss:
            problems.append("not compiled")
        else:
            logs = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
            for key, want in ref["evaluate"].items():
                if key not in logs:
                    problems.append("evaluate has no %r (has %s)" % (key, sorted(logs)))
                else:
                    problems.append(differs("evaluate " + key, logs[key], want))
            if (kind, fmt) in NO_STEP:
                note = " (step not compared: %s)" % NO_STEP[(kind, fmt)]
            else:
                model.train_on_batch(x, y)
                problems += [differs("weight %d after a step" % i, g, s)
                             for i, (g, s) in enumerate(zip(model.get_weights(), weights(d, kind, "next")))]
    problems = [p for p in problems if p]
    return "OK" + note if not problems else "FAIL " + "; ".join(problems)


def main(d):
    x, y = np.load(os.path.join(d, "x.npy")), np.load(os.path.join(d, "y.npy"))
    for kind in KINDS:
        for fmt, name in (("h5", kind + ".h5"), ("savedmodel", kind + "_sm"), ("json", kind + ".json")):
            if not os.path.exists(os.path.join(d, name)):
                continue
            try:
                result = check(d, kind, fmt, x, y)
            except Exception as e:  # noqa: BLE001 - reported per cell
                last = traceback.extract_tb(e.__traceback__)[-1]
                result = "FAIL %s: %s (%s:%d)" % (type(e).__name__, str(e).replace("\n", " ")[:400],
                                                  os.path.basename(last.filename), last.lineno)
            print("CELL %s %s %s" % (kind, fmt, result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
