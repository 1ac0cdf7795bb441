// Fused optimizer updates, named and ordered as TensorFlow's training ops, in value form:
// Strata has no resource handles, so where TensorFlow updates `var`, `m`, `v` in place these
// ops return the new values and the optimizer assigns them.
//
//   ResourceApplyAdam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad;
//                     use_nesterov = false) -> (new_var, new_m, new_v)
//     lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
//     m_t = m + (grad - m) * (1 - beta1);  v_t = v + (grad * grad - v) * (1 - beta2)
//     new_var = var - (m_t * lr_t) / (sqrt(v_t) + epsilon)                  (use_nesterov:
//     m_t * beta1 + grad * (1 - beta1) in place of m_t)
//   ResourceApplyKerasMomentum(var, accum, lr, grad, momentum; use_nesterov = false)
//       -> (new_var, new_accum)
//     accum_t = accum * momentum - grad * lr
//     new_var = var + accum_t, or with Nesterov var + (accum_t * momentum - grad * lr)
//
// Every scalar is a one-element tensor of the variable's dtype on its device, every other
// input has the variable's shape and dtype. The runtime defines them and registers no
// kernel: a backend may register kernels (plugins/backend-cuda does), and the training
// plugin runs them only where one exists, composing element-wise ops everywhere else. Not
// differentiable: updates are not part of what a tape records gradients for.
#include <algorithm>

#include "ops/defs_common.hpp"

namespace strata::internal {
namespace {

// `tensors` inputs share the variable's shape and dtype, the others are scalars of its dtype.
OpDef update_def(const char* name, int num_inputs, std::vector<int> tensors, int num_outputs) {
  OpDef d;
  d.name = name;
  d.num_inputs = num_inputs;
  d.not_differentiable = true;
  d.infer = [tensors = std::move(tensors), num_inputs, num_outputs](const InferContext& c) -> Metas {
    const DType t = c.dtype(0);
    require_dtype(c, 0, t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kFloat16 || t == DType::kBFloat16,
                  "a floating-point variable");
    for (int i = 1; i < num_inputs; ++i) {
      const auto k = static_cast<std::size_t>(i);
      STRATA_CHECK(c.dtype(k) == t, ValueError, "op ", c.op_name(), " input ", i, " must have the variable's dtype ",
                   dtype_name(t), ", got ", dtype_name(c.dtype(k)));
      if (std::find(tensors.begin(), tensors.end(), i) != tensors.end()) {
        STRATA_CHECK(c.shape(k) == c.shape(0), ShapeError, "op ", c.op_name(), " input ", i,
                     " must have the variable's shape ", c.shape(0).to_string(), ", got ", c.shape(k).to_string());
      } else {
        STRATA_CHECK(c.shape(k).has_known_rank() && c.shape(k).num_elements() == 1, ShapeError, "op ", c.op_name(),
                     " input ", i, " must be a scalar, got shape ", c.shape(k).to_string());
      }
    }
    return Metas(static_cast<std::size_t>(num_outputs), TensorMeta{t, c.shape(0)});
  };
  return d;
}

}  // namespace

void register_optimizer_ops(Registrar& r) {
  add_op(r, update_def("ResourceApplyAdam", 10, {1, 2, 9}, 3));
  add_op(r, update_def("ResourceApplyKerasMomentum", 5, {1, 3}, 2));
}

}  // namespace strata::internal
