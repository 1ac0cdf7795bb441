// Keras 3's ops as layers. A Keras 3 functional graph that applies `keras.ops` to symbolic
// tensors (`x * 2`, `ops.mean(x, axis=1)`, `x[:, 1:]`) stores each call as a layer entry of
// the op's class: module "keras.src.ops.numpy" (or .nn, .core, .math, .linalg, .image), class_name
// "Multiply", "Mean", "GetItem", ...; the config holds the op's constructor arguments (axis,
// keepdims, newshape, ...) and the inbound node its call's other arguments (Python numbers,
// lists, slices, None) beside the tensors. Many class names are also keras.layers classes
// (Add, Multiply, Concatenate, Reshape, Softmax, ...), so they are registered as
// "<module>>Class" (the runtime reads a config whose module is a Keras 3 ops module under that
// name) and written back with Keras 3's module and class name. Each op is written in ops
// (strata/ops.hpp), so it runs on every backend and differentiates; docs/LAYERS.md lists the
// classes. An op class outside the table is an UnknownObjectError naming it.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "call_arguments_state.hpp"
#include "common.hpp"
#include "strata/plugin/call_arguments.hpp"

namespace strata::layers {
namespace {

constexpr const char* kNumpy = "keras.src.ops.numpy";
constexpr const char* kNn = "keras.src.ops.nn";
constexpr const char* kCore = "keras.src.ops.core";
constexpr const char* kMath = "keras.src.ops.math";
constexpr const char* kLinalg = "keras.src.ops.linalg";
constexpr const char* kImage = "keras.src.ops.image";

// One call: the op's config (constructor arguments) and the call's arguments, with tensors
// as {"strata.tensor": i} resolved against the call's inputs.
class OpCall {
 public:
  OpCall(const Layer& layer, const std::string& op, const Config& config, const Config& arguments,
         const std::vector<Tensor>& inputs)
      : layer_(layer), op_(op), reader_(config, layer), arguments_(arguments), inputs_(inputs) {}

  const ConfigReader& config() const { return reader_; }
  std::string subject() const { return ConfigReader::subject_of(layer_) + " (" + op_ + ")"; }

  // Positional argument `i`, else keyword `name`; null when neither was given.
  const Config* arg(std::size_t i, const char* name) const {
    // Keras 3's node keeps positional arguments; tf-keras's form names those after the first
    // and wraps a constant first argument as {"strata.constant": value}.
    auto unwrap = [](const Config& v) {
      return v.is_object() && v.size() == 1 && v.contains("strata.constant") ? &v["strata.constant"] : &v;
    };
    const Config& args = arguments_["args"];
    if (i < args.size()) return unwrap(args[i]);
    if (arguments_.contains("kwargs") && arguments_["kwargs"].is_object() && arguments_["kwargs"].contains(name)) {
      return unwrap(arguments_["kwargs"][name]);
    }
    return nullptr;
  }
  static bool is_tensor(const Config& v) { return v.is_object() && v.size() == 1 && v.contains("strata.tensor"); }
  bool is_tensor_arg(std::size_t i, const char* name) const {
    const Config* v = arg(i, name);
    return v != nullptr && is_tensor(*v);
  }
  Tensor input(const Config& v) const {
    return inputs_[call_tensor_index(v, inputs_.size(), subject(), "a tensor argument")];
  }
  Tensor tensor(std::size_t i, const char* name) const {
    const Config* v = arg(i, name);
    STRATA_CHECK(v != nullptr, FormatError, subject(), ": the call has no argument '", name, "'");
    STRATA_CHECK(is_tensor(*v), FormatError, subject(), ": the argument '", name, "' must be a tensor, got ",
                 v->dump());
    return input(*v);
  }
  // A list of tensors (Concatenate, Stack); one tensor counts as a list of one.
  std::vector<Tensor> tensors(std::size_t i, const char* name) const {
    const Config* v = arg(i, name);
    STRATA_CHECK(v != nullptr, FormatError, subject(), ": the call has no argument '", name, "'");
    if (is_tensor(*v)) return {input(*v)};
    STRATA_CHECK(v->is_array() && !v->empty(), FormatError, subject(), ": the argument '", name,
                 "' must be a list of tensors, got ", v->dump());
    std::vector<Tensor> out;
    for (const auto& e : *v) {
      STRATA_CHECK(is_tensor(e), FormatError, subject(), ": the argument '", name, "' holds ", e.dump(),
                   ", not a tensor");
      out.push_back(input(e));
    }
    return out;
  }
  // Every positional argument as a tensor (Einsum's operands).
  std::vector<Tensor> all_tensors() const {
    std::vector<Tensor> out;
    for (std::size_t i = 0; i < arguments_["args"].size(); ++i) out.push_back(tensor(i, "operands"));
    return out;
  }

 private:
  const Layer& layer_;
  const std::string& op_;
  ConfigReader reader_;
  const Config& arguments_;
  const std::vector<Tensor>& inputs_;
};

using OpFn = std::function<std::vector<Tensor>(const OpCall&)>;

// ---- dtypes, as Keras 3 promotes them ---------------------------------------------------------

int dtype_rank(DType t) {
  if (t == DType::kBool) return 0;
  if (is_integer(t)) return 1;
  return 2;
}

// The common dtype of two tensors: a floating one over integers and bool, integers over bool,
// the wider of two of a kind.
DType promote(DType a, DType b) {
  if (a == b) return a;
  if (dtype_rank(a) != dtype_rank(b)) return dtype_rank(a) > dtype_rank(b) ? a : b;
  return dtype_size(a) >= dtype_size(b) ? a : b;
}

Tensor as_dtype(const Tensor& x, DType t) {
  return x.dtype() == t ? x : cast(x, t);
}
Tensor as_float(const Tensor& x) {
  return is_floating(x.dtype()) ? x : cast(x, DType::kFloat32);
}
Tensor as_bool(const Tensor& x) {
  return x.dtype() == DType::kBool ? x : not_equal(x, scalar_like(x, 0.0));
}

// A Python number beside a tensor takes the tensor's dtype (Keras 3's weak types), except that
// a float beside integers or bool makes both float32, and an int beside bool makes both int32.
std::pair<Tensor, Tensor> with_number(const OpCall& c, const Tensor& t, const Config& number, bool number_first) {
  STRATA_CHECK(number.is_number() || number.is_boolean(), FormatError, c.subject(),
               ": an argument must be a tensor or a number, got ", number.dump());
  Tensor x = t;
  if (number.is_number_float() && !is_floating(x.dtype())) x = cast(x, DType::kFloat32);
  if (number.is_number_integer() && x.dtype() == DType::kBool) x = cast(x, DType::kInt32);
  const double value = number.is_boolean() ? (number.get<bool>() ? 1.0 : 0.0) : number.get<double>();
  const Tensor n = scalar_like(x, value);
  return number_first ? std::make_pair(n, x) : std::make_pair(x, n);
}

// The two operands of a binary op (x1, x2): tensors or numbers, brought to one dtype.
std::pair<Tensor, Tensor> operands(const OpCall& c, std::size_t first = 0) {
  const Config* a = c.arg(first, "x1");
  const Config* b = c.arg(first + 1, "x2");
  STRATA_CHECK(a != nullptr && b != nullptr, FormatError, c.subject(), ": needs two operands");
  const bool ta = OpCall::is_tensor(*a), tb = OpCall::is_tensor(*b);
  STRATA_CHECK(ta || tb, FormatError, c.subject(), ": is called on two constants");
  if (!ta) return with_number(c, c.input(*b), *a, true);
  if (!tb) return with_number(c, c.input(*a), *b, false);
  const Tensor x = c.input(*a), y = c.input(*b);
  const DType t = promote(x.dtype(), y.dtype());
  return {as_dtype(x, t), as_dtype(y, t)};
}

// ---- op families -----------------------------------------------------------------------------

OpFn binary(Tensor (*fn)(const Tensor&, const Tensor&)) {
  return [fn](const OpCall& c) -> std::vector<Tensor> {
    auto [a, b] = operands(c);
    return {fn(a, b)};
  };
}
// Binary ops whose result is floating (true division): integer operands become float32.
OpFn float_binary(Tensor (*fn)(const Tensor&, const Tensor&)) {
  return [fn](const OpCall& c) -> std::vector<Tensor> {
    auto [a, b] = operands(c);
    return {fn(as_float(a), as_float(b))};
  };
}
OpFn logical(Tensor (*fn)(const Tensor&, const Tensor&)) {
  return [fn](const OpCall& c) -> std::vector<Tensor> {
    auto [a, b] = operands(c);
    return {fn(as_bool(a), as_bool(b))};
  };
}
OpFn unary(Tensor (*fn)(const Tensor&)) {
  return [fn](const OpCall& c) -> std::vector<Tensor> { return {fn(c.tensor(0, "x"))}; };
}
// Unary ops of floating results (exp, sqrt, activations): integer inputs become float32.
OpFn float_unary(Tensor (*fn)(const Tensor&)) {
  return [fn](const OpCall& c) -> std::vector<Tensor> { return {fn(as_float(c.tensor(0, "x")))}; };
}
OpFn float_unary(std::function<Tensor(const Tensor&, const OpCall&)> fn) {
  return [fn](const OpCall& c) -> std::vector<Tensor> { return {fn(as_float(c.tensor(0, "x")), c)}; };
}

// axis: null means every axis; an int or a list of ints.
std::vector<std::int64_t> axes_of(const OpCall& c, const char* key = "axis") {
  return c.config().int_list(key, {});
}

enum class Reduce { kSum, kMean, kMax, kMin, kProd, kAny, kAll };

OpFn reduction(Reduce kind) {
  return [kind](const OpCall& c) -> std::vector<Tensor> {
    Tensor x = c.tensor(0, "x");
    const auto axes = axes_of(c);
    const bool keepdims = c.config().optional<bool>("keepdims", false);
    const auto& r = c.config();
    switch (kind) {
      case Reduce::kSum:
        if (x.dtype() == DType::kBool) x = cast(x, DType::kInt32);
        return {sum(x, axes, keepdims)};
      case Reduce::kMean:
        return {mean(as_float(x), axes, keepdims)};
      case Reduce::kMax:
      case Reduce::kMin:
        STRATA_CHECK(!r.has("initial") || r.find("initial")->is_null(), ValueError, c.subject(),
                     ": initial=", r.find("initial")->dump(), " is not supported");
        return {kind == Reduce::kMax ? max(x, axes, keepdims) : min(x, axes, keepdims)};
      case Reduce::kProd:
        STRATA_CHECK(!r.has("dtype") || r.find("dtype")->is_null(), ValueError, c.subject(),
                     ": dtype=", r.find("dtype")->dump(), " is not supported");
        return {prod(x, axes, keepdims)};
      case Reduce::kAny:
      case Reduce::kAll: {
        // In float32: any = max(b) > 0, all = min(b) > 0.
        const Tensor b = cast(as_bool(x), DType::kFloat32);
        const Tensor m = kind == Reduce::kAny ? max(b, axes, keepdims) : min(b, axes, keepdims);
        return {greater(m, scalar_like(m, 0.5))};
      }
    }
    return {};
  };
}

// Argmax / Argmin: int32 indices (Keras 3's dtype); axis null flattens.
OpFn arg_reduction(bool is_max) {
  return [is_max](const OpCall& c) -> std::vector<Tensor> {
    Tensor x = c.tensor(0, "x");
    if (x.dtype() == DType::kBool) x = cast(x, DType::kInt32);
    if (!is_max) x = neg(x);
    const Config* axis_value = c.config().find("axis");
    const bool keepdims = c.config().optional<bool>("keepdims", false);
    if (axis_value == nullptr || axis_value->is_null()) {
      const std::size_t rank = x.rank();
      Tensor out = argmax(reshape(x, Shape{-1}), 0, DType::kInt32);
      if (keepdims) out = reshape(out, Shape(std::vector<std::int64_t>(rank, 1)));
      return {out};
    }
    const auto axis = c.config().required<std::int64_t>("axis");
    Tensor out = argmax(x, axis, DType::kInt32);
    if (keepdims) out = expand_dims(out, axis < 0 ? axis + static_cast<std::int64_t>(x.rank()) : axis);
    return {out};
  };
}

std::int64_t normalize_axis(const OpCall& c, std::int64_t axis, std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  STRATA_CHECK(axis >= -r && axis < r, ValueError, c.subject(), ": axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + r : axis;
}

// ---- shapes and indexing ------------------------------------------------------------------------

std::vector<Tensor> reshape_op(const OpCall& c) {
  return {reshape(c.tensor(0, "x"), Shape(c.config().int_list("newshape", {})))};
}

std::vector<Tensor> transpose_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  std::vector<std::int64_t> perm = axes_of(c, "axes");
  if (perm.empty()) {
    STRATA_CHECK(x.shape().has_known_rank(), ShapeError, c.subject(), ": needs a known rank");
    for (std::size_t d = x.rank(); d-- > 0;) perm.push_back(static_cast<std::int64_t>(d));
  }
  return {transpose(x, perm)};
}

std::vector<Tensor> expand_dims_op(const OpCall& c) {
  Tensor x = c.tensor(0, "x");
  auto axes = axes_of(c);
  STRATA_CHECK(!axes.empty(), FormatError, c.subject(), ": needs an axis");
  const std::size_t out_rank = x.rank() + axes.size();
  for (auto& a : axes) a = normalize_axis(c, a, out_rank);
  std::sort(axes.begin(), axes.end());
  for (const auto a : axes) x = expand_dims(x, a);
  return {x};
}

std::vector<Tensor> squeeze_op(const OpCall& c) {
  return {squeeze(c.tensor(0, "x"), axes_of(c))};
}

// The list argument `name` of a call, its tensors brought to their common dtype.
std::vector<Tensor> promoted_list(const OpCall& c, const char* name) {
  auto xs = c.tensors(0, name);
  DType t = xs[0].dtype();
  for (const auto& x : xs) t = promote(t, x.dtype());
  for (auto& x : xs) x = as_dtype(x, t);
  return xs;
}

std::vector<Tensor> concatenate_op(const OpCall& c) {
  const Config* axis = c.config().find("axis");
  STRATA_CHECK(axis == nullptr || !axis->is_null(), ValueError, c.subject(), ": axis=None is not supported");
  return {concat(promoted_list(c, "xs"), c.config().optional<std::int64_t>("axis", 0))};
}

std::vector<Tensor> stack_op(const OpCall& c) {
  return {stack(promoted_list(c, "x"), c.config().optional<std::int64_t>("axis", 0))};
}

// Split into equal sections (an int) or at indices (a list).
std::vector<Tensor> split_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  const std::int64_t axis = normalize_axis(c, c.config().optional<std::int64_t>("axis", 0), x.rank());
  const Config* sections = c.config().find("indices_or_sections");
  STRATA_CHECK(sections != nullptr && (sections->is_number_integer() || sections->is_array()), FormatError, c.subject(),
               ": indices_or_sections must be an int or a list of ints");
  if (sections->is_number_integer()) {
    const auto n = sections->get<std::int64_t>();
    STRATA_CHECK(n > 0, ValueError, c.subject(), ": indices_or_sections must be positive, got ", n);
    return split(x, n, axis);
  }
  const std::int64_t dim = x.shape()[axis];
  STRATA_CHECK(dim != Shape::kUnknown, ShapeError, c.subject(), ": splitting at indices needs axis ", axis, " known");
  std::vector<std::int64_t> bounds{0};
  for (const auto& v : *sections) {
    STRATA_CHECK(v.is_number_integer(), FormatError, c.subject(), ": indices_or_sections holds ", v.dump());
    bounds.push_back(std::clamp<std::int64_t>(
        v.get<std::int64_t>() < 0 ? v.get<std::int64_t>() + dim : v.get<std::int64_t>(), 0, dim));
  }
  bounds.push_back(dim);
  std::vector<Tensor> out;
  for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
    std::vector<std::int64_t> begin(x.rank(), 0), size(x.rank(), -1);
    begin[static_cast<std::size_t>(axis)] = bounds[i];
    size[static_cast<std::size_t>(axis)] = std::max<std::int64_t>(bounds[i + 1] - bounds[i], 0);
    out.push_back(slice(x, begin, size));
  }
  return out;
}

// Take: indices a number, a (nested) list of numbers or a tensor; axis null flattens.
std::vector<Tensor> take_op(const OpCall& c) {
  Tensor x = c.tensor(0, "x");
  const Config* axis_value = c.config().find("axis");
  std::int64_t axis = 0;
  if (axis_value == nullptr || axis_value->is_null()) {
    x = reshape(x, Shape{-1});
  } else {
    axis = normalize_axis(c, c.config().required<std::int64_t>("axis"), x.rank());
  }
  const Config* indices = c.arg(1, "indices");
  STRATA_CHECK(indices != nullptr, FormatError, c.subject(), ": the call has no indices");
  if (OpCall::is_tensor(*indices)) {
    Tensor i = c.input(*indices);
    STRATA_CHECK(is_integer(i.dtype()), ValueError, c.subject(), ": indices must be integers, got ",
                 dtype_name(i.dtype()));
    const std::int64_t dim = x.shape()[axis];
    if (dim != Shape::kUnknown) {  // negative indices count from the end, as Keras 3's take
      i = as_dtype(i, DType::kInt64);
      i = select(less(i, scalar_like(i, 0.0)), add(i, scalar_like(i, static_cast<double>(dim))), i);
    }
    return {gather(x, i, axis)};
  }
  // Constant indices: flattened, with their nesting as the shape.
  std::vector<std::int64_t> values, dims;
  std::function<void(const Config&, std::size_t)> walk = [&](const Config& v, std::size_t depth) {
    if (v.is_array()) {
      if (dims.size() <= depth) dims.push_back(static_cast<std::int64_t>(v.size()));
      STRATA_CHECK(dims[depth] == static_cast<std::int64_t>(v.size()), FormatError, c.subject(), ": ragged indices ",
                   indices->dump());
      for (const auto& e : v) walk(e, depth + 1);
      return;
    }
    STRATA_CHECK(v.is_number_integer(), FormatError, c.subject(), ": indices must be integers, got ", v.dump());
    values.push_back(v.get<std::int64_t>());
  };
  walk(*indices, 0);
  const std::int64_t dim = x.shape()[axis];
  for (auto& v : values) {
    if (v < 0) {
      STRATA_CHECK(dim != Shape::kUnknown, ShapeError, c.subject(), ": negative indices need axis ", axis, " known");
      v += dim;
    }
    STRATA_CHECK(v >= 0 && (dim == Shape::kUnknown || v < dim), ValueError, c.subject(), ": index ", v,
                 " is out of range for size ", dim);
  }
  const Tensor i = Tensor::from_vector<std::int64_t>(values, Shape(dims), x.device());
  return {gather(x, i, axis)};
}

// Pad, mode "constant" with a constant_values number.
std::vector<Tensor> pad_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  const std::string mode = c.config().optional<std::string>("mode", "constant");
  STRATA_CHECK(mode == "constant", ValueError, c.subject(), ": mode='", mode, "' is not supported (only 'constant')");
  const Config* width = c.config().find("pad_width");
  STRATA_CHECK(width != nullptr, FormatError, c.subject(), ": needs pad_width");
  STRATA_CHECK(x.shape().has_known_rank(), ShapeError, c.subject(), ": needs a known rank");
  const std::size_t rank = x.rank();
  auto pair_of = [&](const Config& v) -> std::pair<std::int64_t, std::int64_t> {
    if (v.is_number_integer()) return {v.get<std::int64_t>(), v.get<std::int64_t>()};
    STRATA_CHECK(v.is_array() && (v.size() == 1 || v.size() == 2) && v[0].is_number_integer() &&
                     v[v.size() - 1].is_number_integer(),
                 FormatError, c.subject(), ": bad pad_width ", width->dump());
    return {v[0].get<std::int64_t>(), v[v.size() - 1].get<std::int64_t>()};
  };
  std::vector<std::pair<std::int64_t, std::int64_t>> paddings;
  // NumPy's forms: n, [n], [before, after], [[before, after]] for every axis, or one per axis.
  if (width->is_number_integer() || (width->is_array() && width->size() == 1)) {
    paddings.assign(rank, pair_of(width->is_array() ? (*width)[0] : *width));
  } else if (width->is_array() && width->size() == 2 && (*width)[0].is_number_integer() && rank != 2) {
    paddings.assign(rank, pair_of(*width));
  } else {
    STRATA_CHECK(width->is_array() && width->size() == rank, ValueError, c.subject(), ": pad_width ", width->dump(),
                 " does not fit rank ", rank);
    for (const auto& p : *width) paddings.push_back(pair_of(p));
  }
  for (const auto& [b, a] : paddings) {
    STRATA_CHECK(b >= 0 && a >= 0, ValueError, c.subject(), ": negative padding in ", width->dump());
  }
  const Config* value = c.arg(1, "constant_values");
  if (value == nullptr || value->is_null() || (value->is_number() && value->get<double>() == 0.0)) {
    return {pad(x, paddings)};
  }
  STRATA_CHECK(value->is_number(), ValueError, c.subject(), ": constant_values must be a number, got ", value->dump());
  // The padding filled with the constant, the inside kept exactly.
  const Tensor inside = pad(ones_like(x), paddings);
  const Tensor fill_value = scalar_like(x, value->get<double>());
  return {add(pad(x, paddings), mul(fill_value, sub(scalar_like(x, 1.0), inside)))};
}

std::vector<Tensor> where_op(const OpCall& c) {
  const Tensor condition = as_bool(c.tensor(0, "condition"));
  const Config* a = c.arg(1, "x1");
  const Config* b = c.arg(2, "x2");
  STRATA_CHECK(a != nullptr && b != nullptr && !a->is_null() && !b->is_null(), ValueError, c.subject(),
               ": where(condition) without x1 and x2 (the indices of true elements) is not supported");
  auto [x, y] = operands(c, 1);
  return {select(condition, x, y)};
}

std::vector<Tensor> clip_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  Tensor out = x.dtype() == DType::kBool ? cast(x, DType::kInt32) : x;
  const Config* lo = c.config().find("x_min");
  const Config* hi = c.config().find("x_max");
  if (lo && !lo->is_null()) out = maximum(out, scalar_like(out, c.config().required<double>("x_min")));
  if (hi && !hi->is_null()) out = minimum(out, scalar_like(out, c.config().required<double>("x_max")));
  return {out};
}

std::vector<Tensor> tile_op(const OpCall& c) {
  Tensor x = c.tensor(0, "x");
  auto repeats = c.config().int_list("repeats", {});
  STRATA_CHECK(!repeats.empty(), FormatError, c.subject(), ": needs repeats");
  while (x.rank() < repeats.size()) x = expand_dims(x, 0);
  while (repeats.size() < x.rank()) repeats.insert(repeats.begin(), 1);
  return {tile(x, repeats)};
}

// GetItem(x, key): integers, slices {"class_name": "__slice__"}, None (a new axis) and the
// ellipsis, alone or in a list; tensors in the key are refused.
std::vector<Tensor> get_item_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  const Config* key_value = c.arg(1, "key");
  STRATA_CHECK(key_value != nullptr, FormatError, c.subject(), ": the call has no key");
  return {python_subscript(x, *key_value, c.subject())};
}

std::vector<Tensor> cast_op(const OpCall& c) {
  const Config* d = c.config().find("dtype");
  std::string name;
  if (d && d->is_string()) name = d->get<std::string>();
  if (d && d->is_object() && d->contains("config") && (*d)["config"].is_object()) {
    name = (*d)["config"].value("name", std::string());  // a DTypePolicy object
  }
  STRATA_CHECK(!name.empty(), FormatError, c.subject(), ": needs a dtype");
  DType to = DType::kInvalid;
  try {
    to = dtype_from_name(name);
  } catch (const Error&) {
    STRATA_THROW(FormatError, c.subject(), ": cast to unknown dtype '", name, "'");
  }
  const Tensor x = c.tensor(0, "x");
  if (to == DType::kBool) return {as_bool(x)};
  return {as_dtype(x, to)};
}

std::vector<Tensor> one_hot_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  const auto depth = c.config().required<std::int64_t>("num_classes", Range::positive());
  STRATA_CHECK(!c.config().optional<bool>("sparse", false), ValueError, c.subject(), ": sparse=True is not supported");
  DType dtype = DType::kFloat32;
  if (const Config* d = c.config().find("dtype"); d && d->is_string()) dtype = dtype_from_name(d->get<std::string>());
  return {one_hot(as_dtype(x, DType::kInt64), depth, 1.0, 0.0, dtype, c.config().optional<std::int64_t>("axis", -1))};
}

std::vector<Tensor> moveaxis_op(const OpCall& c, const char* from_key, const char* to_key, bool swap) {
  const Tensor x = c.tensor(0, "x");
  STRATA_CHECK(x.shape().has_known_rank(), ShapeError, c.subject(), ": needs a known rank");
  const std::size_t rank = x.rank();
  const std::int64_t a = normalize_axis(c, c.config().required<std::int64_t>(from_key), rank);
  const std::int64_t b = normalize_axis(c, c.config().required<std::int64_t>(to_key), rank);
  std::vector<std::int64_t> perm;
  for (std::size_t d = 0; d < rank; ++d) perm.push_back(static_cast<std::int64_t>(d));
  if (swap) {
    std::swap(perm[static_cast<std::size_t>(a)], perm[static_cast<std::size_t>(b)]);
  } else {
    perm.erase(perm.begin() + a);
    perm.insert(perm.begin() + b, a);
  }
  return {transpose(x, perm)};
}

// Flip: the axes reversed by a strided slice of stride -1 (axis null: every axis).
std::vector<Tensor> flip_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  STRATA_CHECK(x.shape().has_known_rank(), ShapeError, c.subject(), ": needs a known rank");
  const std::size_t rank = x.rank();
  // One bit per axis in the strided slice's 64-bit masks (configs allow ranks up to 254).
  STRATA_CHECK(rank < 64, ShapeError, c.subject(), ": flipping a tensor of rank ", rank,
               " is not supported (at most 63)");
  auto axes = axes_of(c);
  if (axes.empty()) {
    for (std::size_t d = 0; d < rank; ++d) axes.push_back(static_cast<std::int64_t>(d));
  }
  std::vector<std::int64_t> begin(rank, 0), end(rank, 0), strides(rank, 1);
  StridedSliceMasks masks;
  masks.begin_mask = masks.end_mask = (std::int64_t{1} << rank) - 1;
  for (const auto a : axes) strides[static_cast<std::size_t>(normalize_axis(c, a, rank))] = -1;
  return {strided_slice(x, begin, end, strides, masks)};
}

// Var / Std: the mean squared deviation from the mean (NumPy's ddof 0).
OpFn variance(bool std_dev) {
  return [std_dev](const OpCall& c) -> std::vector<Tensor> {
    const Tensor x = as_float(c.tensor(0, "x"));
    const auto axes = axes_of(c);
    const bool keepdims = c.config().optional<bool>("keepdims", false);
    const Tensor v = mean(square(sub(x, mean(x, axes, true))), axes, keepdims);
    return {std_dev ? sqrt(v) : v};
  };
}

// Logsumexp: max + log(sum(exp(x - max))), the max held constant.
std::vector<Tensor> logsumexp_op(const OpCall& c) {
  const Tensor x = as_float(c.tensor(0, "x"));
  const auto axes = axes_of(c);
  const bool keepdims = c.config().optional<bool>("keepdims", false);
  const Tensor m = stop_gradient(max(x, axes, true));
  Tensor out = add(log(sum(exp(sub(x, m)), axes, true)), m);
  if (!keepdims) out = squeeze(out, axes.empty() ? std::vector<std::int64_t>{} : axes);
  if (!keepdims && axes.empty()) out = reshape(out, Shape(std::vector<std::int64_t>{}));
  return {out};
}

// Cumsum / Cumprod(axis=None, dtype=None): axis null flattens; dtype casts the input first;
// bool becomes int32 (as Keras 3's TensorFlow backend). Strata's Cumprod is floating point, so
// integers multiply in float64 (exact up to 2^53) and come back to their type.
OpFn cumulative(bool product) {
  return [product](const OpCall& c) -> std::vector<Tensor> {
    Tensor x = c.tensor(0, "x");
    const Config* d = c.config().find("dtype");
    if (d != nullptr && d->is_string()) {
      DType to = DType::kInvalid;
      try {
        to = dtype_from_name(d->get<std::string>());
      } catch (const Error&) {
        STRATA_THROW(FormatError, c.subject(), ": unknown dtype '", d->get<std::string>(), "'");
      }
      x = to == DType::kBool ? as_bool(x) : as_dtype(x, to);
    }
    if (x.dtype() == DType::kBool) x = cast(x, DType::kInt32);
    const Config* axis_value = c.config().find("axis");
    std::int64_t axis = 0;
    if (axis_value == nullptr || axis_value->is_null()) {
      x = reshape(x, Shape{-1});
    } else {
      STRATA_CHECK(x.shape().has_known_rank(), ShapeError, c.subject(), ": needs a known rank");
      axis = normalize_axis(c, c.config().required<std::int64_t>("axis"), x.rank());
    }
    if (!product) return {cumsum(x, axis)};
    if (is_floating(x.dtype())) return {cumprod(x, axis)};
    return {cast(cumprod(cast(x, DType::kFloat64), axis), x.dtype())};
  };
}

// ---- activations ------------------------------------------------------------------------------

Tensor elu_alpha(const Tensor& x, const OpCall& c) {
  const double alpha = c.config().optional<double>("alpha", 1.0);
  if (alpha == 1.0) return elu(x);
  return select(greater(x, scalar_like(x, 0.0)), x, mul(scalar_like(x, alpha), sub(exp(x), scalar_like(x, 1.0))));
}
Tensor leaky_relu_op(const Tensor& x, const OpCall& c) {
  const double slope = c.config().optional<double>("negative_slope", 0.2);
  return select(greater_equal(x, scalar_like(x, 0.0)), x, mul(x, scalar_like(x, slope)));
}
Tensor hard_sigmoid_op(const Tensor& x, const OpCall&) {
  return relu6(x + 3.0) / 6.0;
}
Tensor hard_silu_op(const Tensor& x, const OpCall&) {
  return mul(x, relu6(x + 3.0) / 6.0);
}
Tensor silu_op(const Tensor& x, const OpCall&) {
  return mul(x, sigmoid(x));
}
Tensor gelu_op(const Tensor& x, const OpCall& c) {
  return gelu(x, c.config().optional<bool>("approximate", true));
}
Tensor softmax_op(const Tensor& x, const OpCall& c) {
  return softmax(x, c.config().optional<std::int64_t>("axis", -1));
}
Tensor log_softmax_op(const Tensor& x, const OpCall& c) {
  return log_softmax(x, c.config().optional<std::int64_t>("axis", -1));
}

Tensor floor_divide(const Tensor& a, const Tensor& b) {
  return is_floating(a.dtype()) ? floor(div(a, b)) : cast(floor(div(as_float(a), as_float(b))), a.dtype());
}
Tensor mod(const Tensor& a, const Tensor& b) {  // Python's sign: the divisor's
  const Tensor fa = as_float(a), fb = as_float(b);
  const Tensor r = sub(fa, mul(floor(div(fa, fb)), fb));
  return is_floating(a.dtype()) ? r : cast(r, a.dtype());
}
Tensor ceil(const Tensor& x) {
  return neg(floor(neg(x)));
}
Tensor expm1(const Tensor& x) {
  return sub(exp(x), scalar_like(x, 1.0));
}

// ---- more numpy, linalg, nn, image and core classes (stop 37) ------------------------------------

// `x` reshaped to `dims` (unknown entries as Shape::kUnknown): a static target when at most one
// entry is unknown, else the shape `runtime_shape` (an int64 tensor) computed when the graph runs.
Tensor reshape_to(const Tensor& x, const std::vector<std::int64_t>& dims, const Tensor& runtime_shape) {
  if (std::count(dims.begin(), dims.end(), Shape::kUnknown) <= 1) {
    std::vector<std::int64_t> target = dims;
    for (auto& d : target) d = d == Shape::kUnknown ? -1 : d;
    return reshape(x, Shape(target));
  }
  return execute1("Reshape", {x, runtime_shape});
}

std::size_t known_rank(const OpCall& c, const Tensor& x) {
  STRATA_CHECK(x.shape().has_known_rank(), ShapeError, c.subject(), ": needs a known rank");
  return x.rank();
}

// np.round / tf.round: halves to even; decimals scale by 10^decimals first (integers with
// decimals >= 0 are returned as they are; with fewer, rounded in float32 and cast back).
Tensor round_half_even(const Tensor& x) {
  const Tensor low = floor(x);
  const Tensor fraction = sub(x, low);
  const Tensor high = add(low, scalar_like(x, 1.0));
  const Tensor half = scalar_like(x, 0.5);
  const Tensor low_even = equal(sub(low, mul(floor(mul(low, half)), scalar_like(x, 2.0))), scalar_like(x, 0.0));
  return select(greater(fraction, half), high, select(less(fraction, half), low, select(low_even, low, high)));
}
std::vector<Tensor> round_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  const auto decimals = c.config().optional<std::int64_t>("decimals", 0);
  STRATA_CHECK(decimals >= -30 && decimals <= 30, ValueError, c.subject(), ": decimals=", decimals, " is out of range");
  if (!is_floating(x.dtype()) && decimals >= 0) return {x};
  Tensor f = as_float(x);
  if (decimals == 0) return {as_dtype(round_half_even(f), x.dtype())};
  const double factor = std::pow(10.0, static_cast<double>(decimals));
  return {as_dtype(div(round_half_even(mul(f, scalar_like(f, factor))), scalar_like(f, factor)), x.dtype())};
}

// Repeat(repeats, axis): each element `repeats` times along `axis` (null: of the flattened x).
std::vector<Tensor> repeat_op(const OpCall& c) {
  Tensor x = c.tensor(0, "x");
  const Config* r = c.config().find("repeats");
  STRATA_CHECK(r != nullptr && r->is_number_integer(), ValueError, c.subject(),
               ": repeats must be one integer (a list of counts is not supported), got ", r ? r->dump() : "nothing");
  const auto repeats = r->get<std::int64_t>();
  STRATA_CHECK(repeats >= 0 && repeats <= (std::int64_t{1} << 20), ValueError, c.subject(), ": repeats=", repeats,
               " is out of range");
  const Config* axis_value = c.config().find("axis");
  if (axis_value == nullptr || axis_value->is_null()) x = reshape(x, Shape{-1});
  const std::size_t rank = known_rank(c, x);
  const std::int64_t axis =
      axis_value == nullptr || axis_value->is_null() ? 0 : normalize_axis(c, axis_value->get<std::int64_t>(), rank);
  std::vector<std::int64_t> multiples(rank + 1, 1), scale(rank, 1);
  multiples[static_cast<std::size_t>(axis) + 1] = repeats;
  scale[static_cast<std::size_t>(axis)] = repeats;
  const Tensor tiled = tile(expand_dims(x, axis + 1), multiples);
  std::vector<std::int64_t> dims = x.shape().dims();
  auto& d = dims[static_cast<std::size_t>(axis)];
  if (d != Shape::kUnknown) d *= repeats;
  return {reshape_to(tiled, dims, mul(shape_of(x), int_tensor(scale)))};
}

// Tril / Triu(k): x with the elements above the k-th diagonal (Tril) or below it (Triu) of its
// last two axes set to zero; positions from the tensor itself (any length).
OpFn triangle(bool lower) {
  return [lower](const OpCall& c) -> std::vector<Tensor> {
    const Tensor x = c.tensor(0, "x");
    const std::size_t rank = known_rank(c, x);
    STRATA_CHECK(rank >= 2, ShapeError, c.subject(), ": needs at least two dimensions, got ", x.shape().to_string());
    const auto k = c.config().optional<std::int64_t>("k", 0);
    const auto r = static_cast<std::int64_t>(rank);
    const Tensor offset = sub(positions_along(x, r - 1, Shape{1, -1}), positions_along(x, r - 2, Shape{-1, 1}));
    const Tensor bound = scalar_like(offset, static_cast<double>(k));
    const Tensor keep = lower ? less_equal(offset, bound) : greater_equal(offset, bound);
    return {select(keep, x, zeros_like(x))};
  };
}

// Average(axis) of x with optional weights (the call's second argument): the mean, or
// sum(x * w) / sum(w), weights of x's shape or 1-D along the one axis.
std::vector<Tensor> average_op(const OpCall& c) {
  Tensor x = as_float(c.tensor(0, "x"));
  const auto axes = axes_of(c);
  if (!c.is_tensor_arg(1, "weights")) {
    const Config* w = c.arg(1, "weights");
    STRATA_CHECK(w == nullptr || w->is_null(), FormatError, c.subject(), ": weights must be a tensor or None, got ",
                 w->dump());
    return {mean(x, axes, false)};
  }
  Tensor w = c.tensor(1, "weights");
  const DType t = promote(x.dtype(), as_float(w).dtype());
  x = as_dtype(x, t);
  w = as_dtype(w, t);
  const std::size_t rank = known_rank(c, x);
  if (w.rank() != rank) {
    STRATA_CHECK(w.rank() == 1 && axes.size() == 1, ValueError, c.subject(),
                 ": weights of another rank than x must be 1-D along the one axis");
    std::vector<std::int64_t> dims(rank, 1);
    dims[static_cast<std::size_t>(normalize_axis(c, axes[0], rank))] = -1;
    return {div(sum(mul(x, reshape(w, Shape(dims))), axes, false), sum(w))};
  }
  return {div(sum(mul(x, w), axes, false), sum(w, axes, false))};
}

// Roll(shift, axis): elements shifted along each axis (null: of the flattened x), those
// leaving one end entering at the other: two slices concatenated where the length is known,
// a gather of computed indices where it is known only when the graph runs.
std::vector<Tensor> roll_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  const Config* axis_value = c.config().find("axis");
  const bool flat = axis_value == nullptr || axis_value->is_null();
  Tensor y = flat ? reshape(x, Shape{-1}) : x;
  const std::size_t rank = known_rank(c, y);
  const auto shifts = c.config().int_list("shift", {});
  std::vector<std::int64_t> axes = flat ? std::vector<std::int64_t>{0} : axes_of(c);
  STRATA_CHECK(!shifts.empty() && (shifts.size() == axes.size() || shifts.size() == 1 || axes.size() == 1),
               ValueError, c.subject(), ": shift and axis do not match");
  const std::size_t n = std::max(shifts.size(), axes.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t axis = normalize_axis(c, axes[axes.size() == 1 ? 0 : i], rank);
    const std::int64_t length = y.shape().dim(static_cast<std::size_t>(axis));
    const std::int64_t shift = shifts[shifts.size() == 1 ? 0 : i];
    if (length == Shape::kUnknown) {
      // Known only when the graph runs: gather at (position - shift) mod length, in float64
      // (exact below 2^53).
      const Tensor p = cast(positions_along(y, axis, Shape{-1}), DType::kFloat64);
      const Tensor n = add(max(p), scalar_like(p, 1.0));
      const Tensor moved = sub(p, scalar_like(p, static_cast<double>(shift)));
      y = gather(y, cast(sub(moved, mul(n, floor(div(moved, n)))), DType::kInt64), axis);
      continue;
    }
    if (length == 0) continue;
    const std::int64_t s = ((shift % length) + length) % length;
    if (s == 0) continue;
    std::vector<std::int64_t> begin(rank, 0), head(rank, -1), tail(rank, -1);
    begin[static_cast<std::size_t>(axis)] = length - s;
    tail[static_cast<std::size_t>(axis)] = s;
    std::vector<std::int64_t> zero(rank, 0);
    head[static_cast<std::size_t>(axis)] = length - s;
    y = concat({slice(y, begin, tail), slice(y, zero, head)}, axis);
  }
  if (!flat) return {y};
  if (!x.shape().has_known_rank()) return {execute1("Reshape", {y, shape_of(x)})};
  return {reshape_to(y, x.shape().dims(), shape_of(x))};
}

// Tensordot(axes) and Dot as einsum: `a_axes` of x1 contracted with `b_axes` of x2.
Tensor contract(const OpCall& c, const Tensor& a, const Tensor& b, std::vector<std::int64_t> a_axes,
                std::vector<std::int64_t> b_axes) {
  const std::size_t ra = known_rank(c, a), rb = known_rank(c, b);
  STRATA_CHECK(a_axes.size() == b_axes.size(), ValueError, c.subject(), ": the axes of the two operands differ in number");
  STRATA_CHECK(ra + rb <= 26, ShapeError, c.subject(), ": operands of rank ", ra, " and ", rb, " are too many axes");
  std::string la(ra, ' '), lb(rb, ' '), out;
  char next = 'a';
  for (auto& v : a_axes) v = normalize_axis(c, v, ra);
  for (auto& v : b_axes) v = normalize_axis(c, v, rb);
  for (std::size_t i = 0; i < a_axes.size(); ++i) {
    la[static_cast<std::size_t>(a_axes[i])] = next;
    lb[static_cast<std::size_t>(b_axes[i])] = next;
    ++next;
  }
  for (auto* side : {&la, &lb}) {
    for (auto& ch : *side) {
      if (ch == ' ') {
        ch = next++;
        out += ch;
      }
    }
  }
  return einsum(la + "," + lb + "->" + out, {a, b});
}
std::vector<Tensor> tensordot_op(const OpCall& c) {
  auto [a, b] = operands(c);
  const Config* axes = c.config().find("axes");
  std::vector<std::int64_t> a_axes, b_axes;
  if (axes == nullptr || axes->is_number_integer()) {
    const std::int64_t n = axes == nullptr ? 2 : axes->get<std::int64_t>();
    const auto ra = static_cast<std::int64_t>(known_rank(c, a));
    STRATA_CHECK(n >= 0 && n <= ra && n <= static_cast<std::int64_t>(known_rank(c, b)), ValueError, c.subject(),
                 ": axes=", n, " is out of range");
    for (std::int64_t i = 0; i < n; ++i) {
      a_axes.push_back(ra - n + i);
      b_axes.push_back(i);
    }
  } else {
    STRATA_CHECK(axes->is_array() && axes->size() == 2, ValueError, c.subject(), ": axes must be an int or two lists, got ",
                 axes->dump());
    auto list = [&](const Config& v) {
      std::vector<std::int64_t> out;
      if (v.is_number_integer()) return std::vector<std::int64_t>{v.get<std::int64_t>()};
      STRATA_CHECK(v.is_array(), ValueError, c.subject(), ": axes must be an int or two lists, got ", axes->dump());
      for (const auto& e : v) {
        STRATA_CHECK(e.is_number_integer(), ValueError, c.subject(), ": axes must be integers, got ", axes->dump());
        out.push_back(e.get<std::int64_t>());
      }
      return out;
    };
    a_axes = list((*axes)[0]);
    b_axes = list((*axes)[1]);
  }
  return {contract(c, as_float(a), as_float(b), a_axes, b_axes)};
}
std::vector<Tensor> dot_op(const OpCall& c) {
  auto [a, b] = operands(c);
  const DType result = a.dtype();
  a = as_float(a);
  b = as_float(b);
  const std::size_t ra = known_rank(c, a), rb = known_rank(c, b);
  if (ra == 0 || rb == 0) return {as_dtype(mul(a, b), result)};
  return {as_dtype(contract(c, a, b, {-1}, {rb == 1 ? -1 : -2}), result)};
}

// Hstack / Vstack: concatenated along axis 1 (axis 0 for 1-D inputs) / axis 0.
OpFn stacked(bool horizontal) {
  return [horizontal](const OpCall& c) -> std::vector<Tensor> {
    const auto xs = promoted_list(c, "xs");
    return {concat(xs, horizontal && known_rank(c, xs[0]) > 1 ? 1 : 0)};
  };
}

// The largest finite value of a floating dtype (NanToNum's default for infinities).
double largest(DType t) {
  switch (t) {
    case DType::kFloat16: return 65504.0;
    case DType::kBFloat16: return 3.3895313892515355e38;
    case DType::kFloat64: return 1.7976931348623157e308;
    default: return 3.4028234663852886e38;
  }
}
std::vector<Tensor> nan_to_num_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  if (!is_floating(x.dtype())) return {x};
  auto value_of = [&](const char* key, double fallback) {
    const Config* v = c.config().find(key);
    return v == nullptr || v->is_null() ? fallback : v->get<double>();
  };
  const Tensor inf = scalar_like(x, INFINITY);
  Tensor y = select(not_equal(x, x), scalar_like(x, value_of("nan", 0.0)), x);
  y = select(equal(y, inf), scalar_like(x, value_of("posinf", largest(x.dtype()))), y);
  return {select(equal(y, neg(inf)), scalar_like(x, value_of("neginf", -largest(x.dtype()))), y)};
}

// Logaddexp: max + log1p(exp(-|a - b|)); a + b where a - b is NaN (both infinite alike).
std::vector<Tensor> logaddexp_op(const OpCall& c) {
  auto [a, b] = operands(c);
  a = as_float(a);
  b = as_dtype(b, a.dtype());
  const Tensor delta = sub(a, b);
  return {select(not_equal(delta, delta), add(a, b), add(maximum(a, b), log1p(exp(neg(abs(delta))))))};
}

// DivideNoNan: a / b, and 0 where b is 0 (the division by 1 there keeps gradients finite).
std::vector<Tensor> divide_no_nan_op(const OpCall& c) {
  auto [a, b] = operands(c);
  a = as_float(a);
  b = as_dtype(b, a.dtype());
  const Tensor zero = equal(b, scalar_like(b, 0.0));
  return {select(zero, zeros_like(div(a, scalar_like(b, 1.0))), div(a, select(zero, ones_like(b), b)))};
}

// FullLike(dtype): x's shape filled with the call's fill_value (a number or a tensor).
std::vector<Tensor> full_like_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "x");
  DType dtype = x.dtype();
  if (const Config* d = c.config().find("dtype"); d && d->is_string()) dtype = dtype_from_name(d->get<std::string>());
  const Config* v = c.arg(1, "fill_value");
  STRATA_CHECK(v != nullptr, FormatError, c.subject(), ": the call has no fill_value");
  const Tensor base = cast(zeros_like(x), dtype);
  if (OpCall::is_tensor(*v)) return {add(base, as_dtype(c.input(*v), dtype))};
  STRATA_CHECK(v->is_number() || v->is_boolean(), FormatError, c.subject(), ": fill_value must be a number or a tensor, got ",
               v->dump());
  return {add(base, scalar_like(base, v->is_boolean() ? (v->get<bool>() ? 1.0 : 0.0) : v->get<double>()))};
}

// linalg.Norm(ord, axis, keepdims), as Keras 3's TensorFlow backend: vector norms of one axis
// (None/2, inf, -inf, 0, 1 and other p), matrix norms of two ("fro"/None, 1, -1, inf, -inf;
// "nuc", 2 and -2 need a singular value decomposition and are refused); axis null is every
// axis of a 1-D or 2-D x.
std::vector<Tensor> norm_op(const OpCall& c) {
  Tensor x = c.tensor(0, "x");
  x = x.dtype() == DType::kInt64 ? cast(x, DType::kFloat32) : as_float(x);
  const std::size_t rank = known_rank(c, x);
  std::vector<std::int64_t> axes = axes_of(c);
  if (axes.empty()) {
    for (std::size_t d = 0; d < rank; ++d) axes.push_back(static_cast<std::int64_t>(d));
  }
  for (auto& a : axes) a = normalize_axis(c, a, rank);
  const bool keepdims = c.config().optional<bool>("keepdims", false);
  const Config* ord_value = c.config().find("ord");
  const bool none = ord_value == nullptr || ord_value->is_null();
  const std::string text = !none && ord_value->is_string() ? ord_value->get<std::string>() : "";
  const double ord = none || ord_value->is_string() ? 2.0 : ord_value->get<double>();
  const Tensor magnitude = abs(x);
  if (axes.size() == 1) {
    STRATA_CHECK(text.empty(), ValueError, c.subject(), ": ord='", text, "' is not a vector norm");
    if (ord == INFINITY) return {max(magnitude, axes, keepdims)};
    if (ord == -INFINITY) return {min(magnitude, axes, keepdims)};
    if (ord == 0.0) return {sum(cast(not_equal(x, scalar_like(x, 0.0)), x.dtype()), axes, keepdims)};
    if (ord == 2.0) return {sqrt(sum(mul(x, x), axes, keepdims))};
    return {pow(sum(pow(magnitude, scalar_like(x, ord)), axes, keepdims), scalar_like(x, 1.0 / ord))};
  }
  STRATA_CHECK(axes.size() == 2, ValueError, c.subject(), ": a norm is over one or two axes, got ", axes.size());
  if (none || text == "fro") return {sqrt(sum(mul(x, x), axes, keepdims))};
  STRATA_CHECK(text.empty() && (ord == 1.0 || ord == -1.0 || ord == INFINITY || ord == -INFINITY), ValueError,
               c.subject(), ": the matrix norm ord=", ord_value->dump(),
               " needs a singular value decomposition, which Strata does not have");
  std::int64_t row = axes[0], col = axes[1];
  const bool columns_first = ord == 1.0 || ord == -1.0;  // max/min over columns of column sums
  std::int64_t summed = columns_first ? row : col, reduced = columns_first ? col : row;
  if (!keepdims && reduced > summed) --reduced;
  const Tensor sums = sum(magnitude, {summed}, keepdims);
  return {ord > 0 ? max(sums, {reduced}, keepdims) : min(sums, {reduced}, keepdims)};
}

// nn.Normalize(axis, order, epsilon): order 2 multiplies by min(rsqrt(sum(x^2)), 1/epsilon),
// other orders divide by max(norm, epsilon), as Keras 3 (epsilon null: 1e-7).
std::vector<Tensor> normalize_op(const OpCall& c) {
  Tensor x = as_float(c.tensor(0, "x"));
  if (x.shape().has_known_rank() && x.rank() == 0) x = expand_dims(x, 0);
  const auto order = c.config().optional<std::int64_t>("order", 2);
  STRATA_CHECK(order >= 1, ValueError, c.subject(), ": order must be an integer >= 1, got ", order);
  const Config* e = c.config().find("epsilon");
  const double epsilon = e == nullptr || e->is_null() ? 1e-7 : e->get<double>();
  const auto axes = c.config().int_list("axis", {-1});
  if (order == 2) {
    return {mul(x, minimum(rsqrt(sum(square(x), axes, true)), scalar_like(x, 1.0 / epsilon)))};
  }
  const Tensor norm = order == 1 ? sum(abs(x), axes, true)
                                 : pow(sum(pow(abs(x), scalar_like(x, static_cast<double>(order))), axes, true),
                                       scalar_like(x, 1.0 / static_cast<double>(order)));
  return {div(x, maximum(norm, scalar_like(x, epsilon)))};
}

// nn.Moments(axes, keepdims): (mean, variance), the variance about the mean held constant, as
// tf.nn.moments; half inputs are computed in float32 and rounded back.
std::vector<Tensor> moments_op(const OpCall& c) {
  STRATA_CHECK(!c.config().optional<bool>("synchronized", false), ValueError, c.subject(),
               ": synchronized=True is not supported");
  const Tensor in = as_float(c.tensor(0, "x"));
  const DType dtype = in.dtype();
  const Tensor x = dtype == DType::kFloat16 || dtype == DType::kBFloat16 ? cast(in, DType::kFloat32) : in;
  const auto axes = axes_of(c, "axes");
  const bool keepdims = c.config().optional<bool>("keepdims", false);
  const Tensor m = mean(x, axes, true);
  Tensor variance = mean(squared_difference(x, stop_gradient(m)), axes, keepdims);
  Tensor average = keepdims ? m : squeeze(m, axes);
  return {as_dtype(average, dtype), as_dtype(variance, dtype)};
}

// nn.MaxPool / AveragePool(pool_size, strides, padding, data_format): channels-last 1-D and
// 2-D windows (rank 3 and 4 inputs), TensorFlow's pooling (padding excluded from averages).
OpFn pool(bool is_max) {
  return [is_max](const OpCall& c) -> std::vector<Tensor> {
    Tensor x = c.tensor(0, "inputs");
    const std::size_t rank = known_rank(c, x);
    STRATA_CHECK(rank == 3 || rank == 4, ShapeError, c.subject(), ": pools inputs of rank 3 or 4, got ",
                 x.shape().to_string());
    const Config* format = c.config().find("data_format");
    STRATA_CHECK(format == nullptr || format->is_null() || format->get<std::string>() == "channels_last", ValueError,
                 c.subject(), ": data_format ", format ? format->dump() : "", " is not supported (channels_last only)");
    const std::size_t spatial = rank - 2;
    auto pair_of = [&](const char* key, std::vector<std::int64_t> fallback) {
      const Config* v = c.config().find(key);
      std::vector<std::int64_t> out = v == nullptr || v->is_null() ? fallback : c.config().int_list(key, {});
      if (out.size() == 1) out.assign(spatial, out[0]);
      STRATA_CHECK(out.size() == spatial, ValueError, c.subject(), ": ", key, " needs ", spatial, " values");
      for (const auto n : out) STRATA_CHECK(n >= 1, ValueError, c.subject(), ": ", key, " must be positive");
      return out;
    };
    auto window = pair_of("pool_size", {});
    auto strides = pair_of("strides", window);
    const std::string padding = c.config().optional<std::string>("padding", "valid");
    STRATA_CHECK(padding == "valid" || padding == "same", ValueError, c.subject(), ": padding '", padding, "'");
    if (rank == 3) {
      x = expand_dims(x, 1);
      window.insert(window.begin(), 1);
      strides.insert(strides.begin(), 1);
    }
    const Padding how = padding == "same" ? Padding::kSame : Padding::kValid;
    Tensor y = is_max ? max_pool2d(x, {window[0], window[1]}, {strides[0], strides[1]}, how)
                      : avg_pool2d(x, {window[0], window[1]}, {strides[0], strides[1]}, how);
    return {rank == 3 ? squeeze(y, {1}) : y};
  };
}

// image.Resize(size, interpolation, ...): tf.image.resize with half-pixel centres, bilinear or
// nearest, channels-last images of rank 3 or 4; antialiasing and cropping or padding to the
// aspect ratio are refused.
std::vector<Tensor> resize_op(const OpCall& c) {
  Tensor x = c.tensor(0, "images");
  const std::size_t rank = known_rank(c, x);
  STRATA_CHECK(rank == 3 || rank == 4, ShapeError, c.subject(), ": resizes images of rank 3 or 4, got ",
               x.shape().to_string());
  const auto& r = c.config();
  const auto size = r.int_list("size", {});
  STRATA_CHECK(size.size() == 2 && size[0] >= 1 && size[1] >= 1 && size[0] <= (1 << 20) && size[1] <= (1 << 20),
               ValueError, c.subject(), ": size must be two positive integers");
  const std::string interpolation = r.optional<std::string>("interpolation", "bilinear");
  STRATA_CHECK(interpolation == "bilinear" || interpolation == "nearest", ValueError, c.subject(), ": interpolation '",
               interpolation, "' is not supported (bilinear and nearest are)");
  for (const char* key : {"antialias", "crop_to_aspect_ratio", "pad_to_aspect_ratio"}) {
    STRATA_CHECK(!r.optional<bool>(key, false), ValueError, c.subject(), ": ", key, "=True is not supported");
  }
  const Config* format = r.find("data_format");
  STRATA_CHECK(format == nullptr || format->is_null() || format->get<std::string>() == "channels_last", ValueError,
               c.subject(), ": data_format ", format ? format->dump() : "", " is not supported (channels_last only)");
  if (rank == 3) x = expand_dims(x, 0);
  Tensor y = resize_images(x, size[0], size[1], interpolation == "bilinear");
  return {rank == 3 ? squeeze(y, {0}) : y};
}

// core.Slice(shape) with the call's start_indices: slice(x, start_indices, shape).
std::vector<Tensor> slice_op(const OpCall& c) {
  const Tensor x = c.tensor(0, "inputs");
  const Config* start = c.arg(1, "start_indices");
  STRATA_CHECK(start != nullptr && start->is_array(), FormatError, c.subject(),
               ": start_indices must be a list of integers (a tensor is not supported), got ",
               start ? start->dump() : "nothing");
  std::vector<std::int64_t> begin;
  for (const auto& v : *start) {
    STRATA_CHECK(v.is_number_integer(), FormatError, c.subject(), ": start_indices must be integers, got ", start->dump());
    begin.push_back(v.get<std::int64_t>());
  }
  return {slice(x, begin, c.config().int_list("shape", {}))};
}

// ---- the table ----------------------------------------------------------------------------------

struct OpSpec {
  const char* module;
  const char* name;
  OpFn fn;
  bool list_input = false;  // the first argument is a list of tensors (Concatenate, Stack)
};

const std::vector<OpSpec>& specs() {
  static const std::vector<OpSpec> table = [] {
    std::vector<OpSpec> t;
    auto numpy = [&](const char* name, OpFn fn, bool list_input = false) {
      t.push_back({kNumpy, name, std::move(fn), list_input});
    };
    auto nn = [&](const char* name, OpFn fn) { t.push_back({kNn, name, std::move(fn)}); };
    // element-wise, two operands
    numpy("Add", binary(strata::add));
    numpy("Subtract", binary(strata::sub));
    numpy("Multiply", binary(strata::mul));
    numpy("Divide", float_binary(strata::div));
    numpy("TrueDivide", float_binary(strata::div));
    numpy("FloorDivide", binary(floor_divide));
    numpy("Mod", binary(mod));
    numpy("Maximum", binary(strata::maximum));
    numpy("Minimum", binary(strata::minimum));
    numpy("Power", binary(strata::pow));
    numpy("Equal", binary(strata::equal));
    numpy("NotEqual", binary(strata::not_equal));
    numpy("Greater", binary(strata::greater));
    numpy("GreaterEqual", binary(strata::greater_equal));
    numpy("Less", binary(strata::less));
    numpy("LessEqual", binary(strata::less_equal));
    numpy("LogicalAnd", logical(strata::logical_and));
    numpy("LogicalOr", logical(strata::logical_or));
    numpy("Matmul", binary([](const Tensor& a, const Tensor& b) { return strata::matmul(a, b); }));
    numpy("Where", where_op);
    // element-wise, one operand
    numpy("Negative", unary(strata::neg));
    numpy("Absolute", unary(strata::abs));
    numpy("Square", unary(strata::square));
    numpy("Sign", unary(strata::sign));
    numpy("Floor", float_unary(strata::floor));
    numpy("Ceil", float_unary(ceil));
    numpy("Sqrt", float_unary(strata::sqrt));
    numpy("Exp", float_unary(strata::exp));
    numpy("Expm1", float_unary(expm1));
    numpy("Log", float_unary(strata::log));
    numpy("Log1p", float_unary(strata::log1p));
    numpy("Reciprocal", float_unary(strata::reciprocal));
    numpy("Tanh", float_unary(strata::tanh));
    numpy("Sin", float_unary(strata::sin));
    numpy("Cos", float_unary(strata::cos));
    numpy("Tan", float_unary(strata::tan));
    numpy("Arcsin", float_unary(strata::asin));
    numpy("Arccos", float_unary(strata::acos));
    numpy("Arctan", float_unary(strata::atan));
    numpy("Sinh", float_unary(strata::sinh));
    numpy("Cosh", float_unary(strata::cosh));
    numpy("Arcsinh", float_unary(strata::asinh));
    numpy("Arccosh", float_unary(strata::acosh));
    numpy("Arctanh", float_unary(strata::atanh));
    numpy("Arctan2", float_binary(strata::atan2));
    numpy("Cumsum", cumulative(false));
    numpy("Cumprod", cumulative(true));
    numpy("LogicalNot",
          [](const OpCall& c) -> std::vector<Tensor> { return {logical_not(as_bool(c.tensor(0, "x")))}; });
    numpy("ZerosLike", unary(strata::zeros_like));
    numpy("OnesLike", unary(strata::ones_like));
    numpy("Clip", clip_op);
    // reductions
    numpy("Sum", reduction(Reduce::kSum));
    numpy("Mean", reduction(Reduce::kMean));
    numpy("Max", reduction(Reduce::kMax));
    numpy("Min", reduction(Reduce::kMin));
    numpy("Prod", reduction(Reduce::kProd));
    numpy("Any", reduction(Reduce::kAny));
    numpy("All", reduction(Reduce::kAll));
    numpy("Argmax", arg_reduction(true));
    numpy("Argmin", arg_reduction(false));
    numpy("Amax", reduction(Reduce::kMax));
    numpy("Amin", reduction(Reduce::kMin));
    numpy("Var", variance(false));
    numpy("Std", variance(true));
    numpy("CountNonzero", [](const OpCall& c) -> std::vector<Tensor> {
      return {sum(cast(as_bool(c.tensor(0, "x")), DType::kInt32), axes_of(c), false)};
    });
    numpy("Log2", float_unary([](const Tensor& x, const OpCall&) { return log(x) / std::log(2.0); }));
    numpy("Log10", float_unary([](const Tensor& x, const OpCall&) { return log(x) / std::log(10.0); }));
    numpy("Isnan", [](const OpCall& c) -> std::vector<Tensor> {
      const Tensor x = c.tensor(0, "x");
      return {not_equal(x, x)};  // NaN alone differs from itself; false for integers
    });
    numpy("Swapaxes", [](const OpCall& c) { return moveaxis_op(c, "axis1", "axis2", true); });
    numpy("Moveaxis", [](const OpCall& c) { return moveaxis_op(c, "source", "destination", false); });
    numpy("Flip", flip_op);
    numpy("Ravel", [](const OpCall& c) -> std::vector<Tensor> { return {reshape(c.tensor(0, "x"), Shape{-1})}; });
    numpy("BroadcastTo", [](const OpCall& c) -> std::vector<Tensor> {
      return {broadcast_to(c.tensor(0, "x"), Shape(c.config().int_list("shape", {})))};
    });
    // shapes and indexing
    numpy("Reshape", reshape_op);
    numpy("Transpose", transpose_op);
    numpy("ExpandDims", expand_dims_op);
    numpy("Squeeze", squeeze_op);
    numpy("Concatenate", concatenate_op, true);
    numpy("Stack", stack_op, true);
    numpy("Split", split_op);
    numpy("Take", take_op);
    numpy("Pad", pad_op);
    numpy("Tile", tile_op);
    numpy("GetItem", get_item_op);
    numpy("Round", round_op);
    numpy("Isinf", [](const OpCall& c) -> std::vector<Tensor> {
      const Tensor x = c.tensor(0, "x");
      if (!is_floating(x.dtype())) return {not_equal(x, x)};
      return {equal(abs(x), scalar_like(x, INFINITY))};
    });
    numpy("Isfinite", [](const OpCall& c) -> std::vector<Tensor> {
      const Tensor x = c.tensor(0, "x");
      if (x.dtype() == DType::kBool) return {equal(x, x)};
      return {equal(sub(x, x), zeros_like(x))};  // NaN and infinities give NaN
    });
    numpy("LogicalXor", logical([](const Tensor& a, const Tensor& b) {
      return logical_and(logical_or(a, b), logical_not(logical_and(a, b)));
    }));
    numpy("Repeat", repeat_op);
    numpy("Tril", triangle(true));
    numpy("Triu", triangle(false));
    numpy("Outer", [](const OpCall& c) -> std::vector<Tensor> {
      auto [a, b] = operands(c);
      return {mul(reshape(a, Shape{-1, 1}), reshape(b, Shape{1, -1}))};
    });
    numpy("Average", average_op);
    numpy("Hstack", stacked(true), true);
    numpy("Vstack", stacked(false), true);
    numpy("Copy", unary(strata::identity));
    numpy("NanToNum", nan_to_num_op);
    numpy("Logaddexp", logaddexp_op);
    numpy("DivideNoNan", divide_no_nan_op);
    numpy("FullLike", full_like_op);
    numpy("Tensordot", tensordot_op);
    numpy("Dot", dot_op);
    numpy("Roll", roll_op);
    t.push_back({kLinalg, "Norm", norm_op});
    t.push_back({kImage, "Resize", resize_op});
    t.push_back({kCore, "Slice", slice_op});
    numpy("Einsum", [](const OpCall& c) -> std::vector<Tensor> {
      return {einsum(c.config().required<std::string>("subscripts"), c.all_tensors())};
    });
    t.push_back({kCore, "Cast", cast_op});
    t.push_back({kCore, "StopGradient", unary(strata::stop_gradient)});
    t.push_back({kMath, "Erf", float_unary(strata::erf)});
    t.push_back({kMath, "Rsqrt", float_unary(strata::rsqrt)});
    t.push_back({kMath, "Logsumexp", logsumexp_op});
    // activations
    nn("Relu", float_unary(strata::relu));
    nn("Relu6", float_unary(strata::relu6));
    nn("Sigmoid", float_unary(strata::sigmoid));
    nn("Softplus", float_unary(strata::softplus));
    nn("Softsign", float_unary(strata::softsign));
    nn("Silu", float_unary(silu_op));
    nn("Gelu", float_unary(gelu_op));
    nn("Elu", float_unary(elu_alpha));
    nn("Selu", float_unary(strata::selu));
    nn("Softmax", float_unary(softmax_op));
    nn("LogSoftmax", float_unary(log_softmax_op));
    nn("LeakyRelu", float_unary(leaky_relu_op));
    nn("HardSigmoid", float_unary(hard_sigmoid_op));
    nn("HardSilu", float_unary(hard_silu_op));
    nn("OneHot", one_hot_op);
    nn("Normalize", normalize_op);
    nn("LogSigmoid", float_unary([](const Tensor& x, const OpCall&) { return neg(softplus(neg(x))); }));
    nn("HardTanh", float_unary([](const Tensor& x, const OpCall&) {
      return minimum(maximum(x, scalar_like(x, -1.0)), scalar_like(x, 1.0));
    }));
    nn("MaxPool", pool(true));
    nn("AveragePool", pool(false));
    nn("Moments", moments_op);
    return t;
  }();
  return table;
}

// One op class: the config as Keras 3 wrote it (its keys and their order kept for writing back),
// the call's arguments per node (call_arguments_state.hpp).
class KerasOp final : public Layer, public CallArgumentsLayer {
 public:
  KerasOp(const OpSpec& spec, const std::string& registered, const Config& c)
      : Layer(registered, c), spec_(spec), config_(c.is_object() ? c : Config::object()) {
    config_.erase("trainable");  // Keras 3's op constructors take no trainable
  }

  void set_call_arguments(const Config& arguments) override {
    STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array(), FormatError,
                 ConfigReader::subject_of(*this), ": malformed call arguments ", arguments.dump());
    state_.set(arguments);
  }
  Config call_arguments() const override {
    return state_.latest([this] { return defaults(1); });
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Config arguments = state_.for_call(*this, inputs, [this](std::size_t n) { return defaults(n); });
    auto frame = ErrorContext::push("computing Keras 3 op ", spec_.name, " in layer '", name(), "'");
    auto out = spec_.fn(OpCall(*this, spec_.name, config_, arguments, inputs));
    return out;
  }

  Config get_config() const override {
    Config c = Config::object();
    c["name"] = name();
    for (auto it = config_.begin(); it != config_.end(); ++it) {
      if (it.key() != "name") c[it.key()] = *it;
    }
    return c;
  }

 private:
  // A call from C++: the inputs are the positional arguments (one list for Concatenate and Stack).
  Config defaults(std::size_t inputs) const {
    Config args = Config::array();
    if (spec_.list_input) {
      Config list = Config::array();
      for (std::size_t i = 0; i < inputs; ++i) list.push_back(Config{{"strata.tensor", i}});
      args.push_back(list);
    } else {
      for (std::size_t i = 0; i < inputs; ++i) args.push_back(Config{{"strata.tensor", i}});
    }
    return Config{{"args", args}, {"kwargs", Config::object()}};
  }

  const OpSpec& spec_;
  Config config_;
  CallArgumentsState state_;
};

}  // namespace

void register_keras_ops_layers(Registrar& registrar) {
  for (const OpSpec& spec : specs()) {
    registrar.set_module(ObjectKind::kLayer, spec.module);
    const std::string registered = std::string(spec.module) + ">" + spec.name;
    registrar.add<ObjectKind::kLayer>(registered, [&spec, registered](const Config& c) -> std::shared_ptr<Layer> {
      return std::make_shared<KerasOp>(spec, registered, c);
    });
  }
  registrar.set_module(ObjectKind::kLayer, "keras.layers");
}

}  // namespace strata::layers
