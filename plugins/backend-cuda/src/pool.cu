// Pooling kernels of the backend-cuda plugin (NHWC, float32 and float64), with TensorFlow's window
// semantics: SAME padding never takes part (max ignores it, the average divides by the
// window elements inside the input), gradients route to the first maximum of a window.
// Own kernels rather than cuDNN's because cuDNN pools only with symmetric padding and SAME
// pads asymmetrically. Forward: one thread per output element. Backward: one thread per
// output element adding into the input gradient with atomicAdd (windows may overlap), so
// sums over overlapping windows are not bit-reproducible between runs.

#include <cmath>
#include <cstdint>

#include "grid.cuh"
#include "launch.hpp"

namespace strata::cuda {
namespace {

// Output element i of [N, OH, OW, C] -> its coordinates.
struct At {
  std::int64_t n, oh, ow, c;
};
__device__ At at(const PoolWindow& p, std::int64_t i) {
  At a;
  a.c = i % p.c;
  i /= p.c;
  a.ow = i % p.ow;
  i /= p.ow;
  a.oh = i % p.oh;
  a.n = i / p.oh;
  return a;
}

// The first maximum's input offset, or -1 when the window holds no input element.
template <class T>
__device__ std::int64_t first_max(const PoolWindow& p, const T* x, const At& a, T* value) {
  std::int64_t best = -1;
  T v = 0;
  for (std::int64_t kh = 0; kh < p.kh; ++kh) {
    const std::int64_t ih = a.oh * p.sh + kh - p.pad_top;
    if (ih < 0 || ih >= p.h) continue;
    for (std::int64_t kw = 0; kw < p.kw; ++kw) {
      const std::int64_t iw = a.ow * p.sw + kw - p.pad_left;
      if (iw < 0 || iw >= p.w) continue;
      const std::int64_t off = ((a.n * p.h + ih) * p.w + iw) * p.c + a.c;
      const T e = x[off];
      // NaN wins, as in TensorFlow's max (a NaN is never "not greater").
      if (best < 0 || e > v || (std::isnan(e) && !std::isnan(v))) {
        best = off;
        v = e;
      }
    }
  }
  *value = v;
  return best;
}

template <class T>
__global__ void max_pool_kernel(PoolWindow p, std::int64_t n, const T* x, T* y) {
  STRATA_GRID_LOOP(i, n) {
    T v = 0;
    first_max(p, x, at(p, i), &v);
    y[i] = v;
  }
}

template <class T>
__global__ void max_pool_grad_kernel(PoolWindow p, std::int64_t n, const T* x, const T* g, T* dx) {
  STRATA_GRID_LOOP(i, n) {
    T v = 0;
    const std::int64_t off = first_max(p, x, at(p, i), &v);
    if (off >= 0) atomicAdd(dx + off, g[i]);
  }
}

// Window of output element a clipped to the input: [h0, h1) x [w0, w1).
struct Clip {
  std::int64_t h0, h1, w0, w1;
};
__device__ Clip clip(const PoolWindow& p, const At& a) {
  Clip c;
  c.h0 = a.oh * p.sh - p.pad_top;
  c.w0 = a.ow * p.sw - p.pad_left;
  c.h1 = c.h0 + p.kh < p.h ? c.h0 + p.kh : p.h;
  c.w1 = c.w0 + p.kw < p.w ? c.w0 + p.kw : p.w;
  if (c.h0 < 0) c.h0 = 0;
  if (c.w0 < 0) c.w0 = 0;
  return c;
}

template <class T>
__global__ void avg_pool_kernel(PoolWindow p, std::int64_t n, const T* x, T* y) {
  STRATA_GRID_LOOP(i, n) {
    const At a = at(p, i);
    const Clip c = clip(p, a);
    double sum = 0.0;
    for (std::int64_t ih = c.h0; ih < c.h1; ++ih) {
      for (std::int64_t iw = c.w0; iw < c.w1; ++iw) sum += static_cast<double>(x[((a.n * p.h + ih) * p.w + iw) * p.c + a.c]);
    }
    const std::int64_t count = (c.h1 - c.h0) * (c.w1 - c.w0);
    y[i] = count > 0 ? static_cast<T>(sum / static_cast<double>(count)) : T(0);
  }
}

template <class T>
__global__ void avg_pool_grad_kernel(PoolWindow p, std::int64_t n, const T* g, T* dx) {
  STRATA_GRID_LOOP(i, n) {
    const At a = at(p, i);
    const Clip c = clip(p, a);
    const std::int64_t count = (c.h1 - c.h0) * (c.w1 - c.w0);
    if (count == 0) continue;
    const T share = g[i] / static_cast<T>(count);
    for (std::int64_t ih = c.h0; ih < c.h1; ++ih) {
      for (std::int64_t iw = c.w0; iw < c.w1; ++iw) atomicAdd(dx + ((a.n * p.h + ih) * p.w + iw) * p.c + a.c, share);
    }
  }
}

template <class T>
int max_pool_t(void* s, const PoolWindow& p, const T* x, T* y) {
  const std::int64_t n = p.n * p.oh * p.ow * p.c;
  if (n == 0) return 0;
  STRATA_LAUNCH(max_pool_kernel, blocks_for(n), as_stream(s))(p, n, x, y);
  return status();
}

template <class T>
int max_pool_grad_t(void* s, const PoolWindow& p, const T* x, const T* g, T* dx) {
  const std::int64_t n = p.n * p.oh * p.ow * p.c;
  const std::int64_t in = p.n * p.h * p.w * p.c;
  if (in == 0) return 0;
  const int cleared = memset_async(dx, static_cast<std::size_t>(in) * sizeof(T), s);
  if (cleared != 0 || n == 0) return cleared;
  STRATA_LAUNCH(max_pool_grad_kernel, blocks_for(n), as_stream(s))(p, n, x, g, dx);
  return status();
}

template <class T>
int avg_pool_t(void* s, const PoolWindow& p, const T* x, T* y) {
  const std::int64_t n = p.n * p.oh * p.ow * p.c;
  if (n == 0) return 0;
  STRATA_LAUNCH(avg_pool_kernel, blocks_for(n), as_stream(s))(p, n, x, y);
  return status();
}

template <class T>
int avg_pool_grad_t(void* s, const PoolWindow& p, const T* g, T* dx) {
  const std::int64_t n = p.n * p.oh * p.ow * p.c;
  const std::int64_t in = p.n * p.h * p.w * p.c;
  if (in == 0) return 0;
  const int cleared = memset_async(dx, static_cast<std::size_t>(in) * sizeof(T), s);
  if (cleared != 0 || n == 0) return cleared;
  STRATA_LAUNCH(avg_pool_grad_kernel, blocks_for(n), as_stream(s))(p, n, g, dx);
  return status();
}

}  // namespace

#define STRATA_CUDA_POOL_LAUNCHERS(T)                                                                      \
  int max_pool(void* s, const PoolWindow& p, const T* x, T* y) { return max_pool_t(s, p, x, y); }           \
  int max_pool_grad(void* s, const PoolWindow& p, const T* x, const T* g, T* dx) {                          \
    return max_pool_grad_t(s, p, x, g, dx);                                                                 \
  }                                                                                                         \
  int avg_pool(void* s, const PoolWindow& p, const T* x, T* y) { return avg_pool_t(s, p, x, y); }           \
  int avg_pool_grad(void* s, const PoolWindow& p, const T* g, T* dx) { return avg_pool_grad_t(s, p, g, dx); }

STRATA_CUDA_POOL_LAUNCHERS(float)
STRATA_CUDA_POOL_LAUNCHERS(double)

}  // namespace strata::cuda
