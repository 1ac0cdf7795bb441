// GradientTape semantics on the ref device (naive kernels), with expected values from
// hand computation.
#include <gtest/gtest.h>

#include <cmath>

#include "ref_backend.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

class TapeTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::register_ref_backend(); }
  DeviceScope scope_{Device("ref:0")};
};

Tensor vec(std::vector<double> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return Tensor::from_vector<double>(v, Shape{n});
}

TEST_F(TapeTest, WatchedTensorPolynomial) {
  Tensor x = vec({1.0, 2.0, -3.0});
  GradientTape tape;
  tape.watch(x);
  Tensor y = sum(mul(square(x), x) + 2.0 * x);  // sum(x^3 + 2x)
  auto g = tape.gradient(y, {x});
  ASSERT_TRUE(g[0].defined());
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{5.0, 14.0, 29.0}));  // 3x^2 + 2
}

TEST_F(TapeTest, UnwatchedAndUnconnectedSourcesGetNoGradient) {
  Tensor x = vec({1.0, 2.0});
  Tensor z = vec({3.0, 4.0});
  GradientTape tape;
  tape.watch(x);
  Tensor y = sum(x * z);
  auto g = tape.gradient(y, {x, z});
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{3.0, 4.0}));
  EXPECT_FALSE(g[1].defined());  // z was never watched: Keras's None
}

TEST_F(TapeTest, VariablesAreWatchedWhenRead) {
  Variable w("w", vec({0.5, -1.0}));
  Variable frozen("frozen", vec({2.0, 2.0}), /*trainable=*/false);
  GradientTape tape;
  Tensor y = sum(read(w) * read(frozen) * read(w));  // sum(2 w^2)
  auto g = tape.gradient(y, std::vector<Variable>{w, frozen});
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{2.0, -4.0}));  // 4w
  EXPECT_FALSE(g[1].defined());  // non-trainable variables are not watched automatically
}

TEST_F(TapeTest, WatchAccessedVariablesCanBeTurnedOff) {
  Variable w("w", vec({1.0}));
  GradientTape tape(false, /*watch_accessed_variables=*/false);
  Tensor y = sum(read(w) * 3.0);
  EXPECT_FALSE(tape.gradient(y, std::vector<Variable>{w})[0].defined());
  GradientTape explicit_tape(false, false);
  explicit_tape.watch(w);
  Tensor y2 = sum(read(w) * 3.0);
  EXPECT_EQ(explicit_tape.gradient(y2, std::vector<Variable>{w})[0].to_vector<double>(), std::vector<double>{3.0});
}

TEST_F(TapeTest, NonPersistentTapeAnswersOnce) {
  Tensor x = vec({1.0});
  GradientTape tape;
  tape.watch(x);
  Tensor y = sum(x * x);
  tape.gradient(y, {x});
  EXPECT_THROW(tape.gradient(y, {x}), ValueError);
}

TEST_F(TapeTest, PersistentTapeAnswersRepeatedly) {
  Tensor x = vec({3.0});
  GradientTape tape(/*persistent=*/true);
  tape.watch(x);
  Tensor y = x * x;
  Tensor z = y * y;  // x^4
  EXPECT_EQ(tape.gradient(z, {x})[0].to_vector<double>(), std::vector<double>{108.0});  // 4x^3
  EXPECT_EQ(tape.gradient(y, {x})[0].to_vector<double>(), std::vector<double>{6.0});
}

TEST_F(TapeTest, StopGradientBlocksFlow) {
  Tensor x = vec({2.0});
  GradientTape tape;
  tape.watch(x);
  Tensor y = sum(x * stop_gradient(x));
  EXPECT_EQ(tape.gradient(y, {x})[0].to_vector<double>(), std::vector<double>{2.0});
}

TEST_F(TapeTest, StopRecordingPausesTheTape) {
  Tensor x = vec({2.0});
  GradientTape tape;
  tape.watch(x);
  Tensor a = x * 3.0;
  Tensor b;
  {
    GradientTape::StopRecording pause(tape);
    b = x * 5.0;
  }
  auto g = tape.gradient(sum(a + b), {x});
  EXPECT_EQ(g[0].to_vector<double>(), std::vector<double>{3.0});
}

TEST_F(TapeTest, GradientWithRespectToAnIntermediateTensor) {
  Tensor x = vec({1.0, 2.0});
  GradientTape tape;
  tape.watch(x);
  Tensor h = x * 2.0;
  Tensor y = sum(h * h);
  auto g = tape.gradient(y, {h});
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{4.0, 8.0}));  // 2h
}

TEST_F(TapeTest, OutputGradientWeightsNonScalarTargets) {
  Tensor x = vec({1.0, 2.0});
  GradientTape tape;
  tape.watch(x);
  Tensor y = x * x;
  auto g = tape.gradient(y, {x}, vec({10.0, 100.0}));
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{20.0, 400.0}));
}

TEST_F(TapeTest, SecondDerivativeThroughNestedTapes) {
  Tensor x = vec({0.3, -1.2});
  GradientTape outer;
  outer.watch(x);
  Tensor dy;
  {
    GradientTape inner;
    inner.watch(x);
    Tensor y = sum(tanh(x));
    dy = inner.gradient(y, {x})[0];  // 1 - tanh^2
  }
  Tensor d2 = outer.gradient(sum(dy), {x})[0];  // -2 tanh (1 - tanh^2)
  const auto v = d2.to_vector<double>();
  for (std::size_t i = 0; i < 2; ++i) {
    const double t = std::tanh(std::vector<double>{0.3, -1.2}[i]);
    EXPECT_NEAR(v[i], -2 * t * (1 - t * t), 1e-12);
  }
}

TEST_F(TapeTest, ThirdDerivativeOfSigmoidProduct) {
  // f(x) = x^3 → f''' = 6, through Mul's gradient applied three times.
  Tensor x = vec({1.7});
  GradientTape t3;
  t3.watch(x);
  GradientTape t2;
  t2.watch(x);
  GradientTape t1;
  t1.watch(x);
  Tensor y = sum(x * x * x);
  Tensor d1 = sum(t1.gradient(y, {x})[0]);
  Tensor d2 = sum(t2.gradient(d1, {x})[0]);
  Tensor d3 = t3.gradient(d2, {x})[0];
  EXPECT_NEAR(d3.to_vector<double>()[0], 6.0, 1e-12);
}

TEST_F(TapeTest, BroadcastGradientsAreReducedToInputShapes) {
  Tensor m = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  Tensor b = vec({10, 20, 30});
  GradientTape tape;
  tape.watch(m);
  tape.watch(b);
  Tensor y = sum((m + b) * m);  // d/dm = 2m + b, d/db = column sums of m
  auto g = tape.gradient(y, {m, b});
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{12, 24, 36, 18, 30, 42}));
  EXPECT_EQ(g[1].shape(), (Shape{3}));
  EXPECT_EQ(g[1].to_vector<double>(), (std::vector<double>{5, 7, 9}));
}

TEST_F(TapeTest, MissingGradientIsAClearError) {
  Tensor x = reshape(vec({1.0, 2.0, 3.0, 4.0}), Shape{1, 2, 2, 1});
  GradientTape tape;
  tape.watch(x);
  // A gradient helper without a gradient of its own (no second derivative of a resize).
  Tensor y = sum(execute1("ResizeNearestNeighborGrad", {x, int_tensor({1, 1})},
                          {{"align_corners", false}, {"half_pixel_centers", false}}));
  try {
    tape.gradient(y, {x});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("no gradient is defined for op ResizeNearestNeighborGrad"), std::string::npos)
        << e.what();
  }
}

// Running sums and products differentiate as their definitions do, by hand: d/dx_i of
// sum_j w_j cumsum(x)_j = sum_{j >= i} w_j; of sum(cumprod(x)) = sum_{j >= i} prod_{k <= j, k != i} x_k.
TEST_F(TapeTest, CumsumAndCumprodGradientsByHand) {
  Tensor x = vec({1.0, 2.0, 3.0});
  GradientTape tape;
  tape.watch(x);
  Tensor a = sum(cumsum(x, 0) * vec({1.0, 10.0, 100.0}));
  Tensor b = sum(cumsum(x, 0, true, true) * vec({1.0, 10.0, 100.0}));  // [x2 + x3, x3, 0]
  Tensor c = sum(cumprod(x, 0));
  auto g = tape.gradient(add_n({a, b * 1000.0, c * 1e6}), {x});
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{111 + 9e6, 110 + 1000 + 4e6, 100 + 11000 + 2e6}));
}

TEST_F(TapeTest, RecordsOnlyOnItsOwnThread) {
  Tensor x = vec({1.0});
  GradientTape tape;
  tape.watch(x);
  Tensor other;
  std::thread([&] { other = x * 7.0; }).join();
  EXPECT_FALSE(tape.gradient(sum(other), {x})[0].defined());
}

}  // namespace
}  // namespace strata
