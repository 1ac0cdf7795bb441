// Fused optimizer updates on cuda: the kernels of the runtime's ResourceApplyAdam and
// ResourceApplyKerasMomentum ops (optimizer_ops.cpp), one kernel per variable instead of the
// ten element-wise ops the training plugin's composed update runs. Each element goes through
// the op's operations in the documented order, in the variable's precision, with explicitly
// rounded intrinsics so nvcc cannot contract them into FMAs.

#include <cstdint>
#include <type_traits>

#include "grid.cuh"
#include "launch.hpp"

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
  }

STRATA_CUDA_OPTIMIZER_LAUNCHERS(float)
STRATA_CUDA_OPTIMIZER_LAUNCHERS(double)

}  // namespace strata::cuda
