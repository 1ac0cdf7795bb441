// The ref device's naive kernels (tests/support/ref_kernels*.cpp) against values worked
// out by hand or from the mathematical definitions in docs/OPS.md (and, for the random
// ops, Random123's published Philox4x32-10 known answers). The kernels are looked up in
// the registry and called directly with the output metadata each case expects, so these
// tests do not depend on the runtime's op dispatch or shape inference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "ref_backend.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/philox.hpp"
#include "strata/registry.hpp"

namespace strata::testing {
namespace {

using I32 = std::int32_t;
using I64 = std::int64_t;
using Bools = std::vector<std::uint8_t>;

constexpr DType kF32 = DType::kFloat32, kF64 = DType::kFloat64, kI32 = DType::kInt32, kI64 = DType::kInt64,
                kBool = DType::kBool, kF16 = DType::kFloat16, kBF16 = DType::kBFloat16, kI8 = DType::kInt8,
                kU8 = DType::kUInt8;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

Device ref_device() {
  register_ref_backend();  // idempotent; the ref backend and its kernels
  return Device("ref:0");
}

// A tensor of dtype T on the ref device (values given as doubles, converted exactly).
template <class T>
Tensor R(const std::vector<double>& values, const Shape& shape) {
  std::vector<T> v;
  for (double x : values) v.push_back(static_cast<T>(x));
  return Tensor::from_vector<T>(v, shape, ref_device());
}
Tensor B(const Bools& values, const Shape& shape) { return Tensor::from_bools(values, shape, ref_device()); }
// Host (cpu) int64 inputs: 1-D, scalar, or of a given shape.
Tensor H(const std::vector<I64>& v) { return Tensor::from_vector<I64>(v, Shape{static_cast<I64>(v.size())}, Device::cpu()); }
Tensor Hs(I64 v) { return Tensor::from_vector<I64>({v}, Shape{}, Device::cpu()); }
Tensor H2(const std::vector<I64>& v, const Shape& s) { return Tensor::from_vector<I64>(v, s, Device::cpu()); }
// 0, 1, ..., n-1 as T on the ref device.
template <class T>
Tensor Iota(const Shape& shape) {
  std::vector<double> v;
  for (I64 i = 0; i < shape.num_elements(); ++i) v.push_back(static_cast<double>(i));
  return R<T>(v, shape);
}

// Runs the ref kernel of (op, key dtype) with the given inputs and expected output metas.
std::vector<Tensor> run(const std::string& op, DType key, const std::vector<Tensor>& inputs,
                        const std::vector<TensorMeta>& metas, const Attrs& attrs = {}) {
  register_ref_backend();
  const auto kernel = Registry::global().find<ObjectKind::kKernel>(kernel_key(op, "ref", key));
  if (!kernel) throw std::runtime_error("no ref kernel " + kernel_key(op, "ref", key));
  OpDef def;
  def.name = op;
  std::vector<Tensor> outputs(metas.size());
  KernelContext ctx(def, attrs, inputs, metas, outputs, backend_device(ref_device()));
  kernel->compute(ctx);
  return outputs;
}
Tensor run1(const std::string& op, DType key, const std::vector<Tensor>& inputs, TensorMeta meta,
            const Attrs& attrs = {}) {
  return run(op, key, inputs, {std::move(meta)}, attrs).at(0);
}

template <class T>
double default_rtol() {
  if constexpr (std::is_same_v<T, float>) {
    return 1e-6;
  } else if constexpr (std::is_same_v<T, double>) {
    return 1e-13;
  } else {
    return 0;
  }
}

// |got - expected| <= atol + rtol |expected| elementwise; NaN matches NaN, inf matches
// the same inf. Integers exactly (tolerances 0).
template <class T>
void expect_values(const Tensor& t, const Shape& shape, const std::vector<double>& expected,
                   double rtol = default_rtol<T>(), double atol = default_rtol<T>() / 10) {
  ASSERT_TRUE(t.defined());
  EXPECT_EQ(t.dtype(), dtype_of<T>);
  ASSERT_EQ(t.shape(), shape) << "got " << t.shape().to_string();
  const std::vector<T> got = t.to_vector<T>();
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), e = expected[i];
    if (std::isnan(e)) {
      EXPECT_TRUE(std::isnan(g)) << "element " << i << ": got " << g << ", expected NaN";
    } else if (std::isinf(e)) {
      EXPECT_EQ(g, e) << "element " << i;
    } else {
      EXPECT_LE(std::fabs(g - e), atol + rtol * std::fabs(e)) << "element " << i << ": got " << g << ", expected " << e;
    }
  }
}

Bools bool_values(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  const bool* p = h.host_data<bool>();
  Bools out;
  for (I64 i = 0; i < h.num_elements(); ++i) out.push_back(p[i] ? 1 : 0);
  return out;
}
void expect_bools(const Tensor& t, const Shape& shape, const Bools& expected) {
  ASSERT_TRUE(t.defined());
  EXPECT_EQ(t.dtype(), kBool);
  ASSERT_EQ(t.shape(), shape);
  EXPECT_EQ(bool_values(t), expected);
}

// ============================================================================================
// Element-wise binary ops, broadcasting
// ============================================================================================

template <class T>
void check_add_sub_mul() {
  const DType d = dtype_of<T>;
  // [2, 3] + [3]: the row is added to every row.
  expect_values<T>(run1("AddV2", d, {R<T>({1, 2, 3, 4, 5, 6}, {2, 3}), R<T>({10, 20, 30}, {3})}, {d, {2, 3}}), {2, 3},
                   {11, 22, 33, 14, 25, 36});
  // [2, 1] + [1, 3]: both sides broadcast.
  expect_values<T>(run1("AddV2", d, {R<T>({1, 2}, {2, 1}), R<T>({10, 20, 30}, {1, 3})}, {d, {2, 3}}), {2, 3},
                   {11, 21, 31, 12, 22, 32});
  // Scalar on the right.
  expect_values<T>(run1("Sub", d, {R<T>({5, 0, -2}, {3}), R<T>({2}, {})}, {d, {3}}), {3}, {3, -2, -4});
  // Scalar on the left.
  expect_values<T>(run1("Sub", d, {R<T>({2}, {}), R<T>({5, 0, -2}, {3})}, {d, {3}}), {3}, {-3, 2, 4});
  expect_values<T>(run1("Mul", d, {R<T>({1, 2, 3, 4}, {2, 2}), R<T>({10, -1}, {2, 1})}, {d, {2, 2}}), {2, 2},
                   {10, 20, -3, -4});
  // Zero-size: [0, 3] + [3] is [0, 3].
  expect_values<T>(run1("AddV2", d, {R<T>({}, {0, 3}), R<T>({1, 2, 3}, {3})}, {d, {0, 3}}), {0, 3}, {});
}

TEST(RefKernelBinary, AddSubMulBroadcast) {
  check_add_sub_mul<float>();
  check_add_sub_mul<double>();
  check_add_sub_mul<I32>();
  check_add_sub_mul<I64>();
}

TEST(RefKernelBinary, IntegerOverflowWraps) {
  expect_values<I32>(run1("AddV2", kI32, {R<I32>({2147483647}, {1}), R<I32>({1}, {1})}, {kI32, {1}}), {1}, {-2147483648.0});
  expect_values<I32>(run1("Mul", kI32, {R<I32>({65536}, {1}), R<I32>({65536}, {1})}, {kI32, {1}}), {1}, {0});
}

TEST(RefKernelBinary, RealDiv) {
  expect_values<float>(run1("RealDiv", kF32, {R<float>({1, -3, 1, 0}, {4}), R<float>({4, 2, 0, 0}, {4})}, {kF32, {4}}),
                       {4}, {0.25, -1.5, kInf, kNaN});
  expect_values<double>(run1("RealDiv", kF64, {R<double>({1}, {1}), R<double>({3}, {})}, {kF64, {1}}), {1}, {1.0 / 3.0});
  // Integers truncate toward zero.
  expect_values<I32>(run1("RealDiv", kI32, {R<I32>({7, -7, 7, -7}, {4}), R<I32>({2, 2, -2, -2}, {4})}, {kI32, {4}}),
                     {4}, {3, -3, -3, 3});
  expect_values<I64>(run1("RealDiv", kI64, {R<I64>({9, 10}, {2}), R<I64>({3}, {})}, {kI64, {2}}), {2}, {3, 3});
}

TEST(RefKernelBinary, IntegerDivisionByZeroIsABackendErrorNamingTheOp) {
  for (DType d : {kI32, kI64}) {
    const Tensor x = d == kI32 ? R<I32>({1, 2}, {2}) : R<I64>({1, 2}, {2});
    const Tensor y = d == kI32 ? R<I32>({1, 0}, {2}) : R<I64>({1, 0}, {2});
    try {
      run1("RealDiv", d, {x, y}, {d, {2}});
      ADD_FAILURE() << "no error for " << dtype_name(d);
    } catch (const BackendError& e) {
      EXPECT_NE(std::string(e.what()).find("RealDiv"), std::string::npos) << e.what();
    }
  }
}

TEST(RefKernelBinary, MaximumMinimumPropagateNaN) {
  const auto x = R<float>({1, kNaN, 3, -1}, {4});
  const auto y = R<float>({2, 0, kNaN, -2}, {4});
  expect_values<float>(run1("Maximum", kF32, {x, y}, {kF32, {4}}), {4}, {2, kNaN, kNaN, -1});
  expect_values<float>(run1("Minimum", kF32, {x, y}, {kF32, {4}}), {4}, {1, kNaN, kNaN, -2});
  expect_values<double>(run1("Maximum", kF64, {R<double>({1, 5}, {2}), R<double>({3}, {})}, {kF64, {2}}), {2}, {3, 5});
  expect_values<I64>(run1("Maximum", kI64, {R<I64>({-1, 5}, {2}), R<I64>({3, 2}, {2})}, {kI64, {2}}), {2}, {3, 5});
  expect_values<I32>(run1("Minimum", kI32, {R<I32>({-1, 5}, {2}), R<I32>({3, 2}, {2})}, {kI32, {2}}), {2}, {-1, 2});
}

TEST(RefKernelBinary, Pow) {
  expect_values<double>(run1("Pow", kF64, {R<double>({2, 9, 4, 0}, {4}), R<double>({3, 0.5, -1, 0}, {4})}, {kF64, {4}}),
                        {4}, {8, 3, 0.25, 1});
  expect_values<float>(run1("Pow", kF32, {R<float>({2, 3}, {2}), R<float>({2}, {})}, {kF32, {2}}), {2}, {4, 9});
  // Integers: exact powers; negative exponents as truncated std::pow.
  expect_values<I32>(run1("Pow", kI32, {R<I32>({2, -3, 5, 1, -1, 2}, {6}), R<I32>({10, 3, 0, -2, -3, -1}, {6})},
                          {kI32, {6}}),
                     {6}, {1024, -27, 1, 1, -1, 0});
  expect_values<I64>(run1("Pow", kI64, {R<I64>({3}, {1}), R<I64>({30}, {1})}, {kI64, {1}}), {1}, {205891132094649.0});
}

TEST(RefKernelBinary, SquaredDifference) {
  expect_values<float>(run1("SquaredDifference", kF32, {R<float>({1, 5}, {2}), R<float>({4, 2}, {2})}, {kF32, {2}}),
                       {2}, {9, 9});
  expect_values<double>(run1("SquaredDifference", kF64, {R<double>({0.5}, {1}), R<double>({-1}, {1})}, {kF64, {1}}),
                        {1}, {2.25});
  expect_values<I32>(run1("SquaredDifference", kI32, {R<I32>({-3}, {1}), R<I32>({4}, {1})}, {kI32, {1}}), {1}, {49});
  expect_values<I64>(run1("SquaredDifference", kI64, {R<I64>({10}, {1}), R<I64>({4}, {1})}, {kI64, {1}}), {1}, {36});
}

template <class T>
void check_comparisons() {
  const DType d = dtype_of<T>;
  const auto x = R<T>({1, 2, 3}, {3});
  const auto y = R<T>({2}, {1});
  expect_bools(run1("Greater", d, {x, y}, {kBool, {3}}), {3}, {0, 0, 1});
  expect_bools(run1("GreaterEqual", d, {x, y}, {kBool, {3}}), {3}, {0, 1, 1});
  expect_bools(run1("Less", d, {x, y}, {kBool, {3}}), {3}, {1, 0, 0});
  expect_bools(run1("LessEqual", d, {x, y}, {kBool, {3}}), {3}, {1, 1, 0});
  expect_bools(run1("Equal", d, {x, y}, {kBool, {3}}), {3}, {0, 1, 0});
  expect_bools(run1("NotEqual", d, {x, y}, {kBool, {3}}), {3}, {1, 0, 1});
  // [2, 1] against [3]: a [2, 3] table.
  expect_bools(run1("Less", d, {R<T>({1, 3}, {2, 1}), x}, {kBool, {2, 3}}), {2, 3}, {0, 1, 1, 0, 0, 0});
}

TEST(RefKernelBinary, Comparisons) {
  check_comparisons<float>();
  check_comparisons<double>();
  check_comparisons<I32>();
  check_comparisons<I64>();
  // NaN is unequal to everything, itself included.
  const auto nan = R<float>({kNaN}, {1});
  expect_bools(run1("Equal", kF32, {nan, nan}, {kBool, {1}}), {1}, {0});
  expect_bools(run1("NotEqual", kF32, {nan, nan}, {kBool, {1}}), {1}, {1});
  expect_bools(run1("Greater", kF32, {nan, R<float>({0}, {1})}, {kBool, {1}}), {1}, {0});
  // Equal / NotEqual on bool.
  expect_bools(run1("Equal", kBool, {B({1, 0, 1, 0}, {4}), B({1, 1, 0, 0}, {4})}, {kBool, {4}}), {4}, {1, 0, 0, 1});
  expect_bools(run1("NotEqual", kBool, {B({1, 0, 1, 0}, {4}), B({1, 1, 0, 0}, {4})}, {kBool, {4}}), {4}, {0, 1, 1, 0});
}

TEST(RefKernelBinary, LogicalAndOr) {
  const auto a = B({1, 0}, {2, 1});
  const auto b = B({1, 0}, {2});
  expect_bools(run1("LogicalAnd", kBool, {a, b}, {kBool, {2, 2}}), {2, 2}, {1, 0, 0, 0});
  expect_bools(run1("LogicalOr", kBool, {a, b}, {kBool, {2, 2}}), {2, 2}, {1, 1, 1, 0});
  expect_bools(run1("LogicalNot", kBool, {B({1, 0}, {2})}, {kBool, {2}}), {2}, {0, 1});
}

TEST(RefKernelBinary, SelectV2BroadcastsAllThree) {
  const auto cond = B({1, 0}, {2, 1});
  expect_values<float>(run1("SelectV2", kF32, {cond, R<float>({1, 2, 3, 4}, {2, 2}), R<float>({9}, {})}, {kF32, {2, 2}}),
                       {2, 2}, {1, 2, 9, 9});
  expect_values<I64>(run1("SelectV2", kI64, {B({1, 0, 1}, {3}), R<I64>({1}, {}), R<I64>({-1}, {})}, {kI64, {3}}), {3},
                     {1, -1, 1});
  expect_values<I32>(run1("SelectV2", kI32, {B({0}, {}), R<I32>({1, 2}, {2}), R<I32>({5, 6}, {2})}, {kI32, {2}}), {2},
                     {5, 6});
  expect_values<double>(run1("SelectV2", kF64, {cond, R<double>({1, 2}, {2}), R<double>({7, 8}, {1, 2})}, {kF64, {2, 2}}),
                        {2, 2}, {1, 2, 7, 8});
  expect_bools(run1("SelectV2", kBool, {cond, B({1, 1}, {2}), B({0, 0}, {2})}, {kBool, {2, 2}}), {2, 2}, {1, 1, 0, 0});
}

TEST(RefKernelBinary, AddN) {
  expect_values<I32>(run1("AddN", kI32, {R<I32>({1, 2}, {2}), R<I32>({3, 4}, {2}), R<I32>({5, 6}, {2})}, {kI32, {2}}),
                     {2}, {9, 12});
  expect_values<double>(run1("AddN", kF64, {R<double>({0.5, 1}, {1, 2})}, {kF64, {1, 2}}), {1, 2}, {0.5, 1});
  expect_values<float>(run1("AddN", kF32, {R<float>({0.5}, {1}), R<float>({0.25}, {1})}, {kF32, {1}}), {1}, {0.75});
  expect_values<I64>(run1("AddN", kI64, {R<I64>({1}, {1}), R<I64>({-4}, {1})}, {kI64, {1}}), {1}, {-3});
}

// ============================================================================================
// Element-wise unary ops
// ============================================================================================

template <class T>
void check_numeric_unary() {
  const DType d = dtype_of<T>;
  expect_values<T>(run1("Neg", d, {R<T>({1, -2, 0}, {3})}, {d, {3}}), {3}, {-1, 2, 0});
  expect_values<T>(run1("Abs", d, {R<T>({-3, 2, 0}, {3})}, {d, {3}}), {3}, {3, 2, 0});
  expect_values<T>(run1("Sign", d, {R<T>({-4, 0, 9}, {3})}, {d, {3}}), {3}, {-1, 0, 1});
  expect_values<T>(run1("Square", d, {R<T>({-4, 3}, {2})}, {d, {2}}), {2}, {16, 9});
  expect_values<T>(run1("Relu", d, {R<T>({-3, 0, 4}, {3})}, {d, {3}}), {3}, {0, 0, 4});
}

TEST(RefKernelUnary, NumericOps) {
  check_numeric_unary<float>();
  check_numeric_unary<double>();
  check_numeric_unary<I32>();
  check_numeric_unary<I64>();
  expect_values<float>(run1("Sign", kF32, {R<float>({kNaN}, {1})}, {kF32, {1}}), {1}, {kNaN});
  expect_values<double>(run1("Abs", kF64, {R<double>({-1.5}, {1})}, {kF64, {1}}), {1}, {1.5});
  expect_values<double>(run1("Square", kF64, {R<double>({-0.5}, {1})}, {kF64, {1}}), {1}, {0.25});
}

TEST(RefKernelUnary, ZeroSizeTensor) {
  expect_values<float>(run1("Relu", kF32, {R<float>({}, {0, 4})}, {kF32, {0, 4}}), {0, 4}, {});
  expect_values<double>(run1("Exp", kF64, {R<double>({}, {0})}, {kF64, {0}}), {0}, {});
}

template <class T>
void check_float_unary() {
  const DType d = dtype_of<T>;
  const double e = std::exp(1.0);
  expect_values<T>(run1("Sqrt", d, {R<T>({4, 2.25, 0}, {3})}, {d, {3}}), {3}, {2, 1.5, 0});
  expect_values<T>(run1("Rsqrt", d, {R<T>({4, 0.25}, {2})}, {d, {2}}), {2}, {0.5, 2});
  expect_values<T>(run1("Reciprocal", d, {R<T>({4, -0.5}, {2})}, {d, {2}}), {2}, {0.25, -2});
  expect_values<T>(run1("Exp", d, {R<T>({0, 1}, {2})}, {d, {2}}), {2}, {1, e});
  expect_values<T>(run1("Log", d, {R<T>({1, 0.5}, {2})}, {d, {2}}), {2}, {0, -0.6931471805599453});
  expect_values<T>(run1("Log1p", d, {R<T>({0, 1}, {2})}, {d, {2}}), {2}, {0, 0.6931471805599453});
  expect_values<T>(run1("Erf", d, {R<T>({0, 1, -1}, {3})}, {d, {3}}), {3}, {0, 0.8427007929497149, -0.8427007929497149});
  expect_values<T>(run1("Floor", d, {R<T>({-1.5, 2.7, 3}, {3})}, {d, {3}}), {3}, {-2, 2, 3});
  expect_values<T>(run1("Relu6", d, {R<T>({-1, 3, 7}, {3})}, {d, {3}}), {3}, {0, 3, 6});
  expect_values<T>(run1("Elu", d, {R<T>({1, 0, -1}, {3})}, {d, {3}}), {3}, {1, 0, 1 / e - 1});
  const double lambda = 1.0507009873554804934193349852946, alpha = 1.6732632423543772848170429916717;
  expect_values<T>(run1("Selu", d, {R<T>({1, -1}, {2})}, {d, {2}}), {2}, {lambda, lambda * alpha * (1 / e - 1)});
  expect_values<T>(run1("Sigmoid", d, {R<T>({0, 2, -2}, {3})}, {d, {3}}), {3},
                   {0.5, 0.8807970779778823, 0.11920292202211755});
  expect_values<T>(run1("Tanh", d, {R<T>({0, 1}, {2})}, {d, {2}}), {2}, {0, 0.7615941559557649});
  // Softplus: ln 2 at 0; x above 20; exp(x) below -20.
  expect_values<T>(run1("Softplus", d, {R<T>({0, 1, 25, -25}, {4})}, {d, {4}}), {4},
                   {0.6931471805599453, 1.3132616875182228, 25, 1.3887943864964021e-11});
  expect_values<T>(run1("Softsign", d, {R<T>({3, -1}, {2})}, {d, {2}}), {2}, {0.75, -0.5});
  // Gelu: Φ(1) = 0.8413447460685429; tanh form 0.5 (1 + tanh(√(2/π) · 1.044715)).
  expect_values<T>(run1("Gelu", d, {R<T>({1, -1, 0}, {3})}, {d, {3}}), {3},
                   {0.8413447460685429, -0.15865525393145707, 0});
  expect_values<T>(run1("Gelu", d, {R<T>({1, -1}, {2})}, {d, {2}}, {{"approximate", true}}), {2},
                   {0.8411919906082768, -0.15880800939172324});
}

// Trigonometric and hyperbolic functions at points with known values.
template <class T>
void check_trigonometry() {
  const DType d = dtype_of<T>;
  const double pi = 3.141592653589793;
  expect_values<T>(run1("Sin", d, {R<T>({0, pi / 6, -pi / 2}, {3})}, {d, {3}}), {3}, {0, 0.5, -1});
  expect_values<T>(run1("Cos", d, {R<T>({0, pi / 3, pi}, {3})}, {d, {3}}), {3}, {1, 0.5, -1});
  expect_values<T>(run1("Tan", d, {R<T>({0, pi / 4, -pi / 4}, {3})}, {d, {3}}), {3}, {0, 1, -1});
  expect_values<T>(run1("Asin", d, {R<T>({0, 0.5, -1}, {3})}, {d, {3}}), {3}, {0, pi / 6, -pi / 2});
  expect_values<T>(run1("Acos", d, {R<T>({1, 0.5, -1}, {3})}, {d, {3}}), {3}, {0, pi / 3, pi});
  expect_values<T>(run1("Atan", d, {R<T>({0, 1, -1}, {3})}, {d, {3}}), {3}, {0, pi / 4, -pi / 4});
  expect_values<T>(run1("Sinh", d, {R<T>({0, 1}, {2})}, {d, {2}}), {2}, {0, 1.1752011936438014});
  expect_values<T>(run1("Cosh", d, {R<T>({0, 1}, {2})}, {d, {2}}), {2}, {1, 1.5430806348152437});
  expect_values<T>(run1("Asinh", d, {R<T>({0, 1}, {2})}, {d, {2}}), {2}, {0, 0.881373587019543});
  expect_values<T>(run1("Acosh", d, {R<T>({1, 2}, {2})}, {d, {2}}), {2}, {0, 1.3169578969248166});
  expect_values<T>(run1("Atanh", d, {R<T>({0, 0.5}, {2})}, {d, {2}}), {2}, {0, 0.5493061443340549});
  // Atan2(y, x): the quadrant from both signs; y broadcast against x.
  expect_values<T>(run1("Atan2", d, {R<T>({1, -1, 0, 1}, {4}), R<T>({-1, -1, -1, 0}, {4})}, {d, {4}}), {4},
                   {3 * pi / 4, -3 * pi / 4, pi, pi / 2});
  expect_values<T>(run1("Atan2", d, {R<T>({1}, {1}), R<T>({1, -1}, {2})}, {d, {2}}), {2}, {pi / 4, 3 * pi / 4});
  // Outside the domain: NaN, as std:: gives.
  expect_values<T>(run1("Asin", d, {R<T>({2}, {1})}, {d, {1}}), {1}, {std::nan("")});
  expect_values<T>(run1("Acosh", d, {R<T>({0.5}, {1})}, {d, {1}}), {1}, {std::nan("")});
}

TEST(RefKernelUnary, Trigonometry) {
  check_trigonometry<float>();
  check_trigonometry<double>();
}

TEST(RefKernelUnary, FloatOps) {
  check_float_unary<float>();
  check_float_unary<double>();
  // Sigmoid of large magnitudes stays finite and exact in the limit.
  expect_values<double>(run1("Sigmoid", kF64, {R<double>({800, -700}, {2})}, {kF64, {2}}), {2},
                        {1.0, 9.85967654375977e-305}, 1e-12, 0);
}

TEST(RefKernelUnary, IdentityAndStopGradientAliasTheInput) {
  for (const char* op : {"Identity", "StopGradient"}) {
    const Tensor x = R<float>({1, 2, 3}, {3});
    const Tensor y = run1(op, DType::kInvalid, {x}, {kF32, {3}});
    EXPECT_EQ(y.data(), x.data()) << op;
    expect_values<float>(y, {3}, {1, 2, 3});
  }
  const Tensor b = B({1, 0}, {2});
  EXPECT_EQ(run1("Identity", DType::kInvalid, {b}, {kBool, {2}}).data(), b.data());
}

// ============================================================================================
// Gradient helpers
// ============================================================================================

template <class T>
void check_gradient_helpers() {
  const DType d = dtype_of<T>;
  const double lambda = 1.0507009873554804934193349852946, alpha = 1.6732632423543772848170429916717;
  auto helper = [&](const char* op, std::vector<double> a, std::vector<double> b, std::vector<double> expected,
                  const Attrs& attrs = {}) {
    const Shape s{static_cast<I64>(a.size())};
    expect_values<T>(run1(op, d, {R<T>(a, s), R<T>(b, s)}, {d, s}, attrs), s, expected);
  };
  helper("ReluGrad", {1, 2, 3}, {-1, 0, 2}, {0, 0, 3});
  helper("Relu6Grad", {1, 2, 3, 4}, {-1, 3, 6, 5.5}, {0, 2, 0, 4});
  helper("EluGrad", {2, 2}, {1, -0.5}, {2, 1});
  helper("SeluGrad", {1, 2}, {1, -1}, {lambda, 2 * (-1 + lambda * alpha)});
  helper("SigmoidGrad", {0.5, 0.25}, {2, 4}, {0.5, 0.75});
  helper("TanhGrad", {0.5}, {2}, {1.5});
  helper("SoftplusGrad", {2, 1}, {0, 2}, {1, 0.8807970779778823});
  helper("SoftsignGrad", {4, 9}, {1, -2}, {1, 1});
  helper("RsqrtGrad", {2}, {1}, {-4});
  helper("SqrtGrad", {2}, {4}, {1});
  // d/dx of 0.5 x (1 + erf(x/√2)) is Φ(x) + x φ(x): 0.5 at 0, Φ(1) + φ(1) at 1.
  helper("GeluGrad", {1, 2}, {0, 1}, {0.5, 2 * (0.8413447460685429 + 0.24197072451914337)});
  // tanh form: 0.5 (1 + t) + 0.5 x (1 − t²) √(2/π)(1 + 3·0.044715 x²), t = tanh(√(2/π)(x + 0.044715 x³)).
  helper("GeluGrad", {1, 1}, {0, 1}, {0.5, 1.0829640838457826}, {{"approximate", true}});
}

TEST(RefKernelGradientHelpers, Values) {
  check_gradient_helpers<float>();
  check_gradient_helpers<double>();
}

// ============================================================================================
// Cast
// ============================================================================================

std::vector<std::uint16_t> half_bits(const Tensor& t) {
  std::vector<std::uint16_t> out;
  if (t.dtype() == kF16) {
    for (auto h : t.to_vector<float16>()) out.push_back(h.bits);
  } else {
    for (auto h : t.to_vector<bfloat16>()) out.push_back(h.bits);
  }
  return out;
}

Tensor cast(const Tensor& x, DType to) {
  return run1("Cast", x.dtype(), {x}, {to, x.shape()}, {{"DstT", to}, {"Truncate", false}});
}

TEST(RefKernelCast, FloatToFloat16RoundsToNearestEven) {
  const double t = std::ldexp(1.0, -11), tiny = std::ldexp(1.0, -24);
  // 1; largest finite; the overflow midpoint (ties to even: inf); 1 + half a step (tie →
  // 1); 1 + 1.5 steps (tie → 1 + 2 steps); smallest subnormal; half of it (tie → 0);
  // 1.5 of it (tie → 2); 1/3; -2; -inf.
  const auto x = R<float>({1, 65504, 65520, 1 + t, 1 + 3 * t, tiny, tiny / 2, 1.5 * tiny, 1.0 / 3, -2, -kInf}, {11});
  EXPECT_EQ(half_bits(cast(x, kF16)), (std::vector<std::uint16_t>{0x3c00, 0x7bff, 0x7c00, 0x3c00, 0x3c02, 0x0001,
                                                                   0x0000, 0x0002, 0x3555, 0xc000, 0xfc00}));
  const auto nan = half_bits(cast(R<float>({kNaN}, {1}), kF16))[0];
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  // From float64 the rounding is done once: 1 + 2^-11 + 2^-40 is above the midpoint
  // (rounding through float32 first would make it a tie and give 1).
  EXPECT_EQ(half_bits(cast(R<double>({1 + t + std::ldexp(1.0, -40)}, {1}), kF16)), (std::vector<std::uint16_t>{0x3c01}));
  // Integers: 2049 is a tie between 2048 and 2050 (→ 2048), 2051 between 2050 and 2052.
  EXPECT_EQ(half_bits(cast(R<I64>({2049, 2051, -1}, {3}), kF16)), (std::vector<std::uint16_t>{0x6800, 0x6802, 0xbc00}));
}

TEST(RefKernelCast, FloatToBFloat16RoundsToNearestEven) {
  const double t = std::ldexp(1.0, -8);
  const auto x = R<float>({1, 1 + t, 1 + 3 * t, -2.5, std::numeric_limits<float>::max()}, {5});
  EXPECT_EQ(half_bits(cast(x, kBF16)), (std::vector<std::uint16_t>{0x3f80, 0x3f80, 0x3f82, 0xc020, 0x7f80}));
  EXPECT_EQ(half_bits(cast(R<double>({1 + t + std::ldexp(1.0, -40)}, {1}), kBF16)), (std::vector<std::uint16_t>{0x3f81}));
  const auto nan = half_bits(cast(R<float>({kNaN}, {1}), kBF16))[0];
  EXPECT_EQ(nan & 0x7f80, 0x7f80);
  EXPECT_NE(nan & 0x007f, 0);
}

TEST(RefKernelCast, HalfTypesToFloat) {
  const std::vector<float16> h{float16::from_bits(0x3555), float16::from_bits(0x0001), float16::from_bits(0x7bff),
                               float16::from_bits(0xfc00), float16::from_bits(0xc000)};
  const Tensor th = Tensor::from_vector<float16>(h, {5}, ref_device());
  expect_values<float>(cast(th, kF32), {5}, {0.333251953125, std::ldexp(1.0, -24), 65504, -kInf, -2}, 0, 0);
  expect_values<double>(cast(th, kF64), {5}, {0.333251953125, std::ldexp(1.0, -24), 65504, -kInf, -2}, 0, 0);
  const std::vector<bfloat16> b{bfloat16::from_bits(0x3f81), bfloat16::from_bits(0xc020)};
  const Tensor tb = Tensor::from_vector<bfloat16>(b, {2}, ref_device());
  expect_values<float>(cast(tb, kF32), {2}, {1.0078125, -2.5}, 0, 0);
  expect_values<I32>(cast(tb, kI32), {2}, {1, -2});
  // float16 → bfloat16: 1365·2^-12 lies between 170 and 171 steps of 2^-9 (170.625 → 171).
  EXPECT_EQ(half_bits(cast(th, kBF16))[0], 0x3eab);
}

TEST(RefKernelCast, FloatToIntegerTruncatesTowardZero) {
  expect_values<I32>(cast(R<float>({2.7, -2.7, -0.5, 100.99}, {4}), kI32), {4}, {2, -2, 0, 100});
  expect_values<I64>(cast(R<double>({-1e12 - 0.5, 3.999}, {2}), kI64), {2}, {-1e12, 3});
  expect_values<std::uint8_t>(cast(R<double>({200.9, 0.2}, {2}), kU8), {2}, {200, 0});
  expect_values<std::int8_t>(cast(R<float>({-100.5, 7.9}, {2}), kI8), {2}, {-100, 7});
}

TEST(RefKernelCast, IntegerToIntegerWraps) {
  expect_values<std::int8_t>(cast(R<I32>({300, -129, 127}, {3}), kI8), {3}, {44, 127, 127});
  expect_values<std::uint8_t>(cast(R<I32>({-1, 256, 255}, {3}), kU8), {3}, {255, 0, 255});
  expect_values<I64>(cast(R<std::int8_t>({-128, 5}, {2}), kI64), {2}, {-128, 5});
  expect_values<double>(cast(R<std::uint8_t>({255, 0}, {2}), kF64), {2}, {255, 0});
  expect_values<I32>(cast(R<I64>({4294967297.0}, {1}), kI32), {1}, {1});
}

TEST(RefKernelCast, IntegerAndDoubleToFloatRoundOnce) {
  // 2^24 + 1 is a tie between 2^24 and 2^24 + 2 (→ even: 2^24).
  expect_values<float>(cast(R<I64>({16777217, 16777219}, {2}), kF32), {2}, {16777216, 16777220}, 0, 0);
  const double ulp = std::ldexp(1.0, -23);
  expect_values<float>(cast(R<double>({1 + ulp / 2, 1 + ulp / 2 + std::ldexp(1.0, -50)}, {2}), kF32), {2}, {1, 1 + ulp},
                       0, 0);
}

TEST(RefKernelCast, BoolConversions) {
  expect_values<float>(cast(B({1, 0}, {2}), kF32), {2}, {1, 0});
  expect_values<I64>(cast(B({1, 0}, {2}), kI64), {2}, {1, 0});
  expect_values<std::uint8_t>(cast(B({1, 0}, {2}), kU8), {2}, {1, 0});
  expect_bools(cast(R<float>({0, -0.0, 0.5, kNaN}, {4}), kBool), {4}, {0, 0, 1, 1});
  expect_bools(cast(R<I32>({0, -3}, {2}), kBool), {2}, {0, 1});
  expect_bools(cast(B({1, 0}, {2}), kBool), {2}, {1, 0});
  EXPECT_EQ(half_bits(cast(B({1, 0}, {2}), kF16)), (std::vector<std::uint16_t>{0x3c00, 0x0000}));
}

TEST(RefKernelCast, ZeroSize) { expect_values<I32>(cast(R<float>({}, {0, 2}), kI32), {0, 2}, {}); }

// ============================================================================================
// Reductions, ArgMax, Cumprod
// ============================================================================================

template <class T>
void check_reductions() {
  const DType d = dtype_of<T>;
  const auto x = R<T>({1, 5, 3, -2, -8, 0}, {2, 3});
  auto reduce = [&](const char* op, const Tensor& axes, Shape out, bool keep = false) {
    return run1(op, d, {x, axes}, {d, out}, {{"keep_dims", keep}});
  };
  expect_values<T>(reduce("Sum", H({1}), {2}), {2}, {9, -10});
  expect_values<T>(reduce("Sum", H({0}), {1, 3}, true), {1, 3}, {-1, -3, 3});
  expect_values<T>(reduce("Sum", H({-1}), {2, 1}, true), {2, 1}, {9, -10});
  expect_values<T>(reduce("Sum", H({0, 1}), {}), {}, {-1});
  expect_values<T>(reduce("Sum", Hs(0), {3}), {3}, {-1, -3, 3});
  // An empty axis list reduces nothing.
  expect_values<T>(reduce("Sum", H({}), {2, 3}), {2, 3}, {1, 5, 3, -2, -8, 0});
  expect_values<T>(reduce("Max", H({1}), {2}), {2}, {5, 0});
  expect_values<T>(reduce("Min", H({1}), {2}), {2}, {1, -8});
  expect_values<T>(reduce("Max", H({0}), {3}), {3}, {1, 5, 3});
  expect_values<T>(reduce("Prod", H({1}), {2}), {2}, {15, 0});
  expect_values<T>(reduce("Prod", H({0}), {3}), {3}, {-2, -40, 0});
}

TEST(RefKernelReduce, SumMaxMinProd) {
  check_reductions<float>();
  check_reductions<double>();
  check_reductions<I32>();
  check_reductions<I64>();
}

TEST(RefKernelReduce, MeanTruncatesForIntegers) {
  const Attrs a{{"keep_dims", false}};
  expect_values<I32>(run1("Mean", kI32, {R<I32>({1, 2, 4, -1, -2, -4}, {2, 3}), H({1})}, {kI32, {2}}, a), {2}, {2, -2});
  expect_values<I64>(run1("Mean", kI64, {R<I64>({1, 2}, {2}), H({0})}, {kI64, {}}, a), {}, {1});
  expect_values<double>(run1("Mean", kF64, {R<double>({1, 2, 4, -1, -2, -4}, {2, 3}), H({1})}, {kF64, {2}}, a), {2},
                        {7.0 / 3, -7.0 / 3});
  expect_values<float>(run1("Mean", kF32, {R<float>({1, 2}, {2}), H({0})}, {kF32, {}}, a), {}, {1.5});
}

TEST(RefKernelReduce, EmptySets) {
  const Attrs a{{"keep_dims", false}};
  const auto xf = R<float>({}, {0, 3});
  expect_values<float>(run1("Max", kF32, {xf, H({0})}, {kF32, {3}}, a), {3}, {-kInf, -kInf, -kInf});
  expect_values<float>(run1("Min", kF32, {xf, H({0})}, {kF32, {3}}, a), {3}, {kInf, kInf, kInf});
  expect_values<float>(run1("Sum", kF32, {xf, H({0})}, {kF32, {3}}, a), {3}, {0, 0, 0});
  expect_values<float>(run1("Prod", kF32, {xf, H({0})}, {kF32, {3}}, a), {3}, {1, 1, 1});
  expect_values<float>(run1("Mean", kF32, {xf, H({0})}, {kF32, {3}}, a), {3}, {kNaN, kNaN, kNaN});
  const auto xi = R<I32>({}, {0, 2});
  expect_values<I32>(run1("Max", kI32, {xi, H({0})}, {kI32, {2}}, a), {2}, {-2147483648.0, -2147483648.0});
  expect_values<I32>(run1("Min", kI32, {xi, H({0})}, {kI32, {2}}, a), {2}, {2147483647, 2147483647});
  expect_values<I32>(run1("Sum", kI32, {xi, H({0})}, {kI32, {2}}, a), {2}, {0, 0});
  expect_values<I32>(run1("Prod", kI32, {xi, H({0})}, {kI32, {2}}, a), {2}, {1, 1});
  expect_values<I32>(run1("Mean", kI32, {xi, H({0})}, {kI32, {2}}, a), {2}, {0, 0});  // TensorFlow's NaN as an integer
  const auto xl = R<I64>({}, {0});
  const std::vector<I64> lo{std::numeric_limits<I64>::lowest()}, hi{std::numeric_limits<I64>::max()};
  EXPECT_EQ(run1("Max", kI64, {xl, H({0})}, {kI64, {}}, a).to_vector<I64>(), lo);
  EXPECT_EQ(run1("Min", kI64, {xl, H({0})}, {kI64, {}}, a).to_vector<I64>(), hi);
  // Reducing over a non-empty axis of a zero-size tensor gives a zero-size result.
  expect_values<float>(run1("Sum", kF32, {xf, H({1})}, {kF32, {0}}, a), {0}, {});
}

TEST(RefKernelReduce, MaxMinPropagateNaN) {
  const Attrs a{{"keep_dims", false}};
  const auto x = R<double>({1, kNaN, 3}, {3});
  expect_values<double>(run1("Max", kF64, {x, H({0})}, {kF64, {}}, a), {}, {kNaN});
  expect_values<double>(run1("Min", kF64, {x, H({0})}, {kF64, {}}, a), {}, {kNaN});
}

template <class T>
void check_argmax() {
  const DType d = dtype_of<T>;
  const auto x = R<T>({1, 3, 3, 0, 2, 2, 2, 2}, {2, 4});
  // Ties go to the first maximum.
  expect_values<I64>(run1("ArgMax", d, {x, Hs(1)}, {kI64, {2}}, {{"output_type", kI64}}), {2}, {1, 0});
  expect_values<I32>(run1("ArgMax", d, {x, Hs(0)}, {kI32, {4}}, {{"output_type", kI32}}), {4}, {1, 0, 0, 1});
  expect_values<I64>(run1("ArgMax", d, {x, Hs(-1)}, {kI64, {2}}), {2}, {1, 0});
}

TEST(RefKernelReduce, ArgMaxFirstMaximum) {
  check_argmax<float>();
  check_argmax<double>();
  check_argmax<I32>();
  check_argmax<I64>();
  expect_values<I64>(run1("ArgMax", kF32, {R<float>({1, kNaN, 5}, {3}), Hs(0)}, {kI64, {}}), {}, {1});
}

template <class T>
void check_cumprod() {
  const DType d = dtype_of<T>;
  const auto x = R<T>({1, 2, 3}, {3});
  auto cp = [&](bool exclusive, bool reverse) {
    return run1("Cumprod", d, {x, Hs(0)}, {d, {3}}, {{"exclusive", exclusive}, {"reverse", reverse}});
  };
  expect_values<T>(cp(false, false), {3}, {1, 2, 6});
  expect_values<T>(cp(true, false), {3}, {1, 1, 2});
  expect_values<T>(cp(false, true), {3}, {6, 6, 3});
  expect_values<T>(cp(true, true), {3}, {6, 3, 1});
  expect_values<T>(run1("Cumprod", d, {R<T>({1, 2, 3, 4}, {2, 2}), Hs(0)}, {d, {2, 2}}), {2, 2}, {1, 2, 3, 8});
  expect_values<T>(run1("Cumprod", d, {R<T>({1, 2, 3, 4}, {2, 2}), Hs(-1)}, {d, {2, 2}}), {2, 2}, {1, 2, 3, 12});
}

TEST(RefKernelReduce, Cumprod) {
  check_cumprod<float>();
  check_cumprod<double>();
}

template <class T>
void check_cumsum() {
  const DType d = dtype_of<T>;
  const auto x = R<T>({1, 2, 3}, {3});
  auto cs = [&](bool exclusive, bool reverse) {
    return run1("Cumsum", d, {x, Hs(0)}, {d, {3}}, {{"exclusive", exclusive}, {"reverse", reverse}});
  };
  expect_values<T>(cs(false, false), {3}, {1, 3, 6});
  expect_values<T>(cs(true, false), {3}, {0, 1, 3});
  expect_values<T>(cs(false, true), {3}, {6, 5, 3});
  expect_values<T>(cs(true, true), {3}, {5, 3, 0});
  expect_values<T>(run1("Cumsum", d, {R<T>({1, 2, 3, 4}, {2, 2}), Hs(0)}, {d, {2, 2}}), {2, 2}, {1, 2, 4, 6});
  expect_values<T>(run1("Cumsum", d, {R<T>({1, 2, 3, 4}, {2, 2}), Hs(-1)}, {d, {2, 2}}), {2, 2}, {1, 3, 3, 7});
}

TEST(RefKernelReduce, Cumsum) {
  check_cumsum<float>();
  check_cumsum<double>();
  check_cumsum<I32>();
  check_cumsum<I64>();
}

// ============================================================================================
// Shapes and indexing
// ============================================================================================

TEST(RefKernelArray, ReshapesAliasTheInput) {
  const Tensor x = Iota<float>({2, 3});
  const Tensor r = run1("Reshape", DType::kInvalid, {x, H({3, -1})}, {kF32, {3, 2}});
  EXPECT_EQ(r.data(), x.data());
  expect_values<float>(r, {3, 2}, {0, 1, 2, 3, 4, 5});
  const Tensor e = run1("ExpandDims", DType::kInvalid, {x, Hs(-1)}, {kF32, {2, 3, 1}});
  EXPECT_EQ(e.data(), x.data());
  EXPECT_EQ(e.shape(), (Shape{2, 3, 1}));
  const Tensor s = run1("Squeeze", DType::kInvalid, {Iota<I32>({1, 2, 1})}, {kI32, {2}});
  expect_values<I32>(s, {2}, {0, 1});
}

TEST(RefKernelArray, ShapeIsProducedOnTheCpu) {
  const Tensor x = R<float>({}, {2, 0, 3});
  const Tensor s32 = run1("Shape", DType::kInvalid, {x}, {kI32, {3}}, {{"out_type", kI32}});
  EXPECT_EQ(s32.device(), Device::cpu());
  EXPECT_EQ(s32.to_vector<I32>(), (std::vector<I32>{2, 0, 3}));
  const Tensor s64 = run1("Shape", DType::kInvalid, {x}, {kI64, {3}}, {{"out_type", kI64}});
  EXPECT_EQ(s64.to_vector<I64>(), (std::vector<I64>{2, 0, 3}));
}

TEST(RefKernelArray, Transpose) {
  expect_values<float>(run1("Transpose", kF32, {Iota<float>({2, 3}), H({1, 0})}, {kF32, {3, 2}}), {3, 2},
                       {0, 3, 1, 4, 2, 5});
  // out[k, i, j] = in[i, j, k] = 12 i + 4 j + k.
  expect_values<I64>(run1("Transpose", kI64, {Iota<I64>({2, 3, 4}), H({2, 0, 1})}, {kI64, {4, 2, 3}}), {4, 2, 3},
                     {0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23});
  expect_bools(run1("Transpose", kBool, {B({1, 1, 0, 0}, {2, 2}), H({1, 0})}, {kBool, {2, 2}}), {2, 2}, {1, 0, 1, 0});
  expect_values<double>(run1("Transpose", kF64, {Iota<double>({3}), H({-1})}, {kF64, {3}}), {3}, {0, 1, 2});
}

TEST(RefKernelArray, ConcatV2) {
  const Attrs n2{{"N", I64{2}}};
  expect_values<float>(run1("ConcatV2", kF32, {R<float>({1, 2, 3, 4}, {2, 2}), R<float>({5, 6}, {2, 1}), Hs(1)},
                            {kF32, {2, 3}}, n2),
                       {2, 3}, {1, 2, 5, 3, 4, 6});
  expect_values<I32>(run1("ConcatV2", kI32, {R<I32>({1, 2, 3, 4}, {2, 2}), R<I32>({5, 6}, {2, 1}), Hs(-1)},
                          {kI32, {2, 3}}, n2),
                     {2, 3}, {1, 2, 5, 3, 4, 6});
  // A zero-size part contributes nothing.
  expect_values<double>(run1("ConcatV2", kF64, {R<double>({}, {0, 3}), Iota<double>({2, 3}), Hs(0)}, {kF64, {2, 3}}, n2),
                        {2, 3}, {0, 1, 2, 3, 4, 5});
  expect_bools(run1("ConcatV2", kBool, {B({1}, {1}), B({0, 1}, {2}), B({0}, {1}), Hs(0)}, {kBool, {4}},
                    {{"N", I64{3}}}),
               {4}, {1, 0, 1, 0});
}

TEST(RefKernelArray, PackAndSplit) {
  const auto a = R<I64>({1, 2}, {2});
  const auto b = R<I64>({3, 4}, {2});
  expect_values<I64>(run1("Pack", kI64, {a, b}, {kI64, {2, 2}}, {{"axis", I64{0}}, {"N", I64{2}}}), {2, 2}, {1, 2, 3, 4});
  expect_values<I64>(run1("Pack", kI64, {a, b}, {kI64, {2, 2}}, {{"axis", I64{1}}, {"N", I64{2}}}), {2, 2}, {1, 3, 2, 4});
  expect_values<I64>(run1("Pack", kI64, {a, b}, {kI64, {2, 2}}, {{"axis", I64{-1}}, {"N", I64{2}}}), {2, 2},
                     {1, 3, 2, 4});
  expect_values<float>(run1("Pack", kF32, {R<float>({7}, {})}, {kF32, {1}}), {1}, {7});

  const auto parts = run("Split", kF32, {Hs(1), Iota<float>({2, 4})}, {{kF32, {2, 2}}, {kF32, {2, 2}}},
                         {{"num_split", I64{2}}});
  ASSERT_EQ(parts.size(), 2u);
  expect_values<float>(parts[0], {2, 2}, {0, 1, 4, 5});
  expect_values<float>(parts[1], {2, 2}, {2, 3, 6, 7});
  const auto rows = run("Split", kI32, {Hs(0), Iota<I32>({3, 1})}, {{kI32, {1, 1}}, {kI32, {1, 1}}, {kI32, {1, 1}}},
                        {{"num_split", I64{3}}});
  expect_values<I32>(rows[2], {1, 1}, {2});
}

TEST(RefKernelArray, Slice) {
  expect_values<float>(run1("Slice", kF32, {Iota<float>({3, 4}), H({1, 1}), H({2, -1})}, {kF32, {2, 3}}), {2, 3},
                       {5, 6, 7, 9, 10, 11});
  expect_values<I32>(run1("Slice", kI32, {Iota<I32>({3, 4}), H({1, 1}), H({0, 2})}, {kI32, {0, 2}}), {0, 2}, {});
  expect_values<double>(run1("Slice", kF64, {Iota<double>({5}), H({4}), H({1})}, {kF64, {1}}), {1}, {4});
}

// StridedSlice on x = iota; the expected values are the flat indices selected.
Tensor strided(const Tensor& x, std::vector<I64> begin, std::vector<I64> end, std::vector<I64> strides, Shape out,
               I64 begin_mask = 0, I64 end_mask = 0, I64 ellipsis = 0, I64 new_axis = 0, I64 shrink = 0) {
  return run1("StridedSlice", x.dtype(), {x, H(begin), H(end), H(strides)}, {x.dtype(), std::move(out)},
              {{"begin_mask", begin_mask},
               {"end_mask", end_mask},
               {"ellipsis_mask", ellipsis},
               {"new_axis_mask", new_axis},
               {"shrink_axis_mask", shrink}});
}

TEST(RefKernelStridedSlice, BasicAndNegativeIndices) {
  const auto x = Iota<float>({5, 6});
  // x[1:4, 0:6:2]
  expect_values<float>(strided(x, {1, 0}, {4, 6}, {1, 2}, {3, 3}), {3, 3}, {6, 8, 10, 12, 14, 16, 18, 20, 22});
  // x[-3:-1, -5:-1:3] = rows 2, 3 and columns 1, 4.
  expect_values<float>(strided(x, {-3, -5}, {-1, -1}, {1, 3}, {2, 2}), {2, 2}, {13, 16, 19, 22});
  // Out-of-range bounds clamp: y[-10:10].
  expect_values<float>(strided(Iota<float>({4}), {-10}, {10}, {1}, {4}), {4}, {0, 1, 2, 3});
  // Only the first entry given: the other dimensions are taken whole.
  expect_values<float>(strided(x, {4}, {5}, {1}, {1, 6}), {1, 6}, {24, 25, 26, 27, 28, 29});
}

TEST(RefKernelStridedSlice, NegativeStrides) {
  const auto y = Iota<I32>({7});
  // y[6:0:-2]: the end is exclusive.
  expect_values<I32>(strided(y, {6}, {0}, {-2}, {3}), {3}, {6, 4, 2});
  // y[::-1] with begin and end masked.
  expect_values<I32>(strided(y, {0}, {0}, {-1}, {7}, 1, 1), {7}, {6, 5, 4, 3, 2, 1, 0});
  // y[::-3]
  expect_values<I32>(strided(y, {0}, {0}, {-3}, {3}, 1, 1), {3}, {6, 3, 0});
  // y[3:-1:-1] is empty: end -1 means index 6, which lies after 3.
  expect_values<I32>(strided(y, {3}, {-1}, {-1}, {0}), {0}, {});
  // y[-2::-2] (end masked): 5, 3, 1.
  expect_values<I32>(strided(y, {-2}, {0}, {-2}, {3}, 0, 1), {3}, {5, 3, 1});
  // y[100:2:-1]: begin clamps to the last index.
  expect_values<I32>(strided(y, {100}, {2}, {-1}, {4}), {4}, {6, 5, 4, 3});
  // 2-D: x[::-1, 1:3] on [3, 4].
  expect_values<I64>(strided(Iota<I64>({3, 4}), {0, 1}, {0, 3}, {-1, 1}, {3, 2}, 1, 1), {3, 2}, {9, 10, 5, 6, 1, 2});
}

TEST(RefKernelStridedSlice, Masks) {
  const auto x = Iota<float>({4, 5});
  // x[2, 1:4] (shrink dimension 0).
  expect_values<float>(strided(x, {2, 1}, {3, 4}, {1, 1}, {3}, 0, 0, 0, 0, 1), {3}, {11, 12, 13});
  // x[-1] (shrink with a negative index; the rest whole).
  expect_values<float>(strided(x, {-1}, {0}, {1}, {5}, 0, 0, 0, 0, 1), {5}, {15, 16, 17, 18, 19});
  // x[1, 2] (both shrunk): a scalar.
  expect_values<float>(strided(x, {1, 2}, {2, 3}, {1, 1}, {}, 0, 0, 0, 0, 3), {}, {7});
  // x[tf.newaxis, 0:4, 1:3].
  expect_values<float>(strided(x, {0, 0, 1}, {0, 4, 3}, {1, 1, 1}, {1, 4, 2}, 0, 0, 0, 1), {1, 4, 2},
                       {1, 2, 6, 7, 11, 12, 16, 17});
  // z[..., 1:3] on [2, 3, 4]: the ellipsis covers the first two dimensions.
  expect_values<float>(strided(Iota<float>({2, 3, 4}), {0, 1}, {0, 3}, {1, 1}, {2, 3, 2}, 0, 0, 1), {2, 3, 2},
                       {1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22});
  // z[0, ..., 2]: shrink before and after an ellipsis.
  expect_values<float>(strided(Iota<float>({2, 3, 4}), {0, 0, 2}, {1, 0, 3}, {1, 1, 1}, {3}, 0, 0, 2, 0, 5), {3},
                       {2, 6, 10});
  // x[..., ::-1, tf.newaxis] on [2, 3]: ellipsis covers dimension 0.
  expect_values<double>(strided(Iota<double>({2, 3}), {0, 0, 0}, {0, 0, 0}, {1, -1, 1}, {2, 3, 1}, 2, 2, 1, 4), {2, 3, 1},
                        {2, 1, 0, 5, 4, 3});
  // x[:3:2, 2:] with begin_mask bit 0 and end_mask bit 1.
  expect_values<float>(strided(x, {9, 2}, {3, 99}, {2, 1}, {2, 3}, 1, 2), {2, 3}, {2, 3, 4, 12, 13, 14});
  // Bool elements.
  expect_bools(strided(B({1, 0, 0}, {3}), {0}, {0}, {-1}, {3}, 1, 1), {3}, {0, 0, 1});
}

TEST(RefKernelStridedSlice, Grad) {
  const Attrs none{{"begin_mask", I64{0}}, {"end_mask", I64{0}}, {"ellipsis_mask", I64{0}}, {"new_axis_mask", I64{0}},
                   {"shrink_axis_mask", I64{0}}};
  // Forward y[3:0:-2] of a [4] tensor reads positions 3 and 1.
  expect_values<float>(run1("StridedSliceGrad", kF32, {H({4}), H({3}), H({0}), H({-2}), R<float>({10, 20}, {2})},
                            {kF32, {4}}, none),
                       {4}, {0, 20, 0, 10});
  // Forward x[1] of a [2, 3] tensor (shrink): dy of shape [3] goes to row 1.
  Attrs shrink = none;
  shrink.set("shrink_axis_mask", I64{1});
  expect_values<I64>(run1("StridedSliceGrad", kI64, {H({2, 3}), H({1}), H({2}), H({1}), R<I64>({1, 2, 3}, {3})},
                          {kI64, {2, 3}}, shrink),
                     {2, 3}, {0, 0, 0, 1, 2, 3});
}

TEST(RefKernelArray, PadTileBroadcastTo) {
  expect_values<float>(run1("Pad", kF32, {R<float>({1, 2, 3, 4}, {2, 2}), H2({1, 0, 0, 2}, {2, 2})}, {kF32, {3, 4}}),
                       {3, 4}, {0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0});
  expect_bools(run1("Pad", kBool, {B({1}, {1}), H2({1, 1}, {1, 2})}, {kBool, {3}}), {3}, {0, 1, 0});
  expect_values<I32>(run1("Tile", kI32, {R<I32>({1, 2}, {2}), H({3})}, {kI32, {6}}), {6}, {1, 2, 1, 2, 1, 2});
  expect_values<double>(run1("Tile", kF64, {R<double>({1, 2}, {2, 1}), H({2, 3})}, {kF64, {4, 3}}), {4, 3},
                        {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2});
  expect_values<I64>(run1("BroadcastTo", kI64, {R<I64>({1, 2, 3}, {3, 1}), H({2, 3, 2})}, {kI64, {2, 3, 2}}), {2, 3, 2},
                     {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  expect_values<float>(run1("BroadcastTo", kF32, {R<float>({5}, {}), H({0, 2})}, {kF32, {0, 2}}), {0, 2}, {});
}

TEST(RefKernelGather, Axis0And1) {
  // params row r = {2r, 2r + 1}.
  expect_values<float>(run1("GatherV2", kF32, {Iota<float>({5, 2}), R<I32>({4, 0, 2, 2}, {2, 2}), Hs(0)},
                            {kF32, {2, 2, 2}}),
                       {2, 2, 2}, {8, 9, 0, 1, 4, 5, 4, 5});
  // params[i][j][k] = 12 i + 3 j + k; gather j in {3, 1, 3}.
  expect_values<I64>(run1("GatherV2", kI64, {Iota<I64>({2, 4, 3}), R<I64>({3, 1, 3}, {3}), Hs(1)}, {kI64, {2, 3, 3}}),
                     {2, 3, 3}, {9, 10, 11, 3, 4, 5, 9, 10, 11, 21, 22, 23, 15, 16, 17, 21, 22, 23});
  // A scalar index drops the axis; a negative axis counts from the end.
  expect_values<double>(run1("GatherV2", kF64, {Iota<double>({2, 3}), R<I64>({2}, {}), Hs(-1)}, {kF64, {2}}), {2}, {2, 5});
  expect_bools(run1("GatherV2", kBool, {B({1, 0, 0}, {3}), R<I32>({2, 0}, {2}), Hs(0)}, {kBool, {2}}), {2}, {0, 1});
}

TEST(RefKernelGather, BatchDims) {
  // out[b, i, k] = params[b, indices[b, i], k] with params [2, 4, 3] = iota.
  expect_values<I32>(run1("GatherV2", kI32, {Iota<I32>({2, 4, 3}), R<I32>({0, 3, 2, 2}, {2, 2}), Hs(1)}, {kI32, {2, 2, 3}},
                          {{"batch_dims", I64{1}}}),
                     {2, 2, 3}, {0, 1, 2, 9, 10, 11, 18, 19, 20, 18, 19, 20});
  // batch_dims = -1 with rank-2 indices means 1.
  expect_values<I32>(run1("GatherV2", kI32, {Iota<I32>({2, 4, 3}), R<I32>({0, 3, 2, 2}, {2, 2}), Hs(1)}, {kI32, {2, 2, 3}},
                          {{"batch_dims", I64{-1}}}),
                     {2, 2, 3}, {0, 1, 2, 9, 10, 11, 18, 19, 20, 18, 19, 20});
  // batch_dims 1 with the axis after an outer dimension: params [2, 2, 3], axis 2,
  // indices [2, 1]: out[b, a, i] = params[b, a, indices[b, i]].
  expect_values<float>(run1("GatherV2", kF32, {Iota<float>({2, 2, 3}), R<I64>({2, 0}, {2, 1}), Hs(2)}, {kF32, {2, 2, 1}},
                            {{"batch_dims", I64{1}}}),
                       {2, 2, 1}, {2, 5, 6, 9});
}

TEST(RefKernelGather, IndexOutOfRangeIsABackendError) {
  for (double bad : {5.0, -1.0}) {
    try {
      run1("GatherV2", kF32, {Iota<float>({5, 2}), R<I32>({1, bad}, {2}), Hs(0)}, {kF32, {2, 2}});
      ADD_FAILURE() << "no error for index " << bad;
    } catch (const BackendError& e) {
      EXPECT_NE(std::string(e.what()).find("GatherV2"), std::string::npos) << e.what();
    }
  }
}

TEST(RefKernelArray, UnsortedSegmentSum) {
  // Rows 0 and 2 go to segment 0, row 1 to segment 2; ids 7 and -1 are dropped.
  const auto ids = R<I64>({0, 2, 0, 7, -1}, {5});
  expect_values<float>(run1("UnsortedSegmentSum", kF32, {Iota<float>({5, 2}), ids, Hs(3)}, {kF32, {3, 2}}), {3, 2},
                       {4, 6, 0, 0, 2, 3});
  expect_values<I32>(run1("UnsortedSegmentSum", kI32, {R<I32>({1, 2, 3}, {3}), R<I32>({1, 1, 0}, {3}), Hs(2)},
                          {kI32, {2}}),
                     {2}, {3, 3});
  // Ids of rank 2 index the first two dimensions.
  expect_values<double>(run1("UnsortedSegmentSum", kF64, {Iota<double>({2, 2}), R<I32>({1, 0, 1, 1}, {2, 2}), Hs(2)},
                             {kF64, {2}}),
                        {2}, {1, 5});
}

TEST(RefKernelArray, OneHot) {
  const auto idx = R<I64>({0, 2, 5, 1}, {4});
  expect_values<I32>(run1("OneHot", kI32, {idx, Hs(3), R<I32>({5}, {}), R<I32>({-1}, {})}, {kI32, {4, 3}},
                          {{"axis", I64{-1}}}),
                     {4, 3}, {5, -1, -1, -1, -1, 5, -1, -1, -1, -1, 5, -1});
  expect_values<float>(run1("OneHot", kF32, {idx, Hs(3), R<float>({5}, {}), R<float>({-1}, {})}, {kF32, {3, 4}},
                            {{"axis", I64{0}}}),
                       {3, 4}, {5, -1, -1, -1, -1, -1, -1, 5, -1, 5, -1, -1});
  // axis 1 of a [2, 1] index tensor: out[i, d, j].
  expect_values<double>(run1("OneHot", kF64, {R<I32>({1, 0}, {2, 1}), Hs(2), R<double>({1}, {}), R<double>({0}, {})},
                             {kF64, {2, 2, 1}}, {{"axis", I64{1}}}),
                        {2, 2, 1}, {0, 1, 1, 0});
  expect_bools(run1("OneHot", kBool, {R<I32>({-1, 1}, {2}), Hs(2), B({1}, {}), B({0}, {})}, {kBool, {2, 2}}), {2, 2},
               {0, 0, 0, 1});
}

TEST(RefKernelArray, FillZerosLikeOnesLike) {
  expect_values<I64>(run1("Fill", kI64, {H({2, 3}), R<I64>({7}, {})}, {kI64, {2, 3}}), {2, 3}, {7, 7, 7, 7, 7, 7});
  expect_values<float>(run1("Fill", kF32, {H({0}), R<float>({7}, {})}, {kF32, {0}}), {0}, {});
  expect_bools(run1("Fill", kBool, {H({2}), B({1}, {})}, {kBool, {2}}), {2}, {1, 1});
  expect_values<I32>(run1("ZerosLike", kI32, {R<I32>({4, 5}, {2})}, {kI32, {2}}), {2}, {0, 0});
  expect_values<double>(run1("OnesLike", kF64, {R<double>({4, 5}, {2})}, {kF64, {2}}), {2}, {1, 1});
  expect_bools(run1("OnesLike", kBool, {B({0, 0}, {2})}, {kBool, {2}}), {2}, {1, 1});
  expect_bools(run1("ZerosLike", kBool, {B({1}, {1})}, {kBool, {1}}), {1}, {0});
}

// ============================================================================================
// Neural network: matrix products, bias, softmax
// ============================================================================================

template <class T>
void check_matmul() {
  const DType d = dtype_of<T>;
  const auto a = R<T>({1, 2, 3, 4, 5, 6}, {2, 3});
  const auto at = R<T>({1, 4, 2, 5, 3, 6}, {3, 2});
  const auto b = R<T>({7, 8, 9, 10, 11, 12}, {3, 2});
  const auto bt = R<T>({7, 9, 11, 8, 10, 12}, {2, 3});
  const std::vector<double> expected{58, 64, 139, 154};
  expect_values<T>(run1("MatMul", d, {a, b}, {d, {2, 2}}), {2, 2}, expected);
  expect_values<T>(run1("MatMul", d, {at, b}, {d, {2, 2}}, {{"transpose_a", true}}), {2, 2}, expected);
  expect_values<T>(run1("MatMul", d, {a, bt}, {d, {2, 2}}, {{"transpose_b", true}}), {2, 2}, expected);
  expect_values<T>(run1("MatMul", d, {at, bt}, {d, {2, 2}}, {{"transpose_a", true}, {"transpose_b", true}}), {2, 2},
                   expected);
  // Zero-size: no rows; and K = 0, which gives zeros.
  expect_values<T>(run1("MatMul", d, {R<T>({}, {0, 3}), b}, {d, {0, 2}}), {0, 2}, {});
  expect_values<T>(run1("MatMul", d, {R<T>({}, {2, 0}), R<T>({}, {0, 3})}, {d, {2, 3}}), {2, 3}, {0, 0, 0, 0, 0, 0});
}

TEST(RefKernelNN, MatMul) {
  check_matmul<float>();
  check_matmul<double>();
  check_matmul<I32>();
  check_matmul<I64>();
}

template <class T>
void check_batch_matmul() {
  const DType d = dtype_of<T>;
  // Batch 0: [[1,2],[3,4]]·[[5,6],[7,8]]; batch 1: the swap [[0,1],[1,0]]·[[5,6],[7,8]].
  const auto x = R<T>({1, 2, 3, 4, 0, 1, 1, 0}, {2, 2, 2});
  const auto y = R<T>({5, 6, 7, 8}, {2, 2});
  const std::vector<double> expected{19, 22, 43, 50, 7, 8, 5, 6};
  expect_values<T>(run1("BatchMatMulV2", d, {x, y}, {d, {2, 2, 2}}), {2, 2, 2}, expected);
  const auto yt = R<T>({5, 7, 6, 8}, {1, 2, 2});
  expect_values<T>(run1("BatchMatMulV2", d, {x, yt}, {d, {2, 2, 2}}, {{"adj_y", true}}), {2, 2, 2}, expected);
  const auto xt = R<T>({1, 3, 2, 4, 0, 1, 1, 0}, {2, 2, 2});
  expect_values<T>(run1("BatchMatMulV2", d, {xt, yt}, {d, {2, 2, 2}}, {{"adj_x", true}, {"adj_y", true}}), {2, 2, 2},
                   expected);
  // Batch broadcasting [2, 1] x [3]: out[i, j] = x_i · y_j.
  const auto xr = R<T>({1, 2, 3, 4}, {2, 1, 1, 2});
  const auto yc = R<T>({1, 1, 2, 0, 0, 3}, {3, 2, 1});
  expect_values<T>(run1("BatchMatMulV2", d, {xr, yc}, {d, {2, 3, 1, 1}}), {2, 3, 1, 1}, {3, 2, 6, 7, 6, 12});
}

TEST(RefKernelNN, BatchMatMulV2) {
  check_batch_matmul<float>();
  check_batch_matmul<double>();
}

template <class T>
void check_bias_softmax() {
  const DType d = dtype_of<T>;
  const Attrs nhwc{{"data_format", std::string("NHWC")}};
  expect_values<T>(run1("BiasAdd", d, {R<T>({1, 2, 3, 4, 5, 6}, {2, 3}), R<T>({10, 20, 30}, {3})}, {d, {2, 3}}, nhwc),
                   {2, 3}, {11, 22, 33, 14, 25, 36});
  // Per channel: 1+4+7+10, 2+5+8+11, 3+6+9+12.
  expect_values<T>(run1("BiasAddGrad", d, {R<T>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 2, 3})}, {d, {3}}, nhwc),
                   {3}, {22, 26, 30});
  // softmax(0, ln 3) = (1/4, 3/4); softmax(1000, 1000) needs the max subtracted.
  const double ln3 = std::log(3.0);
  const auto logits = R<T>({0, ln3, 1000, 1000}, {2, 2});
  expect_values<T>(run1("Softmax", d, {logits}, {d, {2, 2}}), {2, 2}, {0.25, 0.75, 0.5, 0.5});
  expect_values<T>(run1("LogSoftmax", d, {logits}, {d, {2, 2}}), {2, 2},
                   {std::log(0.25), std::log(0.75), -std::log(2.0), -std::log(2.0)});
  // Σ grad·softmax = 0.25 + 1.5 = 1.75: ((1 − 1.75)·0.25, (2 − 1.75)·0.75).
  expect_values<T>(run1("SoftmaxGrad", d, {R<T>({0.25, 0.75}, {1, 2}), R<T>({1, 2}, {1, 2})}, {d, {1, 2}}), {1, 2},
                   {-0.1875, 0.1875});
}

TEST(RefKernelNN, BiasAndSoftmax) {
  check_bias_softmax<float>();
  check_bias_softmax<double>();
}

// ============================================================================================
// Convolutions
// ============================================================================================

Attrs conv_attrs(I64 stride, const char* padding, I64 dh = 1, I64 dw = 1) {
  return {{"strides", std::vector<I64>{1, stride, stride, 1}},
          {"padding", std::string(padding)},
          {"data_format", std::string("NHWC")},
          {"dilations", std::vector<I64>{1, dh, dw, 1}}};
}

// x[i][j] = 4 i + j + 1 on a 4×4 single-channel image.
template <class T>
Tensor image4x4() {
  std::vector<double> v;
  for (int i = 1; i <= 16; ++i) v.push_back(i);
  return R<T>(v, {1, 4, 4, 1});
}
template <class T>
Tensor ones(const Shape& s) {
  return R<T>(std::vector<double>(static_cast<std::size_t>(s.num_elements()), 1.0), s);
}

template <class T>
void check_conv2d() {
  const DType d = dtype_of<T>;
  // VALID, stride 1: filter [[1,0],[0,1]] adds each pixel to its lower-right neighbour.
  const auto x3 = R<T>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1});
  const auto diag = R<T>({1, 0, 0, 1}, {2, 2, 1, 1});
  expect_values<T>(run1("Conv2D", d, {x3, diag}, {d, {1, 2, 2, 1}}, conv_attrs(1, "VALID")), {1, 2, 2, 1},
                   {6, 8, 12, 14});
  // 3×3 ones on 4×4, stride 2. VALID: one window (rows/cols 0-2). SAME: 2×2 outputs,
  // total padding 1 per side placed after: windows at rows/cols {0-2, 2-4}.
  expect_values<T>(run1("Conv2D", d, {image4x4<T>(), ones<T>({3, 3, 1, 1})}, {d, {1, 1, 1, 1}}, conv_attrs(2, "VALID")),
                   {1, 1, 1, 1}, {54});
  expect_values<T>(run1("Conv2D", d, {image4x4<T>(), ones<T>({3, 3, 1, 1})}, {d, {1, 2, 2, 1}}, conv_attrs(2, "SAME")),
                   {1, 2, 2, 1}, {54, 45, 72, 54});
  // SAME, stride 1, 3×3 ones on 3×3: padding 1 on every side.
  expect_values<T>(run1("Conv2D", d, {x3, ones<T>({3, 3, 1, 1})}, {d, {1, 3, 3, 1}}, conv_attrs(1, "SAME")),
                   {1, 3, 3, 1}, {12, 21, 16, 27, 45, 33, 24, 39, 28});
  // HWIO channels: out[co] = 1·f[0][co] + 2·f[1][co].
  expect_values<T>(run1("Conv2D", d, {R<T>({1, 2}, {1, 1, 1, 2}), R<T>({1, 2, 3, 4, 5, 6}, {1, 1, 2, 3})},
                        {d, {1, 1, 1, 3}}, conv_attrs(1, "VALID")),
                   {1, 1, 1, 3}, {9, 12, 15});
  // Dilation 2 along the width: taps j and j + 2.
  expect_values<T>(run1("Conv2D", d, {R<T>({1, 2, 3, 4, 5}, {1, 1, 5, 1}), R<T>({1, 1}, {1, 2, 1, 1})},
                        {d, {1, 1, 3, 1}}, conv_attrs(1, "VALID", 1, 2)),
                   {1, 1, 3, 1}, {4, 6, 8});
  // Two images in a batch are independent.
  expect_values<T>(run1("Conv2D", d, {R<T>({1, 2, 3, 4}, {2, 1, 2, 1}), R<T>({1, 10}, {1, 2, 1, 1})}, {d, {2, 1, 1, 1}},
                        conv_attrs(1, "VALID")),
                   {2, 1, 1, 1}, {21, 43});
}

template <class T>
void check_conv2d_backprops() {
  const DType d = dtype_of<T>;
  const auto diag = R<T>({1, 0, 0, 1}, {2, 2, 1, 1});
  // dx[i][j] = Σ dy[oh][ow] f[i-oh][j-ow]: dy lands at (oh, ow) and at (oh+1, ow+1).
  expect_values<T>(run1("Conv2DBackpropInput", d, {H({1, 3, 3, 1}), diag, R<T>({1, 2, 3, 4}, {1, 2, 2, 1})},
                        {d, {1, 3, 3, 1}}, conv_attrs(1, "VALID")),
                   {1, 3, 3, 1}, {1, 2, 0, 3, 5, 2, 0, 3, 4});
  // SAME stride 2, 3×3 ones: each dy is spread over the real pixels of its window.
  expect_values<T>(run1("Conv2DBackpropInput", d, {H({1, 4, 4, 1}), ones<T>({3, 3, 1, 1}), R<T>({1, 2, 3, 4}, {1, 2, 2, 1})},
                        {d, {1, 4, 4, 1}}, conv_attrs(2, "SAME")),
                   {1, 4, 4, 1}, {1, 1, 3, 2, 1, 1, 3, 2, 4, 4, 10, 6, 3, 3, 7, 4});
  // df[kh][kw] = Σ x[oh+kh][ow+kw] dy[oh][ow].
  const auto x3 = R<T>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1});
  expect_values<T>(run1("Conv2DBackpropFilter", d, {x3, H({2, 2, 1, 1}), ones<T>({1, 2, 2, 1})}, {d, {2, 2, 1, 1}},
                        conv_attrs(1, "VALID")),
                   {2, 2, 1, 1}, {12, 16, 24, 28});
  // SAME stride 2: df[kh][kw] = 1·x[kh][kw] + 2·x[kh][2+kw] + 3·x[2+kh][kw] + 4·x[2+kh][2+kw],
  // padding positions counting 0.
  expect_values<T>(run1("Conv2DBackpropFilter", d, {image4x4<T>(), H({3, 3, 1, 1}), R<T>({1, 2, 3, 4}, {1, 2, 2, 1})},
                        {d, {3, 3, 1, 1}}, conv_attrs(2, "SAME")),
                   {3, 3, 1, 1}, {78, 88, 36, 118, 128, 52, 31, 34, 11});
  // Channels: df[0][0][ci][co] = x[ci] · dy[co].
  expect_values<T>(run1("Conv2DBackpropFilter", d, {R<T>({1, 2}, {1, 1, 1, 2}), H({1, 1, 2, 3}), R<T>({1, 10, 100}, {1, 1, 1, 3})},
                        {d, {1, 1, 2, 3}}, conv_attrs(1, "VALID")),
                   {1, 1, 2, 3}, {1, 10, 100, 2, 20, 200});
}

TEST(RefKernelConv, Conv2D) {
  check_conv2d<float>();
  check_conv2d<double>();
}

TEST(RefKernelConv, Conv2DBackprops) {
  check_conv2d_backprops<float>();
  check_conv2d_backprops<double>();
}

template <class T>
void check_depthwise() {
  const DType d = dtype_of<T>;
  // Input [1, 2, 2, 2]: channel 0 = 1, 2, 3, 4 and channel 1 = 10, 20, 30, 40 over the
  // four positions. Filter [2, 2, 2, 2] per tap t = 2 kh + kw as (c0m0, c0m1, c1m0, c1m1):
  // (1, t == 0, t == 3, 1).
  const auto x = R<T>({1, 10, 2, 20, 3, 30, 4, 40}, {1, 2, 2, 2});
  const auto f = R<T>({1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1}, {2, 2, 2, 2});
  // Output channel c·2 + m: (1+2+3+4, 1, 40, 10+20+30+40).
  expect_values<T>(run1("DepthwiseConv2dNative", d, {x, f}, {d, {1, 1, 1, 4}}, conv_attrs(1, "VALID")), {1, 1, 1, 4},
                   {10, 1, 40, 100});
  // dx[t][c0] = 1·f[t][c0][0] + 2·f[t][c0][1]; dx[t][c1] = 3·f[t][c1][0] + 4·f[t][c1][1].
  expect_values<T>(run1("DepthwiseConv2dNativeBackpropInput", d, {H({1, 2, 2, 2}), f, R<T>({1, 2, 3, 4}, {1, 1, 1, 4})},
                        {d, {1, 2, 2, 2}}, conv_attrs(1, "VALID")),
                   {1, 2, 2, 2}, {3, 4, 1, 4, 1, 4, 1, 7});
  // df[t][c][m] = x[t][c] · dy[2c + m].
  expect_values<T>(run1("DepthwiseConv2dNativeBackpropFilter", d, {x, H({2, 2, 2, 2}), R<T>({1, 2, 3, 4}, {1, 1, 1, 4})},
                        {d, {2, 2, 2, 2}}, conv_attrs(1, "VALID")),
                   {2, 2, 2, 2}, {1, 2, 30, 40, 2, 4, 60, 80, 3, 6, 90, 120, 4, 8, 120, 160});
  // With one channel and M = 1 it is Conv2D: the SAME stride-2 case above.
  expect_values<T>(run1("DepthwiseConv2dNative", d, {image4x4<T>(), ones<T>({3, 3, 1, 1})}, {d, {1, 2, 2, 1}},
                        conv_attrs(2, "SAME")),
                   {1, 2, 2, 1}, {54, 45, 72, 54});
  expect_values<T>(run1("DepthwiseConv2dNativeBackpropInput", d,
                        {H({1, 4, 4, 1}), ones<T>({3, 3, 1, 1}), R<T>({1, 2, 3, 4}, {1, 2, 2, 1})}, {d, {1, 4, 4, 1}},
                        conv_attrs(2, "SAME")),
                   {1, 4, 4, 1}, {1, 1, 3, 2, 1, 1, 3, 2, 4, 4, 10, 6, 3, 3, 7, 4});
  expect_values<T>(run1("DepthwiseConv2dNativeBackpropFilter", d,
                        {image4x4<T>(), H({3, 3, 1, 1}), R<T>({1, 2, 3, 4}, {1, 2, 2, 1})}, {d, {3, 3, 1, 1}},
                        conv_attrs(2, "SAME")),
                   {3, 3, 1, 1}, {78, 88, 36, 118, 128, 52, 31, 34, 11});
}

TEST(RefKernelConv, Depthwise) {
  check_depthwise<float>();
  check_depthwise<double>();
}

// ============================================================================================
// Pooling
// ============================================================================================

Attrs pool_attrs(I64 kh, I64 kw, I64 stride, const char* padding) {
  return {{"ksize", std::vector<I64>{1, kh, kw, 1}},
          {"strides", std::vector<I64>{1, stride, stride, 1}},
          {"padding", std::string(padding)},
          {"data_format", std::string("NHWC")}};
}

template <class T>
void check_pools() {
  const DType d = dtype_of<T>;
  const auto x = image4x4<T>();
  expect_values<T>(run1("MaxPool", d, {x}, {d, {1, 2, 2, 1}}, pool_attrs(2, 2, 2, "VALID")), {1, 2, 2, 1},
                   {6, 8, 14, 16});
  // 3×3 stride 2: VALID has one window; SAME windows are rows/cols {0-2, 2-3}.
  expect_values<T>(run1("MaxPool", d, {x}, {d, {1, 1, 1, 1}}, pool_attrs(3, 3, 2, "VALID")), {1, 1, 1, 1}, {11});
  expect_values<T>(run1("MaxPool", d, {x}, {d, {1, 2, 2, 1}}, pool_attrs(3, 3, 2, "SAME")), {1, 2, 2, 1},
                   {11, 12, 15, 16});
  // Padding never wins the max, even against negative values.
  const auto neg = R<T>({-5, -6, -7, -8}, {1, 2, 2, 1});
  expect_values<T>(run1("MaxPool", d, {neg}, {d, {1, 2, 2, 1}}, pool_attrs(2, 2, 1, "SAME")), {1, 2, 2, 1},
                   {-5, -6, -7, -8});

  expect_values<T>(run1("AvgPool", d, {x}, {d, {1, 2, 2, 1}}, pool_attrs(2, 2, 2, "VALID")), {1, 2, 2, 1},
                   {3.5, 5.5, 11.5, 13.5});
  // SAME divides by the real elements: 54/9, 45/6, 72/6, 54/4.
  expect_values<T>(run1("AvgPool", d, {x}, {d, {1, 2, 2, 1}}, pool_attrs(3, 3, 2, "SAME")), {1, 2, 2, 1},
                   {6, 7.5, 12, 13.5});
  // Two channels pool separately.
  expect_values<T>(run1("AvgPool", d, {R<T>({1, 10, 3, 30}, {1, 1, 2, 2})}, {d, {1, 1, 1, 2}}, pool_attrs(1, 2, 1, "VALID")),
                   {1, 1, 1, 2}, {2, 20});

  // AvgPoolGrad, SAME 3×3 stride 2, grad (1, 2, 3, 4): shares 1/9, 2/6, 3/6, 4/4.
  const double a = 1.0 / 9, b = 2.0 / 6, c = 3.0 / 6, e = 4.0 / 4;
  expect_values<T>(run1("AvgPoolGrad", d, {H({1, 4, 4, 1}), R<T>({1, 2, 3, 4}, {1, 2, 2, 1})}, {d, {1, 4, 4, 1}},
                        pool_attrs(3, 3, 2, "SAME")),
                   {1, 4, 4, 1},
                   {a, a, a + b, b, a, a, a + b, b, a + c, a + c, a + b + c + e, b + e, c, c, c + e, e});
  expect_values<T>(run1("AvgPoolGrad", d, {H({1, 2, 2, 1}), R<T>({8}, {1, 1, 1, 1})}, {d, {1, 2, 2, 1}},
                        pool_attrs(2, 2, 2, "VALID")),
                   {1, 2, 2, 1}, {2, 2, 2, 2});
}

template <class T>
void check_max_pool_grad() {
  const DType d = dtype_of<T>;
  // 2×2 stride 2 on [2, 4] with ties: window 0 holds 1 3 / 2 3 → first max at (0, 1);
  // window 1 holds 3 0 / 1 3 → first max at (0, 2).
  const auto x = R<T>({1, 3, 3, 0, 2, 3, 1, 3}, {1, 2, 4, 1});
  expect_values<T>(run1("MaxPoolGrad", d, {x, R<T>({3, 3}, {1, 1, 2, 1}), R<T>({10, 20}, {1, 1, 2, 1})},
                        {d, {1, 2, 4, 1}}, pool_attrs(2, 2, 2, "VALID")),
                   {1, 2, 4, 1}, {0, 10, 20, 0, 0, 0, 0, 0});
  // Overlapping windows over equal values: each window picks its own first element, and
  // gradients reaching one position add up.
  expect_values<T>(run1("MaxPoolGrad", d, {R<T>({5, 5, 5}, {1, 1, 3, 1}), R<T>({5, 5}, {1, 1, 2, 1}), R<T>({1, 2}, {1, 1, 2, 1})},
                        {d, {1, 1, 3, 1}}, pool_attrs(1, 2, 1, "VALID")),
                   {1, 1, 3, 1}, {1, 2, 0});
  expect_values<T>(run1("MaxPoolGrad", d, {R<T>({1, 9, 2}, {1, 1, 3, 1}), R<T>({9, 9}, {1, 1, 2, 1}), R<T>({1, 2}, {1, 1, 2, 1})},
                        {d, {1, 1, 3, 1}}, pool_attrs(1, 2, 1, "VALID")),
                   {1, 1, 3, 1}, {0, 3, 0});
  // SAME padding never takes the gradient.
  expect_values<T>(run1("MaxPoolGrad", d, {R<T>({-5, -6, -7, -8}, {1, 2, 2, 1}), R<T>({-5, -6, -7, -8}, {1, 2, 2, 1}),
                                           R<T>({1, 2, 3, 4}, {1, 2, 2, 1})},
                        {d, {1, 2, 2, 1}}, pool_attrs(2, 2, 1, "SAME")),
                   {1, 2, 2, 1}, {1, 2, 3, 4});
  // SAME stride 2, 3×3 on the 4×4 image: the maxima 11, 12, 15, 16 take the gradients.
  expect_values<T>(run1("MaxPoolGrad", d, {image4x4<T>(), R<T>({11, 12, 15, 16}, {1, 2, 2, 1}), R<T>({1, 2, 3, 4}, {1, 2, 2, 1})},
                        {d, {1, 4, 4, 1}}, pool_attrs(3, 3, 2, "SAME")),
                   {1, 4, 4, 1}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4});
}

TEST(RefKernelPool, MaxAndAvg) {
  check_pools<float>();
  check_pools<double>();
}

TEST(RefKernelPool, MaxPoolGradRoutesToTheFirstMaximum) {
  check_max_pool_grad<float>();
  check_max_pool_grad<double>();
}

// ============================================================================================
// Random ops: Random123's known answer for Philox4x32-10 with counter 0 and key 0 is
// (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8); seed = seed2 = 0, element 0 uses it.
// ============================================================================================

TEST(RefKernelRandom, PhiloxKnownAnswers) {
  EXPECT_EQ(philox::philox4x32_10({0, 0, 0, 0}, 0, 0), (philox::Words{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox::philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, 0xffffffff, 0xffffffff),
            (philox::Words{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox::philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, 0xa4093822, 0x299f31d0),
            (philox::Words{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(RefKernelRandom, ValuesFollowOpsMd) {
  const Attrs zero{{"seed", I64{0}}, {"seed2", I64{0}}};
  const std::uint64_t w0 = 0x6627e8d5, w1 = 0xe169c58d, w2 = 0xbc57ac4c, w3 = 0x9b00dbd8;
  // uniform float32 = (word0 >> 8) · 2^-24; float64 = 53 bits of word0:word1 · 2^-53.
  const double u32 = static_cast<double>(w0 >> 8) / 16777216.0;
  const double u64 = static_cast<double>(((w0 << 32) | w1) >> 11) / 9007199254740992.0;
  expect_values<float>(run1("RandomUniform", kF32, {H({1})}, {kF32, {1}}, {{"dtype", kF32}, {"seed", I64{0}}, {"seed2", I64{0}}}),
                       {1}, {u32}, 0, 0);
  expect_values<double>(run1("RandomUniform", kF64, {H({1})}, {kF64, {1}}, {{"dtype", kF64}, {"seed", I64{0}}, {"seed2", I64{0}}}),
                        {1}, {u64}, 0, 0);
  // normal = Box–Muller on (1 − u(word0:word1), u(word2:word3)).
  const double v = static_cast<double>(((w2 << 32) | w3) >> 11) / 9007199254740992.0;
  const double z = std::sqrt(-2.0 * std::log(1.0 - u64)) * std::cos(2.0 * 3.14159265358979323846 * v);
  ASSERT_LE(std::fabs(z), 2.0);  // so the truncated normal keeps the first draw
  for (const char* op : {"RandomStandardNormal", "TruncatedNormal"}) {
    expect_values<double>(run1(op, kF64, {H({1})}, {kF64, {1}}, zero), {1}, {z}, 1e-15, 1e-15);
    expect_values<float>(run1(op, kF32, {H({1})}, {kF32, {1}}, zero), {1}, {z}, 1e-7, 1e-8);
  }
}

TEST(RefKernelRandom, SeedsMakeTheKeyAndIndicesTheCounter) {
  // key = (lo32(seed) ⊕ hi32(seed2), lo32(seed2) ⊕ hi32(seed)); counter = (lo32(i), hi32(i), 0, 0).
  const I64 seed = (I64{5} << 32) | 7, seed2 = (I64{11} << 32) | 13;
  const auto got = run1("RandomUniform", kF32, {H({2, 2})}, {kF32, {2, 2}}, {{"seed", seed}, {"seed2", seed2}}).to_vector<float>();
  for (std::uint32_t i = 0; i < 4; ++i) {
    const philox::Words w = philox::philox4x32_10({i, 0, 0, 0}, 7u ^ 11u, 13u ^ 5u);
    EXPECT_EQ(got[i], static_cast<float>(w[0] >> 8) / 16777216.0f) << "element " << i;
  }
}

TEST(RefKernelRandom, TruncatedNormalStaysWithinTwo) {
  const Tensor t = run1("TruncatedNormal", kF64, {H({4000})}, {kF64, {4000}}, {{"seed", I64{1234}}, {"seed2", I64{99}}});
  int beyond_one = 0;
  for (double x : t.to_vector<double>()) {
    EXPECT_LE(std::fabs(x), 2.0);
    beyond_one += std::fabs(x) > 1.0 ? 1 : 0;
  }
  // For N(0,1) truncated to [-2, 2], P(|z| > 1) = (0.3173 - 0.0455) / 0.9545 ≈ 0.285.
  EXPECT_NEAR(beyond_one / 4000.0, 0.285, 0.03);
  const Tensor u = run1("RandomUniform", kF32, {H({4000})}, {kF32, {4000}}, {{"seed", I64{3}}, {"seed2", I64{4}}});
  double sum = 0;
  for (float x : u.to_vector<float>()) {
    EXPECT_GE(x, 0.0f);
    EXPECT_LT(x, 1.0f);
    sum += x;
  }
  EXPECT_NEAR(sum / 4000, 0.5, 0.02);
}

// ============================================================================================
// Plumbing and coverage
// ============================================================================================

TEST(RefKernelPlumbing, RejectsInputsOffTheRefDevice) {
  const Tensor cpu = Tensor::from_vector<float>({1, 2}, {2}, Device::cpu());
  EXPECT_THROW(run1("AddV2", kF32, {cpu, R<float>({1, 2}, {2})}, {kF32, {2}}), BackendError);
}

TEST(RefKernelPlumbing, RejectsAnInferredShapeItDisagreesWith) {
  EXPECT_THROW(run1("AddV2", kF32, {R<float>({1, 2}, {2}), R<float>({1, 2}, {2})}, {kF32, {3}}), BackendError);
  EXPECT_THROW(run1("MatMul", kF32, {R<float>({1, 2}, {1, 2}), R<float>({1, 2}, {2, 1})}, {kF32, {2, 2}}), BackendError);
  EXPECT_THROW(run1("Transpose", kF32, {Iota<float>({2, 2}), H({0, 0})}, {kF32, {2, 2}}), BackendError);
  // A shrunk dimension needs a positive stride (TensorFlow: "only stride 1 allowed on
  // non-range indexing").
  EXPECT_THROW(strided(Iota<float>({3}), {1}, {2}, {-1}, {}, 0, 0, 0, 0, 1), BackendError);
}

// Every op of docs/OPS.md that has kernels, with the dtypes its table lists.
TEST(RefKernelCoverage, EveryOpOfOpsMdInEveryListedDtype) {
  register_ref_backend();
  const std::vector<DType> F{kF32, kF64}, N{kF32, kF64, kI32, kI64}, NB{kF32, kF64, kI32, kI64, kBool}, Bo{kBool},
      Any{DType::kInvalid}, Numeric{kF16, kBF16, kF32, kF64, kI8, kU8, kI32, kI64, kBool};
  const std::vector<std::pair<std::vector<const char*>, std::vector<DType>>> table = {
      {{"AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Pow", "SquaredDifference", "Greater", "GreaterEqual",
        "Less", "LessEqual", "AddN", "Neg", "Abs", "Sign", "Square", "Relu", "Sum", "Mean", "Max", "Min", "Prod",
        "ArgMax", "UnsortedSegmentSum", "StridedSliceGrad", "MatMul", "Cumsum"},
       N},
      {{"Equal", "NotEqual", "SelectV2", "Transpose"}, NB},
      {{"LogicalAnd", "LogicalOr", "LogicalNot"}, Bo},
      {{"Sqrt", "Rsqrt", "Reciprocal", "Exp", "Log", "Log1p", "Erf", "Floor", "Relu6", "Elu", "Selu", "Sigmoid", "Tanh",
        "Softplus", "Softsign", "Gelu", "ReluGrad", "Relu6Grad", "EluGrad", "SeluGrad", "SigmoidGrad", "TanhGrad",
        "SoftplusGrad", "SoftsignGrad", "RsqrtGrad", "SqrtGrad", "GeluGrad", "Cumprod", "BatchMatMulV2", "BiasAdd",
        "BiasAddGrad", "Softmax", "LogSoftmax", "SoftmaxGrad", "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter",
        "DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter", "MaxPool",
        "MaxPoolGrad", "AvgPool", "AvgPoolGrad", "ResizeBilinear", "ResizeBilinearGrad", "ResizeNearestNeighbor",
        "ResizeNearestNeighborGrad", "Erfc", "RandomStandardNormal", "RandomUniform", "TruncatedNormal", "Sin", "Cos",
        "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Atan2"},
       F},
      {{"ConcatV2", "Pack", "Split", "Slice", "StridedSlice", "Pad", "Tile", "BroadcastTo", "GatherV2", "OneHot", "Fill",
        "ZerosLike", "OnesLike"},
       NB},
      {{"Identity", "StopGradient", "Reshape", "ExpandDims", "Squeeze", "Shape"}, Any},
      {{"Cast"}, Numeric},
  };
  for (const auto& [ops, dtypes] : table) {
    for (const char* op : ops) {
      for (DType d : dtypes) {
        EXPECT_TRUE(Registry::global().contains(ObjectKind::kKernel, kernel_key(op, "ref", d)))
            << kernel_key(op, "ref", d);
      }
    }
  }
  for (const auto& e : Registry::global().entries_from("tests-ref")) {
    if (e.kind == ObjectKind::kKernel) {
      EXPECT_EQ(e.name.find(":ref:"), e.name.find(':')) << e.name;
    }
  }
}

}  // namespace
}  // namespace strata::testing
