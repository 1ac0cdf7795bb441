// Losses against tf-keras 2.17 (losses.json): per-sample losses (reduction "none") and
// the reduced loss ("sum", "sum_over_batch_size"), with and without sample weights, for
// every class and option variant (from_logits, label smoothing, axis, ignore_class) and
// for function names as compile() wraps them; get_config key for key.
#include <gtest/gtest.h>

#include "strata/gradient_tape.hpp"
#include "strata/losses.hpp"
#include "training_test_util.hpp"

namespace strata::training_tests {
namespace {

const Config& loss_fixture() {
  static const Config fixture = load_fixture("losses.json");
  return fixture;
}

struct LossParam {
  std::string device;
  std::string name;
};

class LossTest : public ::testing::TestWithParam<LossParam> {
 protected:
  void SetUp() override {
    const std::string reason = skip_reason(GetParam().device);
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
  static const Config& fixture_case() {
    for (const auto& c : loss_fixture()["cases"]) {
      if (c["name"] == GetParam().name) return c;
    }
    throw std::runtime_error("no loss case " + GetParam().name);
  }
};

TEST_P(LossTest, MatchesTfKeras) {
  const Config& c = fixture_case();
  DeviceScope scope{Device(GetParam().device)};
  const Tensor y_true = tensor_of(c["y_true"]), y_pred = tensor_of(c["y_pred"]), sw = tensor_of(c["sample_weight"]);
  for (const char* reduction : {"none", "sum", "sum_over_batch_size"}) {
    SCOPED_TRACE(reduction);
    Config config = c["config_in"];
    if (config.is_null()) config = Config::object();
    config["reduction"] = reduction;
    auto loss = get_loss(Config{{"class_name", c["class_name"]}, {"config", config}});
    ASSERT_NE(loss, nullptr);
    const Config& want = c["results"][reduction];
    const Tensor got = (*loss)(y_true, y_pred);
    EXPECT_EQ(got.shape().dims(), want["shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(differ(values(got), ref_values(want)), "") << "unweighted";
    const Config& want_w = c["results"][std::string(reduction) + "_weighted"];
    if (want_w.is_null()) continue;  // tf-keras refuses these weights
    const Tensor got_w = (*loss)(y_true, y_pred, sw);
    EXPECT_EQ(got_w.shape().dims(), want_w["shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(differ(values(got_w), ref_values(want_w)), "") << "weighted";
  }
  auto loss = get_loss(Config{{"class_name", c["class_name"]}, {"config", c["config_in"]}});
  expect_same_config(loss->get_config(), c["config"]);
  // The config rebuilds the same loss.
  auto again = get_loss(Config{{"class_name", loss->class_name()}, {"config", loss->get_config()}});
  expect_same_config(again->get_config(), c["config"]);
}

std::vector<LossParam> loss_params() {
  std::vector<LossParam> out;
  for (const auto& d : test_devices()) {
    for (const auto& c : loss_fixture()["cases"]) out.push_back({d, c["name"].get<std::string>()});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(TfKeras, LossTest, ::testing::ValuesIn(loss_params()),
                         [](const ::testing::TestParamInfo<LossParam>& info) {
                           return info.param.name + "_" + info.param.device.substr(0, info.param.device.find(':'));
                         });

TEST(LossNames, ClassesAndFunctionNames) {
  const std::vector<std::pair<std::string, std::string>> classes = {
      {"MeanSquaredError", "mean_squared_error"},
      {"MeanAbsoluteError", "mean_absolute_error"},
      {"MeanAbsolutePercentageError", "mean_absolute_percentage_error"},
      {"MeanSquaredLogarithmicError", "mean_squared_logarithmic_error"},
      {"BinaryCrossentropy", "binary_crossentropy"},
      {"CategoricalCrossentropy", "categorical_crossentropy"},
      {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"},
      {"Huber", "huber_loss"},
      {"KLDivergence", "kl_divergence"},
      {"Poisson", "poisson"},
      {"CosineSimilarity", "cosine_similarity"},
      {"Hinge", "hinge"},
      {"SquaredHinge", "squared_hinge"},
      {"CategoricalHinge", "categorical_hinge"},
      {"LogCosh", "log_cosh"}};
  for (const auto& [cls, name] : classes) {
    auto loss = get_loss(Config(cls));
    EXPECT_EQ(loss->class_name(), cls);
    EXPECT_EQ(loss->name(), name) << cls;
    EXPECT_EQ(loss->reduction(), Reduction::kSumOverBatchSize);
  }
  // Function names: a LossFunctionWrapper named after the function (fn.__name__).
  const std::vector<std::pair<std::string, std::string>> functions = {
      {"mse", "mean_squared_error"},
      {"MSE", "mean_squared_error"},
      {"mean_squared_error", "mean_squared_error"},
      {"mae", "mean_absolute_error"},
      {"mape", "mean_absolute_percentage_error"},
      {"msle", "mean_squared_logarithmic_error"},
      {"binary_crossentropy", "binary_crossentropy"},
      {"categorical_crossentropy", "categorical_crossentropy"},
      {"sparse_categorical_crossentropy", "sparse_categorical_crossentropy"},
      {"huber", "huber"},
      {"huber_loss", "huber"},
      {"kl_divergence", "kl_divergence"},
      {"kld", "kl_divergence"},
      {"kullback_leibler_divergence", "kl_divergence"},
      {"poisson", "poisson"},
      {"cosine_similarity", "cosine_similarity"},
      {"hinge", "hinge"},
      {"squared_hinge", "squared_hinge"},
      {"categorical_hinge", "categorical_hinge"},
      {"logcosh", "log_cosh"}};
  for (const auto& [fn, name] : functions) {
    auto loss = get_loss(Config(fn));
    EXPECT_EQ(loss->class_name(), "LossFunctionWrapper") << fn;
    EXPECT_EQ(loss->name(), name) << fn;
    EXPECT_EQ(loss->get_config()["fn"], name) << fn;
  }
  EXPECT_THROW(get_loss(Config("no_such_loss")), UnknownObjectError);
}

// Losses are written in ops, so the tape differentiates them: the gradient of the mean
// squared error is 2 (y_pred - y_true) / n.
TEST(LossGradients, FlowThroughTheTape) {
  DeviceScope scope{Device("ref:0")};
  Variable p("p", Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.0f}, Shape{2, 2}));
  const Tensor t = Tensor::from_vector<float>({1.0f, 1.0f, 1.0f, 1.0f}, Shape{2, 2});
  auto mse = get_loss(Config("mse"));
  GradientTape tape;
  const Tensor l = (*mse)(t, read(p));
  const auto grads = tape.gradient(l, {p});
  EXPECT_EQ(differ(values(grads[0]), {-0.25, -1.0, 0.5, -0.5}), "");
  // Crossentropies from logits too: softmax - one_hot, averaged over the batch.
  auto cce = get_loss(Config::parse(R"({"class_name": "CategoricalCrossentropy", "config": {"from_logits": true}})"));
  Variable logits("logits", Tensor::from_vector<float>({0.0f, 0.0f}, Shape{1, 2}));
  GradientTape tape2;
  const Tensor l2 = (*cce)(Tensor::from_vector<float>({1.0f, 0.0f}, Shape{1, 2}), read(logits));
  EXPECT_EQ(differ(values(tape2.gradient(l2, {logits})[0]), {-0.5, 0.5}), "");
}

}  // namespace
}  // namespace strata::training_tests
