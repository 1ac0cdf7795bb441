"""Checks a .npz written by Strata's npz format plugin with Python alone (zipfile), then,
when NumPy is importable, with numpy.load, and re-saves the arrays with numpy.savez as
DIR/numpy.npz so that Strata can prove it reads NumPy's own files.

usage: check_npz.py DIR      (DIR as written by `strata_sdk_check save DIR`)
Also writes DIR/deflated.npz (the same members, deflated). Exit status: 0 all checks
passed; 1 a check failed; 77 zipfile checks passed, NumPy absent.
"""
import sys
import zipfile

directory = sys.argv[1]
path = directory + "/w.npz"
expected = {"features/kernel": (4, 3), "features/bias": (3,), "scale/scale": (),
            "head/kernel": (3, 1), "head/bias": (1,)}

with zipfile.ZipFile(path) as z:
    bad = z.testzip()  # reads every member and checks its CRC-32
    assert bad is None, f"member {bad} fails its CRC check"
    names = sorted(i.filename for i in z.infolist())
    assert names == sorted(k + ".npy" for k in expected), names
    assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
print("ok: zipfile reads", path, "members", names)

# The same members deflated, as numpy.savez_compressed writes them: Strata must refuse it.
with zipfile.ZipFile(path) as z, zipfile.ZipFile(directory + "/deflated.npz", "w", zipfile.ZIP_DEFLATED) as out:
    for info in z.infolist():
        out.writestr(info.filename, z.read(info.filename))
print("ok: wrote", directory + "/deflated.npz")

try:
    import numpy as np
except ImportError:
    print("SKIPPED: NumPy is not installed (Debian: python3-numpy); numpy.load was not tried")
    sys.exit(77)

arrays = np.load(path)
assert sorted(arrays.files) == sorted(expected), arrays.files
for key, shape in expected.items():
    assert arrays[key].dtype == np.float32 and arrays[key].shape == shape, (key, arrays[key].dtype, arrays[key].shape)
assert arrays["scale/scale"] == np.float32(3.5), arrays["scale/scale"]
print("ok: numpy", np.__version__, "loads every weight with its shape; scale/scale == 3.5")
np.savez(directory + "/numpy.npz", **{k: arrays[k] for k in arrays.files})
print("ok: wrote", directory + "/numpy.npz", "with numpy.savez")
