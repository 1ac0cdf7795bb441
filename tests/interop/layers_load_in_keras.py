"""The layer harness's way back: tf-keras and Keras 3 load the files Strata wrote.

tests/plugins/layers/tfkeras_layers_test.cpp writes DIR/manifest.json:
  {"models": {NAME: {"inputs": n, "outputs": n, "atol": a,
                     "files": {"h5": PATH, "savedmodel": PATH, "keras": PATH}}}}
with DIR/NAME/x<i>.npy (inputs) and DIR/NAME/y<i>.npy (the outputs Strata's model must have,
which are tf-keras's). tf-keras loads the h5 and savedmodel files (this process), Keras 3 the
keras archives (a second process, without TF_USE_LEGACY_KERAS); each model is called with
training=False and compared with y. Writes DIR/results.json:
  {NAME: {FORMAT: {"ok": bool, "detail": str}}}

Usage: python layers_load_in_keras.py DIR
"""
import json
import os
import subprocess
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""


def check(model, entry, directory):
    import numpy as np

    xs = [np.load(os.path.join(directory, f"x{i}.npy")) for i in range(entry["inputs"])]
    ys = model(xs if len(xs) > 1 else xs[0], training=False)
    ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    if len(ys) != entry["outputs"]:
        return False, f"{len(ys)} outputs, want {entry['outputs']}"
    for i, y in enumerate(ys):
        want = np.load(os.path.join(directory, f"y{i}.npy"))
        got = np.asarray(y)
        if got.dtype == object:  # tf.string outputs: bytes objects; the file holds str
            got = np.array([v.decode("utf-8") for v in got.reshape(-1)], dtype=str).reshape(got.shape)
        if got.shape != want.shape:
            return False, f"output {i}: shape {got.shape}, want {want.shape}"
        if want.dtype.kind in "fc":
            diff = float(np.max(np.abs(got.astype("float64") - want.astype("float64")))) if want.size else 0.0
            if not diff <= entry["atol"] + 1e-5 * float(np.max(np.abs(want), initial=0.0)):
                return False, f"output {i}: max |difference| {diff}"
        elif not np.array_equal(got, want):
            return False, f"output {i}: values differ"
    return True, ""


def run(formats, loader):
    directory = sys.argv[1]
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    results = {}
    for name, entry in manifest["models"].items():
        for fmt in formats:
            path = entry["files"].get(fmt)
            if not path:
                continue
            try:
                ok, detail = check(loader(fmt, path), entry, os.path.join(directory, name))
            except Exception as e:
                ok, detail = False, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
            results.setdefault(name, {})[fmt] = {"ok": ok, "detail": detail}
    return results


def main():
    if len(sys.argv) > 2 and sys.argv[2] == "--keras3":
        import keras

        print(json.dumps(run(["keras"], lambda fmt, path: keras.saving.load_model(path))))
        return
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras

    # tf-keras exports SpectralNormalization but leaves it out of its own deserialization table
    # (tf_keras/src/layers/serialization.py), so it cannot load even its own H5 with one without
    # custom_objects; a user passes it as here.
    custom = {"SpectralNormalization": tf_keras.layers.SpectralNormalization}
    results = run(["h5", "savedmodel"], lambda fmt, path: tf_keras.models.load_model(path, custom_objects=custom))
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)
    k3 = subprocess.run([sys.executable, os.path.abspath(__file__), sys.argv[1], "--keras3"], env=env,
                        capture_output=True, text=True)
    if k3.returncode != 0:
        sys.exit("the Keras 3 process failed:\n" + k3.stdout + k3.stderr)
    for name, by_format in json.loads(k3.stdout.strip().splitlines()[-1]).items():
        results.setdefault(name, {}).update(by_format)
    with open(os.path.join(sys.argv[1], "results.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
