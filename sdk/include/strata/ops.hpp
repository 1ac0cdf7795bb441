// Ops as functions and operators, so layers read like the Keras guide:
//
//   Tensor y = relu(matmul(x, w) + b);
//
// Every function here runs one or more ops (named as TensorFlow names them) through
// one dispatch function, which executes eagerly on the inputs' device, records on
// active GradientTapes, and records into a graph when an input is symbolic or a trace is
// active (strata/graph.hpp) — layer code never sees the difference.
//
// Tensor inputs of one op must live on the same device (BackendError otherwise: Strata
// never copies behind your back). Scalars given as numbers are made on the device and
// with the dtype of the tensor they meet.
//
// Errors: ShapeError for shapes that do not fit (naming the op and the shapes),
// ValueError for bad arguments, BackendError when no kernel exists for the op, device
// type and dtype. Thread safety: any function may be called from many threads at once.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/attrs.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata {

// ---- the one dispatch function ----------------------------------------------------------

// Runs op `op` on `inputs` with `attrs` and returns its outputs.
std::vector<Tensor> execute(std::string_view op, std::vector<Tensor> inputs, const Attrs& attrs = {});
// Same, for an op with exactly one output.
Tensor execute1(std::string_view op, std::vector<Tensor> inputs, const Attrs& attrs = {});

// ---- creating tensors ---------------------------------------------------------------------

// A tensor of `shape` filled with `value` cast to `dtype`.
Tensor fill(const Shape& shape, double value, DType dtype = DType::kFloat32, const Device& device = default_device());
Tensor zeros(const Shape& shape, DType dtype = DType::kFloat32, const Device& device = default_device());
Tensor ones(const Shape& shape, DType dtype = DType::kFloat32, const Device& device = default_device());
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
// A scalar with x's dtype on x's device.
Tensor scalar_like(const Tensor& x, double value);
// A 1-D int64 tensor on the cpu (shapes, axes, permutations).
Tensor int_tensor(const std::vector<std::int64_t>& values);

// ---- element-wise (NumPy broadcasting) ---------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b);       // AddV2
Tensor sub(const Tensor& a, const Tensor& b);       // Sub
Tensor mul(const Tensor& a, const Tensor& b);       // Mul
Tensor div(const Tensor& a, const Tensor& b);       // RealDiv
Tensor maximum(const Tensor& a, const Tensor& b);   // Maximum
Tensor minimum(const Tensor& a, const Tensor& b);   // Minimum
Tensor pow(const Tensor& a, const Tensor& b);       // Pow
Tensor squared_difference(const Tensor& a, const Tensor& b);
Tensor add_n(const std::vector<Tensor>& xs);        // AddN, same shapes

Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor erfc(const Tensor& x);  // 1 - erf(x)
Tensor floor(const Tensor& x);
// Trigonometric and hyperbolic functions and their inverses (floating point; radians). The
// inverses give NaN outside their domains (asin/acos: [-1, 1], acosh: [1, inf), atanh:
// (-1, 1)), as TensorFlow's.
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tan(const Tensor& x);
Tensor asin(const Tensor& x);
Tensor acos(const Tensor& x);
Tensor atan(const Tensor& x);
Tensor sinh(const Tensor& x);
Tensor cosh(const Tensor& x);
Tensor asinh(const Tensor& x);
Tensor acosh(const Tensor& x);
Tensor atanh(const Tensor& x);
// The angle of the point (x, y) in (-pi, pi], element-wise with broadcasting (Atan2).
Tensor atan2(const Tensor& y, const Tensor& x);
Tensor identity(const Tensor& x);
// The value of x, through which no gradient flows.
Tensor stop_gradient(const Tensor& x);

Tensor equal(const Tensor& a, const Tensor& b);
Tensor not_equal(const Tensor& a, const Tensor& b);
Tensor greater(const Tensor& a, const Tensor& b);
Tensor greater_equal(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor less_equal(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);
// Element-wise choice, broadcasting all three (SelectV2).
Tensor select(const Tensor& condition, const Tensor& if_true, const Tensor& if_false);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ---- activations ----------------------------------------------------------------------

Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);
Tensor elu(const Tensor& x);
Tensor selu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor softplus(const Tensor& x);
Tensor softsign(const Tensor& x);
// Exact (erf) or tanh-approximated GELU.
Tensor gelu(const Tensor& x, bool approximate = false);
// Softmax / log-softmax over `axis` (the last by default).
Tensor softmax(const Tensor& x, std::int64_t axis = -1);
Tensor log_softmax(const Tensor& x, std::int64_t axis = -1);

// ---- reductions -----------------------------------------------------------------------

// `axes` empty = every axis. Negative axes count from the end.
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
Tensor max(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
Tensor min(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
Tensor prod(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
Tensor argmax(const Tensor& x, std::int64_t axis, DType output_type = DType::kInt64);
// Cumulative product along `axis` (Cumprod).
Tensor cumprod(const Tensor& x, std::int64_t axis, bool exclusive = false, bool reverse = false);
// Cumulative sum along `axis` (Cumsum); exclusive: the sum of the elements before each;
// reverse: from the end. Numbers of every type (integers wrap around).
Tensor cumsum(const Tensor& x, std::int64_t axis, bool exclusive = false, bool reverse = false);

// ---- shapes and indexing --------------------------------------------------------------

// One dimension may be -1 (inferred).
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, const std::vector<std::int64_t>& perm);
Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis);   // ConcatV2
Tensor stack(const std::vector<Tensor>& xs, std::int64_t axis = 0); // Pack
std::vector<Tensor> split(const Tensor& x, std::int64_t num_splits, std::int64_t axis);
// size -1 = to the end of that dimension.
Tensor slice(const Tensor& x, const std::vector<std::int64_t>& begin, const std::vector<std::int64_t>& size);
struct StridedSliceMasks {
  std::int64_t begin_mask = 0, end_mask = 0, ellipsis_mask = 0, new_axis_mask = 0, shrink_axis_mask = 0;
};
Tensor strided_slice(const Tensor& x, const std::vector<std::int64_t>& begin, const std::vector<std::int64_t>& end,
                     const std::vector<std::int64_t>& strides, const StridedSliceMasks& masks = {});
// paddings[i] = {before, after} for dimension i; zeros are padded.
Tensor pad(const Tensor& x, const std::vector<std::pair<std::int64_t, std::int64_t>>& paddings);
Tensor tile(const Tensor& x, const std::vector<std::int64_t>& multiples);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor gather(const Tensor& params, const Tensor& indices, std::int64_t axis = 0, std::int64_t batch_dims = 0);
Tensor one_hot(const Tensor& indices, std::int64_t depth, double on_value = 1.0, double off_value = 0.0,
               DType dtype = DType::kFloat32, std::int64_t axis = -1);
Tensor cast(const Tensor& x, DType dtype);
Tensor expand_dims(const Tensor& x, std::int64_t axis);
// `axes` empty = every dimension of size 1.
Tensor squeeze(const Tensor& x, const std::vector<std::int64_t>& axes = {});
// The shape of x as a 1-D int64 tensor on the cpu (Shape op; symbolic when x is).
Tensor shape_of(const Tensor& x);

// ---- neural network ---------------------------------------------------------------------

// Rank 2: MatMul. Higher ranks: BatchMatMulV2 with batch dimensions broadcast.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// Einstein summation of one or two operands ("abc,cd->abd", "...ij,...jk", "abc->cb"),
// written in Sum, Transpose, Reshape and MatMul/BatchMatMulV2, so every backend runs it and
// gradients come from those ops. Labels are letters; at most one "..." per term (broadcast
// dimensions aligned from the right); without "->" the output is the labels that appear
// once, in alphabetical order, after the broadcast dimensions. ValueError naming the
// equation for a label repeated within one term (diagonals), an output label no input
// has, or more than two operands; ShapeError when a term does not fit its operand.
Tensor einsum(const std::string& equation, const std::vector<Tensor>& inputs);
// Adds a 1-D bias along the last dimension.
Tensor bias_add(const Tensor& x, const Tensor& bias);
enum class Padding { kValid, kSame };
std::string_view padding_name(Padding p) noexcept;  // "VALID", "SAME"
Padding padding_from_name(std::string_view name);   // "valid"/"same", any case
// NHWC input, HWIO filter.
Tensor conv2d(const Tensor& input, const Tensor& filter, std::pair<std::int64_t, std::int64_t> strides = {1, 1},
              Padding padding = Padding::kValid, std::pair<std::int64_t, std::int64_t> dilations = {1, 1});
// NHWC input, [H, W, C, multiplier] filter.
Tensor depthwise_conv2d(const Tensor& input, const Tensor& filter, std::pair<std::int64_t, std::int64_t> strides = {1, 1},
                        Padding padding = Padding::kValid, std::pair<std::int64_t, std::int64_t> dilations = {1, 1});
Tensor max_pool2d(const Tensor& input, std::pair<std::int64_t, std::int64_t> ksize,
                  std::pair<std::int64_t, std::int64_t> strides, Padding padding = Padding::kValid);
Tensor avg_pool2d(const Tensor& input, std::pair<std::int64_t, std::int64_t> ksize,
                  std::pair<std::int64_t, std::int64_t> strides, Padding padding = Padding::kValid);

// ---- images (NHWC) -------------------------------------------------------------------------

// TensorFlow's ResizeBilinear / ResizeNearestNeighbor of [batch, height, width, channels]
// `images` (floating point) to `size` = [new_height, new_width] (a 1-D int32/int64 tensor on
// the cpu; it may be computed when a graph runs, e.g. from shape_of, and then the output's
// height and width are unknown while building). tf.image.resize is half_pixel_centers
// = true; align_corners and half_pixel_centers may not both be true (ValueError).
// Nearest neighbour rounds as TensorFlow does: floor of (o + 0.5) * in / out with half-pixel
// centres, round with align_corners, floor of o * in / out otherwise, in float32.
Tensor resize_bilinear(const Tensor& images, const Tensor& size, bool align_corners = false,
                       bool half_pixel_centers = false);
Tensor resize_nearest_neighbor(const Tensor& images, const Tensor& size, bool align_corners = false,
                               bool half_pixel_centers = false);

// ---- random (counter-based: identical on every backend for the same seeds) ---------------

// Makes every later random op without its own seed deterministic (Keras's
// set_random_seed). Thread safety: may be called concurrently.
void set_random_seed(std::int64_t seed);
Tensor random_normal(const Shape& shape, DType dtype = DType::kFloat32, double mean = 0.0, double stddev = 1.0,
                     std::optional<std::int64_t> seed = std::nullopt, const Device& device = default_device());
// Uniform in [minval, maxval).
Tensor random_uniform(const Shape& shape, DType dtype = DType::kFloat32, double minval = 0.0, double maxval = 1.0,
                      std::optional<std::int64_t> seed = std::nullopt, const Device& device = default_device());
// Normal, redrawn beyond two standard deviations.
Tensor truncated_normal(const Shape& shape, DType dtype = DType::kFloat32, double mean = 0.0, double stddev = 1.0,
                        std::optional<std::int64_t> seed = std::nullopt, const Device& device = default_device());

// ---- variables --------------------------------------------------------------------------

// The variable's current value as an op (ReadVariableOp): watched by tapes that watch
// accessed variables, and recorded as a reference to the variable when tracing, so a
// traced graph sees later assignments. Layers read their weights with read().
Tensor read(const Variable& variable);
// variable = value (TensorFlow's AssignVariableOp). Eagerly it assigns; while tracing it is
// recorded as a side effect of the graph, which assigns each time the graph runs.
void assign_variable(const Variable& variable, const Tensor& value);

}  // namespace strata

STRATA_API_END
