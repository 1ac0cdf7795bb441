// BiasAdd, BiasAddGrad, Softmax, LogSoftmax and SoftmaxGrad. Large float32 tensors use
// oneDNN's binary (bias as a broadcast second operand), reduction, softmax and softmax
// backward primitives; the rest, and LogSoftmax, is C++ (per row, sums in double).
#include <cmath>

#include "common.hpp"
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
  if constexpr (std::is_same_v<T, float>) {
    if (n >= kDnnlMinElements) {
      const Dims rows{n / C, C}, bias{1, C};
      KeyBuilder key("bias_add");
      key.add(rows);
      auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
        const auto v_md = plain(rows), b_md = plain(bias);
        const dnnl::binary::primitive_desc pd(dnnl::binary::desc(dnnl::algorithm::binary_add, v_md, b_md, v_md),
                                              user_scratchpad(), engine());
        return PrimitiveSpec{dnnl::binary(pd),
                             {{DNNL_ARG_SRC_0, v_md}, {DNNL_ARG_SRC_1, b_md}, {DNNL_ARG_DST, v_md}},
                             pd.scratchpad_desc()};
      });
      prim->execute({v, b, o});
      return;
    }
  }
  const std::int64_t rows = n / C;
  parallel_for(rows, std::max<std::int64_t>(1, kGrainCheap / C), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const T* __restrict vr = v + r * C;
      T* __restrict orow = o + r * C;
      for (std::int64_t c = 0; c < C; ++c) orow[c] = vr[c] + b[c];
    }
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
      // As the C++ loop (and the ref kernels) compute it, a row holding NaN or +inf, or
      // only -inf, is all NaN; oneDNN gives numbers there.
      parallel_for(rows, std::max<std::int64_t>(1, kGrainCheap / C), [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
          const float* xr = x + r * C;
          bool bad = false, all_negative_infinite = true;
          for (std::int64_t c = 0; c < C; ++c) {
            bad |= xr[c] != xr[c] || xr[c] == std::numeric_limits<float>::infinity();
            all_negative_infinite &= xr[c] == -std::numeric_limits<float>::infinity();
          }
          if (bad || all_negative_infinite) std::fill(o + r * C, o + (r + 1) * C, std::numeric_limits<float>::quiet_NaN());
        }
      });
      return;
    }
  }
  parallel_for(rows, std::max<std::int64_t>(1, kGrainExpensive / C), [&](std::int64_t begin, std::int64_t end) {
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
  });
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

}  // namespace

void register_nn_kernels(Registrar& r) {
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
}

}  // namespace strata::onednn
