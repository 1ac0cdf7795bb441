// Fused optimizer updates on the cpu: kernels of the runtime's ResourceApplyKerasMomentum and
// strata.Keras* ops (runtime/src/ops/defs_optimizer.cpp documents the arithmetic), one pass
// over each variable instead of the ~11 element-wise ops (and full-size temporaries) of the
// training plugin's composed update.
//
// Each element goes through the composed update's operations in its order, each rounded once
// to the variable's dtype, exactly as this plugin's element-wise kernels round them (Rsqrt
// and Pow in double, rounded once; Maximum and Minimum propagate NaN), so a fused update is
// bitwise the composed one (tests/training/fused_optimizer_test.cpp runs 100 steps of each).
// Compiled with -ffp-contract=off (no FMA contraction) and cloned per CPU feature level
// (dispatch.hpp). ResourceApplyAdam is not here: it computes 1 - beta1 in the variable's
// dtype (TensorFlow's kernel), which the composed Keras update does not.
#include <cmath>
#include <cstdint>

#include "common.hpp"
#include "dispatch.hpp"
#include "kernels.hpp"

namespace strata::onednn {
namespace {

// The inputs and outputs of one update: tensor operands, the scalars (read on the host:
// cpu tensors) and the outputs.
template <class T>
struct Update {
  const T* in[4] = {};  // the variable, then its slots
  const T* g = nullptr;
  T s[9] = {};
  T* out[4] = {};
  bool flag[2] = {};
};

template <class T>
STRATA_CPU_INLINE T rsqrt_of(T x) {
  return static_cast<T>(1.0 / std::sqrt(static_cast<double>(x)));
}
template <class T>
STRATA_CPU_INLINE T pow_of(T x, T y) {
  return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
}
// Maximum / Minimum: NaN in either operand is the result.
template <class T>
STRATA_CPU_INLINE T max_of(T a, T b) {
  return a != a ? a : (b != b ? b : (a > b ? a : b));
}
template <class T>
STRATA_CPU_INLINE T min_of(T a, T b) {
  return a != a ? a : (b != b ? b : (a < b ? a : b));
}

template <class T>
STRATA_CPU_INLINE void momentum(const Update<T>& u, std::int64_t begin, std::int64_t end) {
  const T* __restrict var = u.in[0];
  const T* __restrict accum = u.in[1];
  const T* __restrict g = u.g;
  T* __restrict new_var = u.out[0];
  T* __restrict new_accum = u.out[1];
  const T lr = u.s[0], mom = u.s[1];
  if (u.flag[0]) {
    for (std::int64_t i = begin; i < end; ++i) {
      const T step = g[i] * lr;
      const T a = accum[i] * mom - step;
      new_accum[i] = a;
      new_var[i] = var[i] + (a * mom - step);
    }
  } else {
    for (std::int64_t i = begin; i < end; ++i) {
      const T a = accum[i] * mom - g[i] * lr;
      new_accum[i] = a;
      new_var[i] = var[i] + a;
    }
  }
}

// s: lr, bias_sqrt, bias_1, one_minus_beta1, one_minus_beta2, epsilon; flag[0]: amsgrad.
template <class T>
STRATA_CPU_INLINE void adam(const Update<T>& u, std::int64_t begin, std::int64_t end) {
  const T* __restrict var = u.in[0];
  const T* __restrict m = u.in[1];
  const T* __restrict v = u.in[2];
  const T* __restrict vhat = u.in[3];
  const T* __restrict g = u.g;
  T* __restrict new_var = u.out[0];
  T* __restrict new_m = u.out[1];
  T* __restrict new_v = u.out[2];
  T* __restrict new_vhat = u.out[3];
  const T alpha = u.s[0] * u.s[1] / u.s[2], c1 = u.s[3], c2 = u.s[4], eps = u.s[5];
  if (u.flag[0]) {
    for (std::int64_t i = begin; i < end; ++i) {
      const T mi = m[i] + (g[i] - m[i]) * c1;
      const T vi = v[i] + (g[i] * g[i] - v[i]) * c2;
      const T hi = max_of(vhat[i], vi);
      new_m[i] = mi;
      new_v[i] = vi;
      new_vhat[i] = hi;
      new_var[i] = var[i] - (mi * alpha) / (std::sqrt(hi) + eps);
    }
  } else {
    for (std::int64_t i = begin; i < end; ++i) {
      const T mi = m[i] + (g[i] - m[i]) * c1;
      const T vi = v[i] + (g[i] * g[i] - v[i]) * c2;
      new_m[i] = mi;
      new_v[i] = vi;
      new_var[i] = var[i] - (mi * alpha) / (std::sqrt(vi) + eps);
    }
  }
}

// Slots velocity, [average_gradient], [momentum]; s: lr, rho, one_minus_rho, momentum,
// epsilon; flag: centered, use_momentum.
template <class T>
STRATA_CPU_INLINE void rmsprop(const Update<T>& u, std::int64_t begin, std::int64_t end) {
  const bool centered = u.flag[0], use_momentum = u.flag[1];
  const T* __restrict var = u.in[0];
  const T* __restrict vel = u.in[1];
  const T* __restrict avg = centered ? u.in[2] : nullptr;
  const T* __restrict mom = use_momentum ? u.in[centered ? 3 : 2] : nullptr;
  const T* __restrict g = u.g;
  T* __restrict new_var = u.out[0];
  T* __restrict new_vel = u.out[1];
  T* __restrict new_avg = centered ? u.out[2] : nullptr;
  T* __restrict new_mom = use_momentum ? u.out[centered ? 3 : 2] : nullptr;
  const T lr = u.s[0], rho = u.s[1], c = u.s[2], momentum = u.s[3], eps = u.s[4];
  if (!centered && !use_momentum) {
    for (std::int64_t i = begin; i < end; ++i) {
      const T vi = vel[i] * rho + (g[i] * g[i]) * c;
      new_vel[i] = vi;
      new_var[i] = var[i] - lr * g[i] * rsqrt_of<T>(vi + eps);
    }
    return;
  }
  for (std::int64_t i = begin; i < end; ++i) {
    const T vi = vel[i] * rho + (g[i] * g[i]) * c;
    new_vel[i] = vi;
    T d;
    if (centered) {
      const T ai = avg[i] * rho + g[i] * c;
      new_avg[i] = ai;
      d = vi - ai * ai + eps;
    } else {
      d = vi + eps;
    }
    const T inc = lr * g[i] * rsqrt_of<T>(d);
    if (use_momentum) {
      const T mi = mom[i] * momentum + inc;
      new_mom[i] = mi;
      new_var[i] = var[i] - mi;
    } else {
      new_var[i] = var[i] - inc;
    }
  }
}

// s: lr, epsilon.
template <class T>
STRATA_CPU_INLINE void adagrad(const Update<T>& u, std::int64_t begin, std::int64_t end) {
  const T* __restrict var = u.in[0];
  const T* __restrict acc = u.in[1];
  const T* __restrict g = u.g;
  T* __restrict new_var = u.out[0];
  T* __restrict new_acc = u.out[1];
  const T lr = u.s[0], eps = u.s[1];
  for (std::int64_t i = begin; i < end; ++i) {
    const T a = acc[i] + g[i] * g[i];
    new_acc[i] = a;
    new_var[i] = var[i] - lr * g[i] / std::sqrt(a + eps);
  }
}

// s: lr, rho, one_minus_rho, epsilon.
template <class T>
STRATA_CPU_INLINE void adadelta(const Update<T>& u, std::int64_t begin, std::int64_t end) {
  const T* __restrict var = u.in[0];
  const T* __restrict ag = u.in[1];
  const T* __restrict ad = u.in[2];
  const T* __restrict g = u.g;
  T* __restrict new_var = u.out[0];
  T* __restrict new_ag = u.out[1];
  T* __restrict new_ad = u.out[2];
  const T lr = u.s[0], rho = u.s[1], c = u.s[2], eps = u.s[3];
  for (std::int64_t i = begin; i < end; ++i) {
    const T agi = ag[i] * rho + g[i] * c * g[i];
    new_ag[i] = agi;
    const T delta = -std::sqrt(ad[i] + eps) * g[i] / std::sqrt(agi + eps);
    new_ad[i] = ad[i] * rho + delta * c * delta;
    new_var[i] = var[i] + lr * delta;
  }
}

// s: lr, bias_1, one_minus_beta1, beta2, epsilon.
template <class T>
STRATA_CPU_INLINE void adamax(const Update<T>& u, std::int64_t begin, std::int64_t end) {
  const T* __restrict var = u.in[0];
  const T* __restrict m = u.in[1];
  const T* __restrict uu = u.in[2];
  const T* __restrict g = u.g;
  T* __restrict new_var = u.out[0];
  T* __restrict new_m = u.out[1];
  T* __restrict new_u = u.out[2];
  const T lr = u.s[0], bias = u.s[1], c1 = u.s[2], beta2 = u.s[3], eps = u.s[4];
  for (std::int64_t i = begin; i < end; ++i) {
    const T mi = m[i] + (g[i] - m[i]) * c1;
    const T ui = max_of(uu[i] * beta2, std::fabs(g[i]));
    new_m[i] = mi;
    new_u[i] = ui;
    new_var[i] = var[i] - (lr * mi) / (bias * (ui + eps));
  }
}

// s: lr, one_minus_beta1, one_minus_beta2, u_next, one_minus_u_product_next, one_minus_u,
// one_minus_u_product, bias_2, epsilon.
template <class T>
STRATA_CPU_INLINE void nadam(const Update<T>& u, std::int64_t begin, std::int64_t end) {
  const T* __restrict var = u.in[0];
  const T* __restrict m = u.in[1];
  const T* __restrict v = u.in[2];
  const T* __restrict g = u.g;
  T* __restrict new_var = u.out[0];
  T* __restrict new_m = u.out[1];
  T* __restrict new_v = u.out[2];
  const T lr = u.s[0], c1 = u.s[1], c2 = u.s[2], u_next = u.s[3], d1 = u.s[4], e1 = u.s[5], d2 = u.s[6],
          bias_2 = u.s[7], eps = u.s[8];
  for (std::int64_t i = begin; i < end; ++i) {
    const T mi = m[i] + (g[i] - m[i]) * c1;
    const T vi = v[i] + (g[i] * g[i] - v[i]) * c2;
    new_m[i] = mi;
    new_v[i] = vi;
    const T m_hat = u_next * mi / d1 + e1 * g[i] / d2;
    const T v_hat = vi / bias_2;
    new_var[i] = var[i] - (m_hat * lr) / (std::sqrt(v_hat) + eps);
  }
}

// s: lr, power, l1, l2, beta, shrinkage_2.
template <class T>
STRATA_CPU_INLINE void ftrl(const Update<T>& u, std::int64_t begin, std::int64_t end) {
  const T* __restrict var = u.in[0];
  const T* __restrict acc = u.in[1];
  const T* __restrict lin = u.in[2];
  const T* __restrict g = u.g;
  T* __restrict new_var = u.out[0];
  T* __restrict new_acc = u.out[1];
  T* __restrict new_lin = u.out[2];
  const T lr = u.s[0], power = u.s[1], l1 = u.s[2], l2 = u.s[3], beta = u.s[4], shrinkage_2 = u.s[5];
  const T l2_reg = l2 + beta / (lr * T(2));
  const T two_l2_reg = l2_reg * T(2), neg_l1 = -l1;
  // The exponent 2 of pow(grad, 2) is read at run time: the compiler would turn a constant
  // 2 into grad * grad, which can differ from libm's pow (the Pow kernel) in float64.
  volatile double two_at_run_time = 2.0;
  const T two = static_cast<T>(two_at_run_time);
  for (std::int64_t i = begin; i < end; ++i) {
    const T w = var[i];
    const T grad_to_use = g[i] + w * shrinkage_2;
    const T old_acc = acc[i];
    const T a = old_acc + pow_of(g[i], two);
    const T pa = pow_of(a, power);
    const T li = lin[i] + (grad_to_use - (pa - pow_of(old_acc, power)) / lr * w);
    const T quadratic = pa / lr + two_l2_reg;
    new_acc[i] = a;
    new_lin[i] = li;
    new_var[i] = (min_of(max_of(li, neg_l1), l1) - li) / quadratic;
  }
}

// Non-template clones of each loop per element type (dispatch.hpp).
#define STRATA_CLONED_UPDATE(fn)                                                                    \
  STRATA_CPU_CLONES void fn##_loop(const Update<float>& u, std::int64_t begin, std::int64_t end) {  \
    fn<float>(u, begin, end);                                                                       \
  }                                                                                                 \
  STRATA_CPU_CLONES void fn##_loop(const Update<double>& u, std::int64_t begin, std::int64_t end) { \
    fn<double>(u, begin, end);                                                                      \
  }
STRATA_CLONED_UPDATE(momentum)
STRATA_CLONED_UPDATE(adam)
STRATA_CLONED_UPDATE(rmsprop)
STRATA_CLONED_UPDATE(adagrad)
STRATA_CLONED_UPDATE(adadelta)
STRATA_CLONED_UPDATE(adamax)
STRATA_CLONED_UPDATE(nadam)
STRATA_CLONED_UPDATE(ftrl)
#undef STRATA_CLONED_UPDATE

// Reads the op's inputs (the variable, `slots` slots, `scalars` scalars, the gradient),
// allocates its outputs and runs `loop` over the elements.
template <class T, class Loop>
void run_update(KernelContext& ctx, int slots, int scalars, Update<T> u, Loop loop) {
  const auto num_inputs = static_cast<std::size_t>(2 + slots + scalars);
  STRATA_CHECK(ctx.num_inputs() == num_inputs, BackendError, "op ", ctx.op_name(), " takes ", num_inputs,
               " inputs here, got ", ctx.num_inputs());
  for (int i = 0; i <= slots; ++i) {
    check_same_dims(ctx, 0, static_cast<std::size_t>(i));
    u.in[i] = in<T>(ctx, static_cast<std::size_t>(i));
  }
  check_same_dims(ctx, 0, num_inputs - 1);
  u.g = in<T>(ctx, num_inputs - 1);
  for (int k = 0; k < scalars; ++k) u.s[k] = in<T>(ctx, static_cast<std::size_t>(1 + slots + k))[0];
  for (int i = 0; i <= slots; ++i) u.out[i] = out<T>(ctx, static_cast<std::size_t>(i));
  parallel_for(ctx.input(0).num_elements(), kGrainCheap,
               [&](std::int64_t begin, std::int64_t end) { loop(u, begin, end); });
}

bool flag(const KernelContext& ctx, const char* name) {
  return ctx.attrs().get_or<bool>(name, false);
}

#define STRATA_T typename decltype(tag)::type

}  // namespace

void register_optimizer_kernels(Registrar& r) {
  add_f(r, "ResourceApplyKerasMomentum", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      // Inputs var, accum, lr, grad, momentum: the gradient is not last here.
      STRATA_CHECK(ctx.num_inputs() == 5, BackendError, "op ", ctx.op_name(), " takes 5 inputs");
      check_same_dims(ctx, 0, 1);
      check_same_dims(ctx, 0, 3);
      Update<T> u;
      u.in[0] = in<T>(ctx, 0);
      u.in[1] = in<T>(ctx, 1);
      u.g = in<T>(ctx, 3);
      u.s[0] = in<T>(ctx, 2)[0];
      u.s[1] = in<T>(ctx, 4)[0];
      u.flag[0] = flag(ctx, "use_nesterov");
      u.out[0] = out<T>(ctx, 0);
      u.out[1] = out<T>(ctx, 1);
      parallel_for(ctx.input(0).num_elements(), kGrainCheap,
                   [&](std::int64_t begin, std::int64_t end) { momentum_loop(u, begin, end); });
    };
  });
  add_f(r, "strata.KerasAdam", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      Update<T> u;
      u.flag[0] = flag(ctx, "amsgrad");
      run_update(ctx, u.flag[0] ? 3 : 2, 6, u,
                 [](const Update<T>& x, std::int64_t b, std::int64_t e) { adam_loop(x, b, e); });
    };
  });
  add_f(r, "strata.KerasRMSprop", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      Update<T> u;
      u.flag[0] = flag(ctx, "centered");
      u.flag[1] = flag(ctx, "use_momentum");
      run_update(ctx, 1 + (u.flag[0] ? 1 : 0) + (u.flag[1] ? 1 : 0), 5, u,
                 [](const Update<T>& x, std::int64_t b, std::int64_t e) { rmsprop_loop(x, b, e); });
    };
  });
  add_f(r, "strata.KerasAdagrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      run_update(ctx, 1, 2, Update<T>{},
                 [](const Update<T>& x, std::int64_t b, std::int64_t e) { adagrad_loop(x, b, e); });
    };
  });
  add_f(r, "strata.KerasAdadelta", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      run_update(ctx, 2, 4, Update<T>{},
                 [](const Update<T>& x, std::int64_t b, std::int64_t e) { adadelta_loop(x, b, e); });
    };
  });
  add_f(r, "strata.KerasAdamax", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      run_update(ctx, 2, 5, Update<T>{},
                 [](const Update<T>& x, std::int64_t b, std::int64_t e) { adamax_loop(x, b, e); });
    };
  });
  add_f(r, "strata.KerasNadam", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      run_update(ctx, 2, 9, Update<T>{},
                 [](const Update<T>& x, std::int64_t b, std::int64_t e) { nadam_loop(x, b, e); });
    };
  });
  add_f(r, "strata.KerasFtrl", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      run_update(ctx, 2, 6, Update<T>{},
                 [](const Update<T>& x, std::int64_t b, std::int64_t e) { ftrl_loop(x, b, e); });
    };
  });
}

#undef STRATA_T

}  // namespace strata::onednn
