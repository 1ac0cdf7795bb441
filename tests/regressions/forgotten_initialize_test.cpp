// Reported: a host that forgot strata::initialize() got "Unknown layer: 'Dense'" and
// "no kernel for op Fill ... (registered kernels of this op: none)", which read as if the
// runtime lacked Dense and Fill. Both errors now say that no plugin is loaded and how to
// load them (issue 17).
#include <gtest/gtest.h>

#include <string>

#include "strata/error.hpp"
#include "strata/layer.hpp"
#include "strata/runtime.hpp"
#include "strata/ops.hpp"
#include "strata/tensor.hpp"

namespace strata {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ForgottenInitialize, UnknownLayerSaysNoPluginIsLoadedAndHowToLoadThem) {
  ASSERT_FALSE(is_initialized());
  try {
    make_layer("Dense", {{"units", 3}});
    FAIL() << "Dense was found without any plugin loaded";
  } catch (const UnknownObjectError& e) {
    const std::string text = e.what();
    EXPECT_TRUE(contains(text, "Unknown layer: 'Dense'")) << text;
    EXPECT_TRUE(contains(text, "No plugins are loaded")) << text;
    EXPECT_TRUE(contains(text, "call strata::initialize()")) << text;
    EXPECT_TRUE(contains(text, "STRATA_PLUGIN_PATH")) << text;
  }
}

TEST(ForgottenInitialize, MissingKernelSaysNoPluginIsLoadedAndHowToLoadThem) {
  ASSERT_FALSE(is_initialized());
  try {
    Tensor t = ones(Shape{2, 2});
    FAIL() << "a kernel ran without any backend plugin loaded";
  } catch (const BackendError& e) {
    const std::string text = e.what();
    EXPECT_TRUE(contains(text, "no kernel for op")) << text;
    EXPECT_TRUE(contains(text, "No plugins are loaded")) << text;
    EXPECT_TRUE(contains(text, "call strata::initialize()")) << text;
  }
}

}  // namespace
}  // namespace strata
