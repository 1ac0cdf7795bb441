// The functions of strata/ops.hpp: thin wrappers that build attributes and host inputs
// and run ops through the dispatcher.
#include <cctype>
#include <mutex>
#include <unordered_set>

#include "ops/internal.hpp"
#include "strata/plugin/op_def.hpp"

namespace strata {
namespace {

using internal::run_op;

// Looks the definition up once per call site.
#define STRATA_DEF(name)                                   \
  [] () -> const OpDef& {                                  \
    static const OpDef& def = op_def(name);                \
    return def;                                            \
  }()

Tensor one(const OpDef& def, std::vector<Tensor> inputs, const Attrs& attrs = {}) {
  return std::move(run_op(def, std::move(inputs), attrs).front());
}

Tensor axes_tensor(const Tensor& x, const std::vector<std::int64_t>& axes) {
  if (!axes.empty()) return int_tensor(axes);
  STRATA_CHECK(x.shape().has_known_rank(), ShapeError, "reducing over every axis needs a known rank");
  std::vector<std::int64_t> all(x.shape().rank());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  return int_tensor(all);
}

std::vector<std::int64_t> nhwc(std::pair<std::int64_t, std::int64_t> hw) { return {1, hw.first, hw.second, 1}; }

std::pair<std::int64_t, std::int64_t> explicit_seed(std::optional<std::int64_t> seed) {
  // (0, 0) asks the dispatcher for fresh seeds at every execution; an explicit seed gives
  // the same values every time (seed2 = 1 keeps an explicit 0 distinct from "unseeded").
  return seed ? std::pair<std::int64_t, std::int64_t>{*seed, 1} : std::pair<std::int64_t, std::int64_t>{0, 0};
}

Tensor random_op(const char* op, const Shape& shape, DType dtype, std::optional<std::int64_t> seed, const Device& device) {
  STRATA_CHECK(shape.is_fully_defined(), ShapeError, op, " needs a fully defined shape, got ", shape.to_string());
  const auto [s1, s2] = explicit_seed(seed);
  DeviceScope scope(device);
  return execute1(op, {int_tensor(shape.dims())}, {{"dtype", dtype}, {"seed", s1}, {"seed2", s2}});
}

}  // namespace

// ---- creation -------------------------------------------------------------------------------

Tensor int_tensor(const std::vector<std::int64_t>& values) {
  return Tensor::from_vector<std::int64_t>(values, Shape{static_cast<std::int64_t>(values.size())}, Device::cpu());
}

namespace {
Tensor host_scalar(double value, DType dtype, const Device& device) {
  switch (dtype) {
    case DType::kFloat32: return Tensor::scalar<float>(static_cast<float>(value), device);
    case DType::kFloat64: return Tensor::scalar<double>(value, device);
    case DType::kInt32: return Tensor::scalar<std::int32_t>(static_cast<std::int32_t>(value), device);
    case DType::kInt64: return Tensor::scalar<std::int64_t>(static_cast<std::int64_t>(value), device);
    case DType::kInt8: return Tensor::scalar<std::int8_t>(static_cast<std::int8_t>(value), device);
    case DType::kUInt8: return Tensor::scalar<std::uint8_t>(static_cast<std::uint8_t>(value), device);
    case DType::kBool: return Tensor::from_bools({value != 0.0 ? std::uint8_t{1} : std::uint8_t{0}}, Shape{}, device);
    case DType::kFloat16: return Tensor::scalar<float16>(float16(static_cast<float>(value)), device);
    case DType::kBFloat16: return Tensor::scalar<bfloat16>(bfloat16(static_cast<float>(value)), device);
    default: break;
  }
  STRATA_THROW(ValueError, "cannot make a ", dtype_name(dtype), " scalar from a number");
}
}  // namespace

Tensor fill(const Shape& shape, double value, DType dtype, const Device& device) {
  STRATA_CHECK(shape.is_fully_defined(), ShapeError, "fill needs a fully defined shape, got ", shape.to_string());
  return one(STRATA_DEF("Fill"), {int_tensor(shape.dims()), host_scalar(value, dtype, device)});
}
Tensor zeros(const Shape& shape, DType dtype, const Device& device) { return fill(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, const Device& device) { return fill(shape, 1.0, dtype, device); }
Tensor zeros_like(const Tensor& x) { return one(STRATA_DEF("ZerosLike"), {x}); }
Tensor ones_like(const Tensor& x) { return one(STRATA_DEF("OnesLike"), {x}); }
Tensor scalar_like(const Tensor& x, double value) { return host_scalar(value, x.dtype(), x.device()); }

// ---- element-wise ----------------------------------------------------------------------------

#define STRATA_BINARY(fn, op) \
  Tensor fn(const Tensor& a, const Tensor& b) { return one(STRATA_DEF(op), {a, b}); }
STRATA_BINARY(add, "AddV2")
STRATA_BINARY(sub, "Sub")
STRATA_BINARY(mul, "Mul")
STRATA_BINARY(div, "RealDiv")
STRATA_BINARY(maximum, "Maximum")
STRATA_BINARY(minimum, "Minimum")
STRATA_BINARY(pow, "Pow")
STRATA_BINARY(squared_difference, "SquaredDifference")
STRATA_BINARY(equal, "Equal")
STRATA_BINARY(not_equal, "NotEqual")
STRATA_BINARY(greater, "Greater")
STRATA_BINARY(greater_equal, "GreaterEqual")
STRATA_BINARY(less, "Less")
STRATA_BINARY(less_equal, "LessEqual")
STRATA_BINARY(logical_and, "LogicalAnd")
STRATA_BINARY(logical_or, "LogicalOr")
STRATA_BINARY(atan2, "Atan2")
#undef STRATA_BINARY

#define STRATA_UNARY(fn, op) \
  Tensor fn(const Tensor& x) { return one(STRATA_DEF(op), {x}); }
STRATA_UNARY(neg, "Neg")
STRATA_UNARY(abs, "Abs")
STRATA_UNARY(sign, "Sign")
STRATA_UNARY(square, "Square")
STRATA_UNARY(sqrt, "Sqrt")
STRATA_UNARY(rsqrt, "Rsqrt")
STRATA_UNARY(reciprocal, "Reciprocal")
STRATA_UNARY(exp, "Exp")
STRATA_UNARY(log, "Log")
STRATA_UNARY(log1p, "Log1p")
STRATA_UNARY(erf, "Erf")
STRATA_UNARY(erfc, "Erfc")
STRATA_UNARY(floor, "Floor")
STRATA_UNARY(sin, "Sin")
STRATA_UNARY(cos, "Cos")
STRATA_UNARY(tan, "Tan")
STRATA_UNARY(asin, "Asin")
STRATA_UNARY(acos, "Acos")
STRATA_UNARY(atan, "Atan")
STRATA_UNARY(sinh, "Sinh")
STRATA_UNARY(cosh, "Cosh")
STRATA_UNARY(asinh, "Asinh")
STRATA_UNARY(acosh, "Acosh")
STRATA_UNARY(atanh, "Atanh")
STRATA_UNARY(identity, "Identity")
STRATA_UNARY(stop_gradient, "StopGradient")
STRATA_UNARY(logical_not, "LogicalNot")
STRATA_UNARY(relu, "Relu")
STRATA_UNARY(relu6, "Relu6")
STRATA_UNARY(elu, "Elu")
STRATA_UNARY(selu, "Selu")
STRATA_UNARY(sigmoid, "Sigmoid")
STRATA_UNARY(tanh, "Tanh")
STRATA_UNARY(softplus, "Softplus")
STRATA_UNARY(softsign, "Softsign")
#undef STRATA_UNARY

Tensor add_n(const std::vector<Tensor>& xs) {
  STRATA_CHECK(!xs.empty(), ValueError, "add_n needs at least one tensor");
  if (xs.size() == 1) return xs.front();
  return one(STRATA_DEF("AddN"), xs);
}

Tensor select(const Tensor& condition, const Tensor& if_true, const Tensor& if_false) {
  return one(STRATA_DEF("SelectV2"), {condition, if_true, if_false});
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }

Tensor gelu(const Tensor& x, bool approximate) { return one(STRATA_DEF("Gelu"), {x}, {{"approximate", approximate}}); }

namespace {
Tensor last_axis_op(const OpDef& def, const Tensor& x, std::int64_t axis) {
  STRATA_CHECK(x.shape().has_known_rank(), ShapeError, def.name, " needs a known rank");
  const auto rank = static_cast<std::int64_t>(x.rank());
  const std::int64_t a = static_cast<std::int64_t>(x.shape().normalize_axis(axis));
  if (a == rank - 1) return one(def, {x});
  std::vector<std::int64_t> perm(static_cast<std::size_t>(rank));
  for (std::int64_t i = 0; i < rank; ++i) perm[static_cast<std::size_t>(i)] = i;
  std::swap(perm[static_cast<std::size_t>(a)], perm.back());
  return transpose(one(def, {transpose(x, perm)}), perm);
}
}  // namespace

Tensor softmax(const Tensor& x, std::int64_t axis) { return last_axis_op(STRATA_DEF("Softmax"), x, axis); }
Tensor log_softmax(const Tensor& x, std::int64_t axis) { return last_axis_op(STRATA_DEF("LogSoftmax"), x, axis); }

// ---- reductions ------------------------------------------------------------------------------

#define STRATA_REDUCE(fn, op)                                                               \
  Tensor fn(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims) {        \
    return one(STRATA_DEF(op), {x, axes_tensor(x, axes)}, {{"keep_dims", keepdims}});       \
  }
STRATA_REDUCE(sum, "Sum")
STRATA_REDUCE(mean, "Mean")
STRATA_REDUCE(max, "Max")
STRATA_REDUCE(min, "Min")
STRATA_REDUCE(prod, "Prod")
#undef STRATA_REDUCE

Tensor argmax(const Tensor& x, std::int64_t axis, DType output_type) {
  return one(STRATA_DEF("ArgMax"), {x, int_tensor({axis}).reshape(Shape{})}, {{"output_type", output_type}});
}

Tensor cumprod(const Tensor& x, std::int64_t axis, bool exclusive, bool reverse) {
  return one(STRATA_DEF("Cumprod"), {x, int_tensor({axis}).reshape(Shape{})},
             {{"exclusive", exclusive}, {"reverse", reverse}});
}

Tensor cumsum(const Tensor& x, std::int64_t axis, bool exclusive, bool reverse) {
  return one(STRATA_DEF("Cumsum"), {x, int_tensor({axis}).reshape(Shape{})},
             {{"exclusive", exclusive}, {"reverse", reverse}});
}

// ---- shapes and indexing ------------------------------------------------------------------------

Tensor reshape(const Tensor& x, const Shape& shape) {
  STRATA_CHECK(shape.has_known_rank(), ShapeError, "reshape needs a target of known rank");
  return one(STRATA_DEF("Reshape"), {x, int_tensor(shape.dims())});
}

Tensor transpose(const Tensor& x, const std::vector<std::int64_t>& perm) {
  return one(STRATA_DEF("Transpose"), {x, int_tensor(perm)});
}

Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis) {
  STRATA_CHECK(!xs.empty(), ValueError, "concat needs at least one tensor");
  if (xs.size() == 1) return xs.front();
  std::vector<Tensor> inputs = xs;
  inputs.push_back(int_tensor({axis}).reshape(Shape{}));
  return one(STRATA_DEF("ConcatV2"), std::move(inputs), {{"N", static_cast<std::int64_t>(xs.size())}});
}

Tensor stack(const std::vector<Tensor>& xs, std::int64_t axis) {
  STRATA_CHECK(!xs.empty(), ValueError, "stack needs at least one tensor");
  return one(STRATA_DEF("Pack"), xs, {{"axis", axis}, {"N", static_cast<std::int64_t>(xs.size())}});
}

std::vector<Tensor> split(const Tensor& x, std::int64_t num_splits, std::int64_t axis) {
  return run_op(STRATA_DEF("Split"), {int_tensor({axis}).reshape(Shape{}), x}, {{"num_split", num_splits}});
}

Tensor slice(const Tensor& x, const std::vector<std::int64_t>& begin, const std::vector<std::int64_t>& size) {
  return one(STRATA_DEF("Slice"), {x, int_tensor(begin), int_tensor(size)});
}

Tensor strided_slice(const Tensor& x, const std::vector<std::int64_t>& begin, const std::vector<std::int64_t>& end,
                     const std::vector<std::int64_t>& strides, const StridedSliceMasks& m) {
  return one(STRATA_DEF("StridedSlice"), {x, int_tensor(begin), int_tensor(end), int_tensor(strides)},
             {{"begin_mask", m.begin_mask},
              {"end_mask", m.end_mask},
              {"ellipsis_mask", m.ellipsis_mask},
              {"new_axis_mask", m.new_axis_mask},
              {"shrink_axis_mask", m.shrink_axis_mask}});
}

Tensor pad(const Tensor& x, const std::vector<std::pair<std::int64_t, std::int64_t>>& paddings) {
  std::vector<std::int64_t> flat;
  for (const auto& [before, after] : paddings) {
    flat.push_back(before);
    flat.push_back(after);
  }
  const Tensor p = int_tensor(flat).reshape(Shape{static_cast<std::int64_t>(paddings.size()), 2});
  return one(STRATA_DEF("Pad"), {x, p});
}

Tensor tile(const Tensor& x, const std::vector<std::int64_t>& multiples) {
  return one(STRATA_DEF("Tile"), {x, int_tensor(multiples)});
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  return one(STRATA_DEF("BroadcastTo"), {x, int_tensor(shape.dims())});
}

Tensor gather(const Tensor& params, const Tensor& indices, std::int64_t axis, std::int64_t batch_dims) {
  return one(STRATA_DEF("GatherV2"), {params, indices, int_tensor({axis}).reshape(Shape{})},
             {{"batch_dims", batch_dims}});
}

Tensor one_hot(const Tensor& indices, std::int64_t depth, double on_value, double off_value, DType dtype,
               std::int64_t axis) {
  return one(STRATA_DEF("OneHot"),
             {indices, int_tensor({depth}).reshape(Shape{}), host_scalar(on_value, dtype, indices.device()),
              host_scalar(off_value, dtype, indices.device())},
             {{"axis", axis}});
}

Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  return one(STRATA_DEF("Cast"), {x}, {{"DstT", dtype}, {"Truncate", false}});
}

Tensor expand_dims(const Tensor& x, std::int64_t axis) {
  return one(STRATA_DEF("ExpandDims"), {x, int_tensor({axis}).reshape(Shape{})});
}

Tensor squeeze(const Tensor& x, const std::vector<std::int64_t>& axes) {
  return one(STRATA_DEF("Squeeze"), {x}, {{"squeeze_dims", axes}});
}

Tensor shape_of(const Tensor& x) { return one(STRATA_DEF("Shape"), {x}, {{"out_type", DType::kInt64}}); }

// ---- neural network ----------------------------------------------------------------------------

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  const bool matrices = a.shape().has_known_rank() && b.shape().has_known_rank() && a.rank() == 2 && b.rank() == 2;
  if (matrices) {
    return one(STRATA_DEF("MatMul"), {a, b}, {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}});
  }
  return one(STRATA_DEF("BatchMatMulV2"), {a, b}, {{"adj_x", transpose_a}, {"adj_y", transpose_b}});
}

Tensor bias_add(const Tensor& x, const Tensor& bias) {
  return one(STRATA_DEF("BiasAdd"), {x, bias}, {{"data_format", std::string("NHWC")}});
}

std::string_view padding_name(Padding p) noexcept { return p == Padding::kSame ? "SAME" : "VALID"; }

Padding padding_from_name(std::string_view name) {
  std::string lower;
  for (char ch : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "same") return Padding::kSame;
  if (lower == "valid") return Padding::kValid;
  STRATA_THROW(ValueError, "padding must be 'valid' or 'same', got '", name, "'");
}

namespace {
Attrs conv_attrs(std::pair<std::int64_t, std::int64_t> strides, Padding padding,
                 std::pair<std::int64_t, std::int64_t> dilations) {
  return {{"strides", nhwc(strides)},
          {"padding", std::string(padding_name(padding))},
          {"data_format", std::string("NHWC")},
          {"dilations", nhwc(dilations)}};
}
Attrs pool_attrs(std::pair<std::int64_t, std::int64_t> ksize, std::pair<std::int64_t, std::int64_t> strides,
                 Padding padding) {
  return {{"ksize", nhwc(ksize)},
          {"strides", nhwc(strides)},
          {"padding", std::string(padding_name(padding))},
          {"data_format", std::string("NHWC")}};
}
}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& filter, std::pair<std::int64_t, std::int64_t> strides, Padding padding,
              std::pair<std::int64_t, std::int64_t> dilations) {
  return one(STRATA_DEF("Conv2D"), {input, filter}, conv_attrs(strides, padding, dilations));
}

Tensor depthwise_conv2d(const Tensor& input, const Tensor& filter, std::pair<std::int64_t, std::int64_t> strides,
                        Padding padding, std::pair<std::int64_t, std::int64_t> dilations) {
  return one(STRATA_DEF("DepthwiseConv2dNative"), {input, filter}, conv_attrs(strides, padding, dilations));
}

Tensor max_pool2d(const Tensor& input, std::pair<std::int64_t, std::int64_t> ksize,
                  std::pair<std::int64_t, std::int64_t> strides, Padding padding) {
  return one(STRATA_DEF("MaxPool"), {input}, pool_attrs(ksize, strides, padding));
}

Tensor avg_pool2d(const Tensor& input, std::pair<std::int64_t, std::int64_t> ksize,
                  std::pair<std::int64_t, std::int64_t> strides, Padding padding) {
  return one(STRATA_DEF("AvgPool"), {input}, pool_attrs(ksize, strides, padding));
}

// ---- random ------------------------------------------------------------------------------------

Tensor random_normal(const Shape& shape, DType dtype, double mean, double stddev, std::optional<std::int64_t> seed,
                     const Device& device) {
  Tensor z = random_op("RandomStandardNormal", shape, dtype, seed, device);
  if (stddev != 1.0) z = z * stddev;
  if (mean != 0.0) z = z + mean;
  return z;
}

Tensor random_uniform(const Shape& shape, DType dtype, double minval, double maxval, std::optional<std::int64_t> seed,
                      const Device& device) {
  STRATA_CHECK(maxval > minval, ValueError, "random_uniform needs maxval > minval, got [", minval, ", ", maxval, ")");
  Tensor u = random_op("RandomUniform", shape, dtype, seed, device);
  if (maxval - minval != 1.0) u = u * (maxval - minval);
  if (minval != 0.0) u = u + minval;
  return u;
}

Tensor truncated_normal(const Shape& shape, DType dtype, double mean, double stddev, std::optional<std::int64_t> seed,
                        const Device& device) {
  Tensor z = random_op("TruncatedNormal", shape, dtype, seed, device);
  if (stddev != 1.0) z = z * stddev;
  if (mean != 0.0) z = z + mean;
  return z;
}

// ---- variables ---------------------------------------------------------------------------------

namespace {
struct KeptDtypes {
  std::mutex mutex;
  std::unordered_set<std::uint64_t> ids;
};
KeptDtypes& kept_dtypes() {
  static auto* kept = new KeptDtypes();
  return *kept;
}
bool keeps_dtype(const Variable& variable) {
  KeptDtypes& kept = kept_dtypes();
  std::lock_guard lock(kept.mutex);
  return kept.ids.count(variable.id()) > 0;
}
}  // namespace

void internal::keep_dtype_under_autocast(const Variable& variable) {
  KeptDtypes& kept = kept_dtypes();
  std::lock_guard lock(kept.mutex);
  kept.ids.insert(variable.id());
}

namespace {
// read() inside an autocast scope: Keras's AutoCastVariable, a float32 variable read inside a
// mixed-precision layer's call is its value in the compute dtype (a Cast, through which
// gradients reach the variable).
[[gnu::noinline]] Tensor autocast_read(const Variable& variable) {
  Tensor value;
  if (is_tracing()) {
    value = internal::capture_variable(variable);
  } else {
    value = variable.value();
    internal::note_variable_read(variable, value);
  }
  const DType autocast = internal::thread_state().autocast;
  if (autocast == DType::kInvalid || value.dtype() != DType::kFloat32 || keeps_dtype(variable)) return value;
  return cast(value, autocast);
}
}  // namespace

Tensor read(const Variable& variable) {
  if (internal::autocast_used()) [[unlikely]] return autocast_read(variable);
  if (is_tracing()) return internal::capture_variable(variable);
  Tensor value = variable.value();
  internal::note_variable_read(variable, value);
  return value;
}

void assign_variable(const Variable& variable, const Tensor& value_in) {
  // In an autocast scope a value computed from autocast reads goes back to the variable's
  // dtype, as Keras's AutoCastVariable.assign casts it.
  Tensor value = value_in;
  if (internal::autocast_used() && internal::thread_state().autocast != DType::kInvalid && value.defined() &&
      is_floating(value.dtype()) && is_floating(variable.dtype()) && value.dtype() != variable.dtype()) {
    value = cast(value, variable.dtype());
  }
  if (is_tracing()) return internal::record_assign(variable, value);
  STRATA_CHECK(!value.is_symbolic(), ValueError, "cannot assign a symbolic tensor to variable '", variable.name(),
               "' outside a trace");
  Variable v = variable;
  v.assign(value);
}

// ---- images ------------------------------------------------------------------------------

Tensor resize_bilinear(const Tensor& images, const Tensor& size, bool align_corners, bool half_pixel_centers) {
  return one(STRATA_DEF("ResizeBilinear"), {images, size},
             {{"align_corners", align_corners}, {"half_pixel_centers", half_pixel_centers}});
}

Tensor resize_nearest_neighbor(const Tensor& images, const Tensor& size, bool align_corners, bool half_pixel_centers) {
  return one(STRATA_DEF("ResizeNearestNeighbor"), {images, size},
             {{"align_corners", align_corners}, {"half_pixel_centers", half_pixel_centers}});
}

}  // namespace strata
