// libFuzzer target: Keras JSON model configs — the Python-flavoured JSON parser (bare NaN
// and Infinity), model_from_json for Sequential and Functional models (layers, nested
// models, inbound nodes, shared layers) under a 4 MiB weight budget. Any outcome other
// than a model or a strata::Error is a bug.
// Structure-aware: json_mutator.hpp. Seeds: the JSON configs of the fixtures
// (tests/fuzz/h5_seeds.py).
#include <cstddef>
#include <cstdint>
#include <string>

#include "json_mutator.hpp"
#include "strata/error.hpp"
#include "strata/layer.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  strata::initialize();
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max, unsigned seed) {
  return strata::fuzz::mutate_json(data, size, max, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (strata::fuzz::too_many_models(text)) return 0;
  try {
    strata::WeightBudget budget(std::uint64_t{4} << 20, "fuzz.json");  // see DECISIONS.md, "Issue 20, fuzzing"
    (void)strata::model_from_json(text);
  } catch (const strata::Error&) {
  }
  return 0;
}
