// Fused optimizer updates on cuda: the kernels of the runtime's ResourceApplyAdam,
// ResourceApplyKerasMomentum and strata.Keras* ops (optimizer_ops.cpp), one kernel per
// variable instead of the ten element-wise ops the training plugin's composed update runs.
// The strata.Keras* kernels go through the composed update's operations in its order
// (runtime/src/ops/defs_optimizer.cpp), Rsqrt and Pow in double rounded once as this
// plugin's element-wise kernels (element_math.cuh) evaluate them. Each element goes through
// the op's operations in the documented order, in the variable's precision, with explicitly
// rounded intrinsics so nvcc cannot contract them into FMAs.

#include <cstdint>
#include <type_traits>

#include "grid.cuh"
#include "launch.hpp"
#include "optimizer_update.hpp"

namespace strata::cuda {
namespace {

__device__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ double sqrt_rn(double a) { return __dsqrt_rn(a); }

// ResourceApplyAdam, in the order runtime/src/ops/defs_optimizer.cpp documents.
// The scalars are read by every thread (a few loads from one cached line).
template <class T>
__global__ void adam_kernel(std::int64_t n, const T* var, const T* m, const T* v, const T* b1p, const T* b2p,
                            const T* lr, const T* b1, const T* b2, const T* eps, const T* g, bool nesterov, T* new_var,
                            T* new_m, T* new_v) {
  const T one = 1;
  const T alpha = div_rn(mul_rn(*lr, sqrt_rn(sub_rn(one, *b2p))), sub_rn(one, *b1p));
  const T c1 = sub_rn(one, *b1), c2 = sub_rn(one, *b2), e = *eps, beta1 = *b1;
  STRATA_GRID_LOOP(i, n) {
    const T mi = add_rn(m[i], mul_rn(sub_rn(g[i], m[i]), c1));
    const T vi = add_rn(v[i], mul_rn(sub_rn(mul_rn(g[i], g[i]), v[i]), c2));
    new_m[i] = mi;
    new_v[i] = vi;
    const T step = nesterov ? add_rn(mul_rn(mi, beta1), mul_rn(g[i], c1)) : mi;
    new_var[i] = sub_rn(var[i], div_rn(mul_rn(step, alpha), add_rn(sqrt_rn(vi), e)));
  }
}

// ResourceApplyKerasMomentum: accum_t = accum * momentum - g * lr; new_var = var + accum_t,
// or with Nesterov var + (accum_t * momentum - g * lr).
template <class T>
__global__ void momentum_kernel(std::int64_t n, const T* var, const T* accum, const T* lr, const T* g,
                                const T* momentum, bool nesterov, T* new_var, T* new_accum) {
  const T rate = *lr, mom = *momentum;
  STRATA_GRID_LOOP(i, n) {
    const T step = mul_rn(g[i], rate);
    const T ai = sub_rn(mul_rn(accum[i], mom), step);
    new_accum[i] = ai;
    new_var[i] = nesterov ? add_rn(var[i], sub_rn(mul_rn(ai, mom), step)) : add_rn(var[i], ai);
  }
}

template <class T>
int adam_t(void* s, std::int64_t n, const T* var, const T* m, const T* v, const T* b1p, const T* b2p, const T* lr,
           const T* b1, const T* b2, const T* eps, const T* g, bool nesterov, T* new_var, T* new_m, T* new_v) {
  if (n == 0) return 0;
  STRATA_LAUNCH(adam_kernel, blocks_for(n), as_stream(s))(n, var, m, v, b1p, b2p, lr, b1, b2, eps, g, nesterov, new_var,
                                                          new_m, new_v);
  return status();
}

template <class T>
int momentum_t(void* s, std::int64_t n, const T* var, const T* accum, const T* lr, const T* g, const T* momentum,
               bool nesterov, T* new_var, T* new_accum) {
  if (n == 0) return 0;
  STRATA_LAUNCH(momentum_kernel, blocks_for(n), as_stream(s))(n, var, accum, lr, g, momentum, nesterov, new_var,
                                                              new_accum);
  return status();
}

// Rsqrt, Pow, Maximum and Minimum as element_math.cuh's element-wise kernels compute them.
template <class T>
__device__ T rsqrt_of(T x) {
  return static_cast<T>(div_rn(1.0, sqrt_rn(static_cast<double>(x))));
}
template <class T>
__device__ T pow_of(T x, T y) {
  return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
}
template <class T>
__device__ T max_of(T a, T b) {
  return a != a ? a : (b != b ? b : (a > b ? a : b));
}
template <class T>
__device__ T min_of(T a, T b) {
  return a != a ? a : (b != b ? b : (a < b ? a : b));
}

// One element of a strata.Keras* update: x[0] the variable and x[1..] its slots in, y[...]
// the same out, s the scalars.
template <class T>
__device__ void keras_element(KerasUpdate kind, const bool* flag, const T* x, T g, const T* s, T* y) {
  switch (kind) {
    case KerasUpdate::kAdam: {
      const T alpha = div_rn(mul_rn(s[0], s[1]), s[2]);
      y[1] = add_rn(x[1], mul_rn(sub_rn(g, x[1]), s[3]));
      y[2] = add_rn(x[2], mul_rn(sub_rn(mul_rn(g, g), x[2]), s[4]));
      T v = y[2];
      if (flag[0]) v = y[3] = max_of(x[3], y[2]);
      y[0] = sub_rn(x[0], div_rn(mul_rn(y[1], alpha), add_rn(sqrt_rn(v), s[5])));
      return;
    }
    case KerasUpdate::kRMSprop: {
      const bool centered = flag[0], momentum = flag[1];
      y[1] = add_rn(mul_rn(x[1], s[1]), mul_rn(mul_rn(g, g), s[2]));
      T d;
      if (centered) {
        y[2] = add_rn(mul_rn(x[2], s[1]), mul_rn(g, s[2]));
        d = add_rn(sub_rn(y[1], mul_rn(y[2], y[2])), s[4]);
      } else {
        d = add_rn(y[1], s[4]);
      }
      const T inc = mul_rn(mul_rn(s[0], g), rsqrt_of(d));
      if (momentum) {
        const int k = centered ? 3 : 2;
        y[k] = add_rn(mul_rn(x[k], s[3]), inc);
        y[0] = sub_rn(x[0], y[k]);
      } else {
        y[0] = sub_rn(x[0], inc);
      }
      return;
    }
    case KerasUpdate::kAdagrad:
      y[1] = add_rn(x[1], mul_rn(g, g));
      y[0] = sub_rn(x[0], div_rn(mul_rn(s[0], g), sqrt_rn(add_rn(y[1], s[1]))));
      return;
    case KerasUpdate::kAdadelta: {
      y[1] = add_rn(mul_rn(x[1], s[1]), mul_rn(mul_rn(g, s[2]), g));
      const T delta = div_rn(mul_rn(-sqrt_rn(add_rn(x[2], s[3])), g), sqrt_rn(add_rn(y[1], s[3])));
      y[2] = add_rn(mul_rn(x[2], s[1]), mul_rn(mul_rn(delta, s[2]), delta));
      y[0] = add_rn(x[0], mul_rn(s[0], delta));
      return;
    }
    case KerasUpdate::kAdamax:
      y[1] = add_rn(x[1], mul_rn(sub_rn(g, x[1]), s[2]));
      y[2] = max_of(mul_rn(x[2], s[3]), g < T(0) ? -g : g);
      y[0] = sub_rn(x[0], div_rn(mul_rn(s[0], y[1]), mul_rn(s[1], add_rn(y[2], s[4]))));
      return;
    case KerasUpdate::kNadam: {
      y[1] = add_rn(x[1], mul_rn(sub_rn(g, x[1]), s[1]));
      y[2] = add_rn(x[2], mul_rn(sub_rn(mul_rn(g, g), x[2]), s[2]));
      const T m_hat = add_rn(div_rn(mul_rn(s[3], y[1]), s[4]), div_rn(mul_rn(s[5], g), s[6]));
      y[0] = sub_rn(x[0], div_rn(mul_rn(m_hat, s[0]), add_rn(sqrt_rn(div_rn(y[2], s[7])), s[8])));
      return;
    }
    case KerasUpdate::kFtrl: {
      const T lr = s[0], power = s[1], l1 = s[2];
      const T l2_reg = add_rn(s[3], div_rn(s[4], mul_rn(lr, T(2))));
      const T w = x[0];
      const T grad = add_rn(g, mul_rn(w, s[5]));
      // The exponent read at run time: the host compiler of the emulation would fold
      // pow(g, 2.0) into g * g, which can differ from pow in float64 (the Pow kernel's).
      volatile double two_at_run_time = 2.0;
      y[1] = add_rn(x[1], pow_of(g, static_cast<T>(two_at_run_time)));
      const T pa = pow_of(y[1], power);
      y[2] = add_rn(x[2], sub_rn(grad, mul_rn(div_rn(sub_rn(pa, pow_of(x[1], power)), lr), w)));
      const T q = add_rn(div_rn(pa, lr), mul_rn(l2_reg, T(2)));
      y[0] = div_rn(sub_rn(min_of(max_of(y[2], -l1), l1), y[2]), q);
      return;
    }
  }
}

template <class T>
__global__ void keras_kernel(KerasUpdate kind, KerasUpdateArgs<T> a) {
  T s[9];
  for (int k = 0; k < a.scalars; ++k) s[k] = *a.s[k];
  STRATA_GRID_LOOP(i, a.n) {
    T x[4], y[4];
    for (int k = 0; k <= a.slots; ++k) x[k] = a.in[k][i];
    keras_element(kind, a.flag, x, a.g[i], s, y);
    for (int k = 0; k <= a.slots; ++k) a.out[k][i] = y[k];
  }
}

template <class T>
int keras_t(void* stream, KerasUpdate kind, const KerasUpdateArgs<T>& a) {
  if (a.n == 0) return 0;
  STRATA_LAUNCH(keras_kernel, blocks_for(a.n), as_stream(stream))(kind, a);
  return status();
}

}  // namespace

#define STRATA_CUDA_OPTIMIZER_LAUNCHERS(T)                                                                        \
  int adam_update(void* s, std::int64_t n, const T* var, const T* m, const T* v, const T* b1p, const T* b2p,       \
                  const T* lr, const T* b1, const T* b2, const T* eps, const T* g, bool nesterov, T* new_var,      \
                  T* new_m, T* new_v) {                                                                           \
    return adam_t(s, n, var, m, v, b1p, b2p, lr, b1, b2, eps, g, nesterov, new_var, new_m, new_v);                \
  }                                                                                                               \
  int momentum_update(void* s, std::int64_t n, const T* var, const T* accum, const T* lr, const T* g,            \
                      const T* momentum, bool nesterov, T* new_var, T* new_accum) {                               \
    return momentum_t(s, n, var, accum, lr, g, momentum, nesterov, new_var, new_accum);                           \
  }                                                                                                               \
  int keras_update(void* s, KerasUpdate kind, const KerasUpdateArgs<T>& a) { return keras_t(s, kind, a); }

STRATA_CUDA_OPTIMIZER_LAUNCHERS(float)
STRATA_CUDA_OPTIMIZER_LAUNCHERS(double)

}  // namespace strata::cuda
