// main() of strata_cuda_emulation_tests: the CUDA conformance suites against the host
// emulation of the CUDA plugin (plugins/backend-cuda, STRATA_CUDA_EMULATION: the plugin's
// kernels and glue compiled for the host, device type "cuda" with one device in host
// memory). The plugins are loaded by file, not from the search path, whose real CUDA
// plugin registers the same names; then the tests' ref backend; then
// the conformance suites for the loaded backends' devices (kit.hpp); then GoogleTest.
#include <gtest/gtest.h>

#include <string_view>

#include "kit.hpp"
#include "ref_backend.hpp"
#include "strata/plugins.hpp"
#include "strata/runtime.hpp"

// A first initialize() without the search path is final: the save/load entry points call
// initialize() again, and must not bring in the search path (whose real CUDA plugin has the
// emulation's name and would be loaded, refused as shadowed, and unloaded).
TEST(EmulationRuntime, AFirstInitializeWithoutTheSearchPathIsFinal) {
  strata::initialize();  // what save_model / load_model / load_checkpoint call
  for (const auto& p : strata::PluginManager::global().plugins()) {
    EXPECT_NE(p.name, "format-json") << "the search path was loaded: " << p.path.string();
    EXPECT_EQ(p.path.string().find("strata-backend-cuda.so"), std::string::npos) << p.path.string();
  }
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  strata::RuntimeOptions options;
  options.load_search_path = false;
  std::string_view files = STRATA_EMULATION_PLUGIN_FILES;  // ':'-separated
  while (!files.empty()) {
    const auto end = files.find(':');
    options.plugin_files.emplace_back(std::string(files.substr(0, end)));
    files = end == std::string_view::npos ? std::string_view() : files.substr(end + 1);
  }
  strata::initialize(options);
  strata::testing::register_ref_backend();
  strata::testing::register_kit_tests();  // the emulated cuda device's (and the cpu's) suites
  return RUN_ALL_TESTS();
}
