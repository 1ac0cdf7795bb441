// Op definitions: what an op is, independent of any backend. The runtime registers the
// built-in ops (named as TensorFlow names them); a plugin may register new ones the same
// way. Each definition gives shape/dtype inference (which must cope with unknown
// dimensions, for tracing) and a gradient function written in ops, so gradients run on
// every backend and custom layers written in ops need no backward code.
#pragma once

#include "strata/export.hpp"
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "strata/attrs.hpp"
#include "strata/registry.hpp"
#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

// What shape inference sees of one op application.
class InferContext {
 public:
  InferContext(std::string_view op_name, const Attrs& attrs, std::span<const Tensor> inputs)
      : op_name_(op_name), attrs_(attrs), inputs_(inputs) {}

  std::string_view op_name() const noexcept { return op_name_; }
  const Attrs& attrs() const noexcept { return attrs_; }
  std::size_t num_inputs() const noexcept { return inputs_.size(); }
  DType dtype(std::size_t i) const { return inputs_[i].dtype(); }
  const Shape& shape(std::size_t i) const { return inputs_[i].shape(); }
  // The values of an integer input (int32 or int64) when they are known: always in eager
  // execution, and for constants in a graph. nullopt when the input is symbolic.
  std::optional<std::vector<std::int64_t>> int_values(std::size_t i) const;
  // The input itself (possibly symbolic).
  const Tensor& input(std::size_t i) const { return inputs_[i]; }

 private:
  std::string_view op_name_;
  const Attrs& attrs_;
  std::span<const Tensor> inputs_;
};

// What a gradient function sees: the forward op's inputs and outputs and the gradients
// flowing into its outputs (undefined where none flows). It returns one tensor per
// input, undefined where the input gets no gradient. It may skip inputs for which
// needs_grad(i) is false (the tape does not need them), e.g. the data input of a first
// convolution during training.
struct GradientContext {
  const Attrs& attrs;
  std::span<const Tensor> inputs;
  std::span<const Tensor> outputs;
  std::span<const Tensor> output_grads;
  std::span<const bool> input_needs_grad;
  bool needs_grad(std::size_t i) const { return i < input_needs_grad.size() ? input_needs_grad[i] : true; }
};

struct OpDef {
  std::string name;
  // Inputs: exactly num_inputs, or at least min_inputs when num_inputs < 0 (variadic).
  int num_inputs = 1;
  int min_inputs = 0;
  // Inputs whose values shape inference needs (shapes, axes, permutations): the
  // dispatcher hands kernels these on the host. Negative indices count from the end.
  std::vector<int> host_inputs;
  // Which dtype selects the kernel: that of input `kernel_dtype_input`, or, when it is
  // negative, the DType attribute named `kernel_dtype_attr`.
  int kernel_dtype_input = 0;
  std::string kernel_dtype_attr;
  // Random ops: every application is distinct.
  bool stateful = false;
  // True when no gradient flows through this op at all (comparisons, ArgMax, Shape...).
  bool not_differentiable = false;

  std::function<std::vector<TensorMeta>(const InferContext&)> infer;
  // Empty (and not_differentiable false): asking for a gradient through this op is an
  // error naming it.
  std::function<std::vector<Tensor>(const GradientContext&)> gradient;
};

template <>
struct KindTraits<ObjectKind::kOp> {
  using Value = OpDef;
};

// The definition registered under `name`; throws ValueError naming it when none is.
const OpDef& op_def(std::string_view name);

// NumPy broadcasting of two shapes (unknown dimensions allowed); ShapeError naming both
// shapes and `op` when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op = {});

}  // namespace strata

STRATA_API_END
