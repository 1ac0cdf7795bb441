#!/usr/bin/env python3
"""Seed corpora for the H5 and JSON fuzzers, from the committed fixtures.

    python3 tests/fuzz/h5_seeds.py OUT_DIR

The H5 fuzzers read a JSON description of a file (tests/fuzz/h5_fuzz_file.hpp); this
script describes every tests/data/h5 file with h5py (Debian's python3-h5py):
OUT_DIR/h5_model/<file>.json for every file, OUT_DIR/h5_weights/<n>-<file>.json for the
weight files (options: by position, by name, by name with skip_mismatch), and
OUT_DIR/json_config/<name> and OUT_DIR/python_json/<name> with the JSON configs of
tests/data/keras and tests/data/checkpoint and each H5 fixture's model_config, and
OUT_DIR/layer_config/<n>-<class>.json with up to four distinct layer configs of each
class in them (nested models' layers too). model_config and training_config are described as JSON objects, so that the
JSON mutator (tests/fuzz/json_mutator.hpp) changes their structure.
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
        if isinstance(value, (bytes, str)) and name in ("model_config", "training_config"):
            try:
                out["attrs"][name] = json.loads(text(value))
            except ValueError:
                out["attrs"][name] = text(value)
        elif isinstance(value, (bytes, str)):
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


def layer_configs(config, out):
    """Every entry of a "layers" list in a model config (nested models' too), with "shapes"
    from its Keras 3 build_config when that names one input shape."""
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for layer in value.get("layers", []) if isinstance(value.get("layers"), list) else []:
                if isinstance(layer, dict) and isinstance(layer.get("class_name"), str) and isinstance(layer.get("config"), dict):
                    entry = {k: layer[k] for k in ("class_name", "config", "module", "registered_name") if k in layer}
                    shape = (layer.get("build_config") or {}).get("input_shape")
                    if isinstance(shape, list) and shape and all(d is None or isinstance(d, int) for d in shape):
                        entry["shapes"] = [[min(d or 2, 64) for d in shape]]
                    out.append(entry)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def main():
    out = sys.argv[1]
    dirs = {name: os.path.join(out, name) for name in ("h5_model", "h5_weights", "json_config", "python_json", "layer_config")}
    configs = []
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
            configs.append((name + ".json", json.dumps(d["attrs"]["model_config"]).encode()))
    for pattern in (os.path.join(DATA, "keras", "*.json"), os.path.join(DATA, "checkpoint", "*", "model.json")):
        for path in sorted(glob.glob(pattern)):
            with open(path, "rb") as f:
                configs.append((os.path.relpath(path, DATA).replace(os.sep, "_"), f.read()))
    layers = {}
    for name, data in configs:
        write(os.path.join(dirs["json_config"], name), data)
        write(os.path.join(dirs["python_json"], name), data)
        found = []
        try:
            layer_configs(json.loads(data), found)
        except ValueError:
            pass
        for layer in found:
            if layer["class_name"] in ("Sequential", "Functional", "Model", "InputLayer"):
                continue  # whole models: the json_config seeds
            layer["config"].pop("name", None)
            layers.setdefault(json.dumps(layer, sort_keys=True), layer)
    per_class = {}
    for layer in layers.values():
        per_class.setdefault(layer["class_name"], []).append(layer)
    chosen = [layer for _, group in sorted(per_class.items()) for layer in group[:4]]
    for i, layer in enumerate(chosen):
        write(os.path.join(dirs["layer_config"], "%d-%s.json" % (i, layer["class_name"])), json.dumps(layer).encode())
    for name, d in sorted(dirs.items()):
        print("%s: %d seeds" % (name, len(os.listdir(d))))


if __name__ == "__main__":
    main()
