// float16 / bfloat16 ops on a device without half kernels (the ref device has float32 and
// float64 kernels, and Cast between every dtype): dispatch runs the float32 kernel on the
// inputs widened to float32 and rounds the outputs back, eagerly, in traced graphs and under
// gradient tapes. Expected values by hand: a product of two half values is exact in float32
// (11 + 11 significant bits), so the op's result is the exact product rounded once.
#include <gtest/gtest.h>

#include <cmath>

#include "ref_backend.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

class HalfFallbackTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::register_ref_backend(); }
  DeviceScope scope_{Device("ref:0")};
};

const std::vector<float> kA{1.0009765625f, -3.5f, 0.1f, 65504.0f, 1e-4f, 2049.0f};
const std::vector<float> kB{1.0009765625f, 0.3f, -7.25f, 0.5f, 3.0f, 1.0f};

Tensor half_tensor(const std::vector<float>& v, DType dtype) {
  return cast(Tensor::from_vector<float>(v, Shape{static_cast<std::int64_t>(v.size())}), dtype);
}

template <class H>
std::vector<std::uint16_t> bits(const Tensor& t) {
  std::vector<std::uint16_t> out;
  for (const H h : t.to(Device::cpu()).to_vector<H>()) out.push_back(h.bits);
  return out;
}

// The product of the half values of a and b, computed exactly and rounded once to H.
template <class H>
std::vector<std::uint16_t> expected_products() {
  std::vector<std::uint16_t> out;
  for (std::size_t i = 0; i < kA.size(); ++i) {
    const double a = static_cast<float>(H(kA[i])), b = static_cast<float>(H(kB[i]));
    out.push_back(H(static_cast<float>(a * b)).bits);
  }
  return out;
}

TEST_F(HalfFallbackTest, MulRunsInFloat32AndRoundsOnce) {
  testing::RefKernelLog log;
  const Tensor f16 = mul(half_tensor(kA, DType::kFloat16), half_tensor(kB, DType::kFloat16));
  EXPECT_EQ(f16.dtype(), DType::kFloat16);
  EXPECT_EQ(bits<float16>(f16), expected_products<float16>());  // 65504 * 0.5 and 2049 rounded
  const Tensor bf16 = mul(half_tensor(kA, DType::kBFloat16), half_tensor(kB, DType::kBFloat16));
  EXPECT_EQ(bf16.dtype(), DType::kBFloat16);
  EXPECT_EQ(bits<bfloat16>(bf16), expected_products<bfloat16>());
  EXPECT_TRUE(log.kernels().count({"Mul", DType::kFloat32}));
  EXPECT_FALSE(log.kernels().count({"Mul", DType::kFloat16}));
}

TEST_F(HalfFallbackTest, TracedGraphEqualsEager) {
  const Tensor a = half_tensor(kA, DType::kFloat16), b = half_tensor(kB, DType::kFloat16);
  const Shape shape{static_cast<std::int64_t>(kA.size())};
  Graph g = trace([](const std::vector<Tensor>& in) { return std::vector<Tensor>{tanh(in[0] * in[1]) + in[0]}; },
                  {{shape, DType::kFloat16, "a"}, {shape, DType::kFloat16, "b"}});
  EXPECT_EQ(g.outputs()[0].dtype(), DType::kFloat16);
  for (int run = 0; run < 2; ++run) {  // the second run takes the graph's planned kernels
    const Tensor traced = g.run({a, b})[0];
    EXPECT_EQ(traced.dtype(), DType::kFloat16);
    EXPECT_EQ(bits<float16>(traced), bits<float16>(tanh(a * b) + a)) << "run " << run;
  }
}

// An op keyed by a DType attribute (RandomUniform's "dtype"): the attribute becomes float32
// for the kernel, and the values are the float32 draw rounded to bfloat16.
TEST_F(HalfFallbackTest, DtypeAttributeNamingTheHalfDtypeIsWidened) {
  // [0, 1): the RandomUniform op alone, no scaling after it.
  const Tensor wide = random_uniform(Shape{64}, DType::kFloat32, 0.0, 1.0, 7);
  const Tensor half = random_uniform(Shape{64}, DType::kBFloat16, 0.0, 1.0, 7);
  EXPECT_EQ(half.dtype(), DType::kBFloat16);
  std::vector<std::uint16_t> expected;
  for (const float v : wide.to(Device::cpu()).to_vector<float>()) expected.push_back(bfloat16(v).bits);
  EXPECT_EQ(bits<bfloat16>(half), expected);
}

// A float32 variable read as float16 (what a mixed-precision layer's autocast does): the
// gradient reaches the variable through the Cast as float32.
TEST_F(HalfFallbackTest, GradientReachesFloat32VariableThroughCast) {
  Variable w("w", Tensor::from_vector<float>({0.5f, -2.0f, 3.0f}, Shape{3}));
  const Tensor x = half_tensor({1.5f, 0.25f, -4.0f}, DType::kFloat16);
  GradientTape tape;
  const Tensor y = sum(cast(read(w), DType::kFloat16) * x * x);
  EXPECT_EQ(y.dtype(), DType::kFloat16);
  const auto g = tape.gradient(y, {w});
  ASSERT_TRUE(g[0].defined());
  EXPECT_EQ(g[0].dtype(), DType::kFloat32);
  EXPECT_EQ(g[0].to(Device::cpu()).to_vector<float>(), (std::vector<float>{2.25f, 0.0625f, 16.0f}));  // x^2
}

}  // namespace
}  // namespace strata
