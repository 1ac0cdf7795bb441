// libFuzzer target: the SavedModel reader. The input is the bytes of saved_model.pb, placed
// in a SavedModel directory whose keras_metadata.pb and variables/ come from a small model
// Strata saved at start-up; each input is loaded three ways: described (`strata info`),
// revived from its traced functions (object graph, function library, bound variables,
// graph import), and built from its classes. The revived graph is not run. Any outcome other than a model or a
// strata::Error (a crash, a sanitizer report, another exception type, unbounded recursion or
// allocation) is a bug. Seeds: the saved_model.pb of that model (traced, written into the
// seed directory at start-up) and of the tf-keras fixtures (tests/fuzz/savedmodel_seeds.py).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "savedmodel_format.hpp"
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
  const fs::path shm = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  g_dir = shm / ("strata_savedmodel_fuzz_" + std::to_string(::getpid()));
  fs::remove_all(g_dir);
  auto model = strata::model_from_json(R"({"class_name": "Sequential", "config": {"name": "seq", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "in"}},
      {"class_name": "Dense", "config": {"name": "d1", "units": 3, "activation": "relu"}},
      {"class_name": "BatchNormalization", "config": {"name": "bn"}},
      {"class_name": "Dense", "config": {"name": "d2", "units": 2, "activation": "softmax"}}]}})");
  model->compile(strata::Config("adam"), strata::Config("mse"));
  g_format->save_model(*model, g_dir / "model", strata::SaveOptions{});
  // Seed: the traced saved_model.pb, into the last directory on the command line (fuzz.sh
  // passes the corpus, then the seed directory).
  for (int i = *argc - 1; i > 0; --i) {
    const std::string arg = (*argv)[i];
    if (!arg.empty() && arg[0] != '-' && fs::is_directory(arg)) {
      fs::copy_file(g_dir / "model" / "saved_model.pb", fs::path(arg) / "strata_traced_sequential.pb",
                    fs::copy_options::overwrite_existing);
      break;
    }
  }
  return 0;
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
