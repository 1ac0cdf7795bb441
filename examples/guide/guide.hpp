// Shared by the guide programs: a check that counts failures, the guide's models, and the
// skip convention (exit 77 = CTest SKIP_RETURN_CODE when a format plugin is not loaded).
#pragma once

#include <strata/strata.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <unistd.h>

namespace guide {

using strata::Config;
using strata::Shape;
using strata::Tensor;

inline int failures = 0;

inline void check(bool ok, const std::string& what) {
  std::cout << (ok ? "  ok: " : "  FAILED: ") << what << "\n";
  if (!ok) ++failures;
}

inline int finish() {
  std::cout << (failures == 0 ? "all checks passed\n" : "FAILED checks: " + std::to_string(failures) + "\n");
  return failures == 0 ? 0 : 1;
}

// Exits with 77 (skipped) when the plugin providing `format` is not loaded.
inline void require_format(const std::string& format) {
  try {
    strata::get_format(format);
  } catch (const strata::Error& e) {
    std::cout << "SKIPPED: this section needs the '" << format << "' format: " << e.what() << "\n";
    std::exit(77);
  }
}

inline std::filesystem::path work_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("strata_guide_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::shared_ptr<strata::Layer> dense(std::int64_t units, const std::string& name, const char* activation = "linear") {
  return strata::make_layer("Dense", Config{{"units", units}, {"activation", activation}, {"name", name}});
}

// The guide's 784-64-64-N Functional model ("3_layer_mlp").
inline std::shared_ptr<strata::Functional> mlp(std::int64_t outputs = 10, const std::string& name = "3_layer_mlp") {
  Tensor inputs = strata::Input(Shape{784}, "digits");
  Tensor x = (*dense(64, "dense_1", "relu"))(inputs);
  x = (*dense(64, "dense_2", "relu"))(x);
  Tensor out = (*dense(outputs, "predictions"))(x);
  return std::make_shared<strata::Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{out}, name);
}

inline bool same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape() || a[i].to_vector<float>() != b[i].to_vector<float>()) return false;
  }
  return true;
}
inline bool same(const Tensor& a, const Tensor& b) { return same(std::vector<Tensor>{a}, std::vector<Tensor>{b}); }

}  // namespace guide
