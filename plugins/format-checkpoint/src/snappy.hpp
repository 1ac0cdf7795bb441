// Decompression of raw Snappy blocks (the "block format": a varint of the uncompressed
// length, then literal and copy elements). TensorFlow writes its .index tables
// uncompressed, but tables with Snappy-compressed blocks exist (TensorFlow Serving's
// test data) and LevelDB-based tools produce them, so the reader accepts them.
#pragma once

#include <string>
#include <string_view>

namespace strata::ckpt {

// Decompresses `compressed`. Every length and offset is checked: a declared length that
// no valid stream of this size could produce, a copy reaching before the start, or
// output that does not end exactly at the declared length is a FormatError naming
// `what`. Memory is allocated only after the declared length passed those checks.
std::string snappy_uncompress(std::string_view compressed, std::string_view what);

}  // namespace strata::ckpt
