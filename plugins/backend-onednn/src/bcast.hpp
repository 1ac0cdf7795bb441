// NumPy broadcasting for the plain C++ kernels. An output of some shape is read from K
// inputs through broadcast strides; adjacent dimensions that stay contiguous for every
// input are merged, so the common cases (same shapes, a scalar, a bias row) become one
// or two loops whose innermost one has stride 0 or 1 and vectorises.
#pragma once

#include <array>

#include "common.hpp"

namespace strata::onednn {

template <std::size_t K>
struct BroadcastPlan {
  Dims dims;                       // merged output dimensions (at least one)
  std::array<Dims, K> strides;     // per input, per merged dimension (0 = broadcast)
  std::int64_t inner = 1;          // dims.back()
  std::int64_t rows = 1;           // product of the other dimensions
};

// REQUIRES: every input broadcasts to `out` (shape inference checked it).
template <std::size_t K>
BroadcastPlan<K> broadcast_plan(const Dims& out, const std::array<const Dims*, K>& ins) {
  std::array<Dims, K> full;
  for (std::size_t k = 0; k < K; ++k) full[k] = kernel_util::broadcast_strides(*ins[k], out);
  BroadcastPlan<K> p;
  // Walk from the innermost dimension outwards, dropping size-1 dimensions and merging a
  // dimension into the one inside it when every input's stride allows.
  std::vector<std::int64_t> dims_rev;
  std::array<std::vector<std::int64_t>, K> strides_rev;
  for (std::size_t d = out.size(); d-- > 0;) {
    if (out[d] == 1) continue;
    bool merge = !dims_rev.empty();
    for (std::size_t k = 0; merge && k < K; ++k) merge = full[k][d] == strides_rev[k].back() * dims_rev.back();
    if (merge) {
      dims_rev.back() *= out[d];
    } else {
      dims_rev.push_back(out[d]);
      for (std::size_t k = 0; k < K; ++k) strides_rev[k].push_back(full[k][d]);
    }
  }
  if (dims_rev.empty()) {
    dims_rev.push_back(1);
    for (std::size_t k = 0; k < K; ++k) strides_rev[k].push_back(0);
  }
  p.dims.assign(dims_rev.rbegin(), dims_rev.rend());
  for (std::size_t k = 0; k < K; ++k) p.strides[k].assign(strides_rev[k].rbegin(), strides_rev[k].rend());
  p.inner = p.dims.back();
  p.rows = product(p.dims, 0, p.dims.size() - 1);
  return p;
}

// Calls run(out_offset, in_offsets, length, inner_strides) for every innermost run of the
// output, splitting the rows over threads when the output is large. `grain` is in
// elements. `run` must not throw.
template <std::size_t K, class Run>
void for_each_run(const BroadcastPlan<K>& p, std::int64_t grain, Run&& run) {
  const std::size_t outer_rank = p.dims.size() - 1;
  std::array<std::int64_t, K> inner_strides;
  for (std::size_t k = 0; k < K; ++k) inner_strides[k] = p.strides[k].back();
  const std::int64_t row_grain = std::max<std::int64_t>(1, grain / std::max<std::int64_t>(p.inner, 1));
  parallel_for(p.rows, row_grain, [&](std::int64_t begin, std::int64_t end) {
    // Odometer over the outer dimensions, started at row `begin`.
    std::vector<std::int64_t> idx(outer_rank, 0);
    std::array<std::int64_t, K> off{};
    std::int64_t rem = begin;
    for (std::size_t d = outer_rank; d-- > 0;) {
      idx[d] = rem % p.dims[d];
      rem /= p.dims[d];
      for (std::size_t k = 0; k < K; ++k) off[k] += idx[d] * p.strides[k][d];
    }
    for (std::int64_t r = begin; r < end; ++r) {
      run(r * p.inner, off, p.inner, inner_strides);
      for (std::size_t d = outer_rank; d-- > 0;) {
        ++idx[d];
        for (std::size_t k = 0; k < K; ++k) off[k] += p.strides[k][d];
        if (idx[d] < p.dims[d]) break;
        for (std::size_t k = 0; k < K; ++k) off[k] -= p.strides[k][d] * p.dims[d];
        idx[d] = 0;
      }
    }
  });
}

// o[i] = f(x[i * sx], y[i * sy]) for i < n, with the stride patterns that matter
// spelled out so that the compiler vectorises them.
template <class TO, class TX, class TY, class F>
inline void run2(TO* __restrict o, const TX* __restrict x, std::int64_t sx, const TY* __restrict y, std::int64_t sy,
                 std::int64_t n, F f) {
  if (sx == 1 && sy == 1) {
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
  } else if (sx == 1 && sy == 0) {
    const TY b = *y;
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], b);
  } else if (sx == 0 && sy == 1) {
    const TX a = *x;
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(a, y[i]);
  } else {
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i * sx], y[i * sy]);
  }
}

}  // namespace strata::onednn
