// Convolution layers: Conv1D, Conv2D, DepthwiseConv2D (channels_last only). Conv1D runs
// as a Conv2D over a height-1 image, the way tf.nn.convolution does it; causal padding
// pads the start of the time axis; groups > 1 convolves each channel group separately.
#include "common.hpp"

namespace strata::layers {
namespace {

class ConvBase : public Layer {
 public:
  // rank: 1 or 2 spatial dimensions. depthwise: DepthwiseConv2D (no filters; a
  // depthwise_kernel with depth_multiplier).
  ConvBase(std::string class_name, const Config& c, std::size_t rank, bool depthwise)
      : Layer(std::move(class_name), c), rank_(rank), depthwise_(depthwise) {
    auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
    const ConfigReader r(c, *this);
    if (!depthwise_) {
      filters_ = r.required<std::int64_t>("filters", Range::positive());
    } else {
      depth_multiplier_ = r.optional<std::int64_t>("depth_multiplier", 1, Range::positive());
    }
    // tf-keras's normalize_tuple refuses zero and negative sizes, strides and dilations.
    kernel_size_ = r.int_tuple("kernel_size", rank_, Range::positive());
    strides_ = r.int_tuple("strides", rank_, std::vector<std::int64_t>(rank_, 1), Range::positive());
    dilation_rate_ = r.int_tuple("dilation_rate", rank_, std::vector<std::int64_t>(rank_, 1), Range::positive());
    std::vector<std::string> paddings{"valid", "same"};
    if (rank_ == 1 && !depthwise_) paddings.push_back("causal");
    padding_ = r.one_of("padding", paddings, "valid");
    data_format_ = r.one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
    STRATA_CHECK(data_format_ == "channels_last", ValueError, this->class_name(), " layer '", name(),
                 "': data_format \"channels_first\" is not supported (Strata's convolutions are channels_last); "
                 "transpose the inputs and use data_format \"channels_last\"");
    groups_ = depthwise_ ? 1 : r.optional<std::int64_t>("groups", 1, Range::positive());
    for (std::size_t i = 0; i < rank_; ++i) {  // the dilated window must be countable (output lengths use it)
      checked_add(checked_mul(kernel_size_[i] - 1, dilation_rate_[i], r.describe("the dilated kernel")), 1,
                  r.describe("the dilated kernel"));
    }
    const bool strided = std::any_of(strides_.begin(), strides_.end(), [](std::int64_t s) { return s > 1; });
    const bool dilated = std::any_of(dilation_rate_.begin(), dilation_rate_.end(), [](std::int64_t d) { return d > 1; });
    STRATA_CHECK(!(strided && dilated), ValueError, this->class_name(),
                 ": strides > 1 are not supported together with dilation_rate > 1 (as in Keras)");
    STRATA_CHECK(depthwise_ || filters_ % groups_ == 0, ValueError, this->class_name(),
                 ": filters must be divisible by groups, got filters=", filters_, ", groups=", groups_);
    activation_ = activation_at(c, "activation");
    use_bias_ = r.optional("use_bias", true);
    const char* kernel_key = depthwise_ ? "depthwise_initializer" : "kernel_initializer";
    kernel_initializer_ = initializer_at(c, kernel_key, "glorot_uniform");
    bias_initializer_ = initializer_at(c, "bias_initializer", "zeros");
    kernel_regularizer_ = regularizer_at(c, depthwise_ ? "depthwise_regularizer" : "kernel_regularizer");
    bias_regularizer_ = regularizer_at(c, "bias_regularizer");
    activity_regularizer_ = regularizer_at(c, "activity_regularizer");
    kernel_constraint_ = constraint_at(c, depthwise_ ? "depthwise_constraint" : "kernel_constraint");
    bias_constraint_ = constraint_at(c, "bias_constraint");
  }

  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, rank_ + 2);
    const std::int64_t channels = s.dims().back();
    STRATA_CHECK(channels != Shape::kUnknown, ShapeError, "layer '", name(),
                 "': the channel dimension of the inputs must be known, got ", s.to_string());
    STRATA_CHECK(channels % groups_ == 0, ValueError, "layer '", name(), "': the number of input channels (", channels,
                 ") must be divisible by groups (", groups_, ")");
    std::vector<std::int64_t> kernel_shape = kernel_size_;
    std::int64_t out_channels;
    if (depthwise_) {
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
    kernel_ = add_weight(depthwise_ ? "depthwise_kernel" : "kernel", Shape(kernel_shape), kernel_initializer_, true,
                         kernel_regularizer_, kernel_constraint_);
    if (use_bias_) {
      bias_ = add_weight("bias", Shape{out_channels}, bias_initializer_, true, bias_regularizer_, bias_constraint_);
    }
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    Tensor x = single_input(*this, inputs);
    require_rank(*this, x.shape(), rank_ + 2);
    Tensor kernel = read(kernel_);
    std::pair<std::int64_t, std::int64_t> strides, dilations;
    if (rank_ == 1) {
      if (padding_ == "causal") {
        const std::int64_t left = dilation_rate_[0] * (kernel_size_[0] - 1);
        x = pad(x, {{0, 0}, {left, 0}, {0, 0}});
      }
      x = expand_dims(x, 1);
      kernel = expand_dims(kernel, 0);
      strides = {1, strides_[0]};
      dilations = {1, dilation_rate_[0]};
    } else {
      strides = {strides_[0], strides_[1]};
      dilations = {dilation_rate_[0], dilation_rate_[1]};
    }
    const Padding padding = padding_ == "same" ? Padding::kSame : Padding::kValid;
    Tensor y;
    if (depthwise_) {
      y = depthwise_conv2d(x, kernel, strides, padding, dilations);
    } else if (groups_ == 1) {
      y = conv2d(x, kernel, strides, padding, dilations);
    } else {
      const auto xs = split(x, groups_, -1);
      const auto ks = split(kernel, groups_, -1);
      std::vector<Tensor> ys;
      for (std::int64_t g = 0; g < groups_; ++g) {
        ys.push_back(conv2d(xs[static_cast<std::size_t>(g)], ks[static_cast<std::size_t>(g)], strides, padding, dilations));
      }
      y = concat(ys, -1);
    }
    if (rank_ == 1) y = squeeze(y, {1});
    if (use_bias_) y = bias_add(y, read(bias_));
    y = (*activation_)(y);
    add_activity_regularization(*this, activity_regularizer_, y);
    return {y};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    if (!depthwise_) c["filters"] = filters_;
    c["kernel_size"] = int_list(kernel_size_);
    c["strides"] = int_list(strides_);
    c["padding"] = padding_;
    c["data_format"] = data_format_;
    c["dilation_rate"] = int_list(dilation_rate_);
    c["groups"] = groups_;
    c["activation"] = activation_config(activation_);
    c["use_bias"] = use_bias_;
    if (!depthwise_) c["kernel_initializer"] = serialized_or_null(kernel_initializer_);
    c["bias_initializer"] = serialized_or_null(bias_initializer_);
    if (!depthwise_) c["kernel_regularizer"] = serialized_or_null(kernel_regularizer_);
    c["bias_regularizer"] = serialized_or_null(bias_regularizer_);
    c["activity_regularizer"] = serialized_or_null(activity_regularizer_);
    if (!depthwise_) c["kernel_constraint"] = serialized_or_null(kernel_constraint_);
    c["bias_constraint"] = serialized_or_null(bias_constraint_);
    if (depthwise_) {
      c["depth_multiplier"] = depth_multiplier_;
      c["depthwise_initializer"] = serialized_or_null(kernel_initializer_);
      c["depthwise_regularizer"] = serialized_or_null(kernel_regularizer_);
      c["depthwise_constraint"] = serialized_or_null(kernel_constraint_);
    }
    return c;
  }

 private:
  std::size_t rank_;
  bool depthwise_;
  std::int64_t filters_ = 0, depth_multiplier_ = 1, groups_ = 1;
  std::vector<std::int64_t> kernel_size_, strides_, dilation_rate_;
  std::string padding_, data_format_;
  std::shared_ptr<Activation> activation_;
  bool use_bias_ = true;
  std::shared_ptr<Initializer> kernel_initializer_, bias_initializer_;
  std::shared_ptr<Regularizer> kernel_regularizer_, bias_regularizer_, activity_regularizer_;
  std::shared_ptr<Constraint> kernel_constraint_, bias_constraint_;
  Variable kernel_, bias_;
};

class Conv1D final : public ConvBase {
 public:
  explicit Conv1D(const Config& c) : ConvBase("Conv1D", c, 1, false) {}
};
class Conv2D final : public ConvBase {
 public:
  explicit Conv2D(const Config& c) : ConvBase("Conv2D", c, 2, false) {}
};
class DepthwiseConv2D final : public ConvBase {
 public:
  explicit DepthwiseConv2D(const Config& c) : ConvBase("DepthwiseConv2D", c, 2, true) {}
};

}  // namespace

void register_conv_layers(Registrar& registrar) {
  register_layer<Conv1D>(registrar, "Conv1D");
  register_layer<Conv2D>(registrar, "Conv2D");
  register_layer<DepthwiseConv2D>(registrar, "DepthwiseConv2D");
  // tf-keras's aliases.
  register_layer<Conv1D>(registrar, "Convolution1D");
  register_layer<Conv2D>(registrar, "Convolution2D");
}

}  // namespace strata::layers
