// The runtime's op definitions (runtime/src/ops/defs_*.cpp) as a backend or a graph builder
// sees them: the ops registered by provider "runtime", and for each its input count, the
// inputs handed to kernels on the host, what selects the kernel's dtype, and whether it is
// stateful and has a gradient. Backends key their kernels and host-input handling on these,
// so a change to any of them (an op dropped from a register list, a field lost when a
// definition moves) must be deliberate: it changes this table and docs/OPS.md together.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "strata/plugin/op_def.hpp"
#include "strata/registry.hpp"

namespace strata {
namespace {

struct Signature {
  std::string name;
  int num_inputs = 1;
  int min_inputs = 0;
  std::vector<int> host_inputs;
  int kernel_dtype_input = 0;
  std::string kernel_dtype_attr;
  // "gradient", "no_gradient" (asking for one is an error naming the op) or
  // "not_differentiable", after "stateful " for random ops.
  std::string grad;
};

std::string describe(const Signature& s) {
  std::string out = s.name + " inputs=" + std::to_string(s.num_inputs) + " min=" + std::to_string(s.min_inputs) +
                    " host=[";
  for (int h : s.host_inputs) out += std::to_string(h) + ",";
  return out + "] kernel_dtype=" + std::to_string(s.kernel_dtype_input) + "/" + s.kernel_dtype_attr + " " + s.grad;
}

std::string join(const std::vector<std::string>& rows) {
  std::string out;
  for (const auto& r : rows) out += (out.empty() ? "" : "\n  ") + r;
  return out;
}

Signature signature_of(const std::string& name, const OpDef& d) {
  std::string grad = d.not_differentiable ? "not_differentiable" : d.gradient ? "gradient" : "no_gradient";
  if (d.stateful) grad = "stateful " + grad;
  return {name, d.num_inputs, d.min_inputs, d.host_inputs, d.kernel_dtype_input, d.kernel_dtype_attr, grad};
}

TEST(RuntimeOpDefs, EveryBuiltInOpWithItsSignature) {
  const std::vector<Signature> expected = {
      {"Abs", 1, 0, {}, 0, "", "gradient"},
      {"Acos", 1, 0, {}, 0, "", "gradient"},
      {"Acosh", 1, 0, {}, 0, "", "gradient"},
      {"AddN", -1, 1, {}, 0, "", "gradient"},
      {"AddV2", 2, 0, {}, 0, "", "gradient"},
      {"ArgMax", 2, 0, {1}, 0, "", "not_differentiable"},
      {"Asin", 1, 0, {}, 0, "", "gradient"},
      {"Asinh", 1, 0, {}, 0, "", "gradient"},
      {"Atan", 1, 0, {}, 0, "", "gradient"},
      {"Atan2", 2, 0, {}, 0, "", "gradient"},
      {"Atanh", 1, 0, {}, 0, "", "gradient"},
      {"AvgPool", 1, 0, {}, 0, "", "gradient"},
      {"AvgPoolGrad", 2, 0, {0}, 1, "", "gradient"},
      {"BatchMatMulV2", 2, 0, {}, 0, "", "gradient"},
      {"BiasAdd", 2, 0, {}, 0, "", "gradient"},
      {"BiasAddGrad", 1, 0, {}, 0, "", "gradient"},
      {"BroadcastTo", 2, 0, {1}, 0, "", "gradient"},
      {"Cast", 1, 0, {}, 0, "", "gradient"},
      {"ConcatV2", -1, 2, {-1}, 0, "", "gradient"},
      {"Conv2D", 2, 0, {}, 0, "", "gradient"},
      {"Conv2DBackpropFilter", 3, 0, {1}, 0, "", "gradient"},
      {"Conv2DBackpropInput", 3, 0, {0}, 1, "", "gradient"},
      {"Cos", 1, 0, {}, 0, "", "gradient"},
      {"Cosh", 1, 0, {}, 0, "", "gradient"},
      {"Cumprod", 2, 0, {1}, 0, "", "gradient"},
      {"Cumsum", 2, 0, {1}, 0, "", "gradient"},
      {"DepthwiseConv2dNative", 2, 0, {}, 0, "", "gradient"},
      {"DepthwiseConv2dNativeBackpropFilter", 3, 0, {1}, 0, "", "gradient"},
      {"DepthwiseConv2dNativeBackpropInput", 3, 0, {0}, 1, "", "gradient"},
      {"Elu", 1, 0, {}, 0, "", "gradient"},
      {"EluGrad", 2, 0, {}, 0, "", "gradient"},
      {"Equal", 2, 0, {}, 0, "", "not_differentiable"},
      {"Erf", 1, 0, {}, 0, "", "gradient"},
      {"Erfc", 1, 0, {}, 0, "", "gradient"},
      {"Exp", 1, 0, {}, 0, "", "gradient"},
      {"ExpandDims", 2, 0, {1}, 0, "", "gradient"},
      {"Fill", 2, 0, {0}, 1, "", "gradient"},
      {"Floor", 1, 0, {}, 0, "", "not_differentiable"},
      {"GatherV2", 3, 0, {2}, 0, "", "gradient"},
      {"Gelu", 1, 0, {}, 0, "", "gradient"},
      {"GeluGrad", 2, 0, {}, 0, "", "gradient"},
      {"Greater", 2, 0, {}, 0, "", "not_differentiable"},
      {"GreaterEqual", 2, 0, {}, 0, "", "not_differentiable"},
      {"Identity", 1, 0, {}, 0, "", "gradient"},
      {"Less", 2, 0, {}, 0, "", "not_differentiable"},
      {"LessEqual", 2, 0, {}, 0, "", "not_differentiable"},
      {"Log", 1, 0, {}, 0, "", "gradient"},
      {"Log1p", 1, 0, {}, 0, "", "gradient"},
      {"LogSoftmax", 1, 0, {}, 0, "", "gradient"},
      {"LogicalAnd", 2, 0, {}, 0, "", "not_differentiable"},
      {"LogicalNot", 1, 0, {}, 0, "", "not_differentiable"},
      {"LogicalOr", 2, 0, {}, 0, "", "not_differentiable"},
      {"MatMul", 2, 0, {}, 0, "", "gradient"},
      {"Max", 2, 0, {1}, 0, "", "gradient"},
      {"MaxPool", 1, 0, {}, 0, "", "gradient"},
      {"MaxPoolGrad", 3, 0, {}, 0, "", "no_gradient"},
      {"Maximum", 2, 0, {}, 0, "", "gradient"},
      {"Mean", 2, 0, {1}, 0, "", "gradient"},
      {"Min", 2, 0, {1}, 0, "", "gradient"},
      {"Minimum", 2, 0, {}, 0, "", "gradient"},
      {"Mul", 2, 0, {}, 0, "", "gradient"},
      {"Neg", 1, 0, {}, 0, "", "gradient"},
      {"NotEqual", 2, 0, {}, 0, "", "not_differentiable"},
      {"OneHot", 4, 0, {1}, 2, "", "not_differentiable"},
      {"OnesLike", 1, 0, {}, 0, "", "not_differentiable"},
      {"Pack", -1, 1, {}, 0, "", "gradient"},
      {"Pad", 2, 0, {1}, 0, "", "gradient"},
      {"Pow", 2, 0, {}, 0, "", "gradient"},
      {"Prod", 2, 0, {1}, 0, "", "gradient"},
      {"RandomStandardNormal", 1, 0, {0}, -1, "dtype", "stateful not_differentiable"},
      {"RandomUniform", 1, 0, {0}, -1, "dtype", "stateful not_differentiable"},
      {"RealDiv", 2, 0, {}, 0, "", "gradient"},
      {"Reciprocal", 1, 0, {}, 0, "", "gradient"},
      {"Relu", 1, 0, {}, 0, "", "gradient"},
      {"Relu6", 1, 0, {}, 0, "", "gradient"},
      {"Relu6Grad", 2, 0, {}, 0, "", "gradient"},
      {"ReluGrad", 2, 0, {}, 0, "", "gradient"},
      {"Reshape", 2, 0, {1}, 0, "", "gradient"},
      {"ResizeBilinear", 2, 0, {1}, 0, "", "gradient"},
      {"ResizeBilinearGrad", 2, 0, {}, 0, "", "no_gradient"},
      {"ResizeNearestNeighbor", 2, 0, {1}, 0, "", "gradient"},
      {"ResizeNearestNeighborGrad", 2, 0, {1}, 0, "", "no_gradient"},
      {"ResourceApplyAdam", 10, 0, {}, 0, "", "not_differentiable"},
      {"ResourceApplyKerasMomentum", 5, 0, {}, 0, "", "not_differentiable"},
      {"Rsqrt", 1, 0, {}, 0, "", "gradient"},
      {"RsqrtGrad", 2, 0, {}, 0, "", "gradient"},
      {"SelectV2", 3, 0, {}, 1, "", "gradient"},
      {"Selu", 1, 0, {}, 0, "", "gradient"},
      {"SeluGrad", 2, 0, {}, 0, "", "gradient"},
      {"Shape", 1, 0, {}, 0, "", "not_differentiable"},
      {"Sigmoid", 1, 0, {}, 0, "", "gradient"},
      {"SigmoidGrad", 2, 0, {}, 0, "", "gradient"},
      {"Sign", 1, 0, {}, 0, "", "not_differentiable"},
      {"Sin", 1, 0, {}, 0, "", "gradient"},
      {"Sinh", 1, 0, {}, 0, "", "gradient"},
      {"Slice", 3, 0, {1, 2}, 0, "", "gradient"},
      {"Softmax", 1, 0, {}, 0, "", "gradient"},
      {"SoftmaxGrad", 2, 0, {}, 0, "", "gradient"},
      {"Softplus", 1, 0, {}, 0, "", "gradient"},
      {"SoftplusGrad", 2, 0, {}, 0, "", "gradient"},
      {"Softsign", 1, 0, {}, 0, "", "gradient"},
      {"SoftsignGrad", 2, 0, {}, 0, "", "gradient"},
      {"Split", 2, 0, {0}, 1, "", "gradient"},
      {"Sqrt", 1, 0, {}, 0, "", "gradient"},
      {"SqrtGrad", 2, 0, {}, 0, "", "gradient"},
      {"Square", 1, 0, {}, 0, "", "gradient"},
      {"SquaredDifference", 2, 0, {}, 0, "", "gradient"},
      {"Squeeze", 1, 0, {}, 0, "", "gradient"},
      {"StopGradient", 1, 0, {}, 0, "", "not_differentiable"},
      {"StridedSlice", 4, 0, {1, 2, 3}, 0, "", "gradient"},
      {"StridedSliceGrad", 5, 0, {0, 1, 2, 3}, 4, "", "gradient"},
      {"Sub", 2, 0, {}, 0, "", "gradient"},
      {"Sum", 2, 0, {1}, 0, "", "gradient"},
      {"Tan", 1, 0, {}, 0, "", "gradient"},
      {"Tanh", 1, 0, {}, 0, "", "gradient"},
      {"TanhGrad", 2, 0, {}, 0, "", "gradient"},
      {"Tile", 2, 0, {1}, 0, "", "gradient"},
      {"Transpose", 2, 0, {1}, 0, "", "gradient"},
      {"TruncatedNormal", 1, 0, {0}, -1, "dtype", "stateful not_differentiable"},
      {"UnsortedSegmentSum", 3, 0, {2}, 0, "", "gradient"},
      {"ZerosLike", 1, 0, {}, 0, "", "not_differentiable"},
      {"strata.CrossReplicaAllReduce", 1, 0, {}, 0, "", "stateful gradient"},  // strata::all_reduce (issue 24)
      {"strata.KerasAdadelta", -1, 8, {}, 0, "", "not_differentiable"},
      {"strata.KerasAdagrad", -1, 5, {}, 0, "", "not_differentiable"},
      {"strata.KerasAdam", -1, 10, {}, 0, "", "not_differentiable"},
      {"strata.KerasAdamax", -1, 9, {}, 0, "", "not_differentiable"},
      {"strata.KerasFtrl", -1, 10, {}, 0, "", "not_differentiable"},
      {"strata.KerasNadam", -1, 13, {}, 0, "", "not_differentiable"},
      {"strata.KerasRMSprop", -1, 8, {}, 0, "", "not_differentiable"},
  };
  std::vector<std::string> want;
  for (const auto& s : expected) want.push_back(describe(s));
  std::vector<std::string> got;
  auto& registry = Registry::global();
  for (const auto& e : registry.entries(ObjectKind::kOp)) {
    if (e.provider != "runtime") continue;
    const auto def = registry.find<ObjectKind::kOp>(e.name);
    ASSERT_NE(def, nullptr) << e.name;
    EXPECT_TRUE(static_cast<bool>(def->infer)) << e.name << " has no shape inference";
    got.push_back(describe(signature_of(e.name, *def)));
  }
  // Name the rows that differ rather than print two lists of a hundred.
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  std::vector<std::string> missing, unexpected;
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(unexpected));
  EXPECT_TRUE(missing.empty()) << "in the table, registered differently or not at all:\n  " << join(missing);
  EXPECT_TRUE(unexpected.empty()) << "registered, not so in the table:\n  " << join(unexpected);
  EXPECT_EQ(got.size(), want.size());
}

}  // namespace
}  // namespace strata
