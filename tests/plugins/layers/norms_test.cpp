// GroupNormalization, UnitNormalization and SpectralNormalization (normalization_extra.cpp):
// config round trips in tf-keras 2.21's key order, weights as tf-keras names and orders them,
// values computed by hand (naive loops here) and by tf-keras, finite-difference gradients,
// SpectralNormalization's training update against tf-keras's numbers, and bad configs and
// inputs as typed errors naming the layer.
//
// The tf-keras constants below were printed by this Python (tf-keras 2.21, TF_USE_LEGACY_KERAS=1):
//
//   import numpy as np, tf_keras as keras, tensorflow as tf
//   def pat(n, salt): return np.array([((i*7+salt*13)%19-9)/8 for i in range(n)], np.float32)
//   def show(name, a): print(name, "=", ", ".join("%.9g" % v for v in np.asarray(a).ravel()))
//   sn = keras.layers.SpectralNormalization(keras.layers.Dense(3))
//   x = pat(8, 100).reshape(2, 4); sn.build((None, 4))
//   sn.set_weights([pat(12, 1).reshape(4, 3), pat(3, 2), pat(3, 3).reshape(1, 3)])
//   with tf.GradientTape() as tape:
//       y = sn(x, training=True); loss = tf.reduce_sum(y * y) / 2
//   g = tape.gradient(loss, sn.trainable_weights)
//   show("dense_y", y); show("dense_kernel", sn.layer.kernel); show("dense_u", sn.vector_u)
//   show("dense_dkernel", g[0]); show("dense_dbias", g[1])
//   sn = keras.layers.SpectralNormalization(keras.layers.Conv2D(2, 2), power_iterations=3)
//   x = pat(2*3*3*2, 100).reshape(2, 3, 3, 2); sn.build((None, 3, 3, 2))
//   sn.set_weights([pat(16, 1).reshape(2, 2, 2, 2), pat(2, 2), pat(2, 3).reshape(1, 2)])
//   y = sn(x, training=True)
//   show("conv_y", y); show("conv_kernel", sn.layer.kernel); show("conv_u", sn.vector_u)
//   sn = keras.layers.SpectralNormalization(keras.layers.Embedding(5, 3)); sn.build((None, 2))
//   sn.set_weights([pat(15, 1).reshape(5, 3), pat(3, 3).reshape(1, 3)])
//   ids = np.array([[0, 4], [2, 1]], np.int32)
//   sn(ids, training=True); y = sn(ids, training=True)
//   show("emb_y", y); show("emb_embeddings", sn.layer.embeddings); show("emb_u", sn.vector_u)
//   gn = keras.layers.GroupNormalization(groups=2, epsilon=1e-3)
//   x = pat(24, 100).reshape(2, 3, 4); gn.build((None, 3, 4)); gn.set_weights([pat(4, 1), pat(4, 2)])
//   show("gn_y", gn(x))
//   gn = keras.layers.GroupNormalization(groups=3, axis=1)
//   x = pat(24, 100).reshape(2, 6, 2); gn.build((None, 6, 2)); gn.set_weights([pat(6, 1), pat(6, 2)])
//   show("gn_axis1_y", gn(x))
//   gn = keras.layers.GroupNormalization(groups=1, center=False, scale=False)
//   x = pat(27, 100).reshape(3, 3, 3)
//   mask = tf.constant([[True, True, False], [True, False, False], [False, False, False]])
//   show("gn_mask_y", gn(x, mask=mask))
//   un = keras.layers.UnitNormalization(axis=[1, 2]); show("un_y", un(pat(12, 100).reshape(2, 3, 2)))
//   i = keras.Input((4,)); sn = keras.layers.SpectralNormalization(keras.layers.Dense(3))
//   m = keras.Model(i, sn(i))
//   m.set_weights([pat(12, 1).reshape(4, 3), pat(3, 2), pat(3, 3).reshape(1, 3)])
//   m.compile(keras.optimizers.SGD(0.1), "mse")
//   loss = m.train_on_batch(pat(8, 100).reshape(2, 4), pat(6, 200).reshape(2, 3))
//   print("fit_loss =", "%.9g" % loss); w = m.get_weights()
//   show("fit_kernel", w[0]); show("fit_bias", w[1]); show("fit_u", w[2])
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "strata/training.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

// Every test runs on the tests' ref device and on cpu (skipped without its backend plugin).
class NormsLayers : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (const auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
    scope_.emplace(Device(GetParam()));
    clear_session();
  }
  std::optional<DeviceScope> scope_;
};

std::shared_ptr<Layer> layer(const std::string& cls, const Config& config) {
  return make_layer(cls, config);
}

std::vector<std::string> keys(const Config& c) {
  std::vector<std::string> out;
  for (auto it = c.begin(); it != c.end(); ++it) out.push_back(it.key());
  return out;
}

Tensor floats(const std::vector<float>& v, const Shape& s) {
  return Tensor::from_vector<float>(v, s);
}

Tensor bools(const std::vector<std::uint8_t>& v, const Shape& s) {
  return cast(Tensor::from_vector<std::uint8_t>(v, s), DType::kBool);
}

// Round trip: the config rebuilds a layer whose config is the same.
void expect_round_trip(const Layer& l) {
  const Config c = l.get_config();
  const auto again = make_layer(l.class_name(), c);
  EXPECT_EQ(again->get_config().dump(), c.dump());
}

// ---- configs ------------------------------------------------------------------------------

TEST_P(NormsLayers, GroupNormalizationConfigIsTfKeras) {
  auto l = layer("GroupNormalization", {{"groups", 2}});
  const std::vector<std::string> want = {"name",
                                         "trainable",
                                         "dtype",
                                         "groups",
                                         "axis",
                                         "epsilon",
                                         "center",
                                         "scale",
                                         "beta_initializer",
                                         "gamma_initializer",
                                         "beta_regularizer",
                                         "gamma_regularizer",
                                         "beta_constraint",
                                         "gamma_constraint"};
  const Config c = l->get_config();
  EXPECT_EQ(keys(c), want);
  EXPECT_EQ(c["name"], "group_normalization");
  EXPECT_EQ(c["groups"], 2);
  EXPECT_EQ(c["axis"], -1);
  EXPECT_EQ(c["epsilon"].get<double>(), 0.001);
  EXPECT_EQ(c["beta_initializer"]["class_name"], "Zeros");
  EXPECT_EQ(c["gamma_initializer"]["class_name"], "Ones");
  EXPECT_TRUE(c["gamma_regularizer"].is_null());
  expect_round_trip(*l);

  // groups -1 is instance normalization; tf-keras writes the resolved count once built.
  auto inst = layer("GroupNormalization", {{"groups", -1}, {"axis", 1}, {"epsilon", 0.01}, {"center", false}});
  EXPECT_EQ(inst->get_config()["groups"], -1);
  inst->ensure_built({Shape({Shape::kUnknown, 6, 3})});
  EXPECT_EQ(inst->get_config()["groups"], 6);
  EXPECT_EQ(inst->get_config()["axis"], 1);
  EXPECT_EQ(inst->get_config()["epsilon"].get<double>(), 0.01);
  expect_round_trip(*inst);
}

TEST_P(NormsLayers, UnitNormalizationConfigKeepsAxisAsGiven) {
  auto l = layer("UnitNormalization", Config::object());
  EXPECT_EQ(keys(l->get_config()), (std::vector<std::string>{"name", "trainable", "dtype", "axis"}));
  EXPECT_EQ(l->get_config()["axis"], -1);
  EXPECT_EQ(l->get_config()["name"], "unit_normalization");
  auto several = layer("UnitNormalization", {{"axis", {1, 2}}});
  several->ensure_built({Shape({Shape::kUnknown, 3, 2})});
  EXPECT_EQ(several->get_config()["axis"].dump(), "[1,2]");
  expect_round_trip(*several);
}

TEST_P(NormsLayers, SpectralNormalizationConfigWritesTheWrappedLayer) {
  const Config dense = {{"class_name", "Dense"}, {"config", {{"name", "dense"}, {"units", 3}}}};
  auto l = layer("SpectralNormalization", {{"layer", dense}});
  Config c = l->get_config();
  EXPECT_EQ(keys(c), (std::vector<std::string>{"name", "trainable", "dtype", "layer", "power_iterations"}));
  EXPECT_EQ(c["name"], "spectral_normalization");
  EXPECT_EQ(c["power_iterations"], 1);
  EXPECT_EQ(keys(c["layer"]), (std::vector<std::string>{"module", "class_name", "config", "registered_name"}));
  EXPECT_EQ(c["layer"]["module"], "keras.layers");
  EXPECT_EQ(c["layer"]["class_name"], "Dense");
  EXPECT_EQ(c["layer"]["config"]["name"], "dense");  // the wrapped layer's own name, as tf-keras
  EXPECT_TRUE(c["layer"]["registered_name"].is_null());
  expect_round_trip(*l);
  // Built, tf-keras 2.21 writes the wrapped layer's build_config.
  l->ensure_built({Shape({Shape::kUnknown, 4})});
  c = l->get_config();
  EXPECT_EQ(c["layer"]["build_config"].dump(), R"({"input_shape":[null,4]})");
  auto again = make_layer("SpectralNormalization", c);
  EXPECT_EQ(again->get_config()["layer"]["build_config"].dump(), R"({"input_shape":[null,4]})");

  auto three = layer("SpectralNormalization", {{"layer", dense}, {"power_iterations", 3}, {"name", "sn"}});
  EXPECT_EQ(three->get_config()["power_iterations"], 3);
  expect_round_trip(*three);
}

// ---- weights ------------------------------------------------------------------------------

TEST_P(NormsLayers, WeightsAreNamedAndOrderedAsTfKeras) {
  auto gn = layer("GroupNormalization", {{"groups", 2}});
  gn->ensure_built({Shape({Shape::kUnknown, 3, 4})});
  ASSERT_EQ(gn->weights().size(), 2u);
  EXPECT_EQ(gn->weights()[0].name(), "group_normalization/gamma");
  EXPECT_EQ(gn->weights()[1].name(), "group_normalization/beta");
  EXPECT_EQ(gn->weights()[0].shape(), Shape({4}));
  auto no_scale = layer("GroupNormalization", {{"groups", 2}, {"scale", false}, {"name", "g2"}});
  no_scale->ensure_built({Shape({Shape::kUnknown, 4})});
  ASSERT_EQ(no_scale->weights().size(), 1u);
  EXPECT_EQ(no_scale->weights()[0].name(), "g2/beta");

  auto un = layer("UnitNormalization", Config::object());
  un->ensure_built({Shape({Shape::kUnknown, 4})});
  EXPECT_TRUE(un->weights().empty());

  const Config conv = {{"class_name", "Conv2D"}, {"config", {{"filters", 3}, {"kernel_size", 2}}}};
  auto sn = layer("SpectralNormalization", {{"layer", conv}});
  sn->ensure_built({Shape({Shape::kUnknown, 4, 4, 2})});
  const auto w = sn->weights();
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].name(), "spectral_normalization/kernel");
  EXPECT_EQ(w[1].name(), "spectral_normalization/bias");
  EXPECT_EQ(w[2].name(), "spectral_normalization/vector_u");
  EXPECT_EQ(w[0].shape(), Shape({2, 2, 2, 3}));
  EXPECT_EQ(w[2].shape(), Shape({1, 3}));
  EXPECT_TRUE(w[0].trainable());
  EXPECT_FALSE(w[2].trainable());
  EXPECT_EQ(sn->trainable_weights().size(), 2u);
  EXPECT_EQ(sn->non_trainable_weights().size(), 1u);
  // vector_u is TruncatedNormal(stddev 0.02): within two standard deviations.
  for (float u : values(w[2].value())) EXPECT_LE(std::fabs(u), 0.04f);

  const Config emb = {{"class_name", "Embedding"}, {"config", {{"input_dim", 5}, {"output_dim", 3}}}};
  auto se = layer("SpectralNormalization", {{"layer", emb}, {"name", "se"}});
  se->ensure_built({Shape({Shape::kUnknown, 2})});
  ASSERT_EQ(se->weights().size(), 2u);
  EXPECT_EQ(se->weights()[0].name(), "se/embeddings");
  EXPECT_EQ(se->weights()[1].name(), "se/vector_u");
}

// ---- values -------------------------------------------------------------------------------

// Group normalization by loops: x [B, T, C] normalised over (T, C / G) per group, channel axis
// last, epsilon eps, gamma and beta per channel.
std::vector<float> naive_group_norm(const std::vector<float>& x, int b, int t, int c, int g, double eps,
                                    const std::vector<float>& gamma, const std::vector<float>& beta) {
  std::vector<float> out(x.size());
  const int per = c / g;
  for (int n = 0; n < b; ++n) {
    for (int k = 0; k < g; ++k) {
      double s = 0, ss = 0;
      for (int i = 0; i < t; ++i)
        for (int j = k * per; j < (k + 1) * per; ++j) s += x[static_cast<std::size_t>((n * t + i) * c + j)];
      const double mean = s / (t * per);
      for (int i = 0; i < t; ++i)
        for (int j = k * per; j < (k + 1) * per; ++j) {
          const double d = x[static_cast<std::size_t>((n * t + i) * c + j)] - mean;
          ss += d * d;
        }
      const double var = ss / (t * per);
      for (int i = 0; i < t; ++i)
        for (int j = k * per; j < (k + 1) * per; ++j) {
          const auto at = static_cast<std::size_t>((n * t + i) * c + j);
          out[at] = static_cast<float>((x[at] - mean) / std::sqrt(var + eps) * gamma[static_cast<std::size_t>(j)] +
                                       beta[static_cast<std::size_t>(j)]);
        }
    }
  }
  return out;
}

TEST_P(NormsLayers, GroupNormalizationMatchesLoopsForEveryGroupCount) {
  const int b = 2, t = 3, c = 6;
  const auto xv = pattern(b * t * c, 100);
  const auto gamma = pattern(c, 1), beta = pattern(c, 2);
  for (int g : {1, 2, 3, 6}) {
    SCOPED_TRACE(g);
    auto l = layer("GroupNormalization", {{"groups", g}, {"epsilon", 0.01}});
    l->ensure_built({Shape({Shape::kUnknown, t, c})});
    l->set_weights({floats(gamma, Shape({c})), floats(beta, Shape({c}))});
    const Tensor y = (*l)(floats(xv, Shape({b, t, c})));
    EXPECT_EQ(mismatch(values(y), naive_group_norm(xv, b, t, c, g, 0.01, gamma, beta), 1e-5, 1e-5), "");
  }
  // A hand-computed case: one sample, 4 channels in 2 groups: {1, 3 | 2, 6}: means 2 and 4,
  // variances 1 and 4; epsilon 0 is not allowed to matter here (1e-3 is Keras's default).
  auto l = layer("GroupNormalization", {{"groups", 2}, {"epsilon", 0}});
  const Tensor y = (*l)(floats({1, 3, 2, 6}, Shape({1, 4})));
  EXPECT_EQ(mismatch(values(y), {-1, 1, -1, 1}), "");
}

TEST_P(NormsLayers, GroupNormalizationMatchesTfKeras) {
  {
    auto l = layer("GroupNormalization", {{"groups", 2}});
    l->ensure_built({Shape({Shape::kUnknown, 3, 4})});
    l->set_weights({pattern_tensor(Shape({4}), 1), pattern_tensor(Shape({4}), 2)});
    const std::vector<float> want = {-0.582127273f, -0.260672688f, -0.791968226f,  0.664254546f,  0.414254546f,
                                     1.95350909f,   -1.04106367f,  -0.996381879f,  -0.692836404f, -0.0392545462f,
                                     -0.764290929f, 0.49819091f,   0.36077711f,    1.65862274f,   -0.878652394f,
                                     0.94231236f,   -0.578879952f, -0.0327599645f, -0.659509957f, -0.372542113f,
                                     0.266811401f,  1.84655428f,   -0.85673815f,   0.810826898f};
    EXPECT_EQ(mismatch(values((*l)(pattern_tensor(Shape({2, 3, 4}), 100))), want), "");
  }
  {  // channels on axis 1
    auto l = layer("GroupNormalization", {{"groups", 3}, {"axis", 1}});
    l->ensure_built({Shape({Shape::kUnknown, 6, 2})});
    l->set_weights({pattern_tensor(Shape({6}), 1), pattern_tensor(Shape({6}), 2)});
    const std::vector<float> want = {-0.366047084f, 0.446282446f,  2.01756477f,   0.392905831f, -1.03833783f,
                                     -0.807743192f, 0.403540641f,  -0.980027318f, 1.0490706f,   -0.16942364f,
                                     -0.799070597f, -0.595988214f, 0.0966787934f, -1.01269329f, 0.856119156f,
                                     -0.438148141f, -0.845988214f, -1.0490706f,   -1.0444237f,  0.174070612f,
                                     0.354981899f,  2.01903987f,   -0.653889894f, -0.492106497f};
    EXPECT_EQ(mismatch(values((*l)(pattern_tensor(Shape({2, 6, 2}), 100))), want), "");
  }
  {  // a mask as frequency weights, broadcast from the last axis (tf.broadcast_to)
    auto l = layer("GroupNormalization", {{"groups", 1}, {"center", false}, {"scale", false}});
    CallContext ctx;
    ctx.masks = {bools({1, 1, 0, 1, 0, 0, 0, 0, 0}, Shape({3, 3}))};
    const auto out = l->call_with_masks({pattern_tensor(Shape({3, 3, 3}), 100)}, ctx);
    const std::vector<float> want = {
        -1.01530731f,  1.35374308f,  -2.70748615f,  -0.338435769f, 2.03061461f,   -2.03061461f, 0.338435769f,
        -3.72279334f,  -1.35374308f, 0.538713098f,  -1.40065384f,  -0.269356519f, 0.861940861f, -1.07742608f,
        0.0538713038f, 1.18516874f,  -0.754198253f, 0.377099127f,  -1.01530731f,  1.35374308f,  3.72279358f,
        -0.338435769f, 2.03061461f,  4.39966488f,   0.338435769f,  2.70748615f,   -1.35374296f};
    EXPECT_EQ(mismatch(values(out.tensors[0]), want, 1e-5, 2e-5), "");
    ASSERT_EQ(out.masks.size(), 1u);
    EXPECT_TRUE(out.masks[0].defined());  // supports_masking: the mask passes through
  }
}

TEST_P(NormsLayers, GroupNormalizationRunsOnInputsOfUnknownSize) {
  auto l = layer("GroupNormalization", {{"groups", 2}, {"axis", -1}});
  auto model_in = Input(Shape({Shape::kUnknown, 4}));
  const Tensor out = (*l)(model_in);
  EXPECT_EQ(out.shape(), Shape({Shape::kUnknown, Shape::kUnknown, 4}));
  auto model = std::make_shared<Functional>(std::vector<Tensor>{model_in}, std::vector<Tensor>{out});
  const Tensor x = pattern_tensor(Shape({2, 5, 4}), 100);
  const auto gamma = pattern(4, 1), beta = pattern(4, 2);
  l->set_weights({floats(gamma, Shape({4})), floats(beta, Shape({4}))});
  const auto y = model->predict(std::vector<Tensor>{x});
  EXPECT_EQ(mismatch(values(y.at(0)), naive_group_norm(values(x), 2, 5, 4, 2, 1e-3, gamma, beta), 1e-5, 1e-5), "");
}

TEST_P(NormsLayers, UnitNormalizationMatchesHandAndTfKeras) {
  auto l = layer("UnitNormalization", Config::object());
  // 3-4-5 and an all-zero row (tf.math.l2_normalize's epsilon 1e-12 keeps it at zero).
  EXPECT_EQ(mismatch(values((*l)(floats({3, 4, 0, 0}, Shape({2, 2})))), {0.6f, 0.8f, 0, 0}), "");
  auto several = layer("UnitNormalization", {{"axis", {1, 2}}});
  const std::vector<float> want = {-0.0805822983f, 0.483493805f,  -0.483493805f, 0.0805822983f,
                                   0.644658387f,   -0.322329193f, 0.231455028f,  -0.694365084f,
                                   -0.154303357f,  0.3857584f,    -0.540061772f, 0.0f};
  EXPECT_EQ(mismatch(values((*several)(pattern_tensor(Shape({2, 3, 2}), 100))), want), "");
  // axis 1 of [B, 2, 2]: columns normalised.
  auto cols = layer("UnitNormalization", {{"axis", 1}});
  EXPECT_EQ(mismatch(values((*cols)(floats({3, 1, 4, 0}, Shape({1, 2, 2})))), {0.6f, 1, 0.8f, 0}), "");
  // An integer input is cast to the layer's dtype first, as tf-keras does.
  const Tensor ints = Tensor::from_vector<std::int32_t>({3, 4}, Shape({1, 2}));
  const Tensor y = (*l)(ints);
  EXPECT_EQ(y.dtype(), DType::kFloat32);
  EXPECT_EQ(mismatch(values(y), {0.6f, 0.8f}), "");
}

// ---- SpectralNormalization: inference and training against tf-keras ------------------------

TEST_P(NormsLayers, SpectralNormalizationDenseTrainingStepMatchesTfKeras) {
  const Config dense = {{"class_name", "Dense"}, {"config", {{"units", 3}}}};
  auto l = layer("SpectralNormalization", {{"layer", dense}});
  l->ensure_built({Shape({Shape::kUnknown, 4})});
  l->set_weights({pattern_tensor(Shape({4, 3}), 1), pattern_tensor(Shape({3}), 2), pattern_tensor(Shape({1, 3}), 3)});
  const Tensor x = pattern_tensor(Shape({2, 4}), 100);
  // Inference is the wrapped Dense with the kernel as it is, and changes nothing.
  const auto kernel0 = values(l->weights()[0].value());
  const Tensor y_inf = (*l)(x);
  std::vector<float> dense_y(6);
  const auto xs = values(x), bias = values(l->weights()[1].value());
  for (int n = 0; n < 2; ++n)
    for (int j = 0; j < 3; ++j) {
      double s = bias[static_cast<std::size_t>(j)];
      for (int i = 0; i < 4; ++i)
        s += xs[static_cast<std::size_t>(n * 4 + i)] * kernel0[static_cast<std::size_t>(i * 3 + j)];
      dense_y[static_cast<std::size_t>(n * 3 + j)] = static_cast<float>(s);
    }
  EXPECT_EQ(mismatch(values(y_inf), dense_y), "");
  EXPECT_EQ(mismatch(values(l->weights()[0].value()), kernel0), "");

  CallContext training;
  training.training = true;
  GradientTape tape;
  const Tensor y = (*l)(std::vector<Tensor>{x}, training).at(0);
  const Tensor loss = sum(y * y) * 0.5;
  const auto grads = tape.gradient(loss, l->trainable_weights());
  EXPECT_EQ(mismatch(values(y), {-0.472708583f, 0.571549952f, -0.928450048f, 0.756642699f, 0.322116345f, -1.30260038f}),
            "");
  EXPECT_EQ(mismatch(values(l->weights()[0].value()),
                     {0.285066962f, -0.570133924f, -0.0712667406f, 0.427600443f, -0.427600443f, 0.0712667406f,
                      0.570133924f, -0.285066962f, 0.213800222f, -0.641400695f, -0.142533481f, 0.356333703f}),
            "");
  EXPECT_EQ(mismatch(values(l->weights()[2].value()), {-0.942745507f, 0.243894354f, 0.2274784f}), "");
  // The gradient reaches the kernel only through the wrapped layer's call (tf-keras's).
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_EQ(mismatch(values(grads[0]),
                     {0.815731287f, 0.250672609f, -1.18654418f, -0.732852817f, 0.267604291f, -0.0450373292f,
                      0.638272464f, -0.307868838f, 0.207862377f, -0.91031158f, -0.290937155f, 1.34936917f},
                     1e-5, 2e-5),
            "");
  EXPECT_EQ(mismatch(values(grads[1]), {0.283934116f, 0.893666267f, -2.23105049f}, 1e-5, 2e-5), "");
}

// A traced training call runs the power iteration's assignment before the wrapped layer's
// kernel read, as the eager call does: the same output (the normalised kernel's, the values
// above) and the same updated weights, each time the graph runs.
TEST_P(NormsLayers, SpectralNormalizationTracedTrainingCallEqualsEager) {
  const Config dense = {{"class_name", "Dense"}, {"config", {{"units", 3}}}};
  const auto make = [&] {
    auto l = layer("SpectralNormalization", {{"layer", dense}});
    l->ensure_built({Shape({Shape::kUnknown, 4})});
    l->set_weights({pattern_tensor(Shape({4, 3}), 1), pattern_tensor(Shape({3}), 2), pattern_tensor(Shape({1, 3}), 3)});
    return l;
  };
  CallContext training;
  training.training = true;
  const Tensor x = pattern_tensor(Shape({2, 4}), 100);
  auto eager = make();
  auto traced = make();
  const Graph g = trace([&](const std::vector<Tensor>& in) { return traced->call(in, training); },
                        {TensorSpec(Shape({Shape::kUnknown, 4}))}, "spectral_training");
  for (int step = 0; step < 2; ++step) {
    const Tensor want = eager->call({x}, training).at(0);
    const Tensor got = g.run({x}).at(0);
    EXPECT_EQ(mismatch(values(got), values(want)), "") << "step " << step;
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(mismatch(values(traced->weights()[i].value()), values(eager->weights()[i].value())), "")
          << "step " << step << ", " << traced->weights()[i].name();
    }
  }
}

// A training step of a compiled Functional model: the update runs in the forward pass, then
// SGD moves the normalised kernel by the gradient of the call that used it (tf-keras's
// train_on_batch, whose tf.function orders the assignment before the read).
TEST_P(NormsLayers, SpectralNormalizationTrainOnBatchMatchesTfKeras) {
  const Tensor in = Input(Shape({4}));
  auto sn = layer("SpectralNormalization", {{"layer", {{"class_name", "Dense"}, {"config", {{"units", 3}}}}}});
  auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{(*sn)(in)});
  model->set_weights(
      {pattern_tensor(Shape({4, 3}), 1), pattern_tensor(Shape({3}), 2), pattern_tensor(Shape({1, 3}), 3)});
  model->compile(Config{{"class_name", "SGD"}, {"config", {{"learning_rate", 0.1}}}}, Config("mse"));
  const Logs logs = model->train_on_batch({pattern_tensor(Shape({2, 4}), 100)}, {pattern_tensor(Shape({2, 3}), 200)});
  EXPECT_NEAR(logs.at("loss"), 1.4179703, 1e-5);
  const auto w = model->get_weights();
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(
      mismatch(values(w[0]), {0.291730076f, -0.588385522f, -0.0160902664f, 0.455153883f, -0.445895582f, 0.0706846565f,
                              0.541045666f, -0.26386717f, 0.20687148f, -0.649598658f, -0.121377237f, 0.293646395f}),
      "");
  EXPECT_EQ(mismatch(values(w[1]), {-0.19279781f, 0.561877787f, -0.775631666f}), "");
  EXPECT_EQ(mismatch(values(w[2]), {-0.942745507f, 0.243894354f, 0.2274784f}), "");
}

TEST_P(NormsLayers, SpectralNormalizationConvWithThreeIterationsMatchesTfKeras) {
  const Config conv = {{"class_name", "Conv2D"}, {"config", {{"filters", 2}, {"kernel_size", 2}}}};
  auto l = layer("SpectralNormalization", {{"layer", conv}, {"power_iterations", 3}});
  l->ensure_built({Shape({Shape::kUnknown, 3, 3, 2})});
  l->set_weights(
      {pattern_tensor(Shape({2, 2, 2, 2}), 1), pattern_tensor(Shape({2}), 2), pattern_tensor(Shape({1, 2}), 3)});
  CallContext training;
  training.training = true;
  const Tensor y = (*l)(std::vector<Tensor>{pattern_tensor(Shape({2, 3, 3, 2}), 100)}, training).at(0);
  EXPECT_EQ(mismatch(values(y), {0.449894786f, 0.224151194f, -0.708112895f, 1.39488423f, 0.72348994f, -0.857504368f,
                                 0.169936836f, 0.917683303f, -0.784465134f, 1.57303929f, -0.370890915f, 0.567735851f,
                                 0.0935846865f, 1.09583831f, -1.66887748f, 1.66211665f}),
            "");
  EXPECT_EQ(mismatch(values(l->weights()[0].value()),
                     {0.203605741f, -0.407211483f, -0.0509014353f, 0.305408627f, -0.305408627f, 0.0509014353f,
                      0.407211483f, -0.203605741f, 0.152704313f, -0.458112925f, -0.101802871f, 0.254507184f,
                      -0.35631004f, 0.0f, 0.35631004f, -0.254507184f}),
            "");
  EXPECT_EQ(mismatch(values(l->weights()[2].value()), {-0.695349514f, 0.718671679f}), "");
}

TEST_P(NormsLayers, SpectralNormalizationEmbeddingTwoStepsMatchTfKeras) {
  const Config emb = {{"class_name", "Embedding"}, {"config", {{"input_dim", 5}, {"output_dim", 3}}}};
  auto l = layer("SpectralNormalization", {{"layer", emb}});
  l->ensure_built({Shape({Shape::kUnknown, 2})});
  l->set_weights({pattern_tensor(Shape({5, 3}), 1), pattern_tensor(Shape({1, 3}), 3)});
  const Tensor ids = Tensor::from_vector<std::int32_t>({0, 4, 2, 1}, Shape({2, 2}));
  CallContext training;
  training.training = true;
  (void)(*l)(std::vector<Tensor>{ids}, training);
  const Tensor y = (*l)(std::vector<Tensor>{ids}, training).at(0);
  EXPECT_EQ(
      mismatch(values(y), {0.233271137f, -0.466542274f, -0.0583177842f, -0.408224493f, 0.0f, 0.408224493f, 0.466542274f,
                           -0.233271137f, 0.174953356f, 0.349906713f, -0.349906713f, 0.0583177842f}),
      "");
  EXPECT_EQ(mismatch(values(l->weights()[0].value()),
                     {0.233271137f, -0.466542274f, -0.0583177842f, 0.349906713f, -0.349906713f, 0.0583177842f,
                      0.466542274f, -0.233271137f, 0.174953356f, -0.524860084f, -0.116635568f, 0.291588902f,
                      -0.408224493f, 0.0f, 0.408224493f}),
            "");
  EXPECT_EQ(mismatch(values(l->weights()[1].value()), {-0.901429176f, 0.29071033f, 0.320800602f}), "");
}

TEST_P(NormsLayers, SpectralNormalizationLeavesAZeroKernelAlone) {
  const Config dense = {{"class_name", "Dense"}, {"config", {{"units", 2}, {"kernel_initializer", "zeros"}}}};
  auto l = layer("SpectralNormalization", {{"layer", dense}});
  l->ensure_built({Shape({Shape::kUnknown, 3})});
  const auto u0 = values(l->weights()[2].value());
  CallContext training;
  training.training = true;
  const Tensor y = (*l)(std::vector<Tensor>{pattern_tensor(Shape({2, 3}), 100)}, training).at(0);
  EXPECT_EQ(mismatch(values(y), std::vector<float>(4, 0.0f)), "");
  EXPECT_EQ(mismatch(values(l->weights()[0].value()), std::vector<float>(6, 0.0f)), "");
  EXPECT_EQ(mismatch(values(l->weights()[2].value()), u0), "");
}

TEST_P(NormsLayers, SpectralNormalizationPassesTheWrappedLayersMask) {
  const Config emb = {{"class_name", "Embedding"},
                      {"config", {{"input_dim", 5}, {"output_dim", 3}, {"mask_zero", true}}}};
  auto l = layer("SpectralNormalization", {{"layer", emb}});
  const auto out = l->call_with_masks({Tensor::from_vector<std::int32_t>({0, 4, 2, 0}, Shape({2, 2}))});
  ASSERT_EQ(out.masks.size(), 1u);
  ASSERT_TRUE(out.masks[0].defined());
  EXPECT_EQ(values(out.masks[0]), (std::vector<float>{0, 1, 1, 0}));
}

// ---- gradients by finite differences -------------------------------------------------------

// d(sum(y^2)/2) w.r.t. the inputs and trainable weights, against central differences, in float64.
void expect_fd_gradients(const Layer& l, const std::vector<Tensor>& inputs, const CallContext& ctx = {}) {
  auto objective = [&](const std::vector<Tensor>& xs) {
    const Tensor y = l(xs, ctx).at(0);
    return sum(y * y) * 0.5;
  };
  std::vector<Tensor> dx, dw;
  {
    GradientTape tape(/*persistent=*/true);
    for (const auto& x : inputs) tape.watch(x);
    const Tensor loss = objective(inputs);
    const std::vector<Variable> vars = l.trainable_weights();
    dx = tape.gradient(loss, inputs);
    dw = tape.gradient(loss, vars);
  }
  expect_gradients_match_finite_differences(l, objective, inputs, dx, dw);
}

Tensor doubles(const Shape& s, std::int64_t salt) {
  return cast(pattern_tensor(s, salt), DType::kFloat64);
}

void set_pattern_weights(Layer& l) {
  std::vector<Tensor> w;
  const auto vars = l.weights();
  for (std::size_t i = 0; i < vars.size(); ++i) w.push_back(doubles(vars[i].shape(), static_cast<std::int64_t>(i + 1)));
  l.set_weights(w);
}

TEST_P(NormsLayers, GradientsMatchFiniteDifferences) {
  for (int g : {1, 2, 4}) {
    SCOPED_TRACE(g);
    auto l = layer("GroupNormalization", {{"groups", g}, {"dtype", "float64"}, {"axis", -2}});
    l->ensure_built({Shape({2, 4, 3})});
    set_pattern_weights(*l);
    expect_fd_gradients(*l, {doubles(Shape({2, 4, 3}), 100)});
  }
  {
    auto l = layer("GroupNormalization", {{"groups", 1}, {"dtype", "float64"}});
    CallContext ctx;
    ctx.masks = {bools({1, 1, 0}, Shape({3}))};
    l->ensure_built({Shape({2, 2, 3})});
    set_pattern_weights(*l);
    expect_fd_gradients(*l, {doubles(Shape({2, 2, 3}), 100)}, ctx);
  }
  for (const Config& axis : {Config(-1), Config({1, 2})}) {
    auto l = layer("UnitNormalization", {{"axis", axis}, {"dtype", "float64"}});
    expect_fd_gradients(*l, {doubles(Shape({2, 3, 2}), 100)});
  }
  {  // inference: the wrapped Dense
    const Config dense = {{"class_name", "Dense"}, {"config", {{"units", 3}, {"dtype", "float64"}}}};
    auto l = layer("SpectralNormalization", {{"layer", dense}, {"dtype", "float64"}});
    l->ensure_built({Shape({2, 4})});
    set_pattern_weights(*l);
    expect_fd_gradients(*l, {doubles(Shape({2, 4}), 100)});
  }
}

// ---- bad configs and inputs -----------------------------------------------------------------

TEST_P(NormsLayers, BadConfigsAreTypedErrorsNamingTheLayer) {
  expect_error<ValueError>(
      [] {
        layer("GroupNormalization", {{"name", "gn"}, {"groups", 4}})->ensure_built({Shape({Shape::kUnknown, 6})});
      },
      "gn", "multiple of the number of groups");
  expect_error<ValueError>(
      [] {
        layer("GroupNormalization", {{"name", "gn"}, {"groups", 8}})->ensure_built({Shape({Shape::kUnknown, 6})});
      },
      "gn", "cannot be more than the number of channels");
  expect_error<ValueError>([] { layer("GroupNormalization", {{"name", "gn"}, {"groups", 0}}); }, "gn", "groups");
  expect_error<ValueError>([] { layer("GroupNormalization", {{"name", "gn"}, {"axis", {1, 2}}}); }, "gn", "axis");
  expect_error<ValueError>(
      [] {
        layer("GroupNormalization", {{"name", "gn"}, {"groups", 1}, {"axis", 0}})->ensure_built({Shape({3, 4})});
      },
      "gn", "batch axis");
  expect_error<ValueError>(
      [] {
        layer("GroupNormalization", {{"name", "gn"}, {"groups", 1}})
            ->ensure_built({Shape({Shape::kUnknown, Shape::kUnknown})});
      },
      "gn", "defined dimension");
  expect_error<ShapeError>(
      [] {
        auto l = layer("GroupNormalization", {{"name", "gn"}, {"groups", 1}});
        CallContext ctx;
        ctx.masks = {bools({1, 1, 0, 1, 0, 0}, Shape({2, 3}))};
        (void)(*l)(std::vector<Tensor>{pattern_tensor(Shape({2, 3, 4}), 1)}, ctx);
      },
      "gn", "does not broadcast");
  expect_error<ValueError>(
      [] {
        layer("UnitNormalization", {{"name", "un"}, {"axis", {1, 1}}})->ensure_built({Shape({2, 3})});
      },
      "un", "duplicate axis");
  expect_error<ValueError>(
      [] {
        layer("UnitNormalization", {{"name", "un"}, {"axis", 3}})->ensure_built({Shape({2, 3})});
      },
      "un", "out of range");
  expect_error<ValueError>([] { layer("UnitNormalization", {{"name", "un"}, {"axis", "x"}}); }, "un", "axis");
  const Config flatten = {{"class_name", "Flatten"}, {"config", Config::object()}};
  expect_error<ValueError>(
      [&] {
        layer("SpectralNormalization", {{"name", "sn"}, {"layer", flatten}})->ensure_built({Shape({2, 3, 4})});
      },
      "sn", "no weight 'kernel' nor 'embeddings'");
  const Config dense = {{"class_name", "Dense"}, {"config", {{"units", 3}}}};
  expect_error<ValueError>(
      [&] {
        layer("SpectralNormalization", {{"name", "sn"}, {"layer", dense}, {"power_iterations", 0}});
      },
      "sn", "power_iterations");
  // Inputs that do not fit the built layer.
  expect_error<ShapeError>(
      [] {
        auto l = layer("GroupNormalization", {{"name", "gn"}, {"groups", 2}});
        l->ensure_built({Shape({Shape::kUnknown, 6})});
        (void)(*l)(pattern_tensor(Shape({2, 4}), 1));
      },
      "gn", "expected 6 channels");
  expect_error<ShapeError>(
      [] {
        auto l = layer("UnitNormalization", {{"name", "un"}});
        l->ensure_built({Shape({Shape::kUnknown, 6})});
        (void)(*l)(pattern_tensor(Shape({2, 3, 2}), 1));
      },
      "un", "rank");
  expect_error<Error>(
      [&] {
        auto l = layer("SpectralNormalization", {{"name", "sn"}, {"layer", dense}});
        l->ensure_built({Shape({Shape::kUnknown, 4})});
        (void)(*l)(pattern_tensor(Shape({2, 5}), 1));
      },
      "sn", "");
  expect_error<FormatError>([] { layer("SpectralNormalization", {{"name", "sn"}}); }, "sn", "layer");
  expect_error<FormatError>([] { layer("SpectralNormalization", {{"name", "sn"}, {"layer", 3}}); }, "sn", "layer");
}

INSTANTIATE_TEST_SUITE_P(Devices, NormsLayers, ::testing::ValuesIn(test_devices()), device_param_name);

}  // namespace
}  // namespace strata::layer_tests
