#!/usr/bin/env python3
"""Seeds for the SavedModel fuzzer: the saved_model.pb of every tf-keras SavedModel fixture
(tests/data/savedmodel). The fuzzer adds a traced one written by Strata at start-up.

    python3 tests/fuzz/savedmodel_seeds.py OUT    # writes OUT/savedmodel/*.pb
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "data", "savedmodel")


def main():
    out = os.path.join(sys.argv[1], "savedmodel")
    os.makedirs(out, exist_ok=True)
    count = 0
    for name in sorted(os.listdir(FIXTURES)):
        pb = os.path.join(FIXTURES, name, "saved_model.pb")
        if os.path.isfile(pb):
            shutil.copyfile(pb, os.path.join(out, name + ".pb"))
            count += 1
    print("%d seeds in %s" % (count, out))


if __name__ == "__main__":
    main()
