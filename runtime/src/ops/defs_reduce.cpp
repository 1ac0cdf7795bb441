// Reductions (Sum, Mean, Max, Min, Prod), ArgMax, Cumprod and Cumsum.
#include "ops/defs_common.hpp"

namespace strata::internal {

Shape reduce_shape(const Shape& in, const std::optional<std::vector<std::int64_t>>& axes, bool keep_dims,
                   std::string_view op) {
  if (!in.has_known_rank()) return Shape::unknown_rank();
  const auto rank = static_cast<std::int64_t>(in.rank());
  if (!axes) {
    // Which axes are reduced is unknown: the rank is known only with keep_dims.
    return keep_dims ? Shape(std::vector<std::int64_t>(in.rank(), Shape::kUnknown)) : Shape::unknown_rank();
  }
  std::vector<bool> reduced(in.rank(), false);
  for (auto a : *axes) {
    const auto k = static_cast<std::size_t>(norm_axis(a, rank, op));
    STRATA_CHECK(!reduced[k], ValueError, "op ", op, ": axis ", a, " is listed twice");
    reduced[k] = true;
  }
  std::vector<std::int64_t> dims;
  for (std::size_t i = 0; i < in.rank(); ++i) {
    if (!reduced[i]) {
      dims.push_back(in.dims()[i]);
    } else if (keep_dims) {
      dims.push_back(1);
    }
  }
  return Shape(std::move(dims));
}

namespace {

Metas infer_reduce(const InferContext& c) {
  const bool keep = c.attrs().get_or<bool>("keep_dims", false);
  return {{c.dtype(0), reduce_shape(c.shape(0), c.int_values(1), keep, c.op_name())}};
}

// The reduced axes of a reduction op (normalised) and the keep-dims shape of its output.
struct Reduction {
  std::vector<std::int64_t> axes;
  Shape kept;  // input shape with reduced axes set to 1
};

Reduction reduction_of(const GradientContext& c) {
  const Tensor& x = c.inputs[0];
  const auto rank = static_cast<std::int64_t>(x.rank());
  Reduction r;
  for (auto a : host_ints(c.inputs[1])) {
    r.axes.push_back(norm_axis(a, rank, "reduction gradient"));
  }
  std::vector<std::int64_t> kept = x.shape().dims();
  for (auto a : r.axes) kept[static_cast<std::size_t>(a)] = 1;
  r.kept = Shape(std::move(kept));
  return r;
}

OpDef reduction(std::string name, decltype(OpDef::gradient) grad) {
  OpDef d;
  d.name = std::move(name);
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = infer_reduce;
  d.gradient = std::move(grad);
  return d;
}

Tensor spread(const GradientContext& c, const Reduction& red) {
  return broadcast_to(reshape(grad_or_zeros(c, 0), red.kept), c.inputs[0].shape());
}

// Gradient of Max/Min: the upstream gradient split evenly among the positions that
// attain the extreme.
Grads extreme_grad(const GradientContext& c) {
  const Reduction red = reduction_of(c);
  if (red.axes.empty()) return {grad_or_zeros(c, 0), Tensor()};  // nothing was reduced
  const Tensor& x = c.inputs[0];
  const Tensor mask = cast(equal(x, reshape(c.outputs[0], red.kept)), x.dtype());
  const Tensor count = sum(mask, red.axes, true);
  return {div(mul(mask, reshape(grad_or_zeros(c, 0), red.kept)), count), Tensor()};
}

OpDef sum_def() {
  return reduction("Sum", [](const GradientContext& c) -> Grads { return {spread(c, reduction_of(c)), Tensor()}; });
}

OpDef mean_def() {
  return reduction("Mean", [](const GradientContext& c) -> Grads {
    const Reduction red = reduction_of(c);
    std::int64_t n = 1;
    for (auto a : red.axes) n *= c.inputs[0].shape().dims()[static_cast<std::size_t>(a)];
    return {div(spread(c, red), scalar_like(c.inputs[0], static_cast<double>(n))), Tensor()};
  });
}

OpDef max_def() { return reduction("Max", extreme_grad); }

OpDef min_def() { return reduction("Min", extreme_grad); }

OpDef prod_def() {
  return reduction("Prod", [](const GradientContext& c) -> Grads {
    // d prod / d x_i = product of the other elements, computed without division (so
    // zeros are handled) as exclusive cumulative products from both ends.
    const Reduction red = reduction_of(c);
    const Tensor& x = c.inputs[0];
    const auto rank = static_cast<std::int64_t>(x.rank());
    std::vector<std::int64_t> perm = red.axes;
    for (std::int64_t a = 0; a < rank; ++a) {
      if (std::find(red.axes.begin(), red.axes.end(), a) == red.axes.end()) perm.push_back(a);
    }
    std::int64_t reduced_n = 1;
    for (auto a : red.axes) reduced_n *= x.shape().dims()[static_cast<std::size_t>(a)];
    const Tensor permuted = transpose(x, perm);
    const Tensor flat = reshape(permuted, Shape{reduced_n, -1});
    const Tensor others = mul(cumprod(flat, 0, true, false), cumprod(flat, 0, true, true));
    const Tensor back = transpose(reshape(others, permuted.shape()), inverse_perm(perm));
    return {mul(back, spread(c, red)), Tensor()};
  });
}

OpDef arg_max_def() {
  OpDef d;
  d.name = "ArgMax";
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.not_differentiable = true;
  d.infer = [](const InferContext& c) -> Metas {
    const DType out = c.attrs().get_or<DType>("output_type", DType::kInt64);
    STRATA_CHECK(out == DType::kInt32 || out == DType::kInt64, ValueError, "ArgMax output_type must be int32 or int64");
    const auto axis = c.int_values(1);
    if (!axis) return {{out, c.shape(0).has_known_rank() && c.shape(0).rank() > 0
                                  ? Shape(std::vector<std::int64_t>(c.shape(0).rank() - 1, Shape::kUnknown))
                                  : Shape::unknown_rank()}};
    STRATA_CHECK(axis->size() == 1, ValueError, "ArgMax takes one axis");
    return {{out, reduce_shape(c.shape(0), axis, false, "ArgMax")}};
  };
  return d;
}

// Cumprod and Cumsum: x and its axis (a host scalar), with TensorFlow's exclusive and reverse
// attrs; the output is shaped like x. `accepts` says which dtypes (`what`).
OpDef scan_def(const char* name, bool (*accepts)(DType), const char* what) {
  OpDef d;
  d.name = name;
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = [name, accepts, what](const InferContext& c) -> Metas {
    require_dtype(c, 0, accepts(c.dtype(0)), what);
    if (auto axis = c.int_values(1); axis && c.shape(0).has_known_rank()) {
      STRATA_CHECK(axis->size() == 1, ValueError, name, " takes one axis");
      norm_axis(axis->front(), static_cast<std::int64_t>(c.shape(0).rank()), name);
    }
    return same_as_input(c);
  };
  return d;
}

OpDef cumprod_def() {
  OpDef d = scan_def("Cumprod", is_floating, "a floating-point tensor");
  // TensorFlow's: the running sum, taken the other way, of g * y, divided by x; 0 where x is 0
  // (TensorFlow's div_no_nan; the true derivative there is not computed).
  d.gradient = [](const GradientContext& c) -> Grads {
    const std::int64_t axis = host_ints(c.inputs[1]).at(0);
    const bool exclusive = c.attrs.get_or<bool>("exclusive", false);
    const bool reverse = c.attrs.get_or<bool>("reverse", false);
    const Tensor& x = c.inputs[0];
    const Tensor sums = cumsum(mul(grad_or_zeros(c, 0), c.outputs[0]), axis, exclusive, !reverse);
    const Tensor zero = equal(x, zeros_like(x));
    return {select(zero, zeros_like(x), div(sums, select(zero, ones_like(x), x))), Tensor()};
  };
  return d;
}

// Cumsum: numbers of every type. The gradient of a running sum is the running sum of the
// upstream gradient taken the other way (same exclusive).
OpDef cumsum_def() {
  OpDef d = scan_def("Cumsum", [](DType t) { return is_numeric(t) && t != DType::kBool; }, "a number tensor");
  d.gradient = [](const GradientContext& c) -> Grads {
    const std::int64_t axis = host_ints(c.inputs[1]).at(0);
    return {cumsum(grad_or_zeros(c, 0), axis, c.attrs.get_or<bool>("exclusive", false),
                   !c.attrs.get_or<bool>("reverse", false)),
            Tensor()};
  };
  return d;
}

}  // namespace

void register_reduction_ops(Registrar& r) {
  add_op(r, sum_def());
  add_op(r, mean_def());
  add_op(r, max_def());
  add_op(r, min_def());
  add_op(r, prod_def());
  add_op(r, arg_max_def());
  add_op(r, cumprod_def());
  add_op(r, cumsum_def());
}

}  // namespace strata::internal
