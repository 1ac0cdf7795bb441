// libFuzzer target: the .npy reader (parse_npy: the magic, version, header length, the
// Python-dict header, dtype, shape and byte order, and the data's size), which `strata
// predict/fit/evaluate --x NAME=FILE` and the SDK's read_npy use on a user's files. A
// parsed tensor must write back to bytes that parse to the same shape and dtype; anything
// other than that or a strata::Error is a bug. Seeds: tests/fuzz/npy_seeds.py.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "strata/error.hpp"
#include "strata/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const strata::Tensor t = strata::parse_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.npy");
    const strata::Tensor again = strata::parse_npy(strata::npy_bytes(t), "fuzz.npy (written back)");
    if (again.shape() != t.shape() || again.dtype() != t.dtype()) std::abort();
  } catch (const strata::Error&) {
  }
  return 0;
}
