// Header-only helpers every backend's kernels share, so that all backends agree on the
// arithmetic of shapes: broadcasting strides, TensorFlow's SAME/VALID window geometry,
// reduction-axis normalisation; and carrying exceptions out of parallel regions. Only
// standard-library types.
#pragma once

#include "strata/export.hpp"
#include <atomic>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "strata/attrs.hpp"
#include "strata/error.hpp"
#include "strata/shape.hpp"

STRATA_API_BEGIN

namespace strata::kernel_util {

// Carries an exception out of an OpenMP parallel region (or any team of threads). An
// exception that leaves a region calls std::terminate, so each thread runs its share
// through run(), which catches everything; the first exception is kept and rethrown by
// rethrow_if_any() on the calling thread after the region:
//
//   kernel_util::RegionErrors errors;
//   #pragma omp parallel
//   errors.run([&] { work(omp_get_thread_num()); });
//   errors.rethrow_if_any();
//
// The caller (the dispatcher) then sees a strata::Error as is, and turns anything else
// into a PluginError like every exception a kernel throws. Thread safety: run() may be
// called from many threads at once; rethrow_if_any() only after they have all returned
// (the region's closing barrier orders their writes before it).
class RegionErrors {
 public:
  template <class F>
  void run(F&& f) noexcept {
    if (failed()) return;  // another thread already failed: the result is discarded
    try {
      std::forward<F>(f)();
    } catch (...) {
      if (!failed_.exchange(true, std::memory_order_acq_rel)) first_ = std::current_exception();
    }
  }
  // True once a thread's share threw; long loops may poll it to stop early.
  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
  void rethrow_if_any() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::exception_ptr first_;
};

// Row-major strides (in elements) of `dims`.
inline std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> s(dims.size(), 1);
  for (std::size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

// Strides for reading a tensor of `in_dims` broadcast (NumPy rules, aligned at the right)
// to `out_dims`: one entry per output dimension, 0 where the input is broadcast.
inline std::vector<std::int64_t> broadcast_strides(const std::vector<std::int64_t>& in_dims,
                                                   const std::vector<std::int64_t>& out_dims) {
  std::vector<std::int64_t> out(out_dims.size(), 0);
  const auto in_strides = strides_of(in_dims);
  const std::size_t offset = out_dims.size() - in_dims.size();
  for (std::size_t i = 0; i < in_dims.size(); ++i) {
    out[offset + i] = in_dims[i] == 1 ? 0 : in_strides[i];
  }
  return out;
}

// Offset of flat output index `linear` in an input read with `strides` (from
// broadcast_strides) for an output of `out_dims`.
inline std::int64_t broadcast_offset(std::int64_t linear, const std::vector<std::int64_t>& out_dims,
                                     const std::vector<std::int64_t>& strides) {
  std::int64_t offset = 0;
  for (std::size_t d = out_dims.size(); d-- > 0;) {
    const std::int64_t idx = linear % out_dims[d];
    linear /= out_dims[d];
    offset += idx * strides[d];
  }
  return offset;
}

// One spatial dimension of a convolution or pooling window, as TensorFlow computes it.
struct Window {
  std::int64_t out = 0;        // output size
  std::int64_t pad_before = 0; // implicit padding before the first input element
  std::int64_t pad_after = 0;
};

// SAME: out = ceil(in / stride), padding split with the extra element after.
// VALID: out = ceil((in - effective_k + 1) / stride); ShapeError when the window does not
// fit. effective_k = (k - 1) * dilation + 1.
inline Window window(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t dilation, bool same) {
  STRATA_CHECK(k > 0 && stride > 0 && dilation > 0, ShapeError, "window size ", k, ", stride ", stride,
               " and dilation ", dilation, " must be positive");
  const std::int64_t eff = (k - 1) * dilation + 1;
  Window w;
  if (same) {
    w.out = (in + stride - 1) / stride;
    const std::int64_t total = std::max<std::int64_t>((w.out - 1) * stride + eff - in, 0);
    w.pad_before = total / 2;
    w.pad_after = total - w.pad_before;
  } else {
    STRATA_CHECK(in >= eff, ShapeError, "a VALID window of effective size ", eff, " does not fit an input of size ",
                 in);
    w.out = (in - eff) / stride + 1;
  }
  return w;
}

// Reads a 4-element NHWC attribute list (strides, ksize, dilations) as {h, w}; checks that
// the batch and channel entries are 1.
inline std::pair<std::int64_t, std::int64_t> spatial_pair(const Attrs& attrs, const char* name,
                                                          std::int64_t fallback = 1) {
  if (!attrs.has(name)) return {fallback, fallback};
  const auto v = attrs.get<std::vector<std::int64_t>>(name);
  STRATA_CHECK(v.size() == 4 && v[0] == 1 && v[3] == 1, ValueError, "attribute '", name,
               "' must be [1, h, w, 1] for NHWC data, got ", v.size(), " values");
  return {v[1], v[2]};
}

inline bool is_same_padding(const Attrs& attrs) {
  const std::string p = attrs.get<std::string>("padding");
  STRATA_CHECK(p == "SAME" || p == "VALID", ValueError, "padding must be \"SAME\" or \"VALID\", got \"", p, "\"");
  return p == "SAME";
}

// StridedSlice, canonicalised as TensorFlow defines it: for each input dimension, the
// first index read, the step and the number of elements (1 for a shrunk dimension);
// and the final output shape (new axes inserted, shrunk dimensions removed). The output
// holds the selected elements in row-major order of the per-input-dimension lengths.
// Input dimensions may be unknown (Shape::kUnknown) during shape inference: the
// corresponding lengths (and output dimensions) are then unknown, except for shrunk ones.
struct StridedSlicePlan {
  std::vector<std::int64_t> begin, stride, length;  // per input dimension
  std::vector<std::int64_t> out_shape;
};

inline StridedSlicePlan strided_slice_plan(const std::vector<std::int64_t>& in_dims,
                                           const std::vector<std::int64_t>& begin,
                                           const std::vector<std::int64_t>& end,
                                           const std::vector<std::int64_t>& strides, std::int64_t begin_mask,
                                           std::int64_t end_mask, std::int64_t ellipsis_mask,
                                           std::int64_t new_axis_mask, std::int64_t shrink_axis_mask) {
  const std::size_t n = begin.size();
  STRATA_CHECK(end.size() == n && strides.size() == n, ShapeError,
               "StridedSlice needs begin, end and strides of one length, got ", n, ", ", end.size(), ", ",
               strides.size());
  auto bit = [](std::int64_t mask, std::size_t i) { return ((mask >> i) & 1) != 0; };
  std::size_t ellipsis_count = 0, consumed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (bit(ellipsis_mask, i)) {
      ++ellipsis_count;
    } else if (!bit(new_axis_mask, i)) {
      ++consumed;
    }
  }
  STRATA_CHECK(ellipsis_count <= 1, ShapeError, "StridedSlice allows at most one ellipsis");
  const std::size_t rank = in_dims.size();
  STRATA_CHECK(consumed <= rank, ShapeError, "StridedSlice indexes ", consumed, " dimensions of a rank-", rank,
               " tensor");
  StridedSlicePlan plan;
  plan.begin.assign(rank, 0);
  plan.stride.assign(rank, 1);
  plan.length.assign(rank, 0);
  std::size_t dim = 0;
  auto full = [&](std::size_t d) {
    plan.begin[d] = 0;
    plan.stride[d] = 1;
    plan.length[d] = in_dims[d];
    plan.out_shape.push_back(in_dims[d]);
  };
  const bool implicit_ellipsis = ellipsis_count == 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (bit(ellipsis_mask, i)) {
      const std::size_t cover = rank - consumed;
      for (std::size_t k = 0; k < cover; ++k) full(dim++);
      continue;
    }
    if (bit(new_axis_mask, i)) {
      plan.out_shape.push_back(1);
      continue;
    }
    const std::int64_t size = in_dims[dim];
    const std::int64_t s = strides[i];
    STRATA_CHECK(s != 0, ShapeError, "StridedSlice stride ", i, " is zero");
    if (bit(shrink_axis_mask, i)) {
      std::int64_t b = begin[i];
      if (size != -1) {
        if (b < 0) b += size;
        STRATA_CHECK(b >= 0 && b < size, ShapeError, "StridedSlice index ", begin[i],
                     " is out of range for a dimension of size ", size);
      }
      plan.begin[dim] = b;
      plan.stride[dim] = 1;
      plan.length[dim] = 1;
      ++dim;
      continue;
    }
    if (size == -1) {
      plan.stride[dim] = s;
      plan.length[dim] = -1;
      plan.out_shape.push_back(-1);
      ++dim;
      continue;
    }
    const std::int64_t lo = s > 0 ? 0 : -1, hi = s > 0 ? size : size - 1;
    auto canon = [&](std::int64_t v, bool masked, bool is_begin) {
      if (masked) return is_begin ? (s > 0 ? lo : hi) : (s > 0 ? hi : lo);
      if (v < 0) v += size;
      return v < lo ? lo : (v > hi ? hi : v);
    };
    const std::int64_t b = canon(begin[i], bit(begin_mask, i), true);
    const std::int64_t e = canon(end[i], bit(end_mask, i), false);
    std::int64_t len = s > 0 ? (e - b + s - 1) / s : (b - e + (-s) - 1) / (-s);
    if (len < 0) len = 0;
    plan.begin[dim] = b;
    plan.stride[dim] = s;
    plan.length[dim] = len;
    plan.out_shape.push_back(len);
    ++dim;
  }
  if (implicit_ellipsis) {
    while (dim < rank) full(dim++);
  }
  return plan;
}

}  // namespace strata::kernel_util

STRATA_API_END
