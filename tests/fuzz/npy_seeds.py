#!/usr/bin/env python3
"""Seeds for the .npy fuzzer (tests/fuzz/npy_fuzzer.cpp), written with numpy (Debian's
python3-numpy): every dtype Strata reads, scalars, empty and 4-D arrays, format versions
1.0, 2.0 and 3.0, and what it must refuse (Fortran order, big-endian, another dtype, a
pickled object array).
    python3 tests/fuzz/npy_seeds.py OUT    # writes OUT/npy/*.npy
"""
import io
import os
import sys

import numpy as np


def main():
    out = os.path.join(sys.argv[1], "npy")
    os.makedirs(out, exist_ok=True)
    arrays = {
        "float32_2x3": np.arange(6, dtype=np.float32).reshape(2, 3),
        "float64_scalar": np.array(2.5),
        "int32_empty": np.zeros((0, 4), dtype=np.int32),
        "int64_1d": np.arange(5, dtype=np.int64),
        "bool": np.array([True, False, True]),
        "uint8_4d": np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
        "big_endian": np.arange(4, dtype=">f4"),
        "float16": np.arange(4, dtype=np.float16),
        "unicode": np.array(["a", "bc"]),
    }
    for name, array in arrays.items():
        np.save(os.path.join(out, name + ".npy"), array)
    for version in ((2, 0), (3, 0)):
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.ones((3, 2), dtype=np.float32), version=version)
        with open(os.path.join(out, "version_%d.npy" % version[0]), "wb") as f:
            f.write(buffer.getvalue())
    np.save(os.path.join(out, "object.npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
    print("%d seeds in %s" % (len(os.listdir(out)), out))


if __name__ == "__main__":
    main()
