// libFuzzer target: the H5 whole-model reader (read_model, describe_file). The input is a
// JSON description of a file (h5_fuzz_file.hpp) that Strata's writer turns into a real
// HDF5 image: mutations reach root attributes (model_config / training_config JSON,
// keras_version, backend), model_weights layer and weight name lists, dataset shapes and
// dtypes, and optimizer_weights. Building the model runs under the file's weight budget.
// Any outcome other than a model or a strata::Error (a crash, a sanitizer report, another
// exception type, a huge allocation) is a bug. Structure-aware: json_mutator.hpp on the
// description. Seeds: tests/fuzz/h5_seeds.py.
#include <cstddef>
#include <cstdint>
#include <string>

#include "h5_fuzz_file.hpp"
#include "h5_model.hpp"
#include "strata/error.hpp"
#include "strata/runtime.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  strata::initialize();  // the layer, training and backend plugins of this build
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max, unsigned seed) {
  return strata::fuzz::mutate_json(data, size, max, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json d = nlohmann::json::parse(data, data + size, nullptr, false);
  if (d.is_discarded()) return 0;
  strata::h5::Session session;
  try {
    const std::string bytes = strata::h5fuzz::build(d).bytes();
    const strata::h5::File file = strata::h5::File::open_image(bytes, "fuzz.h5");
    try {
      (void)strata::h5::describe_file(file);
    } catch (const strata::Error&) {
    }
    (void)strata::h5::read_model(file, strata::LoadOptions{});
  } catch (const strata::Error&) {
  }
  return 0;
}
