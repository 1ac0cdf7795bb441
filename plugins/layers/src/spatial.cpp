// Layers that pad, crop or repeat the spatial axes, in 1, 2 and 3 dimensions, as tf-keras
// 2.17 writes and computes them: ZeroPadding1D/2D/3D, Cropping1D/2D/3D and
// UpSampling1D/2D/3D (nearest neighbour; UpSampling2D's bilinear interpolation too).
#include <algorithm>
#include <cmath>

#include "common.hpp"

namespace strata::layers {
namespace {

using Pair = std::pair<std::int64_t, std::int64_t>;

// The spatial axes of a rank-(N + 2) input (N = 1, 2, 3).
std::vector<std::int64_t> spatial_axes(std::size_t n, bool channels_first) {
  std::vector<std::int64_t> axes;
  for (std::size_t i = 0; i < n; ++i) axes.push_back(static_cast<std::int64_t>(i) + (channels_first ? 2 : 1));
  return axes;
}

// `key` as N (before, after) pairs, in the forms tf-keras's constructors accept: an int
// (every side), N ints (both sides of each axis) or N pairs; for N = 1 an int or one pair
// written flat. Every value must be >= 0.
std::vector<Pair> read_pairs(const Layer& layer, const Config& c, const char* key, std::size_t n,
                             std::int64_t fallback) {
  const ConfigReader r(c, layer);
  const std::string subject = ConfigReader::subject_of(layer);
  std::vector<Pair> out(n, Pair{fallback, fallback});
  const Config* v = r.find(key);
  if (v == nullptr) return out;
  if (v->is_number()) {
    const auto p = r.required<std::int64_t>(key, Range::non_negative());
    return std::vector<Pair>(n, Pair{p, p});
  }
  const auto describe = [&] {
    return n == 1 ? std::string("an int or a pair of ints")
                  : "an int, " + std::to_string(n) + " ints or " + std::to_string(n) + " pairs of ints";
  };
  if (n == 1) {
    const auto t = r.int_tuple(key, 2, {fallback, fallback}, Range::non_negative());
    return {Pair{t[0], t[1]}};
  }
  STRATA_CHECK(v->is_array() && v->size() == n, FormatError, subject, ": '", key, "' must be ", describe(), ", got ",
               v->dump());
  for (std::size_t i = 0; i < n; ++i) {
    const Config one{{"v", (*v)[i]}};
    const ConfigReader e(one, subject + ": '" + key + "' entry " + std::to_string(i) + ":");
    const auto t = e.int_tuple("v", 2, {0, 0}, Range::non_negative());
    out[i] = {t[0], t[1]};
  }
  return out;
}

Config pairs_config(const std::vector<Pair>& pairs) {
  if (pairs.size() == 1) return int_list({pairs[0].first, pairs[0].second});
  Config out = Config::array();
  for (const auto& [a, b] : pairs) out.push_back(int_list({a, b}));
  return out;
}

// data_format of the 2D/3D layers; the 1D layers of tf-keras have none (channels last).
std::string data_format_of(const Config& c, std::size_t n) { return n == 1 ? "channels_last" : get_data_format(c); }

template <std::size_t N>
class ZeroPadding final : public Layer, public InferenceTraceable {
 public:
  explicit ZeroPadding(const Config& c) : Layer(class_name_of(), c) {
    auto frame = ErrorContext::push("reading the config of ", class_name_of(), " layer '", name(), "'");
    data_format_ = data_format_of(c, N);
    padding_ = read_pairs(*this, c, "padding", N, 1);
  }
  static std::string class_name_of() { return "ZeroPadding" + std::to_string(N) + "D"; }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    require_rank(*this, x.shape(), N + 2);
    std::vector<Pair> paddings(N + 2, Pair{0, 0});
    const auto axes = spatial_axes(N, data_format_ == "channels_first");
    for (std::size_t i = 0; i < N; ++i) paddings[static_cast<std::size_t>(axes[i])] = padding_[i];
    return {pad(x, paddings)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["padding"] = pairs_config(padding_);
    if (N > 1) c["data_format"] = data_format_;
    return c;
  }

 private:
  std::string data_format_;
  std::vector<Pair> padding_;
};

template <std::size_t N>
class Cropping final : public Layer, public InferenceTraceable {
 public:
  explicit Cropping(const Config& c) : Layer(class_name_of(), c) {
    auto frame = ErrorContext::push("reading the config of ", class_name_of(), " layer '", name(), "'");
    data_format_ = data_format_of(c, N);
    cropping_ = read_pairs(*this, c, "cropping", N, N == 2 ? 0 : 1);  // tf-keras: 1, 0, 1
  }
  static std::string class_name_of() { return "Cropping" + std::to_string(N) + "D"; }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    require_rank(*this, x.shape(), N + 2);
    const auto axes = spatial_axes(N, data_format_ == "channels_first");
    std::vector<std::int64_t> begin(N + 2, 0), end(N + 2, 0), strides(N + 2, 1);
    StridedSliceMasks masks;
    for (std::size_t d = 0; d < N + 2; ++d) {
      masks.begin_mask |= std::int64_t{1} << d;
      masks.end_mask |= std::int64_t{1} << d;
    }
    for (std::size_t i = 0; i < N; ++i) {
      const auto axis = static_cast<std::size_t>(axes[i]);
      const auto [before, after] = cropping_[i];
      const std::int64_t dim = x.shape().dims()[axis];
      const std::int64_t cropped = checked_add(before, after, ConfigReader::subject_of(*this) + ": cropping");
      STRATA_CHECK(dim == Shape::kUnknown || cropped < dim, ValueError, ConfigReader::subject_of(*this),
                   ": cropping ", before, " + ", after, " leaves nothing of dimension ", axis, " of the input ",
                   x.shape().to_string());
      begin[axis] = before;
      masks.begin_mask &= ~(std::int64_t{1} << axis);
      if (after > 0) {
        end[axis] = -after;
        masks.end_mask &= ~(std::int64_t{1} << axis);
      }
    }
    return {strided_slice(x, begin, end, strides, masks)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["cropping"] = pairs_config(cropping_);
    if (N > 1) c["data_format"] = data_format_;
    return c;
  }

 private:
  std::string data_format_;
  std::vector<Pair> cropping_;
};

// Repeats every element of `axis` `factor` times (Keras's backend.repeat_elements).
Tensor repeat_elements(const Tensor& x, std::int64_t axis, std::int64_t factor) {
  if (factor == 1) return x;
  const auto a = static_cast<std::size_t>(axis);
  const Tensor expanded = expand_dims(x, axis + 1);
  std::vector<std::int64_t> multiples(x.rank() + 1, 1);
  multiples[a + 1] = factor;
  const Tensor tiled = tile(expanded, multiples);
  std::vector<std::int64_t> dims = x.shape().dims();
  bool known = true;
  for (std::size_t i = 1; i < dims.size(); ++i) known = known && dims[i] != Shape::kUnknown;
  if (known) {  // an unknown batch size (-1) is inferred by Reshape
    dims[a] *= factor;
    return reshape(tiled, Shape(dims));
  }
  // Unknown sizes: the new shape is computed when the graph runs (x's shape times the factor).
  std::vector<std::int64_t> scale(dims.size(), 1);
  scale[a] = factor;
  const Tensor y = execute1("Reshape", {tiled, mul(shape_of(x), int_tensor(scale))});
  // The Reshape's shape inference sees no constant target and leaves every dimension
  // unknown (the channels too, which a Dense or Conv after it needs); adding zeros of the
  // dimensions known here (1 for the unknown ones) gives them back by broadcasting, as
  // runtime/src/ops/einsum.cpp does. Only symbolic calls get here.
  std::vector<std::int64_t> pin;
  bool any = false;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const std::int64_t d = dims[i] == Shape::kUnknown ? 1 : (i == a ? dims[i] * factor : dims[i]);
    pin.push_back(i == 0 ? 1 : d);
    any = any || (i > 0 && d > 1);
  }
  return any ? y + zeros(Shape(pin), y.dtype(), y.device()) : y;
}

// tf.image.resize(method="bilinear") of NHWC (or NCHW: transposed there and back) images
// by integer factors, as tf-keras's backend.resize_images: ResizeBilinear with half-pixel
// centres to the images' size times the factors, read when the graph runs when the height
// or width is unknown while building.
Tensor upsample_bilinear(const Tensor& images, std::int64_t fh, std::int64_t fw, bool channels_first) {
  const Tensor x = channels_first ? transpose(images, {0, 2, 3, 1}) : images;
  const auto& d = x.shape().dims();
  const Tensor size = d[1] != Shape::kUnknown && d[2] != Shape::kUnknown
                          ? int_tensor({d[1] * fh, d[2] * fw})
                          : mul(slice(shape_of(x), {1}, {2}), int_tensor({fh, fw}));
  const Tensor y = resize_bilinear(x, size, false, true);
  return channels_first ? transpose(y, {0, 3, 1, 2}) : y;
}

template <std::size_t N>
class UpSampling final : public Layer {
 public:
  explicit UpSampling(const Config& c) : Layer(class_name_of(), c) {
    auto frame = ErrorContext::push("reading the config of ", class_name_of(), " layer '", name(), "'");
    const ConfigReader r(c, *this);
    data_format_ = data_format_of(c, N);
    if (N == 1) {
      size_ = {r.optional<std::int64_t>("size", 2, Range::positive())};
    } else {
      size_ = r.int_tuple("size", N, std::vector<std::int64_t>(N, 2), Range::positive());
    }
    if (N == 2) interpolation_ = r.one_of("interpolation", {"nearest", "bilinear"}, "nearest");
  }
  static std::string class_name_of() { return "UpSampling" + std::to_string(N) + "D"; }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    Tensor x = single_input(*this, inputs);
    require_rank(*this, x.shape(), N + 2);
    const auto spatial = spatial_axes(N, data_format_ == "channels_first");
    for (std::size_t i = 0; i < N; ++i) {
      // The sizes come from a file: the upsampled dimensions must fit (the products below
      // are then safe).
      const std::int64_t dim = x.shape().dims()[static_cast<std::size_t>(spatial[i])];
      if (dim != Shape::kUnknown) checked_mul(dim, size_[i], ConfigReader::subject_of(*this) + ": the upsampled size");
    }
    if (interpolation_ == "bilinear") {
      if (!is_floating(x.dtype())) x = cast(x, DType::kFloat32);
      return {upsample_bilinear(x, size_[0], size_[1], data_format_ == "channels_first")};
    }
    const auto axes = spatial_axes(N, data_format_ == "channels_first");
    for (std::size_t i = 0; i < N; ++i) x = repeat_elements(x, axes[i], size_[i]);
    return {x};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["size"] = N == 1 ? Config(size_[0]) : int_list(size_);
    if (N > 1) c["data_format"] = data_format_;
    if (N == 2) c["interpolation"] = interpolation_;
    return c;
  }

 private:
  std::string data_format_;
  std::vector<std::int64_t> size_;
  std::string interpolation_ = "nearest";
};

}  // namespace

void register_spatial_layers(Registrar& registrar) {
  register_layer<ZeroPadding<1>>(registrar, "ZeroPadding1D");
  register_layer<ZeroPadding<2>>(registrar, "ZeroPadding2D");
  register_layer<ZeroPadding<3>>(registrar, "ZeroPadding3D");
  register_layer<Cropping<1>>(registrar, "Cropping1D");
  register_layer<Cropping<2>>(registrar, "Cropping2D");
  register_layer<Cropping<3>>(registrar, "Cropping3D");
  register_layer<UpSampling<1>>(registrar, "UpSampling1D");
  register_layer<UpSampling<2>>(registrar, "UpSampling2D");
  register_layer<UpSampling<3>>(registrar, "UpSampling3D");
}

}  // namespace strata::layers
