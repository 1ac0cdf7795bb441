// The random augmentation layers (random_augmentation.cpp): RandomFlip, RandomRotation,
// RandomZoom, RandomTranslation, RandomCrop, RandomContrast, RandomBrightness, RandomHeight,
// RandomWidth. Config round trips against the configs tf-keras 2.21 writes, inference as
// tf-keras (the identity, bit for bit; RandomCrop's smart resize by hand), seeded
// repeatability, the distributions of the random parameters over 1,000 samples, fixed
// transforms against TensorFlow's ImageProjectiveTransformV3, the adjoint identity of the
// resampling's gradient, and bad configs and shapes as typed errors naming the layer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

constexpr double kPi = 3.14159265358979323846;

// cpu when its backend plugin is loaded (RandomHeight/RandomWidth draw their size there),
// else the tests' ref device.
Device usable_device() {
  return Device(skip_reason("cpu:0").empty() ? "cpu:0" : "ref:0");
}

class Augment : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{usable_device()};
};

const CallContext kTraining{true, {}};

std::shared_ptr<Layer> layer(const char* cls, const Config& c) {
  return make_layer(cls, c);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const auto x = a.to(Device::cpu()).to_vector<float>(), y = b.to(Device::cpu()).to_vector<float>();
  return a.shape() == b.shape() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

std::vector<float> host(const Tensor& t) {
  return values(t.to(Device::cpu()));
}

// Values 0, 1, ..., n - 1 (times `scale`) in `shape`.
Tensor ramp(const Shape& shape, float scale = 1.0f) {
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * scale;
  return Tensor::from_vector<float>(v, shape, default_device());
}

// ---- configs -----------------------------------------------------------------------------

// What tf-keras 2.21 writes for these layers (printed by get_config()).
struct ConfigCase {
  const char* cls;
  const char* given;
  const char* written;
};

const std::vector<ConfigCase> kConfigs = {
    {"RandomFlip", R"({"name":"f"})",
     R"({"name":"f","trainable":true,"dtype":"float32","rng_type":"stateful","mode":"horizontal_and_vertical","seed":null})"},
    {"RandomFlip", R"({"name":"f","mode":"horizontal","seed":3})",
     R"({"name":"f","trainable":true,"dtype":"float32","rng_type":"stateful","mode":"horizontal","seed":3})"},
    {"RandomRotation", R"({"name":"r","factor":0.1})",
     R"({"name":"r","trainable":true,"dtype":"float32","rng_type":"stateful","factor":0.1,"fill_mode":"reflect","fill_value":0.0,"interpolation":"bilinear","seed":null})"},
    {"RandomRotation",
     R"({"name":"r","factor":[-0.2,0.3],"fill_mode":"constant","fill_value":1.5,"interpolation":"nearest","seed":5})",
     R"({"name":"r","trainable":true,"dtype":"float32","rng_type":"stateful","factor":[-0.2,0.3],"fill_mode":"constant","fill_value":1.5,"interpolation":"nearest","seed":5})"},
    {"RandomZoom", R"({"name":"z","height_factor":0.2})",
     R"({"name":"z","trainable":true,"dtype":"float32","rng_type":"stateful","height_factor":0.2,"width_factor":null,"fill_mode":"reflect","fill_value":0.0,"interpolation":"bilinear","seed":null})"},
    {"RandomZoom", R"({"name":"z","height_factor":[-0.2,0.3],"width_factor":0.1})",
     R"({"name":"z","trainable":true,"dtype":"float32","rng_type":"stateful","height_factor":[-0.2,0.3],"width_factor":0.1,"fill_mode":"reflect","fill_value":0.0,"interpolation":"bilinear","seed":null})"},
    {"RandomTranslation", R"({"name":"t","height_factor":0.1,"width_factor":0.2})",
     R"({"name":"t","trainable":true,"dtype":"float32","rng_type":"stateful","height_factor":0.1,"width_factor":0.2,"fill_mode":"reflect","fill_value":0.0,"interpolation":"bilinear","seed":null})"},
    {"RandomCrop", R"({"name":"c","height":3,"width":4})",
     R"({"name":"c","trainable":true,"dtype":"float32","rng_type":"stateful","height":3,"width":4,"seed":null})"},
    {"RandomContrast", R"({"name":"k","factor":0.3})",
     R"({"name":"k","trainable":true,"dtype":"float32","rng_type":"stateful","factor":0.3,"seed":null})"},
    {"RandomContrast", R"({"name":"k","factor":[0.1,0.2]})",
     R"({"name":"k","trainable":true,"dtype":"float32","rng_type":"stateful","factor":[0.1,0.2],"seed":null})"},
    {"RandomBrightness", R"({"name":"b","factor":0.2})",
     R"({"name":"b","trainable":true,"dtype":"float32","rng_type":"stateful","factor":[-0.2,0.2],"value_range":[0,255],"seed":null})"},
    {"RandomBrightness", R"({"name":"b","factor":[0.3,-0.1],"value_range":[1,0]})",
     R"({"name":"b","trainable":true,"dtype":"float32","rng_type":"stateful","factor":[-0.1,0.3],"value_range":[0,1],"seed":null})"},
    {"RandomHeight", R"({"name":"h","factor":0.2})",
     R"({"name":"h","trainable":true,"dtype":"float32","rng_type":"stateful","factor":0.2,"interpolation":"bilinear","seed":null})"},
    {"RandomWidth", R"({"name":"w","factor":[0.1,0.3],"interpolation":"nearest"})",
     R"({"name":"w","trainable":true,"dtype":"float32","rng_type":"stateful","factor":[0.1,0.3],"interpolation":"nearest","seed":null})"},
};

TEST_F(Augment, ConfigsAreTfKerassAndRoundTrip) {
  for (const auto& c : kConfigs) {
    SCOPED_TRACE(std::string(c.cls) + " " + c.given);
    const auto first = layer(c.cls, Config::parse(c.given));
    EXPECT_EQ(first->get_config().dump(), Config::parse(c.written).dump());
    const auto again = layer(c.cls, first->get_config());
    EXPECT_EQ(again->get_config().dump(), first->get_config().dump());
    EXPECT_TRUE(first->weights().empty());
  }
}

TEST_F(Augment, ReadsKeras3sConfigs) {
  // Keras 3.15's get_config() of these layers (tuples as Keras 3 serializes them).
  const Config dtype = Config::parse(
      R"({"module":"keras","class_name":"DTypePolicy","config":{"name":"float32"},"registered_name":null})");
  Config flip{{"name", "f"},     {"trainable", true},   {"dtype", dtype}, {"data_format", "channels_last"},
              {"seed", nullptr}, {"mode", "horizontal"}};
  EXPECT_EQ(layer("RandomFlip", flip)->get_config().dump(),
            R"({"name":"f","trainable":true,"dtype":"float32","rng_type":"stateful","mode":"horizontal","seed":null})");
  Config rotation{{"name", "r"},
                  {"dtype", dtype},
                  {"data_format", "channels_last"},
                  {"factor", Config::parse(R"({"class_name":"__tuple__","items":[-0.1,0.1]})")},
                  {"fill_mode", "reflect"},
                  {"fill_value", 0.0},
                  {"interpolation", "bilinear"},
                  {"seed", 4}};
  EXPECT_EQ(layer("RandomRotation", rotation)->get_config()["factor"].dump(), "[-0.1,0.1]");
  Config contrast{
      {"name", "k"}, {"dtype", dtype}, {"factor", Config::array({0, 0.3})}, {"value_range", Config::array({0, 1})}};
  const Config written = layer("RandomContrast", contrast)->get_config();
  EXPECT_EQ(written["value_range"].dump(), "[0,1]");  // not tf-keras's [0, 255]: kept
  // channels_first (Keras 3 only) is honoured and written back.
  flip["data_format"] = "channels_first";
  EXPECT_EQ(layer("RandomFlip", flip)->get_config()["data_format"], "channels_first");
}

// ---- inference -----------------------------------------------------------------------------

const std::vector<std::pair<const char*, const char*>> kIdentityAtInference = {
    {"RandomFlip", R"({})"},
    {"RandomRotation", R"({"factor":0.3})"},
    {"RandomZoom", R"({"height_factor":0.3,"width_factor":[-0.2,0.4]})"},
    {"RandomTranslation", R"({"height_factor":0.3,"width_factor":0.2,"fill_mode":"constant"})"},
    {"RandomContrast", R"({"factor":0.5})"},
    {"RandomBrightness", R"({"factor":0.5})"},
    {"RandomHeight", R"({"factor":0.4})"},
    {"RandomWidth", R"({"factor":0.4})"},
};

TEST_F(Augment, InferenceIsTheIdentityBitForBit) {
  // Values a resampling or clipping would change: negatives, beyond 255, a NaN, tiny ones.
  std::vector<float> v(2 * 5 * 6 * 3);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(std::sin(i * 1.7) * 400.0) * 1.0000001f;
  v[7] = std::nanf("");
  v[11] = 1e-42f;
  const Tensor x = Tensor::from_vector<float>(v, Shape{2, 5, 6, 3}, default_device());
  for (const auto& [cls, cfg] : kIdentityAtInference) {
    SCOPED_TRACE(cls);
    const auto l = layer(cls, Config::parse(cfg));
    EXPECT_TRUE(same_bits((*l)(x), x));
    EXPECT_TRUE(same_bits((*l)(x, CallContext{false, {}}), x));
    // Through a Functional model (a symbolic call, then predict).
    clear_session();
    const Tensor in = Input(Shape{5, 6, 3});
    const auto lm = layer(cls, Config::parse(cfg));
    Functional model({in}, {(*lm)(in)});
    EXPECT_TRUE(same_bits(model.predict(x), x));
    // Unbatched images too.
    const Tensor one = slice(x, {0, 0, 0, 0}, {1, -1, -1, -1});
    EXPECT_TRUE(same_bits((*l)(squeeze(one, {0})), squeeze(one, {0})));
  }
}

TEST_F(Augment, RandomHeightAndWidthDeclareTheirAxisUnknownAsTfKeras) {
  const Tensor in = Input(Shape{6, 8, 3});
  const auto h = (*layer("RandomHeight", Config{{"factor", 0.2}}))(in);
  const auto w = (*layer("RandomWidth", Config{{"factor", 0.2}}))(in);
  // tf-keras: (None, None, 8, 3) and (None, 6, None, 3).
  EXPECT_EQ(h.shape(), Shape({Shape::kUnknown, Shape::kUnknown, 8, 3}));
  EXPECT_EQ(w.shape(), Shape({Shape::kUnknown, 6, Shape::kUnknown, 3}));
}

TEST_F(Augment, RandomCropSmartResizesAtInferenceAndOnSmallImages) {
  // 6 x 8 -> 4 x 4: tf-keras's smart_resize crops the centred 6 x 6 box (columns 1..6) and
  // resizes it bilinearly (half-pixel centres: source = 1.5 o + 0.25), which is exact on a
  // ramp x[i][j] = 8 i + j: y[a][b] = 8 (1.5 a + 0.25) + 1 + 1.5 b + 0.25.
  const auto crop = layer("RandomCrop", Config{{"height", 4}, {"width", 4}, {"seed", 1}});
  const Tensor x = ramp(Shape{1, 6, 8, 1});
  std::vector<float> want;
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) want.push_back(8.0f * (1.5f * a + 0.25f) + 1.0f + 1.5f * b + 0.25f);
  }
  EXPECT_EQ(mismatch(host((*crop)(x)), want), "");
  // In training too when the image is smaller than the target along an axis.
  const auto big = layer("RandomCrop", Config{{"height", 8}, {"width", 4}});
  const Tensor y = (*big)(ramp(Shape{1, 6, 8, 1}), kTraining);
  EXPECT_EQ(y.shape(), Shape({1, 8, 4, 1}));
  // Equal sizes: the identity.
  const Tensor same = ramp(Shape{2, 4, 4, 1});
  EXPECT_EQ(host((*crop)(same)), host(same));
}

// ---- seeds ----------------------------------------------------------------------------------

const std::vector<std::pair<const char*, const char*>> kTrainingCases = {
    {"RandomFlip", R"({})"},
    {"RandomRotation", R"({"factor":0.3})"},
    {"RandomZoom", R"({"height_factor":0.3})"},
    {"RandomTranslation", R"({"height_factor":0.3,"width_factor":0.2})"},
    {"RandomCrop", R"({"height":3,"width":3})"},
    {"RandomContrast", R"({"factor":0.5})"},
    {"RandomBrightness", R"({"factor":0.5})"},
    {"RandomHeight", R"({"factor":0.4})"},
    {"RandomWidth", R"({"factor":0.4})"},
};

TEST_F(Augment, SeededLayersRepeatThemselvesAndSeedsDiffer) {
  if (!skip_reason("cpu:0").empty()) GTEST_SKIP() << skip_reason("cpu:0");
  const Tensor x = ramp(Shape{8, 7, 9, 2}, 0.5f);
  for (const auto& [cls, cfg] : kTrainingCases) {
    SCOPED_TRACE(cls);
    Config c = Config::parse(cfg);
    c["seed"] = 42;
    const auto a = layer(cls, c), b = layer(cls, c);
    const Tensor a1 = (*a)(x, kTraining), b1 = (*b)(x, kTraining);
    EXPECT_TRUE(same_bits(a1, b1)) << "a fresh layer with the same seed repeats the first call";
    const Tensor a2 = (*a)(x, kTraining), b2 = (*b)(x, kTraining);
    EXPECT_TRUE(same_bits(a2, b2)) << "and the second";
    EXPECT_FALSE(same_bits(a1, a2)) << "successive calls draw anew (seed, seed + 1, ...)";
    c["seed"] = 43;
    EXPECT_FALSE(same_bits((*layer(cls, c))(x, kTraining), a1)) << "another seed";
    // rng_type "stateless": the same draw on every call, as tf-keras's stateless generator.
    c["rng_type"] = "stateless";
    const auto s = layer(cls, c);
    EXPECT_TRUE(same_bits((*s)(x, kTraining), (*s)(x, kTraining)));
  }
}

// ---- distributions over 1,000 samples ---------------------------------------------------------

// Mean and extremes of `v`: a uniform sample on [lo, hi) has its mean within 4 standard
// errors of (lo + hi) / 2 and reaches within 2% of each end.
void expect_uniform(const std::vector<double>& v, double lo, double hi) {
  ASSERT_GE(v.size(), 1000u);
  double sum = 0;
  for (double d : v) {
    EXPECT_GE(d, lo - 1e-5);
    EXPECT_LT(d, hi + 1e-5);
    sum += d;
  }
  const double n = static_cast<double>(v.size()), mean = sum / n;
  const double se = (hi - lo) / std::sqrt(12.0 * n);
  EXPECT_NEAR(mean, (lo + hi) / 2, 4 * se);
  EXPECT_LT(*std::min_element(v.begin(), v.end()), lo + 0.02 * (hi - lo));
  EXPECT_GT(*std::max_element(v.begin(), v.end()), hi - 0.02 * (hi - lo));
}

TEST_F(Augment, RandomFlipFlipsHalfTheImages) {
  // 1,000 images [0, 1] along the width (and [0; 2] along the height).
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.insert(v.end(), {0.0f, 1.0f, 2.0f, 3.0f});
  const Tensor x = Tensor::from_vector<float>(v, Shape{1000, 2, 2, 1}, default_device());
  const auto count = [&](const char* mode, float first) {
    const auto y = host((*layer("RandomFlip", Config{{"mode", mode}}))(x, kTraining));
    int n = 0;
    for (int i = 0; i < 1000; ++i) n += y[static_cast<std::size_t>(4 * i)] == first;
    return n;
  };
  EXPECT_NEAR(count("horizontal", 1.0f), 500, 50);
  EXPECT_NEAR(count("vertical", 2.0f), 500, 50);
  for (float corner : {0.0f, 1.0f, 2.0f, 3.0f}) EXPECT_NEAR(count("horizontal_and_vertical", corner), 250, 50);
}

TEST_F(Augment, RandomBrightnessDrawsOneUniformDeltaPerImage) {
  const Tensor x = fill(Shape{1000, 2, 2, 1}, 100.0, DType::kFloat32, default_device());
  const auto y = host((*layer("RandomBrightness", Config{{"factor", Config::array({-0.2, 0.3})}}))(x, kTraining));
  std::vector<double> delta;
  for (int i = 0; i < 1000; ++i) {
    delta.push_back((y[static_cast<std::size_t>(4 * i)] - 100.0) / 255.0);
    EXPECT_EQ(y[static_cast<std::size_t>(4 * i)], y[static_cast<std::size_t>(4 * i + 3)]) << "one delta per image";
  }
  expect_uniform(delta, -0.2, 0.3);
  // Clipped to value_range.
  const auto clipped =
      host((*layer("RandomBrightness", Config{{"factor", 0.9}, {"value_range", Config::array({0, 1})}}))(
          fill(Shape{200, 1, 1, 1}, 0.5, DType::kFloat32, default_device()), kTraining));
  EXPECT_EQ(*std::min_element(clipped.begin(), clipped.end()), 0.0f);
  EXPECT_EQ(*std::max_element(clipped.begin(), clipped.end()), 1.0f);
}

TEST_F(Augment, RandomContrastDrawsOneUniformFactorPerBatch) {
  // Image [10, 20]: mean 15, so y = 15 -/+ 5 f.
  const Tensor x = Tensor::from_vector<float>({10, 20, 10, 20}, Shape{2, 1, 2, 1}, default_device());
  const auto contrast = layer("RandomContrast", Config{{"factor", Config::array({0.2, 0.5})}});
  std::vector<double> f;
  for (int i = 0; i < 1000; ++i) {
    const auto y = host((*contrast)(x, kTraining));
    f.push_back((y[1] - y[0]) / 10.0);
    EXPECT_EQ(y[1] - y[0], y[3] - y[2]) << "tf-keras: one factor for the whole batch";
  }
  expect_uniform(f, 0.8, 1.5);
  // Clipped to [0, 255].
  const auto y = host((*layer("RandomContrast", Config{{"factor", 0.9}}))(
      Tensor::from_vector<float>({0, 255}, Shape{1, 1, 2, 1}, default_device()), kTraining));
  EXPECT_GE(y[0], 0.0f);
  EXPECT_LE(y[1], 255.0f);
}

// Images whose channel 0 is the column index and channel 1 the row index: bilinear
// resampling of them returns the source coordinates where these are inside the image.
Tensor coordinates(std::int64_t n, std::int64_t h, std::int64_t w) {
  std::vector<float> v;
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t i = 0; i < h; ++i) {
      for (std::int64_t j = 0; j < w; ++j) v.insert(v.end(), {static_cast<float>(j), static_cast<float>(i)});
    }
  }
  return Tensor::from_vector<float>(v, Shape{n, h, w, 2}, default_device());
}

// Channel `c` of pixel (i, j) of image b.
float at(const std::vector<float>& y, std::int64_t h, std::int64_t w, std::int64_t b, std::int64_t i, std::int64_t j,
         std::int64_t c) {
  return y[static_cast<std::size_t>(((b * h + i) * w + j) * 2 + c)];
}

TEST_F(Augment, RandomRotationAnglesAreUniformInTheRange) {
  const std::int64_t n = 1000, s = 33, c = 16;  // centre pixel 16 stays
  const auto y = host((*layer("RandomRotation", Config{{"factor", 0.1}}))(coordinates(n, s, s), kTraining));
  std::vector<double> angle;
  for (std::int64_t b = 0; b < n; ++b) {
    // Output (c, c + 8) reads x = c + 8 cos a; output (c + 8, c) reads x = c - 8 sin a.
    const double cos8 = at(y, s, s, b, c, c + 8, 0) - c, sin8 = c - at(y, s, s, b, c + 8, c, 0);
    EXPECT_NEAR(cos8 * cos8 + sin8 * sin8, 64.0, 1e-3);
    angle.push_back(std::atan2(sin8, cos8));
  }
  expect_uniform(angle, -0.2 * kPi, 0.2 * kPi);
}

TEST_F(Augment, RandomZoomFactorsAreUniformInTheRange) {
  const std::int64_t n = 1000, s = 33, c = 16;
  const auto zoom = layer("RandomZoom", Config{{"height_factor", Config::array({-0.3, 0.2})},
                                               {"width_factor", Config::array({-0.1, 0.1})}});
  const auto y = host((*zoom)(coordinates(n, s, s), kTraining));
  std::vector<double> zx, zy;
  for (std::int64_t b = 0; b < n; ++b) {
    // Output (c + 8, c + 8) reads (c + 8 zx, c + 8 zy).
    zx.push_back((at(y, s, s, b, c + 8, c + 8, 0) - c) / 8.0);
    zy.push_back((at(y, s, s, b, c + 8, c + 8, 1) - c) / 8.0);
  }
  expect_uniform(zx, 0.9, 1.1);
  expect_uniform(zy, 0.7, 1.2);
  // Without width_factor the aspect ratio is kept.
  const auto same = host((*layer("RandomZoom", Config{{"height_factor", 0.3}}))(coordinates(50, s, s), kTraining));
  for (std::int64_t b = 0; b < 50; ++b) {
    EXPECT_NEAR(at(same, s, s, b, c + 8, c + 8, 0), at(same, s, s, b, c + 8, c + 8, 1), 1e-4);
  }
}

TEST_F(Augment, RandomTranslationShiftsAreUniformFractionsOfTheSize) {
  const std::int64_t n = 1000, h = 30, w = 40;
  const auto t =
      layer("RandomTranslation", Config{{"height_factor", Config::array({-0.2, 0.1})}, {"width_factor", 0.15}});
  const auto y = host((*t)(coordinates(n, h, w), kTraining));
  std::vector<double> dx, dy;
  for (std::int64_t b = 0; b < n; ++b) {
    // Output (15, 20) reads (20 - dx, 15 - dy).
    dx.push_back((20.0 - at(y, h, w, b, 15, 20, 0)) / w);
    dy.push_back((15.0 - at(y, h, w, b, 15, 20, 1)) / h);
  }
  expect_uniform(dx, -0.15, 0.15);
  expect_uniform(dy, -0.2, 0.1);
}

TEST_F(Augment, RandomCropOffsetsAreUniform) {
  const auto crop = layer("RandomCrop", Config{{"height", 4}, {"width", 5}});
  const Tensor x = coordinates(2, 10, 8);  // offsets 0..6 and 0..3
  std::map<int, int> rows, cols;
  for (int i = 0; i < 1000; ++i) {
    const Tensor y = (*crop)(x, kTraining);
    ASSERT_EQ(y.shape(), Shape({2, 4, 5, 2}));
    const auto v = host(y);
    ++cols[static_cast<int>(v[0])];
    ++rows[static_cast<int>(v[1])];
    EXPECT_EQ(v[0], v[4 * 5 * 2]) << "one box for the whole batch";
  }
  ASSERT_EQ(rows.size(), 7u);
  ASSERT_EQ(cols.size(), 4u);
  for (const auto& [r, k] : rows) EXPECT_NEAR(k / 1000.0, 1.0 / 7, 0.05) << "row " << r;
  for (const auto& [c, k] : cols) EXPECT_NEAR(k / 1000.0, 1.0 / 4, 0.05) << "column " << c;
}

TEST_F(Augment, RandomHeightAndWidthResizeByUniformFactors) {
  if (!skip_reason("cpu:0").empty()) GTEST_SKIP() << skip_reason("cpu:0");
  const Tensor x = ramp(Shape{1, 20, 10, 1});
  const auto height = layer("RandomHeight", Config{{"factor", 0.5}});
  const auto width = layer("RandomWidth", Config{{"factor", Config::array({-0.2, 0.4})}, {"interpolation", "nearest"}});
  std::vector<double> hs, ws;
  for (int i = 0; i < 1000; ++i) {
    const Tensor yh = (*height)(x, kTraining);
    EXPECT_EQ(yh.shape()[2], 10);
    hs.push_back(static_cast<double>(yh.shape()[1]));
    const Tensor yw = (*width)(x, kTraining);
    EXPECT_EQ(yw.shape()[1], 20);
    ws.push_back(static_cast<double>(yw.shape()[2]));
  }
  // int(f * 20), f uniform in [0.5, 1.5): heights 10..29, mean 19.5; int(f * 10), f in [0.8, 1.4): 8..13.
  expect_uniform(hs, 10, 29);
  expect_uniform(ws, 8, 13);
}

// ---- fixed transforms against TensorFlow ------------------------------------------------------

// Degenerate factors make the draws fixed: RandomRotation((-0.3, -0.3)), RandomZoom((1, 1),
// (-0.4, -0.4)) and RandomTranslation((0.9, 0.9), (-0.7, -0.7)) with fill_value 0.5 on the
// 5 x 6 image x[i][j] = ((6 i + j) % 13) / 4, in every fill mode and interpolation. Made by
// (TensorFlow 2.21, tf-keras 2.21; each tf-keras layer's output equals the raw op's):
//
//   import numpy as np, tensorflow as tf, tf_keras as keras
//   from tf_keras.src.layers.preprocessing import image_preprocessing as ip
//   H, W = 5, 6
//   x = np.array([[[[((i * W + j) % 13) / 4.0] for j in range(W)] for i in range(H)]], np.float32)
//   def raw(m, mode, interp):
//       return tf.raw_ops.ImageProjectiveTransformV3(images=x, transforms=m, output_shape=[H, W],
//           fill_value=0.5, fill_mode=mode.upper(), interpolation=interp.upper()).numpy()
//   for mode in ["reflect", "wrap", "constant", "nearest"]:
//       for interp in ["bilinear", "nearest"]:
//           rot = ip.get_rotation_matrix(tf.constant([-0.3 * 2.0 * np.pi], tf.float32), float(H), float(W))
//           zoom = ip.get_zoom_matrix(tf.constant([[0.6, 2.0]], tf.float32), float(H), float(W))
//           shift = ip.get_translation_matrix(tf.constant([[-0.7 * W, 0.9 * H]], tf.float32))
//           for what, m in [("rotation", rot), ("zoom", zoom), ("translation", shift)]:
//               print(what, mode, interp, raw(m, mode, interp).ravel())
struct FixedCase {
  const char* what;
  const char* fill_mode;
  const char* interpolation;
  std::vector<float> want;
};

const std::vector<FixedCase> kFixed = {
    {"rotation", "reflect", "bilinear", {1.888711f,  2.815762f,  1.578442f,  1.625827f,  1.737163f,  0.360589f,
                                         0.0803715f, 0.4658148f, 1.352681f,  0.3900035f, 1.595002f,  0.1941002f,
                                         0.3181356f, 1.244359f,  1.126919f,  1.168548f,  1.369241f,  0.4318644f,
                                         0.5558997f, 2.022902f,  0.9011579f, 1.947092f,  1.14348f,   0.6696285f,
                                         1.170688f,  2.179235f,  1.138541f,  2.421557f,  0.9846468f, 0.9073926f}},
    {"zoom", "reflect", "bilinear", {1.75f, 1.9f,  2.05f, 2.2f,  2.35f,         2.5f,  0.25f, 0.4f,
                                     0.55f, 0.7f,  0.85f, 1.0f,  1.788139e-07f, 0.15f, 0.3f,  0.45f,
                                     0.6f,  0.75f, 3.0f,  1.2f,  0.05000001f,   0.2f,  0.35f, 0.5f,
                                     1.5f,  1.65f, 1.8f,  1.95f, 2.1f,          2.25f}},
    {"translation", "reflect", "bilinear", {1.425f, 1.625f, 1.575f, 1.325f, 1.075f, 1.15f,  1.55f,  1.75f,
                                            1.7f,   1.45f,  1.2f,   0.95f,  1.675f, 1.875f, 1.825f, 1.575f,
                                            1.325f, 1.075f, 1.8f,   2.0f,   1.95f,  1.7f,   1.45f,  1.2f,
                                            1.05f,  1.25f,  1.2f,   0.95f,  0.7f,   0.45f}},
    {"rotation", "reflect", "nearest", {3.0f,  3.0f,  1.5f,  3.0f,  1.5f,  0.0f,  0.0f, 0.0f, 1.75f, 0.0f,
                                        1.75f, 0.25f, 0.25f, 2.0f,  0.5f,  0.25f, 2.0f, 0.5f, 0.5f,  2.25f,
                                        0.75f, 2.25f, 0.75f, 0.75f, 0.75f, 2.5f,  1.0f, 2.5f, 1.0f,  1.0f}},
    {"zoom", "reflect", "nearest", {1.75f, 2.0f,  2.0f,  2.25f, 2.25f, 2.5f,  0.25f, 0.5f,  0.5f, 0.75f,
                                    0.75f, 1.0f,  0.0f,  0.25f, 0.25f, 0.5f,  0.5f,  0.75f, 3.0f, 0.0f,
                                    0.0f,  0.25f, 0.25f, 0.5f,  1.5f,  1.75f, 1.75f, 2.0f,  2.0f, 2.25f}},
    {"translation", "reflect", "nearest", {0.5f,  0.75f, 0.75f, 0.5f, 0.25f, 0.0f,  2.25f, 2.5f,  2.5f,  2.25f,
                                           2.0f,  1.75f, 0.75f, 1.0f, 1.0f,  0.75f, 0.5f,  0.25f, 2.5f,  2.75f,
                                           2.75f, 2.5f,  2.25f, 2.0f, 1.0f,  1.25f, 1.25f, 1.0f,  0.75f, 0.5f}},
    {"rotation", "wrap", "bilinear", {0.3426074f, 0.2653531f, 1.578442f,  1.625827f,  1.737163f,  1.610589f,
                                      0.5803715f, 0.4658148f, 1.352681f,  0.3900035f, 1.595002f,  2.9441f,
                                      0.8181356f, 1.244359f,  1.126919f,  1.168548f,  1.369241f,  0.8176278f,
                                      1.0559f,    2.022902f,  0.9011579f, 1.947092f,  1.14348f,   0.1696285f,
                                      2.38941f,   2.179235f,  1.138541f,  2.421557f,  0.4846468f, 0.4073926f}},
    {"zoom", "wrap", "bilinear", {1.5f,        1.65f, 1.8f,          1.95f, 2.1f,  2.25f, 0.25f, 0.4f,  0.55f, 0.7f,
                                  0.85f,       1.0f,  1.788139e-07f, 0.15f, 0.3f,  0.45f, 0.6f,  0.75f, 3.0f,  1.2f,
                                  0.05000001f, 0.2f,  0.35f,         0.5f,  1.75f, 1.9f,  2.05f, 2.2f,  2.35f, 2.5f}},
    {"translation", "wrap", "bilinear", {0.55f,  2.75f,  2.8f,   2.400001f, 0.04999995f, 0.3f,   1.675f, 2.25f,
                                         1.975f, 0.925f, 1.175f, 1.425f,    1.55f,       2.125f, 1.85f,  0.8f,
                                         1.05f,  1.3f,   1.425f, 2.0f,      2.05f,       1.975f, 0.925f, 1.175f,
                                         0.55f,  2.75f,  2.8f,   2.400001f, 0.04999995f, 0.3f}},
    {"rotation", "wrap", "nearest", {0.25f, 0.25f, 1.5f,  3.0f,  1.5f,  1.25f, 0.5f, 0.0f, 1.75f, 0.0f,
                                     1.75f, 3.0f,  0.75f, 2.0f,  0.5f,  0.25f, 2.0f, 0.0f, 1.0f,  2.25f,
                                     0.75f, 2.25f, 0.75f, 0.25f, 2.75f, 2.5f,  1.0f, 2.5f, 0.5f,  0.5f}},
    {"zoom", "wrap", "nearest", {1.5f,  1.75f, 1.75f, 2.0f,  2.0f,  2.25f, 0.25f, 0.5f,  0.5f,  0.75f,
                                 0.75f, 1.0f,  0.0f,  0.25f, 0.25f, 0.5f,  0.5f,  0.75f, 3.0f,  0.0f,
                                 0.0f,  0.25f, 0.25f, 0.5f,  1.75f, 2.0f,  2.0f,  2.25f, 2.25f, 2.5f}},
    {"translation", "wrap", "nearest", {0.5f,  2.75f, 2.75f, 3.0f,  0.0f,  0.25f, 0.75f, 3.0f, 3.0f, 0.0f,
                                        0.25f, 0.5f,  2.25f, 1.25f, 1.25f, 1.5f,  1.75f, 2.0f, 0.5f, 2.75f,
                                        2.75f, 3.0f,  0.0f,  0.25f, 0.5f,  2.75f, 2.75f, 3.0f, 0.0f, 0.25f}},
    {"rotation", "constant", "bilinear", {0.5060061f, 2.712436f,  1.578442f,  1.625827f,  1.737163f,  0.3849379f,
                                          0.3685127f, 0.4658148f, 1.352681f,  0.3900035f, 1.595002f,  0.2150925f,
                                          0.3868151f, 1.244359f,  1.126919f,  1.168548f,  1.369241f,  0.4575952f,
                                          0.5520637f, 2.022902f,  0.9011579f, 1.947092f,  1.14348f,   0.5531517f,
                                          1.053549f,  2.179235f,  1.138541f,  2.421557f,  0.9630223f, 0.5017617f}},
    {"zoom", "constant", "bilinear", {0.5f,        0.5f, 0.5f,          0.5f,  0.5f, 0.5f,  0.25f, 0.4f,  0.55f, 0.7f,
                                      0.85f,       1.0f, 1.788139e-07f, 0.15f, 0.3f, 0.45f, 0.6f,  0.75f, 3.0f,  1.2f,
                                      0.05000001f, 0.2f, 0.35f,         0.5f,  0.5f, 0.5f,  0.5f,  0.5f,  0.5f,  0.5f}},
    {"translation", "constant", "bilinear", {0.5f, 0.5f, 0.5f, 0.5f, 0.5f,   0.5f,       0.5f, 0.5f, 0.5f, 0.5f,
                                             0.5f, 0.5f, 0.5f, 0.5f, 0.5f,   0.5f,       0.5f, 0.5f, 0.5f, 0.5f,
                                             0.5f, 0.5f, 0.5f, 0.5f, 0.775f, 0.8000001f, 0.5f, 0.5f, 0.5f, 0.5f}},
    {"rotation", "constant", "nearest", {0.5f,  3.0f,  1.5f,  3.0f, 1.5f,  0.0f,  0.5f, 0.0f, 1.75f, 0.0f,
                                         1.75f, 0.25f, 0.25f, 2.0f, 0.5f,  0.25f, 2.0f, 0.5f, 0.5f,  2.25f,
                                         0.75f, 2.25f, 0.75f, 0.5f, 0.75f, 2.5f,  1.0f, 2.5f, 1.0f,  0.5f}},
    {"zoom", "constant", "nearest", {0.5f,  0.5f,  0.5f,  0.5f,  0.5f,  0.5f, 0.25f, 0.5f,  0.5f, 0.75f,
                                     0.75f, 1.0f,  0.0f,  0.25f, 0.25f, 0.5f, 0.5f,  0.75f, 3.0f, 0.0f,
                                     0.0f,  0.25f, 0.25f, 0.5f,  0.5f,  0.5f, 0.5f,  0.5f,  0.5f, 0.5f}},
    {"translation", "constant", "nearest", {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f,
                                            0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f,
                                            0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}},
    {"rotation", "nearest", "bilinear", {1.888711f,  2.815762f,  1.578442f,  1.625827f,  1.737163f,  0.360589f,
                                         0.0803715f, 0.4658148f, 1.352681f,  0.3900035f, 1.595002f,  0.1941002f,
                                         0.3181356f, 1.244359f,  1.126919f,  1.168548f,  1.369241f,  0.4318644f,
                                         0.5558997f, 2.022902f,  0.9011579f, 1.947092f,  1.14348f,   0.6696285f,
                                         1.170688f,  2.179235f,  1.138541f,  2.421557f,  0.9846468f, 0.9073926f}},
    {"zoom", "nearest", "bilinear", {0.25f, 0.4f,  0.55f,       0.7f, 0.85f,         1.0f,  0.25f, 0.4f,
                                     0.55f, 0.7f,  0.85f,       1.0f, 1.788139e-07f, 0.15f, 0.3f,  0.45f,
                                     0.6f,  0.75f, 3.0f,        1.2f, 0.05000001f,   0.2f,  0.35f, 0.5f,
                                     3.0f,  1.2f,  0.05000001f, 0.2f, 0.35f,         0.5f}},
    {"translation", "nearest", "bilinear", {1.05f, 1.25f, 1.25f, 1.25f, 1.25f, 1.25f, 1.05f, 1.25f, 1.25f, 1.25f,
                                            1.25f, 1.25f, 1.05f, 1.25f, 1.25f, 1.25f, 1.25f, 1.25f, 1.05f, 1.25f,
                                            1.25f, 1.25f, 1.25f, 1.25f, 1.05f, 1.25f, 1.25f, 1.25f, 1.25f, 1.25f}},
    {"rotation", "nearest", "nearest", {3.0f,  3.0f,  1.5f,  3.0f,  1.5f,  0.0f,  0.0f, 0.0f, 1.75f, 0.0f,
                                        1.75f, 0.25f, 0.25f, 2.0f,  0.5f,  0.25f, 2.0f, 0.5f, 0.5f,  2.25f,
                                        0.75f, 2.25f, 0.75f, 0.75f, 0.75f, 2.5f,  1.0f, 2.5f, 1.0f,  1.0f}},
    {"zoom", "nearest", "nearest", {0.25f, 0.5f,  0.5f,  0.75f, 0.75f, 1.0f, 0.25f, 0.5f,  0.5f,  0.75f,
                                    0.75f, 1.0f,  0.0f,  0.25f, 0.25f, 0.5f, 0.5f,  0.75f, 3.0f,  0.0f,
                                    0.0f,  0.25f, 0.25f, 0.5f,  3.0f,  0.0f, 0.0f,  0.25f, 0.25f, 0.5f}},
    {"translation", "nearest", "nearest", {1.0f,  1.25f, 1.25f, 1.25f, 1.25f, 1.25f, 1.0f,  1.25f, 1.25f, 1.25f,
                                           1.25f, 1.25f, 1.0f,  1.25f, 1.25f, 1.25f, 1.25f, 1.25f, 1.0f,  1.25f,
                                           1.25f, 1.25f, 1.25f, 1.25f, 1.0f,  1.25f, 1.25f, 1.25f, 1.25f, 1.25f}},
};

TEST_F(Augment, FixedTransformsMatchImageProjectiveTransformV3) {
  for (const std::string& device_name : test_devices()) {
    if (!skip_reason(device_name).empty()) continue;
    SCOPED_TRACE(device_name);
    const Device device(device_name);
    DeviceScope scope(device);
    std::vector<float> v;
    for (int i = 0; i < 5; ++i) {
      for (int j = 0; j < 6; ++j) v.push_back(static_cast<float>((i * 6 + j) % 13) / 4.0f);
    }
    const Tensor x = Tensor::from_vector<float>(v, Shape{1, 5, 6, 1}, device);
    for (const auto& c : kFixed) {
      SCOPED_TRACE(std::string(c.what) + " " + c.fill_mode + " " + c.interpolation);
      Config config{{"fill_mode", c.fill_mode}, {"interpolation", c.interpolation}, {"fill_value", 0.5}};
      const char* cls = nullptr;
      if (std::string(c.what) == "rotation") {
        cls = "RandomRotation";
        config["factor"] = Config::array({-0.3, -0.3});
      } else if (std::string(c.what) == "zoom") {
        cls = "RandomZoom";
        config["height_factor"] = Config::array({1.0, 1.0});
        config["width_factor"] = Config::array({-0.4, -0.4});
      } else {
        cls = "RandomTranslation";
        config["height_factor"] = Config::array({0.9, 0.9});
        config["width_factor"] = Config::array({-0.7, -0.7});
      }
      const Tensor y = (*layer(cls, config))(x, kTraining);
      ASSERT_EQ(y.shape(), x.shape());
      EXPECT_EQ(mismatch(host(y), c.want, 0.0, 1e-5), "");
      // Unbatched images take the same path.
      EXPECT_EQ(mismatch(host((*layer(cls, config))(squeeze(x, {0}), kTraining)), c.want, 0.0, 1e-5), "");
    }
  }
}

TEST_F(Augment, TracedTrainingCallsWithAnUnknownBatchComputeTheSame) {
  // A SavedModel's training trace: the batch is unknown while tracing, so the resampling
  // gathers with batch_dims and the draws take their row count from the input when it runs.
  std::vector<float> v;
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 6; ++j) v.push_back(static_cast<float>((i * 6 + j) % 13) / 4.0f);
  }
  const Tensor x = Tensor::from_vector<float>(v, Shape{1, 5, 6, 1}, default_device());
  for (const auto& c : kFixed) {
    if (std::string(c.what) != "rotation") continue;
    SCOPED_TRACE(std::string(c.fill_mode) + " " + c.interpolation);
    const auto rot = layer("RandomRotation", Config{{"factor", Config::array({-0.3, -0.3})},
                                                    {"fill_mode", c.fill_mode},
                                                    {"interpolation", c.interpolation},
                                                    {"fill_value", 0.5}});
    const Graph g = trace([&](const std::vector<Tensor>& in) { return (*rot)(in, kTraining); },
                          {TensorSpec(Shape{Shape::kUnknown, 5, 6, 1})});
    const Tensor y = g.run({x})[0];
    EXPECT_EQ(mismatch(host(y), c.want, 0.0, 1e-5), "");
  }
  // Every class traces in training and runs (seeded: the trace draws as the eager call).
  const Tensor images = ramp(Shape{3, 7, 9, 2}, 0.5f);
  for (const auto& [cls, cfg] : kTrainingCases) {
    SCOPED_TRACE(cls);
    Config config = Config::parse(cfg);
    config["seed"] = 9;
    config["rng_type"] = "stateless";
    const auto l = layer(cls, config);
    const Graph g = trace([&](const std::vector<Tensor>& in) { return (*l)(in, kTraining); },
                          {TensorSpec(Shape{Shape::kUnknown, 7, 9, 2})});
    const Tensor traced = g.run({images})[0];
    EXPECT_TRUE(same_bits(traced, (*l)(images, kTraining)));
  }
}

TEST_F(Augment, GradientsReachTheImagesThroughTheResampling) {
  // A fixed transform is linear in the image, y = A x: the gradient of <y, r> is A^T r, so
  // <x, grad> must equal <y, r> (the adjoint identity) for any x and r.
  const Shape shape{3, 7, 9, 2};
  const Tensor x = ramp(shape, 0.01f) * 3.0 - 1.0;
  std::vector<float> rv(static_cast<std::size_t>(shape.num_elements()));
  for (std::size_t i = 0; i < rv.size(); ++i) rv[i] = static_cast<float>(std::cos(i * 0.37));
  const Tensor r = Tensor::from_vector<float>(rv, shape, default_device());
  for (const char* mode : {"reflect", "wrap", "constant", "nearest"}) {
    for (const char* interp : {"bilinear", "nearest"}) {
      SCOPED_TRACE(std::string(mode) + " " + interp);
      const auto rot =
          layer("RandomRotation",
                Config{{"factor", Config::array({0.13, 0.13})}, {"fill_mode", mode}, {"interpolation", interp}});
      GradientTape tape;
      tape.watch(x);
      const Tensor y = (*rot)(x, kTraining);
      const Tensor objective = sum(y * r);
      const Tensor g = tape.gradient(objective, std::vector<Tensor>{x})[0];
      ASSERT_TRUE(g.defined());
      const double lhs = host(sum(x * g))[0], rhs = host(objective)[0];
      EXPECT_NEAR(lhs, rhs, 1e-3 * (1 + std::fabs(rhs)));
    }
  }
  // Flip: the gradient is r flipped back.
  const auto flip = layer("RandomFlip", Config{{"seed", 7}});
  GradientTape tape;
  tape.watch(x);
  const Tensor y = (*flip)(x, kTraining);
  const Tensor g = tape.gradient(sum(y * r), std::vector<Tensor>{x})[0];
  EXPECT_NEAR(host(sum(x * g))[0], host(sum(y * r))[0], 1e-3);
}

// ---- errors ---------------------------------------------------------------------------------

// Its errors quote the layer's name: 'r', not just r.
template <class E>
void expect_quoted_error(const std::function<void()>& f, const std::string& layer_name, const std::string& words) {
  expect_error<E>(f, "'" + layer_name + "'", words);
}

TEST_F(Augment, BadConfigsAreTypedErrorsNamingTheLayer) {
  const auto make = [](const char* cls, const char* cfg) { return [=] { layer(cls, Config::parse(cfg)); }; };
  expect_quoted_error<ValueError>(make("RandomRotation", R"({"name":"r","factor":[0.3,-0.2]})"), "r", "factor");
  expect_quoted_error<ValueError>(make("RandomTranslation", R"({"name":"t","height_factor":1.5,"width_factor":0.1})"),
                                  "t", "height_factor");
  expect_quoted_error<ValueError>(
      make("RandomTranslation", R"({"name":"t","height_factor":0.1,"width_factor":[0.2,0.1]})"), "t", "width_factor");
  expect_quoted_error<ValueError>(make("RandomZoom", R"({"name":"z","height_factor":[-1.5,0.2]})"), "z",
                                  "height_factor");
  expect_quoted_error<ValueError>(make("RandomZoom", R"({"name":"z","height_factor":0.2,"width_factor":[-1.2,0.1]})"),
                                  "z", "width_factor");
  expect_quoted_error<ValueError>(make("RandomContrast", R"({"name":"k","factor":-0.1})"), "k", "factor");
  expect_quoted_error<ValueError>(make("RandomContrast", R"({"name":"k","factor":[1.2,0.1]})"), "k", "factor");
  expect_quoted_error<ValueError>(make("RandomBrightness", R"({"name":"b","factor":1.5})"), "b", "factor");
  expect_quoted_error<ValueError>(make("RandomBrightness", R"({"name":"b","factor":0.2,"value_range":[1]})"), "b",
                                  "value_range");
  expect_quoted_error<ValueError>(make("RandomHeight", R"({"name":"h","factor":[-1.5,0.2]})"), "h", "factor");
  expect_quoted_error<ValueError>(make("RandomWidth", R"({"name":"w","factor":[0.3,0.2]})"), "w", "factor");
  expect_quoted_error<ValueError>(make("RandomRotation", R"({"name":"r","factor":[0.1,0.2,0.3]})"), "r", "factor");
  expect_quoted_error<ValueError>(make("RandomCrop", R"({"name":"c","height":0,"width":3})"), "c", "height");
  expect_quoted_error<FormatError>(make("RandomCrop", R"({"name":"c","width":3})"), "c", "height");
  expect_quoted_error<FormatError>(make("RandomRotation", R"({"name":"r"})"), "r", "factor");
  expect_quoted_error<FormatError>(make("RandomRotation", R"({"name":"r","factor":0.1,"fill_mode":"mirror"})"), "r",
                                   "fill_mode");
  expect_quoted_error<FormatError>(make("RandomZoom", R"({"name":"z","height_factor":0.1,"interpolation":"bicubic"})"),
                                   "z", "interpolation");
  expect_quoted_error<FormatError>(make("RandomFlip", R"({"name":"f","mode":"diagonal"})"), "f", "mode");
  expect_quoted_error<FormatError>(make("RandomFlip", R"({"name":"f","rng_type":"quantum"})"), "f", "rng_type");
  // tf-keras knows more resize methods than Strata computes: the config loads (inference is
  // the identity), training refuses.
  const auto cubic = layer("RandomHeight", Config{{"name", "h"}, {"factor", 0.2}, {"interpolation", "bicubic"}});
  const Tensor x = ramp(Shape{1, 4, 4, 1});
  EXPECT_TRUE(same_bits((*cubic)(x), x));
  expect_quoted_error<ValueError>([&] { (*cubic)(x, kTraining); }, "h", "bicubic");
  // A contrast factor of 0 leaves tf.image.random_contrast nothing to draw from.
  expect_quoted_error<ValueError>(
      [&] {
        (*layer("RandomContrast", Config{{"name", "k"}, {"factor", 0}}))(x, kTraining);
      },
      "k", "factor");
}

TEST_F(Augment, BadShapesAreShapeErrorsNamingTheLayer) {
  const Tensor flat = ramp(Shape{2, 6});
  for (const auto& training_case : kTrainingCases) {
    const char* cls = training_case.first;  // a name a lambda can capture (clang: not a binding)
    Config c = Config::parse(training_case.second);
    c["name"] = "bad";
    expect_quoted_error<ShapeError>([&] { (*layer(cls, c))(flat, kTraining); }, "bad", "rank");
  }
  // Training needs the height and width when the layer is called.
  const Tensor in = Input(Shape{Shape::kUnknown, Shape::kUnknown, 3});
  expect_quoted_error<ShapeError>([&] { (*layer("RandomFlip", Config{{"name", "f"}}))(in, kTraining); }, "f", "height");
  expect_quoted_error<ShapeError>(
      [&] {
        (*layer("RandomCrop", Config{{"name", "c"}, {"height", 2}, {"width", 2}}))(in);
      },
      "c", "height");
}

}  // namespace
}  // namespace strata::layer_tests
