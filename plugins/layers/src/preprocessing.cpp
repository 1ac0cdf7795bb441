// Preprocessing layers: Rescaling and Normalization (with adapt).
#include "preprocessing.hpp"

#include <algorithm>
#include <cmath>

namespace strata::layers {
namespace {

constexpr double kEpsilon = 1e-7;  // Keras backend.epsilon()

void numbers_of(const Config& v, std::vector<double>& out, const char* key) {
  if (v.is_array()) {
    for (const auto& e : v) numbers_of(e, out, key);
    return;
  }
  STRATA_CHECK(v.is_number(), FormatError, "config key '", key, "' must be a number or a list of numbers, got ", v.dump());
  out.push_back(v.get<double>());
}

// A number or a list of numbers, as given (null when missing).
Config numbers_at(const Config& c, const char* key) {
  const Config* v = find_key(c, key);
  if (!v) return nullptr;
  std::vector<double> check;
  numbers_of(*v, check, key);
  return *v;
}

// `value` (a number or a list) broadcast NumPy-style to `shape`.
std::vector<double> broadcast_values(const Config& value, const std::vector<std::int64_t>& shape, const char* what) {
  std::vector<double> flat;
  numbers_of(value, flat, what);
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  if (flat.size() == 1) return std::vector<double>(static_cast<std::size_t>(n), flat[0]);
  if (static_cast<std::int64_t>(flat.size()) == n) return flat;
  STRATA_CHECK(!shape.empty() && static_cast<std::int64_t>(flat.size()) == shape.back() && n % shape.back() == 0,
               ValueError, "Normalization: ", what, " has ", flat.size(), " values, which do not broadcast to the shape ",
               Shape(shape).to_string());
  std::vector<double> out;
  for (std::int64_t i = 0; i < n / shape.back(); ++i) out.insert(out.end(), flat.begin(), flat.end());
  return out;
}

Tensor float_tensor(const std::vector<double>& values, const Shape& shape, DType dtype, const Device& device) {
  std::vector<float> f(values.begin(), values.end());
  Tensor t = Tensor::from_vector<float>(f, shape, device);
  return dtype == DType::kFloat32 ? t : cast(t, dtype);
}

class Rescaling final : public Layer {
 public:
  explicit Rescaling(const Config& c) : Layer("Rescaling", c) {
    auto frame = ErrorContext::push("reading the config of Rescaling layer '", name(), "'");
    STRATA_CHECK(find_key(c, "scale"), FormatError, "Rescaling needs \"scale\"");
    scale_ = numbers_at(c, "scale");
    offset_ = find_key(c, "offset") ? numbers_at(c, "offset") : Config(0.0);
    numbers_of(scale_, scales_, "scale");
    numbers_of(offset_, offsets_, "offset");
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    Tensor x = single_input(*this, inputs);
    if (x.dtype() != dtype()) x = cast(x, dtype());
    return {x * constant(scale_, scales_, x) + constant(offset_, offsets_, x)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["scale"] = scale_;
    c["offset"] = offset_;
    return c;
  }

 private:
  // A scalar, or a 1-D tensor broadcasting along the last axis.
  static Tensor constant(const Config& given, const std::vector<double>& values, const Tensor& like) {
    if (!given.is_array()) return scalar_like(like, values.at(0));
    return float_tensor(values, Shape{static_cast<std::int64_t>(values.size())}, like.dtype(), like.device());
  }

  Config scale_, offset_;
  std::vector<double> scales_, offsets_;
};

// ---- Resizing, CenterCrop ---------------------------------------------------------------------

// Batched NHWC images, or one HWC image (batched here, the batch axis dropped again by the
// caller). `known_size`: their height and width must be known when the model is built
// (cropping computes its box from them; plain resizing does not need them).
Tensor as_batched_images(const Layer& layer, const Tensor& x, bool& unbatched, bool known_size = true) {
  STRATA_CHECK(x.rank() == 3 || x.rank() == 4, ShapeError, ConfigReader::subject_of(layer),
               ": expects images of rank 3 (height, width, channels) or 4 (batched), got shape ", x.shape().to_string());
  unbatched = x.rank() == 3;
  Tensor images = unbatched ? expand_dims(x, 0) : x;
  STRATA_CHECK(!known_size || (images.shape().dims()[1] != Shape::kUnknown && images.shape().dims()[2] != Shape::kUnknown),
               ShapeError, ConfigReader::subject_of(layer),
               ": needs images whose height and width are known when the model is built, got ", x.shape().to_string());
  return images;
}

class Resizing final : public Layer {
 public:
  explicit Resizing(const Config& c) : Layer("Resizing", c) {
    auto frame = ErrorContext::push("reading the config of Resizing layer '", name(), "'");
    const ConfigReader r(c, *this);
    height_ = r.required<std::int64_t>("height", Range::positive());
    width_ = r.required<std::int64_t>("width", Range::positive());
    // tf-keras knows bicubic, area, lanczos3/5, gaussian and mitchellcubic too; their
    // kernels are not written here.
    interpolation_ = r.one_of("interpolation", {"bilinear", "nearest"}, "bilinear");
    crop_to_aspect_ratio_ = r.optional<bool>("crop_to_aspect_ratio", false);
    // Keras 3's keys: padding to the aspect ratio (with fill_mode/fill_value, which matter
    // only then) and antialiased downscaling are not written here.
    STRATA_CHECK(!r.optional<bool>("pad_to_aspect_ratio", false), ValueError, ConfigReader::subject_of(*this),
                 ": pad_to_aspect_ratio=true (Keras 3) is not supported; use crop_to_aspect_ratio or pad the images "
                 "before the model");
    STRATA_CHECK(!r.optional<bool>("antialias", false), ValueError, ConfigReader::subject_of(*this),
                 ": antialias=true (Keras 3) is not supported");
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    bool unbatched = false;
    Tensor x = as_batched_images(*this, single_input(*this, inputs), unbatched, crop_to_aspect_ratio_);
    if (x.dtype() != dtype()) x = cast(x, dtype());
    const bool bilinear = interpolation_ == "bilinear";
    Tensor y = crop_to_aspect_ratio_ ? smart_resize(x, height_, width_, bilinear) : resize_images(x, height_, width_, bilinear);
    if (y.dtype() != dtype()) y = cast(y, dtype());
    return {unbatched ? squeeze(y, {0}) : y};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["height"] = height_;
    c["width"] = width_;
    c["interpolation"] = interpolation_;
    c["crop_to_aspect_ratio"] = crop_to_aspect_ratio_;
    return c;
  }

 private:
  std::int64_t height_ = 0, width_ = 0;
  std::string interpolation_;
  bool crop_to_aspect_ratio_ = false;
};

// tf-keras 2.17's CenterCrop: the centred height x width box (offsets (size - target) / 2,
// truncated); an image smaller than the target along either axis is smart-resized to it
// (bilinear) instead.
class CenterCrop final : public Layer {
 public:
  explicit CenterCrop(const Config& c) : Layer("CenterCrop", c) {
    auto frame = ErrorContext::push("reading the config of CenterCrop layer '", name(), "'");
    const ConfigReader r(c, *this);
    height_ = r.required<std::int64_t>("height", Range::positive());
    width_ = r.required<std::int64_t>("width", Range::positive());
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    bool unbatched = false;
    Tensor x = as_batched_images(*this, single_input(*this, inputs), unbatched);
    if (x.dtype() != dtype()) x = cast(x, dtype());
    const std::int64_t dh = x.shape().dims()[1] - height_, dw = x.shape().dims()[2] - width_;
    Tensor y = dh >= 0 && dw >= 0 ? slice(x, {0, dh / 2, dw / 2, 0}, {-1, height_, width_, -1})
                                  : smart_resize(x, height_, width_, true);
    if (y.dtype() != dtype()) y = cast(y, dtype());
    return {unbatched ? squeeze(y, {0}) : y};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["height"] = height_;
    c["width"] = width_;
    return c;
  }

 private:
  std::int64_t height_ = 0, width_ = 0;
};

}  // namespace

// ---- smart_resize (CenterCrop, Resizing, RandomCrop) ------------------------------------

Tensor smart_resize(const Tensor& images, std::int64_t height, std::int64_t width, bool bilinear) {
  const std::int64_t h = images.shape().dims()[1], w = images.shape().dims()[2];
  // a * b / c as tf-keras computes it (the product in float32), without overflowing int64
  // when the target size from the config is huge; the result is capped by `cap` first.
  const auto scaled = [](std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t cap) {
    std::int64_t product = 0;
    const double q = __builtin_mul_overflow(a, b, &product)
                         ? static_cast<double>(a) * static_cast<double>(b) / static_cast<double>(c)
                         : static_cast<double>(static_cast<float>(product) / static_cast<float>(c));
    return q >= static_cast<double>(cap) ? cap : static_cast<std::int64_t>(q);
  };
  const auto crop_h = scaled(w, height, width, h);
  const auto crop_w = scaled(h, width, height, w);
  const auto h0 = static_cast<std::int64_t>(static_cast<float>(h - crop_h) / 2.0f);
  const auto w0 = static_cast<std::int64_t>(static_cast<float>(w - crop_w) / 2.0f);
  const Tensor cropped = crop_h == h && crop_w == w ? images : slice(images, {0, h0, w0, 0}, {-1, crop_h, crop_w, -1});
  return resize_images(cropped, height, width, bilinear);
}

// ---- Normalization ----------------------------------------------------------------------

Normalization::Normalization(const Config& c) : Layer("Normalization", c) {
  auto frame = ErrorContext::push("reading the config of Normalization layer '", name(), "'");
  const Config* axis = c.is_object() && c.contains("axis") ? &c["axis"] : nullptr;
  if (axis && axis->is_null()) {
    axis_ = {};  // axis=None: one mean and variance for everything
  } else {
    axis_ = get_int_or_list(c, "axis", {-1});
  }
  input_mean_ = numbers_at(c, "mean");
  input_variance_ = numbers_at(c, "variance");
  STRATA_CHECK(input_mean_.is_null() == input_variance_.is_null(), ValueError,
               "Normalization: when setting values directly, both mean and variance must be set; got mean ",
               input_mean_.dump(), " and variance ", input_variance_.dump());
  invert_ = get_bool(c, "invert", false);
}

void Normalization::build(const std::vector<Shape>& shapes) {
  const Shape& s = single_shape(*this, shapes);
  STRATA_CHECK(s.has_known_rank(), ShapeError, "Normalization layer '", name(), "' needs an input of known rank");
  const auto ndim = static_cast<std::int64_t>(s.rank());
  keep_.clear();
  for (auto a : axis_) {
    STRATA_CHECK(a >= -ndim && a < ndim, ValueError, "Normalization layer '", name(), "': all axis values must be in [",
                 -ndim, ", ", ndim, "), got ", a);
    keep_.push_back(a < 0 ? a + ndim : a);
  }
  std::sort(keep_.begin(), keep_.end());
  reduce_.clear();
  broadcast_.assign(static_cast<std::size_t>(ndim), 1);
  std::vector<std::int64_t> kept_shape;
  for (std::int64_t d = 0; d < ndim; ++d) {
    if (std::find(keep_.begin(), keep_.end(), d) == keep_.end()) {
      reduce_.push_back(d);
      continue;
    }
    const std::int64_t dim = s.dims()[static_cast<std::size_t>(d)];
    STRATA_CHECK(dim != Shape::kUnknown, ShapeError, "Normalization layer '", name(),
                 "': the axes to keep must have a known size; got input shape ", s.to_string(), " with axis ",
                 int_list(axis_).dump());
    kept_shape.push_back(dim);
    broadcast_[static_cast<std::size_t>(d)] = dim;
  }
  if (input_mean_.is_null()) {
    mean_ = add_weight("mean", Shape(kept_shape), get_initializer(Config("zeros")), false);
    variance_ = add_weight("variance", Shape(kept_shape), get_initializer(Config("ones")), false);
    count_ = add_weight("count", Shape{}, get_initializer(Config("zeros")), false, nullptr, nullptr, DType::kInt64);
  } else {
    fixed_mean_ = broadcast_values(input_mean_, kept_shape, "mean");
    fixed_variance_ = broadcast_values(input_variance_, kept_shape, "variance");
  }
}

std::vector<Tensor> Normalization::call(const std::vector<Tensor>& inputs, const CallContext&) const {
  Tensor x = single_input(*this, inputs);
  if (x.dtype() != dtype()) x = cast(x, dtype());
  require_rank(*this, x.shape(), broadcast_.size());
  const Shape shape(broadcast_);
  Tensor m, v;
  if (input_mean_.is_null()) {
    m = reshape(read(mean_), shape);
    v = reshape(read(variance_), shape);
  } else {
    m = float_tensor(fixed_mean_, shape, x.dtype(), x.device());
    v = float_tensor(fixed_variance_, shape, x.dtype(), x.device());
  }
  const Tensor stddev = maximum(sqrt(v), scalar_like(v, kEpsilon));
  if (invert_) return {m + x * stddev};
  return {(x - m) / stddev};
}

void Normalization::adapt(const Tensor& data_in, std::int64_t batch_size) {
  auto frame = ErrorContext::push("adapting Normalization layer '", name(), "'");
  STRATA_CHECK(input_mean_.is_null(), ValueError, "cannot adapt a Normalization layer that was given mean ",
               input_mean_.dump(), " and variance ", input_variance_.dump());
  STRATA_CHECK(batch_size > 0, ValueError, "adapt: batch_size must be positive, got ", batch_size);
  STRATA_CHECK(data_in.defined() && !data_in.is_symbolic(), ValueError, "adapt needs concrete data");
  STRATA_CHECK(data_in.rank() >= 1, ShapeError, "adapt needs data with a sample axis, got shape ",
               data_in.shape().to_string());
  if (!built()) {
    if (!batch_input_shape()) adapt_shape_ = Shape(std::vector<std::int64_t>(data_in.rank(), Shape::kUnknown));
    ensure_built({data_in.shape()});
  }
  Tensor data = data_in.to(mean_.device());
  if (data.dtype() != mean_.dtype()) data = cast(data, mean_.dtype());
  // tf-keras resets, then merges batch after batch (Chan et al.'s parallel variance).
  mean_.assign(zeros(mean_.shape(), mean_.dtype(), mean_.device()));
  variance_.assign(ones(variance_.shape(), variance_.dtype(), variance_.device()));
  std::int64_t count = 0;
  const std::int64_t n = data.shape()[0];
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t len = std::min(batch_size, n - start);
    std::vector<std::int64_t> begin(data.rank(), 0), size = data.shape().dims();
    begin[0] = start;
    size[0] = len;
    const Tensor batch = slice(data, begin, size);
    // An empty axis list means "every axis" to the reductions: nothing to reduce here.
    const Tensor batch_mean = reduce_.empty() ? batch : mean(batch, reduce_);
    const Tensor batch_variance =
        reduce_.empty() ? zeros_like(batch) : mean(squared_difference(batch, mean(batch, reduce_, true)), reduce_);
    std::int64_t batch_count = 1;
    for (auto d : reduce_) batch_count *= batch.shape().dims()[static_cast<std::size_t>(d)];
    const std::int64_t total = batch_count + count;
    const float batch_weight = static_cast<float>(batch_count) / static_cast<float>(total);
    const float existing_weight = 1.0f - batch_weight;
    const Tensor old_mean = mean_.value(), old_variance = variance_.value();
    const Tensor total_mean = old_mean * existing_weight + batch_mean * batch_weight;
    const Tensor total_variance = (old_variance + square(old_mean - total_mean)) * existing_weight +
                                  (batch_variance + square(batch_mean - total_mean)) * batch_weight;
    mean_.assign(total_mean);
    variance_.assign(total_variance);
    count = total;
  }
  count_.assign(Tensor::scalar<std::int64_t>(count, count_.device()));
}

Config Normalization::get_config() const {
  Config c = Layer::get_config();
  if (!c.contains("batch_input_shape") && adapt_shape_) {
    Config dims = Config::array();
    for (auto d : adapt_shape_->dims()) dims.push_back(d == Shape::kUnknown ? Config(nullptr) : Config(d));
    c["batch_input_shape"] = dims;
  }
  c["axis"] = int_list(axis_);
  c["invert"] = invert_;
  c["mean"] = input_mean_;
  c["variance"] = input_variance_;
  return c;
}

void register_preprocessing_layers(Registrar& registrar) {
  register_layer<Rescaling>(registrar, "Rescaling");
  register_layer<Normalization>(registrar, "Normalization");
  register_layer<Resizing>(registrar, "Resizing");
  register_layer<CenterCrop>(registrar, "CenterCrop");
}

}  // namespace strata::layers
