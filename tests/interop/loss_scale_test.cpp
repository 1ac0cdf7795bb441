// Keras's LossScaleOptimizer (issue 23, mixed precision) in every file Keras writes it to,
// against real Keras (label interop; skips without the venv). The files and what training
// continued in memory gives come from tests/interop/generate_loss_scale.py at test time
// (cached under ~/.cache/strata/loss-scale). Strata must read the wrapper (Keras 3's
// LossScaleOptimizer, tf-keras's LossScaleOptimizerV3, the legacy LossScaleOptimizer with
// `.OPTIMIZER_SLOT` checkpoint keys), restore the inner optimizer's state, take the next step
// as the model in memory does, and write a wrapper Keras reads back.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "compare.hpp"
#include "interop_venv.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/optimizer.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kGenerator = fs::path(STRATA_SOURCE_DIR) / "tests/interop/generate_loss_scale.py";

fs::path generated() { return test::generated_fixtures("loss-scale", kGenerator); }

// The largest |a - b| / (1e-3 + |b|).
double worst(const Tensor& a, const Tensor& b) { return test::worst_relative(a, b, 1e-3); }

// Keras 3's archive and tf-keras's SavedModels hold a dynamic scale; tf-keras's H5 does not.
bool ext_holds_scale(const fs::path& saved) { return saved.extension() != ".h5"; }

class LossScaleInterop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    for (const char* f : {"h5", "keras", "savedmodel"}) {
      if (!Registry::global().contains(ObjectKind::kFormat, f)) GTEST_SKIP() << "format " << f << " is not built";
    }
    dir_ = generated() / GetParam();
    info_ = Config::parse(test::read_text(dir_ / "next.json"));
  }
  Tensor npy(const std::string& name) const { return read_npy(dir_ / (name + ".npy")); }
  fs::path dir_;
  Config info_;
};

TEST_P(LossScaleInterop, ResumesFromKerasFileAndKerasReadsStrataFile) {
  const fs::path saved = dir_ / info_["file"].get<std::string>();
  const auto model = load_model(saved);
  ASSERT_TRUE(model->is_compiled());
  const LossScale* ls = loss_scale(*model->optimizer());
  ASSERT_NE(ls, nullptr) << "the optimizer read from " << saved << " has no loss scale";
  EXPECT_EQ(ls->class_name, info_["class"].get<std::string>());
  if (ls->dynamic && ext_holds_scale(saved)) {
    // The scale continues where the file left it, not at initial_scale.
    EXPECT_EQ(ls->scale.value().item<float>(), static_cast<float>(info_["saved_scale"].get<double>()));
  }
  // Three steps were taken before the save: the inner optimizer's state is restored.
  EXPECT_EQ(model->optimizer()->iterations().value().item<std::int64_t>(), 3);
  const Tensor x = npy("x"), y = npy("y");
  if (info_["mixed"].get<bool>()) {
    // tf-keras computed in float16; Strata computes the mixed_float16 policy in float32.
    EXPECT_LT(worst(model->predict(x), npy("pred")), 2e-2);
  }
  const double loss = model->train_on_batch({x}, {y}).at("loss");
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_EQ(model->optimizer()->iterations().value().item<std::int64_t>(), 4);
  if (!info_["mixed"].get<bool>()) {
    const auto w = model->trainable_weights();
    for (std::size_t i = 0; i < w.size(); ++i) {
      EXPECT_LT(worst(w[i].value(), npy("next_w" + std::to_string(i))), 1e-5) << w[i].name();
    }
  }
  if (GetParam() == "k3_dynamic" || GetParam() == "tfk_legacy_grow_sm") {
    // The file holds the scale and its counter: 128 with one finite step, then doubled
    // (Keras 3's archive; the SavedModel's optimizer/loss_scale/current_loss_scale).
    EXPECT_EQ(ls->scale.value().item<float>(), static_cast<float>(info_["scale"].get<double>()));
  }

  // Strata's file in the Keras that wrote the original.
  const std::string ext = saved.extension().string();
  const fs::path back = fs::temp_directory_path() / ("strata-loss-scale-" + GetParam() + (ext.empty() ? "" : ext));
  fs::remove_all(back);
  SaveOptions options;
  options.format = ext == ".keras" ? "keras" : ext == ".h5" ? "h5" : "savedmodel";
  save_model(*model, back, options);
  std::string out;
  ASSERT_EQ(test::run_capturing("'" + test::venv_python().string() + "' '" + kGenerator.string() + "' --check '" +
                                    generated().string() + "' " + GetParam() + " '" + back.string() + "'",
                                out),
            0)
      << out;
  const Config r = Config::parse(out.substr(out.rfind("{\"class\"")));
  EXPECT_EQ(r["class"].get<std::string>(), ext == ".keras" ? "LossScaleOptimizer" : "LossScaleOptimizerV3") << out;
  std::vector<float> pred;
  for (const auto& row : r["pred"]) {
    for (const auto& v : row) pred.push_back(v.get<float>());
  }
  const Tensor keras_pred = Tensor::from_vector<float>(pred, Shape{static_cast<std::int64_t>(r["pred"].size()), 2});
  EXPECT_LT(worst(keras_pred, model->predict(x)), info_["mixed"].get<bool>() ? 2e-2 : 1e-5);
  if (GetParam() == "k3_dynamic") {
    EXPECT_EQ(r["scale"].get<double>(), ls->scale.value().item<float>());
  }
  if (options.format == "savedmodel" && ls->dynamic) {
    // Strata's SavedModel holds the scale where tf-keras writes it (TensorFlow reads it).
    ASSERT_FALSE(r["file_scale"].is_null()) << out;
    EXPECT_EQ(r["file_scale"].get<double>(), ls->scale.value().item<float>());
  } else if (options.format == "savedmodel") {
    EXPECT_TRUE(r["file_scale"].is_null()) << out;  // a fixed scale has no variable, as in tf-keras
  }
  if (info_["mixed"].get<bool>()) {
    // The policy comes back: the hidden layer mixed_float16, the output layer float32.
    std::vector<std::string> policies;
    for (const auto& p : r["policies"]) policies.push_back(p.get<std::string>());
    EXPECT_EQ(policies, (std::vector<std::string>{"float32", "mixed_float16", "float32"})) << out;
  }
  fs::remove_all(back);
}

INSTANTIATE_TEST_SUITE_P(Cases, LossScaleInterop,
                         ::testing::Values("k3_dynamic", "tfk_dynamic_h5", "tfk_fixed_sm", "tfk_legacy_sm",
                                           "tfk_legacy_grow_sm", "mixed_h5"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace strata
