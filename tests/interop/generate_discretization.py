"""Adapted tf-keras Discretization layers in every file tf-keras writes them to.

For tests/interop/discretization_test.cpp (run at test time, cached). An adapted layer keeps
its state in the weight `summary` of shape (2, None), whose length depends on the adapted data.
Each case OUT/<name>/ holds
  saved.h5, saved_sm/, saved.keras   a Functional model Input((3,)) -> Discretization, as
                  tf-keras saves it (H5, SavedModel, its own `.keras`)
  x.npy           inputs (float32, some equal to the boundaries)
  pred.npy        the model's prediction on x (int64), before saving
and index.json lists each case's summary shape and bin_boundaries. Cases:
  d10             adapted on 10 samples, num_bins 4 (summary (2, 10), compressed to 4 bins)
  d1000           adapted on 1000 samples, num_bins 5 (summary (2, 100): epsilon 0.01)
  d10_many        adapted on 10 samples, num_bins 20 (fewer columns than bins: uncompressed)
  d1000_count     adapted on 1000 samples, num_bins 7, epsilon 0.02, output_mode "count"
With --check FILE XNPY: tf-keras loads FILE and prints its prediction on XNPY and the layer's
bin_boundaries as JSON.
Usage: python generate_discretization.py --out DIR
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_USE_LEGACY_KERAS"] = "1"

CASES = {
    "d10": dict(samples=10, num_bins=4),
    "d1000": dict(samples=1000, num_bins=5),
    "d10_many": dict(samples=10, num_bins=20),
    "d1000_count": dict(samples=1000, num_bins=7, epsilon=0.02, output_mode="count"),
}


def generate(out):
    import numpy as np
    import tf_keras as keras

    index = {}
    for seed, (name, case) in enumerate(sorted(CASES.items())):
        r = np.random.RandomState(20 + seed)
        d = os.path.join(out, name)
        os.makedirs(d)
        data = r.normal(size=(case["samples"],)).astype("float32")
        kwargs = {k: v for k, v in case.items() if k != "samples"}
        layer = keras.layers.Discretization(**kwargs)
        layer.adapt(data)
        i = keras.Input((3,))
        m = keras.Model(i, layer(i))
        boundaries = [float(b) for b in layer.bin_boundaries]
        x = r.normal(size=(5, 3)).astype("float32")
        x.flat[: min(len(boundaries), 6)] = np.asarray(boundaries[:6], dtype="float32")
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "pred.npy"), np.asarray(m.predict(x, verbose=0)).astype("int64"))
        m.save(os.path.join(d, "saved.h5"))
        m.save(os.path.join(d, "saved_sm"), save_format="tf")
        m.save(os.path.join(d, "saved.keras"))
        index[name] = {"summary_shape": list(layer.summary.numpy().shape), "bin_boundaries": boundaries}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"cases": index}, f, indent=1, sort_keys=True)


def check(path, xnpy):
    import numpy as np
    import tf_keras as keras

    m = keras.models.load_model(path)
    layer = [l for l in m.layers if isinstance(l, keras.layers.Discretization)][0]
    x = np.load(xnpy)
    print(json.dumps({"pred": np.asarray(m.predict(x, verbose=0)).astype("int64").tolist(),
                      "bin_boundaries": [float(b) for b in layer.bin_boundaries]}))


def main():
    if sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3])
        return
    out = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    generate(out)


if __name__ == "__main__":
    main()
