// libFuzzer target: the SavedModel reader. The input is the bytes of saved_model.pb, placed
// in a SavedModel directory whose keras_metadata.pb and variables/ come from a small model
// Strata saved at start-up; each input is loaded three ways: described (`strata info`),
// revived from its traced functions (object graph, function library, bound variables,
// graph import), and built from its classes. The revived graph is not run. Any outcome other than a model or a
// strata::Error (a crash, a sanitizer report, another exception type, unbounded recursion or
// allocation) is a bug. Seeds: the saved_model.pb of that model (traced, written into the
// seed directory at start-up) and of the tf-keras fixtures (tests/fuzz/savedmodel_seeds.py).
// Structure-aware: proto_mutator.hpp, with TensorFlow's op and attr names as words.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "proto_mutator.hpp"
#include "savedmodel_format.hpp"
#include "savedmodel_fuzz_model.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;

fs::path g_dir;
std::shared_ptr<strata::Format> g_format;

void write(const fs::path& file, const char* data, std::size_t size) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(data, static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  strata::initialize();  // the layer, checkpoint and backend plugins of this build
  g_format = strata::savedmodel::make_format();
  g_dir = strata::fuzz::scratch_directory("strata_savedmodel_fuzz");
  strata::fuzz::save_small_savedmodel(*g_format, g_dir / "model");
  // Seed: the traced saved_model.pb.
  if (const fs::path seeds = strata::fuzz::seed_directory(*argc, *argv); !seeds.empty()) {
    fs::copy_file(g_dir / "model" / "saved_model.pb", seeds / "strata_traced_sequential.pb",
                  fs::copy_options::overwrite_existing);
  }
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max, unsigned seed) {
  return strata::fuzz::mutate_tensorflow_proto(data, size, max, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path dir = g_dir / "model";
  write(dir / "saved_model.pb", reinterpret_cast<const char*>(data), size);
  try {
    (void)g_format->describe(dir);
  } catch (const strata::Error&) {
  }
  for (const bool revive : {true, false}) {
    strata::LoadOptions options;
    options.revive_from_traces = revive;
    // Loading only: running a graph does whatever work its ops ask for (as TensorFlow's
    // does), so predictions are not part of what an untrusted file may not do.
    try {
      (void)g_format->load_model(dir, options);
    } catch (const strata::Error&) {
    }
  }
  return 0;
}
