// Fused optimizer updates on cuda (_CudaAdamUpdate, _CudaSGDUpdate; optimizer_ops.cpp): one
// kernel per variable instead of the ten element-wise ops the composed update runs. Each
// element goes through the composed update's operations in the same order and precision,
// with explicitly rounded intrinsics so nvcc cannot contract them into FMAs.

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

// new_m = m + (g - m) * c1; new_v = v + (g*g - v) * c2;
// new_var = var - (new_m * alpha) / (sqrt(new_v) + eps).
template <class T>
__global__ void adam_kernel(std::int64_t n, const T* var, const T* m, const T* v, const T* g, const T* alpha, T c1,
                            T c2, T eps, T* new_var, T* new_m, T* new_v) {
  const T a = *alpha;
  STRATA_GRID_LOOP(i, n) {
    const T mi = add_rn(m[i], mul_rn(sub_rn(g[i], m[i]), c1));
    const T vi = add_rn(v[i], mul_rn(sub_rn(mul_rn(g[i], g[i]), v[i]), c2));
    new_m[i] = mi;
    new_v[i] = vi;
    new_var[i] = sub_rn(var[i], div_rn(mul_rn(mi, a), add_rn(sqrt_rn(vi), eps)));
  }
}

// new_m = -g * lr + m * momentum; new_var = var + new_m, or with Nesterov
// var + (-g * lr + new_m * momentum).
template <class T>
__global__ void sgd_kernel(std::int64_t n, const T* var, const T* m, const T* g, const T* lr, T momentum,
                           bool nesterov, T* new_var, T* new_m) {
  const T rate = *lr;
  STRATA_GRID_LOOP(i, n) {
    const T step = mul_rn(-g[i], rate);
    const T mi = add_rn(step, mul_rn(m[i], momentum));
    new_m[i] = mi;
    new_var[i] = nesterov ? add_rn(var[i], add_rn(step, mul_rn(mi, momentum))) : add_rn(var[i], mi);
  }
}

template <class T>
int adam_t(void* s, std::int64_t n, const T* var, const T* m, const T* v, const T* g, const T* alpha, T c1, T c2, T eps,
           T* new_var, T* new_m, T* new_v) {
  if (n == 0) return 0;
  STRATA_LAUNCH(adam_kernel, blocks_for(n), as_stream(s))(n, var, m, v, g, alpha, c1, c2, eps, new_var, new_m, new_v);
  return status();
}

template <class T>
int sgd_t(void* s, std::int64_t n, const T* var, const T* m, const T* g, const T* lr, T momentum, bool nesterov,
          T* new_var, T* new_m) {
  if (n == 0) return 0;
  STRATA_LAUNCH(sgd_kernel, blocks_for(n), as_stream(s))(n, var, m, g, lr, momentum, nesterov, new_var, new_m);
  return status();
}

}  // namespace

#define STRATA_CUDA_OPTIMIZER_LAUNCHERS(T)                                                                        \
  int adam_update(void* s, std::int64_t n, const T* var, const T* m, const T* v, const T* g, const T* alpha, T c1, \
                  T c2, T eps, T* new_var, T* new_m, T* new_v) {                                                  \
    return adam_t(s, n, var, m, v, g, alpha, c1, c2, eps, new_var, new_m, new_v);                                  \
  }                                                                                                               \
  int sgd_update(void* s, std::int64_t n, const T* var, const T* m, const T* g, const T* lr, T momentum,          \
                 bool nesterov, T* new_var, T* new_m) {                                                           \
    return sgd_t(s, n, var, m, g, lr, momentum, nesterov, new_var, new_m);                                        \
  }

STRATA_CUDA_OPTIMIZER_LAUNCHERS(float)
STRATA_CUDA_OPTIMIZER_LAUNCHERS(double)

}  // namespace strata::cuda
