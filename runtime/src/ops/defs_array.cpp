// Shape and indexing ops.
#include <numeric>

#include "ops/defs_common.hpp"

namespace strata::internal {
namespace {

using kernel_util::strided_slice_plan;

Shape unknown_of_rank(std::int64_t rank) { return Shape(std::vector<std::int64_t>(static_cast<std::size_t>(rank), Shape::kUnknown)); }

// `in` with every dimension unknown (its rank kept when known): an output of the input's
// rank whose sizes depend on values not known while building the graph.
Shape same_rank_unknown(const Shape& in) {
  return in.has_known_rank() ? unknown_of_rank(static_cast<std::int64_t>(in.rank())) : in;
}

// Output shape of a Reshape of `in` to `target` (one -1 allowed).
Shape reshape_target(const Shape& in, std::vector<std::int64_t> target, std::string_view op) {
  int inferred = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      STRATA_CHECK(inferred < 0, ShapeError, "op ", op, ": only one dimension of the new shape may be -1");
      inferred = static_cast<int>(i);
    } else {
      STRATA_CHECK(target[i] >= 0, ShapeError, "op ", op, ": dimension ", target[i], " is negative");
      STRATA_CHECK(!__builtin_mul_overflow(known, target[i], &known), ShapeError, "op ", op, ": the new shape ",
                   Shape(target).to_string(), " has more elements than an int64 counts");
    }
  }
  if (in.is_fully_defined()) {
    const std::int64_t n = in.num_elements();
    if (inferred >= 0) {
      STRATA_CHECK(known != 0 && n % known == 0, ShapeError, "op ", op, ": cannot reshape ", in.to_string(), " (",
                   n, " elements) into a shape with ", known, " elements times -1");
      target[static_cast<std::size_t>(inferred)] = n / known;
    } else {
      STRATA_CHECK(n == known, ShapeError, "op ", op, ": cannot reshape ", in.to_string(), " (", n,
                   " elements) into ", Shape(target).to_string(), " (", known, " elements)");
    }
  }
  return Shape(std::move(target));
}

OpDef reshape_like(std::string name, decltype(OpDef::infer) infer) {
  OpDef d;
  d.name = std::move(name);
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = std::move(infer);
  d.gradient = [](const GradientContext& c) -> Grads {
    return {reshape(grad_or_zeros(c, 0), c.inputs[0].shape()), Tensor()};
  };
  return d;
}

// ZerosLike, OnesLike: a tensor of the input's dtype and shape, not differentiable.
OpDef filled_like(std::string name) {
  OpDef d;
  d.name = std::move(name);
  d.num_inputs = 1;
  d.not_differentiable = true;
  d.infer = [](const InferContext& c) -> Metas { return same_as_input(c); };
  return d;
}

Attrs slice_masks(const Attrs& a) {
  Attrs m;
  for (const char* k : {"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"}) {
    m.set(k, a.get_or<std::int64_t>(k, 0));
  }
  return m;
}

Shape strided_output(const InferContext& c, const Shape& in, std::size_t first_index_input) {
  const auto begin = c.int_values(first_index_input);
  const auto end = c.int_values(first_index_input + 1);
  const auto strides = c.int_values(first_index_input + 2);
  if (!in.has_known_rank() || !begin || !end || !strides) return Shape::unknown_rank();
  const Attrs& a = c.attrs();
  auto plan = strided_slice_plan(in.dims(), *begin, *end, *strides, a.get_or<std::int64_t>("begin_mask", 0),
                                 a.get_or<std::int64_t>("end_mask", 0), a.get_or<std::int64_t>("ellipsis_mask", 0),
                                 a.get_or<std::int64_t>("new_axis_mask", 0),
                                 a.get_or<std::int64_t>("shrink_axis_mask", 0));
  return Shape(plan.out_shape);
}

// The values of a constant integer tensor (concrete, or a Const node), else nullopt.
std::optional<std::vector<std::int64_t>> constant_ints(const Tensor& t) {
  const Tensor* v = &t;
  if (v->is_symbolic()) {
    if (v->node()->op != "Const" || !v->node()->value.defined()) return std::nullopt;
    v = &v->node()->value;
  }
  std::vector<std::int64_t> out;
  if (v->dtype() == DType::kInt64) return v->to_vector<std::int64_t>();
  if (v->dtype() != DType::kInt32) return std::nullopt;
  for (auto x : v->to_vector<std::int32_t>()) out.push_back(x);
  return out;
}

// A new shape only known when the graph runs, made by ConcatV2 of constants and run-time
// parts (a slice of Shape(x), typically): the dimensions the constants give are kept
// (TensorFlow's partial shape values). -1 in a constant part and run-time parts are unknown.
std::optional<Shape> partial_reshape_target(const Tensor& target) {
  if (!target.is_symbolic() || target.node()->op != "ConcatV2") return std::nullopt;
  const auto& parts = target.node()->inputs;
  if (parts.size() < 2) return std::nullopt;
  std::vector<std::int64_t> dims;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (const auto v = constant_ints(parts[i])) {
      for (auto d : *v) dims.push_back(d >= 0 ? d : Shape::kUnknown);
      continue;
    }
    const Shape& s = parts[i].shape();
    if (!s.has_known_rank() || s.rank() != 1 || s.dims()[0] < 0) return std::nullopt;
    dims.insert(dims.end(), static_cast<std::size_t>(s.dims()[0]), Shape::kUnknown);
  }
  return Shape(std::move(dims));
}

OpDef reshape_def() {
  return reshape_like("Reshape", [](const InferContext& c) -> Metas {
    const auto target = c.int_values(1);
    if (!target) {
      if (const auto partial = partial_reshape_target(c.input(1))) return {{c.dtype(0), *partial}};
      const Shape& s = c.shape(1);
      return {{c.dtype(0), s.has_known_rank() && s.rank() == 1 && s.dims()[0] >= 0 ? unknown_of_rank(s.dims()[0])
                                                                                   : Shape::unknown_rank()}};
    }
    return {{c.dtype(0), reshape_target(c.shape(0), *target, "Reshape")}};
  });
}

OpDef expand_dims_def() {
  return reshape_like("ExpandDims", [](const InferContext& c) -> Metas {
    const auto axis = known_ints(c, 1, "axis");
    STRATA_CHECK(axis.size() == 1, ValueError, "ExpandDims takes one axis");
    if (!c.shape(0).has_known_rank()) return {{c.dtype(0), Shape::unknown_rank()}};
    auto dims = c.shape(0).dims();
    const auto rank = static_cast<std::int64_t>(dims.size());
    const std::int64_t a = norm_axis(axis[0], rank + 1, "ExpandDims");
    dims.insert(dims.begin() + a, 1);
    return {{c.dtype(0), Shape(std::move(dims))}};
  });
}

OpDef squeeze_def() {
  OpDef d;
  d.name = "Squeeze";
  d.num_inputs = 1;
  d.infer = [](const InferContext& c) -> Metas {
    const Shape& in = c.shape(0);
    if (!in.has_known_rank()) return {{c.dtype(0), Shape::unknown_rank()}};
    const auto axes = c.attrs().get_or<std::vector<std::int64_t>>("squeeze_dims", {});
    const auto rank = static_cast<std::int64_t>(in.rank());
    std::vector<bool> drop(in.rank(), false);
    if (axes.empty()) {
      for (std::size_t i = 0; i < in.rank(); ++i) drop[i] = in.dims()[i] == 1;
    } else {
      for (auto a : axes) {
        const auto k = static_cast<std::size_t>(norm_axis(a, rank, "Squeeze"));
        STRATA_CHECK(in.dims()[k] == 1 || in.dims()[k] == Shape::kUnknown, ShapeError, "Squeeze: dimension ", a,
                     " of ", in.to_string(), " is not 1");
        drop[k] = true;
      }
    }
    std::vector<std::int64_t> dims;
    for (std::size_t i = 0; i < in.rank(); ++i) {
      if (!drop[i]) dims.push_back(in.dims()[i]);
    }
    return {{c.dtype(0), Shape(std::move(dims))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads { return {reshape(grad_or_zeros(c, 0), c.inputs[0].shape())}; };
  return d;
}

OpDef transpose_def() {
  OpDef d;
  d.name = "Transpose";
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = [](const InferContext& c) -> Metas {
    const auto perm = c.int_values(1);
    const Shape& in = c.shape(0);
    if (!perm) return {{c.dtype(0), same_rank_unknown(in)}};
    if (!in.has_known_rank()) return {{c.dtype(0), unknown_of_rank(static_cast<std::int64_t>(perm->size()))}};
    STRATA_CHECK(perm->size() == in.rank(), ShapeError, "Transpose: permutation of ", perm->size(),
                 " entries for a tensor of rank ", in.rank());
    std::vector<bool> seen(in.rank(), false);
    std::vector<std::int64_t> dims;
    for (auto p : *perm) {
      const auto k = static_cast<std::size_t>(norm_axis(p, static_cast<std::int64_t>(in.rank()), "Transpose"));
      STRATA_CHECK(!seen[k], ShapeError, "Transpose: axis ", p, " appears twice in the permutation");
      seen[k] = true;
      dims.push_back(in.dims()[k]);
    }
    return {{c.dtype(0), Shape(std::move(dims))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const auto rank = static_cast<std::int64_t>(c.inputs[0].rank());
    std::vector<std::int64_t> perm;
    for (auto p : host_ints(c.inputs[1])) perm.push_back(p < 0 ? p + rank : p);
    return {transpose(grad_or_zeros(c, 0), inverse_perm(perm)), Tensor()};
  };
  return d;
}

OpDef concat_v2_def() {
  OpDef d;
  d.name = "ConcatV2";
  d.num_inputs = -1;
  d.min_inputs = 2;
  d.host_inputs = {-1};
  d.infer = [](const InferContext& c) -> Metas {
    const std::size_t n = c.num_inputs() - 1;
    require_same_dtypes(c, 0, n);
    const auto axis_v = c.int_values(n);
    Shape first = c.shape(0);
    if (!first.has_known_rank() || !axis_v) return {{c.dtype(0), Shape::unknown_rank()}};
    STRATA_CHECK(axis_v->size() == 1, ValueError, "ConcatV2 takes one axis");
    const auto rank = static_cast<std::int64_t>(first.rank());
    const auto axis = static_cast<std::size_t>(norm_axis(axis_v->front(), rank, "ConcatV2"));
    std::vector<std::int64_t> dims = first.dims();
    for (std::size_t i = 1; i < n; ++i) {
      const Shape& s = c.shape(i);
      STRATA_CHECK(s.has_known_rank() && s.rank() == first.rank(), ShapeError, "ConcatV2: input ", i, " has shape ",
                   s.to_string(), ", input 0 has ", first.to_string());
      for (std::size_t k = 0; k < dims.size(); ++k) {
        if (k == axis) {
          dims[k] = (dims[k] < 0 || s.dims()[k] < 0) ? Shape::kUnknown : dims[k] + s.dims()[k];
        } else {
          STRATA_CHECK(dims[k] < 0 || s.dims()[k] < 0 || dims[k] == s.dims()[k], ShapeError, "ConcatV2: input ", i,
                       " has shape ", s.to_string(), ", which does not match ", first.to_string(),
                       " outside axis ", axis);
          if (dims[k] < 0) dims[k] = s.dims()[k];
        }
      }
    }
    return {{c.dtype(0), Shape(std::move(dims))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const std::size_t n = c.inputs.size() - 1;
    const Tensor g = grad_or_zeros(c, 0);
    const auto rank = static_cast<std::int64_t>(g.rank());
    const auto axis = static_cast<std::size_t>(norm_axis(host_ints(c.inputs[n])[0], rank, "ConcatV2"));
    Grads out(c.inputs.size());
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& dims = c.inputs[i].shape().dims();
      if (c.needs_grad(i)) {
        std::vector<std::int64_t> begin(dims.size(), 0);
        begin[axis] = offset;
        out[i] = slice(g, begin, dims);
      }
      offset += dims[axis];
    }
    return out;
  };
  return d;
}

OpDef pack_def() {
  OpDef d;
  d.name = "Pack";
  d.num_inputs = -1;
  d.min_inputs = 1;
  d.infer = [](const InferContext& c) -> Metas {
    require_same_dtypes(c, 0, c.num_inputs());
    Shape s = c.shape(0);
    for (std::size_t i = 1; i < c.num_inputs(); ++i) {
      STRATA_CHECK(c.shape(i).is_compatible_with(s), ShapeError, "Pack: input ", i, " has shape ",
                   c.shape(i).to_string(), ", input 0 has ", s.to_string());
      s = s.merge_with(c.shape(i));
    }
    if (!s.has_known_rank()) return {{c.dtype(0), Shape::unknown_rank()}};
    auto dims = s.dims();
    const auto axis = norm_axis(c.attrs().get_or<std::int64_t>("axis", 0), static_cast<std::int64_t>(dims.size()) + 1, "Pack");
    dims.insert(dims.begin() + axis, static_cast<std::int64_t>(c.num_inputs()));
    return {{c.dtype(0), Shape(std::move(dims))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const Tensor g = grad_or_zeros(c, 0);
    const auto axis = norm_axis(c.attrs.get_or<std::int64_t>("axis", 0), static_cast<std::int64_t>(g.rank()), "Pack");
    auto parts = split(g, static_cast<std::int64_t>(c.inputs.size()), axis);
    Grads out;
    for (std::size_t i = 0; i < parts.size(); ++i) out.push_back(reshape(parts[i], c.inputs[i].shape()));
    return out;
  };
  return d;
}

constexpr std::int64_t kMaxSplitParts = std::int64_t{1} << 20;

OpDef split_def() {
  OpDef d;
  d.name = "Split";
  d.num_inputs = 2;
  d.host_inputs = {0};
  d.kernel_dtype_input = 1;
  d.infer = [](const InferContext& c) -> Metas {
    const std::int64_t num = c.attrs().get<std::int64_t>("num_split");
    STRATA_CHECK(num >= 1, ValueError, "Split: num_split must be positive, got ", num);
    // Each part is a tensor of its own: a count from a file (an RNN over a sequence length a
    // config gives) must not ask for more tensors than memory holds. TensorFlow's num_split
    // is an int32; Strata stops at 2^20 parts (issue 20, sizes from configs).
    STRATA_CHECK(num <= kMaxSplitParts, ShapeError, "Split: ", num, " parts is more than the ", kMaxSplitParts,
                 " Strata splits a tensor into");
    const Shape& in = c.shape(1);
    const auto axis_v = c.int_values(0);
    if (!in.has_known_rank() || !axis_v) return Metas(static_cast<std::size_t>(num), {c.dtype(1), Shape::unknown_rank()});
    const auto axis = static_cast<std::size_t>(norm_axis(axis_v->front(), static_cast<std::int64_t>(in.rank()), "Split"));
    auto dims = in.dims();
    if (dims[axis] >= 0) {
      STRATA_CHECK(dims[axis] % num == 0, ShapeError, "Split: dimension ", axis, " of ", in.to_string(),
                   " does not divide into ", num, " parts");
      dims[axis] /= num;
    }
    return Metas(static_cast<std::size_t>(num), {c.dtype(1), Shape(dims)});
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    std::vector<Tensor> parts;
    for (std::size_t i = 0; i < c.outputs.size(); ++i) parts.push_back(grad_or_zeros(c, i));
    const auto rank = static_cast<std::int64_t>(c.inputs[1].rank());
    return {Tensor(), concat(parts, norm_axis(host_ints(c.inputs[0])[0], rank, "Split"))};
  };
  return d;
}

OpDef slice_def() {
  OpDef d;
  d.name = "Slice";
  d.num_inputs = 3;
  d.host_inputs = {1, 2};
  d.infer = [](const InferContext& c) -> Metas {
    const Shape& in = c.shape(0);
    const auto begin = c.int_values(1);
    const auto size = c.int_values(2);
    if (!in.has_known_rank() || !begin || !size) return {{c.dtype(0), same_rank_unknown(in)}};
    STRATA_CHECK(begin->size() == in.rank() && size->size() == in.rank(), ShapeError, "Slice: begin and size need ",
                 in.rank(), " entries for shape ", in.to_string());
    std::vector<std::int64_t> dims;
    for (std::size_t i = 0; i < in.rank(); ++i) {
      const std::int64_t dim = in.dims()[i], b = (*begin)[i], s = (*size)[i];
      if (dim < 0) {
        dims.push_back(s >= 0 ? s : Shape::kUnknown);
        continue;
      }
      const std::int64_t len = s == -1 ? dim - b : s;
      STRATA_CHECK(b >= 0 && len >= 0 && b + len <= dim, ShapeError, "Slice: begin ", b, " size ", s,
                   " is outside dimension ", i, " of ", in.to_string());
      dims.push_back(len);
    }
    return {{c.dtype(0), Shape(std::move(dims))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const auto begin = host_ints(c.inputs[1]);
    const auto& in = c.inputs[0].shape().dims();
    const auto& out = c.outputs[0].shape().dims();
    std::vector<std::pair<std::int64_t, std::int64_t>> paddings;
    for (std::size_t i = 0; i < in.size(); ++i) paddings.emplace_back(begin[i], in[i] - begin[i] - out[i]);
    return {pad(grad_or_zeros(c, 0), paddings), Tensor(), Tensor()};
  };
  return d;
}

OpDef strided_slice_def() {
  OpDef d;
  d.name = "StridedSlice";
  d.num_inputs = 4;
  d.host_inputs = {1, 2, 3};
  d.infer = [](const InferContext& c) -> Metas { return {{c.dtype(0), strided_output(c, c.shape(0), 1)}}; };
  d.gradient = [](const GradientContext& c) -> Grads {
    Tensor g = execute1("StridedSliceGrad",
                        {int_tensor(c.inputs[0].shape().dims()), c.inputs[1], c.inputs[2], c.inputs[3],
                         grad_or_zeros(c, 0)},
                        slice_masks(c.attrs));
    return {g, Tensor(), Tensor(), Tensor()};
  };
  return d;
}

OpDef strided_slice_grad_def() {
  OpDef d;
  d.name = "StridedSliceGrad";
  d.num_inputs = 5;
  d.host_inputs = {0, 1, 2, 3};
  d.kernel_dtype_input = 4;
  d.infer = [](const InferContext& c) -> Metas {
    const auto shape = c.int_values(0);
    if (!shape) return {{c.dtype(4), Shape::unknown_rank()}};
    const Shape expected = strided_output(c, Shape(*shape), 1);
    STRATA_CHECK(expected.is_compatible_with(c.shape(4)), ShapeError, "StridedSliceGrad: dy has shape ",
                 c.shape(4).to_string(), ", the slice has shape ", expected.to_string());
    return {{c.dtype(4), Shape(*shape)}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const Tensor g = execute1("StridedSlice", {grad_or_zeros(c, 0), c.inputs[1], c.inputs[2], c.inputs[3]},
                              slice_masks(c.attrs));
    return {Tensor(), Tensor(), Tensor(), Tensor(), g};
  };
  return d;
}

OpDef pad_def() {
  OpDef d;
  d.name = "Pad";
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = [](const InferContext& c) -> Metas {
    const Shape& in = c.shape(0);
    const auto p = c.int_values(1);
    if (!in.has_known_rank() || !p) return {{c.dtype(0), same_rank_unknown(in)}};
    STRATA_CHECK(p->size() == 2 * in.rank(), ShapeError, "Pad: paddings must have shape [", in.rank(), ", 2]");
    std::vector<std::int64_t> dims;
    for (std::size_t i = 0; i < in.rank(); ++i) {
      const std::int64_t before = (*p)[2 * i], after = (*p)[2 * i + 1];
      STRATA_CHECK(before >= 0 && after >= 0, ShapeError, "Pad: paddings must be non-negative");
      std::int64_t padded = 0;
      STRATA_CHECK(!__builtin_add_overflow(before, after, &padded) &&
                       (in.dims()[i] < 0 || !__builtin_add_overflow(in.dims()[i], padded, &padded)),
                   ShapeError, "Pad: dimension ", i, " of ", in.to_string(), " padded by ", before, " and ", after,
                   " does not fit in a 64-bit size");
      dims.push_back(in.dims()[i] < 0 ? Shape::kUnknown : padded);
    }
    return {{c.dtype(0), Shape(std::move(dims))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const auto p = host_ints(c.inputs[1]);
    std::vector<std::int64_t> begin;
    for (std::size_t i = 0; i < p.size() / 2; ++i) begin.push_back(p[2 * i]);
    return {slice(grad_or_zeros(c, 0), begin, c.inputs[0].shape().dims()), Tensor()};
  };
  return d;
}

OpDef tile_def() {
  OpDef d;
  d.name = "Tile";
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = [](const InferContext& c) -> Metas {
    const Shape& in = c.shape(0);
    const auto m = c.int_values(1);
    if (!in.has_known_rank() || !m) return {{c.dtype(0), same_rank_unknown(in)}};
    STRATA_CHECK(m->size() == in.rank(), ShapeError, "Tile: multiples need ", in.rank(), " entries");
    std::vector<std::int64_t> dims;
    for (std::size_t i = 0; i < in.rank(); ++i) {
      STRATA_CHECK((*m)[i] >= 0, ShapeError, "Tile: multiples must be non-negative");
      std::int64_t tiled = Shape::kUnknown;
      STRATA_CHECK(in.dims()[i] < 0 || !__builtin_mul_overflow(in.dims()[i], (*m)[i], &tiled), ShapeError,
                   "Tile: dimension ", i, " of ", in.to_string(), " times ", (*m)[i], " does not fit in a 64-bit size");
      dims.push_back(tiled);
    }
    return {{c.dtype(0), Shape(std::move(dims))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const auto m = host_ints(c.inputs[1]);
    const auto& dims = c.inputs[0].shape().dims();
    std::vector<std::int64_t> split_dims, axes;
    for (std::size_t i = 0; i < dims.size(); ++i) {
      axes.push_back(static_cast<std::int64_t>(split_dims.size()));
      split_dims.push_back(m[i]);
      split_dims.push_back(dims[i]);
    }
    return {sum(reshape(grad_or_zeros(c, 0), Shape(split_dims)), axes), Tensor()};
  };
  return d;
}

OpDef broadcast_to_def() {
  OpDef d;
  d.name = "BroadcastTo";
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = [](const InferContext& c) -> Metas {
    const auto target = c.int_values(1);
    if (!target) return {{c.dtype(0), Shape::unknown_rank()}};
    const Shape t(*target);
    const Shape b = broadcast_shapes(c.shape(0), t, "BroadcastTo");
    STRATA_CHECK(b.is_compatible_with(t), ShapeError, "BroadcastTo: cannot broadcast ", c.shape(0).to_string(),
                 " to ", t.to_string());
    return {{c.dtype(0), t}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    return {unbroadcast(grad_or_zeros(c, 0), c.inputs[0].shape()), Tensor()};
  };
  return d;
}

OpDef gather_v2_def() {
  OpDef d;
  d.name = "GatherV2";
  d.num_inputs = 3;
  d.host_inputs = {2};
  d.infer = [](const InferContext& c) -> Metas {
    require_dtype(c, 1, c.dtype(1) == DType::kInt32 || c.dtype(1) == DType::kInt64, "int32 or int64 indices");
    const Shape& p = c.shape(0);
    const Shape& ind = c.shape(1);
    const auto axis_v = c.int_values(2);
    if (!p.has_known_rank() || !ind.has_known_rank() || !axis_v) return {{c.dtype(0), Shape::unknown_rank()}};
    const auto prank = static_cast<std::int64_t>(p.rank()), irank = static_cast<std::int64_t>(ind.rank());
    const std::int64_t axis = norm_axis(axis_v->front(), prank, "GatherV2");
    std::int64_t bd = c.attrs().get_or<std::int64_t>("batch_dims", 0);
    if (bd < 0) bd += irank;
    STRATA_CHECK(bd >= 0 && bd <= irank && bd <= axis, ShapeError, "GatherV2: batch_dims ", bd,
                 " must be within [0, min(axis, rank(indices))]");
    for (std::int64_t i = 0; i < bd; ++i) {
      const auto a = p.dims()[static_cast<std::size_t>(i)], b = ind.dims()[static_cast<std::size_t>(i)];
      STRATA_CHECK(a < 0 || b < 0 || a == b, ShapeError, "GatherV2: batch dimension ", i, " differs: ", p.to_string(),
                   " vs indices ", ind.to_string());
    }
    std::vector<std::int64_t> dims(p.dims().begin(), p.dims().begin() + axis);
    dims.insert(dims.end(), ind.dims().begin() + bd, ind.dims().end());
    dims.insert(dims.end(), p.dims().begin() + axis + 1, p.dims().end());
    return {{c.dtype(0), Shape(std::move(dims))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const Tensor& params = c.inputs[0];
    const Tensor& indices = c.inputs[1];
    STRATA_CHECK(c.attrs.get_or<std::int64_t>("batch_dims", 0) == 0, ValueError,
                 "the gradient of GatherV2 with batch_dims != 0 is not implemented");
    const auto prank = static_cast<std::int64_t>(params.rank());
    const auto irank = static_cast<std::int64_t>(indices.rank());
    const std::int64_t axis = norm_axis(host_ints(c.inputs[2])[0], prank, "GatherV2");
    Tensor g = grad_or_zeros(c, 0);  // P[:axis] + I + P[axis+1:]
    // Bring the index dimensions to the front: I + P[:axis] + P[axis+1:].
    std::vector<std::int64_t> perm;
    for (std::int64_t i = 0; i < irank; ++i) perm.push_back(axis + i);
    for (std::int64_t i = 0; i < axis; ++i) perm.push_back(i);
    for (std::int64_t i = axis + irank; i < static_cast<std::int64_t>(g.rank()); ++i) perm.push_back(i);
    g = transpose(g, perm);
    std::vector<std::int64_t> flat_dims{-1};
    for (std::int64_t i = 0; i < prank; ++i) {
      if (i != axis) flat_dims.push_back(params.shape().dims()[static_cast<std::size_t>(i)]);
    }
    g = reshape(g, Shape(flat_dims));
    Tensor summed = execute1("UnsortedSegmentSum",
                             {g, reshape(indices, Shape{-1}),
                              int_tensor({params.shape().dims()[static_cast<std::size_t>(axis)]})});
    // summed is P[axis] + P[:axis] + P[axis+1:]; move P[axis] back into place.
    std::vector<std::int64_t> back;
    for (std::int64_t i = 1; i <= axis; ++i) back.push_back(i);
    back.push_back(0);
    for (std::int64_t i = axis + 1; i < prank; ++i) back.push_back(i);
    return {transpose(summed, back), Tensor(), Tensor()};
  };
  return d;
}

OpDef unsorted_segment_sum_def() {
  OpDef d;
  d.name = "UnsortedSegmentSum";
  d.num_inputs = 3;
  d.host_inputs = {2};
  d.infer = [](const InferContext& c) -> Metas {
    require_dtype(c, 1, c.dtype(1) == DType::kInt32 || c.dtype(1) == DType::kInt64, "int32 or int64 segment ids");
    const auto n = known_ints(c, 2, "num_segments");
    STRATA_CHECK(n.size() == 1 && n[0] >= 0, ValueError, "UnsortedSegmentSum: num_segments must be a non-negative scalar");
    const Shape& data = c.shape(0);
    const Shape& ids = c.shape(1);
    if (!data.has_known_rank() || !ids.has_known_rank()) return {{c.dtype(0), Shape::unknown_rank()}};
    STRATA_CHECK(ids.rank() <= data.rank(), ShapeError, "UnsortedSegmentSum: segment_ids ", ids.to_string(),
                 " must be a prefix of the data shape ", data.to_string());
    for (std::size_t i = 0; i < ids.rank(); ++i) {
      STRATA_CHECK(ids.dims()[i] < 0 || data.dims()[i] < 0 || ids.dims()[i] == data.dims()[i], ShapeError,
                   "UnsortedSegmentSum: segment_ids ", ids.to_string(), " must be a prefix of the data shape ",
                   data.to_string());
    }
    std::vector<std::int64_t> dims{n[0]};
    dims.insert(dims.end(), data.dims().begin() + static_cast<std::ptrdiff_t>(ids.rank()), data.dims().end());
    return {{c.dtype(0), Shape(std::move(dims))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const Tensor& ids = c.inputs[1];
    const Tensor g = grad_or_zeros(c, 0);
    const std::int64_t n = g.shape().dims()[0];
    const Tensor ids64 = cast(ids, DType::kInt64);
    const Tensor valid = logical_and(greater_equal(ids64, zeros_like(ids64)), less(ids64, scalar_like(ids64, static_cast<double>(n))));
    const Tensor safe = select(valid, ids64, zeros_like(ids64));
    Tensor gathered = gather(g, safe, 0);
    std::vector<std::int64_t> mask_dims = ids.shape().dims();
    mask_dims.resize(gathered.rank(), 1);
    gathered = mul(gathered, reshape(cast(valid, g.dtype()), Shape(mask_dims)));
    return {gathered, Tensor(), Tensor()};
  };
  return d;
}

OpDef one_hot_def() {
  OpDef d;
  d.name = "OneHot";
  d.num_inputs = 4;
  d.host_inputs = {1};
  d.kernel_dtype_input = 2;
  d.not_differentiable = true;
  d.infer = [](const InferContext& c) -> Metas {
    require_dtype(c, 0, c.dtype(0) == DType::kInt32 || c.dtype(0) == DType::kInt64, "int32 or int64 indices");
    STRATA_CHECK(c.dtype(2) == c.dtype(3), ValueError, "OneHot: on_value and off_value need one dtype");
    const auto depth = known_ints(c, 1, "depth");
    STRATA_CHECK(depth.size() == 1 && depth[0] >= 0, ValueError, "OneHot: depth must be a non-negative scalar");
    const Shape& in = c.shape(0);
    if (!in.has_known_rank()) return {{c.dtype(2), Shape::unknown_rank()}};
    auto dims = in.dims();
    const std::int64_t axis = c.attrs().get_or<std::int64_t>("axis", -1);
    const std::int64_t a = axis == -1 ? static_cast<std::int64_t>(dims.size()) : norm_axis(axis, static_cast<std::int64_t>(dims.size()) + 1, "OneHot");
    dims.insert(dims.begin() + a, depth[0]);
    return {{c.dtype(2), Shape(std::move(dims))}};
  };
  return d;
}

OpDef shape_def() {
  OpDef d;
  d.name = "Shape";
  d.num_inputs = 1;
  d.not_differentiable = true;
  d.kernel_dtype_input = 0;
  d.infer = [](const InferContext& c) -> Metas {
    const DType out = c.attrs().get_or<DType>("out_type", DType::kInt32);
    const Shape& in = c.shape(0);
    return {{out, in.has_known_rank() ? Shape{static_cast<std::int64_t>(in.rank())} : Shape{Shape::kUnknown}}};
  };
  return d;
}

OpDef fill_def() {
  OpDef d;
  d.name = "Fill";
  d.num_inputs = 2;
  d.host_inputs = {0};
  d.kernel_dtype_input = 1;
  d.infer = [](const InferContext& c) -> Metas {
    STRATA_CHECK(c.shape(1).has_known_rank() && c.shape(1).rank() == 0, ShapeError, "Fill: value must be a scalar");
    const auto dims = c.int_values(0);
    if (!dims) {
      const Shape& s = c.shape(0);
      return {{c.dtype(1), s.has_known_rank() && s.dims()[0] >= 0 ? unknown_of_rank(s.dims()[0]) : Shape::unknown_rank()}};
    }
    return {{c.dtype(1), Shape(*dims)}};
  };
  d.gradient = [](const GradientContext& c) -> Grads { return {Tensor(), sum(grad_or_zeros(c, 0))}; };
  return d;
}

}  // namespace

void register_array_ops(Registrar& r) {
  add_op(r, reshape_def());
  add_op(r, expand_dims_def());
  add_op(r, squeeze_def());
  add_op(r, transpose_def());
  add_op(r, concat_v2_def());
  add_op(r, pack_def());
  add_op(r, split_def());
  add_op(r, slice_def());
  add_op(r, strided_slice_def());
  add_op(r, strided_slice_grad_def());
  add_op(r, pad_def());
  add_op(r, tile_def());
  add_op(r, broadcast_to_def());
  add_op(r, gather_v2_def());
  add_op(r, unsorted_segment_sum_def());
  add_op(r, one_hot_def());
  add_op(r, shape_def());
  add_op(r, fill_def());
  for (const char* name : {"ZerosLike", "OnesLike"}) add_op(r, filled_like(name));
}

}  // namespace strata::internal
