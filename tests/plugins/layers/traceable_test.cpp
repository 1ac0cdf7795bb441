// The layers keras.applications builds convolutional networks from (ZeroPadding2D, ReLU with
// max_value, the other activation layers, Cropping2D) are InferenceTraceable, so that
// Model::predict runs such a model as one traced, optimised graph instead of eagerly: each
// is marked, a traced call of each gives what its eager call gives, and predict of a small
// MobileNet-like model gives what its eager call gives, with the graph passes on and off.
#include <gtest/gtest.h>

#include "ref_backend.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/saving.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

struct Case {
  const char* class_name;
  Config config;
};

std::vector<Case> marked_cases() {
  return {{"ReLU", Config{{"max_value", 6.0}}},
          {"ReLU", Config{{"negative_slope", 0.1}, {"threshold", 0.25}}},
          {"LeakyReLU", Config{{"alpha", 0.2}}},
          {"PReLU", Config::object()},
          {"ELU", Config{{"alpha", 0.5}}},
          {"ThresholdedReLU", Config{{"theta", 0.5}}},
          {"ZeroPadding2D", Config{{"padding", Config::array({Config::array({1, 0}), Config::array({0, 1})})}}},
          {"Cropping2D", Config{{"cropping", Config::array({Config::array({1, 0}), Config::array({0, 1})})}}}};
}

class TraceableLayers : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
};

TEST_F(TraceableLayers, AreMarkedAndTraceToTheirEagerResults) {
  for (const std::string& device : test_devices()) {
    if (const std::string why = skip_reason(device); !why.empty()) continue;
    DeviceScope on(Device{device});
    for (const Case& c : marked_cases()) {
      SCOPED_TRACE(std::string(c.class_name) + " " + c.config.dump() + " on " + device);
      auto layer = make_layer(c.class_name, c.config);
      EXPECT_NE(dynamic_cast<const InferenceTraceable*>(layer.get()), nullptr);
      const Shape shape{2, 5, 4, 3};
      layer->ensure_built({shape});
      const Tensor x = pattern_tensor(shape, 3);
      const Tensor eager = (*layer)(x);
      const Graph graph = trace([&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{(*layer)(xs[0])}; },
                                {TensorSpec(shape)});
      const Tensor traced = graph.run({x})[0];
      EXPECT_EQ(traced.shape().to_string(), eager.shape().to_string());
      EXPECT_EQ(mismatch(values(traced), values(eager), 0.0, 0.0), "");
    }
  }
}

// The ref device's live bytes before and after a model built from `layers` (Keras layer
// entries after a [null, 64] input) predicts 4 times and is destroyed: everything it and its
// plan held, weights and values computed from them alike, is freed.
void expect_freed_with_the_model(const std::string& layers) {
  DeviceScope on(Device{"ref:0"});
  const Tensor x = pattern_tensor(Shape{2, 64}, 1);
  const std::size_t before = testing::ref_live_bytes();
  {
    auto model = std::dynamic_pointer_cast<Sequential>(model_from_json(R"({"class_name": "Sequential",
        "config": {"name": "planned", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 64], "dtype": "float32", "name": "in"}},)" +
                                                                       layers + "]}}"));
    ASSERT_NE(model, nullptr);
    const Tensor eager = (*model)(x);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(mismatch(values(model->predict(x, 2)), values(eager), 1e-6, 1e-6), "");
    EXPECT_GT(testing::ref_live_bytes(), before + 64 * 256 * sizeof(float));
  }
  EXPECT_EQ(testing::ref_live_bytes(), before);
}

// Predict's plan (a traced graph reading the model's weights) goes with the model: once the
// model is destroyed, its weights and the plan's constants are freed (the plan table kept
// them until 64 other models had been planned).
TEST_F(TraceableLayers, APlannedModelFreesItsWeightsWhenDestroyed) {
  expect_freed_with_the_model(R"({"class_name": "Dense", "config": {"name": "a", "units": 256, "activation": "hard_sigmoid"}},
      {"class_name": "Dense", "config": {"name": "b", "units": 4}})");
}

// A plan keeps what it computes from weights alone (BatchNormalization's scale and shift in
// inference) from the third predict on; those values go with the model too.
TEST_F(TraceableLayers, APlannedModelFreesTheValuesItComputedFromWeights) {
  expect_freed_with_the_model(R"({"class_name": "Dense", "config": {"name": "a", "units": 256}},
      {"class_name": "BatchNormalization", "config": {"name": "bn"}},
      {"class_name": "Dense", "config": {"name": "b", "units": 4}})");
}

// On the cpu backend, predict keeps the folded filters (graph plans) and oneDNN's reordered
// copies of them (conv.cpp) across calls; each assignment of the weights is seen by the next
// predict, which equals the eager call with the new weights, round after round.
TEST_F(TraceableLayers, KeptFiltersFollowEveryAssignmentOfTheWeights) {
  if (const auto why = skip_reason("cpu:0"); !why.empty()) GTEST_SKIP() << why;
  DeviceScope on(Device{"cpu:0"});
  auto model = std::dynamic_pointer_cast<Sequential>(model_from_json(R"({"class_name": "Sequential",
      "config": {"name": "convs", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 10, 10, 16], "dtype": "float32", "name": "in"}},
      {"class_name": "Conv2D", "config": {"name": "a", "filters": 32, "kernel_size": 3, "padding": "same"}},
      {"class_name": "BatchNormalization", "config": {"name": "bn"}},
      {"class_name": "Activation", "config": {"name": "r", "activation": "relu"}},
      {"class_name": "Conv2D", "config": {"name": "b", "filters": 16, "kernel_size": 3}}]}})"));
  ASSERT_NE(model, nullptr);
  const Tensor x = pattern_tensor(Shape{1, 10, 10, 16}, 3);
  for (int round = 0; round < 3; ++round) {
    const Tensor eager = (*model)(x);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(mismatch(values(model->predict(x, 1)), values(eager), 1e-4, 1e-4), "") << "round " << round << ", call " << i;
    }
    std::vector<Tensor> weights = model->get_weights();
    for (auto& w : weights) w = w * 0.5 + 0.01 * static_cast<double>(round + 1);
    model->set_weights(weights);
  }
}


// A MobileNetV2-like block: ZeroPadding2D, Conv2D without bias, BatchNormalization,
// ReLU(6.), DepthwiseConv2D, an Add; predict (a traced plan) gives the eager call's values.
TEST_F(TraceableLayers, MobileNetLikeModelPredictsItsEagerValues) {
  for (const std::string& device : test_devices()) {
    if (const std::string why = skip_reason(device); !why.empty()) continue;
    SCOPED_TRACE(device);
    DeviceScope on(Device{device});
    const Tensor in = Input(Shape{9, 9, 3});
    Tensor h = (*make_layer("ZeroPadding2D", Config{{"padding", 1}}))(in);
    h = (*make_layer("Conv2D", Config{{"filters", 8}, {"kernel_size", 3}, {"strides", 2}, {"use_bias", false}}))(h);
    auto bn = make_layer("BatchNormalization", Config::object());
    h = (*bn)(h);
    h = (*make_layer("ReLU", Config{{"max_value", 6.0}}))(h);
    Tensor d =
        (*make_layer("DepthwiseConv2D", Config{{"kernel_size", 3}, {"padding", "same"}, {"use_bias", false}}))(h);
    d = (*make_layer("BatchNormalization", Config::object()))(d);
    d = (*make_layer("ReLU", Config{{"max_value", 6.0}}))(d);
    Tensor out = (*make_layer("Add", Config::object()))(std::vector<Tensor>{h, d})[0];
    out = (*make_layer("GlobalAveragePooling2D", Config::object()))(out);
    auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out});
    // Moving statistics away from 0 and 1, so that the normalisation matters.
    for (const auto& w : bn->weights()) {
      Variable v = w;
      v.assign(pattern_tensor(w.shape(), static_cast<std::int64_t>(w.name().size()), true));
    }
    const Tensor x = pattern_tensor(Shape{4, 9, 9, 3}, 7);
    const Tensor eager = (*model)(x);
    for (int run = 0; run < 2; ++run) {
      EXPECT_EQ(mismatch(values(model->predict(x, 4)), values(eager)), "") << "run " << run;
    }
  }
}

// The cpu backend's "onednn.fold_batch_norm" pass: Conv2D (+ bias) and DepthwiseConv2D
// followed by BatchNormalization become one convolution of a scaled filter plus a bias
// (then fused with their ReLU(6.) / ReLU into _FusedConv2D / _FusedDepthwiseConv2dNative);
// the folded graph gives the
// unfolded values within 1e-5; with the passes off nothing is folded.
TEST_F(TraceableLayers, BatchNormalizationFoldsIntoTheConvolutionBeforeIt) {
  if (const std::string why = skip_reason("cpu:0"); !why.empty()) GTEST_SKIP() << why;
  DeviceScope on(Device("cpu:0"));
  const Tensor in = Input(Shape{7, 7, 3});
  auto bn1 = make_layer("BatchNormalization", Config::object());
  auto bn2 = make_layer("BatchNormalization", Config{{"epsilon", 0.01}});
  Tensor h = (*make_layer("Conv2D", Config{{"filters", 4}, {"kernel_size", 3}, {"padding", "same"}}))(in);
  h = (*make_layer("ReLU", Config{{"max_value", 6.0}}))((*bn1)(h));
  Tensor d = (*make_layer("DepthwiseConv2D",
                          Config{{"kernel_size", 3}, {"depth_multiplier", 2}, {"strides", 2}, {"use_bias", false}}))(h);
  d = (*make_layer("ReLU", Config::object()))((*bn2)(d));
  auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{d});
  for (const auto& layer : {bn1, bn2}) {
    for (const auto& w : layer->weights()) {
      Variable v = w;
      v.assign(pattern_tensor(w.shape(), static_cast<std::int64_t>(w.name().size()), true));
    }
  }
  // Shifts of up to +-9 after the Conv2D, so that its ReLU(6.) clips at both ends.
  Variable beta = bn1->weights()[1];
  beta.assign(pattern_tensor(beta.shape(), 2) * 8.0);
  const Shape shape{3, 7, 7, 3};
  const Tensor x = pattern_tensor(shape, 5);
  const Tensor eager = (*model)(x);
  const Graph traced =
      trace([&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{(*model)(xs[0])}; }, {TensorSpec(shape)});
  // How many Mul nodes scale a convolution's output, and how many fused convolutions there are.
  const auto census = [](const Graph& g) {
    int scaled = 0, fused = 0;
    for (const auto& node : g.nodes()) {
      if (node->op == "_FusedConv2D" || node->op == "_FusedDepthwiseConv2dNative") ++fused;
      if (node->op != "Mul") continue;
      const std::string& producer = node->inputs[0].node()->op;
      if (producer == "Conv2D" || producer == "DepthwiseConv2dNative" || producer == "BiasAdd") ++scaled;
    }
    return std::make_pair(scaled, fused);
  };
  const bool passes_were = graph_passes_enabled();
  set_graph_passes_enabled(true);
  const Graph folded = optimize_graph(traced, Device("cpu:0"), true);
  set_graph_passes_enabled(false);
  const Graph unfolded = optimize_graph(traced, Device("cpu:0"), true);
  set_graph_passes_enabled(passes_were);
  EXPECT_EQ(census(traced), std::make_pair(2, 0));
  EXPECT_EQ(census(unfolded), std::make_pair(2, 0));
  EXPECT_EQ(census(folded), std::make_pair(0, 2));
  EXPECT_EQ(mismatch(values(unfolded.run({x})[0]), values(eager), 0.0, 0.0), "");
  EXPECT_EQ(mismatch(values(folded.run({x})[0]), values(eager)), "");
  // Weights assigned after optimising are seen: the folded filter is computed on each run.
  Variable gamma = bn1->weights()[0];
  gamma.assign(pattern_tensor(gamma.shape(), 11));
  EXPECT_EQ(mismatch(values(folded.run({x})[0]), values((*model)(x))), "");
}

}  // namespace
}  // namespace strata::layer_tests
