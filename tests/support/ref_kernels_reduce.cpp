// Ref kernels of the reductions (Sum, Mean, Max, Min, Prod), ArgMax, Cumprod and Cumsum. Every
// input element is visited once in row-major order and folded into the output element
// it belongs to; sums and products accumulate in long double (floats) or wrapping int64.
#include <cmath>
#include <limits>

#include "ref_kernels_util.hpp"

namespace strata::testing::ref {
namespace {

enum class Reduce { kSum, kMean, kMax, kMin, kProd };

// Which axes of input 0 are reduced (host input 1, scalar or 1-D; none when empty).
std::vector<bool> reduced_axes(const KernelContext& ctx) {
  const auto rank = static_cast<std::int64_t>(ctx.input(0).rank());
  std::vector<bool> reduced(static_cast<std::size_t>(rank), false);
  for (std::int64_t a : host_ints(ctx, 1)) {
    const auto k = static_cast<std::size_t>(normalize_axis(ctx, a, rank));
    STRATA_CHECK(!reduced[k], BackendError, "ref kernel ", ctx.op_name(), ": axis ", a, " is listed twice");
    reduced[k] = true;
  }
  return reduced;
}

template <class T>
bool nan_value(T v) {
  if constexpr (kIsFloat<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

// The identities of Max and Min: -inf / +inf for floats, lowest / highest for integers.
template <class T>
Acc<T> lowest_value() {
  if constexpr (kIsFloat<T>) {
    return -std::numeric_limits<Acc<T>>::infinity();
  } else {
    return std::numeric_limits<T>::lowest();
  }
}
template <class T>
Acc<T> highest_value() {
  if constexpr (kIsFloat<T>) {
    return std::numeric_limits<Acc<T>>::infinity();
  } else {
    return std::numeric_limits<T>::max();
  }
}

template <class T>
void reduce(KernelContext& ctx, Reduce kind) {
  check_num_inputs(ctx, 2);
  const Dims& dims = in_dims(ctx, 0);
  const std::vector<bool> reduced = reduced_axes(ctx);
  // The output with reduced axes kept as 1; with keep_dims false the same elements in the
  // same order, only without those axes.
  Dims kept = dims;
  std::int64_t count = 1;  // input elements per output element
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (reduced[d]) {
      kept[d] = 1;
      count *= dims[d];
    }
  }
  Dims expected;
  const bool keep_dims = ctx.attrs().get_or<bool>("keep_dims", false);
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (!reduced[d] || keep_dims) expected.push_back(kept[d]);
  }
  check_out_dims(ctx, 0, expected);

  const std::int64_t n_out = num_elements(kept);
  Acc<T> init = 0;
  if (kind == Reduce::kProd) init = 1;
  if (kind == Reduce::kMax) init = lowest_value<T>();
  if (kind == Reduce::kMin) init = highest_value<T>();
  std::vector<Acc<T>> acc(static_cast<std::size_t>(n_out), init);

  const T* x = in<T>(ctx, 0);
  const std::int64_t n_in = num_elements(dims);
  for (std::int64_t i = 0; i < n_in; ++i) {
    Dims idx = unravel(i, dims);
    for (std::size_t d = 0; d < dims.size(); ++d) {
      if (reduced[d]) idx[d] = 0;
    }
    Acc<T>& a = acc[static_cast<std::size_t>(ravel(idx, kept))];
    const auto v = static_cast<Acc<T>>(x[i]);
    switch (kind) {
      case Reduce::kSum:
      case Reduce::kMean: a = acc_add<T>(a, v); break;
      case Reduce::kProd: a = acc_mul<T>(a, v); break;
      case Reduce::kMax:  // NaN propagates
        if (!nan_value(a) && (nan_value(v) || v > a)) a = v;
        break;
      case Reduce::kMin:
        if (!nan_value(a) && (nan_value(v) || v < a)) a = v;
        break;
    }
  }

  T* o = out<T>(ctx, 0);
  for (std::int64_t j = 0; j < n_out; ++j) {
    Acc<T> v = acc[static_cast<std::size_t>(j)];
    if (kind == Reduce::kMean) {
      if constexpr (kIsFloat<T>) {
        v = v / static_cast<long double>(count);  // 0/0 = NaN for an empty set
      } else {
        // Truncates toward zero. The mean of an empty set is 0, as in TensorFlow (which
        // fills with NaN, and an integer NaN is 0).
        v = count == 0 ? 0 : v / count;
      }
    }
    o[j] = from_acc<T>(v);
  }
}

// Index of the first maximum along the axis; a NaN counts as the maximum (the first NaN
// wins), so that x[ArgMax] is what Max returns.
template <class T>
void argmax(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& dims = in_dims(ctx, 0);
  const auto rank = static_cast<std::int64_t>(dims.size());
  const auto axis = static_cast<std::size_t>(normalize_axis(ctx, host_scalar(ctx, 1), rank));
  Dims expected = dims;
  expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(axis));
  check_out_dims(ctx, 0, expected);
  const std::int64_t len = dims[axis];
  const std::int64_t n_out = num_elements(expected);
  STRATA_CHECK(len > 0 || n_out == 0, BackendError, "op ", ctx.op_name(), ": ArgMax along an empty dimension");
  const T* x = in<T>(ctx, 0);
  std::vector<std::int64_t> result(static_cast<std::size_t>(n_out), 0);
  for (std::int64_t j = 0; j < n_out; ++j) {
    const Dims outer = unravel(j, expected);
    Dims idx = outer;
    idx.insert(idx.begin() + static_cast<std::ptrdiff_t>(axis), 0);
    std::int64_t best = 0;
    T best_value = x[ravel(idx, dims)];
    for (std::int64_t k = 1; k < len; ++k) {
      idx[axis] = k;
      const T v = x[ravel(idx, dims)];
      if (!nan_value(best_value) && (nan_value(v) || v > best_value)) {
        best = k;
        best_value = v;
      }
    }
    result[static_cast<std::size_t>(j)] = best;
  }
  const DType out_type = ctx.output_meta(0).dtype;
  if (out_type == DType::kInt64) {
    std::int64_t* o = out<std::int64_t>(ctx, 0);
    for (std::int64_t j = 0; j < n_out; ++j) o[j] = result[static_cast<std::size_t>(j)];
  } else {
    std::int32_t* o = out<std::int32_t>(ctx, 0);
    for (std::int64_t j = 0; j < n_out; ++j) o[j] = static_cast<std::int32_t>(result[static_cast<std::size_t>(j)]);
  }
}

// A cumulative product or sum along the axis, accumulated in `Acc`; exclusive: of the
// elements before; reverse: from the end.
template <class T, class Acc, class Combine>
void scan(KernelContext& ctx, Acc identity, Combine combine) {
  check_num_inputs(ctx, 2);
  const Dims& dims = in_dims(ctx, 0);
  check_out_dims(ctx, 0, dims);
  const auto axis =
      static_cast<std::size_t>(normalize_axis(ctx, host_scalar(ctx, 1), static_cast<std::int64_t>(dims.size())));
  const bool exclusive = ctx.attrs().get_or<bool>("exclusive", false);
  const bool reverse = ctx.attrs().get_or<bool>("reverse", false);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  Dims lines = dims;  // one line per index with the axis fixed at 0
  lines[axis] = 1;
  const std::int64_t len = dims[axis];
  const std::int64_t n_lines = num_elements(lines);
  for (std::int64_t l = 0; l < n_lines; ++l) {
    Dims idx = unravel(l, lines);
    Acc acc = identity;
    for (std::int64_t step = 0; step < len; ++step) {
      idx[axis] = reverse ? len - 1 - step : step;
      const std::int64_t at = ravel(idx, dims);
      if (exclusive) {
        o[at] = static_cast<T>(acc);
        acc = combine(acc, static_cast<Acc>(x[at]));
      } else {
        acc = combine(acc, static_cast<Acc>(x[at]));
        o[at] = static_cast<T>(acc);
      }
    }
  }
}

// Products in long double.
template <class T>
void cumprod(KernelContext& ctx) {
  scan<T>(ctx, static_cast<long double>(1), [](long double a, long double v) { return a * v; });
}

// Sums: floats in long double, integers modulo 2^64 (so the sum wraps).
template <class T>
void cumsum(KernelContext& ctx) {
  using Acc = std::conditional_t<kIsFloat<T>, long double, std::uint64_t>;
  scan<T>(ctx, Acc(0), [](Acc a, Acc v) { return a + v; });
}

}  // namespace

void register_reduction_kernels(Registrar& r) {
  const std::pair<const char*, Reduce> reductions[] = {
      {"Sum", Reduce::kSum}, {"Mean", Reduce::kMean}, {"Max", Reduce::kMax}, {"Min", Reduce::kMin}, {"Prod", Reduce::kProd}};
  for (const auto& [name, kind] : reductions) {
    add_n(r, name, [kind = kind](auto t) {
      using T = typename decltype(t)::type;
      return [kind](KernelContext& ctx) { reduce<T>(ctx, kind); };
    });
  }
  add_n(r, "ArgMax", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { argmax<T>(ctx); };
  });
  add_f(r, "Cumprod", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { cumprod<T>(ctx); };
  });
  add_n(r, "Cumsum", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { cumsum<T>(ctx); };
  });
}

}  // namespace strata::testing::ref
