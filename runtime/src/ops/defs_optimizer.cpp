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
// kernel: a backend may register kernels (backend-onednn and backend-cuda do), and the
// training plugin runs them only where one exists, composing element-wise ops everywhere
// else. Not differentiable: updates are not part of what a tape records gradients for.
//
// The Keras update rules (plugins/training's optimizers), one op per optimizer. TensorFlow's
// own training ops (ResourceApplyRMSProp, ResourceApplyAdagradV2, ...) compute coefficients
// such as 1 - rho in the variable's dtype, where tf-keras multiplies by the Python double
// 1 - rho rounded once; they would not round as the composed update (and tf-keras) does.
// These ops therefore take every coefficient as the composed update rounds it, and each
// element goes through the composed update's operations in its order, each rounded once to
// the variable's dtype (Rsqrt and Pow evaluated in double and rounded once, as the element-
// wise kernels do). Inputs: the variable, its slots, the scalars, the gradient last (as
// TensorFlow orders them); outputs: the new variable, then the new slots in input order.
// Names are "strata."-prefixed: TensorFlow has no op with these rules.
//
//   strata.KerasAdam(var, m, v, [vhat], lr, bias_sqrt, bias_1, one_minus_beta1,
//                    one_minus_beta2, epsilon, grad; amsgrad = false)
//     alpha = lr * bias_sqrt / bias_1; m_t = m + (grad - m) * one_minus_beta1
//     v_t = v + (grad * grad - v) * one_minus_beta2; amsgrad: vhat_t = max(vhat, v_t), used
//     for v_t below; new_var = var - (m_t * alpha) / (sqrt(v_t) + epsilon)
//   strata.KerasRMSprop(var, velocity, [average_gradient], [momentum], lr, rho,
//                       one_minus_rho, momentum, epsilon, grad; centered, use_momentum)
//     vel_t = velocity * rho + grad * grad * one_minus_rho; centered: avg_t = average * rho +
//     grad * one_minus_rho, d = vel_t - avg_t * avg_t + epsilon, else d = vel_t + epsilon
//     inc = lr * grad * rsqrt(d); use_momentum: mom_t = mom * momentum + inc, new_var =
//     var - mom_t; else new_var = var - inc
//   strata.KerasAdagrad(var, accumulator, lr, epsilon, grad)
//     acc_t = acc + grad * grad; new_var = var - lr * grad / sqrt(acc_t + epsilon)
//   strata.KerasAdadelta(var, accum_grad, accum_delta, lr, rho, one_minus_rho, epsilon, grad)
//     ag_t = ag * rho + grad * one_minus_rho * grad; delta = -sqrt(ad + epsilon) * grad /
//     sqrt(ag_t + epsilon); ad_t = ad * rho + delta * one_minus_rho * delta; new_var = var +
//     lr * delta
//   strata.KerasAdamax(var, m, u, lr, bias_1, one_minus_beta1, beta2, epsilon, grad)
//     m_t = m + (grad - m) * one_minus_beta1; u_t = max(u * beta2, |grad|)
//     new_var = var - (lr * m_t) / (bias_1 * (u_t + epsilon))
//   strata.KerasNadam(var, m, v, lr, one_minus_beta1, one_minus_beta2, u_next,
//                     one_minus_u_product_next, one_minus_u, one_minus_u_product, bias_2,
//                     epsilon, grad)
//     m_t, v_t as Adam's; m_hat = u_next * m_t / one_minus_u_product_next + one_minus_u *
//     grad / one_minus_u_product; v_hat = v_t / bias_2
//     new_var = var - (m_hat * lr) / (sqrt(v_hat) + epsilon)
//   strata.KerasFtrl(var, accumulator, linear, lr, power, l1, l2, beta, shrinkage_2, grad)
//     (power = -learning_rate_power, shrinkage_2 = 2 * l2_shrinkage) l2_reg = l2 + beta /
//     (lr * 2); g' = grad + var * shrinkage_2; acc_t = acc + pow(grad, 2); lin_t = lin + (g' -
//     (pow(acc_t, power) - pow(acc, power)) / lr * var); q = pow(acc_t, power) / lr + l2_reg
//     * 2; new_var = (min(max(lin_t, -l1), l1) - lin_t) / q
// (max and min propagate NaN, as Maximum and Minimum do.)

#include <algorithm>

#include "ops/defs_common.hpp"

namespace strata::internal {
namespace {

// `tensors` inputs share the variable's shape and dtype, the others are scalars of its dtype.
Metas check_update(const InferContext& c, int num_inputs, const std::vector<int>& tensors, int num_outputs) {
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
}

OpDef update_def(const char* name, int num_inputs, std::vector<int> tensors, int num_outputs) {
  OpDef d;
  d.name = name;
  d.num_inputs = num_inputs;
  d.not_differentiable = true;
  d.infer = [tensors = std::move(tensors), num_inputs, num_outputs](const InferContext& c) -> Metas {
    return check_update(c, num_inputs, tensors, num_outputs);
  };
  return d;
}

// A Keras update: var, `slots` slots (plus one per bool attr in `optional_slots` that is
// true), `scalars` scalars and the gradient; outputs the variable and its slots.
OpDef keras_update_def(const char* name, int slots, std::vector<const char*> optional_slots, int scalars) {
  OpDef d;
  d.name = name;
  d.num_inputs = -1;
  d.min_inputs = 2 + slots + scalars;
  d.not_differentiable = true;
  d.infer = [slots, optional_slots = std::move(optional_slots), scalars](const InferContext& c) -> Metas {
    int n_slots = slots;
    for (const char* attr : optional_slots) n_slots += c.attrs().get_or<bool>(attr, false) ? 1 : 0;
    const int num_inputs = 2 + n_slots + scalars;
    STRATA_CHECK(static_cast<int>(c.num_inputs()) == num_inputs, ValueError, "op ", c.op_name(), " takes ",
                 num_inputs, " inputs with these attributes (the variable, ", n_slots, " slots, ", scalars,
                 " scalars and the gradient), got ", c.num_inputs());
    std::vector<int> tensors;
    for (int i = 1; i <= n_slots; ++i) tensors.push_back(i);
    tensors.push_back(num_inputs - 1);
    return check_update(c, num_inputs, tensors, 1 + n_slots);
  };
  return d;
}

}  // namespace

void register_optimizer_ops(Registrar& r) {
  add_op(r, update_def("ResourceApplyAdam", 10, {1, 2, 9}, 3));
  add_op(r, update_def("ResourceApplyKerasMomentum", 5, {1, 3}, 2));
  add_op(r, keras_update_def("strata.KerasAdam", 2, {"amsgrad"}, 6));
  add_op(r, keras_update_def("strata.KerasRMSprop", 1, {"centered", "use_momentum"}, 5));
  add_op(r, keras_update_def("strata.KerasAdagrad", 1, {}, 2));
  add_op(r, keras_update_def("strata.KerasAdadelta", 2, {}, 4));
  add_op(r, keras_update_def("strata.KerasAdamax", 2, {}, 5));
  add_op(r, keras_update_def("strata.KerasNadam", 2, {}, 9));
  add_op(r, keras_update_def("strata.KerasFtrl", 2, {}, 6));
}

}  // namespace strata::internal
