// BiasAdd, BiasAddGrad, Softmax, LogSoftmax and SoftmaxGrad. Large float32 tensors use
// oneDNN's reduction, softmax and softmax backward primitives; the rest, and LogSoftmax, is
// C++ (per row, sums in double). BiasAdd and the Softmax/LogSoftmax loops are cloned per CPU
// feature level (dispatch.hpp), each rounding as the baseline build does.
#include <algorithm>
#include <cmath>

#include "common.hpp"
#include "dispatch.hpp"
#include "dnnl_util.hpp"
#include "kernels.hpp"
#include "reduce.hpp"

namespace strata::onednn {
namespace {

void check_nhwc(const KernelContext& ctx) {
  const std::string fmt = ctx.attrs().get_or<std::string>("data_format", "NHWC");
  STRATA_CHECK(fmt == "NHWC", BackendError, "op ", ctx.op_name(),
               " on the cpu supports data_format NHWC (channels last) only, got ", fmt);
}

// o[r, c] = v[r, c] + b[c] over `rows` rows of C.
template <class T>
STRATA_CPU_INLINE void add_bias_rows_body(const T* __restrict v, const T* __restrict b, T* __restrict o,
                                          std::int64_t rows, std::int64_t C) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < C; ++c) o[r * C + c] = v[r * C + c] + b[c];
  }
}
STRATA_CPU_CLONES void add_bias_rows(const float* v, const float* b, float* o, std::int64_t rows, std::int64_t C) {
  add_bias_rows_body(v, b, o, rows, C);
}
STRATA_CPU_CLONES void add_bias_rows(const double* v, const double* b, double* o, std::int64_t rows, std::int64_t C) {
  add_bias_rows_body(v, b, o, rows, C);
}

template <class T>
void bias_add(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  check_nhwc(ctx);
  const Dims& vd = in_dims(ctx, 0);
  const Dims& bd = in_dims(ctx, 1);
  STRATA_CHECK(!vd.empty() && bd.size() == 1 && bd[0] == vd.back(), BackendError, "BiasAdd: bias ",
               ctx.input(1).shape().to_string(), " does not match the last dimension of ",
               ctx.input(0).shape().to_string());
  check_output_dims(ctx, 0, vd);
  const T* v = in<T>(ctx, 0);
  const T* b = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = product(vd), C = bd[0];
  if (n == 0) return;
  // The rows go through a loop cloned per CPU feature level (dispatch.hpp) at every size:
  // the same float additions oneDNN's binary primitive made for large tensors, without
  // building and looking up a primitive per call.
  const std::int64_t rows = n / C;
  parallel_for(rows, std::max<std::int64_t>(1, kGrainCheap / C), [&](std::int64_t begin, std::int64_t end) {
    add_bias_rows(v + begin * C, b, o + begin * C, end - begin, C);
  });
}

template <class T>
void bias_add_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  check_nhwc(ctx);
  const Dims& d = in_dims(ctx, 0);
  STRATA_CHECK(!d.empty(), BackendError, "BiasAddGrad needs an input of rank >= 1");
  check_output_dims(ctx, 0, {d.back()});
  std::vector<bool> reduced(d.size(), true);
  reduced.back() = false;
  const T* g = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  reduce_into<T>(ctx.op_name(), g, d, reduced, Reduce::kSum, o);
}

enum class SoftmaxKind { kSoftmax, kLogSoftmax };

// Softmax or LogSoftmax of rows [begin, end) of C values, sums in double.
template <class T>
STRATA_CPU_INLINE void softmax_rows(const T* __restrict x, T* __restrict o, std::int64_t C, SoftmaxKind kind,
                                    std::int64_t begin, std::int64_t end) {
  for (std::int64_t r = begin; r < end; ++r) {
    const T* xr = x + r * C;
    T* orow = o + r * C;
    T mx = xr[0];
    for (std::int64_t c = 1; c < C; ++c) mx = xr[c] > mx ? xr[c] : mx;
    double sum = 0;
    for (std::int64_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(xr[c]) - static_cast<double>(mx));
    if (kind == SoftmaxKind::kSoftmax) {
      const double inv = 1.0 / sum;
      for (std::int64_t c = 0; c < C; ++c) {
        orow[c] = static_cast<T>(std::exp(static_cast<double>(xr[c]) - static_cast<double>(mx)) * inv);
      }
    } else {
      const double lse = std::log(sum);
      for (std::int64_t c = 0; c < C; ++c) {
        orow[c] = static_cast<T>(static_cast<double>(xr[c]) - static_cast<double>(mx) - lse);
      }
    }
  }
}
STRATA_CPU_CLONES void softmax_cloned(const float* x, float* o, std::int64_t C, SoftmaxKind kind, std::int64_t begin,
                                      std::int64_t end) {
  softmax_rows(x, o, C, kind, begin, end);
}
STRATA_CPU_CLONES void softmax_cloned(const double* x, double* o, std::int64_t C, SoftmaxKind kind,
                                      std::int64_t begin, std::int64_t end) {
  softmax_rows(x, o, C, kind, begin, end);
}

// After oneDNN's softmax: as the C++ loop (and the ref kernels) compute it, a row holding
// NaN or +inf, or only -inf, is all NaN; oneDNN gives numbers there.
STRATA_CPU_CLONES void softmax_nan_rows(const float* x, float* o, std::int64_t C, std::int64_t begin,
                                        std::int64_t end) {
  for (std::int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * C;
    bool bad = false, all_negative_infinite = true;
    for (std::int64_t c = 0; c < C; ++c) {
      bad |= xr[c] != xr[c] || xr[c] == std::numeric_limits<float>::infinity();
      all_negative_infinite &= xr[c] == -std::numeric_limits<float>::infinity();
    }
    if (bad || all_negative_infinite) std::fill(o + r * C, o + (r + 1) * C, std::numeric_limits<float>::quiet_NaN());
  }
}

template <class T>
void softmax(KernelContext& ctx, SoftmaxKind kind) {
  check_num_inputs(ctx, 1);
  const Dims& d = in_dims(ctx, 0);
  STRATA_CHECK(!d.empty(), BackendError, ctx.op_name(), " needs an input of rank >= 1");
  check_output_dims(ctx, 0, d);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = product(d), C = d.back();
  if (n == 0) return;
  const std::int64_t rows = n / C;
  // LogSoftmax stays in C++: oneDNN 2.6's logsoftmax inherits the error of its log
  // (absolute 3e-6 where the sum is near 1), beyond the float32 tolerance.
  if constexpr (std::is_same_v<T, float>) {
    if (kind == SoftmaxKind::kSoftmax && n >= kDnnlMinTranscendental) {
      KeyBuilder key("softmax");
      key.add(rows).add(C);
      auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
        const auto md = plain({rows, C});
        const dnnl::softmax_forward::primitive_desc pd(
            dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, md, 1), user_scratchpad(), engine());
        return PrimitiveSpec{dnnl::softmax_forward(pd), {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, md}},
                             pd.scratchpad_desc()};
      });
      prim->execute({x, o});
      parallel_for(rows, std::max<std::int64_t>(1, kGrainCheap / C),
                   [&](std::int64_t begin, std::int64_t end) { softmax_nan_rows(x, o, C, begin, end); });
      return;
    }
  }
  parallel_for(rows, std::max<std::int64_t>(1, kGrainExpensive / C),
               [&](std::int64_t begin, std::int64_t end) { softmax_cloned(x, o, C, kind, begin, end); });
}

template <class T>
void softmax_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  check_same_dims(ctx, 0, 1);
  const Dims& d = in_dims(ctx, 0);
  STRATA_CHECK(!d.empty(), BackendError, "SoftmaxGrad needs inputs of rank >= 1");
  check_output_dims(ctx, 0, d);
  const T* s = in<T>(ctx, 0);
  const T* g = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = product(d), C = d.back();
  if (n == 0) return;
  const std::int64_t rows = n / C;
  if constexpr (std::is_same_v<T, float>) {
    if (n >= kDnnlMinElements) {
      KeyBuilder key("softmax_bwd");
      key.add(rows).add(C);
      auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
        const auto md = plain({rows, C});
        const dnnl::softmax_forward::primitive_desc hint(
            dnnl::softmax_forward::desc(dnnl::prop_kind::forward_training, md, 1), engine());
        const dnnl::softmax_backward::primitive_desc pd(dnnl::softmax_backward::desc(md, md, 1), user_scratchpad(),
                                                        engine(), hint);
        return PrimitiveSpec{dnnl::softmax_backward(pd),
                             {{DNNL_ARG_DST, md}, {DNNL_ARG_DIFF_DST, md}, {DNNL_ARG_DIFF_SRC, md}},
                             pd.scratchpad_desc()};
      });
      prim->execute({s, g, o});
      return;
    }
  }
  parallel_for(rows, std::max<std::int64_t>(1, kGrainCheap / C), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const T* sr = s + r * C;
      const T* gr = g + r * C;
      T* orow = o + r * C;
      double dot = 0;
      for (std::int64_t c = 0; c < C; ++c) dot += static_cast<double>(gr[c]) * static_cast<double>(sr[c]);
      for (std::int64_t c = 0; c < C; ++c) {
        orow[c] = static_cast<T>((static_cast<double>(gr[c]) - dot) * static_cast<double>(sr[c]));
      }
    }
  });
}


// ---- ResizeBilinear, ResizeNearestNeighbor and their gradients ---------------------------------
// Plain loops with TensorFlow's arithmetic (its resize_bilinear_op.cc and
// resize_nearest_neighbor_op.cc): source coordinates and weights in float32, so that results
// agree with TensorFlow's bit for bit for float32 images. Not oneDNN's resampling primitive:
// its nearest neighbour rounds differently from TensorFlow's half-pixel rule.

struct ResizeAxis {
  std::int64_t in = 0, out = 0;
  float scale = 0.f;
};

ResizeAxis resize_axis(std::int64_t in, std::int64_t out, bool align_corners) {
  ResizeAxis a{in, out, 0.f};
  a.scale = align_corners && out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1)
                                     : static_cast<float>(in) / static_cast<float>(out);
  return a;
}

struct ResizeFlags {
  bool align_corners = false, half_pixel = false;
};

ResizeFlags resize_flags(const KernelContext& ctx) {
  ResizeFlags f{ctx.attrs().get_or<bool>("align_corners", false), ctx.attrs().get_or<bool>("half_pixel_centers", false)};
  STRATA_CHECK(!(f.align_corners && f.half_pixel), BackendError, ctx.op_name(),
               ": if half_pixel_centers is true, align_corners must be false");
  return f;
}

// Bilinear source of output index o: lower/upper input index and the weight of upper.
struct Lerp {
  std::int64_t lower = 0, upper = 0;
  float lerp = 0.f;
};

Lerp bilinear_source(const ResizeAxis& a, std::int64_t o, bool half_pixel) {
  const float in = half_pixel ? (static_cast<float>(o) + 0.5f) * a.scale - 0.5f : static_cast<float>(o) * a.scale;
  const float in_f = std::floor(in);
  Lerp l;
  l.lower = std::max<std::int64_t>(static_cast<std::int64_t>(in_f), 0);
  l.upper = std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(in)), a.in - 1);
  l.lerp = in - in_f;
  return l;
}

std::int64_t nearest_source(const ResizeAxis& a, std::int64_t o, const ResizeFlags& f) {
  const float in = f.half_pixel ? (static_cast<float>(o) + 0.5f) * a.scale : static_cast<float>(o) * a.scale;
  std::int64_t i = std::min<std::int64_t>(
      f.align_corners ? static_cast<std::int64_t>(std::round(in)) : static_cast<std::int64_t>(std::floor(in)), a.in - 1);
  if (f.half_pixel) i = std::max<std::int64_t>(0, i);
  return i;
}

// [n, h, w, c] images, their output size (host input 1) and the per-axis geometry.
struct ResizeShape {
  std::int64_t n = 0, h = 0, w = 0, c = 0, oh = 0, ow = 0;
};

ResizeShape resize_shape(const KernelContext& ctx, const Dims& images, const Dims& size) {
  STRATA_CHECK(images.size() == 4 && size.size() == 2 && size[0] > 0 && size[1] > 0, BackendError, ctx.op_name(),
               ": needs [batch, height, width, channels] images and a positive size [height, width], got images ",
               Shape(images).to_string(), " and size ", Shape(size).to_string());
  return {images[0], images[1], images[2], images[3], size[0], size[1]};
}

// What both forward resize kernels read first: the flags, the checked shapes (the output's
// included) and the source mapping of each axis.
struct ResizeCall {
  ResizeFlags flags;
  ResizeShape shape;
  ResizeAxis height, width;
};

ResizeCall resize_call(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  ResizeCall c{resize_flags(ctx), resize_shape(ctx, in_dims(ctx, 0), host_ints(ctx, 1)), {}, {}};
  check_output_dims(ctx, 0, {c.shape.n, c.shape.oh, c.shape.ow, c.shape.c});
  c.height = resize_axis(c.shape.h, c.shape.oh, c.flags.align_corners);
  c.width = resize_axis(c.shape.w, c.shape.ow, c.flags.align_corners);
  return c;
}

template <class T>
T lerp_of(T a, T b, float t) {
  return a + (b - a) * static_cast<T>(t);
}

template <class T>
void resize_bilinear(KernelContext& ctx) {
  const ResizeCall call = resize_call(ctx);
  const ResizeFlags& f = call.flags;
  const ResizeShape& s = call.shape;
  const T* x = in<T>(ctx, 0);
  T* y = out<T>(ctx, 0);
  if (s.n * s.oh * s.ow * s.c == 0) return;
  const ResizeAxis ah = call.height, aw = call.width;
  std::vector<Lerp> xs(static_cast<std::size_t>(s.ow));
  for (std::int64_t o = 0; o < s.ow; ++o) xs[static_cast<std::size_t>(o)] = bilinear_source(aw, o, f.half_pixel);
  parallel_for(s.n * s.oh, std::max<std::int64_t>(1, kGrainCheap / (s.ow * s.c)), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t b = r / s.oh;
      const Lerp ly = bilinear_source(ah, r % s.oh, f.half_pixel);
      const T* top = x + (b * s.h + ly.lower) * s.w * s.c;
      const T* bottom = x + (b * s.h + ly.upper) * s.w * s.c;
      T* row = y + r * s.ow * s.c;
      for (std::int64_t o = 0; o < s.ow; ++o) {
        const Lerp& lx = xs[static_cast<std::size_t>(o)];
        for (std::int64_t c = 0; c < s.c; ++c) {
          const T t = lerp_of(top[lx.lower * s.c + c], top[lx.upper * s.c + c], lx.lerp);
          const T u = lerp_of(bottom[lx.lower * s.c + c], bottom[lx.upper * s.c + c], lx.lerp);
          row[o * s.c + c] = lerp_of(t, u, ly.lerp);
        }
      }
    }
  });
}

// ResizeBilinearGrad(grads, original_image): the forward's weights, scattered back.
template <class T>
void resize_bilinear_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const ResizeFlags f = resize_flags(ctx);
  const Dims& gd = in_dims(ctx, 0);
  const Dims& xd = in_dims(ctx, 1);
  STRATA_CHECK(gd.size() == 4 && xd.size() == 4 && gd[0] == xd[0] && gd[3] == xd[3], BackendError,
               "ResizeBilinearGrad: grads ", ctx.input(0).shape().to_string(), " do not fit original_image ",
               ctx.input(1).shape().to_string());
  const ResizeShape s = resize_shape(ctx, xd, {gd[1], gd[2]});
  check_output_dims(ctx, 0, xd);
  const T* g = in<T>(ctx, 0);
  T* dx = out<T>(ctx, 0);
  std::fill(dx, dx + s.n * s.h * s.w * s.c, T(0));
  const ResizeAxis ah = resize_axis(s.h, s.oh, f.align_corners), aw = resize_axis(s.w, s.ow, f.align_corners);
  // One batch element per task: the scatter stays within it.
  parallel_for(s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t b = begin; b < end; ++b) {
      for (std::int64_t oy = 0; oy < s.oh; ++oy) {
        const Lerp ly = bilinear_source(ah, oy, f.half_pixel);
        const float iy = 1.0f - ly.lerp;
        for (std::int64_t ox = 0; ox < s.ow; ++ox) {
          const Lerp lx = bilinear_source(aw, ox, f.half_pixel);
          const float ix = 1.0f - lx.lerp;
          const T* gp = g + ((b * s.oh + oy) * s.ow + ox) * s.c;
          T* top = dx + (b * s.h + ly.lower) * s.w * s.c;
          T* bottom = dx + (b * s.h + ly.upper) * s.w * s.c;
          for (std::int64_t c = 0; c < s.c; ++c) {
            const T v = gp[c];
            top[lx.lower * s.c + c] += v * static_cast<T>(iy) * static_cast<T>(ix);
            top[lx.upper * s.c + c] += v * static_cast<T>(iy) * static_cast<T>(lx.lerp);
            bottom[lx.lower * s.c + c] += v * static_cast<T>(ly.lerp) * static_cast<T>(ix);
            bottom[lx.upper * s.c + c] += v * static_cast<T>(ly.lerp) * static_cast<T>(lx.lerp);
          }
        }
      }
    }
  });
}

template <class T>
void resize_nearest(KernelContext& ctx) {
  const ResizeCall call = resize_call(ctx);
  const ResizeFlags& f = call.flags;
  const ResizeShape& s = call.shape;
  const T* x = in<T>(ctx, 0);
  T* y = out<T>(ctx, 0);
  if (s.n * s.oh * s.ow * s.c == 0) return;
  const ResizeAxis ah = call.height, aw = call.width;
  std::vector<std::int64_t> xs(static_cast<std::size_t>(s.ow));
  for (std::int64_t o = 0; o < s.ow; ++o) xs[static_cast<std::size_t>(o)] = nearest_source(aw, o, f);
  parallel_for(s.n * s.oh, std::max<std::int64_t>(1, kGrainCheap / (s.ow * s.c)), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t b = r / s.oh;
      const T* src = x + (b * s.h + nearest_source(ah, r % s.oh, f)) * s.w * s.c;
      T* row = y + r * s.ow * s.c;
      for (std::int64_t o = 0; o < s.ow; ++o) {
        std::copy(src + xs[static_cast<std::size_t>(o)] * s.c, src + (xs[static_cast<std::size_t>(o)] + 1) * s.c,
                  row + o * s.c);
      }
    }
  });
}

// ResizeNearestNeighborGrad(grads, size): each gradient added to its source pixel.
template <class T>
void resize_nearest_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const ResizeFlags f = resize_flags(ctx);
  const Dims& gd = in_dims(ctx, 0);
  const Dims size = host_ints(ctx, 1);
  STRATA_CHECK(gd.size() == 4, BackendError, "ResizeNearestNeighborGrad: grads must be [batch, height, width, channels], got ",
               ctx.input(0).shape().to_string());
  const ResizeShape s = resize_shape(ctx, {gd[0], size.size() == 2 ? size[0] : 0, size.size() == 2 ? size[1] : 0, gd[3]},
                                     {gd[1], gd[2]});
  check_output_dims(ctx, 0, {s.n, s.h, s.w, s.c});
  const T* g = in<T>(ctx, 0);
  T* dx = out<T>(ctx, 0);
  std::fill(dx, dx + s.n * s.h * s.w * s.c, T(0));
  const ResizeAxis ah = resize_axis(s.h, s.oh, f.align_corners), aw = resize_axis(s.w, s.ow, f.align_corners);
  parallel_for(s.n, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t b = begin; b < end; ++b) {
      for (std::int64_t oy = 0; oy < s.oh; ++oy) {
        T* dst = dx + (b * s.h + nearest_source(ah, oy, f)) * s.w * s.c;
        for (std::int64_t ox = 0; ox < s.ow; ++ox) {
          const T* gp = g + ((b * s.oh + oy) * s.ow + ox) * s.c;
          T* d = dst + nearest_source(aw, ox, f) * s.c;
          for (std::int64_t c = 0; c < s.c; ++c) d[c] += gp[c];
        }
      }
    }
  });
}

}  // namespace

// optimizer.cpp: the fused optimizer updates.
void register_optimizer_kernels(Registrar& r);

void register_nn_kernels(Registrar& r) {
  register_optimizer_kernels(r);
  add_f(r, "BiasAdd", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { bias_add<T>(ctx); };
  });
  add_f(r, "BiasAddGrad", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { bias_add_grad<T>(ctx); };
  });
  add_f(r, "Softmax", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { softmax<T>(ctx, SoftmaxKind::kSoftmax); };
  });
  add_f(r, "LogSoftmax", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { softmax<T>(ctx, SoftmaxKind::kLogSoftmax); };
  });
  add_f(r, "SoftmaxGrad", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { softmax_grad<T>(ctx); };
  });
  add_f(r, "ResizeBilinear", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { resize_bilinear<T>(ctx); };
  });
  add_f(r, "ResizeBilinearGrad", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { resize_bilinear_grad<T>(ctx); };
  });
  add_f(r, "ResizeNearestNeighbor", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { resize_nearest<T>(ctx); };
  });
  add_f(r, "ResizeNearestNeighborGrad", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { resize_nearest_grad<T>(ctx); };
  });
}

}  // namespace strata::onednn
