// What the SavedModel and GraphDef fuzzers share: a small model Strata saves as a SavedModel
// at start-up (traced functions, keras_metadata.pb, variables/), and the seed directory
// libFuzzer was given (scripts/fuzz.sh passes the corpus, then the seed directory).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "savedmodel_format.hpp"
#include "strata/model.hpp"
#include "strata/saving.hpp"

namespace strata::fuzz {

// Saves a Dense/BatchNormalization/Dense model, compiled with Adam, as SavedModel `dir`.
inline void save_small_savedmodel(Format& format, const std::filesystem::path& dir) {
  auto model = model_from_json(R"({"class_name": "Sequential", "config": {"name": "seq", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "in"}},
      {"class_name": "Dense", "config": {"name": "d1", "units": 3, "activation": "relu"}},
      {"class_name": "BatchNormalization", "config": {"name": "bn"}},
      {"class_name": "Dense", "config": {"name": "d2", "units": 2, "activation": "softmax"}}]}})");
  model->compile(Config("adam"), Config("mse"));
  format.save_model(*model, dir, SaveOptions{});
}

// An empty directory of this process, in /dev/shm where there is one (inputs are written
// there once per run).
inline std::filesystem::path scratch_directory(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path shm = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  const fs::path dir = shm / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// The last directory on libFuzzer's command line (where seeds go), or "" when none.
inline std::filesystem::path seed_directory(int argc, char** argv) {
  for (int i = argc - 1; i > 0; --i) {
    const std::string arg = argv[i];
    if (!arg.empty() && arg[0] != '-' && std::filesystem::is_directory(arg)) return arg;
  }
  return {};
}

}  // namespace strata::fuzz
