// Convolution layers: Conv1D, Conv2D, DepthwiseConv1D, DepthwiseConv2D (channels_last
// only), and ConvBase, the shared reading of tf-keras's convolution configs (conv.hpp),
// which Conv3D/Conv3DTranspose (volumetric.cpp) use too.
// Conv1D runs as a Conv2D over a height-1 image, the way tf.nn.convolution does it; causal
// padding pads the start of the time axis; groups > 1 convolves each channel group
// separately.
#include "conv.hpp"

namespace strata::layers {

ConvBase::ConvBase(std::string class_name, const Config& c, std::size_t rank, ConvKind kind)
    : Layer(std::move(class_name), c), rank_(rank), kind_(kind) {
  auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
  const ConfigReader r(c, *this);
  const bool depthwise = kind_ == ConvKind::kDepthwise;
  const bool has_depth_multiplier = depthwise || kind_ == ConvKind::kSeparable;
  if (!depthwise) filters_ = r.required<std::int64_t>("filters", Range::positive());
  if (has_depth_multiplier) depth_multiplier_ = r.optional<std::int64_t>("depth_multiplier", 1, Range::positive());
  // tf-keras's normalize_tuple refuses zero and negative sizes, strides and dilations.
  kernel_size_ = r.int_tuple("kernel_size", rank_, Range::positive());
  strides_ = r.int_tuple("strides", rank_, std::vector<std::int64_t>(rank_, 1), Range::positive());
  dilation_rate_ = r.int_tuple("dilation_rate", rank_, std::vector<std::int64_t>(rank_, 1), Range::positive());
  // tf-keras allows causal padding for Conv1D and SeparableConv1D only.
  std::vector<std::string> paddings{"valid", "same"};
  if (rank_ == 1 && (kind_ == ConvKind::kConv || kind_ == ConvKind::kSeparable)) paddings.push_back("causal");
  padding_ = r.one_of("padding", paddings, "valid");
  data_format_ = r.one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
  STRATA_CHECK(data_format_ == "channels_last", ValueError, r.subject(),
               ": data_format \"channels_first\" is not supported (Strata's convolutions are channels_last); "
               "transpose the inputs and use data_format \"channels_last\"");
  // Every tf-keras convolution keeps `groups` (its base Conv reads it); only Conv1D/2D use
  // it, the others write it back unchanged, as tf-keras does.
  groups_ = r.optional<std::int64_t>("groups", 1, Range::positive());
  for (std::size_t i = 0; i < rank_; ++i) {  // the dilated window must be countable (output lengths use it)
    checked_add(checked_mul(kernel_size_[i] - 1, dilation_rate_[i], r.describe("the dilated kernel")), 1,
                r.describe("the dilated kernel"));
  }
  const bool strided = std::any_of(strides_.begin(), strides_.end(), [](std::int64_t s) { return s > 1; });
  const bool dilated = std::any_of(dilation_rate_.begin(), dilation_rate_.end(), [](std::int64_t d) { return d > 1; });
  STRATA_CHECK(!(strided && dilated), ValueError,
               r.describe("strides > 1 are not supported together with dilation_rate > 1 (as in Keras), got strides="),
               int_list(strides_).dump(), ", dilation_rate=", int_list(dilation_rate_).dump());
  STRATA_CHECK(depthwise || filters_ % groups_ == 0, ValueError,
               r.describe("filters must be divisible by groups, got filters="), filters_, ", groups=", groups_);
  if (kind_ == ConvKind::kTranspose) {
    // tf-keras: normalize_tuple(allow_zero=True), then each < its stride.
    if (r.has("output_padding")) {
      output_padding_ = r.int_tuple("output_padding", rank_, Range::non_negative());
      for (std::size_t i = 0; i < rank_; ++i) {
        STRATA_CHECK((*output_padding_)[i] < strides_[i], ValueError, r.describe("strides must be greater than "),
                     "output_padding, got strides=", int_list(strides_).dump(),
                     ", output_padding=", int_list(*output_padding_).dump());
      }
    }
    // tf-keras's Conv2DTranspose runs a dilated kernel through atrous_conv2d_transpose,
    // which takes one rate (it refuses unequal ones when called).
    STRATA_CHECK(rank_ != 2 || dilation_rate_[0] == dilation_rate_[1], ValueError,
                 r.describe("the 2 dimensions of dilation_rate must be equal, got "), int_list(dilation_rate_).dump());
    // tf-keras 2.17's Conv3DTranspose neither applies nor writes dilation_rate (Keras 3 applies
    // it): refused rather than computing one of the two silently.
    STRATA_CHECK(rank_ != 3 || !dilated, ValueError,
                 r.describe("dilation_rate other than 1 is not supported (tf-keras 2.17's Conv3DTranspose ignores it "
                            "and Keras 3 applies it)"));
  }
  activation_ = activation_at(c, "activation");
  use_bias_ = r.optional("use_bias", true);
  if (!depthwise) {
    kernel_initializer_ = initializer_at(c, "kernel_initializer", "glorot_uniform");
    kernel_regularizer_ = regularizer_at(c, "kernel_regularizer");
    kernel_constraint_ = constraint_at(c, "kernel_constraint");
  }
  if (has_depth_multiplier) {
    depthwise_initializer_ = initializer_at(c, "depthwise_initializer", "glorot_uniform");
    depthwise_regularizer_ = regularizer_at(c, "depthwise_regularizer");
    depthwise_constraint_ = constraint_at(c, "depthwise_constraint");
  }
  if (kind_ == ConvKind::kSeparable) {
    pointwise_initializer_ = initializer_at(c, "pointwise_initializer", "glorot_uniform");
    pointwise_regularizer_ = regularizer_at(c, "pointwise_regularizer");
    pointwise_constraint_ = constraint_at(c, "pointwise_constraint");
  }
  bias_initializer_ = initializer_at(c, "bias_initializer", "zeros");
  bias_regularizer_ = regularizer_at(c, "bias_regularizer");
  activity_regularizer_ = regularizer_at(c, "activity_regularizer");
  bias_constraint_ = constraint_at(c, "bias_constraint");
}

void ConvBase::build(const std::vector<Shape>& shapes) {
  const Shape& s = single_shape(*this, shapes);
  require_rank(*this, s, rank_ + 2);
  const std::int64_t channels = s.dims().back();
  STRATA_CHECK(channels != Shape::kUnknown, ShapeError, "layer '", name(),
               "': the channel dimension of the inputs must be known, got ", s.to_string());
  STRATA_CHECK(kind_ != ConvKind::kConv || channels % groups_ == 0, ValueError, "layer '", name(),
               "': the number of input channels (", channels, ") must be divisible by groups (", groups_, ")");
  const std::int64_t out_channels = build_kernels(channels);
  if (use_bias_) {
    bias_ = add_weight("bias", Shape{out_channels}, bias_initializer_, true, bias_regularizer_, bias_constraint_);
  }
}

std::vector<Tensor> ConvBase::call(const std::vector<Tensor>& inputs, const CallContext&) const {
  const Tensor& x = single_input(*this, inputs);
  require_rank(*this, x.shape(), rank_ + 2);
  Tensor y = convolve(x);
  if (use_bias_) y = bias_add(y, read(bias_));
  y = (*activation_)(y);
  add_activity_regularization(*this, activity_regularizer_, y);
  return {y};
}

Config ConvBase::get_config() const {
  const bool depthwise = kind_ == ConvKind::kDepthwise;
  Config c = Layer::get_config();
  if (!depthwise) c["filters"] = filters_;
  c["kernel_size"] = int_list(kernel_size_);
  c["strides"] = int_list(strides_);
  c["padding"] = padding_;
  c["data_format"] = data_format_;
  if (rank_ != 3 || kind_ != ConvKind::kTranspose) c["dilation_rate"] = int_list(dilation_rate_);  // tf-keras pops it
  c["groups"] = groups_;
  c["activation"] = activation_config(activation_);
  c["use_bias"] = use_bias_;
  if (!depthwise) c["kernel_initializer"] = serialized_or_null(kernel_initializer_);
  c["bias_initializer"] = serialized_or_null(bias_initializer_);
  if (!depthwise) c["kernel_regularizer"] = serialized_or_null(kernel_regularizer_);
  c["bias_regularizer"] = serialized_or_null(bias_regularizer_);
  c["activity_regularizer"] = serialized_or_null(activity_regularizer_);
  if (!depthwise) c["kernel_constraint"] = serialized_or_null(kernel_constraint_);
  c["bias_constraint"] = serialized_or_null(bias_constraint_);
  if (depthwise) {
    c["depth_multiplier"] = depth_multiplier_;
    c["depthwise_initializer"] = serialized_or_null(depthwise_initializer_);
    c["depthwise_regularizer"] = serialized_or_null(depthwise_regularizer_);
    c["depthwise_constraint"] = serialized_or_null(depthwise_constraint_);
  } else if (kind_ == ConvKind::kSeparable) {
    c["depth_multiplier"] = depth_multiplier_;
    c["depthwise_initializer"] = serialized_or_null(depthwise_initializer_);
    c["pointwise_initializer"] = serialized_or_null(pointwise_initializer_);
    c["depthwise_regularizer"] = serialized_or_null(depthwise_regularizer_);
    c["pointwise_regularizer"] = serialized_or_null(pointwise_regularizer_);
    c["depthwise_constraint"] = serialized_or_null(depthwise_constraint_);
    c["pointwise_constraint"] = serialized_or_null(pointwise_constraint_);
  } else if (kind_ == ConvKind::kTranspose) {
    c["output_padding"] = output_padding_ ? int_list(*output_padding_) : Config(nullptr);
  }
  return c;
}

std::pair<std::int64_t, std::int64_t> ConvBase::strides_2d() const {
  return rank_ == 1 ? std::pair<std::int64_t, std::int64_t>{1, strides_[0]} : std::pair{strides_[0], strides_[1]};
}

std::pair<std::int64_t, std::int64_t> ConvBase::dilations_2d() const {
  return rank_ == 1 ? std::pair<std::int64_t, std::int64_t>{1, dilation_rate_[0]}
                    : std::pair{dilation_rate_[0], dilation_rate_[1]};
}

Tensor ConvBase::to_2d_input(Tensor x) const {
  if (rank_ != 1) return x;
  if (padding_ == "causal") x = pad(x, {{0, 0}, {dilation_rate_[0] * (kernel_size_[0] - 1), 0}, {0, 0}});
  return expand_dims(x, 1);
}

Tensor ConvBase::to_2d_kernel(const Tensor& kernel) const {
  return rank_ == 1 ? expand_dims(kernel, 0) : kernel;
}

namespace {

// Conv1D/2D (kConv) and DepthwiseConv1D/2D (kDepthwise).
class PlainConv : public ConvBase, public InferenceTraceable {
 protected:
  using ConvBase::ConvBase;

  std::int64_t build_kernels(std::int64_t channels) override {
    std::vector<std::int64_t> kernel_shape = kernel_size_;
    std::int64_t out_channels;
    if (kind_ == ConvKind::kDepthwise) {
      kernel_shape.push_back(channels);
      kernel_shape.push_back(depth_multiplier_);
      out_channels =
          checked_mul(channels, depth_multiplier_, ConfigReader::subject_of(*this) + ": the output channels");
    } else {
      kernel_shape.push_back(channels / groups_);
      kernel_shape.push_back(filters_);
      out_channels = filters_;
    }
    // Sizes from a file: a kernel too large to count is refused before any allocation.
    checked_element_count(kernel_shape, ConfigReader::subject_of(*this) + ": the kernel");
    if (kind_ == ConvKind::kDepthwise) {
      kernel_ = add_weight("depthwise_kernel", Shape(kernel_shape), depthwise_initializer_, true,
                           depthwise_regularizer_, depthwise_constraint_);
    } else {
      kernel_ =
          add_weight("kernel", Shape(kernel_shape), kernel_initializer_, true, kernel_regularizer_, kernel_constraint_);
    }
    return out_channels;
  }

  Tensor convolve(const Tensor& input) const override {
    const Tensor x = to_2d_input(input);
    const Tensor kernel = to_2d_kernel(read(kernel_));
    const auto strides = strides_2d(), dilations = dilations_2d();
    const Padding padding = op_padding();
    Tensor y;
    if (kind_ == ConvKind::kDepthwise) {
      y = depthwise_conv2d(x, kernel, strides, padding, dilations);
    } else if (groups_ == 1) {
      y = conv2d(x, kernel, strides, padding, dilations);
    } else {
      const auto xs = split(x, groups_, -1);
      const auto ks = split(kernel, groups_, -1);
      std::vector<Tensor> ys;
      for (std::int64_t g = 0; g < groups_; ++g) {
        ys.push_back(
            conv2d(xs[static_cast<std::size_t>(g)], ks[static_cast<std::size_t>(g)], strides, padding, dilations));
      }
      y = concat(ys, -1);
    }
    return rank_ == 1 ? squeeze(y, {1}) : y;
  }

 private:
  Variable kernel_;
};

class Conv1D final : public PlainConv {
 public:
  explicit Conv1D(const Config& c) : PlainConv("Conv1D", c, 1, ConvKind::kConv) {}
};
class Conv2D final : public PlainConv {
 public:
  explicit Conv2D(const Config& c) : PlainConv("Conv2D", c, 2, ConvKind::kConv) {}
};
class DepthwiseConv1D final : public PlainConv {
 public:
  explicit DepthwiseConv1D(const Config& c) : PlainConv("DepthwiseConv1D", c, 1, ConvKind::kDepthwise) {}
};
class DepthwiseConv2D final : public PlainConv {
 public:
  explicit DepthwiseConv2D(const Config& c) : PlainConv("DepthwiseConv2D", c, 2, ConvKind::kDepthwise) {}
};

}  // namespace

void register_conv_layers(Registrar& registrar) {
  register_layer<Conv1D>(registrar, "Conv1D");
  register_layer<Conv2D>(registrar, "Conv2D");
  register_layer<DepthwiseConv1D>(registrar, "DepthwiseConv1D");
  register_layer<DepthwiseConv2D>(registrar, "DepthwiseConv2D");
  // tf-keras's aliases.
  register_layer<Conv1D>(registrar, "Convolution1D");
  register_layer<Conv2D>(registrar, "Convolution2D");
}

}  // namespace strata::layers
