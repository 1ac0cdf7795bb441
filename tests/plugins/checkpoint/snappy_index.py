#!/usr/bin/env python3
"""Rewrites a checkpoint .index table with its data blocks Snappy-compressed.

    /usr/bin/python3 snappy_index.py IN.index OUT.index

Compression is done by libsnappy (Debian's python3-snappy); everything else is a plain
re-layout of the LevelDB table: the data blocks are copied, compressed and given trailers with
compression type 1 and the masked CRC-32C of the compressed contents plus the type byte; the
index block's handles are rewritten to the new offsets (its keys are kept); the metaindex
block and the footer follow. TensorFlow's reader checks the result (generate_checkpoint_fixtures.py).
"""

import struct
import sys

import snappy

POLY = 0x82F63B78
TABLE = []
for b in range(256):
    c = b
    for _ in range(8):
        c = (c >> 1) ^ (POLY if c & 1 else 0)
    TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for byte in data:
        c = (c >> 8) ^ TABLE[(c ^ byte) & 0xFF]
    return c ^ 0xFFFFFFFF


def mask(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def get_varint(buf, pos):
    result, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def block_entries(block):
    n = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n
    pos, key, out = 0, b"", []
    while pos < end:
        shared, pos = get_varint(block, pos)
        unshared, pos = get_varint(block, pos)
        vlen, pos = get_varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + vlen]))
        pos += vlen
    return out


def make_block(entries):
    """Restart interval 1 (every key whole): simplest valid block."""
    body, restarts = bytearray(), []
    for key, value in entries:
        restarts.append(len(body))
        body += varint(0) + varint(len(key)) + varint(len(value)) + key + value
    for r in restarts:
        body += struct.pack("<I", r)
    body += struct.pack("<I", len(restarts))
    return bytes(body)


def trailer(contents, kind):
    return bytes([kind]) + struct.pack("<I", mask(crc32c(contents + bytes([kind]))))


def main():
    src = open(sys.argv[1], "rb").read()
    footer = src[-48:]
    assert footer[-8:] == struct.pack("<Q", 0xDB4775248B80FB57)
    pos = 0
    meta_off, pos = get_varint(footer, pos)
    meta_size, pos = get_varint(footer, pos)
    index_off, pos = get_varint(footer, pos)
    index_size, pos = get_varint(footer, pos)
    assert src[index_off + index_size] == 0, "the input index block is already compressed"
    out = bytearray()
    new_index = []
    for key, handle in block_entries(src[index_off:index_off + index_size]):
        off, p = get_varint(handle, 0)
        size, _ = get_varint(handle, p)
        assert src[off + size] == 0
        compressed = snappy.compress(src[off:off + size])
        new_index.append((key, varint(len(out)) + varint(len(compressed))))
        out += compressed + trailer(compressed, 1)
    meta = src[meta_off:meta_off + meta_size]
    new_meta_off = len(out)
    out += meta + trailer(meta, 0)
    index_block = make_block(new_index)
    new_index_off = len(out)
    out += index_block + trailer(index_block, 0)
    foot = varint(new_meta_off) + varint(len(meta)) + varint(new_index_off) + varint(len(index_block))
    out += foot + b"\0" * (40 - len(foot)) + struct.pack("<Q", 0xDB4775248B80FB57)
    open(sys.argv[2], "wb").write(bytes(out))


if __name__ == "__main__":
    main()
