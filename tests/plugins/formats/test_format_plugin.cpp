// Two small format plugins for the format selection tests (format_selection_test.cpp),
// built from this one source:
//  - test-format-a: format "testfmt_a", per-use claims: ".tfx" for models, ".tfa" for
//    weights;
//  - test-format-b (TEST_FORMAT_B): format "testfmt_b", written the old way: one
//    extensions() list {".tfx", ".tfb"} that the Format defaults split by capability.
// Both claim ".tfx" for models. Their sniffers recognise nothing and their save/load
// methods are the Format defaults: the tests only ask which format is chosen.
#include <memory>

#include "strata/format.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

#if defined(TEST_FORMAT_B)
class TestFormat final : public strata::Format {
 public:
  std::string name() const override { return "testfmt_b"; }
  std::vector<std::string> extensions() const override { return {".tfx", ".tfb"}; }
  unsigned capabilities() const override {
    return strata::kSaveWeights | strata::kLoadWeights | strata::kSaveArchitecture | strata::kLoadArchitecture;
  }
  bool sniff(const std::filesystem::path&) const override { return false; }
};
#else
class TestFormat final : public strata::Format {
 public:
  std::string name() const override { return "testfmt_a"; }
  std::vector<std::string> model_extensions() const override { return {".tfx"}; }
  std::vector<std::string> weights_extensions() const override { return {".tfa"}; }
  unsigned capabilities() const override {
    return strata::kSaveWeights | strata::kLoadWeights | strata::kSaveArchitecture | strata::kLoadArchitecture;
  }
  bool sniff(const std::filesystem::path&) const override { return false; }
};
#endif

void register_all(strata::Registrar& r) {
  r.add<strata::ObjectKind::kFormat>(TEST_FORMAT_NAME, [] { return std::make_shared<TestFormat>(); });
}

}  // namespace

STRATA_PLUGIN(TEST_PLUGIN_NAME, "1.0.0", "test format plugin for the format selection tests", register_all);
