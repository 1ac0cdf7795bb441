#include "common.hpp"

#include <algorithm>
#include <cmath>

#include "strata/graph.hpp"

namespace strata::layers {

// ---- reading config keys ----------------------------------------------------------------
// Readers of this plugin over the SDK's strata::config::reader (no subject: the
// caller's ErrorContext frame names the object).

std::vector<std::int64_t> get_int_tuple(const Config& config, const char* key, std::size_t n,
                                        const std::vector<std::int64_t>& fallback) {
  return reader(config).int_tuple(key, n, fallback);
}

std::vector<std::int64_t> get_int_or_list(const Config& config, const char* key,
                                          const std::vector<std::int64_t>& fallback) {
  return reader(config).int_list(key, fallback);
}

std::optional<std::vector<std::int64_t>> get_optional_dims(const Config& config, const char* key) {
  const std::optional<Shape> shape = reader(config).shape(key);
  if (!shape) return std::nullopt;
  return shape->dims();
}

std::string get_data_format(const Config& config) {
  return reader(config).one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
}

std::string get_padding(const Config& config, const std::vector<std::string>& allowed) {
  return reader(config).one_of("padding", allowed, "valid");
}

// ---- nested objects ---------------------------------------------------------------------

std::shared_ptr<Initializer> initializer_at(const Config& config, const char* key, const char* fallback) {
  auto frame = ErrorContext::push("reading '", key, "'");
  const Config* v = find_key(config, key);
  return get_initializer(v ? *v : Config(fallback));
}

std::shared_ptr<Regularizer> regularizer_at(const Config& config, const char* key) {
  auto frame = ErrorContext::push("reading '", key, "'");
  const Config* v = find_key(config, key);
  return v ? get_regularizer(*v) : nullptr;
}

std::shared_ptr<Constraint> constraint_at(const Config& config, const char* key) {
  auto frame = ErrorContext::push("reading '", key, "'");
  const Config* v = find_key(config, key);
  return v ? get_constraint(*v) : nullptr;
}

bool written_by_keras3(const Config& layer_config) {
  const Config* d = find_key(layer_config, "dtype");
  if (d == nullptr || !d->is_object() || !d->contains("class_name") || !(*d)["class_name"].is_string()) return false;
  const std::string cls = (*d)["class_name"].get<std::string>();
  return cls == "DTypePolicy" || cls == "FloatDTypePolicy";
}

std::shared_ptr<Activation> layer_activation(const Config& layer_config, const Config& value) {
  if (value.is_string() && value.get<std::string>() == "hard_sigmoid" && written_by_keras3(layer_config)) {
    return get_activation(Config(kKeras3HardSigmoid));
  }
  return get_activation(value);
}

std::shared_ptr<Activation> activation_at(const Config& config, const char* key) {
  auto frame = ErrorContext::push("reading '", key, "'");
  const Config* v = find_key(config, key);
  if (v && v->is_string() && v->get<std::string>().empty()) return get_activation(Config("linear"));
  return layer_activation(config, v ? *v : Config("linear"));
}

Config serialized_or_null(const std::shared_ptr<Initializer>& object) {
  return object ? serialize(*object, ObjectKind::kInitializer) : Config(nullptr);
}
Config serialized_or_null(const std::shared_ptr<Regularizer>& object) {
  return object ? serialize(*object, ObjectKind::kRegularizer) : Config(nullptr);
}
Config serialized_or_null(const std::shared_ptr<Constraint>& object) {
  return object ? serialize(*object, ObjectKind::kConstraint) : Config(nullptr);
}

KernelBiasSettings read_kernel_bias_settings(const Config& config) {
  KernelBiasSettings s;
  s.kernel_initializer = initializer_at(config, "kernel_initializer", "glorot_uniform");
  s.bias_initializer = initializer_at(config, "bias_initializer", "zeros");
  s.kernel_regularizer = regularizer_at(config, "kernel_regularizer");
  s.bias_regularizer = regularizer_at(config, "bias_regularizer");
  s.activity_regularizer = regularizer_at(config, "activity_regularizer");
  s.kernel_constraint = constraint_at(config, "kernel_constraint");
  s.bias_constraint = constraint_at(config, "bias_constraint");
  return s;
}

void write_kernel_bias_settings(const KernelBiasSettings& settings, Config& config) {
  config["kernel_initializer"] = serialized_or_null(settings.kernel_initializer);
  config["bias_initializer"] = serialized_or_null(settings.bias_initializer);
  config["kernel_regularizer"] = serialized_or_null(settings.kernel_regularizer);
  config["bias_regularizer"] = serialized_or_null(settings.bias_regularizer);
  config["activity_regularizer"] = serialized_or_null(settings.activity_regularizer);
  config["kernel_constraint"] = serialized_or_null(settings.kernel_constraint);
  config["bias_constraint"] = serialized_or_null(settings.bias_constraint);
}

Config int_list(const std::vector<std::int64_t>& values) {
  Config out = Config::array();
  for (auto v : values) out.push_back(v);
  return out;
}

double round_to_float32(double value) { return static_cast<double>(static_cast<float>(value)); }

// ---- shapes -----------------------------------------------------------------------------

std::int64_t conv_output_length(std::int64_t length, std::int64_t kernel, const std::string& padding,
                                std::int64_t stride, std::int64_t dilation) {
  if (length == Shape::kUnknown) return Shape::kUnknown;
  const std::int64_t dilated = (kernel - 1) * dilation + 1;
  std::int64_t out = length;
  if (padding == "valid") {
    out = length - dilated + 1;
  } else if (padding == "full") {
    out = length + dilated - 1;
  }  // "same" and "causal" keep the length
  // Python's floor division: (out + stride - 1) // stride.
  const std::int64_t num = out + stride - 1;
  return num >= 0 ? num / stride : -((-num + stride - 1) / stride);
}

std::int64_t deconv_output_length(std::int64_t length, std::int64_t kernel, const std::string& padding,
                                  std::optional<std::int64_t> output_padding, std::int64_t stride,
                                  std::int64_t dilation, std::string_view what) {
  if (length == Shape::kUnknown) return Shape::kUnknown;
  const std::int64_t dilated = checked_add(checked_mul(kernel - 1, dilation, what), 1, what);
  if (!output_padding) {
    const std::int64_t scaled = checked_mul(length, stride, what);
    return padding == "valid" ? checked_add(scaled, std::max<std::int64_t>(dilated - stride, 0), what) : scaled;
  }
  const std::int64_t pad = padding == "same" ? dilated / 2 : 0;
  return checked_add(checked_add(checked_mul(length - 1, stride, what), dilated - 2 * pad, what), *output_padding,
                     what);
}

const Tensor& single_input(const Layer& layer, const std::vector<Tensor>& inputs) {
  STRATA_CHECK(inputs.size() == 1, ValueError, "layer '", layer.name(), "' (", layer.class_name(),
               ") takes one input, got ", inputs.size());
  return inputs.front();
}

const Shape& single_shape(const Layer& layer, const std::vector<Shape>& shapes) {
  STRATA_CHECK(shapes.size() == 1, ValueError, "layer '", layer.name(), "' (", layer.class_name(),
               ") takes one input, got ", shapes.size());
  return shapes.front();
}

void require_rank(const Layer& layer, const Shape& shape, std::size_t rank, bool at_least) {
  STRATA_CHECK(shape.has_known_rank(), ShapeError, "layer '", layer.name(), "' (", layer.class_name(),
               ") needs an input of known rank");
  const bool ok = at_least ? shape.rank() >= rank : shape.rank() == rank;
  STRATA_CHECK(ok, ShapeError, "layer '", layer.name(), "' (", layer.class_name(), ") expects an input of rank ",
               at_least ? "at least " : "", rank, ", got shape ", shape.to_string());
}

// ---- op compositions --------------------------------------------------------------------

Tensor reduce_all(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims) {
  return cast(min(cast(x, DType::kFloat32), axes, keepdims), DType::kBool);
}

namespace {

// Noise of `shape` on x's device and dtype from the random op `op`; unknown dimensions are
// taken from x when the graph runs.
Tensor noise_like(const Tensor& x, const Shape& shape, std::optional<std::int64_t> seed, const char* op) {
  std::vector<Tensor> parts;
  const Tensor dynamic = shape.is_fully_defined() ? Tensor() : shape_of(x);
  for (std::size_t i = 0; i < shape.rank(); ++i) {
    const std::int64_t d = shape.dims()[i];
    parts.push_back(d == Shape::kUnknown ? slice(dynamic, {static_cast<std::int64_t>(i)}, {1}) : int_tensor({d}));
  }
  const std::int64_t s1 = seed.value_or(0), s2 = seed ? 1 : 0;
  DeviceScope scope(x.device());
  const Tensor dims = parts.empty() ? int_tensor({}) : concat(parts, 0);
  return execute1(op, {dims}, {{"dtype", x.dtype()}, {"seed", s1}, {"seed2", s2}});
}

}  // namespace

Tensor uniform_noise_like(const Tensor& x, const Shape& shape, std::optional<std::int64_t> seed) {
  if (shape.is_fully_defined()) return random_uniform(shape, x.dtype(), 0.0, 1.0, seed, x.device());
  return noise_like(x, shape, seed, "RandomUniform");
}

Tensor normal_noise_like(const Tensor& x, const Shape& shape, std::optional<std::int64_t> seed) {
  if (shape.is_fully_defined()) return random_normal(shape, x.dtype(), 0.0, 1.0, seed, x.device());
  return noise_like(x, shape, seed, "RandomStandardNormal");
}

Tensor conv2d_transpose(const Tensor& x, const Tensor& filter, const std::vector<std::int64_t>& output_sizes,
                        std::pair<std::int64_t, std::int64_t> strides, Padding padding,
                        std::pair<std::int64_t, std::int64_t> dilations,
                        std::pair<std::int64_t, std::int64_t> offsets) {
  const Attrs attrs{{"strides", std::vector<std::int64_t>{1, strides.first, strides.second, 1}},
                    {"padding", std::string(padding_name(padding))},
                    {"data_format", std::string("NHWC")},
                    {"dilations", std::vector<std::int64_t>{1, dilations.first, dilations.second, 1}}};
  if (output_sizes[0] != Shape::kUnknown && output_sizes[1] != Shape::kUnknown && output_sizes[2] != Shape::kUnknown) {
    return execute1("Conv2DBackpropInput", {int_tensor(output_sizes), filter, x}, attrs);
  }
  if (output_sizes[1] == Shape::kUnknown || output_sizes[2] == Shape::kUnknown) {
    // Unknown spatial sizes: sizes = shape(x) * [1, sh, sw, 0] + [0, oh, ow, c], on the host;
    // the op infers the batch and the channels.
    const Tensor sizes = add(mul(shape_of(x), int_tensor({1, strides.first, strides.second, 0})),
                             int_tensor({0, offsets.first, offsets.second, output_sizes[3]}));
    return execute1("Conv2DBackpropInput", {sizes, filter, x}, attrs);
  }
  // A symbolic batch: the sizes are a run-time tensor, so the op infers no dimension;
  // a reshape with the known ones restores them.
  // sizes = shape(x) * [1, 0, 0, 0] + [0, h, w, c].
  std::vector<std::int64_t> known = output_sizes;
  known[0] = 0;
  // Host ints, as UpSampling's run-time shapes (the runtime's Shape kernel answers on the host).
  const Tensor sizes = add(mul(shape_of(x), int_tensor({1, 0, 0, 0})), int_tensor(known));
  const Tensor y = execute1("Conv2DBackpropInput", {sizes, filter, x}, attrs);
  return reshape(y, Shape(output_sizes));
}

void add_activity_regularization(const Layer& layer, const std::shared_ptr<Regularizer>& regularizer,
                                 const Tensor& output) {
  if (!regularizer) return;
  const Tensor loss = (*regularizer)(output);
  const std::int64_t batch = output.shape().has_known_rank() && output.rank() > 0 ? output.shape()[0] : 1;
  if (batch != Shape::kUnknown) {
    layer.add_loss(output.rank() > 0 ? loss / static_cast<double>(batch) : loss);
    return;
  }
  // Unknown batch (symbolic call): count the rows on the output's device.
  std::vector<std::int64_t> begin(output.rank(), 0), size(output.rank(), 1);
  size[0] = -1;
  layer.add_loss(loss / sum(ones_like(slice(output, begin, size))));
}

namespace {

// Nearest neighbour with half-pixel centres (tf.image.resize's "nearest") for images the
// ResizeNearestNeighbor op does not take (integers): min(floor((o + 0.5) * in / out), in - 1)
// in float32, a Gather per axis.
std::vector<std::int64_t> nearest_indices(std::int64_t in, std::int64_t out) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (std::int64_t o = 0; o < out; ++o) {
    const auto i = static_cast<std::int64_t>(std::floor((static_cast<float>(o) + 0.5f) * scale));
    idx[static_cast<std::size_t>(o)] = std::max<std::int64_t>(0, std::min(i, in - 1));
  }
  return idx;
}

}  // namespace

Tensor resize_images(const Tensor& images, std::int64_t height, std::int64_t width, bool bilinear) {
  Tensor x = images;
  // TensorFlow's bilinear resizing returns float32 for any input; integer images are cast.
  // (Floating images keep their dtype here: float64 stays exact for gradient checks.)
  if (bilinear && !is_floating(x.dtype())) x = cast(x, DType::kFloat32);
  const auto& dims = x.shape().dims();
  if (dims[1] == height && dims[2] == width) return x;
  if (!bilinear && !is_floating(x.dtype())) {
    STRATA_CHECK(dims[1] != Shape::kUnknown && dims[2] != Shape::kUnknown, ShapeError,
                 "resizing images of dtype ", dtype_name(x.dtype()), " (nearest) needs their height and width known, got ",
                 x.shape().to_string());
    if (dims[1] != height) x = gather(x, int_tensor(nearest_indices(dims[1], height)).to(x.device()), 1);
    if (dims[2] != width) x = gather(x, int_tensor(nearest_indices(dims[2], width)).to(x.device()), 2);
    return x;
  }
  // The ops tf.image.resize runs (half-pixel centres, no antialiasing); the height and width
  // of the images may be unknown until the graph runs.
  const Tensor size = int_tensor({height, width});
  return bilinear ? resize_bilinear(x, size, false, true) : resize_nearest_neighbor(x, size, false, true);
}

Tensor positions_along(const Tensor& x, std::int64_t axis, const Shape& at_shape) {
  std::vector<std::int64_t> begin(x.rank(), 0), size(x.rank(), 1);
  size[static_cast<std::size_t>(axis)] = -1;
  const Tensor line = cumsum(cast(ones_like(slice(x, begin, size)), DType::kInt64), axis, /*exclusive=*/true);
  return reshape(line, at_shape);
}

}  // namespace strata::layers
