// libFuzzer target: the Python-flavoured JSON parser alone (parse_python_json and
// to_python_json: bare NaN/Infinity, nesting, escapes, numbers out of range). A parsed value
// must write back to text that parses to a value written the same way again; anything
// other than that or a strata::Error is a bug. It links only the runtime, so it is the one
// to rebuild when checking that a fuzzer finds a reverted fix (scripts/fuzz-revert-check.sh).
// Structure-aware: json_mutator.hpp. Seeds: the JSON configs of the fixtures
// (tests/fuzz/h5_seeds.py).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "json_mutator.hpp"
#include "strata/error.hpp"
#include "strata/saving.hpp"

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max, unsigned seed) {
  return strata::fuzz::mutate_json(data, size, max, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const strata::Config value = strata::parse_python_json(text, "fuzz.json");
    const std::string once = strata::to_python_json(value);
    const std::string twice = strata::to_python_json(strata::parse_python_json(once, "fuzz.json (written back)"));
    if (once != twice) std::abort();
  } catch (const strata::Error&) {
  }
  return 0;
}
