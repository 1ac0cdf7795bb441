// Shape and indexing kernels. Most only move elements, so they are written once per
// element size (1, 4 or 8 bytes) and registered for every dtype the ref kernels have:
// Transpose, ConcatV2, Pack, Split, Slice, StridedSlice(Grad), Pad, Tile, BroadcastTo,
// GatherV2, UnsortedSegmentSum, OneHot, Fill, ZerosLike, OnesLike, and the
// metadata-only Reshape, ExpandDims, Squeeze, Identity, StopGradient and Shape. Large
// float32/int32 transposes and float32 concatenations are oneDNN reorders and concats.
#include <cstring>

#include "bcast.hpp"
#include "common.hpp"
#include "dnnl_util.hpp"
#include "kernels.hpp"

namespace strata::onednn {
namespace {

// An unsigned integer type of `Size` bytes, to move elements without knowing their type.
template <std::size_t Size>
using Bits = std::conditional_t<
    Size == 1, std::uint8_t,
    std::conditional_t<Size == 2, std::uint16_t, std::conditional_t<Size == 4, std::uint32_t, std::uint64_t>>>;

template <class T>
using Elem = Bits<sizeof(T)>;

// ---- metadata-only -------------------------------------------------------------------------

void alias_reshaped(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  STRATA_CHECK(x.num_elements() == ctx.output_meta(0).shape.num_elements(), BackendError, "op ", ctx.op_name(),
               ": cannot view ", x.shape().to_string(), " as ", ctx.output_meta(0).shape.to_string());
  ctx.set_output(0, x.reshape(ctx.output_meta(0).shape));
}

void shape_kernel(KernelContext& ctx) {
  check_num_inputs(ctx, 1);
  const Dims& dims = in_dims(ctx, 0);
  const Shape s{static_cast<std::int64_t>(dims.size())};
  if (ctx.output_meta(0).dtype == DType::kInt64) {
    ctx.set_output(0, Tensor::from_vector<std::int64_t>(dims, s, Device::cpu()));
  } else {
    std::vector<std::int32_t> d32(dims.begin(), dims.end());
    ctx.set_output(0, Tensor::from_vector<std::int32_t>(d32, s, Device::cpu()));
  }
}

// ---- strided copies ------------------------------------------------------------------------

// Copies an output of `dims` (row-major, contiguous) from input elements at
// base + Σ idx[d] · in_stride[d]. Adjacent dimensions contiguous in the input are merged.
template <class E>
void strided_gather(E* o, const E* x, std::int64_t base, const Dims& dims, const Dims& in_stride) {
  Dims size, stride;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;
    if (!size.empty() && stride.back() == in_stride[d] * dims[d]) {
      size.back() *= dims[d];
      stride.back() = in_stride[d];
    } else {
      size.push_back(dims[d]);
      stride.push_back(in_stride[d]);
    }
  }
  if (size.empty()) {
    size.push_back(1);
    stride.push_back(1);
  }
  const std::int64_t inner = size.back(), step = stride.back();
  const std::size_t outer_rank = size.size() - 1;
  const std::int64_t rows = product(size, 0, outer_rank);
  const std::int64_t grain = std::max<std::int64_t>(1, kGrainCheap / std::max<std::int64_t>(1, inner));
  parallel_for(rows, grain, [&](std::int64_t begin, std::int64_t end) {
    Dims idx(outer_rank, 0);
    std::int64_t off = base, rem = begin;
    for (std::size_t d = outer_rank; d-- > 0;) {
      idx[d] = rem % size[d];
      rem /= size[d];
      off += idx[d] * stride[d];
    }
    for (std::int64_t r = begin; r < end; ++r) {
      E* orow = o + r * inner;
      const E* xrow = x + off;
      if (step == 1) {
        std::memcpy(orow, xrow, static_cast<std::size_t>(inner) * sizeof(E));
      } else {
        for (std::int64_t i = 0; i < inner; ++i) orow[i] = xrow[i * step];
      }
      for (std::size_t d = outer_rank; d-- > 0;) {
        ++idx[d];
        off += stride[d];
        if (idx[d] < size[d]) break;
        off -= stride[d] * size[d];
        idx[d] = 0;
      }
    }
  });
}

// The inverse: writes a contiguous source of `dims` to o at base + Σ idx[d] · out_stride[d].
template <class E>
void strided_scatter(E* o, const E* x, std::int64_t base, const Dims& dims, const Dims& out_stride) {
  const std::int64_t n = product(dims);
  if (n == 0) return;
  const std::size_t rank = dims.size();
  const std::int64_t inner = rank == 0 ? 1 : dims.back();
  const std::int64_t step = rank == 0 ? 1 : out_stride.back();
  const std::int64_t rows = n / inner;
  Dims idx(rank == 0 ? 0 : rank - 1, 0);
  std::int64_t off = base;
  for (std::int64_t r = 0; r < rows; ++r) {
    const E* xrow = x + r * inner;
    for (std::int64_t i = 0; i < inner; ++i) o[off + i * step] = xrow[i];
    for (std::size_t d = idx.size(); d-- > 0;) {
      ++idx[d];
      off += out_stride[d];
      if (idx[d] < dims[d]) break;
      off -= out_stride[d] * dims[d];
      idx[d] = 0;
    }
  }
}

// ---- Transpose -----------------------------------------------------------------------------

bool dnnl_transpose(KernelContext& ctx, const Dims& od, const Dims& src_strides, dnnl::memory::data_type type) {
  const std::int64_t n = product(od);
  if (n < kDnnlMinElements || od.size() > DNNL_MAX_NDIMS) return false;
  KeyBuilder key("transpose");
  key.add(static_cast<std::int64_t>(type)).add(od).add(src_strides);
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto s_md = strided_f32(od, src_strides, type), d_md = plain(od, type);
    const dnnl::reorder::primitive_desc pd(engine(), s_md, engine(), d_md, user_scratchpad());
    return PrimitiveSpec{dnnl::reorder(pd), {{DNNL_ARG_FROM, s_md}, {DNNL_ARG_TO, d_md}}, pd.scratchpad_desc()};
  });
  const void* x = ctx.input(0).data();
  void* y = ctx.allocate_output(0).mutable_data();
  prim->execute({x, y});
  return true;
}

template <class T>
void transpose(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& dims = in_dims(ctx, 0);
  const auto rank = static_cast<std::int64_t>(dims.size());
  Dims perm = host_ints(ctx, 1);
  STRATA_CHECK(static_cast<std::int64_t>(perm.size()) == rank, BackendError, "Transpose: a permutation of ",
               perm.size(), " entries for rank ", rank);
  std::vector<bool> seen(dims.size(), false);
  const Dims is = kernel_util::strides_of(dims);
  Dims od, src_strides;
  for (auto& p : perm) {
    p = normalize_axis(ctx, p, rank);
    STRATA_CHECK(!seen[static_cast<std::size_t>(p)], BackendError, "Transpose: axis ", p,
                 " appears twice in the permutation");
    seen[static_cast<std::size_t>(p)] = true;
    od.push_back(dims[static_cast<std::size_t>(p)]);
    src_strides.push_back(is[static_cast<std::size_t>(p)]);
  }
  check_output_dims(ctx, 0, od);
  if constexpr (std::is_same_v<T, float>) {
    if (dnnl_transpose(ctx, od, src_strides, dnnl::memory::data_type::f32)) return;
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    if (dnnl_transpose(ctx, od, src_strides, dnnl::memory::data_type::s32)) return;
  }
  using E = Elem<T>;
  const E* x = static_cast<const E*>(ctx.input(0).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  if (product(od) == 0) return;
  strided_gather(o, x, 0, od, src_strides);
}

// ---- ConcatV2, Pack, Split -----------------------------------------------------------------

bool dnnl_concat(KernelContext& ctx, std::size_t n_values, std::size_t axis, const Dims& od) {
  if (product(od) < kDnnlMinElements || od.size() > DNNL_MAX_NDIMS) return false;
  std::vector<std::size_t> used;
  KeyBuilder key("concat");
  key.add(static_cast<std::int64_t>(axis)).add(od);
  for (std::size_t v = 0; v < n_values; ++v) {
    if (ctx.input(v).num_elements() == 0) continue;
    used.push_back(v);
    key.add(in_dims(ctx, v));
  }
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    std::vector<dnnl::memory::desc> srcs;
    std::vector<std::pair<int, dnnl::memory::desc>> args;
    for (std::size_t k = 0; k < used.size(); ++k) {
      srcs.push_back(plain(in_dims(ctx, used[k])));
      args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(k), srcs.back());
    }
    const auto d_md = plain(od);
    const dnnl::concat::primitive_desc pd(d_md, static_cast<int>(axis), srcs, engine(), user_scratchpad());
    args.emplace_back(DNNL_ARG_DST, d_md);
    return PrimitiveSpec{dnnl::concat(pd), std::move(args), pd.scratchpad_desc()};
  });
  std::vector<const void*> handles;
  for (std::size_t v : used) handles.push_back(ctx.input(v).data());
  handles.push_back(ctx.allocate_output(0).mutable_data());
  prim->execute(handles);
  return true;
}

// Copies pieces into o: for each of `outer` rows, piece k contributes widths[k]
// contiguous elements (its row), in order.
template <class E>
void interleave(E* o, const std::vector<const E*>& pieces, const Dims& widths, std::int64_t outer) {
  std::int64_t row = 0;
  for (auto w : widths) row += w;
  if (row == 0) return;
  const std::int64_t grain = std::max<std::int64_t>(1, kGrainCheap / row);
  parallel_for(outer, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      E* dst = o + r * row;
      for (std::size_t k = 0; k < pieces.size(); ++k) {
        const std::int64_t w = widths[k];
        std::memcpy(dst, pieces[k] + r * w, static_cast<std::size_t>(w) * sizeof(E));
        dst += w;
      }
    }
  });
}

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
  check_output_dims(ctx, 0, od);
  if constexpr (std::is_same_v<T, float>) {
    if (dnnl_concat(ctx, n_values, axis, od)) return;
  }
  using E = Elem<T>;
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  if (product(od) == 0) return;
  const std::int64_t outer = product(od, 0, axis), inner = product(od, axis + 1);
  std::vector<const E*> pieces;
  Dims widths;
  for (std::size_t v = 0; v < n_values; ++v) {
    pieces.push_back(static_cast<const E*>(ctx.input(v).data()));
    widths.push_back(in_dims(ctx, v)[axis] * inner);
  }
  interleave(o, pieces, widths, outer);
}

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
  check_output_dims(ctx, 0, od);
  using E = Elem<T>;
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  if (product(od) == 0) return;
  std::vector<const E*> pieces;
  for (std::size_t v = 0; v < n_values; ++v) pieces.push_back(static_cast<const E*>(ctx.input(v).data()));
  interleave(o, pieces, Dims(n_values, product(d, axis)), product(d, 0, axis));
}

template <class T>
void split(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims& d = in_dims(ctx, 1);
  const auto axis =
      static_cast<std::size_t>(normalize_axis(ctx, host_scalar(ctx, 0), static_cast<std::int64_t>(d.size())));
  const auto parts = static_cast<std::int64_t>(ctx.num_outputs());
  STRATA_CHECK(parts > 0 && d[axis] % parts == 0, BackendError, "Split: dimension ", axis, " of ",
               ctx.input(1).shape().to_string(), " does not divide into ", parts, " parts");
  Dims pd = d;
  pd[axis] = d[axis] / parts;
  using E = Elem<T>;
  const E* x = static_cast<const E*>(ctx.input(1).data());
  const std::int64_t outer = product(d, 0, axis), w = product(pd, axis), row = w * parts;
  for (std::int64_t k = 0; k < parts; ++k) {
    check_output_dims(ctx, static_cast<std::size_t>(k), pd);
    E* o = static_cast<E*>(ctx.allocate_output(static_cast<std::size_t>(k)).mutable_data());
    if (w == 0) continue;
    const std::int64_t grain = std::max<std::int64_t>(1, kGrainCheap / w);
    parallel_for(outer, grain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        std::memcpy(o + r * w, x + r * row + k * w, static_cast<std::size_t>(w) * sizeof(E));
      }
    });
  }
}

// ---- Slice, StridedSlice -------------------------------------------------------------------

template <class T>
void slice(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims& d = in_dims(ctx, 0);
  const Dims begin = host_ints(ctx, 1);
  const Dims size = host_ints(ctx, 2);
  STRATA_CHECK(begin.size() == d.size() && size.size() == d.size(), BackendError, "Slice: begin and size need ",
               d.size(), " entries");
  Dims od;
  std::int64_t base = 0;
  const Dims is = kernel_util::strides_of(d);
  for (std::size_t k = 0; k < d.size(); ++k) {
    const std::int64_t len = size[k] == -1 ? d[k] - begin[k] : size[k];
    STRATA_CHECK(begin[k] >= 0 && len >= 0 && begin[k] + len <= d[k], BackendError, "Slice: begin ", begin[k],
                 " size ", size[k], " is outside dimension ", k, " of ", ctx.input(0).shape().to_string());
    od.push_back(len);
    base += begin[k] * is[k];
  }
  check_output_dims(ctx, 0, od);
  using E = Elem<T>;
  const E* x = static_cast<const E*>(ctx.input(0).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  if (product(od) == 0) return;
  strided_gather(o, x, base, od, is);
}

kernel_util::StridedSlicePlan slice_plan(const KernelContext& ctx, const Dims& in, const Dims& begin, const Dims& end,
                                         const Dims& strides) {
  const Attrs& a = ctx.attrs();
  return kernel_util::strided_slice_plan(in, begin, end, strides, a.get_or<std::int64_t>("begin_mask", 0),
                                         a.get_or<std::int64_t>("end_mask", 0),
                                         a.get_or<std::int64_t>("ellipsis_mask", 0),
                                         a.get_or<std::int64_t>("new_axis_mask", 0),
                                         a.get_or<std::int64_t>("shrink_axis_mask", 0));
}

// Base offset and per-dimension input steps of a strided-slice selection.
std::pair<std::int64_t, Dims> selection_steps(const kernel_util::StridedSlicePlan& plan, const Dims& in) {
  const Dims is = kernel_util::strides_of(in);
  std::int64_t base = 0;
  Dims steps(in.size());
  for (std::size_t d = 0; d < in.size(); ++d) {
    base += plan.begin[d] * is[d];
    steps[d] = plan.stride[d] * is[d];
  }
  return {base, steps};
}

template <class T>
void strided_slice(KernelContext& ctx) {
  check_num_inputs(ctx, 4);
  const Dims& d = in_dims(ctx, 0);
  const auto plan = slice_plan(ctx, d, host_ints(ctx, 1), host_ints(ctx, 2), host_ints(ctx, 3));
  check_output_dims(ctx, 0, plan.out_shape);
  using E = Elem<T>;
  const E* x = static_cast<const E*>(ctx.input(0).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  if (product(plan.length) == 0) return;
  const auto [base, steps] = selection_steps(plan, d);
  strided_gather(o, x, base, plan.length, steps);
}

template <class T>
void strided_slice_grad(KernelContext& ctx) {
  check_num_inputs(ctx, 5);
  const Dims shape = host_ints(ctx, 0);
  check_output_dims(ctx, 0, shape);
  const auto plan = slice_plan(ctx, shape, host_ints(ctx, 1), host_ints(ctx, 2), host_ints(ctx, 3));
  STRATA_CHECK(in_dims(ctx, 4) == plan.out_shape, BackendError, "StridedSliceGrad: dy has shape ",
               ctx.input(4).shape().to_string(), ", the slice has shape ", Shape(plan.out_shape).to_string());
  using E = Elem<T>;
  const E* dy = static_cast<const E*>(ctx.input(4).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  const std::int64_t total = product(shape);
  if (total == 0) return;
  std::memset(o, 0, static_cast<std::size_t>(total) * sizeof(E));
  const auto [base, steps] = selection_steps(plan, shape);
  strided_scatter(o, dy, base, plan.length, steps);
}

// ---- Pad, Tile, BroadcastTo ----------------------------------------------------------------

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
  check_output_dims(ctx, 0, od);
  using E = Elem<T>;
  const E* x = static_cast<const E*>(ctx.input(0).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  const std::int64_t total = product(od);
  if (total == 0) return;
  std::memset(o, 0, static_cast<std::size_t>(total) * sizeof(E));
  if (product(d) == 0) return;
  const Dims os = kernel_util::strides_of(od);
  std::int64_t base = 0;
  for (std::size_t k = 0; k < d.size(); ++k) base += p[2 * k] * os[k];
  strided_scatter(o, x, base, d, os);
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
  check_output_dims(ctx, 0, od);
  using E = Elem<T>;
  const E* x = static_cast<const E*>(ctx.input(0).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  const std::int64_t total = product(od);
  if (total == 0) return;
  if (d.empty()) {
    o[0] = x[0];
    return;
  }
  // Each output row (all but the last dimension) is the input row it maps to, repeated.
  const std::size_t rank = d.size();
  const Dims is = kernel_util::strides_of(d);
  const std::int64_t in_row = d.back(), out_row = od.back();
  const std::int64_t rows = total / out_row;
  const std::int64_t grain = std::max<std::int64_t>(1, kGrainCheap / out_row);
  parallel_for(rows, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      std::int64_t rem = r, off = 0;
      for (std::size_t k = rank - 1; k-- > 0;) {
        off += (rem % od[k]) % d[k] * is[k];
        rem /= od[k];
      }
      E* orow = o + r * out_row;
      for (std::int64_t rep = 0; rep < m.back(); ++rep) {
        std::memcpy(orow + rep * in_row, x + off, static_cast<std::size_t>(in_row) * sizeof(E));
      }
    }
  });
}

template <class T>
void broadcast_to(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  const Dims target = host_ints(ctx, 1);
  check_output_dims(ctx, 0, target);
  using E = Elem<T>;
  const E* x = static_cast<const E*>(ctx.input(0).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  if (product(target) == 0) return;
  const auto plan = broadcast_plan<1>(target, {&in_dims(ctx, 0)});
  for_each_run(plan, kGrainCheap, [&](std::int64_t oo, const std::array<std::int64_t, 1>& off, std::int64_t n,
                                      const std::array<std::int64_t, 1>& s) {
    E* dst = o + oo;
    const E* src = x + off[0];
    if (s[0] == 1) {
      std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(E));
    } else {
      std::fill(dst, dst + n, *src);
    }
  });
}

// ---- GatherV2, UnsortedSegmentSum, OneHot --------------------------------------------------

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
  const auto ax = static_cast<std::size_t>(axis), b = static_cast<std::size_t>(bd);
  Dims od(pd.begin(), pd.begin() + axis);
  od.insert(od.end(), id.begin() + bd, id.end());
  od.insert(od.end(), pd.begin() + axis + 1, pd.end());
  check_output_dims(ctx, 0, od);
  const Dims indices = index_values(ctx, 1);
  const std::int64_t limit = pd[ax];
  for (std::size_t k = 0; k < indices.size(); ++k) {
    STRATA_CHECK(indices[k] >= 0 && indices[k] < limit, BackendError, "GatherV2: index ", indices[k],
                 " (at position ", k, " of indices) is out of range [0, ", limit, ")");
  }
  // params [B, A, P, C], indices [B, I] -> out [B, A, I, C].
  const std::int64_t B = product(pd, 0, b), A = product(pd, b, ax), P = limit, C = product(pd, ax + 1);
  const std::int64_t I = product(id, b);
  using E = Elem<T>;
  const E* p = static_cast<const E*>(ctx.input(0).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  if (product(od) == 0) return;
  // One unit per copied slice (row r, index i), so that a gather along axis 0 (fit's
  // shuffled batches: one row, many indices) is split between threads too.
  const std::int64_t units = B * A * I;
  const std::int64_t grain = std::max<std::int64_t>(1, kGrainCheap / std::max<std::int64_t>(1, C));
  parallel_for(units, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t u = begin; u < end; ++u) {
      const std::int64_t r = u / I, i = u % I;
      const std::int64_t* idx = indices.data() + (r / A) * I;
      std::memcpy(o + u * C, p + (r * P + idx[i]) * C, static_cast<std::size_t>(C) * sizeof(E));
    }
  });
}

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
  const std::int64_t inner = product(dd, id.size());
  Dims od{segments};
  od.insert(od.end(), dd.begin() + static_cast<std::ptrdiff_t>(id.size()), dd.end());
  check_output_dims(ctx, 0, od);
  const Dims ids = index_values(ctx, 1);
  const T* x = in<T>(ctx, 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n_out = segments * inner;
  if (n_out == 0) return;
  if constexpr (std::is_same_v<T, bool>) {
    auto* ob = reinterpret_cast<std::uint8_t*>(o);
    const auto* xb = reinterpret_cast<const std::uint8_t*>(x);
    std::memset(ob, 0, static_cast<std::size_t>(n_out));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= segments) continue;
      for (std::int64_t c = 0; c < inner; ++c) {
        ob[ids[i] * inner + c] |= xb[static_cast<std::int64_t>(i) * inner + c] != 0 ? 1 : 0;
      }
    }
  } else {
    std::vector<SumAcc<T>> acc(static_cast<std::size_t>(n_out), SumAcc<T>(0));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= segments) continue;
      SumAcc<T>* a = acc.data() + ids[i] * inner;
      const T* row = x + static_cast<std::int64_t>(i) * inner;
      for (std::int64_t c = 0; c < inner; ++c) {
        if constexpr (kIsFloat<T>) {
          a[c] += static_cast<double>(row[c]);
        } else {
          a[c] += static_cast<std::uint64_t>(static_cast<std::int64_t>(row[c]));
        }
      }
    }
    for (std::int64_t j = 0; j < n_out; ++j) {
      if constexpr (kIsFloat<T>) {
        o[j] = static_cast<T>(acc[static_cast<std::size_t>(j)]);
      } else {
        o[j] = static_cast<T>(static_cast<std::int64_t>(acc[static_cast<std::size_t>(j)]));
      }
    }
  }
}

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
  check_output_dims(ctx, 0, od);
  const Dims indices = index_values(ctx, 0);
  using E = Elem<T>;
  const E on = *static_cast<const E*>(ctx.input(2).data());
  const E off = *static_cast<const E*>(ctx.input(3).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  const std::int64_t outer = product(id, 0, static_cast<std::size_t>(axis));
  const std::int64_t inner = product(id, static_cast<std::size_t>(axis));
  for (std::int64_t a = 0; a < outer; ++a) {
    for (std::int64_t k = 0; k < depth; ++k) {
      E* row = o + (a * depth + k) * inner;
      const std::int64_t* idx = indices.data() + a * inner;
      for (std::int64_t i = 0; i < inner; ++i) row[i] = idx[i] == k ? on : off;
    }
  }
}

// ---- Fill, ZerosLike, OnesLike -------------------------------------------------------------

template <class E>
void fill_elements(E* o, std::int64_t n, E v) {
  parallel_for(n, kGrainCheap, [&](std::int64_t begin, std::int64_t end) { std::fill(o + begin, o + end, v); });
}

template <class T>
void fill(KernelContext& ctx) {
  check_num_inputs(ctx, 2);
  check_output_dims(ctx, 0, host_ints(ctx, 0));
  STRATA_CHECK(ctx.input(1).num_elements() == 1, BackendError, "Fill: value must be a scalar");
  STRATA_CHECK(ctx.input(1).dtype() == dtype_of<T>, BackendError, "Fill: value is ", dtype_name(ctx.input(1).dtype()));
  using E = Elem<T>;
  const E v = *static_cast<const E*>(ctx.input(1).data());
  E* o = static_cast<E*>(ctx.allocate_output(0).mutable_data());
  fill_elements(o, ctx.output_meta(0).shape.num_elements(), v);
}

template <class T>
void constant_like(KernelContext& ctx, T value) {
  check_num_inputs(ctx, 1);
  check_output_dims(ctx, 0, in_dims(ctx, 0));
  T* o = out<T>(ctx, 0);
  using E = Elem<T>;
  E bits;
  std::memcpy(&bits, &value, sizeof bits);
  fill_elements(reinterpret_cast<E*>(o), ctx.input(0).num_elements(), bits);
}

#define STRATA_T typename decltype(tag)::type
#define STRATA_ADD(add, name, fn)                  \
  add(r, name, [](auto tag) {                      \
    using T = STRATA_T;                            \
    return [](KernelContext& ctx) { fn<T>(ctx); }; \
  })

}  // namespace

void register_array_kernels(Registrar& r) {
  for (const char* op : {"Reshape", "ExpandDims", "Squeeze", "Identity", "StopGradient"}) {
    add_kernel(r, op, kDevice, DType::kInvalid, alias_reshaped);
  }
  add_kernel(r, "Shape", kDevice, DType::kInvalid, shape_kernel);

  STRATA_ADD(add_nb, "Transpose", transpose);
  STRATA_ADD(add_nb, "ConcatV2", concat);
  STRATA_ADD(add_nb, "Pack", pack);
  STRATA_ADD(add_nb, "Split", split);
  STRATA_ADD(add_nb, "Slice", slice);
  STRATA_ADD(add_nb, "StridedSlice", strided_slice);
  STRATA_ADD(add_n, "StridedSliceGrad", strided_slice_grad);
  STRATA_ADD(add_nb, "Pad", pad);
  STRATA_ADD(add_nb, "Tile", tile);
  STRATA_ADD(add_nb, "BroadcastTo", broadcast_to);
  STRATA_ADD(add_nb, "GatherV2", gather);
  STRATA_ADD(add_nb, "UnsortedSegmentSum", unsorted_segment_sum);
  STRATA_ADD(add_nb, "OneHot", one_hot);
  STRATA_ADD(add_nb, "Fill", fill);
  add_nb(r, "ZerosLike", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { constant_like<T>(ctx, T(0)); };
  });
  add_nb(r, "OnesLike", [](auto tag) {
    using T = STRATA_T;
    return [](KernelContext& ctx) { constant_like<T>(ctx, T(1)); };
  });
}

#undef STRATA_ADD
#undef STRATA_T

}  // namespace strata::onednn
