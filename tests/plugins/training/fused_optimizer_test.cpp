// The fused optimizer updates (the runtime's ResourceApplyKerasMomentum and strata.Keras*
// ops, with kernels in backend-onednn) round exactly as the composed element-wise update the
// training plugin runs where no kernel exists: 100 apply_gradients steps of every optimizer,
// with and without its options, leave the variables and every optimizer variable bitwise
// equal on both paths. STRATA_FUSED_UPDATES=0 makes the training plugin compose.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "strata/optimizer.hpp"
#include "strata/registry.hpp"
#include "training_test_util.hpp"

namespace strata::training_tests {
namespace {

struct FusedCase {
  std::string name;
  Config config;
  const char* op;  // the fused op the optimizer runs
};

std::vector<FusedCase> fused_cases() {
  const auto c = [](const char* cls, Config cfg) {
    cfg["learning_rate"] = 0.01;
    return Config{{"class_name", cls}, {"config", cfg}};
  };
  return {
      {"SGD", c("SGD", Config::object()), "ResourceApplyKerasMomentum"},
      {"SGD_momentum", c("SGD", {{"momentum", 0.9}}), "ResourceApplyKerasMomentum"},
      {"SGD_nesterov", c("SGD", {{"momentum", 0.9}, {"nesterov", true}}), "ResourceApplyKerasMomentum"},
      {"Adam", c("Adam", Config::object()), "strata.KerasAdam"},
      {"Adam_amsgrad", c("Adam", {{"amsgrad", true}}), "strata.KerasAdam"},
      {"Adam_clipnorm_weight_decay", c("Adam", {{"clipnorm", 0.5}, {"weight_decay", 0.01}}), "strata.KerasAdam"},
      {"AdamW", c("AdamW", Config::object()), "strata.KerasAdam"},
      {"AdamW_amsgrad", c("AdamW", {{"amsgrad", true}, {"beta_1", 0.8}, {"epsilon", 1e-3}}), "strata.KerasAdam"},
      {"RMSprop", c("RMSprop", Config::object()), "strata.KerasRMSprop"},
      {"RMSprop_centered", c("RMSprop", {{"centered", true}}), "strata.KerasRMSprop"},
      {"RMSprop_momentum", c("RMSprop", {{"momentum", 0.5}, {"rho", 0.8}}), "strata.KerasRMSprop"},
      {"RMSprop_centered_momentum", c("RMSprop", {{"centered", true}, {"momentum", 0.3}}), "strata.KerasRMSprop"},
      {"Adagrad", c("Adagrad", Config::object()), "strata.KerasAdagrad"},
      {"Adagrad_options", c("Adagrad", {{"initial_accumulator_value", 0.5}, {"epsilon", 1e-4}}), "strata.KerasAdagrad"},
      {"Adadelta", c("Adadelta", Config::object()), "strata.KerasAdadelta"},
      {"Adadelta_rho", c("Adadelta", {{"rho", 0.7}, {"epsilon", 1e-5}}), "strata.KerasAdadelta"},
      {"Adamax", c("Adamax", Config::object()), "strata.KerasAdamax"},
      {"Adamax_betas", c("Adamax", {{"beta_1", 0.7}, {"beta_2", 0.9}, {"global_clipnorm", 1.0}}), "strata.KerasAdamax"},
      {"Nadam", c("Nadam", Config::object()), "strata.KerasNadam"},
      {"Nadam_betas", c("Nadam", {{"beta_1", 0.8}, {"beta_2", 0.99}, {"clipvalue", 0.2}}), "strata.KerasNadam"},
      {"Ftrl", c("Ftrl", Config::object()), "strata.KerasFtrl"},
      {"Ftrl_regularized",
       c("Ftrl", {{"learning_rate_power", -0.7},
                  {"l1_regularization_strength", 0.001},
                  {"l2_regularization_strength", 0.01},
                  {"l2_shrinkage_regularization_strength", 0.02},
                  {"beta", 0.1}}),
       "strata.KerasFtrl"},
  };
}

// Deterministic values in about [-scale, scale], some of them exactly 0.
template <class T>
Tensor values(std::int64_t n, std::uint32_t seed, double scale) {
  std::vector<T> v(static_cast<std::size_t>(n));
  std::uint32_t x = seed * 2654435761u + 12345u;
  for (auto& e : v) {
    x = x * 1664525u + 1013904223u;
    const std::uint32_t r = x >> 8;
    e = (r % 17 == 0) ? T(0) : static_cast<T>((static_cast<double>(r) / 8388608.0 - 1.0) * scale);
  }
  return Tensor::from_vector<T>(v, Shape{n}, Device::cpu());
}

// The variables and the optimizer's variables after `steps` steps on two variables (one
// small, one large enough for the element-wise kernels' oneDNN and threaded paths).
template <class T>
std::vector<Tensor> run(const Config& config, bool fused, int steps) {
  if (fused) {
    ::unsetenv("STRATA_FUSED_UPDATES");
  } else {
    ::setenv("STRATA_FUSED_UPDATES", "0", 1);
  }
  const std::int64_t sizes[2] = {15, 20001};
  std::vector<Variable> vars;
  for (int i = 0; i < 2; ++i) vars.emplace_back("v" + std::to_string(i), values<T>(sizes[i], 7u + i, 1.0));
  auto opt = get_optimizer(config);
  for (int s = 0; s < steps; ++s) {
    std::vector<Tensor> grads;
    for (int i = 0; i < 2; ++i) grads.push_back(values<T>(sizes[i], 100u + 3u * s + i, 0.1 + 0.05 * (s % 7)));
    opt->apply_gradients(grads, vars);
  }
  ::unsetenv("STRATA_FUSED_UPDATES");
  std::vector<Tensor> out;
  for (const auto& v : vars) out.push_back(v.value());
  for (const auto& v : opt->variables()) out.push_back(v.value());
  return out;
}

template <class T>
void expect_bitwise_equal(const FusedCase& c) {
  const auto key = kernel_key(c.op, "cpu", dtype_of<T>);
  ASSERT_TRUE(Registry::global().contains(ObjectKind::kKernel, key)) << "no fused kernel " << key;
  const auto fused = run<T>(c.config, true, 100);
  const auto composed = run<T>(c.config, false, 100);
  ASSERT_EQ(fused.size(), composed.size());
  for (std::size_t k = 0; k < fused.size(); ++k) {
    if (fused[k].dtype() != dtype_of<T>) {  // the iteration counter
      EXPECT_EQ(fused[k].template to_vector<std::int64_t>(), composed[k].template to_vector<std::int64_t>());
      continue;
    }
    const auto a = fused[k].template to_vector<T>(), b = composed[k].template to_vector<T>();
    ASSERT_EQ(a.size(), b.size());
    std::size_t differing = 0, first = a.size();
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) {
        if (differing++ == 0) first = i;
      }
    }
    EXPECT_EQ(differing, 0u) << c.name << " " << dtype_name(dtype_of<T>) << ": tensor " << k << " differs in "
                             << differing << " elements, first " << first << ": fused " << a[first] << ", composed "
                             << (first < b.size() ? b[first] : T(0));
  }
}

class FusedOptimizerTest : public ::testing::TestWithParam<FusedCase> {
 protected:
  void SetUp() override {
    const std::string reason = skip_reason("cpu");
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

TEST_P(FusedOptimizerTest, HundredStepsBitwiseEqualTheComposedUpdateFloat32) {
  expect_bitwise_equal<float>(GetParam());
}
TEST_P(FusedOptimizerTest, HundredStepsBitwiseEqualTheComposedUpdateFloat64) {
  expect_bitwise_equal<double>(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Optimizers, FusedOptimizerTest, ::testing::ValuesIn(fused_cases()),
                         [](const ::testing::TestParamInfo<FusedCase>& info) { return info.param.name; });

}  // namespace
}  // namespace strata::training_tests
