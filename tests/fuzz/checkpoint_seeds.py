#!/usr/bin/env python3
"""Seed corpora for the checkpoint fuzzers, from the TensorFlow-written fixtures.

    python3 tests/fuzz/checkpoint_seeds.py OUT_DIR

writes OUT_DIR/checkpoint_index/<case>.index (every fixture .index file, Snappy one
included) and OUT_DIR/checkpoint_object_graph/<case> (the serialized TrackableObjectGraph of
every fixture: TensorFlow appends it last in the data shard as varint length, 4-byte masked
CRC, bytes, so it is the shard's tail). Standard library only.
"""

import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "data", "checkpoint"))


def graph_of(data):
    for start in range(len(data)):
        length, shift, pos = 0, 0, start
        while pos < len(data) and shift < 64:
            b = data[pos]
            pos += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if length and pos + 4 + length == len(data):
                    return data[-length:]
                break
    return None


def main():
    out = sys.argv[1]
    index_dir = os.path.join(out, "checkpoint_index")
    graph_dir = os.path.join(out, "checkpoint_object_graph")
    os.makedirs(index_dir, exist_ok=True)
    os.makedirs(graph_dir, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*", "*.index"))):
        case = os.path.basename(os.path.dirname(path))
        with open(path, "rb") as f, open(os.path.join(index_dir, case + ".index"), "wb") as g:
            g.write(f.read())
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*", "*.data-00000-of-00001"))):
        case = os.path.basename(os.path.dirname(path))
        with open(path, "rb") as f:
            graph = graph_of(f.read())
        if graph:
            with open(os.path.join(graph_dir, case), "wb") as g:
                g.write(graph)


if __name__ == "__main__":
    main()
