// Initializers: statistics of large draws against Keras's formulas (fans as Keras
// computes them, convolution kernels included), seeded reproducibility, Orthogonal's
// orthogonality, Identity and Constant values.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "strata/initializers.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

class InitializerTest : public ::testing::Test {
 protected:
  DeviceScope device_{Device("ref:0")};
};

struct Stats {
  double mean = 0, stddev = 0, min = 0, max = 0;
};

Stats stats_of(const std::vector<float>& v) {
  Stats s;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  for (float x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (float x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(s.stddev / static_cast<double>(v.size()));
  return s;
}

std::vector<float> draw(const Config& given, const Shape& shape) {
  const Tensor t = (*get_initializer(given))(shape, DType::kFloat32);
  EXPECT_EQ(t.shape(), shape);
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  return values(t);
}

// `name` (a class name or alias) with a seed: the statistics below are deterministic.
Config seeded(const std::string& name) { return Config{{"class_name", name}, {"config", {{"seed", 11}}}}; }

// Uniform on [-limit, limit]: bounded, reaching close to the limit, stddev limit/sqrt(3).
void expect_uniform(const std::string& name, const Shape& shape, double limit) {
  SCOPED_TRACE(name + " " + shape.to_string());
  const Stats s = stats_of(draw(seeded(name), shape));
  const double sd = limit / std::sqrt(3.0), n = static_cast<double>(shape.num_elements());
  EXPECT_GE(s.min, -limit);
  EXPECT_LE(s.max, limit);
  EXPECT_GT(s.max, 0.98 * limit);
  EXPECT_LT(s.min, -0.98 * limit);
  EXPECT_NEAR(s.mean, 0.0, 5 * sd / std::sqrt(n));
  EXPECT_NEAR(s.stddev, sd, 5 * sd / std::sqrt(n));
}

// Keras's truncated normal: drawn with stddev/0.8796 and cut at 2 of those, so the
// values have the intended stddev.
void expect_truncated(const std::string& name, const Shape& shape, double stddev) {
  SCOPED_TRACE(name + " " + shape.to_string());
  const Stats s = stats_of(draw(seeded(name), shape));
  const double cut = 2.0 * stddev / 0.87962566103423978, n = static_cast<double>(shape.num_elements());
  EXPECT_GE(s.min, -cut * 1.0000001);
  EXPECT_LE(s.max, cut * 1.0000001);
  EXPECT_GT(s.max, 0.97 * cut);
  EXPECT_NEAR(s.mean, 0.0, 5 * stddev / std::sqrt(n));
  EXPECT_NEAR(s.stddev, stddev, 5 * stddev / std::sqrt(n));
}

TEST_F(InitializerTest, VarianceScalingFamilyUsesKerasFans) {
  const Shape dense{400, 300};             // fan_in 400, fan_out 300
  const Shape conv{3, 3, 16, 32};          // receptive field 9: fan_in 144, fan_out 288
  expect_uniform("glorot_uniform", dense, std::sqrt(6.0 / 700.0));
  expect_uniform("glorot_uniform", conv, std::sqrt(6.0 / 432.0));
  expect_uniform("he_uniform", dense, std::sqrt(6.0 / 400.0));
  expect_uniform("he_uniform", conv, std::sqrt(6.0 / 144.0));
  expect_uniform("lecun_uniform", dense, std::sqrt(3.0 / 400.0));
  expect_truncated("glorot_normal", dense, std::sqrt(2.0 / 700.0));
  expect_truncated("he_normal", dense, std::sqrt(2.0 / 400.0));
  expect_truncated("he_normal", conv, std::sqrt(2.0 / 144.0));
  expect_truncated("lecun_normal", dense, std::sqrt(1.0 / 400.0));
  expect_truncated("variance_scaling", dense, std::sqrt(1.0 / 400.0));
  // Bias-like shapes: fan_in = fan_out = the length.
  expect_uniform("glorot_uniform", Shape{20000}, std::sqrt(3.0 / 20000.0));
  // Untruncated normal with fan_out.
  const Stats s = stats_of(draw(Config::parse(R"({"class_name": "VarianceScaling", "config": {"scale": 2.0,
      "mode": "fan_out", "distribution": "untruncated_normal", "seed": 3}})"), dense));
  EXPECT_NEAR(s.stddev, std::sqrt(2.0 / 300.0), 0.02 * std::sqrt(2.0 / 300.0));
  EXPECT_GT(s.max, 3.0 * std::sqrt(2.0 / 300.0));  // not truncated
}

TEST_F(InitializerTest, RandomDistributionsHaveTheirParameters) {
  const Shape shape{400, 300};
  Stats s = stats_of(draw(Config::parse(R"({"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.5, "seed": 1}})"), shape));
  EXPECT_NEAR(s.mean, 1.0, 0.01);
  EXPECT_NEAR(s.stddev, 0.5, 0.01);
  s = stats_of(draw(Config::parse(R"({"class_name": "RandomUniform", "config": {"minval": -1, "maxval": 2.5, "seed": 2}})"), shape));
  EXPECT_GE(s.min, -1.0);
  EXPECT_LT(s.max, 2.5);
  EXPECT_NEAR(s.mean, 0.75, 0.02);
  EXPECT_NEAR(s.stddev, 3.5 / std::sqrt(12.0), 0.02);
  s = stats_of(draw(seeded("truncated_normal"), shape));  // mean 0, stddev 0.05, cut at 2 stddev
  EXPECT_GE(s.min, -0.1 - 1e-7);
  EXPECT_LE(s.max, 0.1 + 1e-7);
  EXPECT_NEAR(s.stddev, 0.05 * 0.87962566103423978, 0.002);
  s = stats_of(draw(seeded("random_uniform"), shape));  // [-0.05, 0.05)
  EXPECT_GE(s.min, -0.05);
  EXPECT_LT(s.max, 0.05);
}

TEST_F(InitializerTest, SeededInitializersRepeatUnseededOnesDoNot) {
  for (const char* cls : {"RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling", "GlorotUniform",
                          "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal"}) {
    SCOPED_TRACE(cls);
    Config seeded{{"class_name", cls}, {"config", {{"seed", 7}}}};
    Config other{{"class_name", cls}, {"config", {{"seed", 8}}}};
    Config unseeded{{"class_name", cls}, {"config", Config::object()}};
    auto init = get_initializer(seeded);
    const Shape shape{6, 5};
    EXPECT_EQ(values((*init)(shape, DType::kFloat32)), values((*init)(shape, DType::kFloat32)));
    EXPECT_EQ(values((*init)(shape, DType::kFloat32)), values((*get_initializer(seeded))(shape, DType::kFloat32)));
    EXPECT_NE(values((*init)(shape, DType::kFloat32)), values((*get_initializer(other))(shape, DType::kFloat32)));
    auto free = get_initializer(unseeded);
    EXPECT_NE(values((*free)(shape, DType::kFloat32)), values((*free)(shape, DType::kFloat32)));
  }
}

// Gram matrix of the rows (by_rows) or columns of a rows x cols matrix.
std::vector<double> gram(const std::vector<float>& m, std::int64_t rows, std::int64_t cols, bool by_rows) {
  const std::int64_t n = by_rows ? rows : cols, len = by_rows ? cols : rows;
  std::vector<double> g(static_cast<std::size_t>(n * n), 0.0);
  auto at = [&](std::int64_t vec, std::int64_t k) {
    return static_cast<double>(m[static_cast<std::size_t>(by_rows ? vec * cols + k : k * cols + vec)]);
  };
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t k = 0; k < len; ++k) s += at(i, k) * at(j, k);
      g[static_cast<std::size_t>(i * n + j)] = s;
    }
  }
  return g;
}

void expect_scaled_identity(const std::vector<double>& g, std::int64_t n, double diag) {
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      EXPECT_NEAR(g[static_cast<std::size_t>(i * n + j)], i == j ? diag : 0.0, 1e-5) << i << "," << j;
    }
  }
}

TEST_F(InitializerTest, OrthogonalIsOrthogonal) {
  // Tall: orthonormal columns. Wide: orthonormal rows. Kernels: flattened to (prod(shape[:-1]), shape[-1]).
  auto init = get_initializer(Config("orthogonal"));
  expect_scaled_identity(gram(values((*init)(Shape{50, 30}, DType::kFloat32)), 50, 30, false), 30, 1.0);
  expect_scaled_identity(gram(values((*init)(Shape{30, 50}, DType::kFloat32)), 30, 50, true), 30, 1.0);
  expect_scaled_identity(gram(values((*init)(Shape{3, 3, 4, 8}, DType::kFloat32)), 36, 8, false), 8, 1.0);
  auto gained = get_initializer(Config::parse(R"({"class_name": "Orthogonal", "config": {"gain": 2.0, "seed": 3}})"));
  expect_scaled_identity(gram(values((*gained)(Shape{16, 16}, DType::kFloat32)), 16, 16, false), 16, 4.0);
  EXPECT_THROW((*init)(Shape{5}, DType::kFloat32), ShapeError);
  // float64 weights get float64 values.
  EXPECT_EQ((*init)(Shape{4, 4}, DType::kFloat64).dtype(), DType::kFloat64);
}

TEST_F(InitializerTest, ConstantIdentityZerosOnes) {
  EXPECT_EQ(draw(Config::parse(R"({"class_name": "Identity", "config": {"gain": 0.5}})"), Shape{2, 3}),
            (std::vector<float>{0.5f, 0, 0, 0, 0.5f, 0}));
  EXPECT_THROW((*get_initializer(Config("identity")))(Shape{2, 2, 2}, DType::kFloat32), ShapeError);
  EXPECT_EQ(draw(Config::parse(R"({"class_name": "Constant", "config": {"value": 1.5}})"), Shape{3}),
            (std::vector<float>{1.5f, 1.5f, 1.5f}));
  EXPECT_EQ(draw(Config::parse(R"({"class_name": "Constant", "config": {"value": [1, 2, 3, 4]}})"), Shape{2, 2}),
            (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(draw(Config("zeros"), Shape{2}), (std::vector<float>{0, 0}));
  EXPECT_EQ(draw(Config("ones"), Shape{2}), (std::vector<float>{1, 1}));
  EXPECT_EQ((*get_initializer(Config("zeros")))(Shape{}, DType::kInt64).dtype(), DType::kInt64);
  EXPECT_THROW((*get_initializer(Config("glorot_uniform")))(Shape{2, 2}, DType::kInt32), ValueError);
}

TEST_F(InitializerTest, LayersUseTheirInitializers) {
  auto dense = make_layer("Dense", Config::parse(R"({"units": 4, "kernel_initializer": {"class_name": "Constant",
      "config": {"value": 0.25}}, "bias_initializer": "ones"})"));
  dense->ensure_built({Shape{Shape::kUnknown, 3}});
  EXPECT_EQ(values(dense->get_weights()[0]), std::vector<float>(12, 0.25f));
  EXPECT_EQ(values(dense->get_weights()[1]), std::vector<float>(4, 1.0f));
  auto bn = make_layer("BatchNormalization", Config::parse(R"({"moving_variance_initializer": {"class_name": "Constant", "config": {"value": 2}}})"));
  bn->ensure_built({Shape{Shape::kUnknown, 2}});
  EXPECT_EQ(values(bn->get_weights()[3]), (std::vector<float>{2, 2}));
}

}  // namespace
}  // namespace strata::layer_tests
