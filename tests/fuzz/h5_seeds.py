#!/usr/bin/env python3
"""Seed corpora for the H5 and JSON fuzzers, from the committed fixtures.

    python3 tests/fuzz/h5_seeds.py OUT_DIR

The H5 fuzzers read a JSON description of a file (tests/fuzz/h5_fuzz_file.hpp); this
script describes every tests/data/h5 file with h5py (Debian's python3-h5py):
OUT_DIR/h5_model/<file>.json for every file, OUT_DIR/h5_weights/<n>-<file>.json for the
weight files (options: by position, by name, by name with skip_mismatch), and
OUT_DIR/json_config/<name> with the JSON configs of tests/data/keras and
tests/data/checkpoint and each H5 fixture's model_config.
"""

import glob
import json
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def describe(obj):
    out = {"attrs": {}, "groups": {}, "datasets": {}}
    for name, value in obj.attrs.items():
        if isinstance(value, (bytes, str)):
            out["attrs"][name] = text(value)
        elif isinstance(value, np.ndarray) and value.size == 0:
            out["attrs"][name] = []
        elif isinstance(value, np.ndarray) and value.dtype.kind in "SOU":
            out["attrs"][name] = [text(v) for v in value.reshape(-1)]
    for name, child in obj.items():  # h5py iterates in name order, as HDF5 stores them
        if isinstance(child, h5py.Group):
            out["groups"][name] = describe(child)
        elif isinstance(child, h5py.Dataset):
            dtype = {"f": "float64" if child.dtype.itemsize == 8 else "float32",
                     "i": "int64" if child.dtype.itemsize == 8 else "int32"}.get(child.dtype.kind, "float32")
            out["datasets"][name] = {"dtype": dtype, "shape": list(child.shape)}
    return out


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1]
    dirs = {name: os.path.join(out, name) for name in ("h5_model", "h5_weights", "json_config")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    options = [{}, {"by_name": True}, {"by_name": True, "skip_mismatch": True}]
    for path in sorted(glob.glob(os.path.join(DATA, "h5", "*.h5"))):
        name = os.path.basename(path)
        with h5py.File(path, "r") as f:
            d = describe(f)
        write(os.path.join(dirs["h5_model"], name + ".json"), json.dumps(d).encode())
        if name.endswith("_weights.h5") or name == "sequential.h5":
            for i, opt in enumerate(options):
                write(os.path.join(dirs["h5_weights"], "%d-%s.json" % (i, name)), json.dumps(dict(d, options=opt)).encode())
        if "model_config" in d["attrs"]:
            write(os.path.join(dirs["json_config"], name + ".json"), d["attrs"]["model_config"].encode())
    for pattern in (os.path.join(DATA, "keras", "*.json"), os.path.join(DATA, "checkpoint", "*", "model.json")):
        for path in sorted(glob.glob(pattern)):
            with open(path, "rb") as f:
                write(os.path.join(dirs["json_config"], os.path.relpath(path, DATA).replace(os.sep, "_")), f.read())
    for name, d in sorted(dirs.items()):
        print("%s: %d seeds" % (name, len(os.listdir(d))))


if __name__ == "__main__":
    main()
