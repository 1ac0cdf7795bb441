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


// ---- image resizing (launch.hpp, ResizeGeometry) ------------------------------------------------
// TensorFlow's arithmetic in float32 with the _rn intrinsics, so nvcc contracts nothing into
// an FMA: a source coordinate is o * scale, or (o + 0.5) * scale - 0.5 with half-pixel centres
// (without the - 0.5 for nearest neighbour).

__device__ float resize_source(std::int64_t o, float scale, bool half_pixel, bool nearest) {
  const float x = static_cast<float>(o);
  if (!half_pixel) return __fmul_rn(x, scale);
  const float s = __fmul_rn(__fadd_rn(x, 0.5f), scale);
  return nearest ? s : __fsub_rn(s, 0.5f);
}

struct LerpAt {
  std::int64_t lower, upper;
  float lerp;
};

__device__ LerpAt bilinear_at(std::int64_t o, std::int64_t in, float scale, bool half_pixel) {
  const float s = resize_source(o, scale, half_pixel, false);
  const float f = floorf(s);
  LerpAt l;
  l.lower = static_cast<std::int64_t>(f) > 0 ? static_cast<std::int64_t>(f) : 0;
  const std::int64_t up = static_cast<std::int64_t>(ceilf(s));
  l.upper = up < in - 1 ? up : in - 1;
  l.lerp = __fsub_rn(s, f);
  return l;
}

__device__ std::int64_t nearest_at(std::int64_t o, std::int64_t in, float scale, bool align_corners, bool half_pixel) {
  const float s = resize_source(o, scale, half_pixel, true);
  std::int64_t i = align_corners ? static_cast<std::int64_t>(roundf(s)) : static_cast<std::int64_t>(floorf(s));
  if (i > in - 1) i = in - 1;
  if (half_pixel && i < 0) i = 0;
  return i;
}

__device__ float lerp_rn(float a, float b, float t) { return __fadd_rn(a, __fmul_rn(__fsub_rn(b, a), t)); }
__device__ double lerp_rn(double a, double b, float t) {
  return __dadd_rn(a, __dmul_rn(__dsub_rn(b, a), static_cast<double>(t)));
}
__device__ float weight_rn(float v, float a, float b) { return __fmul_rn(__fmul_rn(v, a), b); }
__device__ double weight_rn(double v, float a, float b) {
  return __dmul_rn(__dmul_rn(v, static_cast<double>(a)), static_cast<double>(b));
}

// Output element i of [n, oh, ow, c] -> (batch, y, x, channel).
struct OutAt {
  std::int64_t b, y, x, c;
};
__device__ OutAt out_at(const ResizeGeometry& g, std::int64_t i) {
  OutAt a;
  a.c = i % g.c;
  i /= g.c;
  a.x = i % g.ow;
  i /= g.ow;
  a.y = i % g.oh;
  a.b = i / g.oh;
  return a;
}

template <class T>
__global__ void resize_bilinear_kernel(ResizeGeometry g, std::int64_t n, const T* x, T* y) {
  STRATA_GRID_LOOP(i, n) {
    const OutAt a = out_at(g, i);
    const LerpAt ly = bilinear_at(a.y, g.h, g.scale_h, g.half_pixel_centers);
    const LerpAt lx = bilinear_at(a.x, g.w, g.scale_w, g.half_pixel_centers);
    const T* top = x + (a.b * g.h + ly.lower) * g.w * g.c + a.c;
    const T* bottom = x + (a.b * g.h + ly.upper) * g.w * g.c + a.c;
    const T t = lerp_rn(top[lx.lower * g.c], top[lx.upper * g.c], lx.lerp);
    const T u = lerp_rn(bottom[lx.lower * g.c], bottom[lx.upper * g.c], lx.lerp);
    y[i] = lerp_rn(t, u, ly.lerp);
  }
}

template <class T>
__global__ void resize_bilinear_grad_kernel(ResizeGeometry g, std::int64_t n, const T* dy, T* dx) {
  STRATA_GRID_LOOP(i, n) {
    const OutAt a = out_at(g, i);
    const LerpAt ly = bilinear_at(a.y, g.h, g.scale_h, g.half_pixel_centers);
    const LerpAt lx = bilinear_at(a.x, g.w, g.scale_w, g.half_pixel_centers);
    const float iy = __fsub_rn(1.0f, ly.lerp), ix = __fsub_rn(1.0f, lx.lerp);
    T* top = dx + (a.b * g.h + ly.lower) * g.w * g.c + a.c;
    T* bottom = dx + (a.b * g.h + ly.upper) * g.w * g.c + a.c;
    const T v = dy[i];
    atomicAdd(top + lx.lower * g.c, weight_rn(v, iy, ix));
    atomicAdd(top + lx.upper * g.c, weight_rn(v, iy, lx.lerp));
    atomicAdd(bottom + lx.lower * g.c, weight_rn(v, ly.lerp, ix));
    atomicAdd(bottom + lx.upper * g.c, weight_rn(v, ly.lerp, lx.lerp));
  }
}

template <class T>
__global__ void resize_nearest_kernel(ResizeGeometry g, std::int64_t n, const T* x, T* y) {
  STRATA_GRID_LOOP(i, n) {
    const OutAt a = out_at(g, i);
    const std::int64_t sy = nearest_at(a.y, g.h, g.scale_h, g.align_corners, g.half_pixel_centers);
    const std::int64_t sx = nearest_at(a.x, g.w, g.scale_w, g.align_corners, g.half_pixel_centers);
    y[i] = x[((a.b * g.h + sy) * g.w + sx) * g.c + a.c];
  }
}

template <class T>
__global__ void resize_nearest_grad_kernel(ResizeGeometry g, std::int64_t n, const T* dy, T* dx) {
  STRATA_GRID_LOOP(i, n) {
    const OutAt a = out_at(g, i);
    const std::int64_t sy = nearest_at(a.y, g.h, g.scale_h, g.align_corners, g.half_pixel_centers);
    const std::int64_t sx = nearest_at(a.x, g.w, g.scale_w, g.align_corners, g.half_pixel_centers);
    atomicAdd(dx + ((a.b * g.h + sy) * g.w + sx) * g.c + a.c, dy[i]);
  }
}

template <class T>
int resize_forward_t(void* s, const ResizeGeometry& g, const T* x, T* y, bool bilinear) {
  const std::int64_t n = g.n * g.oh * g.ow * g.c;
  if (n == 0) return 0;
  if (bilinear) {
    STRATA_LAUNCH(resize_bilinear_kernel, blocks_for(n), as_stream(s))(g, n, x, y);
  } else {
    STRATA_LAUNCH(resize_nearest_kernel, blocks_for(n), as_stream(s))(g, n, x, y);
  }
  return status();
}

template <class T>
int resize_backward_t(void* s, const ResizeGeometry& g, const T* dy, T* dx, bool bilinear) {
  const std::int64_t n = g.n * g.oh * g.ow * g.c;
  const std::int64_t in = g.n * g.h * g.w * g.c;
  if (in == 0) return 0;
  const int cleared = memset_async(dx, static_cast<std::size_t>(in) * sizeof(T), s);
  if (cleared != 0 || n == 0) return cleared;
  if (bilinear) {
    STRATA_LAUNCH(resize_bilinear_grad_kernel, blocks_for(n), as_stream(s))(g, n, dy, dx);
  } else {
    STRATA_LAUNCH(resize_nearest_grad_kernel, blocks_for(n), as_stream(s))(g, n, dy, dx);
  }
  return status();
}

}  // namespace

#define STRATA_CUDA_RESIZE_LAUNCHERS(T)                                                                    \
  int resize_bilinear(void* s, const ResizeGeometry& g, const T* x, T* y) {                                 \
    return resize_forward_t(s, g, x, y, true);                                                              \
  }                                                                                                         \
  int resize_bilinear_grad(void* s, const ResizeGeometry& g, const T* dy, T* dx) {                          \
    return resize_backward_t(s, g, dy, dx, true);                                                           \
  }                                                                                                         \
  int resize_nearest(void* s, const ResizeGeometry& g, const T* x, T* y) {                                  \
    return resize_forward_t(s, g, x, y, false);                                                             \
  }                                                                                                         \
  int resize_nearest_grad(void* s, const ResizeGeometry& g, const T* dy, T* dx) {                           \
    return resize_backward_t(s, g, dy, dx, false);                                                          \
  }

STRATA_CUDA_RESIZE_LAUNCHERS(float)
STRATA_CUDA_RESIZE_LAUNCHERS(double)

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
