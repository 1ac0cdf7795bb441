// Reductions (Sum, Mean, Max, Min, Prod), ArgMax, Cumprod and Cumsum.
//
// The input's dimensions are first merged into alternating groups of kept and reduced
// dimensions. One reduced group ([outer, reduced, inner], the usual case) runs as
// vectorisable loops over rows or columns, threaded over the outer dimension or, for a
// full reduction, over chunks of the input; several reduced groups fall back to an
// odometer walk. Float sums and products accumulate in double, integer ones in wrapping
// uint64 (TensorFlow's overflow behaviour). Large float32 Sum/Mean/Prod over the
// innermost dimensions use oneDNN. The float Sum/Mean loops are cloned per CPU feature level
// (dispatch.hpp), with the same operations in the same order.
#include "reduce.hpp"

#include "dispatch.hpp"
#include "dnnl_util.hpp"
#include "kernels.hpp"

namespace strata::onednn {
namespace {

template <class T, Reduce K>
struct Fold {
  static constexpr bool kSumLike = K == Reduce::kSum || K == Reduce::kMean || K == Reduce::kProd;
  using Acc = std::conditional_t<kSumLike, SumAcc<T>, T>;

  static Acc init() {
    if constexpr (K == Reduce::kProd) {
      return Acc(1);
    } else if constexpr (kSumLike) {
      return Acc(0);
    } else if constexpr (K == Reduce::kMax) {
      if constexpr (kIsFloat<T>) {
        return -std::numeric_limits<T>::infinity();
      } else {
        return std::numeric_limits<T>::lowest();
      }
    } else {
      if constexpr (kIsFloat<T>) {
        return std::numeric_limits<T>::infinity();
      } else {
        return std::numeric_limits<T>::max();
      }
    }
  }
  static Acc widen(T v) {
    if constexpr (kSumLike && !kIsFloat<T>) {
      return static_cast<Acc>(static_cast<std::int64_t>(v));
    } else {
      return static_cast<Acc>(v);
    }
  }
  // Folds a (widened) value or a partial result into an accumulator.
  static Acc merge(Acc a, Acc v) {
    if constexpr (K == Reduce::kProd) {
      return a * v;
    } else if constexpr (kSumLike) {
      return a + v;
    } else if constexpr (K == Reduce::kMax) {
      return (!is_nan(a) && (is_nan(v) || v > a)) ? v : a;
    } else {
      return (!is_nan(a) && (is_nan(v) || v < a)) ? v : a;
    }
  }
  static T finish(Acc a, std::int64_t count) {
    if constexpr (K == Reduce::kMean) {
      if constexpr (kIsFloat<T>) {
        return static_cast<T>(a / static_cast<double>(count));
      } else {
        return count == 0 ? T(0) : static_cast<T>(static_cast<std::int64_t>(a) / count);
      }
    } else if constexpr (kSumLike && !kIsFloat<T>) {
      return static_cast<T>(static_cast<std::int64_t>(a));
    } else {
      return static_cast<T>(a);
    }
  }
  // Folds x[0..n) with eight independent accumulators (so that the loop vectorises
  // without reassociation flags), merged at the end.
  static Acc fold_run(const T* x, std::int64_t n) {
    Acc lanes[8];
    for (auto& l : lanes) l = init();
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      for (int k = 0; k < 8; ++k) lanes[k] = merge(lanes[k], widen(x[i + k]));
    }
    Acc a = init();
    for (int k = 0; k < 8; ++k) a = merge(a, lanes[k]);
    for (; i < n; ++i) a = merge(a, widen(x[i]));
    return a;
  }
};

// The float Sum/Mean inner loops (double accumulators), cloned per CPU feature level: the
// eight-lane fold of fold_run and the column accumulation acc[i] += row[i].
template <class T>
STRATA_CPU_INLINE double sum_run_body(const T* __restrict x, std::int64_t n) {
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) lanes[k] = lanes[k] + static_cast<double>(x[i + k]);
  }
  double a = 0;
  for (int k = 0; k < 8; ++k) a = a + lanes[k];
  for (; i < n; ++i) a = a + static_cast<double>(x[i]);
  return a;
}
template <class T>
STRATA_CPU_INLINE void add_row_body(double* __restrict acc, const T* __restrict row, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) acc[i] = acc[i] + static_cast<double>(row[i]);
}
STRATA_CPU_CLONES double sum_run(const float* x, std::int64_t n) { return sum_run_body(x, n); }
STRATA_CPU_CLONES double sum_run(const double* x, std::int64_t n) { return sum_run_body(x, n); }
STRATA_CPU_CLONES void add_row(double* acc, const float* row, std::int64_t n) { add_row_body(acc, row, n); }
STRATA_CPU_CLONES void add_row(double* acc, const double* row, std::int64_t n) { add_row_body(acc, row, n); }

template <class T, Reduce K>
constexpr bool kClonedSum = kIsFloat<T> && (K == Reduce::kSum || K == Reduce::kMean) &&
                            std::is_same_v<typename Fold<T, K>::Acc, double>;

// Dimensions merged into groups: sizes and whether each group is reduced.
struct Groups {
  Dims size;
  std::vector<bool> reduced;
};

Groups group_dims(const Dims& dims, const std::vector<bool>& reduced) {
  Groups g;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;
    if (!g.size.empty() && g.reduced.back() == reduced[d]) {
      g.size.back() *= dims[d];
    } else {
      g.size.push_back(dims[d]);
      g.reduced.push_back(reduced[d]);
    }
  }
  return g;
}

template <class T, Reduce K>
void reduce_cpp(const T* x, const Groups& g, std::int64_t n_out, std::int64_t count, T* o) {
  using F = Fold<T, K>;
  using Acc = typename F::Acc;
  std::size_t n_reduced_groups = 0;
  for (bool r : g.reduced) n_reduced_groups += r ? 1 : 0;

  if (n_reduced_groups <= 1) {
    // [outer, R, inner] with outer and inner possibly 1.
    std::int64_t outer = 1, R = 1, inner = 1;
    bool after = false;
    for (std::size_t i = 0; i < g.size.size(); ++i) {
      if (g.reduced[i]) {
        R = g.size[i];
        after = true;
      } else if (after) {
        inner *= g.size[i];
      } else {
        outer *= g.size[i];
      }
    }
    if (inner == 1 && outer == 1) {
      // Full reduction: partial results per chunk, merged in chunk order.
      constexpr std::int64_t kChunk = 1 << 14;
      const std::int64_t chunks = (R + kChunk - 1) / kChunk;
      std::vector<Acc> partial(static_cast<std::size_t>(chunks), F::init());
      parallel_for(chunks, std::max<std::int64_t>(1, kGrainCheap / kChunk), [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t c = b; c < e; ++c) {
          const std::int64_t begin = c * kChunk, end = std::min(R, begin + kChunk);
          if constexpr (kClonedSum<T, K>) {
            partial[static_cast<std::size_t>(c)] = sum_run(x + begin, end - begin);
          } else {
            partial[static_cast<std::size_t>(c)] = F::fold_run(x + begin, end - begin);
          }
        }
      });
      Acc a = F::init();
      for (const Acc& p : partial) a = F::merge(a, p);
      o[0] = F::finish(a, count);
      return;
    }
    const std::int64_t grain = std::max<std::int64_t>(1, kGrainCheap / std::max<std::int64_t>(1, R * inner));
    parallel_for(outer, grain, [&](std::int64_t b, std::int64_t e) {
      std::vector<Acc> acc(inner == 1 ? 0 : static_cast<std::size_t>(inner));
      for (std::int64_t oi = b; oi < e; ++oi) {
        const T* xo = x + oi * R * inner;
        if (inner == 1) {
          if constexpr (kClonedSum<T, K>) {
            o[oi] = F::finish(sum_run(xo, R), count);
          } else {
            o[oi] = F::finish(F::fold_run(xo, R), count);
          }
          continue;
        }
        std::fill(acc.begin(), acc.end(), F::init());
        for (std::int64_t r = 0; r < R; ++r) {
          const T* row = xo + r * inner;
          if constexpr (kClonedSum<T, K>) {
            add_row(acc.data(), row, inner);
          } else {
            for (std::int64_t i = 0; i < inner; ++i) acc[i] = F::merge(acc[i], F::widen(row[i]));
          }
        }
        T* orow = o + oi * inner;
        for (std::int64_t i = 0; i < inner; ++i) orow[i] = F::finish(acc[i], count);
      }
    });
    return;
  }

  // Several reduced groups: walk the input in order with an odometer that tracks the
  // output position (reduced groups have output stride 0).
  const std::size_t rank = g.size.size();
  Dims out_stride(rank, 0);
  std::int64_t s = 1;
  for (std::size_t d = rank; d-- > 0;) {
    if (!g.reduced[d]) {
      out_stride[d] = s;
      s *= g.size[d];
    }
  }
  std::vector<Acc> acc(static_cast<std::size_t>(n_out), F::init());
  const std::int64_t inner = g.size.back();
  const bool inner_reduced = g.reduced.back();
  const std::int64_t runs = product(g.size, 0, rank - 1);
  Dims idx(rank - 1, 0);
  std::int64_t out_off = 0;
  for (std::int64_t run = 0; run < runs; ++run) {
    const T* xr = x + run * inner;
    if (inner_reduced) {
      acc[static_cast<std::size_t>(out_off)] = F::merge(acc[static_cast<std::size_t>(out_off)], F::fold_run(xr, inner));
    } else {
      Acc* a = acc.data() + out_off;
      for (std::int64_t i = 0; i < inner; ++i) a[i] = F::merge(a[i], F::widen(xr[i]));
    }
    for (std::size_t d = rank - 1; d-- > 0;) {
      ++idx[d];
      out_off += out_stride[d];
      if (idx[d] < g.size[d]) break;
      out_off -= out_stride[d] * g.size[d];
      idx[d] = 0;
    }
  }
  for (std::int64_t j = 0; j < n_out; ++j) o[j] = F::finish(acc[static_cast<std::size_t>(j)], count);
}

// Sum / Mean / Prod of a large float32 tensor on oneDNN.
void reduce_dnnl(std::string_view op, const float* x, const Groups& g, Reduce kind, float* o) {
  const dnnl::algorithm alg = kind == Reduce::kSum    ? dnnl::algorithm::reduction_sum
                              : kind == Reduce::kMean ? dnnl::algorithm::reduction_mean
                                                      : dnnl::algorithm::reduction_mul;
  Dims dst = g.size;
  for (std::size_t d = 0; d < dst.size(); ++d) {
    if (g.reduced[d]) dst[d] = 1;
  }
  KeyBuilder key("reduction");
  key.add(static_cast<std::int64_t>(alg)).add(g.size).add(dst);
  auto prim = cached_primitive(op, key.str(), [&] {
    const auto s_md = plain(g.size), d_md = plain(dst);
    const dnnl::reduction::primitive_desc pd(dnnl::reduction::desc(alg, s_md, d_md, 0.f, 0.f), user_scratchpad(),
                                             engine());
    return PrimitiveSpec{dnnl::reduction(pd), {{DNNL_ARG_SRC, s_md}, {DNNL_ARG_DST, d_md}}, pd.scratchpad_desc()};
  });
  prim->execute({x, o});
}

template <class T, Reduce K>
void reduce_typed(std::string_view op, const T* x, const Dims& dims, const std::vector<bool>& reduced, T* o) {
  std::int64_t n_out = 1, count = 1;
  for (std::size_t d = 0; d < dims.size(); ++d) (reduced[d] ? count : n_out) *= dims[d];
  if (n_out == 0) return;
  using F = Fold<T, K>;
  if (count == 0) {
    const T v = F::finish(F::init(), 0);
    std::fill(o, o + n_out, v);
    return;
  }
  const Groups g = group_dims(dims, reduced);
  bool any_reduced = false;
  for (bool r : g.reduced) any_reduced = any_reduced || r;
  if (!any_reduced) {
    std::copy(x, x + n_out, o);
    return;
  }
  if constexpr (std::is_same_v<T, float> && F::kSumLike) {
    // oneDNN 2.6 has a jit reduction only over the innermost dimensions; it runs its
    // naive reference code for any other pattern, which the loops below beat easily.
    std::size_t reduced_groups = 0;
    for (bool r : g.reduced) reduced_groups += r ? 1 : 0;
    if (n_out * count >= kDnnlMinElements && reduced_groups == 1 && g.reduced.back()) {
      return reduce_dnnl(op, x, g, K, o);
    }
  }
  reduce_cpp<T, K>(x, g, n_out, count, o);
}

}  // namespace

template <class T>
void reduce_into(std::string_view op, const T* x, const Dims& dims, const std::vector<bool>& reduced, Reduce kind,
                 T* o) {
  switch (kind) {
    case Reduce::kSum: return reduce_typed<T, Reduce::kSum>(op, x, dims, reduced, o);
    case Reduce::kMean: return reduce_typed<T, Reduce::kMean>(op, x, dims, reduced, o);
    case Reduce::kMax: return reduce_typed<T, Reduce::kMax>(op, x, dims, reduced, o);
    case Reduce::kMin: return reduce_typed<T, Reduce::kMin>(op, x, dims, reduced, o);
    case Reduce::kProd: return reduce_typed<T, Reduce::kProd>(op, x, dims, reduced, o);
  }
}

template void reduce_into<float>(std::string_view, const float*, const Dims&, const std::vector<bool>&, Reduce,
                                 float*);
template void reduce_into<double>(std::string_view, const double*, const Dims&, const std::vector<bool>&, Reduce,
                                  double*);
template void reduce_into<std::int32_t>(std::string_view, const std::int32_t*, const Dims&, const std::vector<bool>&,
                                        Reduce, std::int32_t*);
template void reduce_into<std::int64_t>(std::string_view, const std::int64_t*, const Dims&, const std::vector<bool>&,
                                        Reduce, std::int64_t*);

namespace {

template <class T>
void reduction_kernel(KernelContext& ctx, Reduce kind) {
  check_num_inputs(ctx, 2);
  const Dims& dims = in_dims(ctx, 0);
  const auto rank = static_cast<std::int64_t>(dims.size());
  std::vector<bool> reduced(dims.size(), false);
  for (std::int64_t a : host_ints(ctx, 1)) {
    const auto k = static_cast<std::size_t>(normalize_axis(ctx, a, rank));
    STRATA_CHECK(!reduced[k], BackendError, "op ", ctx.op_name(), ": axis ", a, " is listed twice");
    reduced[k] = true;
  }
  const bool keep_dims = ctx.attrs().get_or<bool>("keep_dims", false);
  Dims expected;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (!reduced[d]) {
      expected.push_back(dims[d]);
    } else if (keep_dims) {
      expected.push_back(1);
    }
  }
  check_output_dims(ctx, 0, expected);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  reduce_into<T>(ctx.op_name(), x, dims, reduced, kind, o);
}

// [outer, len, inner] around `axis`.
struct AxisSplit {
  std::int64_t outer, len, inner;
};
AxisSplit split_at(const Dims& dims, std::size_t axis) {
  return {product(dims, 0, axis), dims[axis], product(dims, axis + 1)};
}

template <class T, class I>
void argmax_typed(const T* x, const AxisSplit& s, I* o) {
  const std::int64_t grain = std::max<std::int64_t>(1, kGrainCheap / std::max<std::int64_t>(1, s.len * s.inner));
  parallel_for(s.outer, grain, [&](std::int64_t b, std::int64_t e) {
    std::vector<T> best(static_cast<std::size_t>(s.inner));
    for (std::int64_t oi = b; oi < e; ++oi) {
      const T* xo = x + oi * s.len * s.inner;
      I* oo = o + oi * s.inner;
      if (s.inner == 1) {
        std::int64_t arg = 0;
        T bv = xo[0];
        for (std::int64_t k = 1; k < s.len; ++k) {
          const T v = xo[k];
          if (!is_nan(bv) && (is_nan(v) || v > bv)) {
            bv = v;
            arg = k;
          }
        }
        oo[0] = static_cast<I>(arg);
        continue;
      }
      std::copy(xo, xo + s.inner, best.begin());
      std::fill(oo, oo + s.inner, I(0));
      for (std::int64_t k = 1; k < s.len; ++k) {
        const T* row = xo + k * s.inner;
        for (std::int64_t i = 0; i < s.inner; ++i) {
          const T v = row[i];
          const bool better = !is_nan(best[i]) && (is_nan(v) || v > best[i]);
          best[i] = better ? v : best[i];
          oo[i] = better ? static_cast<I>(k) : oo[i];
        }
      }
    }
  });
}

template <class T>
void argmax(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& dims = in_dims(ctx, 0);
  const auto axis =
      static_cast<std::size_t>(normalize_axis(ctx, host_scalar(ctx, 1), static_cast<std::int64_t>(dims.size())));
  Dims expected = dims;
  expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(axis));
  check_output_dims(ctx, 0, expected);
  const AxisSplit s = split_at(dims, axis);
  const std::int64_t n_out = s.outer * s.inner;
  STRATA_CHECK(s.len > 0 || n_out == 0, BackendError, "op ", ctx.op_name(), ": ArgMax along an empty dimension");
  const T* x = in<T>(ctx, 0);
  if (ctx.output_meta(0).dtype == DType::kInt64) {
    std::int64_t* o = out<std::int64_t>(ctx, 0);
    if (n_out > 0) argmax_typed(x, s, o);
  } else {
    std::int32_t* o = out<std::int32_t>(ctx, 0);
    if (n_out > 0) argmax_typed(x, s, o);
  }
}

// A running product or sum along the axis (Cumprod, Cumsum; TensorFlow's `exclusive` and
// `reverse`), accumulated in `Acc` and rounded once per output.
template <class T, class Acc, class Combine>
void scan(KernelContext& ctx, Acc identity, Combine combine) {
  check_num_inputs(ctx, 2);
  const Dims& dims = in_dims(ctx, 0);
  const auto axis =
      static_cast<std::size_t>(normalize_axis(ctx, host_scalar(ctx, 1), static_cast<std::int64_t>(dims.size())));
  const bool exclusive = ctx.attrs().get_or<bool>("exclusive", false);
  const bool reverse = ctx.attrs().get_or<bool>("reverse", false);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const AxisSplit s = split_at(dims, axis);
  if (s.outer * s.len * s.inner == 0) return;
  const std::int64_t grain = std::max<std::int64_t>(1, kGrainCheap / std::max<std::int64_t>(1, s.len * s.inner));
  parallel_for(s.outer, grain, [&](std::int64_t b, std::int64_t e) {
    std::vector<Acc> acc(static_cast<std::size_t>(s.inner));
    for (std::int64_t oi = b; oi < e; ++oi) {
      std::fill(acc.begin(), acc.end(), identity);
      for (std::int64_t step = 0; step < s.len; ++step) {
        const std::int64_t k = reverse ? s.len - 1 - step : step;
        const T* xr = x + (oi * s.len + k) * s.inner;
        T* orow = o + (oi * s.len + k) * s.inner;
        for (std::int64_t i = 0; i < s.inner; ++i) {
          Acc& a = acc[static_cast<std::size_t>(i)];
          if (exclusive) {
            orow[i] = static_cast<T>(a);
            a = combine(a, static_cast<Acc>(xr[i]));
          } else {
            a = combine(a, static_cast<Acc>(xr[i]));
            orow[i] = static_cast<T>(a);
          }
        }
      }
    }
  });
}

// Products in double.
template <class T>
void cumprod(KernelContext& ctx) {
  scan<T>(ctx, 1.0, [](double a, double v) { return a * v; });
}

// Sums: floats in double, integers in 64 bits modulo 2^64 (so they wrap as TensorFlow's).
template <class T>
void cumsum(KernelContext& ctx) {
  using Acc = std::conditional_t<kIsFloat<T>, double, std::uint64_t>;
  scan<T>(ctx, Acc(0), [](Acc a, Acc v) { return a + v; });
}

}  // namespace

void register_reduction_kernels(Registrar& r) {
  const std::pair<const char*, Reduce> reductions[] = {{"Sum", Reduce::kSum},
                                                       {"Mean", Reduce::kMean},
                                                       {"Max", Reduce::kMax},
                                                       {"Min", Reduce::kMin},
                                                       {"Prod", Reduce::kProd}};
  for (const auto& [name, kind] : reductions) {
    add_n(r, name, [kind = kind](auto tag) {
      using T = typename decltype(tag)::type;
      return [kind](KernelContext& ctx) { reduction_kernel<T>(ctx, kind); };
    });
  }
  add_n(r, "ArgMax", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { argmax<T>(ctx); };
  });
  add_f(r, "Cumprod", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { cumprod<T>(ctx); };
  });
  add_n(r, "Cumsum", [](auto tag) {
    using T = typename decltype(tag)::type;
    return [](KernelContext& ctx) { cumsum<T>(ctx); };
  });
}

}  // namespace strata::onednn
