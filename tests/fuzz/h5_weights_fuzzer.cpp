// libFuzzer target: the H5 weights reader (weights-only files and the model_weights group
// of whole-model files) into a fixed model, by position or by name (with skip_mismatch).
// The input is a JSON description of a file (h5_fuzz_file.hpp; its "options" pick
// by_name / skip_mismatch). Any outcome other than a LoadStatus or a strata::Error is a
// bug. Structure-aware: json_mutator.hpp on the description. Seeds: tests/fuzz/h5_seeds.py
// (the fixtures' weight files).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "h5_fuzz_file.hpp"
#include "h5_model.hpp"
#include "strata/error.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"

namespace {
std::shared_ptr<strata::Model> g_model;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  strata::initialize();
  // The model the main seeds were saved from.
  g_model = strata::load_model(STRATA_H5_FIXTURES "/sequential.h5");
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max, unsigned seed) {
  return strata::fuzz::mutate_json(data, size, max, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json d = nlohmann::json::parse(data, data + size, nullptr, false);
  if (d.is_discarded() || !d.is_object()) return 0;
  strata::LoadOptions options;
  if (auto o = d.find("options"); o != d.end() && o->is_object()) {
    auto flag = [&](const char* key) {
      const auto it = o->find(key);
      return it != o->end() && it->is_boolean() && it->get<bool>();
    };
    options.by_name = flag("by_name");
    options.skip_mismatch = flag("skip_mismatch");
  }
  strata::h5::Session session;
  try {
    const std::string bytes = strata::h5fuzz::build(d).bytes();
    const strata::h5::File file = strata::h5::File::open_image(bytes, "fuzz_weights.h5");
    (void)strata::h5::read_weights(file, *g_model, options);
  } catch (const strata::Error&) {
  }
  return 0;
}
