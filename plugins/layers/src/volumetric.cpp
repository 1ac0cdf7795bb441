// Volumetric (3-D) layers: Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D and the
// 3-D global poolings, channels_last. There are no 3-D kernels: each layer is composed of
// the 2-D window ops every backend has (Conv2D, Conv2DBackpropInput, MaxPool, AvgPool) and
// array ops, so every backend runs them and their gradients come from those ops.
//
// - Conv3D runs one Conv2D (per group) over (batch * depth, H, W, C) whose filter holds
//   every kernel-depth slice side by side, then a Conv2D over (batch, depth, H' * W',
//   kd * filters) with a 0/1 selection filter of height kd that adds tap k of depth
//   d * stride + k * dilation; that Conv2D does the depth padding and stride.
// - Conv3DTranspose is its adjoint: one Conv2DBackpropInput over (batch * depth, H, W, C)
//   gives every kernel-depth slice, one over (batch, depth, H' * W', kd * filters) with the
//   selection filter places slice k at depth i * stride + k and crops to tf-keras's output
//   length, as TensorFlow's Conv3DBackpropInputV2 does.
// - Sizes unknown until the graph runs (Input((None, None, None, c))) are read from Shape()
//   then; the channels stay known to shape inference.
// - Pooling is separable: a 2-D pooling over (H, W), then one over depth with a (pool_d, 1)
//   window; tf-keras's average pooling counts the valid positions of a 3-D window, which is
//   the product of the per-axis counts, so averaging twice equals it.
#include "conv.hpp"
#include "strata/plugin/window.hpp"

namespace strata::layers {
namespace {

Padding padding_of(const std::string& padding) {
  return padding == "same" ? Padding::kSame : Padding::kValid;
}

// One entry of a new shape: a constant (>= 0, or -1 to infer it), or axis `axis` of `of`'s
// shape, read from Shape(of) when the graph runs if it is unknown now.
struct Dim {
  std::int64_t value = -1;
  const Tensor* of = nullptr;
  std::int64_t axis = 0;
};
Dim constant(std::int64_t value) { return Dim{value, nullptr, 0}; }
Dim dim_of(const Tensor& t, std::int64_t axis) { return Dim{0, &t, axis}; }

// x reshaped to `dims`. With at most one unknown entry the shape is a constant (the unknown
// one -1); otherwise a run-time shape, ConcatV2 of constants and slices of Shape(t), whose
// constant entries the Reshape's shape inference keeps (known channels survive).
Tensor reshape_to(const Tensor& x, const std::vector<Dim>& dims) {
  std::vector<std::int64_t> values;
  int unknown = 0;
  for (const auto& d : dims) {
    const std::int64_t v = d.of ? d.of->shape().dims()[static_cast<std::size_t>(d.axis)] : d.value;
    if (v < 0) ++unknown;
    values.push_back(v);
  }
  if (unknown <= 1) return reshape(x, Shape(values));
  std::vector<Tensor> parts;
  std::vector<std::int64_t> run;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (!dims[i].of || values[i] >= 0) {
      run.push_back(values[i]);
      continue;
    }
    if (!run.empty()) parts.push_back(int_tensor(run));
    run.clear();
    parts.push_back(slice(shape_of(*dims[i].of), {dims[i].axis}, {1}));
  }
  if (!run.empty()) parts.push_back(int_tensor(run));
  return execute1("Reshape", {x, concat(parts, 0)});
}

// A (kd, 1, ci, co) filter of zeros and ones on x's device and dtype with ones at
// [k, 0, in(k, j), out(k, j)] for j < n: convolving over depth with it moves (or, transposed,
// gathers) channel blocks between kernel-depth taps.
template <class In, class Out>
Tensor selection_filter(const Tensor& like, std::int64_t kd, std::int64_t ci, std::int64_t co, std::int64_t n,
                        In in, Out out) {
  std::vector<double> v(static_cast<std::size_t>(kd * ci * co), 0.0);
  for (std::int64_t k = 0; k < kd; ++k) {
    for (std::int64_t j = 0; j < n; ++j) v[static_cast<std::size_t>((k * ci + in(k, j)) * co + out(k, j))] = 1.0;
  }
  const Shape shape{kd, 1, ci, co};
  if (like.dtype() == DType::kFloat64) return Tensor::from_vector<double>(v, shape, like.device());
  const Tensor f = Tensor::from_vector<float>(std::vector<float>(v.begin(), v.end()), shape, like.device());
  return like.dtype() == DType::kFloat32 ? f : cast(f, like.dtype());
}

// Conv3D and Conv3DTranspose: ConvBase (conv.cpp) reads and writes tf-keras's Conv3D config
// (Conv3DTranspose drops dilation_rate and adds output_padding), adds bias and activation.
class Conv3DBase : public ConvBase {
 protected:
  Conv3DBase(std::string class_name, const Config& c, bool transpose)
      : ConvBase(std::move(class_name), c, 3, transpose ? ConvKind::kTranspose : ConvKind::kConv) {}

  std::int64_t build_kernels(std::int64_t channels) override {
    std::vector<std::int64_t> kernel_shape = kernel_size_;
    if (kind_ == ConvKind::kTranspose) {  // tf-keras: (kd, kh, kw, filters, input channels); no groups
      kernel_shape.push_back(filters_);
      kernel_shape.push_back(channels);
    } else {
      kernel_shape.push_back(channels / groups_);
      kernel_shape.push_back(filters_);
    }
    checked_element_count(kernel_shape, ConfigReader::subject_of(*this) + ": the kernel");
    kernel_ =
        add_weight("kernel", Shape(kernel_shape), kernel_initializer_, true, kernel_regularizer_, kernel_constraint_);
    return filters_;
  }

  Tensor convolve(const Tensor& x) const override {
    return kind_ == ConvKind::kTranspose ? conv3d_transpose(x) : conv3d(x);
  }

 private:
  // (N, D, H, W, C) -> (N, D', H', W', filters): one Conv2D over (N * D, H, W, C) gives
  // every kernel-depth tap's 2-D convolution side by side in the channels, then a Conv2D
  // over (N, D, H' * W', kd * filters) with a selection filter adds tap k of depth
  // d * stride + k * dilation (depth padding and strides are that Conv2D's own).
  Tensor conv3d(const Tensor& x) const {
    const auto& dims = x.shape().dims();
    const std::int64_t depth = dims[1], kd = kernel_size_[0], effective = (kd - 1) * dilation_rate_[0] + 1;
    STRATA_CHECK(padding_ == "same" || depth == Shape::kUnknown || depth >= effective, ShapeError,
                 ConfigReader::subject_of(*this), ": the input depth ", depth,
                 " is smaller than the dilated kernel depth ", effective, " (padding \"valid\")");
    const std::int64_t cg = dims[4] / groups_, fg = filters_ / groups_, taps = kd * filters_;
    // (kd, kh, kw, cg, F) -> (kh, kw, cg, groups * kd * fg): group-major, then tap, then filter.
    const Tensor kernel = reshape(
        transpose(reshape(read(kernel_), Shape{kd, kernel_size_[1], kernel_size_[2], cg, groups_, fg}),
                  {1, 2, 3, 4, 0, 5}),
        Shape{kernel_size_[1], kernel_size_[2], cg, taps});
    const Tensor images = reshape_to(x, {constant(-1), dim_of(x, 2), dim_of(x, 3), dim_of(x, 4)});
    const std::pair<std::int64_t, std::int64_t> strides{strides_[1], strides_[2]};
    const std::pair<std::int64_t, std::int64_t> dilations{dilation_rate_[1], dilation_rate_[2]};
    Tensor y;
    if (groups_ == 1) {
      y = conv2d(images, kernel, strides, op_padding(), dilations);
    } else {
      const auto xs = split(images, groups_, -1);
      const auto ks = split(kernel, groups_, -1);
      std::vector<Tensor> ys;
      for (std::size_t g = 0; g < xs.size(); ++g) ys.push_back(conv2d(xs[g], ks[g], strides, op_padding(), dilations));
      y = concat(ys, -1);
    }
    const Tensor planes = reshape_to(y, {dim_of(x, 0), dim_of(x, 1), constant(-1), constant(taps)});
    // Input channel (g, k, f) of tap k goes to output channel (g, f).
    const Tensor select = selection_filter(
        y, kd, taps, filters_, filters_, [&](std::int64_t k, std::int64_t j) { return (j / fg * kd + k) * fg + j % fg; },
        [](std::int64_t, std::int64_t j) { return j; });
    const Tensor z = conv2d(planes, select, {strides_[0], 1}, op_padding(), {dilation_rate_[0], 1});
    // The output lengths known from the input's (Keras's), else read when the graph runs.
    std::vector<Dim> out{dim_of(x, 0)};
    const Tensor* parts[3] = {&z, &y, &y};
    const std::int64_t axes[3] = {1, 1, 2};
    for (std::size_t i = 0; i < 3; ++i) {
      const std::int64_t n =
          conv_output_length(dims[i + 1], kernel_size_[i], padding_, strides_[i], dilation_rate_[i]);
      out.push_back(n != Shape::kUnknown ? constant(n) : dim_of(*parts[i], axes[i]));
    }
    out.push_back(constant(filters_));
    return reshape_to(z, out);
  }

  // (N, D, H, W, C) -> (N, D', H', W', filters), TensorFlow's conv3d_transpose with tf-keras's
  // output lengths: the adjoint of conv3d above. One Conv2DBackpropInput over (N * D, H, W, C)
  // gives every kernel-depth slice side by side, and one over (N, D, H' * W', kd * filters)
  // with a selection filter places slice k at depth i * stride + k and crops as TensorFlow.
  Tensor conv3d_transpose(const Tensor& x) const {
    const auto& dims = x.shape().dims();
    const std::int64_t channels = dims[4], kd = kernel_size_[0], taps = kd * filters_;
    std::vector<std::int64_t> out(3), offsets(3);
    const std::string what = ConfigReader::subject_of(*this) + ": the output length";
    for (std::size_t i = 0; i < 3; ++i) {
      const std::optional<std::int64_t> op =
          output_padding_ ? std::optional<std::int64_t>((*output_padding_)[i]) : std::nullopt;
      const std::int64_t in = dims[i + 1];
      out[i] = deconv_output_length(in, kernel_size_[i], padding_, op, strides_[i], 1, what);
      // The length is linear in the input's (length · stride + offset): sizes known only when
      // the graph runs.
      offsets[i] = deconv_output_length(1, kernel_size_[i], padding_, op, strides_[i], 1, what) - strides_[i];
      if (in == Shape::kUnknown) continue;
      // The transposed convolution is the adjoint of the forward one over the output; it must
      // give back the input's length (TensorFlow refuses otherwise, too).
      const bool fits = out[i] > 0 && (padding_ == "same" || out[i] >= kernel_size_[i]);
      const WindowDim forward = fits ? window_dim(out[i], kernel_size_[i], strides_[i], 1, op_padding()) : WindowDim{};
      STRATA_CHECK(fits && forward.out == in, ShapeError, ConfigReader::subject_of(*this), ": the output length ",
                   out[i], " of spatial axis ", i, " cannot be convolved back to the input length ", in, " (kernel ",
                   kernel_size_[i], ", stride ", strides_[i], ", padding \"", padding_, "\")");
    }
    // (kd, kh, kw, F, C) -> (kh, kw, kd * F, C)
    const Tensor filter = reshape(transpose(read(kernel_), {1, 2, 0, 3, 4}),
                                  Shape{kernel_size_[1], kernel_size_[2], taps, channels});
    const Tensor images = reshape_to(x, {constant(-1), dim_of(x, 2), dim_of(x, 3), constant(channels)});
    const std::int64_t planes_batch =
        dims[0] == Shape::kUnknown || dims[1] == Shape::kUnknown ? Shape::kUnknown : dims[0] * dims[1];
    const Tensor z = conv2d_transpose(images, filter, {planes_batch, out[1], out[2], taps}, {strides_[1], strides_[2]},
                                      op_padding(), {1, 1}, {offsets[1], offsets[2]});
    const Tensor planes = reshape_to(z, {dim_of(x, 0), dim_of(x, 1), constant(-1), constant(taps)});
    const std::int64_t area = out[1] == Shape::kUnknown || out[2] == Shape::kUnknown ? Shape::kUnknown : out[1] * out[2];
    // The forward selection maps channel f to channel (k, f) of tap k.
    const Tensor select = selection_filter(
        z, kd, filters_, taps, filters_, [](std::int64_t, std::int64_t j) { return j; },
        [&](std::int64_t k, std::int64_t j) { return k * filters_ + j; });
    const Tensor w = conv2d_transpose(planes, select, {dims[0], out[0], area, filters_}, {strides_[0], 1}, op_padding(),
                                      {1, 1}, {offsets[0], 0});
    return reshape_to(w, {dim_of(x, 0), out[0] != Shape::kUnknown ? constant(out[0]) : dim_of(w, 1),
                          out[1] != Shape::kUnknown ? constant(out[1]) : dim_of(z, 1),
                          out[2] != Shape::kUnknown ? constant(out[2]) : dim_of(z, 2), constant(filters_)});
  }

  Variable kernel_;
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
    const auto& dims = x.shape().dims();
    if (padding_ == "valid") {
      for (std::size_t i = 0; i < 3; ++i) {
        STRATA_CHECK(dims[i + 1] == Shape::kUnknown || dims[i + 1] >= pool_size_[i], ShapeError,
                     ConfigReader::subject_of(*this), ": the pool size ", int_list(pool_size_).dump(),
                     " does not fit the inputs ", x.shape().to_string(), " (padding \"valid\")");
      }
    }
    const Padding padding = padding_of(padding_);
    auto pool = [&](const Tensor& t, std::pair<std::int64_t, std::int64_t> k, std::pair<std::int64_t, std::int64_t> s) {
      return kind_ == PoolKind::kMax ? max_pool2d(t, k, s, padding) : avg_pool2d(t, k, s, padding);
    };
    // Sizes unknown until the graph runs are read from Shape() then (reshape_to).
    const Tensor planes = pool(reshape_to(x, {constant(-1), dim_of(x, 2), dim_of(x, 3), dim_of(x, 4)}),
                               {pool_size_[1], pool_size_[2]}, {strides_[1], strides_[2]});
    const Tensor columns = pool(reshape_to(planes, {dim_of(x, 0), dim_of(x, 1), constant(-1), dim_of(x, 4)}),
                                {pool_size_[0], 1}, {strides_[0], 1});
    Tensor y = reshape_to(columns, {dim_of(x, 0), dim_of(columns, 1), dim_of(planes, 1), dim_of(planes, 2), dim_of(x, 4)});
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
