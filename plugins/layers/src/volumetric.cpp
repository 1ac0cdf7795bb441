// Volumetric (3-D) layers: Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D and the
// 3-D global poolings, channels_last. There are no 3-D kernels: each layer is composed of
// the 2-D window ops every backend has (Conv2D, Conv2DBackpropInput, MaxPool, AvgPool) and
// array ops, so every backend runs them and their gradients come from those ops.
//
// - Conv3D gathers the kernel-depth taps x[:, kd*dilation :: stride] of the (depth-padded)
//   input side by side in the channel axis (a depth im2col, kernel_depth copies of the
//   input) and runs one Conv2D per group over (batch * out_depth, H, W, taps * channels).
// - Conv3DTranspose runs one Conv2DBackpropInput over (batch * depth, H, W, C) whose
//   filter holds every kernel-depth slice side by side, then places slice kd of the
//   result at depth offsets i * stride + kd (zero insertion, padding) and crops to
//   tf-keras's output length, as TensorFlow's Conv3DBackpropInputV2 does.
// - Pooling is separable: a 2-D pooling over (H, W), then one over depth with a (pool_d, 1)
//   window; tf-keras's average pooling counts the valid positions of a 3-D window, which is
//   the product of the per-axis counts, so averaging twice equals it.
#include "common.hpp"
#include "strata/plugin/window.hpp"

namespace strata::layers {
namespace {

Padding padding_of(const std::string& padding) {
  return padding == "same" ? Padding::kSame : Padding::kValid;
}

// The depth, height, width and channels of a rank-5 channels_last input; ShapeError naming
// the layer when one is unknown (the 2-D compositions reshape with them).
std::vector<std::int64_t> known_volume_dims(const Layer& layer, const Shape& s) {
  require_rank(layer, s, 5);
  const std::vector<std::int64_t> dims(s.dims().begin() + 1, s.dims().end());
  for (auto d : dims) {
    STRATA_CHECK(d != Shape::kUnknown, ShapeError, ConfigReader::subject_of(layer),
                 ": the depth, height, width and channels of the inputs must be known (3-D layers run as 2-D ops "
                 "over reshaped inputs), got ",
                 s.to_string());
  }
  return dims;
}

// Keras's conv_utils.deconv_output_length (no dilation: tf-keras's Conv3DTranspose passes none).
std::int64_t deconv_output_length(std::int64_t length, std::int64_t kernel, const std::string& padding,
                                  std::optional<std::int64_t> output_padding, std::int64_t stride) {
  if (length == Shape::kUnknown) return Shape::kUnknown;
  if (!output_padding) {
    if (padding == "valid") return length * stride + std::max<std::int64_t>(kernel - stride, 0);
    return length * stride;  // same
  }
  const std::int64_t pad = padding == "same" ? kernel / 2 : 0;
  return (length - 1) * stride + kernel - 2 * pad + *output_padding;
}

// Conv3D and Conv3DTranspose: tf-keras's Conv3D config (Conv3DTranspose drops
// dilation_rate and adds output_padding).
class Conv3DBase : public Layer {
 public:
  Conv3DBase(std::string class_name, const Config& c, bool transpose)
      : Layer(std::move(class_name), c), transpose_(transpose) {
    auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
    const ConfigReader r(c, *this);
    filters_ = r.required<std::int64_t>("filters", Range::positive());
    kernel_size_ = r.int_tuple("kernel_size", 3, Range::positive());
    strides_ = r.int_tuple("strides", 3, {1, 1, 1}, Range::positive());
    padding_ = r.one_of("padding", {"valid", "same"}, "valid");
    data_format_ = r.one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
    STRATA_CHECK(data_format_ == "channels_last", ValueError, r.subject(),
                 ": data_format \"channels_first\" is not supported (Strata's convolutions are channels_last); "
                 "transpose the inputs and use data_format \"channels_last\"");
    dilation_rate_ = r.int_tuple("dilation_rate", 3, {1, 1, 1}, Range::positive());
    groups_ = r.optional<std::int64_t>("groups", 1, Range::positive());
    for (std::size_t i = 0; i < 3; ++i) {  // the dilated window must be countable (output lengths use it)
      checked_add(checked_mul(kernel_size_[i] - 1, dilation_rate_[i], r.describe("the dilated kernel")), 1,
                  r.describe("the dilated kernel"));
    }
    const bool strided = std::any_of(strides_.begin(), strides_.end(), [](std::int64_t s) { return s > 1; });
    const bool dilated =
        std::any_of(dilation_rate_.begin(), dilation_rate_.end(), [](std::int64_t d) { return d > 1; });
    STRATA_CHECK(!(strided && dilated), ValueError, r.subject(),
                 ": strides > 1 are not supported together with dilation_rate > 1 (as in Keras)");
    STRATA_CHECK(filters_ % groups_ == 0, ValueError, r.subject(),
                 ": filters must be divisible by groups, got filters=", filters_, ", groups=", groups_);
    if (transpose_) {
      // tf-keras 2.17's Conv3DTranspose neither applies nor writes dilation_rate (Keras 3 applies
      // it): refused rather than computing one of the two silently.
      STRATA_CHECK(!dilated, ValueError, r.subject(),
                   ": dilation_rate other than 1 is not supported (tf-keras 2.17's Conv3DTranspose ignores it "
                   "and Keras 3 applies it)");
      if (r.has("output_padding")) {
        const auto op = r.int_tuple("output_padding", 3, {0, 0, 0}, Range::non_negative());
        for (std::size_t i = 0; i < 3; ++i) {
          STRATA_CHECK(op[i] < strides_[i], ValueError, r.subject(),
                       ": strides must be greater than output_padding, got strides=", int_list(strides_).dump(),
                       ", output_padding=", int_list(op).dump());
        }
        output_padding_ = op;
      }
    }
    activation_ = activation_at(c, "activation");
    use_bias_ = r.optional("use_bias", true);
    kernel_initializer_ = initializer_at(c, "kernel_initializer", "glorot_uniform");
    bias_initializer_ = initializer_at(c, "bias_initializer", "zeros");
    kernel_regularizer_ = regularizer_at(c, "kernel_regularizer");
    bias_regularizer_ = regularizer_at(c, "bias_regularizer");
    activity_regularizer_ = regularizer_at(c, "activity_regularizer");
    kernel_constraint_ = constraint_at(c, "kernel_constraint");
    bias_constraint_ = constraint_at(c, "bias_constraint");
  }

  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, 5);
    const std::int64_t channels = s.dims().back();
    STRATA_CHECK(channels != Shape::kUnknown, ShapeError, "layer '", name(),
                 "': the channel dimension of the inputs must be known, got ", s.to_string());
    std::vector<std::int64_t> kernel_shape = kernel_size_;
    if (transpose_) {  // tf-keras: (kd, kh, kw, filters, input channels); groups are not applied
      kernel_shape.push_back(filters_);
      kernel_shape.push_back(channels);
    } else {
      STRATA_CHECK(channels % groups_ == 0, ValueError, "layer '", name(), "': the number of input channels (",
                   channels, ") must be divisible by groups (", groups_, ")");
      kernel_shape.push_back(channels / groups_);
      kernel_shape.push_back(filters_);
    }
    checked_element_count(kernel_shape, ConfigReader::subject_of(*this) + ": the kernel");
    kernel_ =
        add_weight("kernel", Shape(kernel_shape), kernel_initializer_, true, kernel_regularizer_, kernel_constraint_);
    if (use_bias_) {
      bias_ = add_weight("bias", Shape{filters_}, bias_initializer_, true, bias_regularizer_, bias_constraint_);
    }
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    Tensor y = transpose_ ? conv3d_transpose(x) : conv3d(x);
    if (use_bias_) y = bias_add(y, read(bias_));
    y = (*activation_)(y);
    add_activity_regularization(*this, activity_regularizer_, y);
    return {y};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["filters"] = filters_;
    c["kernel_size"] = int_list(kernel_size_);
    c["strides"] = int_list(strides_);
    c["padding"] = padding_;
    c["data_format"] = data_format_;
    if (!transpose_) c["dilation_rate"] = int_list(dilation_rate_);
    c["groups"] = groups_;
    c["activation"] = activation_config(activation_);
    c["use_bias"] = use_bias_;
    c["kernel_initializer"] = serialized_or_null(kernel_initializer_);
    c["bias_initializer"] = serialized_or_null(bias_initializer_);
    c["kernel_regularizer"] = serialized_or_null(kernel_regularizer_);
    c["bias_regularizer"] = serialized_or_null(bias_regularizer_);
    c["activity_regularizer"] = serialized_or_null(activity_regularizer_);
    c["kernel_constraint"] = serialized_or_null(kernel_constraint_);
    c["bias_constraint"] = serialized_or_null(bias_constraint_);
    if (transpose_) c["output_padding"] = output_padding_ ? int_list(*output_padding_) : Config(nullptr);
    return c;
  }

 private:
  // (N, D, H, W, C) -> (N, D', H', W', filters).
  Tensor conv3d(Tensor x) const {
    const auto dims = known_volume_dims(*this, x.shape());
    const std::int64_t depth = dims[0], height = dims[1], width = dims[2], channels = dims[3];
    const std::int64_t kd = kernel_size_[0], sd = strides_[0], dd = dilation_rate_[0];
    const std::int64_t effective = (kd - 1) * dd + 1;
    STRATA_CHECK(padding_ == "same" || depth >= effective, ShapeError, ConfigReader::subject_of(*this),
                 ": the input depth ", depth, " is smaller than the dilated kernel depth ", effective,
                 " (padding \"valid\")");
    const WindowDim wd = window_dim(depth, kd, sd, dd, padding_of(padding_));
    if (wd.pad_before > 0 || wd.pad_after > 0)
      x = pad(x, {{0, 0}, {wd.pad_before, wd.pad_after}, {0, 0}, {0, 0}, {0, 0}});
    const std::int64_t out_depth = wd.out;
    // Tap k: x[:, k*dd : k*dd + (out_depth - 1)*sd + 1 : sd], every other axis whole.
    StridedSliceMasks whole;
    whole.begin_mask = whole.end_mask = 0b11101;
    std::vector<Tensor> taps;
    for (std::int64_t k = 0; k < kd; ++k) {
      taps.push_back(strided_slice(x, {0, k * dd, 0, 0, 0}, {0, k * dd + (out_depth - 1) * sd + 1, 0, 0, 0},
                                   {1, sd, 1, 1, 1}, whole));
    }
    // (N, D', H, W, kd, C); channels of group g of tap k at (g, k) so that each group's
    // channels are contiguous and tap-major, as the kernel below.
    Tensor stacked = stack(taps, 4);
    const std::int64_t cg = channels / groups_;
    if (groups_ > 1) {
      stacked = reshape(stacked, Shape{-1, out_depth, height, width, kd, groups_, cg});
      stacked = transpose(stacked, {0, 1, 2, 3, 5, 4, 6});
    }
    const Tensor images = reshape(stacked, Shape{-1, height, width, kd * channels});
    // (kd, kh, kw, cg, F) -> (kh, kw, kd * cg, F)
    const Tensor kernel =
        reshape(transpose(read(kernel_), {1, 2, 0, 3, 4}), Shape{kernel_size_[1], kernel_size_[2], kd * cg, filters_});
    const std::pair<std::int64_t, std::int64_t> strides{strides_[1], strides_[2]};
    const std::pair<std::int64_t, std::int64_t> dilations{dilation_rate_[1], dilation_rate_[2]};
    const Padding padding = padding_of(padding_);
    Tensor y;
    if (groups_ == 1) {
      y = conv2d(images, kernel, strides, padding, dilations);
    } else {
      const auto xs = split(images, groups_, -1);
      const auto ks = split(kernel, groups_, -1);
      std::vector<Tensor> ys;
      for (std::size_t g = 0; g < xs.size(); ++g) ys.push_back(conv2d(xs[g], ks[g], strides, padding, dilations));
      y = concat(ys, -1);
    }
    const auto& yd = y.shape().dims();
    return reshape(y, Shape{-1, out_depth, yd[1], yd[2], filters_});
  }

  // (N, D, H, W, C) -> (N, D', H', W', filters), TensorFlow's conv3d_transpose with tf-keras's
  // output lengths.
  Tensor conv3d_transpose(const Tensor& x) const {
    const auto dims = known_volume_dims(*this, x.shape());
    const std::int64_t channels = dims[3];
    const auto pad_of = [&](std::size_t i) {
      return output_padding_ ? std::optional<std::int64_t>((*output_padding_)[i]) : std::nullopt;
    };
    std::vector<std::int64_t> out(3);
    std::vector<WindowDim> forward(3);
    for (std::size_t i = 0; i < 3; ++i) {
      out[i] = deconv_output_length(dims[i], kernel_size_[i], padding_, pad_of(i), strides_[i]);
      // The transposed convolution is the adjoint of the forward one over the output; it must
      // give back the input's length (TensorFlow refuses otherwise, too).
      const bool fits = out[i] > 0 && (padding_ == "same" || out[i] >= kernel_size_[i]);
      if (fits) forward[i] = window_dim(out[i], kernel_size_[i], strides_[i], 1, padding_of(padding_));
      STRATA_CHECK(fits && forward[i].out == dims[i], ShapeError, ConfigReader::subject_of(*this),
                   ": the output length ", out[i], " of spatial axis ", i,
                   " cannot be convolved back to the input length ", dims[i], " (kernel ", kernel_size_[i], ", stride ",
                   strides_[i], ", padding \"", padding_, "\")");
    }
    const std::int64_t depth = dims[0], kd = kernel_size_[0], sd = strides_[0];
    // (kd, kh, kw, F, C) -> (kh, kw, kd * F, C): one transposed 2-D convolution gives every tap.
    const Tensor filter = reshape(transpose(read(kernel_), {1, 2, 0, 3, 4}),
                                  Shape{kernel_size_[1], kernel_size_[2], kd * filters_, channels});
    const Tensor images = reshape(x, Shape{-1, dims[1], dims[2], channels});
    const std::int64_t batch = x.shape().dims()[0];
    Tensor sizes;
    if (batch != Shape::kUnknown) {
      sizes = int_tensor({batch * depth, out[1], out[2], kd * filters_});
    } else {
      sizes = concat(
          {mul(slice(shape_of(x), {0}, {1}), int_tensor({depth})), int_tensor({out[1], out[2], kd * filters_})}, 0);
    }
    const Attrs attrs{{"strides", std::vector<std::int64_t>{1, strides_[1], strides_[2], 1}},
                      {"padding", std::string(padding_name(padding_of(padding_)))},
                      {"data_format", std::string("NHWC")},
                      {"dilations", std::vector<std::int64_t>{1, 1, 1, 1}}};
    Tensor z = execute1("Conv2DBackpropInput", {sizes, filter, images}, attrs);
    z = reshape(z, Shape{-1, depth, out[1], out[2], kd * filters_});
    // Zero insertion: input depth i lands at i * sd.
    std::int64_t length = depth;
    if (sd > 1) {
      z = pad(expand_dims(z, 2), {{0, 0}, {0, 0}, {0, sd - 1}, {0, 0}, {0, 0}, {0, 0}});
      length = depth * sd;
      z = reshape(z, Shape{-1, length, out[1], out[2], kd * filters_});
    }
    // Tap k adds its slice at depth offset k; the full result has length + kd - 1 positions.
    const auto parts = split(z, kd, -1);
    std::vector<Tensor> shifted;
    for (std::int64_t k = 0; k < kd; ++k) {
      shifted.push_back(pad(parts[static_cast<std::size_t>(k)], {{0, 0}, {k, kd - 1 - k}, {0, 0}, {0, 0}, {0, 0}}));
    }
    Tensor full = kd == 1 ? shifted[0] : add_n(shifted);
    const std::int64_t full_length = length + kd - 1, begin = forward[0].pad_before;
    if (begin + out[0] > full_length) {
      full = pad(full, {{0, 0}, {0, begin + out[0] - full_length}, {0, 0}, {0, 0}, {0, 0}});
    }
    if (begin > 0 || begin + out[0] < full_length) full = slice(full, {0, begin, 0, 0, 0}, {-1, out[0], -1, -1, -1});
    return full;
  }

  bool transpose_;
  std::int64_t filters_ = 0, groups_ = 1;
  std::vector<std::int64_t> kernel_size_, strides_, dilation_rate_;
  std::optional<std::vector<std::int64_t>> output_padding_;
  std::string padding_, data_format_;
  std::shared_ptr<Activation> activation_;
  bool use_bias_ = true;
  std::shared_ptr<Initializer> kernel_initializer_, bias_initializer_;
  std::shared_ptr<Regularizer> kernel_regularizer_, bias_regularizer_, activity_regularizer_;
  std::shared_ptr<Constraint> kernel_constraint_, bias_constraint_;
  Variable kernel_, bias_;
};

class Conv3D final : public Conv3DBase {
 public:
  explicit Conv3D(const Config& c) : Conv3DBase("Conv3D", c, false) {}
};
class Conv3DTranspose final : public Conv3DBase {
 public:
  explicit Conv3DTranspose(const Config& c) : Conv3DBase("Conv3DTranspose", c, true) {}
};

enum class PoolKind { kMax, kAverage };

class Pooling3D : public Layer {
 public:
  Pooling3D(std::string class_name, const Config& c, PoolKind kind) : Layer(std::move(class_name), c), kind_(kind) {
    auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
    const ConfigReader r(c, *this);
    pool_size_ = r.int_tuple("pool_size", 3, {2, 2, 2}, Range::positive());
    strides_ = r.int_tuple("strides", 3, pool_size_, Range::positive());
    padding_ = r.one_of("padding", {"valid", "same"}, "valid");
    data_format_ = r.one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    Tensor x = single_input(*this, inputs);
    require_rank(*this, x.shape(), 5);
    const bool first = data_format_ == "channels_first";
    if (first) x = transpose(x, {0, 2, 3, 4, 1});
    const auto dims = known_volume_dims(*this, x.shape());
    const std::int64_t depth = dims[0], height = dims[1], width = dims[2], channels = dims[3];
    if (padding_ == "valid") {
      for (std::size_t i = 0; i < 3; ++i) {
        STRATA_CHECK(dims[i] >= pool_size_[i], ShapeError, ConfigReader::subject_of(*this), ": the pool size ",
                     int_list(pool_size_).dump(), " does not fit the inputs ", x.shape().to_string(),
                     " (padding \"valid\")");
      }
    }
    const Padding padding = padding_of(padding_);
    auto pool = [&](const Tensor& t, std::pair<std::int64_t, std::int64_t> k, std::pair<std::int64_t, std::int64_t> s) {
      return kind_ == PoolKind::kMax ? max_pool2d(t, k, s, padding) : avg_pool2d(t, k, s, padding);
    };
    Tensor y = pool(reshape(x, Shape{-1, height, width, channels}), {pool_size_[1], pool_size_[2]},
                    {strides_[1], strides_[2]});
    const std::int64_t out_h = y.shape().dims()[1], out_w = y.shape().dims()[2];
    y = pool(reshape(y, Shape{-1, depth, out_h * out_w, channels}), {pool_size_[0], 1}, {strides_[0], 1});
    y = reshape(y, Shape{-1, y.shape().dims()[1], out_h, out_w, channels});
    if (first) y = transpose(y, {0, 4, 1, 2, 3});
    return {y};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["pool_size"] = int_list(pool_size_);
    c["padding"] = padding_;
    c["strides"] = int_list(strides_);
    c["data_format"] = data_format_;
    return c;
  }

 private:
  PoolKind kind_;
  std::vector<std::int64_t> pool_size_, strides_;
  std::string padding_, data_format_;
};

class GlobalPooling3D : public Layer {
 public:
  GlobalPooling3D(std::string class_name, const Config& c, PoolKind kind)
      : Layer(std::move(class_name), c), kind_(kind) {
    auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
    const ConfigReader r(c, *this);
    data_format_ = r.one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
    keepdims_ = r.optional("keepdims", false);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    require_rank(*this, x.shape(), 5);
    const std::vector<std::int64_t> axes =
        data_format_ == "channels_first" ? std::vector<std::int64_t>{2, 3, 4} : std::vector<std::int64_t>{1, 2, 3};
    return {kind_ == PoolKind::kMax ? max(x, axes, keepdims_) : mean(x, axes, keepdims_)};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["data_format"] = data_format_;
    c["keepdims"] = keepdims_;
    return c;
  }

 private:
  PoolKind kind_;
  std::string data_format_;
  bool keepdims_ = false;
};

class MaxPooling3D final : public Pooling3D {
 public:
  explicit MaxPooling3D(const Config& c) : Pooling3D("MaxPooling3D", c, PoolKind::kMax) {}
};
class AveragePooling3D final : public Pooling3D {
 public:
  explicit AveragePooling3D(const Config& c) : Pooling3D("AveragePooling3D", c, PoolKind::kAverage) {}
};
class GlobalMaxPooling3D final : public GlobalPooling3D {
 public:
  explicit GlobalMaxPooling3D(const Config& c) : GlobalPooling3D("GlobalMaxPooling3D", c, PoolKind::kMax) {}
};
class GlobalAveragePooling3D final : public GlobalPooling3D {
 public:
  explicit GlobalAveragePooling3D(const Config& c) : GlobalPooling3D("GlobalAveragePooling3D", c, PoolKind::kAverage) {}
};

}  // namespace

void register_volumetric_layers(Registrar& registrar) {
  register_layer<Conv3D>(registrar, "Conv3D");
  register_layer<Conv3DTranspose>(registrar, "Conv3DTranspose");
  register_layer<MaxPooling3D>(registrar, "MaxPooling3D");
  register_layer<AveragePooling3D>(registrar, "AveragePooling3D");
  register_layer<GlobalMaxPooling3D>(registrar, "GlobalMaxPooling3D");
  register_layer<GlobalAveragePooling3D>(registrar, "GlobalAveragePooling3D");
  // tf-keras's aliases (tf_keras.layers has these six).
  register_layer<Conv3D>(registrar, "Convolution3D");
  register_layer<Conv3DTranspose>(registrar, "Convolution3DTranspose");
  register_layer<MaxPooling3D>(registrar, "MaxPool3D");
  register_layer<AveragePooling3D>(registrar, "AvgPool3D");
  register_layer<GlobalMaxPooling3D>(registrar, "GlobalMaxPool3D");
  register_layer<GlobalAveragePooling3D>(registrar, "GlobalAvgPool3D");
}

}  // namespace strata::layers
