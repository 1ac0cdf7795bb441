// Header-only helpers every backend's kernels share, so that all backends agree on the
// arithmetic of shapes: broadcasting strides, TensorFlow's SAME/VALID window geometry
// (window.hpp's, under their older names), reduction-axis normalisation; and carrying
// exceptions out of parallel regions. Only standard-library types.
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
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/window.hpp"
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

// Kernel-side checks (BackendError naming the op). The dispatcher has already run the op's
// shape inference, so these catch a kernel registered for the wrong op or computing a
// shape other than the inferred one, and a kernel called directly with bad arguments.
inline void check_num_inputs(const KernelContext& ctx, std::size_t n) {
  STRATA_CHECK(ctx.num_inputs() == n, BackendError, "op ", ctx.op_name(), " takes ", n, " inputs, got ",
               ctx.num_inputs());
}

// `computed`: the shape the kernel is about to write as output i; it must be the inferred one.
inline void check_output_dims(const KernelContext& ctx, std::size_t i, const std::vector<std::int64_t>& computed) {
  STRATA_CHECK(computed == ctx.output_meta(i).shape.dims(), BackendError, "op ", ctx.op_name(),
               ": the kernel computes output ", i, " of shape ", Shape(computed).to_string(), " but ",
               ctx.output_meta(i).shape.to_string(), " was inferred");
}

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

// The window geometry now lives in strata/plugin/window.hpp; these names stay for the
// plugins written against them.
using Window = WindowDim;

inline Window window(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t dilation, bool same) {
  return window_dim(in, k, stride, dilation, same ? Padding::kSame : Padding::kValid);
}

inline std::pair<std::int64_t, std::int64_t> spatial_pair(const Attrs& attrs, const char* name,
                                                          std::int64_t fallback = 1) {
  return nhwc_spatial_attr(attrs, name, fallback);
}

inline bool is_same_padding(const Attrs& attrs) { return padding_attr(attrs) == Padding::kSame; }

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
