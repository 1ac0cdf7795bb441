// Element-wise kernels: binary arithmetic and comparisons with NumPy broadcasting, the
// unary math and activations, and the activation gradient helpers.
//
// float32 tensors of at least kDnnlMinElements elements (kDnnlMinTranscendental for
// exp, tanh, sigmoid, elu, gelu, sqrt) go through oneDNN's binary and eltwise primitives where oneDNN has the operation with the exact semantics of
// docs/OPS.md and within its float32 tolerance. Everything else is plain C++: smaller
// tensors, float64 and integers, the operations oneDNN lacks (Selu, Softsign, Erf, the
// trigonometric and hyperbolic functions, Atan2, ...),
// Maximum/Minimum, Relu and Relu6 (oneDNN's lose NaNs), and Log, Softplus and the
// tanh-approximated GeluGrad (oneDNN 2.6's versions miss rtol 1e-5). Floating-point math
// of float32 is evaluated in double and rounded once.
//
// The hot float32/float64 loops (the arithmetic and Maximum/Minimum on operands of the
// output's shape, a scalar or a row; Rsqrt, Sqrt, Reciprocal, Relu, Square, Neg, Abs;
// ReluGrad) are cloned per CPU feature level (dispatch.hpp: AVX-512F, AVX2, baseline) and
// used at every size, before oneDNN: the same operations in the same precision, so they
// round as the plain loops and oneDNN's binary primitive did, without a primitive call.
#include <atomic>
#include <cmath>

#include "bcast.hpp"
#include "common.hpp"
#include "dispatch.hpp"
#include "dnnl_util.hpp"
#include "kernels.hpp"

namespace strata::onednn {
namespace {

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSqrt2OverPi = 0.79788456080286535587989211986876;
constexpr double kInvSqrt2 = 0.70710678118654752440084436210485;
constexpr double kInvSqrt2Pi = 0.39894228040143267793994605993438;

// ---- oneDNN paths ----------------------------------------------------------------------

bool use_dnnl_elementwise(std::int64_t n, std::int64_t min_elements = kDnnlMinElements) { return n >= min_elements; }

// y = eltwise(x) over the whole (contiguous) tensor; with restore_nan, y[i] = x[i] where
// x[i] is NaN afterwards (for algorithms that lose NaNs).
void dnnl_eltwise_forward(KernelContext& ctx, dnnl::algorithm alg, float alpha, float beta,
                          bool restore_nan = false) {
  const std::int64_t n = ctx.input(0).num_elements();
  KeyBuilder key("eltwise_fwd");
  key.add(static_cast<std::int64_t>(alg)).add(alpha).add(beta).add(n);
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto md = plain({n});
    const dnnl::eltwise_forward::primitive_desc pd(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, md, alpha, beta), user_scratchpad(),
        engine());
    return PrimitiveSpec{dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, md}, {DNNL_ARG_DST, md}}, pd.scratchpad_desc()};
  });
  const float* x = in<float>(ctx, 0);
  float* y = out<float>(ctx, 0);
  prim->execute({x, y});
  if (restore_nan) {
    parallel_for(n, kGrainCheap, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) y[i] = x[i] != x[i] ? x[i] : y[i];
    });
  }
}

// diff_src = eltwise_backward(data, diff_dst), where data is the forward input (or the
// forward output for the *_use_dst_for_bwd algorithms).
void dnnl_eltwise_backward(KernelContext& ctx, dnnl::algorithm alg, float alpha, float beta, std::size_t data_input,
                           std::size_t diff_input, bool use_dst) {
  const std::int64_t n = ctx.input(0).num_elements();
  KeyBuilder key("eltwise_bwd");
  key.add(static_cast<std::int64_t>(alg)).add(alpha).add(beta).add(n);
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto md = plain({n});
    const dnnl::eltwise_forward::primitive_desc hint(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, alg, md, alpha, beta), engine());
    const dnnl::eltwise_backward::primitive_desc pd(dnnl::eltwise_backward::desc(alg, md, md, alpha, beta),
                                                    user_scratchpad(), engine(), hint);
    return PrimitiveSpec{dnnl::eltwise_backward(pd),
                         {{use_dst ? DNNL_ARG_DST : DNNL_ARG_SRC, md}, {DNNL_ARG_DIFF_DST, md}, {DNNL_ARG_DIFF_SRC, md}},
                         pd.scratchpad_desc()};
  });
  const void* data = ctx.input(data_input).data();
  const void* diff = ctx.input(diff_input).data();
  float* o = out<float>(ctx, 0);
  prim->execute({data, diff, o});
}

// o = binary(a, b) where a has the output shape and b broadcasts to it.
void dnnl_binary(KernelContext& ctx, dnnl::algorithm alg, std::size_t a_input, std::size_t b_input) {
  const Dims& od = out_dims(ctx, 0);
  Dims bd = in_dims(ctx, b_input);
  bd.insert(bd.begin(), od.size() - bd.size(), 1);
  KeyBuilder key("binary");
  key.add(static_cast<std::int64_t>(alg)).add(od).add(bd);
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto a_md = plain(od), b_md = plain(bd);
    const dnnl::binary::primitive_desc pd(dnnl::binary::desc(alg, a_md, b_md, a_md), user_scratchpad(), engine());
    return PrimitiveSpec{dnnl::binary(pd),
                         {{DNNL_ARG_SRC_0, a_md}, {DNNL_ARG_SRC_1, b_md}, {DNNL_ARG_DST, a_md}},
                         pd.scratchpad_desc()};
  });
  const void* a = ctx.input(a_input).data();
  const void* b = ctx.input(b_input).data();
  float* o = out<float>(ctx, 0);
  prim->execute({a, b, o});
}

// Which input, if any, already has the output's shape (aligned at the right, so a
// missing leading dimension counts as different).
bool has_output_shape(const KernelContext& ctx, std::size_t i) { return in_dims(ctx, i) == out_dims(ctx, 0); }

// ---- plain C++ binary ops ----------------------------------------------------------------

// o[i] = f(x[bcast], y[bcast]).
template <class T, class R, class F>
void binary_loop(KernelContext& ctx, F f, std::int64_t grain = kGrainCheap) {
  check_num_inputs(ctx, 2);
  const Dims& od = out_dims(ctx, 0);
  const T* x = in<T>(ctx, 0);
  const T* y = in<T>(ctx, 1);
  R* o = out<R>(ctx, 0);
  if (product(od) == 0) return;
  const auto plan = broadcast_plan<2>(od, {&in_dims(ctx, 0), &in_dims(ctx, 1)});
  for_each_run(plan, grain, [&](std::int64_t oo, const std::array<std::int64_t, 2>& off, std::int64_t n,
                                const std::array<std::int64_t, 2>& s) {
    run2(o + oo, x + off[0], s[0], y + off[1], s[1], n, f);
  });
}

struct Add {
  template <class T>
  T operator()(T a, T b) const {
    return add_wrap(a, b);
  }
};
struct Subtract {
  template <class T>
  T operator()(T a, T b) const {
    return sub_wrap(a, b);
  }
};
struct Multiply {
  template <class T>
  T operator()(T a, T b) const {
    return mul_wrap(a, b);
  }
};
struct Max {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kIsFloat<T>) {
      return is_nan(a) ? a : (is_nan(b) ? b : (a > b ? a : b));
    } else {
      return a > b ? a : b;
    }
  }
};
struct Min {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kIsFloat<T>) {
      return is_nan(a) ? a : (is_nan(b) ? b : (a < b ? a : b));
    } else {
      return a < b ? a : b;
    }
  }
};

// ---- loops cloned per CPU feature level ---------------------------------------------------

// o[i] = f(x[i]).
template <class T, class F>
STRATA_CPU_INLINE void map_unary(const T* __restrict x, T* __restrict o, std::int64_t n, F f) {
  for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
}
// o[i] = f(a[i * sa], b[i * sb]) with strides 0 or 1, the scalar hoisted out of the loop.
template <class T, class F>
STRATA_CPU_INLINE void map_binary(const T* __restrict a, std::int64_t sa, const T* __restrict b, std::int64_t sb,
                                  T* __restrict o, std::int64_t n, F f) {
  if (sa == 1 && sb == 1) {
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (sa == 1) {
    const T y = b[0];
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(a[i], y);
  } else {
    const T x = a[0];
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(x, b[i]);
  }
}

struct RsqrtF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T x) const {
    return static_cast<T>(1.0 / std::sqrt(static_cast<double>(x)));
  }
};
struct SqrtF {
  // sqrt in double rounded once to float is float's correctly rounded sqrt.
  template <class T>
  STRATA_CPU_INLINE T operator()(T x) const {
    return std::sqrt(x);
  }
};
struct ReciprocalF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T x) const {
    return T(1) / x;
  }
};
struct ReluF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T x) const {
    return x != x ? x : (x > T(0) ? x : T(0));
  }
};
struct SquareF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T x) const {
    return x * x;
  }
};
struct NegF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T x) const {
    return -x;
  }
};
struct AbsF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T x) const {
    return std::fabs(x);
  }
};
struct AddF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T a, T b) const {
    return a + b;
  }
};
struct SubF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T a, T b) const {
    return a - b;
  }
};
struct MulF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T a, T b) const {
    return a * b;
  }
};
struct DivF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T a, T b) const {
    return a / b;
  }
};
struct MaxF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T a, T b) const {
    return a != a ? a : (b != b ? b : (a > b ? a : b));
  }
};
struct MinF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T a, T b) const {
    return a != a ? a : (b != b ? b : (a < b ? a : b));
  }
};
// ReluGrad(gradients, features): features > 0 ? gradients : 0.
struct ReluGradF {
  template <class T>
  STRATA_CPU_INLINE T operator()(T g, T f) const {
    return f > T(0) ? g : T(0);
  }
};

// Non-template clones per element type: unary_<F>(x, o, n) and binary_<F>(a, sa, b, sb, o, n).
#define STRATA_CLONED_UNARY(F)                                                               \
  STRATA_CPU_CLONES void cloned(F, const float* x, float* o, std::int64_t n) { map_unary(x, o, n, F{}); }    \
  STRATA_CPU_CLONES void cloned(F, const double* x, double* o, std::int64_t n) { map_unary(x, o, n, F{}); }
#define STRATA_CLONED_BINARY(F)                                                                          \
  STRATA_CPU_CLONES void cloned(F, const float* a, std::int64_t sa, const float* b, std::int64_t sb, float* o, \
                                std::int64_t n) {                                                        \
    map_binary(a, sa, b, sb, o, n, F{});                                                                 \
  }                                                                                                      \
  STRATA_CPU_CLONES void cloned(F, const double* a, std::int64_t sa, const double* b, std::int64_t sb,      \
                                double* o, std::int64_t n) {                                             \
    map_binary(a, sa, b, sb, o, n, F{});                                                                 \
  }
STRATA_CLONED_UNARY(RsqrtF)
STRATA_CLONED_UNARY(SqrtF)
STRATA_CLONED_UNARY(ReciprocalF)
STRATA_CLONED_UNARY(ReluF)
STRATA_CLONED_UNARY(SquareF)
STRATA_CLONED_UNARY(NegF)
STRATA_CLONED_UNARY(AbsF)
STRATA_CLONED_BINARY(AddF)
STRATA_CLONED_BINARY(SubF)
STRATA_CLONED_BINARY(MulF)
STRATA_CLONED_BINARY(DivF)
STRATA_CLONED_BINARY(MaxF)
STRATA_CLONED_BINARY(MinF)
STRATA_CLONED_BINARY(ReluGradF)
#undef STRATA_CLONED_UNARY
#undef STRATA_CLONED_BINARY

// o = F(x) through the cloned loop (float32 and float64).
template <class T, class F>
void fast_unary(KernelContext& ctx, F f, std::int64_t grain = kGrainCheap) {
  check_num_inputs(ctx, 1);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  parallel_for(ctx.input(0).num_elements(), grain,
               [&](std::int64_t begin, std::int64_t end) { cloned(f, x + begin, o + begin, end - begin); });
}

// o = F(a, b) through the cloned loop when each operand has the output's shape or is a
// single element, or (a of the output's shape) b is one row broadcast over the leading
// dimensions; false (nothing done) for other broadcasts.
template <class T, class F>
bool fast_binary(KernelContext& ctx, F f, std::int64_t grain = kGrainCheap) {
  if (ctx.num_inputs() != 2) return false;
  const Dims& od = out_dims(ctx, 0);
  const std::int64_t n = product(od);
  const std::int64_t na = ctx.input(0).num_elements(), nb = ctx.input(1).num_elements();
  const bool a_full = in_dims(ctx, 0) == od, b_full = in_dims(ctx, 1) == od;
  std::int64_t sa = 1, sb = 1;
  if (a_full && b_full) {
  } else if (a_full && nb == 1) {
    sb = 0;
  } else if (b_full && na == 1) {
    sa = 0;
  } else if (a_full && !od.empty() && od.back() > 0 && nb == od.back() && in_dims(ctx, 1).size() <= od.size() &&
             !in_dims(ctx, 1).empty() && in_dims(ctx, 1).back() == od.back()) {
    // b is one row: [C] (or [1, ..., C]) against [..., C].
    const T* a = in<T>(ctx, 0);
    const T* b = in<T>(ctx, 1);
    T* o = out<T>(ctx, 0);
    const std::int64_t c = od.back(), rows = n / c;
    parallel_for(rows, std::max<std::int64_t>(1, grain / c), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) cloned(f, a + r * c, 1, b, 1, o + r * c, c);
    });
    return true;
  } else {
    return false;
  }
  const T* a = in<T>(ctx, 0);
  const T* b = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  if (n == 0) return true;
  parallel_for(n, grain, [&](std::int64_t begin, std::int64_t end) {
    cloned(f, a + begin * sa, sa, b + begin * sb, sb, o + begin, end - begin);
  });
  return true;
}

// AddV2 / Sub / Mul: oneDNN for large float32 when its one-sided broadcasting fits.
template <class T, class F, class Fast>
void arithmetic(KernelContext& ctx, F f, Fast fast, dnnl::algorithm alg, bool commutative) {
  if constexpr (kIsFloat<T>) {
    if (fast_binary<T>(ctx, fast)) return;
  }
  if constexpr (std::is_same_v<T, float>) {
    check_num_inputs(ctx, 2);
    const std::int64_t n = ctx.output_meta(0).shape.num_elements();
    if (use_dnnl_elementwise(n) && out_dims(ctx, 0).size() <= DNNL_MAX_NDIMS) {
      if (has_output_shape(ctx, 0)) return dnnl_binary(ctx, alg, 0, 1);
      if (commutative && has_output_shape(ctx, 1)) return dnnl_binary(ctx, alg, 1, 0);
    }
  }
  binary_loop<T, T>(ctx, f);
}

template <class T>
void real_div(KernelContext& ctx) {
  if constexpr (kIsFloat<T>) {
    if (fast_binary<T>(ctx, DivF{})) return;
    if constexpr (std::is_same_v<T, float>) {
      check_num_inputs(ctx, 2);
      const std::int64_t n = ctx.output_meta(0).shape.num_elements();
      if (use_dnnl_elementwise(n) && out_dims(ctx, 0).size() <= DNNL_MAX_NDIMS && has_output_shape(ctx, 0)) {
        return dnnl_binary(ctx, dnnl::algorithm::binary_div, 0, 1);
      }
    }
    binary_loop<T, T>(ctx, [](T a, T b) { return a / b; });
  } else {
    check_num_inputs(ctx, 2);
    // Division by zero is an error: look for a zero divisor before writing anything.
    if (product(out_dims(ctx, 0)) > 0) {
      const T* y = in<T>(ctx, 1);
      const std::int64_t ny = ctx.input(1).num_elements();
      for (std::int64_t i = 0; i < ny; ++i) {
        STRATA_CHECK(y[i] != 0, BackendError, "op ", ctx.op_name(), ": integer division by zero (divisor element ",
                     i, " of ", ctx.input(1).shape().to_string(), " is 0)");
      }
    }
    binary_loop<T, T>(ctx, [](T a, T b) { return b == -1 ? sub_wrap<T>(0, a) : static_cast<T>(a / b); });
  }
}

template <class T>
void power(KernelContext& ctx) {
  if constexpr (kIsFloat<T>) {
    binary_loop<T, T>(
        ctx, [](T a, T b) { return static_cast<T>(std::pow(static_cast<double>(a), static_cast<double>(b))); },
        kGrainExpensive);
  } else {
    std::atomic<bool> zero_to_negative{false};
    binary_loop<T, T>(ctx, [&](T x, T y) -> T {
      if (y < 0) {
        if (x == 0) {
          zero_to_negative.store(true, std::memory_order_relaxed);
          return 0;
        }
        if (x == 1) return 1;
        if (x == -1) return (y % 2 == 0) ? 1 : -1;
        return 0;
      }
      T result = 1, base = x;
      for (T e = y; e > 0; e /= 2) {
        if (e % 2 == 1) result = mul_wrap(result, base);
        base = mul_wrap(base, base);
      }
      return result;
    });
    STRATA_CHECK(!zero_to_negative.load(), BackendError, "op ", ctx.op_name(),
                 ": integer 0 raised to a negative power");
  }
}

template <class T>
void squared_difference(KernelContext& ctx) {
  binary_loop<T, T>(ctx, [](T a, T b) {
    if constexpr (kIsFloat<T>) {
      const double d = static_cast<double>(a) - static_cast<double>(b);
      return static_cast<T>(d * d);
    } else {
      const T d = sub_wrap(a, b);
      return mul_wrap(d, d);
    }
  });
}

template <class T>
void select(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& od = out_dims(ctx, 0);
  const bool* c = in<bool>(ctx, 0);
  const T* a = in<T>(ctx, 1);
  const T* b = in<T>(ctx, 2);
  T* o = out<T>(ctx, 0);
  if (product(od) == 0) return;
  const auto plan = broadcast_plan<3>(od, {&in_dims(ctx, 0), &in_dims(ctx, 1), &in_dims(ctx, 2)});
  for_each_run(plan, kGrainCheap, [&](std::int64_t oo, const std::array<std::int64_t, 3>& off, std::int64_t n,
                                      const std::array<std::int64_t, 3>& s) {
    const auto* cc = reinterpret_cast<const std::uint8_t*>(c) + off[0];
    const T* aa = a + off[1];
    const T* bb = b + off[2];
    T* oo_ptr = o + oo;
    if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
      for (std::int64_t i = 0; i < n; ++i) oo_ptr[i] = cc[i] ? aa[i] : bb[i];
    } else {
      for (std::int64_t i = 0; i < n; ++i) oo_ptr[i] = cc[i * s[0]] ? aa[i * s[1]] : bb[i * s[2]];
    }
  });
}

template <class T>
void sum_inputs(KernelContext& ctx) {
  const std::size_t k = ctx.num_inputs();
  STRATA_CHECK(k >= 1, BackendError, "AddN needs at least one input");
  for (std::size_t i = 1; i < k; ++i) check_same_dims(ctx, 0, i);
  std::vector<const T*> xs;
  for (std::size_t i = 0; i < k; ++i) xs.push_back(in<T>(ctx, i));
  T* o = out<T>(ctx, 0);
  const std::int64_t n = ctx.input(0).num_elements();
  parallel_for(n, kGrainCheap, [&](std::int64_t begin, std::int64_t end) {
    constexpr std::int64_t kBlock = 256;
    SumAcc<T> acc[kBlock];
    for (std::int64_t b = begin; b < end; b += kBlock) {
      const std::int64_t len = std::min(kBlock, end - b);
      for (std::int64_t i = 0; i < len; ++i) acc[i] = static_cast<SumAcc<T>>(xs[0][b + i]);
      for (std::size_t j = 1; j < k; ++j) {
        const T* x = xs[j] + b;
        for (std::int64_t i = 0; i < len; ++i) acc[i] += static_cast<SumAcc<T>>(x[i]);
      }
      for (std::int64_t i = 0; i < len; ++i) o[b + i] = static_cast<T>(acc[i]);
    }
  });
}

// ---- unary -------------------------------------------------------------------------------

// o[i] = f(x[i]).
template <class T, class R, class F>
void unary_loop(KernelContext& ctx, F f, std::int64_t grain = kGrainCheap) {
  check_num_inputs(ctx, 1);
  const T* x = in<T>(ctx, 0);
  R* o = out<R>(ctx, 0);
  const std::int64_t n = ctx.input(0).num_elements();
  parallel_for(n, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) o[i] = f(x[i]);
  });
}

// A floating-point function evaluated in double (one rounding for float32).
template <class T, class F>
void unary_math(KernelContext& ctx, F f) {
  unary_loop<T, T>(ctx, [&](T x) { return static_cast<T>(f(static_cast<double>(x))); }, kGrainExpensive);
}

// A transcendental unary op with a oneDNN eltwise algorithm for float32 tensors of at
// least kDnnlMinTranscendental elements.
template <class T, class F>
void activation(KernelContext& ctx, F f, dnnl::algorithm alg, float alpha = 0.f, float beta = 0.f,
                bool restore_nan = false) {
  if constexpr (std::is_same_v<T, float>) {
    check_num_inputs(ctx, 1);
    if (use_dnnl_elementwise(ctx.input(0).num_elements(), kDnnlMinTranscendental)) {
      return dnnl_eltwise_forward(ctx, alg, alpha, beta, restore_nan);
    }
  }
  unary_math<T>(ctx, f);
}

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

double softplus(double x) {
  if (x > 20) return x;
  if (x < -20) return std::exp(x);
  return std::log1p(std::exp(x));
}

// 0.5 x (1 + erf(x/√2)) = 0.5 x erfc(-x/√2); approximate: 0.5 x (1 + tanh u) = x / (1 + e^(-2u)).
double gelu(double x, bool approximate) {
  if (!approximate) return 0.5 * x * std::erfc(-x * kInvSqrt2);
  const double u = kSqrt2OverPi * (x + 0.044715 * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}

double gelu_derivative(double x, bool approximate) {
  if (!approximate) return 0.5 * std::erfc(-x * kInvSqrt2) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
  const double u = kSqrt2OverPi * (x + 0.044715 * x * x * x);
  const double du = kSqrt2OverPi * (1.0 + 3.0 * 0.044715 * x * x);
  const double t = std::tanh(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du;
}

// ---- gradient helpers --------------------------------------------------------------------

// o[i] = f(a[i], b[i]) in double, for two inputs of one shape.
template <class T, class F>
void pair_math(KernelContext& ctx, F f, std::int64_t grain = kGrainCheap) {
  check_num_inputs(ctx, 2);
  check_same_dims(ctx, 0, 1);
  const T* a = in<T>(ctx, 0);
  const T* b = in<T>(ctx, 1);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = ctx.input(0).num_elements();
  parallel_for(n, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      o[i] = static_cast<T>(f(static_cast<double>(a[i]), static_cast<double>(b[i])));
    }
  });
}

// A gradient helper with a oneDNN eltwise backward for large float32 tensors.
template <class T, class F>
void activation_grad(KernelContext& ctx, F f, dnnl::algorithm alg, float alpha, float beta, std::size_t data_input,
                     std::size_t diff_input, bool use_dst, bool transcendental = false) {
  const std::int64_t grain = transcendental ? kGrainExpensive : kGrainCheap;
  if constexpr (std::is_same_v<T, float>) {
    check_num_inputs(ctx, 2);
    check_same_dims(ctx, 0, 1);
    if (use_dnnl_elementwise(ctx.input(0).num_elements(), transcendental ? kDnnlMinTranscendental : kDnnlMinElements)) {
      return dnnl_eltwise_backward(ctx, alg, alpha, beta, data_input, diff_input, use_dst);
    }
  }
  pair_math<T>(ctx, f, grain);
}

#define STRATA_T typename decltype(tag)::type

void register_binary(Registrar& r) {
  add_n(r, "AddV2", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { arithmetic<T>(ctx, Add{}, AddF{}, dnnl::algorithm::binary_add, true); };
  });
  add_n(r, "Sub", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { arithmetic<T>(ctx, Subtract{}, SubF{}, dnnl::algorithm::binary_sub, false); };
  });
  add_n(r, "Mul", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { arithmetic<T>(ctx, Multiply{}, MulF{}, dnnl::algorithm::binary_mul, true); };
  });
  add_n(r, "RealDiv", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { real_div<T>(ctx); };
  });
  add_n(r, "Maximum", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      if constexpr (kIsFloat<T>) {
        if (fast_binary<T>(ctx, MaxF{})) return;
      }
      binary_loop<T, T>(ctx, Max{});
    };
  });
  add_n(r, "Minimum", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      if constexpr (kIsFloat<T>) {
        if (fast_binary<T>(ctx, MinF{})) return;
      }
      binary_loop<T, T>(ctx, Min{});
    };
  });
  add_n(r, "Pow", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { power<T>(ctx); };
  });
  add_f(r, "Atan2", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      binary_loop<T, T>(
          ctx, [](T y, T x) { return static_cast<T>(std::atan2(static_cast<double>(y), static_cast<double>(x))); },
          kGrainExpensive);
    };
  });
  add_n(r, "SquaredDifference", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { squared_difference<T>(ctx); };
  });

  add_n(r, "Greater", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { binary_loop<T, bool>(ctx, [](T a, T b) { return a > b; }); };
  });
  add_n(r, "GreaterEqual", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { binary_loop<T, bool>(ctx, [](T a, T b) { return a >= b; }); };
  });
  add_n(r, "Less", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { binary_loop<T, bool>(ctx, [](T a, T b) { return a < b; }); };
  });
  add_n(r, "LessEqual", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { binary_loop<T, bool>(ctx, [](T a, T b) { return a <= b; }); };
  });
  add_nb(r, "Equal", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { binary_loop<T, bool>(ctx, [](T a, T b) { return a == b; }); };
  });
  add_nb(r, "NotEqual", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { binary_loop<T, bool>(ctx, [](T a, T b) { return a != b; }); };
  });
  add_typed<bool>(r, "LogicalAnd", [](auto) {
    return [](KernelContext& ctx) { binary_loop<bool, bool>(ctx, [](bool a, bool b) { return a && b; }); };
  });
  add_typed<bool>(r, "LogicalOr", [](auto) {
    return [](KernelContext& ctx) { binary_loop<bool, bool>(ctx, [](bool a, bool b) { return a || b; }); };
  });
  add_nb(r, "SelectV2", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { select<T>(ctx); };
  });
  add_n(r, "AddN", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { sum_inputs<T>(ctx); };
  });
}

void register_unary(Registrar& r) {
  using dnnl::algorithm;
  // Neg stays in C++ at every size: oneDNN's linear (-1 * x + 0) gives +0 for +0, where
  // negation (TensorFlow's Neg, and this kernel below kDnnlMinElements) gives -0.
  add_n(r, "Neg", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      if constexpr (kIsFloat<T>) {
        fast_unary<T>(ctx, NegF{});
      } else {
        unary_loop<T, T>(ctx, [](T x) { return sub_wrap<T>(0, x); });
      }
    };
  });
  add_n(r, "Abs", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      if constexpr (kIsFloat<T>) {
        fast_unary<T>(ctx, AbsF{});
      } else {
        unary_loop<T, T>(ctx, [](T x) { return x < 0 ? sub_wrap<T>(0, x) : x; });
      }
    };
  });
  add_n(r, "Sign", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      unary_loop<T, T>(ctx, [](T x) { return is_nan(x) ? x : static_cast<T>(x > 0 ? 1 : (x < 0 ? -1 : 0)); });
    };
  });
  add_n(r, "Square", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      if constexpr (kIsFloat<T>) {
        fast_unary<T>(ctx, SquareF{});
      } else {
        unary_loop<T, T>(ctx, [](T x) { return mul_wrap(x, x); });
      }
    };
  });
  // Relu and Relu6 stay in C++ at every size: oneDNN's relu and clip map NaN to 0, where
  // max(x, 0) propagates it; a vectorised loop is as fast as the primitive anyway.
  add_n(r, "Relu", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      if constexpr (kIsFloat<T>) {
        fast_unary<T>(ctx, ReluF{});
      } else {
        unary_loop<T, T>(ctx, [](T x) { return Max{}(x, T(0)); });
      }
    };
  });

  add_f(r, "Sqrt", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { fast_unary<T>(ctx, SqrtF{}, kGrainExpensive); };
  });
  add_f(r, "Rsqrt", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { fast_unary<T>(ctx, RsqrtF{}, kGrainExpensive); };
  });
  add_f(r, "Reciprocal", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { fast_unary<T>(ctx, ReciprocalF{}); };
  });
  add_f(r, "Exp", [](auto tag) {
    using T = STRATA_T;
    // oneDNN's exp maps NaN to inf: the NaNs are put back after it.
    return [](KernelContext& ctx) {
      activation<T>(ctx, [](double x) { return std::exp(x); }, algorithm::eltwise_exp, 0.f, 0.f, true);
    };
  });
  add_f(r, "Log", [](auto tag) {
    using T = STRATA_T;
    // Not oneDNN's eltwise_log: in 2.6 it is off by up to 1e-4 relative near 1.
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::log(x); }); };
  });
  add_f(r, "Log1p", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::log1p(x); }); };
  });
  add_f(r, "Erf", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::erf(x); }); };
  });
  add_f(r, "Erfc", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::erfc(x); }); };
  });
  add_f(r, "Floor", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_loop<T, T>(ctx, [](T x) { return std::floor(x); }); };
  });
  // The trigonometric and hyperbolic functions: libm's in double, rounded once (a cloned
  // loop would gain nothing: the calls into libm do not vectorise).
  add_f(r, "Sin", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::sin(x); }); };
  });
  add_f(r, "Cos", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::cos(x); }); };
  });
  add_f(r, "Tan", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::tan(x); }); };
  });
  add_f(r, "Asin", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::asin(x); }); };
  });
  add_f(r, "Acos", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::acos(x); }); };
  });
  add_f(r, "Atan", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::atan(x); }); };
  });
  add_f(r, "Sinh", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::sinh(x); }); };
  });
  add_f(r, "Cosh", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::cosh(x); }); };
  });
  add_f(r, "Asinh", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::asinh(x); }); };
  });
  add_f(r, "Acosh", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::acosh(x); }); };
  });
  add_f(r, "Atanh", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return std::atanh(x); }); };
  });
  add_f(r, "Relu6", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_loop<T, T>(ctx, [](T x) { return Min{}(Max{}(x, T(0)), T(6)); }); };
  });
  add_f(r, "Elu", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      activation<T>(ctx, [](double x) { return x > 0 ? x : std::expm1(x); }, algorithm::eltwise_elu, 1.f);
    };
  });
  add_f(r, "Selu", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      unary_math<T>(ctx, [](double x) { return kSeluScale * (x > 0 ? x : kSeluAlpha * std::expm1(x)); });
    };
  });
  add_f(r, "Sigmoid", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { activation<T>(ctx, sigmoid, algorithm::eltwise_logistic); };
  });
  add_f(r, "Tanh", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { activation<T>(ctx, [](double x) { return std::tanh(x); }, algorithm::eltwise_tanh); };
  });
  add_f(r, "Softplus", [](auto tag) {
    using T = STRATA_T;
    // Not oneDNN's eltwise_soft_relu: in 2.6 it returns values near 1e-5 (even negative
    // ones) where log(1 + e^x) is tiny.
    return [](KernelContext& ctx) { unary_math<T>(ctx, softplus); };
  });
  add_f(r, "Softsign", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { unary_math<T>(ctx, [](double x) { return x / (1.0 + std::fabs(x)); }); };
  });
  add_f(r, "Gelu", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      const bool approximate = ctx.attrs().get_or<bool>("approximate", false);
      activation<T>(ctx, [approximate](double x) { return gelu(x, approximate); },
                    approximate ? algorithm::eltwise_gelu_tanh : algorithm::eltwise_gelu_erf);
    };
  });
  add_typed<bool>(r, "LogicalNot", [](auto) {
    return [](KernelContext& ctx) { unary_loop<bool, bool>(ctx, [](bool x) { return !x; }); };
  });
}

void register_gradient_helpers(Registrar& r) {
  using dnnl::algorithm;
  // ReluGrad and Relu6Grad select (features > 0 ? gradients : 0) like the ref kernels, so
  // a NaN or infinite gradient where the feature is off gives 0; oneDNN multiplies by the
  // mask (NaN). Plain loops at every size.
  add_f(r, "ReluGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      check_num_inputs(ctx, 2);
      check_same_dims(ctx, 0, 1);
      STRATA_CHECK(fast_binary<T>(ctx, ReluGradF{}), BackendError, "op ", ctx.op_name(), ": unexpected shapes");
    };
  });
  add_f(r, "Relu6Grad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      pair_math<T>(ctx, [](double g, double f) { return (f > 0 && f < 6) ? g : 0.0; });
    };
  });
  add_f(r, "EluGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      activation_grad<T>(ctx, [](double g, double y) { return y > 0 ? g : g * (y + 1.0); },
                         algorithm::eltwise_elu_use_dst_for_bwd, 1.f, 0.f, 1, 0, true);
    };
  });
  add_f(r, "SeluGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      pair_math<T>(ctx, [](double g, double y) { return y > 0 ? g * kSeluScale : g * (y + kSeluScale * kSeluAlpha); });
    };
  });
  add_f(r, "SigmoidGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      activation_grad<T>(ctx, [](double y, double dy) { return dy * y * (1.0 - y); },
                         algorithm::eltwise_logistic_use_dst_for_bwd, 0.f, 0.f, 0, 1, true);
    };
  });
  add_f(r, "TanhGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      activation_grad<T>(ctx, [](double y, double dy) { return dy * (1.0 - y * y); },
                         algorithm::eltwise_tanh_use_dst_for_bwd, 0.f, 0.f, 0, 1, true);
    };
  });
  add_f(r, "SoftplusGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      activation_grad<T>(ctx, [](double g, double f) { return g * sigmoid(f); }, algorithm::eltwise_soft_relu, 0.f,
                         0.f, 1, 0, false, true);
    };
  });
  add_f(r, "SoftsignGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      pair_math<T>(ctx, [](double g, double f) {
        const double d = 1.0 + std::fabs(f);
        return g / (d * d);
      });
    };
  });
  add_f(r, "RsqrtGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { pair_math<T>(ctx, [](double y, double dy) { return dy * -0.5 * y * y * y; }); };
  });
  add_f(r, "SqrtGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      activation_grad<T>(ctx, [](double y, double dy) { return dy * 0.5 / y; }, algorithm::eltwise_sqrt_use_dst_for_bwd,
                         0.f, 0.f, 0, 1, true);
    };
  });
  add_f(r, "GeluGrad", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) {
      const bool approximate = ctx.attrs().get_or<bool>("approximate", false);
      auto f = [approximate](double g, double x) { return g * gelu_derivative(x, approximate); };
      // oneDNN 2.6's gelu_tanh backward misses rtol 1e-5 around x = -4; its erf one is fine.
      if (approximate) return pair_math<T>(ctx, f, kGrainExpensive);
      activation_grad<T>(ctx, f, algorithm::eltwise_gelu_erf, 0.f, 0.f, 1, 0, false, true);
    };
  });
}

#undef STRATA_T

}  // namespace

void register_elementwise_kernels(Registrar& r) {
  register_binary(r);
  register_unary(r);
  register_gradient_helpers(r);
}

}  // namespace strata::onednn
