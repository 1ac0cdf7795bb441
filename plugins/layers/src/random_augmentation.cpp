// tf-keras 2.21's random image augmentation layers: RandomFlip, RandomRotation, RandomZoom,
// RandomTranslation, RandomCrop, RandomContrast, RandomBrightness, RandomHeight, RandomWidth.
//
// Inference is what tf-keras returns: the input (cast to the layer's dtype) for all but
// RandomCrop, which smart-resizes to its height x width; RandomHeight/RandomWidth return the
// input as it is. Training draws tf-keras's distributions with the runtime's counter-based
// RandomUniform (so a seeded layer gives the same values on every backend, seed, seed + 1,
// ... on successive calls, as Dropout), and the geometric layers resample as TensorFlow's
// ImageProjectiveTransformV3 does (fill modes, bilinear/nearest, its float32 arithmetic),
// written in existing ops: coordinates from a constant pixel grid, Floor/Select for the fill
// modes and GatherV2 for the reads, so gradients reach the images.
#include <atomic>
#include <cmath>
#include <limits>

#include "common.hpp"
#include "preprocessing.hpp"

namespace strata::layers {
namespace {

constexpr double kPi = 3.14159265358979323846;

// ---- config helpers ---------------------------------------------------------------------

// A factor as tf-keras reads it: a number f (the range {-f, f}, or {f, f} for RandomContrast)
// or a pair {lower, upper}; `written` is what get_config writes back (tuples as lists).
struct Factor {
  double lower = 0, upper = 0;
  Config written;
};

enum class Scalar { kSymmetric, kBoth };

Factor read_factor(const ConfigReader& r, const char* key, Scalar scalar) {
  const auto values = r.number_list(key);
  STRATA_CHECK(values, FormatError, r.describe(detail::concat("'", key, "' is required")));
  const Config& raw = *r.find(key);
  Factor f;
  if (raw.is_number()) {
    f.written = raw;
    f.lower = scalar == Scalar::kSymmetric ? -(*values)[0] : (*values)[0];
    f.upper = (*values)[0];
    return f;
  }
  STRATA_CHECK(values->size() == 2, ValueError,
               r.describe(detail::concat("'", key, "' must be a number or a list of two numbers, got ", raw.dump())));
  f.lower = (*values)[0];
  f.upper = (*values)[1];
  const Config& list = raw.is_object() && raw.contains("items") ? raw["items"] : raw;
  f.written = list;
  return f;
}

[[noreturn]] void bad_factor(const ConfigReader& r, const char* key, const Factor& f, const char* what) {
  STRATA_THROW(ValueError, r.describe(detail::concat("'", key, "' ", what, ", got ", f.written.dump())));
}

const std::vector<std::string> kFillModes = {"reflect", "wrap", "constant", "nearest"};
const std::vector<std::string> kInterpolations = {"bilinear", "nearest"};

// ---- the base: seed, rng_type, data_format, random draws -----------------------------------

class AugmentationLayer : public Layer {
 public:
  AugmentationLayer(const std::string& class_name, const Config& c) : Layer(class_name, c) {
    auto frame = ErrorContext::push("reading the config of ", class_name, " layer '", name(), "'");
    const ConfigReader r(c, *this);
    seed_ = r.if_present<std::int64_t>("seed");
    // tf-keras's BaseRandomLayer: force_generator makes "stateful" the default; a stateless
    // generator repeats its seed on every call.
    rng_type_ = r.one_of("rng_type", {"stateful", "stateless", "legacy_stateful"}, "stateful");
    // Keras 3's key; tf-keras's layers are channels_last only.
    channels_first_ = get_data_format(c) == "channels_first";
  }

  // In tf-keras's order: the base keys, rng_type where tf-keras writes it, the layer's own
  // keys (write_own_keys), seed, then the keys only Keras 3 configs carry, written only where
  // they say something tf-keras cannot.
  Config get_config() const final {
    Config c = Layer::get_config();
    if (rng_type_ != "legacy_stateful") c["rng_type"] = rng_type_;
    write_own_keys(c);
    c["seed"] = seed_ ? Config(*seed_) : Config(nullptr);
    if (channels_first_) c["data_format"] = "channels_first";
    return c;
  }

 protected:
  virtual void write_own_keys(Config& c) const = 0;

  std::optional<std::int64_t> next_seed() const {
    if (!seed_) return std::nullopt;
    if (rng_type_ == "stateless") return *seed_;
    return *seed_ + calls_.fetch_add(1, std::memory_order_relaxed);
  }

  // The input as a batch of NHWC images in the layer's dtype (cast when `to_dtype`); undo()
  // restores the caller's layout.
  struct Images {
    Tensor x;
    bool unbatched = false, channels_first = false;
    Tensor undo(Tensor y) const {
      if (channels_first) y = transpose(y, {0, 3, 1, 2});
      return unbatched ? squeeze(y, {0}) : y;
    }
  };
  Images images(const Tensor& in, bool to_dtype = true) const {
    STRATA_CHECK(
        in.shape().has_known_rank() && (in.rank() == 3 || in.rank() == 4), ShapeError, ConfigReader::subject_of(*this),
        ": expects images of rank 3 (height, width, channels) or 4 (batched), got shape ", in.shape().to_string());
    Images out;
    out.x = in;
    if (to_dtype && out.x.dtype() != dtype()) out.x = cast(out.x, dtype());
    out.unbatched = in.rank() == 3;
    if (out.unbatched) out.x = expand_dims(out.x, 0);
    out.channels_first = channels_first_;
    if (channels_first_) out.x = transpose(out.x, {0, 2, 3, 1});
    return out;
  }
  // Training needs the height and width (the pixel grid is a constant).
  void require_known_size(const Tensor& x) const {
    STRATA_CHECK(x.shape()[1] != Shape::kUnknown && x.shape()[2] != Shape::kUnknown, ShapeError,
                 ConfigReader::subject_of(*this),
                 ": in training, needs images whose height and width are known when the layer is called, got ",
                 x.shape().to_string());
  }

  // Uniform float32 values in [0, 1) of shape (rows, k) on `device`, rows = x's batch size
  // (known or not) when per_image, else 1: one RandomUniform op with this call's seed.
  Tensor uniform(const Tensor& x, std::int64_t k, bool per_image, const Device& device) const {
    Tensor dims;
    const std::int64_t batch = per_image ? x.shape()[0] : 1;
    if (batch != Shape::kUnknown) {
      dims = int_tensor({batch, k});
    } else {
      dims = concat({slice(shape_of(x), {0}, {1}), int_tensor({k})}, 0);
    }
    const auto seed = next_seed();
    DeviceScope scope(device);
    return execute1("RandomUniform", {dims},
                    {{"dtype", DType::kFloat32}, {"seed", seed.value_or(0)}, {"seed2", seed ? 1 : 0}});
  }
  // u mapped to [lo, hi) as TensorFlow's random_uniform does: u * (hi - lo) + lo in float32.
  static Tensor in_range(const Tensor& u, double lo, double hi) {
    const float l = static_cast<float>(lo), h = static_cast<float>(hi);
    return u * static_cast<double>(h - l) + static_cast<double>(l);
  }

 private:
  std::optional<std::int64_t> seed_;
  std::string rng_type_;
  bool channels_first_ = false;
  mutable std::atomic<std::int64_t> calls_{0};
};

// ---- ImageProjectiveTransformV3 in ops ------------------------------------------------------

// A float32 constant on `device`.
Tensor constant(const std::vector<float>& values, const Shape& shape, const Device& device) {
  return Tensor::from_vector<float>(values, shape, device);
}

// TensorFlow's MapCoordinate for `mode` of coordinates `c` along an axis of `len` pixels,
// step for step in float32 (image_ops.h).
Tensor map_coordinate(const Tensor& c, std::int64_t len, const std::string& mode) {
  const double last = static_cast<double>(len - 1);
  const auto clamp = [&](const Tensor& v) { return minimum(maximum(v, scalar_like(v, 0.0)), scalar_like(v, last)); };
  if (mode == "constant") return c;
  if (mode == "nearest") return clamp(c);
  if (len <= 1) return zeros_like(c);
  const Tensor below = less(c, scalar_like(c, 0.0));
  const Tensor above = greater(c, scalar_like(c, last));
  Tensor low, high;
  if (mode == "reflect") {
    const double sz2 = 2.0 * static_cast<double>(len);
    // c < 0: c += sz2 * trunc(-c / sz2); then c < -len ? c + sz2 : -c - 1.
    const Tensor l1 = floor(neg(c) / sz2) * sz2 + c;
    low = select(less(l1, scalar_like(l1, -static_cast<double>(len))), l1 + sz2, neg(l1) - 1.0);
    // c > len - 1: c -= sz2 * trunc(c / sz2); then c >= len ? sz2 - c - 1 : c.
    const Tensor h1 = c - floor(c / sz2) * sz2;
    high = select(greater_equal(h1, scalar_like(h1, static_cast<double>(len))), (sz2 - h1) - 1.0, h1);
  } else {  // wrap
    const double sz = last, n = static_cast<double>(len);
    low = c + (floor(neg(c) / sz) + 1.0) * n;
    high = c - floor(c / sz) * n;
  }
  return clamp(select(below, low, select(above, high, c)));
}

// The pixels of `flat` (batch * height * width rows of channels, or with batch_dims a
// (batch, height * width, channels) tensor) at integer-valued float coordinates (y, x) of
// shape (batch, height, width): fill where they fall outside the image.
struct PixelReader {
  Tensor flat;        // see above
  Tensor batch_base;  // (batch, 1, 1) int: b * height * width; undefined with batch_dims
  std::int64_t h = 0, w = 0, c = 0;
  DType index_dtype = DType::kInt32;
  double fill = 0.0;

  Tensor read(const Tensor& y, const Tensor& x) const {
    const Tensor valid =
        logical_and(logical_and(greater_equal(y, scalar_like(y, 0.0)), less_equal(y, scalar_like(y, h - 1.0))),
                    logical_and(greater_equal(x, scalar_like(x, 0.0)), less_equal(x, scalar_like(x, w - 1.0))));
    const auto clamp = [](const Tensor& v, std::int64_t n) {
      return minimum(maximum(v, scalar_like(v, 0.0)), scalar_like(v, static_cast<double>(n - 1)));
    };
    const Tensor yi = cast(clamp(y, h), index_dtype), xi = cast(clamp(x, w), index_dtype);
    Tensor index = yi * static_cast<double>(w) + xi;
    Tensor got;
    if (batch_base.defined()) {
      got = gather(flat, reshape(index + batch_base, Shape{-1}));
      got = reshape(got, Shape{-1, h, w, c});
    } else {
      got = gather(flat, reshape(index, Shape{-1, h * w}), 1, 1);
      got = reshape(got, Shape{-1, h, w, c});
    }
    return select(expand_dims(valid, -1), got, scalar_like(got, fill));
  }
};

// tf.raw_ops.ImageProjectiveTransformV3 of float NHWC `images` (height and width known)
// with one affine transform per image, each row of `rows` being (a0, a1, a2, b0, b1, b2)
// as (batch, 1, 1) float32 tensors: output pixel (y, x) reads the input at
// (a0 x + a1 y + a2, b0 x + b1 y + b2).
Tensor projective_transform(const Tensor& images_in, const std::vector<Tensor>& rows, const std::string& fill_mode,
                            double fill_value, bool bilinear) {
  const DType dtype = images_in.dtype();
  const Tensor images = dtype == DType::kFloat32 ? images_in : cast(images_in, DType::kFloat32);
  const std::int64_t b = images.shape()[0], h = images.shape()[1], w = images.shape()[2], c = images.shape()[3];
  const Device device = images.device();
  std::vector<float> gx(static_cast<std::size_t>(h * w)), gy(gx.size());
  for (std::int64_t i = 0; i < h; ++i) {
    for (std::int64_t j = 0; j < w; ++j) {
      gx[static_cast<std::size_t>(i * w + j)] = static_cast<float>(j);
      gy[static_cast<std::size_t>(i * w + j)] = static_cast<float>(i);
    }
  }
  const Tensor grid_x = constant(gx, Shape{1, h, w}, device), grid_y = constant(gy, Shape{1, h, w}, device);
  // The kernel's order: transform[0] * x + transform[1] * y + transform[2] (the projection
  // is 1 for affine transforms).
  const Tensor in_x = map_coordinate(rows[0] * grid_x + rows[1] * grid_y + rows[2], w, fill_mode);
  const Tensor in_y = map_coordinate(rows[3] * grid_x + rows[4] * grid_y + rows[5], h, fill_mode);

  PixelReader reader;
  reader.h = h;
  reader.w = w;
  reader.c = c;
  reader.fill = static_cast<float>(fill_value);
  if (b != Shape::kUnknown) {
    // One flat gather (its gradient exists); the batch offsets are constants.
    const std::int64_t total = b * h * w;
    reader.index_dtype = total < std::numeric_limits<std::int32_t>::max() ? DType::kInt32 : DType::kInt64;
    std::vector<std::int64_t> base(static_cast<std::size_t>(b));
    for (std::int64_t i = 0; i < b; ++i) base[static_cast<std::size_t>(i)] = i * h * w;
    Tensor t = Tensor::from_vector<std::int64_t>(base, Shape{b, 1, 1}, device);
    reader.batch_base = reader.index_dtype == DType::kInt64 ? t : cast(t, DType::kInt32);
    reader.flat = reshape(images, Shape{total, c});
  } else {
    // A batch unknown until the graph runs (a traced call): GatherV2 with batch_dims.
    reader.index_dtype = h * w < std::numeric_limits<std::int32_t>::max() ? DType::kInt32 : DType::kInt64;
    reader.flat = reshape(images, Shape{-1, h * w, c});
  }

  Tensor out;
  if (!bilinear) {
    // std::round: halves away from zero.
    const auto round = [](const Tensor& v) {
      return select(less(v, scalar_like(v, 0.0)), neg(floor(neg(v) + 0.5)), floor(v + 0.5));
    };
    out = reader.read(round(in_y), round(in_x));
  } else {
    const Tensor y0 = floor(in_y), x0 = floor(in_x);
    const Tensor y1 = y0 + 1.0, x1 = x0 + 1.0;
    const auto weight = [](const Tensor& t) { return expand_dims(t, -1); };
    const Tensor wx1 = weight(x1 - in_x), wx0 = weight(in_x - x0);
    const Tensor wy1 = weight(y1 - in_y), wy0 = weight(in_y - y0);
    const Tensor top = wx1 * reader.read(y0, x0) + wx0 * reader.read(y0, x1);
    const Tensor bottom = wx1 * reader.read(y1, x0) + wx0 * reader.read(y1, x1);
    out = wy1 * top + wy0 * bottom;
  }
  return dtype == DType::kFloat32 ? out : cast(out, dtype);
}

// sin and cos of float32 `a` in ops (the runtime has no Sin/Cos): reduced to [-pi, pi] with
// a two-part 2 pi, then Taylor polynomials (truncation error below 1e-9 there), float32.
std::pair<Tensor, Tensor> sin_cos(const Tensor& a) {
  constexpr double kTwoPiHigh = 6.28318548202514648438;  // float32(2 pi)
  constexpr double kTwoPiLow = -1.7484555314695172e-07;  // 2 pi - kTwoPiHigh
  const Tensor k = floor(a / (2.0 * kPi) + 0.5);
  const Tensor r = (a - k * kTwoPiHigh) - k * kTwoPiLow;
  const Tensor r2 = r * r;
  // sin r = r (1 - r²/(2·3) (1 - r²/(4·5) (1 - ...))), cos r = 1 - r²/(1·2) (1 - r²/(3·4) (...)).
  Tensor s = ones_like(r), co = ones_like(r);
  for (int n = 20; n >= 2; n -= 2) {
    s = 1.0 - r2 * s / (static_cast<double>(n) * (n + 1));
    co = 1.0 - r2 * co / (static_cast<double>(n - 1) * n);
  }
  return {r * s, co};
}

// ---- the geometric layers -------------------------------------------------------------------

class TransformLayer : public AugmentationLayer {
 public:
  TransformLayer(const std::string& class_name, const Config& c) : AugmentationLayer(class_name, c) {
    auto frame = ErrorContext::push("reading the config of ", class_name, " layer '", name(), "'");
    const ConfigReader r(c, *this);
    fill_mode_ = r.one_of("fill_mode", kFillModes, "reflect");
    interpolation_ = r.one_of("interpolation", kInterpolations, "bilinear");
    fill_value_ = r.number("fill_value", 0.0);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Images im = images(single_input(*this, inputs));
    if (!ctx.training) return {im.undo(im.x)};
    require_known_size(im.x);
    const std::vector<Tensor> rows = transform_rows(im.x);
    return {
        im.undo(projective_transform(im.x, rows, fill_mode_, fill_value_.get<double>(), interpolation_ == "bilinear"))};
  }

 protected:
  // (a0, a1, a2, b0, b1, b2), each (batch, 1, 1) float32, drawn for this call.
  virtual std::vector<Tensor> transform_rows(const Tensor& x) const = 0;
  void write_fill(Config& c) const {
    c["fill_mode"] = fill_mode_;
    c["fill_value"] = fill_value_;
    c["interpolation"] = interpolation_;
  }
  // One column of a (batch, k) draw as (batch, 1, 1).
  static Tensor column(const Tensor& draws, std::int64_t i) {
    return reshape(slice(draws, {0, i}, {-1, 1}), Shape{-1, 1, 1});
  }

 private:
  std::string fill_mode_, interpolation_;
  Config fill_value_;
};

class RandomRotation final : public TransformLayer {
 public:
  explicit RandomRotation(const Config& c) : TransformLayer("RandomRotation", c) {
    auto frame = ErrorContext::push("reading the config of RandomRotation layer '", name(), "'");
    const ConfigReader r(c, *this);
    factor_ = read_factor(r, "factor", Scalar::kSymmetric);
    if (factor_.upper < factor_.lower) bad_factor(r, "factor", factor_, "must have its upper bound >= its lower bound");
  }
  void write_own_keys(Config& c) const override {
    c["factor"] = factor_.written;
    write_fill(c);
  }

 protected:
  std::vector<Tensor> transform_rows(const Tensor& x) const override {
    const double h = static_cast<double>(x.shape()[1] - 1), w = static_cast<double>(x.shape()[2] - 1);
    // tf-keras: angles uniform in [lower * 2 pi, upper * 2 pi) (float32), and
    // get_rotation_matrix's offsets keep the image centre fixed.
    const Tensor angle =
        column(in_range(uniform(x, 1, true, x.device()), factor_.lower * 2.0 * kPi, factor_.upper * 2.0 * kPi), 0);
    const auto [sin, cos] = sin_cos(angle);
    const Tensor x_offset = (w - (cos * w - sin * h)) / 2.0;
    const Tensor y_offset = (h - (sin * w + cos * h)) / 2.0;
    return {cos, neg(sin), x_offset, sin, cos, y_offset};
  }

 private:
  Factor factor_;
};

class RandomZoom final : public TransformLayer {
 public:
  explicit RandomZoom(const Config& c) : TransformLayer("RandomZoom", c) {
    auto frame = ErrorContext::push("reading the config of RandomZoom layer '", name(), "'");
    const ConfigReader r(c, *this);
    height_ = read_factor(r, "height_factor", Scalar::kSymmetric);
    if (std::fabs(height_.lower) > 1.0 || std::fabs(height_.upper) > 1.0) {
      bad_factor(r, "height_factor", height_, "must have values in [-1, 1]");
    }
    if (r.has("width_factor")) {
      width_ = read_factor(r, "width_factor", Scalar::kSymmetric);
      if (width_->lower < -1.0 || width_->upper < -1.0) {
        bad_factor(r, "width_factor", *width_, "must have values larger than -1");
      }
    }
  }
  void write_own_keys(Config& c) const override {
    c["height_factor"] = height_.written;
    c["width_factor"] = width_ ? width_->written : Config(nullptr);
    write_fill(c);
  }

 protected:
  std::vector<Tensor> transform_rows(const Tensor& x) const override {
    const Tensor draws = uniform(x, 2, true, x.device());
    const Tensor zy = column(in_range(draws, 1.0 + height_.lower, 1.0 + height_.upper), 0);
    // Without width_factor the aspect ratio is kept (tf-keras: width_zoom = height_zoom).
    const Tensor zx = width_ ? column(in_range(draws, 1.0 + width_->lower, 1.0 + width_->upper), 1) : zy;
    const Tensor zero = zeros_like(zx);
    const double h = static_cast<double>(x.shape()[1]) - 1.0, w = static_cast<double>(x.shape()[2]) - 1.0;
    // get_zoom_matrix: offsets ((size - 1) / 2) * (1 - zoom).
    return {zx, zero, (1.0 - zx) * (w / 2.0), zero, zy, (1.0 - zy) * (h / 2.0)};
  }

 private:
  Factor height_;
  std::optional<Factor> width_;
};

class RandomTranslation final : public TransformLayer {
 public:
  explicit RandomTranslation(const Config& c) : TransformLayer("RandomTranslation", c) {
    auto frame = ErrorContext::push("reading the config of RandomTranslation layer '", name(), "'");
    const ConfigReader r(c, *this);
    height_ = read_factor(r, "height_factor", Scalar::kSymmetric);
    width_ = read_factor(r, "width_factor", Scalar::kSymmetric);
    for (const auto& [key, f] : {std::pair<const char*, const Factor*>{"height_factor", &height_},
                                 std::pair<const char*, const Factor*>{"width_factor", &width_}}) {
      if (f->upper < f->lower) bad_factor(r, key, *f, "must have its upper bound >= its lower bound");
      if (std::fabs(f->lower) > 1.0 || std::fabs(f->upper) > 1.0) bad_factor(r, key, *f, "must have values in [-1, 1]");
    }
  }
  void write_own_keys(Config& c) const override {
    c["height_factor"] = height_.written;
    c["width_factor"] = width_.written;
    write_fill(c);
  }

 protected:
  std::vector<Tensor> transform_rows(const Tensor& x) const override {
    const Tensor draws = uniform(x, 2, true, x.device());
    // Fractions of the height and width (float32), then the translation matrix [1 0 -dx; 0 1 -dy].
    const Tensor dy = column(in_range(draws, height_.lower, height_.upper), 0) * static_cast<double>(x.shape()[1]);
    const Tensor dx = column(in_range(draws, width_.lower, width_.upper), 1) * static_cast<double>(x.shape()[2]);
    const Tensor one = ones_like(dx), zero = zeros_like(dx);
    return {one, zero, neg(dx), zero, one, neg(dy)};
  }

 private:
  Factor height_, width_;
};

// ---- RandomFlip ---------------------------------------------------------------------------

class RandomFlip final : public AugmentationLayer {
 public:
  explicit RandomFlip(const Config& c) : AugmentationLayer("RandomFlip", c) {
    auto frame = ErrorContext::push("reading the config of RandomFlip layer '", name(), "'");
    mode_ = ConfigReader(c, *this).one_of("mode", {"horizontal", "vertical", "horizontal_and_vertical"},
                                          "horizontal_and_vertical");
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Images im = images(single_input(*this, inputs));
    if (!ctx.training) return {im.undo(im.x)};
    require_known_size(im.x);
    const bool horizontal = mode_ != "vertical", vertical = mode_ != "horizontal";
    // tf.image's batched flips: one uniform per image, flipped where it rounds to 1.
    const Tensor draws = uniform(im.x, (horizontal ? 1 : 0) + (vertical ? 1 : 0), true, im.x.device());
    Tensor y = im.x;
    std::int64_t col = 0;
    for (const std::int64_t axis : {std::int64_t{2}, std::int64_t{1}}) {
      if ((axis == 2 && !horizontal) || (axis == 1 && !vertical)) continue;
      const std::int64_t n = y.shape()[static_cast<std::size_t>(axis)];
      std::vector<std::int64_t> reversed(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) reversed[static_cast<std::size_t>(i)] = n - 1 - i;
      const Tensor index = Tensor::from_vector<std::int64_t>(reversed, Shape{n}, y.device());
      const Tensor flip =
          greater(reshape(slice(draws, {0, col++}, {-1, 1}), Shape{-1, 1, 1, 1}), scalar_like(draws, 0.5));
      y = select(flip, gather(y, index, axis), y);
    }
    return {im.undo(y)};
  }
  void write_own_keys(Config& c) const override { c["mode"] = mode_; }

 private:
  std::string mode_;
};

// ---- RandomCrop ---------------------------------------------------------------------------

class RandomCrop final : public AugmentationLayer {
 public:
  explicit RandomCrop(const Config& c) : AugmentationLayer("RandomCrop", c) {
    auto frame = ErrorContext::push("reading the config of RandomCrop layer '", name(), "'");
    const ConfigReader r(c, *this);
    height_ = r.required<std::int64_t>("height", Range::positive());
    width_ = r.required<std::int64_t>("width", Range::positive());
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Images im = images(single_input(*this, inputs));
    const Tensor& x = im.x;
    STRATA_CHECK(x.shape()[1] != Shape::kUnknown && x.shape()[2] != Shape::kUnknown, ShapeError,
                 ConfigReader::subject_of(*this),
                 ": needs images whose height and width are known when the model is built, got ",
                 single_input(*this, inputs).shape().to_string());
    const std::int64_t dh = x.shape()[1] - height_, dw = x.shape()[2] - width_;
    if (!ctx.training || dh < 0 || dw < 0) {
      // tf-keras: the largest centred box of the target's aspect ratio, resized (bilinear).
      Tensor y = smart_resize(x, height_, width_, true);
      if (y.dtype() != dtype()) y = cast(y, dtype());
      return {im.undo(y)};
    }
    // One box for the whole batch, its corner uniform over [0, dh] x [0, dw] (tf-keras draws
    // two integers and takes them modulo dh + 1 and dw + 1).
    const Tensor u = uniform(x, 2, false, x.device());
    Tensor y = x;
    for (const auto& [axis, diff, size] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{1, dh, height_},
                                           std::tuple<std::int64_t, std::int64_t, std::int64_t>{2, dw, width_}}) {
      const Tensor start = minimum(floor(slice(u, {0, axis - 1}, {1, 1}) * static_cast<double>(diff + 1)),
                                   scalar_like(u, static_cast<double>(diff)));
      std::vector<std::int64_t> iota(static_cast<std::size_t>(size));
      for (std::int64_t i = 0; i < size; ++i) iota[static_cast<std::size_t>(i)] = i;
      const Tensor offsets = Tensor::from_vector<std::int64_t>(iota, Shape{size}, x.device());
      y = gather(y, reshape(cast(start, DType::kInt64), Shape{1}) + offsets, axis);
    }
    return {im.undo(y)};
  }
  void write_own_keys(Config& c) const override {
    c["height"] = height_;
    c["width"] = width_;
  }

 private:
  std::int64_t height_ = 0, width_ = 0;
};

// ---- RandomContrast, RandomBrightness -------------------------------------------------------

// value_range: a list of two numbers, kept sorted as tf-keras keeps it.
std::pair<Config, std::pair<double, double>> read_value_range(const ConfigReader& r) {
  if (!r.has("value_range")) return {Config::array({0, 255}), {0.0, 255.0}};
  const Config& raw = *r.find("value_range");
  const Config& list = raw.is_object() && raw.contains("items") ? raw["items"] : raw;
  STRATA_CHECK(list.is_array() && list.size() == 2 && list[0].is_number() && list[1].is_number(), ValueError,
               r.describe(detail::concat("'value_range' must be a list of two numbers, got ", raw.dump())));
  Config sorted = list;
  if (list[1].get<double>() < list[0].get<double>()) sorted = Config::array({list[1], list[0]});
  return {sorted, {sorted[0].get<double>(), sorted[1].get<double>()}};
}

class RandomContrast final : public AugmentationLayer {
 public:
  explicit RandomContrast(const Config& c) : AugmentationLayer("RandomContrast", c) {
    auto frame = ErrorContext::push("reading the config of RandomContrast layer '", name(), "'");
    const ConfigReader r(c, *this);
    factor_ = read_factor(r, "factor", Scalar::kBoth);
    if (factor_.lower < 0.0 || factor_.upper < 0.0 || factor_.lower > 1.0) {
      bad_factor(r, "factor", factor_, "must have values in [0, 1] (an upper bound may exceed 1)");
    }
    // Keras 3: one factor per image and clipping to value_range; tf-keras: one factor for the
    // whole batch and clipping to [0, 255].
    keras3_ = written_by_keras3(c);
    std::tie(value_range_written_, value_range_) = read_value_range(r);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Images im = images(single_input(*this, inputs));
    if (!ctx.training) return {im.undo(im.x)};
    const double lo = 1.0 - factor_.lower, hi = 1.0 + factor_.upper;
    STRATA_CHECK(hi > lo, ValueError, ConfigReader::subject_of(*this),
                 ": a factor of 0 leaves no contrast range to draw from (tf.image.random_contrast refuses upper <= "
                 "lower)");
    const Tensor& x = im.x;
    const Tensor factor = reshape(in_range(uniform(x, 1, keras3_, x.device()), lo, hi), Shape{-1, 1, 1, 1});
    const Tensor f = factor.dtype() == x.dtype() ? factor : cast(factor, x.dtype());
    const Tensor m = mean(x, {1, 2}, true);
    const Tensor y = (x - m) * f + m;
    return {im.undo(minimum(maximum(y, scalar_like(y, value_range_.first)), scalar_like(y, value_range_.second)))};
  }
  void write_own_keys(Config& c) const override {
    c["factor"] = factor_.written;
    if (value_range_.first != 0.0 || value_range_.second != 255.0) c["value_range"] = value_range_written_;
  }

 private:
  Factor factor_;
  bool keras3_ = false;
  Config value_range_written_;
  std::pair<double, double> value_range_;
};

class RandomBrightness final : public AugmentationLayer {
 public:
  explicit RandomBrightness(const Config& c) : AugmentationLayer("RandomBrightness", c) {
    auto frame = ErrorContext::push("reading the config of RandomBrightness layer '", name(), "'");
    const ConfigReader r(c, *this);
    const Factor f = read_factor(r, "factor", Scalar::kSymmetric);
    if (f.lower < -1.0 || f.lower > 1.0 || f.upper < -1.0 || f.upper > 1.0) {
      bad_factor(r, "factor", f, "must be a number or a list of two numbers in [-1, 1]");
    }
    // tf-keras keeps [-|f|, |f|] for a number and the sorted pair otherwise, and writes that.
    if (f.written.is_array()) {
      factor_written_ = f.written;
      if (f.upper < f.lower) factor_written_ = Config::array({f.written[1], f.written[0]});
    } else if (f.written.is_number_integer()) {
      const auto v = std::abs(f.written.get<std::int64_t>());
      factor_written_ = Config::array({-v, v});
    } else {
      const double v = std::fabs(f.written.get<double>());
      factor_written_ = Config::array({-v, v});
    }
    lower_ = std::min(f.lower, f.upper);
    upper_ = std::max(f.lower, f.upper);
    if (!f.written.is_array()) {
      upper_ = std::fabs(f.upper);
      lower_ = -upper_;
    }
    std::tie(value_range_written_, value_range_) = read_value_range(r);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Images im = images(single_input(*this, inputs));
    if (!ctx.training) return {im.undo(im.x)};
    const Tensor& x = im.x;
    // One delta per image, in [lower, upper) times the value range's width.
    Tensor delta = reshape(in_range(uniform(x, 1, true, x.device()), lower_, upper_), Shape{-1, 1, 1, 1}) *
                   (value_range_.second - value_range_.first);
    if (delta.dtype() != x.dtype()) delta = cast(delta, x.dtype());
    const Tensor y = x + delta;
    return {im.undo(minimum(maximum(y, scalar_like(y, value_range_.first)), scalar_like(y, value_range_.second)))};
  }
  void write_own_keys(Config& c) const override {
    c["factor"] = factor_written_;
    c["value_range"] = value_range_written_;
  }

 private:
  Config factor_written_, value_range_written_;
  double lower_ = 0, upper_ = 0;
  std::pair<double, double> value_range_;
};

// ---- RandomHeight, RandomWidth --------------------------------------------------------------

// x with dimension `axis` unknown to shape inference (tf-keras declares the resized axis
// None); the values are x's.
Tensor with_unknown_dim(const Tensor& x, std::int64_t axis) {
  if (!x.is_symbolic()) return x;
  std::vector<Tensor> parts;
  const Tensor dynamic = shape_of(x);
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(x.rank()); ++i) {
    const std::int64_t d = x.shape()[static_cast<std::size_t>(i)];
    parts.push_back(i == axis || d == Shape::kUnknown ? slice(dynamic, {i}, {1}) : int_tensor({d}));
  }
  return execute1("Reshape", {x, concat(parts, 0)});
}

class RandomResize : public AugmentationLayer {
 public:
  // axis: -3 (RandomHeight) or -2 (RandomWidth), counted from the end as tf-keras does.
  RandomResize(const std::string& class_name, const Config& c, std::int64_t axis)
      : AugmentationLayer(class_name, c), axis_(axis) {
    auto frame = ErrorContext::push("reading the config of ", class_name, " layer '", name(), "'");
    const ConfigReader r(c, *this);
    factor_ = read_factor(r, "factor", Scalar::kSymmetric);
    if (factor_.upper < factor_.lower) bad_factor(r, "factor", factor_, "must have its upper bound >= its lower bound");
    if (factor_.lower < -1.0 || factor_.upper < -1.0)
      bad_factor(r, "factor", factor_, "must have values larger than -1");
    // tf-keras's image_utils.get_interpolation names; only two resize here (checked when
    // training, so a model using another still predicts: inference is the identity).
    interpolation_ = r.one_of(
        "interpolation",
        {"bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic"}, "bilinear");
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Tensor& in = single_input(*this, inputs);
    STRATA_CHECK(
        in.shape().has_known_rank() && (in.rank() == 3 || in.rank() == 4), ShapeError, ConfigReader::subject_of(*this),
        ": expects images of rank 3 (height, width, channels) or 4 (batched), got shape ", in.shape().to_string());
    const std::int64_t axis = static_cast<std::int64_t>(in.rank()) + axis_;
    if (!ctx.training) return {with_unknown_dim(in, axis)};
    STRATA_CHECK(interpolation_ == "bilinear" || interpolation_ == "nearest", ValueError,
                 ConfigReader::subject_of(*this), ": interpolation '", interpolation_,
                 "' is not supported in training (bilinear and nearest are)");
    Images im = images(in, false);
    Tensor x = im.x;
    if (!is_floating(x.dtype())) x = cast(x, DType::kFloat32);  // the resize ops take floats
    // One factor per call, drawn on the host (the size is a host tensor): the new size is
    // int(factor * size) as tf-keras computes it in float32.
    const Device cpu = Device::cpu();
    const Tensor factor = in_range(uniform(x, 1, false, cpu), 1.0 + factor_.lower, 1.0 + factor_.upper);
    const std::int64_t resized = axis_ == -3 ? 1 : 2;
    const Tensor dims = shape_of(x);
    const Tensor old = cast(slice(dims, {resized}, {1}), DType::kFloat32);
    const Tensor fresh = cast(reshape(factor, Shape{1}) * old, DType::kInt64);
    const Tensor kept = slice(dims, {resized == 1 ? 2 : 1}, {1});
    const Tensor size = resized == 1 ? concat({fresh, kept}, 0) : concat({kept, fresh}, 0);
    Tensor y = interpolation_ == "bilinear" ? resize_bilinear(x, size, false, true)
                                            : resize_nearest_neighbor(x, size, false, true);
    if (y.dtype() != dtype()) y = cast(y, dtype());
    return {im.undo(y)};
  }
  void write_own_keys(Config& c) const override {
    c["factor"] = factor_.written;
    c["interpolation"] = interpolation_;
  }

 private:
  std::int64_t axis_;
  Factor factor_;
  std::string interpolation_;
};

class RandomHeight final : public RandomResize {
 public:
  explicit RandomHeight(const Config& c) : RandomResize("RandomHeight", c, -3) {}
};

class RandomWidth final : public RandomResize {
 public:
  explicit RandomWidth(const Config& c) : RandomResize("RandomWidth", c, -2) {}
};

}  // namespace

void register_random_augmentation_layers(Registrar& registrar) {
  register_layer<RandomFlip>(registrar, "RandomFlip");
  register_layer<RandomRotation>(registrar, "RandomRotation");
  register_layer<RandomZoom>(registrar, "RandomZoom");
  register_layer<RandomTranslation>(registrar, "RandomTranslation");
  register_layer<RandomCrop>(registrar, "RandomCrop");
  register_layer<RandomContrast>(registrar, "RandomContrast");
  register_layer<RandomBrightness>(registrar, "RandomBrightness");
  register_layer<RandomHeight>(registrar, "RandomHeight");
  register_layer<RandomWidth>(registrar, "RandomWidth");
}

}  // namespace strata::layers
