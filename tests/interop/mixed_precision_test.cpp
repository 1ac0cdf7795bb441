// tf-keras's mixed_float16 and mixed_bfloat16 policies computed in half precision (issue 23),
// against real tf-keras 2.21 (label interop; skips without the venv). The models (an MLP, a
// small CNN with BatchNormalization, LSTMs, an MLP ending in a float32 Activation), their
// predictions and three training steps (LossScaleOptimizer for float16) come from
// tests/interop/generate_mixed_precision.py at test time (cached under
// ~/.cache/strata/mixed-precision).
//
// Tolerances. Strata keeps half storage and computes each op in float32, rounding its result
// to the half dtype; TensorFlow's CPU kernels round at other points (a fused or half-native
// kernel, a different summation order). Both are within a few rounding steps of the exact
// result, so the difference is measured in units of the output's half-precision epsilon
// (2^-10 for float16, 2^-7 for bfloat16) times the output's largest magnitude: at most
// kUlps of them. Measured (this test prints it): float16 mlp 0, f32out 0, cnn 0, lstm 1.25;
// bfloat16 mlp 0.20, f32out 0.65, cnn 0.78, lstm 0.31.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <ostream>
#include <string>

#include "interop_venv.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/optimizer.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"
#include "strata/training.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kGenerator = fs::path(STRATA_SOURCE_DIR) / "tests/interop/generate_mixed_precision.py";

fs::path generated() {
  return test::generated_fixtures("mixed-precision", kGenerator);
}

// Outputs may differ by this many half-precision epsilons of the output's largest magnitude.
constexpr double kUlps = 4;

std::vector<double> values(const Tensor& t) {
  return cast(t.to(Device::cpu()), DType::kFloat64).to_vector<double>();
}

// max |a - b| / (epsilon * max |b|): the difference in epsilons of the output's scale.
double epsilons_apart(const Tensor& a, const Tensor& b, double epsilon) {
  const auto x = values(a), y = values(b);
  if (x.size() != y.size()) return INFINITY;
  double scale = 0, worst = 0;
  for (double v : y) scale = std::max(scale, std::fabs(v));
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  return worst / (epsilon * std::max(scale, 1e-30));
}

double epsilon_of(const std::string& policy) {
  return policy == "mixed_float16" ? 0x1p-10 : 0x1p-7;
}

struct Case {
  std::string policy, model, format;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.policy << "/" << c.model << "/" << c.format;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.policy + "_" + info.param.model + "_" + info.param.format;
}

class MixedPrecisionPredict : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    for (const char* f : {"h5", "savedmodel"}) {
      if (!Registry::global().contains(ObjectKind::kFormat, f)) GTEST_SKIP() << "format " << f << " is not built";
    }
  }
};

TEST_P(MixedPrecisionPredict, EqualsKerasInDtypeAndValue) {
  const Case& c = GetParam();
  const std::string name = c.policy + "_" + c.model;
  const fs::path dir = generated() / name;
  const Config index = Config::parse(test::read_text(generated() / "index.json"));
  const auto model = load_model(dir / (c.format == "h5" ? "model.h5" : "savedmodel"));
  // Variables stay float32 under a mixed policy.
  for (const auto& w : model->weights()) EXPECT_EQ(w.dtype(), DType::kFloat32) << w.name();
  const Tensor pred = model->predict(read_npy(dir / "x.npy"));
  const std::string keras_dtype = index[name]["dtype"].get<std::string>();
  EXPECT_EQ(dtype_name(pred.dtype()), keras_dtype);
  const double apart = epsilons_apart(pred, read_npy(dir / "pred.npy"), epsilon_of(c.policy));
  EXPECT_LE(apart, kUlps);
  std::printf("%s (%s): %.3g epsilons from tf-keras\n", name.c_str(), c.format.c_str(), apart);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char* policy : {"mixed_float16", "mixed_bfloat16"}) {
    for (const char* model : {"mlp", "f32out", "cnn", "lstm", "lstm_varlen", "lstm_stateful"}) {
      for (const char* format : {"h5", "savedmodel"}) out.push_back({policy, model, format});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Models, MixedPrecisionPredict, ::testing::ValuesIn(cases()), case_name);

// Three training steps of a mixed model ending in a float32 Activation, against tf-keras's
// weights after the same steps: the mixed_float16 MLP and CNN (BatchNormalization, whose
// statistics are float32 as in Keras) with a dynamic LossScaleOptimizer(SGD), and the
// mixed_bfloat16 CNN and LSTM on inputs of unknown length with plain SGD (no loss scaling:
// the step runs as Strata's traced graph, its casts and half ops traced, the LSTM as one
// deferred call; loss-scaling optimizers run eagerly, traced_step.cpp).
// Variables stay float32 and are updated by float32 gradients (the Cast of each autocast read
// sends them back in float32). Both compute the gradients in the half dtype, rounded at
// different points: with learning rate 0.1 and three steps the weights may differ by a few
// tenths of an epsilon of the gradients' scale, bounded by kTrainUlps epsilons of each
// weight's largest magnitude (measured: float16 MLP 0, CNN 0.15; bfloat16 CNN 0.63).
constexpr double kTrainUlps = 2;

class MixedPrecisionTraining : public ::testing::TestWithParam<std::string> {};

TEST_P(MixedPrecisionTraining, StepsEqualKeras) {
  if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
  if (!Registry::global().contains(ObjectKind::kFormat, "h5")) GTEST_SKIP() << "format h5 is not built";
  const fs::path dir = generated() / GetParam();
  const Config after = Config::parse(test::read_text(dir / "after.json"));
  const bool scaled = !after["loss_scale"].is_null();
  const double epsilon = scaled ? 0x1p-10 : 0x1p-7;  // float16 (loss-scaled) or bfloat16
  const auto model = load_model(dir / "model.h5");
  ASSERT_TRUE(model->is_compiled());
  EXPECT_EQ(loss_scale(*model->optimizer()) != nullptr, scaled);
  const Tensor x = read_npy(dir / "x.npy"), y = read_npy(dir / "y.npy");
  reset_traced_train_step_stats();
  for (std::size_t step = 0; step < 3; ++step) {
    const double loss = model->train_on_batch({x}, {y}).at("loss");
    const double keras = after["losses"][step].get<double>();
    EXPECT_NEAR(loss, keras, 2 * epsilon * std::fabs(keras)) << "step " << step;
  }
  if (traced_train_step_enabled() && !scaled) {
    EXPECT_EQ(traced_train_step_stats().traced_steps, 3u);
  }
  if (scaled) {
    EXPECT_EQ(loss_scale(*model->optimizer())->scale.value().item<float>(), after["loss_scale"].get<double>());
  }
  const auto w = model->weights();
  const Config& names = after["weights"];
  ASSERT_EQ(w.size(), names.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    EXPECT_EQ(w[i].dtype(), DType::kFloat32) << w[i].name();
    std::size_t k = 0;
    while (k < names.size() && names[k].get<std::string>() != w[i].name()) ++k;
    ASSERT_LT(k, names.size()) << "tf-keras has no weight named " << w[i].name();
    const Tensor keras = read_npy(dir / ("after_w" + std::to_string(k) + ".npy"));
    const double apart = epsilons_apart(w[i].value(), keras, epsilon);
    EXPECT_LE(apart, kTrainUlps) << w[i].name();
    std::printf("%s %s: %.3g epsilons of its scale from tf-keras\n", GetParam().c_str(), w[i].name().c_str(), apart);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, MixedPrecisionTraining,
                         ::testing::Values("train_mixed_float16", "train_cnn_mixed_float16",
                                           "train_cnn_mixed_bfloat16", "train_lstm_varlen_mixed_bfloat16"));

}  // namespace
}  // namespace strata
