// End to end: models of the layers plugin's Dense layers, compiled with each optimizer
// of the plugin by name, learn with Model::fit — a two-class spiral (accuracy above 95%)
// and a linear regression (its coefficients recovered within 1e-2). Runs on the cpu
// device when its backend plugin is loaded, else on the ref device.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>

#include "strata/model.hpp"
#include "training_test_util.hpp"

namespace strata::training_tests {
namespace {

Device fit_device() { return skip_reason("cpu:0").empty() ? Device("cpu:0") : Device("ref:0"); }

bool layers_plugin_loaded() { return Registry::global().contains(ObjectKind::kLayer, "Dense"); }

// Two interleaved spiral arms of `per_class` points each (one turn, a little noise):
// x [2n, 2], y [2n, 1] with labels 0 and 1.
std::pair<Tensor, Tensor> spiral(std::int64_t per_class, const Device& device) {
  std::mt19937 rng(42);
  std::normal_distribution<float> noise(0.0f, 0.04f);
  std::vector<float> x, y;
  for (int k = 0; k < 2; ++k) {
    for (std::int64_t i = 0; i < per_class; ++i) {
      const float t = static_cast<float>(i) / static_cast<float>(per_class);
      const float r = 0.15f + 0.85f * t;
      const float theta = 2.0f * static_cast<float>(M_PI) * t + static_cast<float>(k) * static_cast<float>(M_PI);
      x.push_back(r * std::cos(theta) + noise(rng));
      x.push_back(r * std::sin(theta) + noise(rng));
      y.push_back(static_cast<float>(k));
    }
  }
  const std::int64_t n = 2 * per_class;
  return {Tensor::from_vector<float>(x, Shape{n, 2}, device), Tensor::from_vector<float>(y, Shape{n, 1}, device)};
}

struct FitCase {
  std::string optimizer;     // registered name, as compile() takes it
  Config spiral_config;      // optimizer config for the spiral
  Config regression_config;  // and for the regression
};

constexpr int kSpiralEpochs = 60;
constexpr int kRegressionEpochs = 100;

std::vector<FitCase> fit_cases() {
  return {
      {"sgd", {{"learning_rate", 0.1}, {"momentum", 0.9}}, {{"learning_rate", 0.1}, {"momentum", 0.9}}},
      {"adam", {{"learning_rate", 0.01}}, {{"learning_rate", 0.01}}},
      // The default weight decay (0.004) pulls the regression's solution by about 1e-2.
      {"adamw", {{"learning_rate", 0.01}}, {{"learning_rate", 0.01}, {"weight_decay", 1e-4}}},
      {"rmsprop", {{"learning_rate", 0.005}}, {{"learning_rate", 0.005}}},
      {"adagrad", {{"learning_rate", 0.1}}, {{"learning_rate", 0.5}}},
      {"adadelta", {{"learning_rate", 1.0}}, {{"learning_rate", 1.0}, {"epsilon", 1e-3}}},
      {"adamax", {{"learning_rate", 0.02}}, {{"learning_rate", 0.02}}},
      {"nadam", {{"learning_rate", 0.01}}, {{"learning_rate", 0.01}}},
      // Ftrl's first steps replace the weights by -linear / quadratic; a small initial
      // accumulator keeps the random initialisation a deep model needs.
      {"ftrl", {{"learning_rate", 0.1}, {"initial_accumulator_value", 1e-6}}, {{"learning_rate", 0.5}}},
  };
}

class FitTest : public ::testing::TestWithParam<FitCase> {
 protected:
  void SetUp() override {
    if (!layers_plugin_loaded()) GTEST_SKIP() << "the layers plugin (Dense) is not loaded";
    clear_session();
  }
};

TEST_P(FitTest, SpiralIsClassified) {
  const FitCase& p = GetParam();
  DeviceScope scope{fit_device()};
  set_random_seed(1234);
  auto [x, y] = spiral(100, fit_device());
  Sequential model({make_layer("Dense", {{"units", 64}, {"activation", "relu"}, {"input_shape", {2}}}),
                    make_layer("Dense", {{"units", 64}, {"activation", "relu"}}),
                    make_layer("Dense", {{"units", 1}, {"activation", "sigmoid"}})});
  model.compile(Config{{"class_name", p.optimizer}, {"config", p.spiral_config}}, Config("binary_crossentropy"),
                Config::array({"accuracy"}));
  FitOptions options;
  options.batch_size = 32;
  options.epochs = kSpiralEpochs;
  options.verbose = 0;
  const History history = model.fit(x, y, options);
  ASSERT_EQ(history.history.at("loss").size(), static_cast<std::size_t>(kSpiralEpochs));
  const Logs logs = model.evaluate(x, y, 200);
  std::cout << "[ spiral   ] " << p.optimizer << ": loss " << logs.at("loss") << ", accuracy " << logs.at("accuracy")
            << " after " << kSpiralEpochs << " epochs\n";
  EXPECT_GT(logs.at("accuracy"), 0.95) << p.optimizer;
  EXPECT_LT(history.history.at("loss").back(), history.history.at("loss").front());
  // The optimizer's state is tf-keras's: iteration counts every batch.
  const auto vars = model.optimizer()->variables();
  EXPECT_EQ(vars[0].value().to(Device::cpu()).item<std::int64_t>(), static_cast<std::int64_t>(kSpiralEpochs) * 7);
}

TEST_P(FitTest, LinearRegressionRecoversItsCoefficients) {
  const FitCase& p = GetParam();
  DeviceScope scope{fit_device()};
  set_random_seed(99);
  const std::vector<float> w = {2.0f, -3.0f, 0.5f};
  const float b = 1.0f;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const std::int64_t n = 256;
  std::vector<float> xs, ys;
  for (std::int64_t i = 0; i < n; ++i) {
    float target = b;
    for (float wi : w) {
      const float v = u(rng);
      xs.push_back(v);
      target += wi * v;
    }
    ys.push_back(target);
  }
  const Tensor x = Tensor::from_vector<float>(xs, Shape{n, 3}, fit_device());
  const Tensor y = Tensor::from_vector<float>(ys, Shape{n, 1}, fit_device());
  Sequential model({make_layer("Dense", {{"units", 1}, {"input_shape", {3}}})});
  model.compile(Config{{"class_name", p.optimizer}, {"config", p.regression_config}}, Config("mse"), Config::array({"mae"}));
  FitOptions options;
  options.batch_size = 16;
  options.epochs = kRegressionEpochs;
  options.verbose = 0;
  model.fit(x, y, options);
  const auto weights = model.get_weights();
  ASSERT_EQ(weights.size(), 2u);
  const auto kernel = values(weights[0]), bias = values(weights[1]);
  double worst = std::fabs(bias[0] - b);
  for (std::size_t i = 0; i < w.size(); ++i) worst = std::max(worst, std::fabs(kernel[i] - w[i]));
  std::cout << "[ linear   ] " << p.optimizer << ": kernel " << kernel[0] << " " << kernel[1] << " " << kernel[2]
            << ", bias " << bias[0] << ", largest error " << worst << " after " << kRegressionEpochs << " epochs\n";
  EXPECT_LE(worst, 1e-2) << p.optimizer;
}

// fit without shuffling, and evaluate, hand each step the caller's rows in place (no copy of
// the batch), and a step that keeps its batch beyond the step gets a copy of its own: after
// fit returns, overwriting the caller's data does not reach what the step kept.
class RowRecordingModel final : public Sequential {
 public:
  using Sequential::Sequential;
  Logs train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sw) override {
    train_addresses.push_back(x.at(0).data());
    kept.push_back(x.at(0));
    return Sequential::train_step(x, y, sw);
  }
  Logs test_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sw) override {
    test_addresses.push_back(x.at(0).data());
    return Sequential::test_step(x, y, sw);
  }
  std::vector<const void*> train_addresses, test_addresses;
  std::vector<Tensor> kept;
};

TEST(Fit, WithoutShufflingStepsReadTheCallersRowsInPlaceAndKeptBatchesAreCopied) {
  if (!layers_plugin_loaded()) GTEST_SKIP() << "the layers plugin (Dense) is not loaded";
  DeviceScope scope{Device::cpu()};
  const std::int64_t n = 10, batch = 4;
  std::vector<float> xs(static_cast<std::size_t>(n * 3)), ys(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i);
  for (std::size_t i = 0; i < ys.size(); ++i) ys[i] = static_cast<float>(i % 2);
  Tensor x = Tensor::from_vector<float>(xs, Shape{n, 3});
  const Tensor y = Tensor::from_vector<float>(ys, Shape{n, 1});
  RowRecordingModel model({make_layer("Dense", {{"units", 1}, {"input_shape", {3}}})});
  model.compile(Config("sgd"), Config("mse"));
  FitOptions options;
  options.batch_size = batch;
  options.epochs = 1;
  options.verbose = 0;
  options.shuffle = false;
  model.fit(x, y, options);
  (void)model.evaluate(x, y, batch, 0);
  const auto* base = static_cast<const char*>(x.data());
  const std::vector<const void*> expected = {base, base + 4 * 3 * sizeof(float), base + 8 * 3 * sizeof(float)};
  EXPECT_EQ(model.train_addresses, expected);
  EXPECT_EQ(model.test_addresses, expected);
  // The kept batches hold the rows they were given, in memory of their own.
  ASSERT_EQ(model.kept.size(), 3u);
  for (const auto& k : model.kept) EXPECT_NE(k.data(), nullptr);
  for (std::size_t b = 0; b < 3; ++b) EXPECT_NE(model.kept[b].data(), expected[b]) << "batch " << b;
  std::fill(xs.begin(), xs.end(), -1.0f);
  x = Tensor::from_vector<float>(xs, Shape{n, 3});  // the old tensor is gone
  const auto last = model.kept[2].to_vector<float>();
  EXPECT_EQ(last, (std::vector<float>{24, 25, 26, 27, 28, 29}));
}

// One output's metrics as a list of one list, as a training config may hold them
// ([[{"class_name": "MeanMetricWrapper", ...}]]; Keras accepts metrics=[["mae"]] for one
// output): the inner list's metrics, as with ["mae"].
TEST(Compile, OneOutputsMetricsAsAListOfOneListAreThatList) {
  const auto logs_with = [](const Config& metrics) {
    Sequential model({make_layer("Dense", {{"units", 1}, {"input_shape", {2}}, {"kernel_initializer", "ones"}})});
    model.compile(Config("sgd"), Config("mse"), metrics);
    const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, Shape{2, 2});
    const Tensor y = Tensor::from_vector<float>({1, 0}, Shape{2, 1});
    return model.evaluate(x, y, 2, 0);
  };
  const Logs nested = logs_with(Config::parse(R"([[{"class_name": "MeanMetricWrapper", "config": {"name": "mae", "dtype": "float32", "fn": "mean_absolute_error"}}]])"));
  const Logs flat = logs_with(Config::array({"mae"}));
  ASSERT_TRUE(nested.get("mae").has_value());
  EXPECT_EQ(nested.at("mae"), flat.at("mae"));
}

// A loss weight that is not a number (from a file's training_config) is a ValueError naming
// the output, not the JSON library's type_error.
TEST(Compile, NonNumericLossWeightIsAValueErrorNamingTheOutput) {
  Sequential model({make_layer("Dense", {{"units", 1}, {"input_shape", {2}}, {"name", "only_output"}})});
  try {
    model.compile(Config("sgd"), Config("mse"), Config(nullptr), Config("heavy"));
    FAIL() << "a string loss weight was accepted";
  } catch (const ValueError& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("loss_weights for output '"), std::string::npos) << text;
    EXPECT_NE(text.find("' must be a number, got \"heavy\""), std::string::npos) << text;
  }
}

// tf-keras's compiled loss of an output that carries a Keras mask averages over the valid
// steps only: sum(loss · mask) / sum(mask) under sum_over_batch_size, sum(loss · mask)
// under sum (losses_utils.apply_mask / apply_valid_mask). Embedding(mask_zero) with
// embeddings [0, 1, 2, 3, 4] and MSE against 0: the per-step losses are the squared token
// values, so tokens [[1, 2, 0, 0], [3, 0, 0, 0]] give (1 + 4 + 9) / 3 (all 8 steps: 14/8).
TEST(CompiledLoss, AMaskedSequenceOutputAveragesOverItsValidStepsAsKerasDoes) {
  if (!layers_plugin_loaded()) GTEST_SKIP() << "the layers plugin is not loaded";
  DeviceScope scope{fit_device()};
  const Tensor tokens = Tensor::from_vector<std::int32_t>({1, 2, 0, 0, 3, 0, 0, 0}, Shape({2, 4}));
  const Tensor zeros = Tensor::from_vector<float>(std::vector<float>(8, 0.0f), Shape({2, 4, 1}));
  for (const char* reduction : {"sum_over_batch_size", "sum"}) {
    SCOPED_TRACE(reduction);
    Sequential model({make_layer("Embedding", {{"input_dim", 5}, {"output_dim", 1}, {"mask_zero", true},
                                               {"input_shape", {4}}, {"name", "tokens"}})});
    model.set_weights({Tensor::from_vector<float>({0, 1, 2, 3, 4}, Shape({5, 1}))});
    model.compile(Config("sgd"),
                  Config{{"class_name", "MeanSquaredError"}, {"config", {{"reduction", reduction}}}});
    const double loss = model.test_on_batch({tokens}, {zeros}).at("loss");
    EXPECT_NEAR(loss, std::string(reduction) == "sum" ? 14.0 : 14.0 / 3.0, 1e-5);
    // With sample weights [1, 0.5]: (1 + 4 + 0.5 · 9) / 3 and 1 + 4 + 4.5.
    const Tensor sw = Tensor::from_vector<float>({1.0f, 0.5f}, Shape({2}));
    const double weighted = model.test_on_batch({tokens}, {zeros}, sw).at("loss");
    EXPECT_NEAR(weighted, std::string(reduction) == "sum" ? 9.5 : 9.5 / 3.0, 1e-5);
  }
}

// compile()'s metrics are not weighted by sample weights (that is Keras's
// weighted_metrics), but they are by the output's mask: mean absolute error of the masked
// output above is (1 + 2 + 3) / 3 with or without sample weights; without the mask, 6 / 8.
TEST(CompiledMetrics, FollowTheOutputMaskAndIgnoreSampleWeightsAsKerasDoes) {
  if (!layers_plugin_loaded()) GTEST_SKIP() << "the layers plugin is not loaded";
  DeviceScope scope{fit_device()};
  const Tensor tokens = Tensor::from_vector<std::int32_t>({1, 2, 0, 0, 3, 0, 0, 0}, Shape({2, 4}));
  const Tensor zeros = Tensor::from_vector<float>(std::vector<float>(8, 0.0f), Shape({2, 4, 1}));
  const Tensor sw = Tensor::from_vector<float>({1.0f, 0.5f}, Shape({2}));
  for (const bool mask_zero : {true, false}) {
    SCOPED_TRACE(mask_zero ? "masked" : "unmasked");
    Sequential model({make_layer("Embedding", {{"input_dim", 5}, {"output_dim", 1}, {"mask_zero", mask_zero},
                                               {"input_shape", {4}}, {"name", "tokens"}})});
    model.set_weights({Tensor::from_vector<float>({0, 1, 2, 3, 4}, Shape({5, 1}))});
    model.compile(Config("sgd"), Config("mse"), Config::array({"mae"}));
    const double want = mask_zero ? 2.0 : 0.75;
    EXPECT_NEAR(model.test_on_batch({tokens}, {zeros}).at("mae"), want, 1e-5);
    EXPECT_NEAR(model.test_on_batch({tokens}, {zeros}, sw).at("mae"), want, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Optimizers, FitTest, ::testing::ValuesIn(fit_cases()),
                         [](const ::testing::TestParamInfo<FitCase>& info) { return info.param.optimizer; });

}  // namespace
}  // namespace strata::training_tests
