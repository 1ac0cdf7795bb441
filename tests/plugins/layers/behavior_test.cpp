// Behaviour beyond single outputs: Dropout in training and inference, BatchNormalization's
// modes, masks through layers, Normalization.adapt (against tf-keras), gradients of the
// layers against finite differences, and concurrent inference.
#include <gtest/gtest.h>

#include <thread>

#include "keras_expected.inc"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

class LayerBehaviorTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

Tensor bools(const std::vector<std::uint8_t>& v, const Shape& s) { return Tensor::from_bools(v, s); }

std::vector<std::uint8_t> bool_values(const Tensor& t) {
  const auto f = cast(t, DType::kFloat32).to_vector<float>();
  std::vector<std::uint8_t> out;
  for (float v : f) out.push_back(v != 0.0f ? 1 : 0);
  return out;
}

// ---- Dropout -----------------------------------------------------------------------------

TEST_F(LayerBehaviorTest, DropoutIsIdentityInInferenceAndScalesKeptUnitsInTraining) {
  auto dropout = make_layer("Dropout", Config{{"rate", 0.25}});
  const Tensor x = ones(Shape{200, 50});
  EXPECT_EQ(values((*dropout)(x)), values(x));
  CallContext training{true, {}};
  const auto y = values((*dropout)(x, training));
  std::size_t dropped = 0;
  for (float v : y) {
    ASSERT_TRUE(v == 0.0f || std::fabs(v - 1.0f / 0.75f) < 1e-6f) << v;
    dropped += v == 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(dropped) / static_cast<double>(y.size()), 0.25, 0.02);
  // Unseeded: a new mask every call.
  EXPECT_NE(values((*dropout)(x, training)), y);
  // rate 0 drops nothing even in training.
  EXPECT_EQ(values((*make_layer("Dropout", Config{{"rate", 0}}))(x, training)), values(x));
}

TEST_F(LayerBehaviorTest, SeededDropoutIsReproducibleAndChangesFromCallToCall) {
  const Config config{{"rate", 0.5}, {"seed", 1234}};
  auto a = make_layer("Dropout", config);
  auto b = make_layer("Dropout", config);
  const Tensor x = ones(Shape{8, 16});
  CallContext training{true, {}};
  const auto a1 = values((*a)(x, training)), a2 = values((*a)(x, training));
  const auto b1 = values((*b)(x, training)), b2 = values((*b)(x, training));
  EXPECT_EQ(a1, b1);
  EXPECT_EQ(a2, b2);
  EXPECT_NE(a1, a2);
}

TEST_F(LayerBehaviorTest, DropoutNoiseShapeSharesTheMaskAlongBroadcastAxes) {
  auto dropout = make_layer("Dropout", Config::parse(R"({"rate": 0.5, "noise_shape": [null, 1, 6]})"));
  const Tensor x = ones(Shape{4, 5, 6});
  const auto y = values((*dropout)(x, CallContext{true, {}}));
  for (int b = 0; b < 4; ++b) {
    for (int t = 1; t < 5; ++t) {
      for (int f = 0; f < 6; ++f) EXPECT_EQ(y[(b * 5 + t) * 6 + f], y[(b * 5) * 6 + f]);
    }
  }
}

TEST_F(LayerBehaviorTest, DropoutInAFunctionalModelFollowsTheTrainingFlag) {
  Tensor in = Input(Shape{6});
  Tensor out = (*make_layer("Dropout", Config{{"rate", 0.5}}))(in);
  Functional model({in}, {out});
  const Tensor x = ones(Shape{3, 6});
  EXPECT_EQ(values(model.predict(x)), values(x));
  const auto trained = values(model(std::vector<Tensor>{x}, CallContext{true, {}})[0]);
  EXPECT_NE(trained, values(x));
}

// ---- BatchNormalization ---------------------------------------------------------------------

TEST_F(LayerBehaviorTest, BatchNormalizationTrainingUsesBatchStatisticsAndInferenceMovingOnes) {
  auto bn = make_layer("BatchNormalization", Config{{"momentum", 0.5}, {"epsilon", 0.0}});
  // Column 0: 1, 3 (mean 2, variance 1); column 1: 10, 14 (mean 12, variance 4).
  const Tensor x = Tensor::from_vector<float>({1, 10, 3, 14}, Shape{2, 2});
  bn->ensure_built({x.shape()});
  const auto trained = values((*bn)(x, CallContext{true, {}}));
  // Batch statistics: mean (2, 12), biased variance (1, 4): outputs are +-1.
  EXPECT_TRUE(mismatch(trained, {-1, -1, 1, 1}).empty()) << mismatch(trained, {-1, -1, 1, 1});
  // Moving statistics moved half way from (0, 1) / (1, 1).
  const auto w = bn->get_weights();  // gamma, beta, moving_mean, moving_variance
  EXPECT_EQ(values(w[2]), (std::vector<float>{1.0f, 6.0f}));
  EXPECT_EQ(values(w[3]), (std::vector<float>{1.0f, 2.5f}));
  // Inference: the moving statistics.
  const auto inferred = values((*bn)(x));
  EXPECT_TRUE(mismatch(inferred, {0.0f, 4.0f / std::sqrt(2.5f), 2.0f, 8.0f / std::sqrt(2.5f)}).empty());
  EXPECT_EQ(values(bn->get_weights()[2]), (std::vector<float>{1.0f, 6.0f}));  // unchanged by inference
}

TEST_F(LayerBehaviorTest, FrozenBatchNormalizationRunsInInferenceModeEvenWhenTraining) {
  auto bn = make_layer("BatchNormalization", Config::object());
  const Tensor x = pattern_tensor(Shape{4, 3}, 100);
  bn->ensure_built({x.shape()});
  bn->set_trainable(false);
  const auto before = values(bn->get_weights()[2]);
  EXPECT_EQ(values((*bn)(x, CallContext{true, {}})), values((*bn)(x)));
  EXPECT_EQ(values(bn->get_weights()[2]), before);
  EXPECT_EQ(bn->trainable_weights().size(), 0u);
  EXPECT_EQ(bn->non_trainable_weights().size(), 4u);
}

TEST_F(LayerBehaviorTest, BatchNormalizationWithAMaskUsesTheUnmaskedSteps) {
  auto bn = make_layer("BatchNormalization", Config{{"momentum", 0.5}});
  const Tensor x = pattern_tensor(Shape{2, 4, 3}, 100);
  bn->ensure_built({x.shape()});
  bn->set_weights({pattern_tensor(Shape{3}, 1), pattern_tensor(Shape{3}, 2), pattern_tensor(Shape{3}, 3),
                   pattern_tensor(Shape{3}, 4, true)});
  const Tensor mask = bools({1, 1, 0, 1, 0, 1, 1, 0}, Shape{2, 4});
  const auto out = bn->call_with_masks({x}, CallContext{true, {mask}});
  EXPECT_TRUE(mismatch(values(out.tensors[0]), floats_of_json(Config::parse(kMaskedBatchNormOutput)), 1e-5, 2e-5).empty());
  const Config after = Config::parse(kMaskedBatchNormWeights);
  const auto w = bn->get_weights();
  for (std::size_t i = 0; i < w.size(); ++i) {
    EXPECT_TRUE(mismatch(values(w[i]), floats_of_json(after[i])).empty()) << i;
  }
  EXPECT_EQ(bool_values(out.masks[0]), bool_values(mask));  // passed through
}

// ---- masks -----------------------------------------------------------------------------------

TEST_F(LayerBehaviorTest, ElementwiseMergesAndTheirMasks) {
  const Tensor a = pattern_tensor(Shape{2, 3, 2}, 1), b = pattern_tensor(Shape{2, 3, 2}, 2);
  const Tensor ma = bools({1, 1, 0, 1, 0, 1}, Shape{2, 3}), mb = bools({1, 0, 0, 1, 1, 1}, Shape{2, 3});
  for (const char* cls : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}) {
    auto layer = make_layer(cls);
    const auto both = layer->call_with_masks({a, b}, CallContext{false, {ma, mb}});
    EXPECT_EQ(bool_values(both.masks[0]), (std::vector<std::uint8_t>{1, 0, 0, 1, 0, 1})) << cls;
    const auto one = layer->call_with_masks({a, b}, CallContext{false, {Tensor(), mb}});
    EXPECT_EQ(bool_values(one.masks[0]), bool_values(mb)) << cls;
    const auto none = layer->call_with_masks({a, b}, CallContext{false, {}});
    EXPECT_FALSE(none.masks[0].defined()) << cls;
  }
  EXPECT_THROW((*make_layer("Subtract"))({a, b, a}), ValueError);
  EXPECT_THROW((*make_layer("Add"))({a, pattern_tensor(Shape{2, 4, 2}, 3)}), Error);
}

TEST_F(LayerBehaviorTest, ConcatenateMasks) {
  const Tensor a = pattern_tensor(Shape{2, 3, 2}, 1), b = pattern_tensor(Shape{2, 3, 4}, 2);
  const Tensor ma = bools({1, 1, 0, 1, 0, 1}, Shape{2, 3}), mb = bools({1, 0, 1, 1, 1, 0}, Shape{2, 3});
  auto features = make_layer("Concatenate");  // axis -1: a step is valid when valid in every input
  auto out = features->call_with_masks({a, b}, CallContext{false, {ma, mb}});
  EXPECT_EQ(out.tensors[0].shape(), (Shape{2, 3, 6}));
  EXPECT_EQ(bool_values(out.masks[0]), (std::vector<std::uint8_t>{1, 0, 0, 1, 0, 0}));
  out = features->call_with_masks({a, b}, CallContext{false, {ma, Tensor()}});
  EXPECT_EQ(bool_values(out.masks[0]), bool_values(ma));
  // axis 1 (time): the masks are concatenated, inputs without one count as all valid.
  auto time = make_layer("Concatenate", Config{{"axis", 1}});
  const Tensor c = pattern_tensor(Shape{2, 2, 2}, 3);
  out = time->call_with_masks({a, c}, CallContext{false, {ma, Tensor()}});
  EXPECT_EQ(out.tensors[0].shape(), (Shape{2, 5, 2}));
  EXPECT_EQ(bool_values(out.masks[0]), (std::vector<std::uint8_t>{1, 1, 0, 1, 1, 1, 0, 1, 1, 1}));
}

TEST_F(LayerBehaviorTest, MasksPassThroughMaskingLayersAndStopElsewhere) {
  const Tensor x = pattern_tensor(Shape{2, 3, 4}, 1);
  const Tensor m = bools({1, 0, 1, 1, 1, 0}, Shape{2, 3});
  for (const char* cls : {"Activation", "Dropout", "Dense", "LayerNormalization", "BatchNormalization"}) {
    Config c = Config::object();
    if (std::string(cls) == "Activation") c["activation"] = "relu";
    if (std::string(cls) == "Dropout") c["rate"] = 0.5;
    if (std::string(cls) == "Dense") c["units"] = 2;
    auto layer = make_layer(cls, c);
    EXPECT_TRUE(layer->supports_masking()) << cls;
    EXPECT_EQ(bool_values(layer->call_with_masks({x}, CallContext{false, {m}}).masks[0]), bool_values(m)) << cls;
  }
  for (const char* cls : {"Flatten", "GlobalMaxPooling1D", "GlobalAveragePooling1D"}) {
    auto layer = make_layer(cls);
    EXPECT_FALSE(layer->call_with_masks({x}, CallContext{false, {m}}).masks[0].defined()) << cls;
  }
}

TEST_F(LayerBehaviorTest, GlobalAveragePooling1DAveragesOnlyUnmaskedSteps) {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60}, Shape{2, 3, 2});
  const Tensor m = bools({1, 0, 1, 0, 1, 1}, Shape{2, 3});
  const auto y = make_layer("GlobalAveragePooling1D")->call_with_masks({x}, CallContext{false, {m}}).tensors[0];
  EXPECT_EQ(values(y), (std::vector<float>{3, 4, 40, 50}));
}

// ---- Normalization.adapt ---------------------------------------------------------------------

TEST_F(LayerBehaviorTest, NormalizationAdaptMatchesTfKeras) {
  for (const auto& c : kKerasAdaptCases) {
    clear_session();
    auto layer_ptr = make_layer("Normalization", Config::parse(c.kwargs));
    Layer& layer = *layer_ptr;
    const Shape shape = shape_of_json(Config::parse(c.data_shape));
    std::vector<float> data = pattern(shape.num_elements(), 3);
    for (auto& v : data) v = v * 2.0f + 1.0f;
    const Tensor x = Tensor::from_vector<float>(data, shape);
    layer.adapt(x, c.batch_size);
    const auto w = layer.get_weights();
    ASSERT_EQ(w.size(), 3u);
    EXPECT_TRUE(mismatch(values(w[0]), floats_of_json(Config::parse(c.mean)), 1e-5, 1e-6).empty()) << c.label;
    EXPECT_TRUE(mismatch(values(w[1]), floats_of_json(Config::parse(c.variance)), 1e-5, 1e-6).empty()) << c.label;
    EXPECT_EQ(w[2].dtype(), DType::kInt64);
    EXPECT_EQ(w[2].item<std::int64_t>(), c.count) << c.label;
    EXPECT_EQ(layer.weights()[0].name(), "normalization/mean");
    EXPECT_FALSE(layer.weights()[0].trainable());
    const auto y = values(layer(x));
    EXPECT_TRUE(mismatch(y, floats_of_json(Config::parse(c.output)), 1e-5, 1e-5).empty()) << c.label;
    EXPECT_EQ(layer.get_config().dump(), Config::parse(c.config).dump()) << c.label;
    // Adapting again starts over (Keras resets the state first).
    layer.adapt(x, c.batch_size);
    EXPECT_EQ(layer.get_weights()[2].item<std::int64_t>(), c.count);
  }
}

TEST_F(LayerBehaviorTest, NormalizationAdaptedStateIsSavedAsWeights) {
  auto adapted_ptr = make_layer("Normalization", Config::object());
  Layer& adapted = *adapted_ptr;
  adapted.adapt(Tensor::from_vector<float>({1, 10, 3, 30}, Shape{2, 2}));
  auto fresh = make_layer("Normalization", adapted.get_config());
  fresh->ensure_built({Shape{Shape::kUnknown, 2}});
  fresh->set_weights(adapted.get_weights());
  const Tensor x = Tensor::from_vector<float>({2, 20}, Shape{1, 2});
  EXPECT_EQ(values((*fresh)(x)), values(adapted(x)));
  EXPECT_TRUE(mismatch(values(adapted(x)), {0.0f, 0.0f}).empty());
  auto given = make_layer("Normalization", Config{{"mean", 1.0}, {"variance", 1.0}});
  EXPECT_THROW(given->adapt(x), ValueError);
  EXPECT_THROW(make_layer("Dense", Config{{"units", 2}})->adapt(x), ValueError);  // nothing to adapt
}

// ---- noise and regularization layers in training -------------------------------------------

double mean_of(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / static_cast<double>(v.size());
}

double variance_of(const std::vector<float>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size());
}

TEST_F(LayerBehaviorTest, NoiseLayersAreTheIdentityInInferenceAndAddTheirNoiseInTraining) {
  const CallContext training{true, {}};
  const Tensor zeros_in = zeros(Shape{200, 100});
  const Tensor ones_in = ones(Shape{200, 100});
  for (const char* cls : {"GaussianNoise", "GaussianDropout", "AlphaDropout"}) {
    const Config c = std::string(cls) == "GaussianNoise" ? Config{{"stddev", 0.5}} : Config{{"rate", 0.2}};
    EXPECT_EQ(values((*make_layer(cls, c))(ones_in)), values(ones_in)) << cls;
  }
  // x + N(0, 0.5^2)
  const auto noise = values((*make_layer("GaussianNoise", Config{{"stddev", 0.5}}))(zeros_in, training));
  EXPECT_NEAR(mean_of(noise), 0.0, 0.01);
  EXPECT_NEAR(variance_of(noise), 0.25, 0.01);
  // x * N(1, rate / (1 - rate))
  const auto gd = values((*make_layer("GaussianDropout", Config{{"rate", 0.2}}))(ones_in, training));
  EXPECT_NEAR(mean_of(gd), 1.0, 0.01);
  EXPECT_NEAR(variance_of(gd), 0.25, 0.01);
  // AlphaDropout keeps a standard normal input at zero mean and unit variance.
  const Tensor normal_in = random_normal(Shape{200, 100}, DType::kFloat32, 0.0, 1.0, 11);
  const auto ad = values((*make_layer("AlphaDropout", Config{{"rate", 0.2}, {"seed", 5}}))(normal_in, training));
  EXPECT_NEAR(mean_of(ad), 0.0, 0.03);
  EXPECT_NEAR(variance_of(ad), 1.0, 0.05);
  std::size_t at_alpha = 0;  // dropped units all take one value, a * alpha' + b
  const double alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
  const double a = std::pow(0.8 * (1.0 + 0.2 * alpha_p * alpha_p), -0.5);
  for (float v : ad) at_alpha += std::fabs(v - (a * alpha_p - a * alpha_p * 0.2)) < 1e-5;
  EXPECT_NEAR(static_cast<double>(at_alpha) / static_cast<double>(ad.size()), 0.2, 0.02);
}

TEST_F(LayerBehaviorTest, SpatialDropoutDropsWholeChannels) {
  const CallContext training{true, {}};
  const auto y = values((*make_layer("SpatialDropout2D", Config{{"rate", 0.5}}))(ones(Shape{8, 3, 4, 16}), training));
  std::size_t dropped = 0;
  for (std::size_t b = 0; b < 8; ++b) {
    for (std::size_t ch = 0; ch < 16; ++ch) {
      const float first = y[b * 3 * 4 * 16 + ch];
      ASSERT_TRUE(first == 0.0f || first == 2.0f) << first;
      for (std::size_t p = 0; p < 12; ++p) ASSERT_EQ(y[(b * 12 + p) * 16 + ch], first) << "sample " << b << " channel " << ch;
      dropped += first == 0.0f;
    }
  }
  EXPECT_GT(dropped, 30u);
  EXPECT_LT(dropped, 98u);
  const auto first = values((*make_layer("SpatialDropout1D", Config{{"rate", 0.5}}))(ones(Shape{4, 5, 6}), training));
  for (std::size_t b = 0; b < 4; ++b) {
    for (std::size_t t = 1; t < 5; ++t) {
      for (std::size_t ch = 0; ch < 6; ++ch) EXPECT_EQ(first[(b * 5 + t) * 6 + ch], first[b * 30 + ch]);
    }
  }
}

// tf-keras: activity_regularizer = L1L2(l1, l2), its value divided by the batch size.
TEST_F(LayerBehaviorTest, ActivityRegularizationAddsItsLoss) {
  auto layer = make_layer("ActivityRegularization", Config{{"l1", 0.5}, {"l2", 0.25}});
  const Tensor x = Tensor::from_vector<float>({1.0f, -2.0f, 3.0f, 0.5f}, Shape{2, 2});
  LossCollector collector;
  EXPECT_EQ(values((*layer)(x)), values(x));
  ASSERT_EQ(collector.losses().size(), 1u);
  // (0.5 * sum|x| + 0.25 * sum x^2) / batch = (0.5 * 6.5 + 0.25 * 14.25) / 2
  EXPECT_NEAR(collector.losses()[0].item<float>(), (0.5 * 6.5 + 0.25 * 14.25) / 2.0, 1e-5);
}

// ---- gradients ---------------------------------------------------------------------------------

// d sum(layer(x) * probe) / d w by the tape against central differences, in float64.
void check_gradients(const std::string& cls, Config config, const std::vector<Shape>& shapes, bool training = false) {
  SCOPED_TRACE(cls + " " + config.dump());
  config["dtype"] = "float64";
  auto layer = make_layer(cls, config);
  layer->ensure_built(shapes);
  std::vector<Tensor> inputs;
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    inputs.push_back(cast(pattern_tensor(shapes[k], 100 + static_cast<std::int64_t>(k)), DType::kFloat64) * 0.7 + 0.05);
  }
  std::vector<Tensor> init;
  const auto vars = layer->weights();
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const bool positive = vars[i].name().find("variance") != std::string::npos;
    init.push_back(cast(pattern_tensor(vars[i].shape(), static_cast<std::int64_t>(i + 1), positive), DType::kFloat64));
  }
  auto objective = [&](const std::vector<Tensor>& xs) {
    layer->set_weights(init);  // BatchNormalization's training call moves its statistics
    const Tensor y = (*layer)(xs, CallContext{training, {}})[0];
    const Tensor probe = cast(pattern_tensor(y.shape(), 7), DType::kFloat64);
    return sum(y * probe);
  };
  GradientTape tape(/*persistent=*/true);
  for (const auto& in : inputs) tape.watch(in);
  const Tensor loss = objective(inputs);
  const auto dx = tape.gradient(loss, inputs);
  const auto dw = tape.gradient(loss, layer->trainable_weights());
  const double h = 1e-6;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    ASSERT_TRUE(dx[k].defined());
    const auto base = inputs[k].to_vector<double>();
    const auto got = dx[k].to_vector<double>();
    for (std::size_t i = 0; i < base.size(); i += 1 + base.size() / 7) {
      auto plus = base, minus = base;
      plus[i] += h;
      minus[i] -= h;
      auto with = [&](const std::vector<double>& v) {
        std::vector<Tensor> xs = inputs;
        xs[k] = Tensor::from_vector<double>(v, inputs[k].shape());
        return objective(xs).item<double>();
      };
      const double fd = (with(plus) - with(minus)) / (2 * h);
      EXPECT_NEAR(got[i], fd, 1e-5 + 1e-5 * std::fabs(fd)) << "input " << k << " element " << i;
    }
  }
  const auto trainable = layer->trainable_weights();
  for (std::size_t j = 0; j < trainable.size(); ++j) {
    ASSERT_TRUE(dw[j].defined()) << trainable[j].name();
    const auto got = dw[j].to_vector<double>();
    Variable v = trainable[j];
    std::size_t index = 0;
    for (std::size_t i = 0; i < vars.size(); ++i) {
      if (vars[i] == v) index = i;
    }
    const auto base = init[index].to_vector<double>();
    for (std::size_t i = 0; i < base.size(); i += 1 + base.size() / 5) {
      auto eval = [&](double delta) {
        auto changed = init;
        auto p = base;
        p[i] += delta;
        changed[index] = Tensor::from_vector<double>(p, v.shape());
        layer->set_weights(changed);
        const Tensor y = (*layer)(inputs, CallContext{training, {}})[0];
        return sum(y * cast(pattern_tensor(y.shape(), 7), DType::kFloat64)).item<double>();
      };
      const double fd = (eval(h) - eval(-h)) / (2 * h);
      EXPECT_NEAR(got[i], fd, 1e-5 + 1e-5 * std::fabs(fd)) << trainable[j].name() << " element " << i;
    }
  }
}

TEST_F(LayerBehaviorTest, GradientsMatchFiniteDifferences) {
  check_gradients("Dense", Config{{"units", 3}, {"activation", "tanh"}}, {Shape{2, 4}});
  check_gradients("Dense", Config{{"units", 2}}, {Shape{2, 3, 4}});
  check_gradients("Conv1D", Config{{"filters", 2}, {"kernel_size", 3}, {"padding", "causal"}, {"dilation_rate", 2}},
                  {Shape{2, 6, 3}});
  check_gradients("Conv2D", Config{{"filters", 4}, {"kernel_size", 2}, {"groups", 2}, {"strides", 2}, {"padding", "same"}},
                  {Shape{1, 5, 5, 4}});
  check_gradients("DepthwiseConv2D", Config{{"kernel_size", 3}, {"depth_multiplier", 2}, {"padding", "same"}},
                  {Shape{1, 4, 4, 2}});
  check_gradients("BatchNormalization", Config::object(), {Shape{4, 3}}, /*training=*/true);
  check_gradients("BatchNormalization", Config::object(), {Shape{2, 2, 2, 3}}, /*training=*/false);
  check_gradients("LayerNormalization", Config{{"axis", {1, 2}}}, {Shape{2, 3, 4}});
  check_gradients("AveragePooling1D", Config{{"pool_size", 3}, {"strides", 2}, {"padding", "same"}}, {Shape{2, 7, 3}});
  check_gradients("GlobalAveragePooling2D", Config::object(), {Shape{2, 3, 3, 2}});
  check_gradients("Multiply", Config::object(), {Shape{2, 3}, Shape{2, 3}});
  check_gradients("Concatenate", Config{{"axis", 1}}, {Shape{2, 2, 3}, Shape{2, 1, 3}});
  check_gradients("Permute", Config{{"dims", {2, 1}}}, {Shape{2, 3, 4}});
  check_gradients("RepeatVector", Config{{"n", 3}}, {Shape{2, 3}});
  check_gradients("ReLU", Config{{"max_value", 0.6}, {"negative_slope", 0.1}, {"threshold", 0.2}}, {Shape{2, 7}});
  check_gradients("ReLU", Config{{"max_value", 6.0}}, {Shape{2, 7}});
  check_gradients("LeakyReLU", Config{{"alpha", 0.2}}, {Shape{2, 7}});
  check_gradients("LeakyReLU", Config{{"alpha", 1.5}}, {Shape{2, 7}});
  check_gradients("PReLU", Config{{"shared_axes", {1}}}, {Shape{2, 3, 4}});
  check_gradients("ELU", Config{{"alpha", 0.5}}, {Shape{2, 7}});
  check_gradients("ThresholdedReLU", Config{{"theta", 0.1}}, {Shape{2, 7}});
  check_gradients("Softmax", Config{{"axis", 1}}, {Shape{2, 3, 4}});
  check_gradients("Softmax", Config{{"axis", {1, 2}}}, {Shape{2, 3, 4}});
  check_gradients("Cropping2D", Config{{"cropping", {{1, 0}, {0, 2}}}}, {Shape{1, 4, 5, 2}});
  check_gradients("ZeroPadding3D", Config{{"padding", 1}}, {Shape{1, 2, 2, 2, 1}});
  check_gradients("UpSampling1D", Config{{"size", 3}}, {Shape{2, 3, 2}});
  check_gradients("UpSampling2D", Config{{"size", {2, 3}}}, {Shape{1, 2, 3, 2}});
  check_gradients("UpSampling2D", Config{{"size", {3, 2}}, {"interpolation", "bilinear"}}, {Shape{1, 3, 2, 2}});
  check_gradients("Resizing", Config{{"height", 5}, {"width", 2}}, {Shape{1, 3, 4, 2}});
  check_gradients("Resizing", Config{{"height", 2}, {"width", 5}, {"interpolation", "nearest"}}, {Shape{1, 3, 4, 2}});
  check_gradients("Resizing", Config{{"height", 3}, {"width", 3}, {"crop_to_aspect_ratio", true}}, {Shape{1, 3, 5, 1}});
  check_gradients("CenterCrop", Config{{"height", 2}, {"width", 3}}, {Shape{1, 3, 5, 2}});
  check_gradients("CenterCrop", Config{{"height", 4}, {"width", 3}}, {Shape{1, 3, 5, 2}});
}

// Issue 18, convolutions: separable, depthwise 1-D and transposed (Conv2DBackpropInput,
// whose gradients are Conv2D for its input and Conv2DBackpropFilter for its filter).
TEST_F(LayerBehaviorTest, ConvolutionGradientsMatchFiniteDifferences) {
  check_gradients("SeparableConv1D",
                  Config{{"filters", 2}, {"kernel_size", 3}, {"padding", "causal"}, {"depth_multiplier", 2}},
                  {Shape{2, 5, 3}});
  check_gradients("SeparableConv1D", Config{{"filters", 3}, {"kernel_size", 2}, {"strides", 2}, {"padding", "same"}},
                  {Shape{1, 7, 2}});
  check_gradients("SeparableConv2D",
                  Config{{"filters", 3}, {"kernel_size", 2}, {"dilation_rate", 2}, {"activation", "tanh"}},
                  {Shape{1, 5, 4, 2}});
  check_gradients("SeparableConv2D",
                  Config{{"filters", 2},
                         {"kernel_size", 3},
                         {"strides", 2},
                         {"padding", "same"},
                         {"depth_multiplier", 2},
                         {"use_bias", false}},
                  {Shape{2, 4, 5, 2}});
  check_gradients("DepthwiseConv1D", Config{{"kernel_size", 3}, {"depth_multiplier", 2}, {"padding", "same"}},
                  {Shape{2, 6, 2}});
  check_gradients("DepthwiseConv1D", Config{{"kernel_size", 2}, {"dilation_rate", 2}}, {Shape{1, 6, 3}});
  check_gradients("Conv1DTranspose", Config{{"filters", 2}, {"kernel_size", 3}, {"strides", 2}}, {Shape{2, 4, 3}});
  check_gradients(
      "Conv1DTranspose",
      Config{{"filters", 2}, {"kernel_size", 3}, {"strides", 3}, {"padding", "same"}, {"output_padding", 2}},
      {Shape{1, 3, 2}});
  check_gradients("Conv1DTranspose", Config{{"filters", 1}, {"kernel_size", 2}, {"dilation_rate", 2}},
                  {Shape{1, 4, 2}});
  check_gradients("Conv2DTranspose",
                  Config{{"filters", 2}, {"kernel_size", 3}, {"strides", {2, 1}}, {"padding", "same"}},
                  {Shape{2, 3, 3, 2}});
  check_gradients("Conv2DTranspose",
                  Config{{"filters", 3},
                         {"kernel_size", {2, 3}},
                         {"strides", 2},
                         {"output_padding", {1, 0}},
                         {"activation", "tanh"},
                         {"use_bias", false}},
                  {Shape{1, 3, 2, 2}});
  check_gradients("Conv2DTranspose",
                  Config{{"filters", 2}, {"kernel_size", 2}, {"dilation_rate", 2}, {"padding", "same"}},
                  {Shape{1, 4, 3, 2}});
}

// deconv_output_length with an unknown batch: the output keeps its known dimensions (a
// Concatenate or Conv2D after it needs them). Unknown spatial sizes (a fully convolutional
// model) are computed when the graph runs; the channels stay known.
TEST_F(LayerBehaviorTest, TransposedConvolutionsOfSymbolicInputs) {
  auto up = make_layer("Conv2DTranspose", Config{{"filters", 3},
                                                 {"kernel_size", 3},
                                                 {"strides", 2},
                                                 {"padding", "same"},
                                                 {"output_padding", 1},
                                                 {"name", "up"}});
  EXPECT_EQ((*up)(Input(Shape{4, 5, 2})).shape().to_string(), "(None, 8, 10, 3)");
  auto up1 = make_layer("Conv1DTranspose", Config{{"filters", 2}, {"kernel_size", 4}, {"strides", 3}});
  EXPECT_EQ((*up1)(Input(Shape{5, 2})).shape().to_string(), "(None, 16, 2)");  // 5 * 3 + max(4 - 3, 0)
  auto unknown = make_layer("Conv2DTranspose", Config{{"filters", 3}, {"kernel_size", 3}, {"strides", 2}, {"name", "t"}});
  EXPECT_EQ((*unknown)(Input(Shape{Shape::kUnknown, 5, 2})).shape().to_string(), "(None, None, None, 3)");
  // Run on two sizes: valid, kernel 3, stride 2: n * 2 + 1 along each axis.
  for (const std::int64_t h : {3, 6}) {
    const Tensor x = Tensor::from_vector<float>(std::vector<float>(static_cast<std::size_t>(h * 5 * 2), 0.5f), Shape{1, h, 5, 2});
    EXPECT_EQ((*unknown)(x).shape().to_string(), "(1, " + std::to_string(h * 2 + 1) + ", 11, 3)");
  }
}

// With an unknown batch the output size is computed when the graph runs (from the input's
// shape): a traced call gives what the eager call gives, for two batch sizes. On cpu: the
// ref backend's own Shape kernel answers on the ref device, where the host constants of
// the size arithmetic are not (UpSampling's run-time shapes share this).
TEST_F(LayerBehaviorTest, TracedTransposedConvolutionTakesTheBatchAtRunTime) {
  if (const std::string why = skip_reason("cpu:0"); !why.empty()) GTEST_SKIP() << why;
  DeviceScope on_cpu(Device("cpu:0"));
  auto up =
      make_layer("Conv2DTranspose", Config{{"filters", 2}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}});
  up->ensure_built({Shape{Shape::kUnknown, 3, 2, 2}});
  const Graph graph = trace([&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{(*up)(xs[0])}; },
                            {TensorSpec(Shape{Shape::kUnknown, 3, 2, 2})});
  for (std::int64_t batch : {1, 3}) {
    const Tensor x = pattern_tensor(Shape{batch, 3, 2, 2}, 5);
    const Tensor eager = (*up)(x);
    const Tensor traced = graph.run({x})[0];
    EXPECT_EQ(traced.shape().to_string(), (Shape{batch, 6, 4, 2}).to_string());
    EXPECT_EQ(mismatch(values(traced), values(eager)), "");
  }
}

// Symbolic inputs with an unknown batch size and unknown spatial sizes: the layers still
// build, and the known dimensions survive (a Conv2D after them needs the channels).
TEST_F(LayerBehaviorTest, SpatialLayersKeepKnownDimensionsOfSymbolicInputs) {
  const Tensor x = Input(Shape{Shape::kUnknown, 4, 3});  // (None, None, 4, 3)
  // UpSampling of an axis whose size is unknown gives a Reshape to a run-time shape, whose
  // dimensions shape inference cannot see (plugins/layers/README.md); known ones survive.
  EXPECT_EQ((*make_layer("UpSampling2D"))(Input(Shape{3, 4, 3})).shape().to_string(), "(None, 6, 8, 3)");
  EXPECT_EQ((*make_layer("Cropping2D", Config{{"cropping", {{0, 0}, {1, 2}}}}))(x).shape().to_string(),
            "(None, None, 1, 3)");
  EXPECT_EQ((*make_layer("ZeroPadding2D", Config{{"padding", {1, 2}}}))(x).shape().to_string(), "(None, None, 8, 3)");
  EXPECT_EQ((*make_layer("Cropping1D"))(Input(Shape{Shape::kUnknown, 2})).shape().to_string(), "(None, None, 2)");
}

// tf-keras's Softmax.call(inputs, mask): masked positions get -1e9 added, so they get
// (almost) no probability and the others share it.
TEST_F(LayerBehaviorTest, SoftmaxLayerHonoursTheMask) {
  auto softmax_layer = make_layer("Softmax");
  const Tensor x = Tensor::from_vector<float>({1.0f, 2.0f, 3.0f, 4.0f, 0.5f, 0.5f}, Shape{2, 3});
  const Tensor mask = bools({1, 0, 1, 1, 1, 0}, Shape{2, 3});
  const auto y = values(softmax_layer->call_with_masks({x}, CallContext{false, {mask}}).tensors[0]);
  const float e = std::exp(2.0f);  // row 0: softmax of {1, 3}; row 1: of {4, 0.5}
  EXPECT_NEAR(y[0], 1.0f / (1.0f + e), 1e-6f);
  EXPECT_NEAR(y[1], 0.0f, 1e-6f);
  EXPECT_NEAR(y[2], e / (1.0f + e), 1e-6f);
  const float f = std::exp(3.5f);
  EXPECT_NEAR(y[3], f / (1.0f + f), 1e-6f);
  EXPECT_NEAR(y[4], 1.0f / (1.0f + f), 1e-6f);
  EXPECT_NEAR(y[5], 0.0f, 1e-6f);
}

// ---- threads ---------------------------------------------------------------------------------

TEST_F(LayerBehaviorTest, ConcurrentInferenceIsBitIdentical) {
  Sequential model({make_layer("Conv2D", Config{{"filters", 4}, {"kernel_size", 3}, {"padding", "same"}}),
                    make_layer("BatchNormalization"), make_layer("Activation", Config{{"activation", "relu"}}),
                    make_layer("MaxPooling2D"), make_layer("Flatten"), make_layer("Dropout", Config{{"rate", 0.5}}),
                    make_layer("Dense", Config{{"units", 3}, {"activation", "softmax"}})});
  model.build({Shape{Shape::kUnknown, 6, 6, 2}});
  const Tensor x = pattern_tensor(Shape{4, 6, 6, 2}, 100);
  const auto expected = values(model.predict(x));
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      DeviceScope scope(Device("ref:0"));
      for (int rep = 0; rep < 5; ++rep) results[static_cast<std::size_t>(t)] = values(model.predict(x));
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);
}

}  // namespace
}  // namespace strata::layer_tests
