// The options Keras's base optimizer runs (issue 21): use_ema with ema_momentum and
// ema_overwrite_frequency (tf-keras 2.11+ and Keras 3), and Keras 3's
// gradient_accumulation_steps and loss_scale_factor, against real Keras (label interop; skips
// without the venv). tests/interop/generate_optimizer_options.py trains a small model with
// each at test time (cached under ~/.cache/strata/optimizer-options); Strata, from Keras's
// compiled untrained file, must take the same steps (train_on_batch), resume from Keras's
// file saved mid-way (accumulators half full, averages under way) and end fit with the
// averages as Keras does; Keras 3 must resume from Strata's archive as from its own.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kGenerator = fs::path(STRATA_SOURCE_DIR) / "tests/interop/generate_optimizer_options.py";

fs::path generated() { return test::generated_fixtures("optimizer-options", kGenerator); }

class OptimizerOptions : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    for (const char* f : {"h5", "keras"}) {
      if (!Registry::global().contains(ObjectKind::kFormat, f)) GTEST_SKIP() << "format " << f << " is not built";
    }
    clear_session();
    const Config index = Config::parse(test::read_text(generated() / "index.json"));
    ASSERT_TRUE(index["cases"].contains(GetParam())) << GetParam();
    entry_ = index["cases"][GetParam()];
    dir_ = generated() / GetParam();
  }
  std::shared_ptr<Model> load(const std::string& stem) const {
    return load_model(dir_ / (stem + "." + entry_["ext"].get<std::string>()));
  }
  Tensor npy(const std::string& name) const { return read_npy(dir_ / (name + ".npy")); }
  int batches() const { return entry_["batches"].get<int>(); }
  int mid() const { return entry_["mid"].get<int>(); }

  // "" when the model's trainable weights equal the files PREFIX<i>.npy (relative 1e-5).
  std::string compare(const Model& model, const std::string& prefix) const {
    const auto weights = model.trainable_weights();
    if (weights.size() != entry_["trainable"].get<std::size_t>()) return "trainable weight count differs";
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const auto got = cast(weights[i].value(), DType::kFloat64).to_vector<double>();
      const auto want = cast(npy(prefix + std::to_string(i)), DType::kFloat64).to_vector<double>();
      if (got.size() != want.size()) return weights[i].name() + ": size differs";
      for (std::size_t k = 0; k < got.size(); ++k) {
        if (std::abs(got[k] - want[k]) > 1e-6 + 1e-5 * std::abs(want[k])) {
          return weights[i].name() + "[" + std::to_string(k) + "]: " + std::to_string(got[k]) + ", Keras " +
                 std::to_string(want[k]);
        }
      }
    }
    return "";
  }
  void train(Model& model, int from, int to, bool check) const {
    for (int b = from; b < to; ++b) {
      model.train_on_batch({npy("x" + std::to_string(b))}, {npy("y" + std::to_string(b))});
      if (check) {
        EXPECT_EQ(compare(model, "step" + std::to_string(b) + "_w"), "") << "after batch " << b;
      }
    }
  }

  Config entry_;
  fs::path dir_;
};

TEST_P(OptimizerOptions, StepsAsKeras) {
  const auto model = load("initial");
  ASSERT_TRUE(model->is_compiled());
  train(*model, 0, batches(), true);
}

TEST_P(OptimizerOptions, ResumesFromKerasFileSavedMidway) {
  const auto model = load("mid");
  EXPECT_EQ(compare(*model, "step" + std::to_string(mid() - 1) + "_w"), "");
  train(*model, mid(), batches(), true);
}

TEST_P(OptimizerOptions, FitEndsAsKeras) {
  const auto model = load("initial");
  std::vector<Tensor> xs, ys;
  for (int b = 0; b < batches(); ++b)
    xs.push_back(npy("x" + std::to_string(b))), ys.push_back(npy("y" + std::to_string(b)));
  FitOptions options;
  options.batch_size = 8;
  options.shuffle = false;
  options.verbose = 0;
  model->fit(concat(xs, 0), concat(ys, 0), options);
  EXPECT_EQ(compare(*model, "fit_w"), "");
}

TEST_P(OptimizerOptions, Keras3ResumesFromStrataArchive) {
  if (entry_["keras"] != "3") GTEST_SKIP() << "a tf-keras case";
  const auto model = load("initial");
  train(*model, 0, mid(), false);
  const fs::path saved = fs::temp_directory_path() / ("strata-optimizer-options-" + GetParam() + ".keras");
  save_model(*model, saved);
  std::string out;
  ASSERT_EQ(test::run_capturing("'" + test::venv_python().string() + "' '" + kGenerator.string() + "' --resume " +
                                    GetParam() + " '" + dir_.string() + "' '" + saved.string() + "'",
                                out),
            0)
      << out;
  const Config r = Config::parse(out.substr(out.rfind("{\"case\"")));
  EXPECT_LT(r["worst_relative"].get<double>(), 1e-5) << out;
  fs::remove(saved);
}

INSTANTIATE_TEST_SUITE_P(Cases, OptimizerOptions,
                         ::testing::Values("k3_adam_ema", "k3_sgd_ema_overwrite", "k3_adam_accumulate",
                                           "k3_sgd_accumulate", "k3_momentum_accumulate_ema", "k3_rmsprop_loss_scale",
                                           "k3_adam_loss_scale_pow2", "k3_nadam_ema", "tfk_adam_ema",
                                           "tfk_sgd_ema_overwrite"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace strata
