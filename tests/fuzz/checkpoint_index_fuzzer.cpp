// libFuzzer target: the checkpoint .index reader (LevelDB table: footer, block handles,
// trailers and CRCs, Snappy blocks, restart arrays, entries) and the bundle entries
// (header, BundleEntryProto checks), then the DT_STRING decoder on the same bytes. Any
// outcome other than success or strata::FormatError (a crash, a sanitizer report, another
// exception) is a bug. Seeds: tests/data/checkpoint/*/*.index.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bundle.hpp"
#include "strata/error.hpp"
#include "table.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    (void)strata::ckpt::parse_index(bytes, "fuzz.index");
  } catch (const strata::FormatError&) {
  }
  try {
    // The same bytes as a shard's string tensor of a few elements.
    const std::int64_t count = size > 0 ? data[0] % 8 : 0;
    (void)strata::ckpt::decode_strings(bytes.substr(size > 0 ? 1 : 0), count, 0, "fuzz strings");
  } catch (const strata::FormatError&) {
  }
  return 0;
}
