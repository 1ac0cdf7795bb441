// Convolutions and pooling, NHWC, with TensorFlow's SAME/VALID geometry from the SDK
// (strata/plugin/window.hpp).
//
// float32: oneDNN convolution forward / backward data / backward weights (Conv2D and its
// backprops; DepthwiseConv2dNative and its backprops as a grouped convolution with one
// input channel per group), and oneDNN pooling (MaxPool, AvgPool with
// pooling_avg_exclude_padding, AvgPoolGrad). Tensors keep their TensorFlow layouts
// (NHWC data, HWIO / HWCM filters), described to oneDNN by strides, so nothing is
// reordered. oneDNN's dilation is TensorFlow's minus one. A forward float32 convolution of
// a single-channel input (a network's first layer), which oneDNN 2.6 is slow at, runs the
// direct loop of small_conv.hpp instead.
//
// MaxPoolGrad is C++ for every dtype: OPS.md routes each gradient to the first maximum
// of its window in row-major window order, which a plain loop states exactly. float64
// convolutions and pooling are C++ too.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>

#include "common.hpp"
#include "dnnl_util.hpp"
#include "fusion.hpp"
#include "kernels.hpp"
#include "small_conv.hpp"
#include "strata/plugin/window.hpp"

namespace strata::onednn {
namespace {

// One NHWC window op: input [n, h, w, c], window kh x kw, output [n, oh, ow, ...]
// (the SDK's geometry, strata/plugin/window.hpp).
using Geometry = Window2D;

Geometry geometry(const KernelContext& ctx, const Dims& input, std::int64_t kh, std::int64_t kw, bool dilations) {
  return nhwc_window(ctx.attrs(), ctx.op_name(), input, kh, kw,
                     dilations ? WindowDilation::kFromAttrs : WindowDilation::kNone);
}

// ---- oneDNN descriptors -------------------------------------------------------------------

// NHWC data of logical dims {N, C, H, W}.
dnnl::memory::desc nhwc(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  return strided_f32({n, c, h, w}, {h * w * c, 1, w * c, c});
}

// The filter: HWIO [KH, KW, C, OC] as {OC, C, KH, KW}, or, for a depthwise convolution,
// [KH, KW, C, M] as the grouped {C, M, 1, KH, KW}.
dnnl::memory::desc filter_md(const Geometry& g, std::int64_t oc, bool depthwise) {
  if (depthwise) {
    const std::int64_t M = oc / g.c;
    return strided_f32({g.c, M, 1, g.kh, g.kw}, {M, 1, 1, g.kw * g.c * M, g.c * M});
  }
  return strided_f32({oc, g.c, g.kh, g.kw}, {1, oc, g.kw * g.c * oc, g.c * oc});
}

enum class ConvPass : std::int64_t { kForward, kBackwardData, kBackwardWeights };

// Filters reordered into oneDNN's chosen layout, kept across calls. A filter is known by its
// tensor's id (never reused; a weight's value, or a value a graph plan keeps, keeps its id
// until the weight is assigned). The second call with the same filter keeps its reordered
// copy, so training, whose filters are new every step, keeps nothing. At most 1/16 of the
// physical memory (at least 64 MiB) in all, least recently used dropped first, and a copy
// whose filter's storage is gone dropped at the next lookup; STRATA_WEIGHT_CACHE=0 turns this
// off with the graph plans' weight cache.
class ReorderedFilters {
 public:
  static ReorderedFilters& instance() {
    static auto* cache = new ReorderedFilters();  // never destroyed: kernels may run at exit
    return *cache;
  }
  bool enabled() const noexcept { return enabled_; }

  // The kept copy of filter `id` reordered by `key`, or null (then, if the filter was seen
  // before, `keep` says to reorder into a new copy and put() it).
  std::shared_ptr<void> get(std::uint64_t id, std::string_view key, bool& keep) {
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->filter.expired()) {  // the filter is gone (its model with it): so is its copy
        bytes_ -= it->bytes;
        it = entries_.erase(it);
        continue;
      }
      if (it->id == id && it->key == key) {
        entries_.splice(entries_.begin(), entries_, it);
        return it->data;
      }
      ++it;
    }
    keep = std::find(seen_.begin(), seen_.end(), id) != seen_.end();
    if (!keep) {
      seen_.push_back(id);
      if (seen_.size() > kSeen) seen_.pop_front();
    }
    return nullptr;
  }
  void put(std::uint64_t id, std::string_view key, const std::shared_ptr<Buffer>& filter, std::shared_ptr<void> data,
           std::size_t bytes) {
    std::lock_guard lock(mutex_);
    if (bytes > limit_) return;
    entries_.push_front({id, std::string(key), filter, std::move(data), bytes});
    bytes_ += bytes;
    while (bytes_ > limit_) {
      bytes_ -= entries_.back().bytes;
      entries_.pop_back();
    }
  }

 private:
  ReorderedFilters() {
    const char* env = std::getenv("STRATA_WEIGHT_CACHE");
    enabled_ = env == nullptr || std::string_view(env) != "0";
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    const std::size_t physical = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
    limit_ = std::max<std::size_t>(physical / 16, std::size_t{64} << 20);
  }
  struct Entry {
    std::uint64_t id;
    std::string key;
    std::weak_ptr<Buffer> filter;  // the filter's storage: the copy goes when it does
    std::shared_ptr<void> data;
    std::size_t bytes;
  };
  static constexpr std::size_t kSeen = 256;
  std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::deque<std::uint64_t> seen_;
  std::size_t bytes_ = 0, limit_ = 0;
  bool enabled_ = true;
};

// The filter of a forward convolution in the layout oneDNN chose for `prim` (argument 1):
// `filter` itself when that is its own layout `given`, otherwise `filter` reordered: a kept
// copy (ReorderedFilters) or a per-thread staging buffer. `key` is the convolution's cache
// key; `holder` keeps a kept copy alive while the convolution runs.
const void* forward_weights(KernelContext& ctx, const CachedPrimitive& prim, std::string_view key,
                            const dnnl::memory::desc& given, const void* filter, std::shared_ptr<void>& holder) {
  const dnnl::memory::desc& chosen = prim.arg_desc(1);
  if (chosen == given) return filter;
  KeyBuilder reorder_key("conv_weights");
  reorder_key.add(key);
  auto reorder = cached_primitive(ctx.op_name(), reorder_key.str(), [&] {
    const dnnl::reorder::primitive_desc pd(engine(), given, engine(), chosen, user_scratchpad());
    return PrimitiveSpec{dnnl::reorder(pd), {{DNNL_ARG_FROM, given}, {DNNL_ARG_TO, chosen}}, pd.scratchpad_desc()};
  });
  auto& kept = ReorderedFilters::instance();
  const Tensor& input = ctx.input(1);
  const bool known = kept.enabled() && input.data() == filter && input.id() != 0;
  bool keep = false;
  if (known) {
    holder = kept.get(input.id(), reorder_key.str(), keep);
    if (holder) return holder.get();
  }
  if (keep) {
    const std::size_t bytes = chosen.get_size();
    std::shared_ptr<void> copy(::operator new(bytes, std::align_val_t{64}),
                               [](void* p) { ::operator delete(p, std::align_val_t{64}); });
    reorder->execute({filter, copy.get()});
    kept.put(input.id(), reorder_key.str(), input.buffer(), copy, bytes);
    holder = std::move(copy);
    return holder.get();
  }
  void* staged = thread_buffer(1, chosen.get_size());
  reorder->execute({filter, staged});
  return staged;
}

// Runs one convolution pass. Buffers, in order: forward (x, filter, y); backward data
// (dy, filter, dx); backward weights (x, dy, dfilter).
void dnnl_conv(KernelContext& ctx, ConvPass pass, const Geometry& g, std::int64_t oc, bool depthwise, const void* a,
               const void* b, void* out) {
  KeyBuilder key("conv");
  key.add(static_cast<std::int64_t>(pass)).add(std::int64_t{depthwise ? 1 : 0});
  key.add(Dims{g.n, g.h, g.w, g.c, g.kh, g.kw, oc, g.oh, g.ow, g.sh, g.sw, g.dh, g.dw, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right});
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto src = nhwc(g.n, g.c, g.h, g.w), dst = nhwc(g.n, oc, g.oh, g.ow), wei = filter_md(g, oc, depthwise);
    const dnnl::memory::dims strides{g.sh, g.sw}, dilates{g.dh - 1, g.dw - 1}, pad_l{g.pad_top, g.pad_left},
        pad_r{g.pad_bottom, g.pad_right};
    const auto alg = dnnl::algorithm::convolution_direct;
    if (pass == ConvPass::kForward) {
      // Weights in the layout oneDNN prefers (its brgemm convolutions beat the gemm one
      // that plain HWIO weights get by a fifth or more); reordered on every call below.
      const dnnl::memory::desc any(wei.dims(), dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
      const dnnl::convolution_forward::primitive_desc pd(
          dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg, src, any, dst, strides, dilates,
                                          pad_l, pad_r),
          user_scratchpad(), engine());
      return PrimitiveSpec{dnnl::convolution_forward(pd),
                           {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, pd.weights_desc()}, {DNNL_ARG_DST, dst}},
                           pd.scratchpad_desc()};
    }
    const dnnl::convolution_forward::primitive_desc hint(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src, wei, dst, strides, dilates, pad_l,
                                        pad_r),
        engine());
    if (pass == ConvPass::kBackwardData) {
      const dnnl::convolution_backward_data::primitive_desc pd(
          dnnl::convolution_backward_data::desc(alg, src, wei, dst, strides, dilates, pad_l, pad_r),
          user_scratchpad(), engine(), hint);
      return PrimitiveSpec{dnnl::convolution_backward_data(pd),
                           {{DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, src}},
                           pd.scratchpad_desc()};
    }
    const dnnl::convolution_backward_weights::primitive_desc pd(
        dnnl::convolution_backward_weights::desc(alg, src, wei, dst, strides, dilates, pad_l, pad_r),
        user_scratchpad(), engine(), hint);
    return PrimitiveSpec{dnnl::convolution_backward_weights(pd),
                         {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_DIFF_WEIGHTS, wei}},
                         pd.scratchpad_desc()};
  });
  if (pass == ConvPass::kForward) {
    std::shared_ptr<void> holder;
    return prim->execute({a, forward_weights(ctx, *prim, key.str(), filter_md(g, oc, depthwise), b, holder), out});
  }
  prim->execute({a, b, out});
}

// Pooling forward (max or average excluding padding), or the average's backward pass.
void dnnl_pool(KernelContext& ctx, dnnl::algorithm alg, bool backward, const Geometry& g, const void* in, void* out) {
  KeyBuilder key("pool");
  key.add(static_cast<std::int64_t>(alg)).add(std::int64_t{backward ? 1 : 0});
  key.add(Dims{g.n, g.h, g.w, g.c, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right});
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto src = nhwc(g.n, g.c, g.h, g.w), dst = nhwc(g.n, g.c, g.oh, g.ow);
    const dnnl::memory::dims strides{g.sh, g.sw}, kernel{g.kh, g.kw}, pad_l{g.pad_top, g.pad_left}, pad_r{g.pad_bottom, g.pad_right};
    if (!backward) {
      const dnnl::pooling_forward::primitive_desc pd(
          dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, alg, src, dst, strides, kernel, pad_l,
                                      pad_r),
          user_scratchpad(), engine());
      return PrimitiveSpec{dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                           pd.scratchpad_desc()};
    }
    const dnnl::pooling_forward::primitive_desc hint(
        dnnl::pooling_forward::desc(dnnl::prop_kind::forward_training, alg, src, dst, strides, kernel, pad_l, pad_r),
        engine());
    const dnnl::pooling_backward::primitive_desc pd(
        dnnl::pooling_backward::desc(alg, src, dst, strides, kernel, pad_l, pad_r), user_scratchpad(), engine(), hint);
    return PrimitiveSpec{dnnl::pooling_backward(pd), {{DNNL_ARG_DIFF_DST, dst}, {DNNL_ARG_DIFF_SRC, src}},
                         pd.scratchpad_desc()};
  });
  prim->execute({in, out});
}

// ---- C++ convolutions ---------------------------------------------------------------------

// The C++ loops below split rows (or filter taps) over threads; a row is worth a thread
// when it holds at least this much work. Returns the grain for parallel_for.
std::int64_t row_grain(std::int64_t rows, std::int64_t work_per_row) {
  return work_per_row >= kGrainExpensive ? 1 : rows;
}

// Accumulator of one output element: double for float32 and float64.
using Acc = double;

template <class T>
void store(T* o, const std::vector<Acc>& acc) {
  for (std::size_t i = 0; i < acc.size(); ++i) o[i] = static_cast<T>(acc[i]);
}

// Conv2D: y[n, oh, ow, co] = Σ x[n, ih, iw, ci] · f[kh, kw, ci, co].
template <class T>
void conv_forward_cpp(const Geometry& g, std::int64_t CO, const T* x, const T* f, T* y) {
  parallel_for(g.n * g.oh, row_grain(g.n * g.oh, g.ow * g.kh * g.kw * g.c * CO), [&](std::int64_t begin, std::int64_t end) {
    std::vector<Acc> acc(static_cast<std::size_t>(CO));
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t n = r / g.oh, oh = r % g.oh;
      for (std::int64_t ow = 0; ow < g.ow; ++ow) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (std::int64_t kh = 0; kh < g.kh; ++kh)
          for (std::int64_t kw = 0; kw < g.kw; ++kw) {
            const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
            if (!g.inside(ih, iw)) continue;
            const T* xr = x + ((n * g.h + ih) * g.w + iw) * g.c;
            const T* fr = f + (kh * g.kw + kw) * g.c * CO;
            for (std::int64_t ci = 0; ci < g.c; ++ci) {
              const Acc xv = xr[ci];
              const T* fc = fr + ci * CO;
              for (std::int64_t co = 0; co < CO; ++co) acc[co] += xv * static_cast<Acc>(fc[co]);
            }
          }
        store(y + ((n * g.oh + oh) * g.ow + ow) * CO, acc);
      }
    }
  });
}

// The output rows / columns that tap k of input position i feeds: o with
// o·stride + k·dilation − pad = i.
inline bool source_of(std::int64_t i, std::int64_t k, std::int64_t stride, std::int64_t dilation, std::int64_t pad,
                      std::int64_t out, std::int64_t* o) {
  const std::int64_t t = i + pad - k * dilation;
  if (t < 0 || t % stride != 0) return false;
  *o = t / stride;
  return *o < out;
}

// dx[n, ih, iw, ci] = Σ dy[n, oh, ow, co] · f[kh, kw, ci, co] over the taps reaching it.
template <class T>
void conv_backward_data_cpp(const Geometry& g, std::int64_t CO, const T* f, const T* dy, T* dx) {
  parallel_for(g.n * g.h, row_grain(g.n * g.h, g.w * g.kh * g.kw * g.c * CO), [&](std::int64_t begin, std::int64_t end) {
    std::vector<Acc> acc(static_cast<std::size_t>(g.c));
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t n = r / g.h, ih = r % g.h;
      for (std::int64_t iw = 0; iw < g.w; ++iw) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (std::int64_t kh = 0; kh < g.kh; ++kh) {
          std::int64_t oh;
          if (!source_of(ih, kh, g.sh, g.dh, g.pad_top, g.oh, &oh)) continue;
          for (std::int64_t kw = 0; kw < g.kw; ++kw) {
            std::int64_t ow;
            if (!source_of(iw, kw, g.sw, g.dw, g.pad_left, g.ow, &ow)) continue;
            const T* dyr = dy + ((n * g.oh + oh) * g.ow + ow) * CO;
            const T* fr = f + (kh * g.kw + kw) * g.c * CO;
            for (std::int64_t ci = 0; ci < g.c; ++ci) {
              const T* fc = fr + ci * CO;
              Acc s = 0;
              for (std::int64_t co = 0; co < CO; ++co) s += static_cast<Acc>(dyr[co]) * static_cast<Acc>(fc[co]);
              acc[ci] += s;
            }
          }
        }
        store(dx + ((n * g.h + ih) * g.w + iw) * g.c, acc);
      }
    }
  });
}

// df[kh, kw, ci, co] = Σ x[n, ih, iw, ci] · dy[n, oh, ow, co]; threads own filter taps.
template <class T>
void conv_backward_weights_cpp(const Geometry& g, std::int64_t CO, const T* x, const T* dy, T* df) {
  parallel_for(g.kh * g.kw, row_grain(g.kh * g.kw, g.n * g.oh * g.ow * g.c * CO), [&](std::int64_t begin, std::int64_t end) {
    std::vector<Acc> acc(static_cast<std::size_t>(g.c * CO));
    for (std::int64_t tap = begin; tap < end; ++tap) {
      const std::int64_t kh = tap / g.kw, kw = tap % g.kw;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (std::int64_t n = 0; n < g.n; ++n)
        for (std::int64_t oh = 0; oh < g.oh; ++oh)
          for (std::int64_t ow = 0; ow < g.ow; ++ow) {
            const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
            if (!g.inside(ih, iw)) continue;
            const T* xr = x + ((n * g.h + ih) * g.w + iw) * g.c;
            const T* dyr = dy + ((n * g.oh + oh) * g.ow + ow) * CO;
            for (std::int64_t ci = 0; ci < g.c; ++ci) {
              const Acc xv = xr[ci];
              Acc* a = acc.data() + ci * CO;
              for (std::int64_t co = 0; co < CO; ++co) a[co] += xv * static_cast<Acc>(dyr[co]);
            }
          }
      store(df + tap * g.c * CO, acc);
    }
  });
}

// Depthwise: y[n, oh, ow, c·M + m] = Σ x[n, ih, iw, c] · f[kh, kw, c, m].
template <class T>
void depthwise_forward_cpp(const Geometry& g, std::int64_t M, const T* x, const T* f, T* y) {
  const std::int64_t CM = g.c * M;
  parallel_for(g.n * g.oh, row_grain(g.n * g.oh, g.ow * g.kh * g.kw * CM), [&](std::int64_t begin, std::int64_t end) {
    std::vector<Acc> acc(static_cast<std::size_t>(CM));
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t n = r / g.oh, oh = r % g.oh;
      for (std::int64_t ow = 0; ow < g.ow; ++ow) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (std::int64_t kh = 0; kh < g.kh; ++kh)
          for (std::int64_t kw = 0; kw < g.kw; ++kw) {
            const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
            if (!g.inside(ih, iw)) continue;
            const T* xr = x + ((n * g.h + ih) * g.w + iw) * g.c;
            const T* fr = f + (kh * g.kw + kw) * CM;
            for (std::int64_t c = 0; c < g.c; ++c) {
              const Acc xv = xr[c];
              for (std::int64_t m = 0; m < M; ++m) acc[c * M + m] += xv * static_cast<Acc>(fr[c * M + m]);
            }
          }
        store(y + ((n * g.oh + oh) * g.ow + ow) * CM, acc);
      }
    }
  });
}

template <class T>
void depthwise_backward_data_cpp(const Geometry& g, std::int64_t M, const T* f, const T* dy, T* dx) {
  const std::int64_t CM = g.c * M;
  parallel_for(g.n * g.h, row_grain(g.n * g.h, g.w * g.kh * g.kw * CM), [&](std::int64_t begin, std::int64_t end) {
    std::vector<Acc> acc(static_cast<std::size_t>(g.c));
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t n = r / g.h, ih = r % g.h;
      for (std::int64_t iw = 0; iw < g.w; ++iw) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (std::int64_t kh = 0; kh < g.kh; ++kh) {
          std::int64_t oh;
          if (!source_of(ih, kh, g.sh, g.dh, g.pad_top, g.oh, &oh)) continue;
          for (std::int64_t kw = 0; kw < g.kw; ++kw) {
            std::int64_t ow;
            if (!source_of(iw, kw, g.sw, g.dw, g.pad_left, g.ow, &ow)) continue;
            const T* dyr = dy + ((n * g.oh + oh) * g.ow + ow) * CM;
            const T* fr = f + (kh * g.kw + kw) * CM;
            for (std::int64_t c = 0; c < g.c; ++c) {
              Acc s = 0;
              for (std::int64_t m = 0; m < M; ++m) s += static_cast<Acc>(dyr[c * M + m]) * static_cast<Acc>(fr[c * M + m]);
              acc[c] += s;
            }
          }
        }
        store(dx + ((n * g.h + ih) * g.w + iw) * g.c, acc);
      }
    }
  });
}

template <class T>
void depthwise_backward_weights_cpp(const Geometry& g, std::int64_t M, const T* x, const T* dy, T* df) {
  const std::int64_t CM = g.c * M;
  parallel_for(g.kh * g.kw, row_grain(g.kh * g.kw, g.n * g.oh * g.ow * CM), [&](std::int64_t begin, std::int64_t end) {
    std::vector<Acc> acc(static_cast<std::size_t>(CM));
    for (std::int64_t tap = begin; tap < end; ++tap) {
      const std::int64_t kh = tap / g.kw, kw = tap % g.kw;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (std::int64_t n = 0; n < g.n; ++n)
        for (std::int64_t oh = 0; oh < g.oh; ++oh)
          for (std::int64_t ow = 0; ow < g.ow; ++ow) {
            const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
            if (!g.inside(ih, iw)) continue;
            const T* xr = x + ((n * g.h + ih) * g.w + iw) * g.c;
            const T* dyr = dy + ((n * g.oh + oh) * g.ow + ow) * CM;
            for (std::int64_t c = 0; c < g.c; ++c) {
              const Acc xv = xr[c];
              for (std::int64_t m = 0; m < M; ++m) acc[c * M + m] += xv * static_cast<Acc>(dyr[c * M + m]);
            }
          }
      store(df + tap * CM, acc);
    }
  });
}

// ---- convolution kernels ------------------------------------------------------------------

template <class T>
void conv2d(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& xd = in_dims(ctx, 0);
  const Dims& fd = in_dims(ctx, 1);
  STRATA_CHECK(fd.size() == 4, BackendError, "Conv2D needs a rank-4 filter, got ", ctx.input(1).shape().to_string());
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  STRATA_CHECK(fd[2] == g.c, BackendError, "Conv2D: the filter has ", fd[2], " input channels, the input ", g.c);
  const std::int64_t CO = fd[3];
  check_output_dims(ctx, 0, {g.n, g.oh, g.ow, CO});
  const T* x = in<T>(ctx, 0);
  const T* f = in<T>(ctx, 1);
  T* y = out<T>(ctx, 0);
  if (g.n * g.oh * g.ow * CO == 0) return;
  if (g.c == 0) {
    std::fill(y, y + g.n * g.oh * g.ow * CO, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (small_channel_conv_applies(g, CO)) return small_channel_conv(g, CO, x, f, nullptr, SmallConvActivation::kNone, y);
    return dnnl_conv(ctx, ConvPass::kForward, g, CO, false, x, f, y);
  }
  conv_forward_cpp(g, CO, x, f, y);
}

template <class T>
void conv2d_backprop_input(KernelContext& ctx, bool depthwise) {
  check_num_inputs(ctx, 3);
  const Dims xd = host_ints(ctx, 0);
  const Dims& fd = in_dims(ctx, 1);
  const Dims& dyd = in_dims(ctx, 2);
  check_output_dims(ctx, 0, xd);
  STRATA_CHECK(fd.size() == 4, BackendError, ctx.op_name(), " needs a rank-4 filter");
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  const std::int64_t OC = depthwise ? g.c * fd[3] : fd[3];
  STRATA_CHECK(fd[2] == g.c && dyd == Dims({g.n, g.oh, g.ow, OC}), BackendError, ctx.op_name(), ": filter ",
               ctx.input(1).shape().to_string(), " and out_backprop ", ctx.input(2).shape().to_string(),
               " do not fit input_sizes ", Shape(xd).to_string());
  const T* f = in<T>(ctx, 1);
  const T* dy = in<T>(ctx, 2);
  T* dx = out<T>(ctx, 0);
  const std::int64_t n_dx = product(xd);
  if (n_dx == 0) return;
  if (product(dyd) == 0 || product(fd) == 0) {
    std::fill(dx, dx + n_dx, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) return dnnl_conv(ctx, ConvPass::kBackwardData, g, OC, depthwise, dy, f, dx);
  if (depthwise) {
    depthwise_backward_data_cpp(g, fd[3], f, dy, dx);
  } else {
    conv_backward_data_cpp(g, OC, f, dy, dx);
  }
}

template <class T>
void conv2d_backprop_filter(KernelContext& ctx, bool depthwise) {
  check_num_inputs(ctx, 3);
  const Dims& xd = in_dims(ctx, 0);
  const Dims fd = host_ints(ctx, 1);
  const Dims& dyd = in_dims(ctx, 2);
  check_output_dims(ctx, 0, fd);
  STRATA_CHECK(fd.size() == 4, BackendError, ctx.op_name(), " needs a rank-4 filter_sizes");
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  const std::int64_t OC = depthwise ? g.c * fd[3] : fd[3];
  STRATA_CHECK(fd[2] == g.c && dyd == Dims({g.n, g.oh, g.ow, OC}), BackendError, ctx.op_name(), ": input ",
               ctx.input(0).shape().to_string(), " and out_backprop ", ctx.input(2).shape().to_string(),
               " do not fit filter_sizes ", Shape(fd).to_string());
  const T* x = in<T>(ctx, 0);
  const T* dy = in<T>(ctx, 2);
  T* df = out<T>(ctx, 0);
  const std::int64_t n_df = product(fd);
  if (n_df == 0) return;
  if (product(dyd) == 0 || product(xd) == 0) {
    std::fill(df, df + n_df, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    return dnnl_conv(ctx, ConvPass::kBackwardWeights, g, OC, depthwise, x, dy, df);
  }
  if (depthwise) {
    depthwise_backward_weights_cpp(g, fd[3], x, dy, df);
  } else {
    conv_backward_weights_cpp(g, OC, x, dy, df);
  }
}

template <class T>
void depthwise(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& xd = in_dims(ctx, 0);
  const Dims& fd = in_dims(ctx, 1);
  STRATA_CHECK(fd.size() == 4, BackendError, "DepthwiseConv2dNative needs a rank-4 filter");
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  STRATA_CHECK(fd[2] == g.c, BackendError, "DepthwiseConv2dNative: the filter has ", fd[2], " channels, the input ",
               g.c);
  const std::int64_t M = fd[3];
  check_output_dims(ctx, 0, {g.n, g.oh, g.ow, g.c * M});
  const T* x = in<T>(ctx, 0);
  const T* f = in<T>(ctx, 1);
  T* y = out<T>(ctx, 0);
  if (g.n * g.oh * g.ow * g.c * M == 0) return;
  if constexpr (std::is_same_v<T, float>) return dnnl_conv(ctx, ConvPass::kForward, g, g.c * M, true, x, f, y);
  depthwise_forward_cpp(g, M, x, f, y);
}

// ---- pooling ------------------------------------------------------------------------------

Geometry pool_geometry(const KernelContext& ctx, const Dims& input) {
  return nhwc_pool_window(ctx.attrs(), ctx.op_name(), input);
}

// For output (n, oh, ow): per channel, the input offset (h·W + w)·C + c of the first
// maximum of the window's real elements, or -1 when the window has none.
template <class T>
void window_argmax(const Geometry& g, const T* xn, std::int64_t oh, std::int64_t ow, std::vector<T>& best,
                   std::vector<std::int64_t>& where) {
  std::fill(where.begin(), where.end(), -1);
  for (std::int64_t kh = 0; kh < g.kh; ++kh)
    for (std::int64_t kw = 0; kw < g.kw; ++kw) {
      const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
      if (!g.inside(ih, iw)) continue;
      const std::int64_t base = (ih * g.w + iw) * g.c;
      const T* xr = xn + base;
      for (std::int64_t c = 0; c < g.c; ++c) {
        const bool take = where[c] < 0 || xr[c] > best[c];
        best[c] = take ? xr[c] : best[c];
        where[c] = take ? base + c : where[c];
      }
    }
}

template <class T>
void max_pool(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  const Dims& xd = in_dims(ctx, 0);
  const Geometry g = pool_geometry(ctx, xd);
  check_output_dims(ctx, 0, {g.n, g.oh, g.ow, g.c});
  const T* x = in<T>(ctx, 0);
  T* y = out<T>(ctx, 0);
  if (g.n * g.oh * g.ow * g.c == 0) return;
  if constexpr (std::is_same_v<T, float>) return dnnl_pool(ctx, dnnl::algorithm::pooling_max, false, g, x, y);
  parallel_for(g.n * g.oh, row_grain(g.n * g.oh, g.ow * g.c * g.kh * g.kw),
               [&](std::int64_t begin, std::int64_t end) {
                 std::vector<T> best(static_cast<std::size_t>(g.c));
                 std::vector<std::int64_t> where(static_cast<std::size_t>(g.c));
                 for (std::int64_t r = begin; r < end; ++r) {
                   const std::int64_t n = r / g.oh, oh = r % g.oh;
                   const T* xn = x + n * g.h * g.w * g.c;
                   for (std::int64_t ow = 0; ow < g.ow; ++ow) {
                     window_argmax(g, xn, oh, ow, best, where);
                     T* yr = y + ((n * g.oh + oh) * g.ow + ow) * g.c;
                     for (std::int64_t c = 0; c < g.c; ++c) {
                       yr[c] = where[c] < 0 ? -std::numeric_limits<T>::infinity() : best[c];
                     }
                   }
                 }
               });
}

template <class T>
void max_pool_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& xd = in_dims(ctx, 0);
  const Geometry g = pool_geometry(ctx, xd);
  const Dims pd{g.n, g.oh, g.ow, g.c};
  STRATA_CHECK(in_dims(ctx, 1) == pd && in_dims(ctx, 2) == pd, BackendError, "MaxPoolGrad: orig_output ",
               ctx.input(1).shape().to_string(), " and grad ", ctx.input(2).shape().to_string(), " must have shape ",
               Shape(pd).to_string());
  check_output_dims(ctx, 0, xd);
  const T* x = in<T>(ctx, 0);
  const T* dy = in<T>(ctx, 2);
  T* dx = out<T>(ctx, 0);
  const std::int64_t image = g.h * g.w * g.c;
  if (g.n * image == 0) return;
  // Threads own whole images, so the scatter never races.
  parallel_for(g.n, row_grain(g.n, image * g.kh * g.kw), [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> best(static_cast<std::size_t>(g.c));
    std::vector<std::int64_t> where(static_cast<std::size_t>(g.c));
    std::vector<Acc> acc(static_cast<std::size_t>(image));
    for (std::int64_t n = begin; n < end; ++n) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const T* xn = x + n * image;
      for (std::int64_t oh = 0; oh < g.oh; ++oh)
        for (std::int64_t ow = 0; ow < g.ow; ++ow) {
          window_argmax(g, xn, oh, ow, best, where);
          const T* dyr = dy + ((n * g.oh + oh) * g.ow + ow) * g.c;
          for (std::int64_t c = 0; c < g.c; ++c) {
            if (where[c] >= 0) acc[static_cast<std::size_t>(where[c])] += static_cast<Acc>(dyr[c]);
          }
        }
      store(dx + n * image, acc);
    }
  });
}

template <class T>
void avg_pool(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  const Dims& xd = in_dims(ctx, 0);
  const Geometry g = pool_geometry(ctx, xd);
  check_output_dims(ctx, 0, {g.n, g.oh, g.ow, g.c});
  const T* x = in<T>(ctx, 0);
  T* y = out<T>(ctx, 0);
  if (g.n * g.oh * g.ow * g.c == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    return dnnl_pool(ctx, dnnl::algorithm::pooling_avg_exclude_padding, false, g, x, y);
  }
  parallel_for(g.n * g.oh, row_grain(g.n * g.oh, g.ow * g.c * g.kh * g.kw),
               [&](std::int64_t begin, std::int64_t end) {
                 std::vector<Acc> acc(static_cast<std::size_t>(g.c));
                 for (std::int64_t r = begin; r < end; ++r) {
                   const std::int64_t n = r / g.oh, oh = r % g.oh;
                   for (std::int64_t ow = 0; ow < g.ow; ++ow) {
                     std::fill(acc.begin(), acc.end(), 0.0);
                     std::int64_t count = 0;
                     for (std::int64_t kh = 0; kh < g.kh; ++kh)
                       for (std::int64_t kw = 0; kw < g.kw; ++kw) {
                         const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
                         if (!g.inside(ih, iw)) continue;
                         ++count;
                         const T* xr = x + ((n * g.h + ih) * g.w + iw) * g.c;
                         for (std::int64_t c = 0; c < g.c; ++c) acc[c] += static_cast<Acc>(xr[c]);
                       }
                     T* yr = y + ((n * g.oh + oh) * g.ow + ow) * g.c;
                     for (std::int64_t c = 0; c < g.c; ++c) yr[c] = static_cast<T>(acc[c] / static_cast<Acc>(count));
                   }
                 }
               });
}

template <class T>
void avg_pool_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims xd = host_ints(ctx, 0);
  check_output_dims(ctx, 0, xd);
  const Geometry g = pool_geometry(ctx, xd);
  const Dims pd{g.n, g.oh, g.ow, g.c};
  STRATA_CHECK(in_dims(ctx, 1) == pd, BackendError, "AvgPoolGrad: grad ", ctx.input(1).shape().to_string(),
               " must have shape ", Shape(pd).to_string());
  const T* dy = in<T>(ctx, 1);
  T* dx = out<T>(ctx, 0);
  const std::int64_t image = g.h * g.w * g.c;
  if (g.n * image == 0) return;
  if (product(pd) == 0) {
    std::fill(dx, dx + g.n * image, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    return dnnl_pool(ctx, dnnl::algorithm::pooling_avg_exclude_padding, true, g, dy, dx);
  }
  parallel_for(g.n, row_grain(g.n, image * g.kh * g.kw), [&](std::int64_t begin, std::int64_t end) {
    std::vector<Acc> acc(static_cast<std::size_t>(image));
    for (std::int64_t n = begin; n < end; ++n) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (std::int64_t oh = 0; oh < g.oh; ++oh)
        for (std::int64_t ow = 0; ow < g.ow; ++ow) {
          std::int64_t count = 0;
          for (std::int64_t kh = 0; kh < g.kh; ++kh)
            for (std::int64_t kw = 0; kw < g.kw; ++kw) count += g.inside(g.row(oh, kh), g.col(ow, kw)) ? 1 : 0;
          if (count == 0) continue;
          const T* dyr = dy + ((n * g.oh + oh) * g.ow + ow) * g.c;
          for (std::int64_t kh = 0; kh < g.kh; ++kh)
            for (std::int64_t kw = 0; kw < g.kw; ++kw) {
              const std::int64_t ih = g.row(oh, kh), iw = g.col(ow, kw);
              if (!g.inside(ih, iw)) continue;
              Acc* a = acc.data() + (ih * g.w + iw) * g.c;
              for (std::int64_t c = 0; c < g.c; ++c) a[c] += static_cast<Acc>(dyr[c]) / static_cast<Acc>(count);
            }
        }
      store(dx + n * image, acc);
    }
  });
}

}  // namespace

void fused_conv2d(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& xd = in_dims(ctx, 0);
  const Dims& fd = in_dims(ctx, 1);
  STRATA_CHECK(fd.size() == 4, BackendError, "_FusedConv2D needs a rank-4 filter, got ", ctx.input(1).shape().to_string());
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  STRATA_CHECK(fd[2] == g.c, BackendError, "_FusedConv2D: the filter has ", fd[2], " input channels, the input ", g.c);
  const bool depthwise = ctx.op_name() == "_FusedDepthwiseConv2dNative";
  const std::int64_t oc = depthwise ? g.c * fd[3] : fd[3];
  STRATA_CHECK(in_dims(ctx, 2).size() == 1 && in_dims(ctx, 2)[0] == oc, BackendError, "_FusedConv2D: a bias of shape ",
               ctx.input(2).shape().to_string(), " for ", oc, " channels");
  check_output_dims(ctx, 0, {g.n, g.oh, g.ow, oc});
  const auto act = fused_activation(ctx.op_name(), ctx.attrs());
  float* y = static_cast<float*>(ctx.allocate_output(0).mutable_data());
  if (g.n * g.oh * g.ow * oc == 0) return;
  STRATA_CHECK(g.c > 0, BackendError, "_FusedConv2D on an input without channels");
  if (!depthwise && small_channel_conv_applies(g, oc) &&
      (!act || act->first == dnnl::algorithm::eltwise_relu || act->first == dnnl::algorithm::eltwise_clip)) {
    const SmallConvActivation a = !act ? SmallConvActivation::kNone
                                  : act->first == dnnl::algorithm::eltwise_relu ? SmallConvActivation::kRelu
                                                                                 : SmallConvActivation::kRelu6;
    return small_channel_conv(g, oc, static_cast<const float*>(ctx.input(0).data()),
                              static_cast<const float*>(ctx.input(1).data()),
                              static_cast<const float*>(ctx.input(2).data()), a, y);
  }
  KeyBuilder key("fused_conv");
  key.add(std::int64_t{depthwise ? 1 : 0});
  key.add(Dims{g.n, g.h, g.w, g.c, g.kh, g.kw, oc, g.oh, g.ow, g.sh, g.sw, g.dh, g.dw, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right});
  key.add(std::int64_t{act ? static_cast<int>(act->first) : -1});
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto src = nhwc(g.n, g.c, g.h, g.w), dst = nhwc(g.n, oc, g.oh, g.ow), wei = filter_md(g, oc, depthwise);
    const auto bias = plain({oc});
    const dnnl::memory::dims strides{g.sh, g.sw}, dilates{g.dh - 1, g.dw - 1}, pad_l{g.pad_top, g.pad_left}, pad_r{g.pad_bottom, g.pad_right};
    const dnnl::memory::desc any(wei.dims(), dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
    const dnnl::convolution_forward::primitive_desc pd(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, any,
                                        bias, dst, strides, dilates, pad_l, pad_r),
        fused_attr(act), engine());
    return PrimitiveSpec{dnnl::convolution_forward(pd),
                         {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, pd.weights_desc()}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}},
                         pd.scratchpad_desc()};
  });
  std::shared_ptr<void> holder;
  prim->execute({ctx.input(0).data(),
                 forward_weights(ctx, *prim, key.str(), filter_md(g, oc, depthwise), ctx.input(1).data(), holder),
                 ctx.input(2).data(), y});
}

// _FusedConv2DMaxPool (fusion.cpp's pass): a _FusedConv2D of a single-channel input
// followed by a VALID k x k max-pooling of stride k ("pool_size": k).
void fused_conv2d_max_pool(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& xd = in_dims(ctx, 0);
  const Dims& fd = in_dims(ctx, 1);
  STRATA_CHECK(fd.size() == 4, BackendError, "_FusedConv2DMaxPool needs a rank-4 filter, got ",
               ctx.input(1).shape().to_string());
  const Geometry g = geometry(ctx, xd, fd[0], fd[1], true);
  STRATA_CHECK(fd[2] == g.c && g.c == 1, BackendError, "_FusedConv2DMaxPool needs one input channel, got a filter ",
               ctx.input(1).shape().to_string(), " for an input ", ctx.input(0).shape().to_string());
  const std::int64_t oc = fd[3];
  STRATA_CHECK(in_dims(ctx, 2).size() == 1 && in_dims(ctx, 2)[0] == oc, BackendError,
               "_FusedConv2DMaxPool: a bias of shape ", ctx.input(2).shape().to_string(), " for ", oc, " channels");
  const std::int64_t k = ctx.attrs().get<std::int64_t>("pool_size");
  STRATA_CHECK(k >= 1, BackendError, "_FusedConv2DMaxPool: pool_size ", k, " must be positive");
  check_output_dims(ctx, 0, {g.n, g.oh / k, g.ow / k, oc});
  const auto act = fused_activation(ctx.op_name(), ctx.attrs());
  STRATA_CHECK(!act || act->first == dnnl::algorithm::eltwise_relu || act->first == dnnl::algorithm::eltwise_clip,
               BackendError, "_FusedConv2DMaxPool supports fused_ops [BiasAdd], [BiasAdd, Relu] and [BiasAdd, Relu6]");
  float* y = static_cast<float*>(ctx.allocate_output(0).mutable_data());
  if (g.n * (g.oh / k) * (g.ow / k) * oc == 0) return;
  const SmallConvActivation a = !act ? SmallConvActivation::kNone
                                : act->first == dnnl::algorithm::eltwise_relu ? SmallConvActivation::kRelu
                                                                               : SmallConvActivation::kRelu6;
  small_channel_conv_max_pool(g, oc, static_cast<const float*>(ctx.input(0).data()),
                              static_cast<const float*>(ctx.input(1).data()),
                              static_cast<const float*>(ctx.input(2).data()), a, k, y);
}

void register_conv_kernels(Registrar& r) {
  add_f(r, "Conv2D", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { conv2d<T>(ctx); };
  });
  add_f(r, "Conv2DBackpropInput", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { conv2d_backprop_input<T>(ctx, false); };
  });
  add_f(r, "Conv2DBackpropFilter", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { conv2d_backprop_filter<T>(ctx, false); };
  });
  add_f(r, "DepthwiseConv2dNative", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { depthwise<T>(ctx); };
  });
  add_f(r, "DepthwiseConv2dNativeBackpropInput", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { conv2d_backprop_input<T>(ctx, true); };
  });
  add_f(r, "DepthwiseConv2dNativeBackpropFilter", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { conv2d_backprop_filter<T>(ctx, true); };
  });
  add_f(r, "MaxPool", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { max_pool<T>(ctx); };
  });
  add_f(r, "MaxPoolGrad", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { max_pool_grad<T>(ctx); };
  });
  add_f(r, "AvgPool", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { avg_pool<T>(ctx); };
  });
  add_f(r, "AvgPoolGrad", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { avg_pool_grad<T>(ctx); };
  });
}

}  // namespace strata::onednn
