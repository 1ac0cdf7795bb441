// Ref kernels of the shape and indexing ops. Each output element is computed from the
// multi-index of its position: unravel the output position, map the index to the input
// element it comes from, copy. StridedSlice follows TensorFlow's own definition
// (tensorflow/core/util/strided_slice_op.cc) and is written out here independently of
// kernel_util::strided_slice_plan, so the two check each other.
#include <algorithm>
#include <string>

#include "ref_kernels_util.hpp"

namespace strata::testing::ref {
namespace {

// ---- metadata-only ops --------------------------------------------------------------------

void alias_reshaped(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  STRATA_CHECK(x.num_elements() == ctx.output_meta(0).shape.num_elements(), BackendError, "op ", ctx.op_name(),
               ": cannot view ", x.shape().to_string(), " as ", ctx.output_meta(0).shape.to_string());
  ctx.set_output(0, x.reshape(ctx.output_meta(0).shape));
}

// Shape: the dimensions of input 0, as a cpu tensor (OPS.md: produced on the cpu).
void shape_kernel(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  const Dims& dims = in_dims(ctx, 0);
  const Shape s{static_cast<std::int64_t>(dims.size())};
  if (ctx.output_meta(0).dtype == DType::kInt64) {
    ctx.set_output(0, Tensor::from_vector<std::int64_t>(dims, s, Device::cpu()));
  } else {
    std::vector<std::int32_t> d32;
    for (auto d : dims) d32.push_back(static_cast<std::int32_t>(d));
    ctx.set_output(0, Tensor::from_vector<std::int32_t>(d32, s, Device::cpu()));
  }
}

// ---- rearranging ----------------------------------------------------------------------------

// Transpose: output dimension k is input dimension perm[k].
template <class T>
void transpose(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& dims = in_dims(ctx, 0);
  const auto rank = static_cast<std::int64_t>(dims.size());
  Dims perm = host_ints(ctx, 1);
  STRATA_CHECK(static_cast<std::int64_t>(perm.size()) == rank, BackendError, "Transpose: permutation of ",
               perm.size(), " entries for rank ", rank);
  Dims od;
  std::vector<bool> seen(dims.size(), false);
  for (auto& p : perm) {
    p = normalize_axis(ctx, p, rank);
    STRATA_CHECK(!seen[static_cast<std::size_t>(p)], BackendError, "Transpose: axis ", p,
                 " appears twice in the permutation");
    seen[static_cast<std::size_t>(p)] = true;
    od.push_back(dims[static_cast<std::size_t>(p)]);
  }
  check_out_dims(ctx, 0, od);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(od);
  for (std::int64_t j = 0; j < n; ++j) {
    const Dims oi = unravel(j, od);
    Dims ii(dims.size());
    for (std::size_t k = 0; k < perm.size(); ++k) ii[static_cast<std::size_t>(perm[k])] = oi[k];
    o[j] = x[ravel(ii, dims)];
  }
}

// ConcatV2(values..., axis).
template <class T>
void concat(KernelContext& ctx) {
  STRATA_CHECK(ctx.num_inputs() >= 2, BackendError, "ConcatV2 needs at least one value and an axis");
  const std::size_t n_values = ctx.num_inputs() - 1;
  const Dims& first = in_dims(ctx, 0);
  const auto axis = static_cast<std::size_t>(
      normalize_axis(ctx, host_scalar(ctx, n_values), static_cast<std::int64_t>(first.size())));
  Dims od = first;
  od[axis] = 0;
  for (std::size_t v = 0; v < n_values; ++v) {
    const Dims& d = in_dims(ctx, v);
    bool ok = d.size() == first.size();
    for (std::size_t k = 0; ok && k < d.size(); ++k) ok = k == axis || d[k] == first[k];
    STRATA_CHECK(ok, BackendError, "ConcatV2: input ", v, " has shape ", ctx.input(v).shape().to_string(),
                 ", input 0 has ", ctx.input(0).shape().to_string());
    od[axis] += d[axis];
  }
  check_out_dims(ctx, 0, od);
  T* o = out<T>(ctx, 0);
  std::int64_t offset = 0;  // where value v starts along the axis
  for (std::size_t v = 0; v < n_values; ++v) {
    const Dims& d = in_dims(ctx, v);
    const T* x = in<T>(ctx, v);
    const std::int64_t n = num_elements(d);
    for (std::int64_t i = 0; i < n; ++i) {
      Dims idx = unravel(i, d);
      idx[axis] += offset;
      o[ravel(idx, od)] = x[i];
    }
    offset += d[axis];
  }
}

// Pack(values...; axis): value v becomes index v of a new axis.
template <class T>
void pack(KernelContext& ctx) {
  const std::size_t n_values = ctx.num_inputs();
  STRATA_CHECK(n_values >= 1, BackendError, "Pack needs at least one value");
  const Dims& d = in_dims(ctx, 0);
  for (std::size_t v = 1; v < n_values; ++v) check_same_dims(ctx, 0, v);
  const auto axis = static_cast<std::size_t>(
      normalize_axis(ctx, ctx.attrs().get_or<std::int64_t>("axis", 0), static_cast<std::int64_t>(d.size()) + 1));
  Dims od = d;
  od.insert(od.begin() + static_cast<std::ptrdiff_t>(axis), static_cast<std::int64_t>(n_values));
  check_out_dims(ctx, 0, od);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(d);
  for (std::size_t v = 0; v < n_values; ++v) {
    const T* x = in<T>(ctx, v);
    for (std::int64_t i = 0; i < n; ++i) {
      Dims idx = unravel(i, d);
      idx.insert(idx.begin() + static_cast<std::ptrdiff_t>(axis), static_cast<std::int64_t>(v));
      o[ravel(idx, od)] = x[i];
    }
  }
}

// Split(split_dim, value; num_split): output k holds part k of num_split equal parts.
template <class T>
void split(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& d = in_dims(ctx, 1);
  const auto axis =
      static_cast<std::size_t>(normalize_axis(ctx, host_scalar(ctx, 0), static_cast<std::int64_t>(d.size())));
  const auto parts = static_cast<std::int64_t>(ctx.num_outputs());
  STRATA_CHECK(ctx.attrs().get_or<std::int64_t>("num_split", parts) == parts, BackendError,
               "Split: num_split differs from the number of outputs ", parts);
  STRATA_CHECK(parts > 0 && d[axis] % parts == 0, BackendError, "Split: dimension ", axis, " of ",
               ctx.input(1).shape().to_string(), " does not divide into ", parts, " parts");
  Dims pd = d;
  pd[axis] = d[axis] / parts;
  const T* x = in<T>(ctx, 1);
  const std::int64_t n = num_elements(pd);
  for (std::int64_t k = 0; k < parts; ++k) {
    check_out_dims(ctx, static_cast<std::size_t>(k), pd);
    T* o = out<T>(ctx, static_cast<std::size_t>(k));
    for (std::int64_t i = 0; i < n; ++i) {
      Dims idx = unravel(i, pd);
      idx[axis] += k * pd[axis];
      o[i] = x[ravel(idx, d)];
    }
  }
}

// Slice(input, begin, size): size -1 means to the end.
template <class T>
void slice(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& d = in_dims(ctx, 0);
  const Dims begin = host_ints(ctx, 1);
  const Dims size = host_ints(ctx, 2);
  STRATA_CHECK(begin.size() == d.size() && size.size() == d.size(), BackendError, "Slice: begin and size need ",
               d.size(), " entries");
  Dims od;
  for (std::size_t k = 0; k < d.size(); ++k) {
    const std::int64_t len = size[k] == -1 ? d[k] - begin[k] : size[k];
    STRATA_CHECK(begin[k] >= 0 && len >= 0 && begin[k] + len <= d[k], BackendError, "Slice: begin ", begin[k],
                 " size ", size[k], " is outside dimension ", k, " of ", ctx.input(0).shape().to_string());
    od.push_back(len);
  }
  check_out_dims(ctx, 0, od);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(od);
  for (std::int64_t j = 0; j < n; ++j) {
    Dims idx = unravel(j, od);
    for (std::size_t k = 0; k < d.size(); ++k) idx[k] += begin[k];
    o[j] = x[ravel(idx, d)];
  }
}

// ---- StridedSlice -----------------------------------------------------------------------

// Per input dimension: the first index read, the step and the number of elements; and
// the output shape. Element k of dimension d is input index first[d] + k * step[d]; the
// output lists the selected elements in row-major order of `length`.
struct SliceSelection {
  Dims first, step, length;
  Dims out_shape;
};

SliceSelection strided_slice_selection(const KernelContext& ctx, const Dims& in, const Dims& begin, const Dims& end,
                                       const Dims& strides) {
  const Attrs& a = ctx.attrs();
  const std::int64_t begin_mask = a.get_or<std::int64_t>("begin_mask", 0), end_mask = a.get_or<std::int64_t>("end_mask", 0),
                     ellipsis_mask = a.get_or<std::int64_t>("ellipsis_mask", 0),
                     new_axis_mask = a.get_or<std::int64_t>("new_axis_mask", 0),
                     shrink_mask = a.get_or<std::int64_t>("shrink_axis_mask", 0);
  auto bit = [](std::int64_t mask, std::size_t i) { return ((mask >> i) & 1) == 1; };
  const std::size_t n = begin.size();
  STRATA_CHECK(end.size() == n && strides.size() == n, BackendError, ctx.op_name(),
               ": begin, end and strides need one length");
  const std::size_t rank = in.size();

  // Sparse spec → one entry per input dimension. An ellipsis stands for every input
  // dimension the other (non-new-axis) entries do not name; without one, there is an
  // implied ellipsis after the last entry.
  std::size_t ellipses = 0, named = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (bit(ellipsis_mask, i)) {
      ++ellipses;
    } else if (!bit(new_axis_mask, i)) {
      ++named;
    }
  }
  STRATA_CHECK(ellipses <= 1, BackendError, ctx.op_name(), ": more than one ellipsis");
  STRATA_CHECK(named <= rank, BackendError, ctx.op_name(), ": ", named, " indices for a rank-", rank, " input");
  struct Entry {
    std::int64_t begin, end, stride;
    bool begin_masked, end_masked, shrink;
  };
  std::vector<Entry> dense;
  constexpr std::int64_t kNewAxis = -1, kShrunk = -2;
  std::vector<std::int64_t> final_dims;  // dense index, kNewAxis or kShrunk, in output order
  auto expand_ellipsis = [&] {
    for (std::size_t k = 0; k < rank - named; ++k) {
      final_dims.push_back(static_cast<std::int64_t>(dense.size()));
      dense.push_back({0, 0, 1, true, true, false});
    }
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (bit(ellipsis_mask, i)) {
      expand_ellipsis();
    } else if (bit(new_axis_mask, i)) {
      final_dims.push_back(kNewAxis);
    } else {
      final_dims.push_back(bit(shrink_mask, i) ? kShrunk : static_cast<std::int64_t>(dense.size()));
      dense.push_back({begin[i], end[i], strides[i], bit(begin_mask, i), bit(end_mask, i), bit(shrink_mask, i)});
    }
  }
  if (ellipses == 0) expand_ellipsis();

  SliceSelection sel;
  for (std::size_t d = 0; d < rank; ++d) {
    const Entry& e = dense[d];
    const std::int64_t size = in[d], s = e.stride;
    STRATA_CHECK(s != 0, BackendError, ctx.op_name(), ": stride ", d, " is zero");
    if (e.shrink) {
      // A single index: begin (negative counts from the end), masks ignored.
      STRATA_CHECK(s > 0, BackendError, ctx.op_name(), ": a shrunk (single-index) dimension needs a positive stride");
      const std::int64_t b = e.begin < 0 ? e.begin + size : e.begin;
      STRATA_CHECK(b >= 0 && b < size, BackendError, ctx.op_name(), ": index ", e.begin,
                   " is out of range for dimension ", d, " of size ", size);
      sel.first.push_back(b);
      sel.step.push_back(1);
      sel.length.push_back(1);
      continue;
    }
    // Python slice semantics: negative indices count from the end, then clamp into the
    // valid range for the direction; a masked begin/end means "from the start / to the
    // end" in the direction of the stride.
    const std::int64_t lo = s > 0 ? 0 : -1, hi = s > 0 ? size : size - 1;
    auto canonical = [&](std::int64_t v, bool masked, bool is_begin) {
      if (masked) return (is_begin == (s > 0)) ? lo : hi;
      if (v < 0) v += size;
      return std::clamp(v, lo, hi);
    };
    const std::int64_t b = canonical(e.begin, e.begin_masked, true);
    const std::int64_t en = canonical(e.end, e.end_masked, false);
    const std::int64_t interval = en - b;
    std::int64_t len = 0;
    if (interval != 0 && (interval < 0) == (s < 0)) len = interval / s + (interval % s != 0 ? 1 : 0);
    sel.first.push_back(b);
    sel.step.push_back(s);
    sel.length.push_back(len);
  }
  for (std::int64_t f : final_dims) {
    if (f == kNewAxis) {
      sel.out_shape.push_back(1);
    } else if (f != kShrunk) {
      sel.out_shape.push_back(sel.length[static_cast<std::size_t>(f)]);
    }
  }
  return sel;
}

// The input position of selected element j.
std::int64_t selected_position(const SliceSelection& sel, std::int64_t j, const Dims& in) {
  Dims idx = unravel(j, sel.length);
  for (std::size_t d = 0; d < idx.size(); ++d) idx[d] = sel.first[d] + idx[d] * sel.step[d];
  return ravel(idx, in);
}

template <class T>
void strided_slice(KernelContext& ctx) {
  check_num_inputs(ctx, 4);
  const Dims& d = in_dims(ctx, 0);
  const SliceSelection sel = strided_slice_selection(ctx, d, host_ints(ctx, 1), host_ints(ctx, 2), host_ints(ctx, 3));
  check_out_dims(ctx, 0, sel.out_shape);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(sel.length);
  for (std::int64_t j = 0; j < n; ++j) o[j] = x[selected_position(sel, j, d)];
}

// StridedSliceGrad(shape, begin, end, strides, dy): zeros of `shape` with dy written
// where StridedSlice read (each position is read at most once).
template <class T>
void strided_slice_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 5);
  const Dims shape = host_ints(ctx, 0);
  check_out_dims(ctx, 0, shape);
  const SliceSelection sel = strided_slice_selection(ctx, shape, host_ints(ctx, 1), host_ints(ctx, 2), host_ints(ctx, 3));
  STRATA_CHECK(in_dims(ctx, 4) == sel.out_shape, BackendError, "StridedSliceGrad: dy has shape ",
               ctx.input(4).shape().to_string(), ", the slice has shape ", Shape(sel.out_shape).to_string());
  const T* dy = in<T>(ctx, 4);
  T* o = out<T>(ctx, 0);
  const std::int64_t total = num_elements(shape);
  for (std::int64_t i = 0; i < total; ++i) o[i] = T(0);
  const std::int64_t n = num_elements(sel.length);
  for (std::int64_t j = 0; j < n; ++j) o[selected_position(sel, j, shape)] = dy[j];
}

// ---- padding, tiling, broadcasting -------------------------------------------------------

template <class T>
void pad(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& d = in_dims(ctx, 0);
  const Dims p = host_ints(ctx, 1);
  STRATA_CHECK(p.size() == 2 * d.size(), BackendError, "Pad: paddings must have shape [", d.size(), ", 2]");
  Dims od;
  for (std::size_t k = 0; k < d.size(); ++k) {
    STRATA_CHECK(p[2 * k] >= 0 && p[2 * k + 1] >= 0, BackendError, "Pad: paddings must be non-negative");
    od.push_back(p[2 * k] + d[k] + p[2 * k + 1]);
  }
  check_out_dims(ctx, 0, od);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(od);
  for (std::int64_t j = 0; j < n; ++j) {
    Dims idx = unravel(j, od);
    bool inside = true;
    for (std::size_t k = 0; k < d.size(); ++k) {
      idx[k] -= p[2 * k];
      inside = inside && idx[k] >= 0 && idx[k] < d[k];
    }
    o[j] = inside ? x[ravel(idx, d)] : T(0);
  }
}

template <class T>
void tile(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& d = in_dims(ctx, 0);
  const Dims m = host_ints(ctx, 1);
  STRATA_CHECK(m.size() == d.size(), BackendError, "Tile: multiples need ", d.size(), " entries");
  Dims od;
  for (std::size_t k = 0; k < d.size(); ++k) {
    STRATA_CHECK(m[k] >= 0, BackendError, "Tile: multiples must be non-negative");
    od.push_back(d[k] * m[k]);
  }
  check_out_dims(ctx, 0, od);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(od);
  for (std::int64_t j = 0; j < n; ++j) {
    Dims idx = unravel(j, od);
    for (std::size_t k = 0; k < d.size(); ++k) idx[k] %= d[k];
    o[j] = x[ravel(idx, d)];
  }
}

template <class T>
void broadcast_to(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims target = host_ints(ctx, 1);
  check_out_dims(ctx, 0, target);
  const Dims s = broadcast_strides(ctx, 0, target);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(target);
  for (std::int64_t j = 0; j < n; ++j) o[j] = x[kernel_util::broadcast_offset(j, target, s)];
}

// ---- gathering and scattering ------------------------------------------------------------

// GatherV2(params, indices, axis; batch_dims):
// out[b..., a..., i..., c...] = params[b..., a..., indices[b..., i...], c...]
// where b are the batch_dims leading dimensions shared by params and indices.
template <class T>
void gather(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& pd = in_dims(ctx, 0);
  const Dims& id = in_dims(ctx, 1);
  const auto prank = static_cast<std::int64_t>(pd.size()), irank = static_cast<std::int64_t>(id.size());
  const std::int64_t axis = normalize_axis(ctx, host_scalar(ctx, 2), prank);
  std::int64_t bd = ctx.attrs().get_or<std::int64_t>("batch_dims", 0);
  if (bd < 0) bd += irank;
  STRATA_CHECK(bd >= 0 && bd <= irank && bd <= axis, BackendError, "GatherV2: batch_dims ", bd,
               " must be within [0, min(axis, rank(indices))]");
  for (std::int64_t k = 0; k < bd; ++k) {
    STRATA_CHECK(pd[static_cast<std::size_t>(k)] == id[static_cast<std::size_t>(k)], BackendError,
                 "GatherV2: batch dimension ", k, " differs between params ", ctx.input(0).shape().to_string(),
                 " and indices ", ctx.input(1).shape().to_string());
  }
  Dims od(pd.begin(), pd.begin() + axis);
  od.insert(od.end(), id.begin() + bd, id.end());
  od.insert(od.end(), pd.begin() + axis + 1, pd.end());
  check_out_dims(ctx, 0, od);
  const Dims indices = device_ints(ctx, 1);
  const T* p = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(od);
  const std::int64_t n_index_dims = irank - bd;  // the i... part of the output index
  for (std::int64_t j = 0; j < n; ++j) {
    const Dims oi = unravel(j, od);
    Dims ii(oi.begin(), oi.begin() + bd);                                             // b...
    ii.insert(ii.end(), oi.begin() + axis, oi.begin() + axis + n_index_dims);          // i...
    const std::int64_t index = indices[static_cast<std::size_t>(ravel(ii, id))];
    const std::int64_t limit = pd[static_cast<std::size_t>(axis)];
    STRATA_CHECK(index >= 0 && index < limit, BackendError, "GatherV2: index ", index, " (at position ",
                 ravel(ii, id), " of indices) is out of range [0, ", limit, ")");
    Dims pi(oi.begin(), oi.begin() + axis);                                           // b..., a...
    pi.push_back(index);
    pi.insert(pi.end(), oi.begin() + axis + n_index_dims, oi.end());                  // c...
    o[j] = p[ravel(pi, pd)];
  }
}

// UnsortedSegmentSum(data, segment_ids, num_segments):
// out[s, c...] = Σ data[i..., c...] over the i... with segment_ids[i...] = s; ids outside
// [0, num_segments) are dropped. (bool sums are logical or.)
template <class T>
void unsorted_segment_sum(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& dd = in_dims(ctx, 0);
  const Dims& id = in_dims(ctx, 1);
  const std::int64_t segments = host_scalar(ctx, 2);
  STRATA_CHECK(segments >= 0, BackendError, "UnsortedSegmentSum: num_segments must be non-negative");
  STRATA_CHECK(id.size() <= dd.size() && std::equal(id.begin(), id.end(), dd.begin()), BackendError,
               "UnsortedSegmentSum: segment_ids ", ctx.input(1).shape().to_string(),
               " must be a prefix of the data shape ", ctx.input(0).shape().to_string());
  const Dims inner_dims(dd.begin() + static_cast<std::ptrdiff_t>(id.size()), dd.end());
  Dims od{segments};
  od.insert(od.end(), inner_dims.begin(), inner_dims.end());
  check_out_dims(ctx, 0, od);
  const std::int64_t inner = num_elements(inner_dims);
  const Dims ids = device_ints(ctx, 1);
  const T* x = in<T>(ctx, 0);
  std::vector<Acc<T>> acc(static_cast<std::size_t>(num_elements(od)), 0);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::int64_t s = ids[i];
    if (s < 0 || s >= segments) continue;
    for (std::int64_t c = 0; c < inner; ++c) {
      auto& a = acc[static_cast<std::size_t>(s * inner + c)];
      a = acc_add<T>(a, static_cast<Acc<T>>(x[static_cast<std::int64_t>(i) * inner + c]));
    }
  }
  T* o = out<T>(ctx, 0);
  for (std::size_t j = 0; j < acc.size(); ++j) o[j] = from_acc<T>(acc[j]);
}

// OneHot(indices, depth, on_value, off_value; axis): the new dimension of size depth at
// `axis` (-1: last) holds on_value where its index equals the index value.
template <class T>
void one_hot(KernelContext& ctx) {
  check_num_inputs(ctx, 4);
  const Dims& id = in_dims(ctx, 0);
  const std::int64_t depth = host_scalar(ctx, 1);
  STRATA_CHECK(depth >= 0, BackendError, "OneHot: depth must be non-negative");
  STRATA_CHECK(ctx.input(2).num_elements() == 1 && ctx.input(3).num_elements() == 1, BackendError,
               "OneHot: on_value and off_value must be scalars");
  const std::int64_t axis_attr = ctx.attrs().get_or<std::int64_t>("axis", -1);
  const auto rank = static_cast<std::int64_t>(id.size());
  const std::int64_t axis = axis_attr == -1 ? rank : normalize_axis(ctx, axis_attr, rank + 1);
  Dims od = id;
  od.insert(od.begin() + axis, depth);
  check_out_dims(ctx, 0, od);
  const Dims indices = device_ints(ctx, 0);
  const T on = in<T>(ctx, 2)[0];
  const T off = in<T>(ctx, 3)[0];
  T* o = out<T>(ctx, 0);
  const std::int64_t n = num_elements(od);
  for (std::int64_t j = 0; j < n; ++j) {
    Dims oi = unravel(j, od);
    const std::int64_t k = oi[static_cast<std::size_t>(axis)];
    oi.erase(oi.begin() + axis);
    o[j] = indices[static_cast<std::size_t>(ravel(oi, id))] == k ? on : off;
  }
}

// ---- filling -------------------------------------------------------------------------------

template <class T>
void fill(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  check_out_dims(ctx, 0, host_ints(ctx, 0));
  STRATA_CHECK(ctx.input(1).num_elements() == 1, BackendError, "Fill: value must be a scalar");
  const T v = in<T>(ctx, 1)[0];
  T* o = out<T>(ctx, 0);
  const std::int64_t n = ctx.output_meta(0).shape.num_elements();
  for (std::int64_t j = 0; j < n; ++j) o[j] = v;
}

template <class T>
void constant_like(KernelContext& ctx, T value) {
  check_num_inputs(ctx, 1);
  check_out_dims(ctx, 0, in_dims(ctx, 0));
  T* o = out<T>(ctx, 0);
  const std::int64_t n = ctx.input(0).num_elements();
  for (std::int64_t j = 0; j < n; ++j) o[j] = value;
}

}  // namespace

void register_array_kernels(Registrar& r) {
  for (const char* op : {"Reshape", "ExpandDims", "Squeeze"}) add_ref_kernel(r, op, DType::kInvalid, alias_reshaped);
  add_ref_kernel(r, "Shape", DType::kInvalid, shape_kernel);

  add_nb(r, "Transpose", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { transpose<T>(ctx); };
  });
  add_nb(r, "ConcatV2", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { concat<T>(ctx); };
  });
  add_nb(r, "Pack", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { pack<T>(ctx); };
  });
  add_nb(r, "Split", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { split<T>(ctx); };
  });
  add_nb(r, "Slice", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { slice<T>(ctx); };
  });
  add_nb(r, "StridedSlice", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { strided_slice<T>(ctx); };
  });
  add_n(r, "StridedSliceGrad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { strided_slice_grad<T>(ctx); };
  });
  add_nb(r, "Pad", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { pad<T>(ctx); };
  });
  add_nb(r, "Tile", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { tile<T>(ctx); };
  });
  add_nb(r, "BroadcastTo", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { broadcast_to<T>(ctx); };
  });
  add_nb(r, "GatherV2", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { gather<T>(ctx); };
  });
  // N as OPS.md lists, plus bool (as logical or) because the conformance table has a case.
  add_nb(r, "UnsortedSegmentSum", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { unsorted_segment_sum<T>(ctx); };
  });
  add_nb(r, "OneHot", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { one_hot<T>(ctx); };
  });
  add_nb(r, "Fill", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { fill<T>(ctx); };
  });
  add_nb(r, "ZerosLike", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { constant_like<T>(ctx, T(0)); };
  });
  add_nb(r, "OnesLike", [](auto t) {
    using T = typename decltype(t)::type;
    return [](KernelContext& ctx) { constant_like<T>(ctx, T(1)); };
  });
}

}  // namespace strata::testing::ref
