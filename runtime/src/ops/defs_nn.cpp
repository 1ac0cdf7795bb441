// Neural-network ops: matrix products, bias, softmax, convolutions and pooling.
#include "ops/defs_common.hpp"
#include "strata/plugin/window.hpp"

namespace strata::internal {
namespace {

std::int64_t merge_dim(std::int64_t a, std::int64_t b, std::string_view op, const char* what) {
  STRATA_CHECK(a < 0 || b < 0 || a == b, ShapeError, "op ", op, ": ", what, " differ (", a, " vs ", b, ")");
  return a < 0 ? b : a;
}

Metas infer_matmul(const InferContext& c) {
  require_same_dtypes(c, 0, 2);
  const Shape& a = c.shape(0);
  const Shape& b = c.shape(1);
  STRATA_CHECK(a.has_known_rank() && a.rank() == 2 && b.has_known_rank() && b.rank() == 2, ShapeError,
               "MatMul needs two matrices, got ", a.to_string(), " and ", b.to_string(), " (use BatchMatMulV2 for batches)");
  const bool ta = c.attrs().get_or<bool>("transpose_a", false), tb = c.attrs().get_or<bool>("transpose_b", false);
  const std::int64_t m = ta ? a.dims()[1] : a.dims()[0], ka = ta ? a.dims()[0] : a.dims()[1];
  const std::int64_t kb = tb ? b.dims()[1] : b.dims()[0], n = tb ? b.dims()[0] : b.dims()[1];
  STRATA_CHECK(ka < 0 || kb < 0 || ka == kb, ShapeError, "MatMul: inner dimensions differ: ", a.to_string(),
               ta ? "^T" : "", " · ", b.to_string(), tb ? "^T" : "");
  return {{c.dtype(0), Shape{m, n}}};
}

Metas infer_batch_matmul(const InferContext& c) {
  require_same_dtypes(c, 0, 2);
  const Shape& a = c.shape(0);
  const Shape& b = c.shape(1);
  STRATA_CHECK(a.has_known_rank() && a.rank() >= 2 && b.has_known_rank() && b.rank() >= 2, ShapeError,
               "BatchMatMulV2 needs inputs of rank >= 2, got ", a.to_string(), " and ", b.to_string());
  const bool ta = c.attrs().get_or<bool>("adj_x", false), tb = c.attrs().get_or<bool>("adj_y", false);
  const auto& ad = a.dims();
  const auto& bd = b.dims();
  const std::int64_t m = ta ? ad[ad.size() - 1] : ad[ad.size() - 2], ka = ta ? ad[ad.size() - 2] : ad[ad.size() - 1];
  const std::int64_t kb = tb ? bd[bd.size() - 1] : bd[bd.size() - 2], n = tb ? bd[bd.size() - 2] : bd[bd.size() - 1];
  merge_dim(ka, kb, "BatchMatMulV2", "inner dimensions");
  const Shape batch = broadcast_shapes(Shape(std::vector<std::int64_t>(ad.begin(), ad.end() - 2)),
                                       Shape(std::vector<std::int64_t>(bd.begin(), bd.end() - 2)), "BatchMatMulV2");
  auto dims = batch.dims();
  dims.push_back(m);
  dims.push_back(n);
  return {{c.dtype(0), Shape(std::move(dims))}};
}

// Spatial output size of a window op on an NHWC input.
std::pair<std::int64_t, std::int64_t> spatial_out(const Shape& in, std::int64_t kh, std::int64_t kw, const Attrs& a,
                                                  bool use_dilations) {
  const auto [sh, sw] = nhwc_spatial_attr(a, "strides");
  const auto [dh, dw] = use_dilations ? nhwc_spatial_attr(a, "dilations") : std::pair<std::int64_t, std::int64_t>{1, 1};
  const Padding padding = padding_attr(a);
  const std::int64_t h = in.dims()[1], w = in.dims()[2];
  return {h < 0 || kh < 0 ? Shape::kUnknown : window_dim(h, kh, sh, dh, padding).out,
          w < 0 || kw < 0 ? Shape::kUnknown : window_dim(w, kw, sw, dw, padding).out};
}

void check_nhwc(const InferContext& c, std::size_t i, const char* what) {
  const Shape& s = c.shape(i);
  STRATA_CHECK(s.has_known_rank() && s.rank() == 4, ShapeError, "op ", c.op_name(), " needs a rank-4 ", what,
               ", got ", s.to_string());
  const std::string fmt = c.attrs().get_or<std::string>("data_format", "NHWC");
  STRATA_CHECK(fmt == "NHWC", ValueError, "op ", c.op_name(), " supports data_format NHWC only, got ", fmt);
  const std::string pad = c.attrs().get_or<std::string>("padding", "VALID");
  STRATA_CHECK(pad == "SAME" || pad == "VALID", ValueError, "op ", c.op_name(),
               " supports padding SAME and VALID, got ", pad);
}

Metas infer_conv(const InferContext& c, bool depthwise) {
  require_same_dtypes(c, 0, 2);
  check_nhwc(c, 0, "input");
  const Shape& in = c.shape(0);
  const Shape& f = c.shape(1);
  STRATA_CHECK(f.has_known_rank() && f.rank() == 4, ShapeError, "op ", c.op_name(), " needs a rank-4 filter, got ",
               f.to_string());
  merge_dim(in.dims()[3], f.dims()[2], c.op_name(), "input channels and filter input channels");
  const auto [oh, ow] = spatial_out(in, f.dims()[0], f.dims()[1], c.attrs(), true);
  std::int64_t out_c = f.dims()[3];
  if (depthwise) out_c = (f.dims()[2] < 0 || f.dims()[3] < 0) ? Shape::kUnknown : f.dims()[2] * f.dims()[3];
  return {{c.dtype(0), Shape{in.dims()[0], oh, ow, out_c}}};
}

Metas infer_pool(const InferContext& c) {
  check_nhwc(c, 0, "input");
  const auto [kh, kw] = nhwc_spatial_attr(c.attrs(), "ksize");
  const Shape& in = c.shape(0);
  const auto [oh, ow] = spatial_out(in, kh, kw, c.attrs(), false);
  return {{c.dtype(0), Shape{in.dims()[0], oh, ow, in.dims()[3]}}};
}

// Output = the shape given by host input `i`.
Metas shape_from_input(const InferContext& c, std::size_t i, DType dtype) {
  const auto dims = c.int_values(i);
  return {{dtype, dims ? Shape(*dims) : Shape{Shape::kUnknown, Shape::kUnknown, Shape::kUnknown, Shape::kUnknown}}};
}

// Softmax, LogSoftmax: a floating-point input of rank >= 1, normalised along its last axis.
Metas infer_last_axis(const InferContext& c) {
  require_dtype(c, 0, is_floating(c.dtype(0)), "a floating-point tensor");
  STRATA_CHECK(!c.shape(0).has_known_rank() || c.shape(0).rank() >= 1, ShapeError, "op ", c.op_name(),
               " needs rank >= 1");
  return same_as_input(c);
}

Tensor shape_tensor(const Tensor& t) { return int_tensor(t.shape().dims()); }

// Sums the broadcast batch dimensions of a BatchMatMulV2 gradient down to `shape`.
Tensor reduce_batch(const Tensor& g, const Shape& shape) { return unbroadcast(g, shape); }

// Gradients of MatMul / BatchMatMulV2 (a · b, a transposed when ta, b when tb). `batched`:
// the operands broadcast over leading batch dimensions, which each gradient sums back down.
Grads matmul_grads(const GradientContext& c, bool ta, bool tb, bool batched) {
  const Tensor& a = c.inputs[0];
  const Tensor& b = c.inputs[1];
  const Tensor g = grad_or_zeros(c, 0);
  Grads out(2);
  if (c.needs_grad(0)) {
    const Tensor ga = !ta ? (!tb ? matmul(g, b, false, true) : matmul(g, b))
                          : (!tb ? matmul(b, g, false, true) : matmul(b, g, true, true));
    out[0] = batched ? reduce_batch(ga, a.shape()) : ga;
  }
  if (c.needs_grad(1)) {
    const Tensor gb = !tb ? (!ta ? matmul(a, g, true, false) : matmul(a, g))
                          : (!ta ? matmul(g, a, true, false) : matmul(g, a, true, true));
    out[1] = batched ? reduce_batch(gb, b.shape()) : gb;
  }
  return out;
}

// The three ops of one convolution: the forward op and its gradients with respect to
// the input and the filter (each differentiable again, in terms of the other two).
struct ConvOps {
  const char* forward = nullptr;
  const char* input_grad = nullptr;
  const char* filter_grad = nullptr;
};
constexpr ConvOps kConv2D{"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"};
constexpr ConvOps kDepthwiseConv2D{"DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput",
                                   "DepthwiseConv2dNativeBackpropFilter"};

// conv(input, filter)
OpDef conv_def(const ConvOps& ops, decltype(OpDef::infer) infer) {
  OpDef d;
  d.name = ops.forward;
  d.num_inputs = 2;
  d.infer = std::move(infer);
  d.gradient = [ops](const GradientContext& c) -> Grads {
    const Tensor g = grad_or_zeros(c, 0);
    Grads out(2);
    if (c.needs_grad(0)) out[0] = execute1(ops.input_grad, {shape_tensor(c.inputs[0]), c.inputs[1], g}, c.attrs);
    if (c.needs_grad(1)) out[1] = execute1(ops.filter_grad, {c.inputs[0], shape_tensor(c.inputs[1]), g}, c.attrs);
    return out;
  };
  return d;
}

// input_grad(input_sizes, filter, dy)
OpDef conv_backprop_input(const ConvOps& ops) {
  OpDef d;
  d.name = ops.input_grad;
  d.num_inputs = 3;
  d.host_inputs = {0};
  d.kernel_dtype_input = 1;
  d.infer = [](const InferContext& c) {
    // Sizes known only when the graph runs (a transposed convolution of unknown spatial
    // size): the batch is dy's and the channels are the filter's third dimension (NHWC;
    // HWIO for Conv2D, HWIM for the depthwise op), the rest is unknown.
    if (c.int_values(0) || c.shape(1).rank() != 4 || c.shape(2).rank() != 4) return shape_from_input(c, 0, c.dtype(1));
    return Metas{{c.dtype(1), Shape{c.shape(2)[0], Shape::kUnknown, Shape::kUnknown, c.shape(1)[2]}}};
  };
  d.gradient = [ops](const GradientContext& c) -> Grads {
    const Tensor gg = grad_or_zeros(c, 0);
    Grads out(3);
    if (c.needs_grad(1)) out[1] = execute1(ops.filter_grad, {gg, shape_tensor(c.inputs[1]), c.inputs[2]}, c.attrs);
    if (c.needs_grad(2)) out[2] = execute1(ops.forward, {gg, c.inputs[1]}, c.attrs);
    return out;
  };
  return d;
}

// filter_grad(input, filter_sizes, dy)
OpDef conv_backprop_filter(const ConvOps& ops) {
  OpDef d;
  d.name = ops.filter_grad;
  d.num_inputs = 3;
  d.host_inputs = {1};
  d.infer = [](const InferContext& c) { return shape_from_input(c, 1, c.dtype(0)); };
  d.gradient = [ops](const GradientContext& c) -> Grads {
    const Tensor gg = grad_or_zeros(c, 0);
    Grads out(3);
    if (c.needs_grad(0)) out[0] = execute1(ops.input_grad, {shape_tensor(c.inputs[0]), gg, c.inputs[2]}, c.attrs);
    if (c.needs_grad(2)) out[2] = execute1(ops.forward, {c.inputs[0], gg}, c.attrs);
    return out;
  };
  return d;
}

// MatMul, BatchMatMulV2: `adj_a`, `adj_b` name the attributes that transpose the operands.
OpDef matmul_like(std::string name, decltype(OpDef::infer) infer, const char* adj_a, const char* adj_b, bool batched) {
  OpDef d;
  d.name = std::move(name);
  d.num_inputs = 2;
  d.infer = std::move(infer);
  d.gradient = [adj_a, adj_b, batched](const GradientContext& c) -> Grads {
    const bool ta = c.attrs.get_or<bool>(adj_a, false), tb = c.attrs.get_or<bool>(adj_b, false);
    return matmul_grads(c, ta, tb, batched);
  };
  return d;
}

OpDef matmul_def() { return matmul_like("MatMul", infer_matmul, "transpose_a", "transpose_b", false); }

OpDef batch_matmul_v2_def() { return matmul_like("BatchMatMulV2", infer_batch_matmul, "adj_x", "adj_y", true); }

OpDef bias_add_def() {
  OpDef d;
  d.name = "BiasAdd";
  d.num_inputs = 2;
  d.infer = [](const InferContext& c) -> Metas {
    require_same_dtypes(c, 0, 2);
    const Shape& v = c.shape(0);
    const Shape& b = c.shape(1);
    STRATA_CHECK(b.has_known_rank() && b.rank() == 1, ShapeError, "BiasAdd needs a 1-D bias, got ", b.to_string());
    if (v.has_known_rank()) {
      STRATA_CHECK(v.rank() >= 1, ShapeError, "BiasAdd needs a value of rank >= 1");
      merge_dim(v.dims().back(), b.dims()[0], "BiasAdd", "the last dimension and the bias size");
    }
    return same_as_input(c);
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const Tensor g = grad_or_zeros(c, 0);
    return {g, execute1("BiasAddGrad", {g})};
  };
  return d;
}

OpDef bias_add_grad_def() {
  OpDef d;
  d.name = "BiasAddGrad";
  d.num_inputs = 1;
  d.infer = [](const InferContext& c) -> Metas {
    const Shape& s = c.shape(0);
    STRATA_CHECK(!s.has_known_rank() || s.rank() >= 1, ShapeError, "BiasAddGrad needs rank >= 1");
    return {{c.dtype(0), Shape{s.has_known_rank() ? s.dims().back() : Shape::kUnknown}}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    const Tensor& g = c.inputs[0];
    std::vector<std::int64_t> dims(g.rank(), 1);
    dims.back() = g.shape().dims().back();
    return {broadcast_to(reshape(grad_or_zeros(c, 0), Shape(dims)), g.shape())};
  };
  return d;
}

OpDef softmax_def() {
  OpDef d;
  d.name = "Softmax";
  d.num_inputs = 1;
  d.infer = infer_last_axis;
  d.gradient = [](const GradientContext& c) -> Grads {
    return {execute1("SoftmaxGrad", {c.outputs[0], grad_or_zeros(c, 0)})};
  };
  return d;
}

OpDef log_softmax_def() {
  OpDef d;
  d.name = "LogSoftmax";
  d.num_inputs = 1;
  d.infer = infer_last_axis;
  d.gradient = [](const GradientContext& c) -> Grads {
    const Tensor g = grad_or_zeros(c, 0);
    return {sub(g, mul(exp(c.outputs[0]), sum(g, {-1}, true)))};
  };
  return d;
}

OpDef softmax_grad_def() {
  OpDef d;
  d.name = "SoftmaxGrad";
  d.num_inputs = 2;
  d.infer = [](const InferContext& c) -> Metas {
    require_same_dtypes(c, 0, 2);
    STRATA_CHECK(c.shape(0).is_compatible_with(c.shape(1)), ShapeError, "SoftmaxGrad needs inputs of one shape");
    return {{c.dtype(0), c.shape(0).merge_with(c.shape(1))}};
  };
  d.gradient = [](const GradientContext& c) -> Grads {
    // out = (dy - s) * y with s = sum(dy * y, -1)
    const Tensor& y = c.inputs[0];
    const Tensor& dy = c.inputs[1];
    const Tensor gg = grad_or_zeros(c, 0);
    const Tensor s = sum(mul(dy, y), {-1}, true);
    const Tensor gy = sub(mul(gg, sub(dy, s)), mul(dy, sum(mul(gg, y), {-1}, true)));
    return {gy, execute1("SoftmaxGrad", {y, gg})};
  };
  return d;
}

OpDef conv2d_def() { return conv_def(kConv2D, [](const InferContext& c) { return infer_conv(c, false); }); }

OpDef depthwise_conv2d_native_def() {
  return conv_def(kDepthwiseConv2D, [](const InferContext& c) { return infer_conv(c, true); });
}

OpDef max_pool_def() {
  OpDef d;
  d.name = "MaxPool";
  d.num_inputs = 1;
  d.infer = infer_pool;
  d.gradient = [](const GradientContext& c) -> Grads {
    return {execute1("MaxPoolGrad", {c.inputs[0], c.outputs[0], grad_or_zeros(c, 0)}, c.attrs)};
  };
  return d;
}

OpDef max_pool_grad_def() {
  OpDef d;
  d.name = "MaxPoolGrad";
  d.num_inputs = 3;
  d.infer = [](const InferContext& c) -> Metas { return same_as_input(c); };
  return d;  // no gradient of its own (MaxPoolGradGrad is not provided)
}

OpDef avg_pool_def() {
  OpDef d;
  d.name = "AvgPool";
  d.num_inputs = 1;
  d.infer = infer_pool;
  d.gradient = [](const GradientContext& c) -> Grads {
    return {execute1("AvgPoolGrad", {shape_tensor(c.inputs[0]), grad_or_zeros(c, 0)}, c.attrs)};
  };
  return d;
}

OpDef avg_pool_grad_def() {
  OpDef d;
  d.name = "AvgPoolGrad";
  d.num_inputs = 2;
  d.host_inputs = {0};
  d.kernel_dtype_input = 1;
  d.infer = [](const InferContext& c) { return shape_from_input(c, 0, c.dtype(1)); };
  d.gradient = [](const GradientContext& c) -> Grads {
    return {Tensor(), execute1("AvgPool", {grad_or_zeros(c, 0)}, c.attrs)};
  };
  return d;
}


// ---- image resizing (TensorFlow's ResizeBilinear / ResizeNearestNeighbor) -------------------

void check_resize_attrs(const InferContext& c) {
  STRATA_CHECK(!(c.attrs().get_or<bool>("align_corners", false) && c.attrs().get_or<bool>("half_pixel_centers", false)),
               ValueError, "op ", c.op_name(), ": if half_pixel_centers is true, align_corners must be false");
}

// images [N, H, W, C] and a host `size` input [new_height, new_width]; the output's height
// and width are unknown when size is not known while building (computed at run time).
Metas infer_resize(const InferContext& c, std::size_t size_input, DType dtype) {
  check_resize_attrs(c);
  require_dtype(c, 0, is_floating(c.dtype(0)), "a floating-point tensor");
  const Shape& in = c.shape(0);
  STRATA_CHECK(!in.has_known_rank() || in.rank() == 4, ShapeError, "op ", c.op_name(),
               " needs [batch, height, width, channels] images, got ", in.to_string());
  STRATA_CHECK(!c.shape(size_input).has_known_rank() || c.shape(size_input) == Shape{2} ||
                   c.shape(size_input) == Shape{Shape::kUnknown},
               ShapeError, "op ", c.op_name(), " needs a size of 2 values, got shape ", c.shape(size_input).to_string());
  std::int64_t h = Shape::kUnknown, w = Shape::kUnknown;
  if (const auto size = c.int_values(size_input)) {
    STRATA_CHECK(size->size() == 2 && (*size)[0] > 0 && (*size)[1] > 0, ValueError, "op ", c.op_name(),
                 " needs a positive [height, width] size, got ", Shape(*size).to_string());
    h = (*size)[0];
    w = (*size)[1];
  }
  const std::int64_t n = in.has_known_rank() ? in.dims()[0] : Shape::kUnknown;
  const std::int64_t ch = in.has_known_rank() ? in.dims()[3] : Shape::kUnknown;
  return {{dtype, Shape{n, h, w, ch}}};
}

// [height, width] of NHWC `x`: constants when known, else read with Shape when the graph runs.
Tensor spatial_size(const Tensor& x) {
  if (x.shape().has_known_rank() && x.shape().rank() == 4 && x.shape().dims()[1] != Shape::kUnknown &&
      x.shape().dims()[2] != Shape::kUnknown) {
    return int_tensor({x.shape().dims()[1], x.shape().dims()[2]});
  }
  return slice(shape_of(x), {1}, {2});
}

Attrs resize_attrs(const Attrs& a) {
  return {{"align_corners", a.get_or<bool>("align_corners", false)},
          {"half_pixel_centers", a.get_or<bool>("half_pixel_centers", false)}};
}

// ResizeBilinear(images, size). TensorFlow's op returns float32 for every input dtype;
// Strata's takes floating images only and keeps their dtype (float32 as TensorFlow).
OpDef resize_bilinear_def() {
  OpDef d;
  d.name = "ResizeBilinear";
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = [](const InferContext& c) { return infer_resize(c, 1, c.dtype(0)); };
  d.gradient = [](const GradientContext& c) -> Grads {
    return {execute1("ResizeBilinearGrad", {grad_or_zeros(c, 0), c.inputs[0]}, resize_attrs(c.attrs)), Tensor()};
  };
  return d;
}

// ResizeBilinearGrad(grads, original_image): the gradient with respect to the images.
OpDef resize_bilinear_grad_def() {
  OpDef d;
  d.name = "ResizeBilinearGrad";
  d.num_inputs = 2;
  d.infer = [](const InferContext& c) -> Metas {
    check_resize_attrs(c);
    require_dtype(c, 0, is_floating(c.dtype(0)), "a floating-point tensor");
    return {{c.dtype(0), c.shape(1)}};
  };
  return d;  // no gradient of its own
}

// ResizeNearestNeighbor(images, size).
OpDef resize_nearest_neighbor_def() {
  OpDef d;
  d.name = "ResizeNearestNeighbor";
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = [](const InferContext& c) { return infer_resize(c, 1, c.dtype(0)); };
  d.gradient = [](const GradientContext& c) -> Grads {
    return {execute1("ResizeNearestNeighborGrad", {grad_or_zeros(c, 0), spatial_size(c.inputs[0])},
                     resize_attrs(c.attrs)),
            Tensor()};
  };
  return d;
}

// ResizeNearestNeighborGrad(grads, size): each gradient added to the pixel it was copied from.
OpDef resize_nearest_neighbor_grad_def() {
  OpDef d;
  d.name = "ResizeNearestNeighborGrad";
  d.num_inputs = 2;
  d.host_inputs = {1};
  d.infer = [](const InferContext& c) { return infer_resize(c, 1, c.dtype(0)); };
  return d;  // no gradient of its own
}

}  // namespace

void register_nn_ops(Registrar& r) {
  add_op(r, matmul_def());
  add_op(r, batch_matmul_v2_def());
  add_op(r, bias_add_def());
  add_op(r, bias_add_grad_def());
  add_op(r, softmax_def());
  add_op(r, log_softmax_def());
  add_op(r, softmax_grad_def());
  add_op(r, conv2d_def());
  add_op(r, conv_backprop_input(kConv2D));
  add_op(r, conv_backprop_filter(kConv2D));
  add_op(r, depthwise_conv2d_native_def());
  add_op(r, conv_backprop_input(kDepthwiseConv2D));
  add_op(r, conv_backprop_filter(kDepthwiseConv2D));
  add_op(r, max_pool_def());
  add_op(r, max_pool_grad_def());
  add_op(r, avg_pool_def());
  add_op(r, avg_pool_grad_def());
  add_op(r, resize_bilinear_def());
  add_op(r, resize_bilinear_grad_def());
  add_op(r, resize_nearest_neighbor_def());
  add_op(r, resize_nearest_neighbor_grad_def());
}

}  // namespace strata::internal
