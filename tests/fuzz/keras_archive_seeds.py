#!/usr/bin/env python3
"""Seeds for the `.keras` archive fuzzer (tests/fuzz/keras_archive_fuzzer.cpp), written with
Python's zipfile as Keras 3's saving_lib writes them: metadata.json, config.json (the Keras 3
configs of tests/data/keras3_nodes), model.weights.h5 (a small file in Keras 3's weights
layout made with h5py, Debian's python3-h5py, when it is installed), stored members; and the
variants a reader meets elsewhere: deflated members, assets/ with a vocabulary, a directory
entry, data descriptors (written to a stream that cannot seek), ZIP64 extra fields, an archive
without members.
    python3 tests/fuzz/keras_archive_seeds.py OUT    # writes OUT/keras_archive/*.keras
"""
import glob
import io
import json
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.normpath(os.path.join(HERE, "..", "data", "keras3_nodes"))

METADATA = json.dumps({"keras_version": "3.15.1", "date_saved": "2026-12-04@23:53:58"})
SMALL_CONFIG = json.dumps({
    "module": "keras", "class_name": "Sequential", "registered_name": None,
    "config": {"name": "sequential", "trainable": True, "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
         "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "input_layer"}},
        {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
         "config": {"name": "dense", "units": 2, "activation": "linear", "use_bias": True},
         "build_config": {"input_shape": [None, 4]}}]},
    "build_config": {"input_shape": [None, 4]},
    "compile_config": {"optimizer": "adam", "loss": "mse"}})


def weights_h5():
    """A Keras 3 layout weights file (layers/dense/vars/0..1, optimizer/vars/0), or None."""
    try:
        import h5py
        import numpy as np
    except ImportError:
        return None
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        dense = f.create_group("layers/dense/vars")
        dense.attrs["name"] = "dense"
        dense.create_dataset("0", data=np.arange(8, dtype="float32").reshape(4, 2))
        dense.create_dataset("1", data=np.zeros(2, dtype="float32"))
        f.create_group("vars")
        f.create_group("optimizer/vars").create_dataset("0", data=np.int64(3))
    return buffer.getvalue()


class Unseekable:
    def __init__(self, f):
        self.f = f

    def write(self, b):
        return self.f.write(b)

    def flush(self):
        self.f.flush()


def archive(path, members, compression=zipfile.ZIP_STORED, stream=False, zip64=False):
    with open(path, "wb") as raw:
        with zipfile.ZipFile(Unseekable(raw) if stream else raw, "w", compression=compression) as z:
            for name, data in members:
                if name.endswith("/"):
                    z.writestr(name, b"")
                    continue
                with z.open(name, "w", force_zip64=zip64) as f:
                    f.write(data if isinstance(data, bytes) else data.encode())


def main():
    out = os.path.join(sys.argv[1], "keras_archive")
    os.makedirs(out, exist_ok=True)
    weights = weights_h5()
    base = [("metadata.json", METADATA), ("config.json", SMALL_CONFIG)]
    if weights is not None:
        base.append(("model.weights.h5", weights))
    archive(os.path.join(out, "sequential.keras"), base)
    archive(os.path.join(out, "deflated.keras"), base, compression=zipfile.ZIP_DEFLATED)
    archive(os.path.join(out, "streamed.keras"), base, compression=zipfile.ZIP_DEFLATED, stream=True)
    archive(os.path.join(out, "zip64.keras"), base, zip64=True)
    archive(os.path.join(out, "assets.keras"),
            base + [("assets/", b""), ("assets/string_lookup/vocabulary.txt", "[UNK]\nthe\nzip\n")])
    for path in sorted(glob.glob(os.path.join(CONFIGS, "*.json"))):
        if os.path.basename(path) == "index.json":
            continue
        with open(path) as f:
            config = f.read()
        name = os.path.splitext(os.path.basename(path))[0]
        archive(os.path.join(out, name + ".keras"), [("metadata.json", METADATA), ("config.json", config)])
    archive(os.path.join(out, "empty.keras"), [])
    print("%d seeds in %s" % (len(os.listdir(out)), out))


if __name__ == "__main__":
    main()
