// Synchronized batch normalization (BatchNormalization(synchronized=True), tf-keras >= 2.12 and
// Keras 3, and tf-keras's SyncBatchNormalization class) in one process: with no distribution
// strategy it is batch normalization, bit for bit, as in tf-keras (no replica context: plain
// moments). tf-keras never fuses a synchronized layer, so on rank-4 inputs it equals
// BatchNormalization(fused=False) (no Bessel's correction in the moving variance). The configs
// are what tf-keras and Keras 3 write (tests/interop/sync_batchnorm_interop_test.cpp loads them
// in the real thing); the 2-process equality is tests/mpi/sync_batchnorm_mpi_test.cpp.
#include <gtest/gtest.h>

#include "strata/gradient_tape.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

class SyncBatchNormTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

struct Trained {
  std::vector<std::vector<float>> outputs, weights, gradients;
};

// Two training calls and one inference call of a fresh `cls` layer on `x` (mask optional):
// the outputs, the weights afterwards and the gradients of the first call.
Trained train(const std::string& cls, Config config, const Tensor& x, const Tensor& mask = Tensor()) {
  config["momentum"] = 0.5;
  auto layer = make_layer(cls, config);
  layer->ensure_built({x.shape()});
  std::vector<Tensor> init;
  const auto vars = layer->weights();
  for (std::size_t i = 0; i < vars.size(); ++i) {
    init.push_back(pattern_tensor(vars[i].shape(), static_cast<std::int64_t>(i + 1), i == 3));
  }
  layer->set_weights(init);
  const CallContext training{true, mask.defined() ? std::vector<Tensor>{mask} : std::vector<Tensor>{}};
  Trained out;
  GradientTape tape(/*persistent=*/true);
  tape.watch(x);
  const Tensor y = layer->call_with_masks({x}, training).tensors[0];
  const Tensor loss = sum(y * pattern_tensor(y.shape(), 9));
  std::vector<Tensor> sources = {x};
  for (const auto& v : layer->trainable_weights()) sources.push_back(v.value());
  for (const auto& g : tape.gradient(loss, std::vector<Tensor>{x})) out.gradients.push_back(values(g));
  for (const auto& g : tape.gradient(loss, layer->trainable_weights())) out.gradients.push_back(values(g));
  out.outputs.push_back(values(y));
  out.outputs.push_back(values(layer->call_with_masks({x * 1.5 + 0.25}, training).tensors[0]));
  out.outputs.push_back(values((*layer)(x)));
  for (const auto& w : layer->get_weights()) out.weights.push_back(values(w));
  return out;
}

void expect_same(const Trained& a, const Trained& b) {
  EXPECT_EQ(a.outputs, b.outputs);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.gradients, b.gradients);
}

TEST_F(SyncBatchNormTest, WithoutAStrategyIsBatchNormalizationBitForBit) {
  const Tensor x2 = pattern_tensor(Shape{6, 3}, 100);
  const Trained plain = train("BatchNormalization", Config::object(), x2);
  expect_same(train("BatchNormalization", Config{{"synchronized", true}}, x2), plain);
  expect_same(train("SyncBatchNormalization", Config::object(), x2), plain);
  // A mask (tf.nn.weighted_moments in both).
  const Tensor x3 = pattern_tensor(Shape{2, 4, 3}, 101);
  const Tensor mask = Tensor::from_bools({1, 1, 0, 1, 0, 1, 1, 0}, Shape{2, 4});
  expect_same(train("SyncBatchNormalization", Config::object(), x3, mask),
              train("BatchNormalization", Config::object(), x3, mask));
  // Rank 4: tf-keras takes no fused kernel for a synchronized layer.
  const Tensor x4 = pattern_tensor(Shape{2, 3, 3, 2}, 102);
  const Trained unfused = train("BatchNormalization", Config{{"fused", false}}, x4);
  expect_same(train("BatchNormalization", Config{{"synchronized", true}}, x4), unfused);
  expect_same(train("SyncBatchNormalization", Config{{"axis", 3}}, x4), unfused);
  // ... where the fused one corrects the moving variance by n / (n - 1) (n = 18 here).
  const Trained fused = train("BatchNormalization", Config::object(), x4);
  EXPECT_EQ(fused.outputs[0], unfused.outputs[0]);
  EXPECT_NE(fused.weights[3], unfused.weights[3]);
}

TEST_F(SyncBatchNormTest, ConfigsAreWhatTfKerasAndKeras3Write) {
  // tf-keras's SyncBatchNormalization: BatchNormalization's keys, no `synchronized` (its
  // constructor sets it and refuses another).
  auto sync = make_layer("SyncBatchNormalization", Config{{"name", "s"}});
  EXPECT_EQ(sync->class_name(), "SyncBatchNormalization");
  const Config sc = sync->get_config();
  EXPECT_FALSE(sc.contains("synchronized")) << sc.dump();
  EXPECT_EQ(sc.at("momentum"), Config(0.99));
  // BatchNormalization: `synchronized` written when set (Keras 3 writes it always, tf-keras
  // never; both read it), so the default config is unchanged.
  EXPECT_EQ(make_layer("BatchNormalization", Config{{"synchronized", true}})->get_config().at("synchronized"),
            Config(true));
  EXPECT_FALSE(make_layer("BatchNormalization", Config::object())->get_config().contains("synchronized"));
  // Keras 3's BatchNormalization config (synchronized and renorm keys).
  const Config keras3 = Config::parse(R"({"name": "b", "axis": -1, "momentum": 0.9, "epsilon": 0.001,
      "center": true, "scale": true, "synchronized": true, "renorm": false, "renorm_clipping": null,
      "renorm_momentum": 0.99})");
  EXPECT_EQ(make_layer("BatchNormalization", keras3)->get_config().at("synchronized"), Config(true));
  // Round trip through the layer's own config.
  auto again = make_layer("SyncBatchNormalization", sc);
  EXPECT_EQ(again->get_config(), sc);
}

TEST_F(SyncBatchNormTest, ContradictoryConfigsAreValueErrors) {
  // tf-keras: "`fused=True` is not supported when `synchronized=True`."
  EXPECT_THROW(make_layer("BatchNormalization", Config{{"synchronized", true}, {"fused", true}}), ValueError);
  EXPECT_THROW(make_layer("SyncBatchNormalization", Config{{"fused", true}}), ValueError);
  EXPECT_THROW(make_layer("SyncBatchNormalization", Config{{"synchronized", false}}), ValueError);
  EXPECT_NO_THROW(make_layer("SyncBatchNormalization", Config{{"synchronized", true}, {"fused", nullptr}}));
}

}  // namespace
}  // namespace strata::layer_tests
