#!/usr/bin/env python3
"""Prints the layer classes tf_keras.layers exports, one per line, sorted: what the first
table of docs/LAYERS.md must list (checked by interop.LayerTable.ListsEveryClassTfKerasExports).

    "$(tests/interop/setup_venv.sh)/bin/python" tests/interop/list_keras_layers.py
"""
import inspect
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tf_keras  # noqa: E402


def main():
    layers = tf_keras.layers
    names = sorted(n for n in dir(layers)
                   if inspect.isclass(getattr(layers, n)) and issubclass(getattr(layers, n), layers.Layer))
    print(f"# tf_keras {tf_keras.__version__}")
    for n in names:
        print(n)


if __name__ == "__main__":
    main()
