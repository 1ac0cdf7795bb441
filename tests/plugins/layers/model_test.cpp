// Models made of the plugin's layers: the guide's 784-64-64-10 MLP as a Functional and a
// Sequential model, a CNN and a branchy two-input model; their summary() text and H5
// model configs against tf-keras 2.17's (keras_expected.inc), rebuilding them from those
// configs, and predictions through them against the layers applied one by one.
#include <gtest/gtest.h>

#include <sstream>

#include "keras_expected.inc"
#include "strata/model.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

class LayerModelTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

std::shared_ptr<Layer> layer(const char* cls, Config config) { return make_layer(cls, config); }

std::shared_ptr<Functional> three_layer_mlp() {
  Tensor inputs = Input(Shape{784}, "digits");
  Tensor x = (*layer("Dense", {{"units", 64}, {"activation", "relu"}, {"name", "dense_1"}}))(inputs);
  x = (*layer("Dense", {{"units", 64}, {"activation", "relu"}, {"name", "dense_2"}}))(x);
  Tensor outputs = (*layer("Dense", {{"units", 10}, {"name", "predictions"}}))(x);
  return std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs}, "3_layer_mlp");
}

// The layer rows of a summary (between the "====" rules, without blank separators):
// compared first, so that a difference in a layer's row reads clearly.
std::vector<std::string> layer_rows(const std::string& summary) {
  std::vector<std::string> rows;
  std::istringstream in(summary);
  std::string line;
  int rules = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.find_first_not_of('=') == std::string::npos) {
      ++rules;
      continue;
    }
    if (rules == 1 && line.find_first_not_of(' ') != std::string::npos) rows.push_back(line);
  }
  return rows;
}

void expect_summary(const Model& model, const char* expected) {
  EXPECT_EQ(layer_rows(model.summary()), layer_rows(expected));
  EXPECT_EQ(model.summary(), expected);
}

// Copies weights layer by layer (independent of model-level weight lists).
void copy_weights(const Model& from, Model& to) {
  const auto a = from.layers(), b = to.layers();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) b[i]->set_weights(a[i]->get_weights());
}

// Layer entries of a model config, compared one by one (clearer failures than one dump).
void expect_same_layers(const Config& got, const Config& want) {
  ASSERT_EQ(got["layers"].size(), want["layers"].size());
  for (std::size_t i = 0; i < want["layers"].size(); ++i) {
    EXPECT_EQ(got["layers"][i].dump(), want["layers"][i].dump()) << "layer " << i;
  }
}

TEST_F(LayerModelTest, GuideMlpFunctionalMatchesTfKeras) {
  auto model = three_layer_mlp();
  EXPECT_EQ(model->get_layer("dense_1")->count_params(), 50240);
  EXPECT_EQ(model->get_layer("dense_2")->count_params(), 4160);
  EXPECT_EQ(model->get_layer("predictions")->count_params(), 650);
  EXPECT_EQ(model->count_params(), 55050);
  expect_summary(*model, kMlpSummary);
  const Config want = Config::parse(kMlpConfig);
  expect_same_layers(model->get_config(), want);
  EXPECT_EQ(model->get_config().dump(), want.dump());
  // The tf-keras config rebuilds the same model.
  Config wrapped{{"class_name", "Functional"}, {"config", want}};
  auto rebuilt = model_from_config(wrapped);
  EXPECT_EQ(rebuilt->get_config().dump(), want.dump());
  expect_summary(*rebuilt, kMlpSummary);
}

TEST_F(LayerModelTest, GuideMlpSequentialMatchesTfKeras) {
  Sequential model({layer("Dense", {{"units", 64}, {"activation", "relu"}, {"name", "dense_1"}, {"input_shape", {784}}}),
                    layer("Dense", {{"units", 64}, {"activation", "relu"}, {"name", "dense_2"}}),
                    layer("Dense", {{"units", 10}, {"name", "predictions"}})},
                   "3_layer_mlp_sequential");
  EXPECT_EQ(model.count_params(), 55050);
  expect_summary(model, kMlpSequentialSummary);
}

std::shared_ptr<Sequential> cnn() {
  return std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{
          layer("Conv2D", {{"filters", 8}, {"kernel_size", 3}, {"activation", "relu"}, {"name", "conv"}, {"input_shape", {28, 28, 1}}}),
          layer("BatchNormalization", {{"name", "bn"}}),
          layer("MaxPooling2D", {{"name", "pool"}}),
          layer("DepthwiseConv2D", {{"kernel_size", 3}, {"depth_multiplier", 2}, {"padding", "same"}, {"name", "dw"}}),
          layer("ZeroPadding2D", {{"padding", 1}, {"name", "pad"}}),
          layer("AveragePooling2D", {{"name", "avg"}}),
          layer("Flatten", {{"name", "flatten"}}),
          layer("Dropout", {{"rate", 0.5}, {"name", "drop"}}),
          layer("Dense", {{"units", 10}, {"activation", "softmax"}, {"name", "out"}})},
      "cnn");
}

TEST_F(LayerModelTest, CnnSequentialMatchesTfKeras) {
  auto model = cnn();
  expect_summary(*model, kCnnSummary);
  const Config want = Config::parse(kCnnConfig);
  expect_same_layers(model->get_config(), want);
  auto rebuilt = model_from_config(Config{{"class_name", "Sequential"}, {"config", want}});
  expect_same_layers(rebuilt->get_config(), want);
  expect_summary(*rebuilt, kCnnSummary);
  // Predictions equal the layers applied one by one.
  copy_weights(*model, *rebuilt);
  const Tensor x = pattern_tensor(Shape{2, 28, 28, 1}, 100);
  Tensor y = x;
  for (const auto& l : model->layers()) y = (*l)(y);
  EXPECT_TRUE(mismatch(values(model->predict(x)), values(y), 1e-6, 1e-7).empty());
  EXPECT_TRUE(mismatch(values(rebuilt->predict(x)), values(y), 1e-6, 1e-7).empty());
}

std::shared_ptr<Functional> branchy() {
  Tensor a = Input(Shape{8, 3}, "a");
  Tensor b = Input(Shape{8, 3}, "b");
  Tensor ca = (*layer("Conv1D", {{"filters", 4}, {"kernel_size", 3}, {"padding", "causal"}, {"name", "conv_a"}}))(a);
  Tensor cb = (*layer("Conv1D", {{"filters", 4}, {"kernel_size", 3}, {"padding", "same"}, {"name", "conv_b"}}))(b);
  Tensor s = (*layer("Add", {{"name", "add"}}))({ca, cb})[0];
  Tensor m = (*layer("Multiply", {{"name", "mul"}}))({ca, cb})[0];
  Tensor c = (*layer("Concatenate", {{"name", "concat"}}))({s, m})[0];
  Tensor n = (*layer("LayerNormalization", {{"name", "ln"}}))(c);
  Tensor g = (*layer("GlobalAveragePooling1D", {{"name", "gap"}}))(n);
  Tensor g2 = (*layer("GlobalMaxPooling1D", {{"name", "gmp"}}))(c);
  Tensor ha = (*layer("Dense", {{"units", 2}, {"name", "head_a"}}))(g);
  Tensor hb = (*layer("Dense", {{"units", 2}, {"name", "head_b"}}))(g2);
  Tensor o = (*layer("Average", {{"name", "avg"}}))({ha, hb})[0];
  return std::make_shared<Functional>(std::vector<Tensor>{a, b}, std::vector<Tensor>{o}, "branchy");
}

TEST_F(LayerModelTest, BranchyFunctionalMatchesTfKeras) {
  auto model = branchy();
  EXPECT_EQ(model->count_params(), 132);
  expect_summary(*model, kBranchySummary);
  const Config want = Config::parse(kBranchyConfig);
  expect_same_layers(model->get_config(), want);
  EXPECT_EQ(model->get_config().dump(), want.dump());
  auto rebuilt = model_from_config(Config{{"class_name", "Functional"}, {"config", want}});
  EXPECT_EQ(rebuilt->get_config().dump(), want.dump());
  copy_weights(*model, *rebuilt);
  const Tensor xa = pattern_tensor(Shape{3, 8, 3}, 100), xb = pattern_tensor(Shape{3, 8, 3}, 101);
  EXPECT_EQ(values(rebuilt->predict({xa, xb})[0]), values(model->predict({xa, xb})[0]));
}

}  // namespace
}  // namespace strata::layer_tests
