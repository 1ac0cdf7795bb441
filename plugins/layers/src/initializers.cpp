// Keras's initializers. Random ones draw from the counter-based random ops: with a seed
// they return the same values for the same shape on every call (as tf-keras 2.17's
// seeded initializers do); without one they differ per call and follow
// set_random_seed. Configs are written key for key as tf-keras writes them; numbers
// the user gave (mean, stddev, value, ...) are echoed back as given.
#include <cmath>
#include <functional>
#include <numeric>

#include "common.hpp"

namespace strata::layers {
namespace {

// ---- helpers ----------------------------------------------------------------------------

std::optional<std::int64_t> seed_of(const Config& c) {
  if (!find_key(c, "seed")) return std::nullopt;
  return get_int(c, "seed", 0);
}

Config seed_config(const std::optional<std::int64_t>& seed) { return seed ? Config(*seed) : Config(nullptr); }

// Keras's _compute_fans: convolution kernels count the receptive field.
std::pair<double, double> compute_fans(const Shape& shape) {
  const auto& d = shape.dims();
  if (d.empty()) return {1.0, 1.0};
  if (d.size() == 1) return {static_cast<double>(d[0]), static_cast<double>(d[0])};
  if (d.size() == 2) return {static_cast<double>(d[0]), static_cast<double>(d[1])};
  double receptive = 1.0;
  for (std::size_t i = 0; i + 2 < d.size(); ++i) receptive *= static_cast<double>(d[i]);
  return {static_cast<double>(d[d.size() - 2]) * receptive, static_cast<double>(d[d.size() - 1]) * receptive};
}

void require_float(const std::string& who, DType dtype) {
  STRATA_CHECK(is_floating(dtype), ValueError, who, " initializer can only make floating-point values, not ",
               dtype_name(dtype));
}

// A tensor of `dtype` on the default device from host values.
Tensor host_tensor(const std::vector<double>& values, const Shape& shape, DType dtype) {
  if (dtype == DType::kFloat64) return Tensor::from_vector<double>(values, shape);
  if (dtype == DType::kFloat32) {
    std::vector<float> f(values.begin(), values.end());
    return Tensor::from_vector<float>(f, shape);
  }
  return cast(Tensor::from_vector<double>(values, shape), dtype);
}

std::vector<double> to_doubles(const Tensor& t) {
  if (t.dtype() == DType::kFloat64) return t.to_vector<double>();
  const auto f = cast(t, DType::kFloat32).to_vector<float>();
  return {f.begin(), f.end()};
}

class NamedInitializer : public Initializer {
 public:
  explicit NamedInitializer(std::string name) : name_(std::move(name)) {}
  std::string class_name() const override { return name_; }

 private:
  std::string name_;
};

// ---- constants --------------------------------------------------------------------------

class Zeros final : public NamedInitializer {
 public:
  explicit Zeros(const Config&) : NamedInitializer("Zeros") {}
  Tensor operator()(const Shape& shape, DType dtype) const override { return zeros(shape, dtype); }
};

class Ones final : public NamedInitializer {
 public:
  explicit Ones(const Config&) : NamedInitializer("Ones") {}
  Tensor operator()(const Shape& shape, DType dtype) const override { return ones(shape, dtype); }
};

void flatten_numbers(const Config& v, std::vector<double>& out) {
  if (v.is_array()) {
    for (const auto& e : v) flatten_numbers(e, out);
    return;
  }
  STRATA_CHECK(v.is_number(), FormatError, "Constant's value must be a number or a list of numbers, got ", v.dump());
  out.push_back(v.get<double>());
}

class Constant final : public NamedInitializer {
 public:
  explicit Constant(const Config& c) : NamedInitializer("Constant") {
    const Config* v = find_key(c, "value");
    value_ = v ? *v : Config(0);
    flatten_numbers(value_, values_);
  }
  Tensor operator()(const Shape& shape, DType dtype) const override {
    if (!value_.is_array()) return fill(shape, values_.at(0), dtype);
    const std::int64_t n = shape.num_elements();
    if (values_.size() == 1) return fill(shape, values_[0], dtype);
    STRATA_CHECK(static_cast<std::int64_t>(values_.size()) == n, ShapeError, "Constant initializer holds ",
                 values_.size(), " values but the weight has shape ", shape.to_string());
    return host_tensor(values_, shape, dtype);
  }
  Config get_config() const override { return Config{{"value", value_}}; }

 private:
  Config value_;
  std::vector<double> values_;
};

class Identity final : public NamedInitializer {
 public:
  explicit Identity(const Config& c) : NamedInitializer("Identity"), gain_(get_number(c, "gain", 1.0)) {}
  Tensor operator()(const Shape& shape, DType dtype) const override {
    STRATA_CHECK(shape.rank() == 2, ShapeError, "Identity initializer can only be used for 2D matrices, got shape ",
                 shape.to_string());
    const std::int64_t rows = shape[0], cols = shape[1];
    std::vector<double> v(static_cast<std::size_t>(rows * cols), 0.0);
    const double gain = gain_.get<double>();
    for (std::int64_t i = 0; i < std::min(rows, cols); ++i) v[static_cast<std::size_t>(i * cols + i)] = gain;
    return host_tensor(v, shape, dtype);
  }
  Config get_config() const override { return Config{{"gain", gain_}}; }

 private:
  Config gain_;
};

// ---- random -----------------------------------------------------------------------------

class RandomNormal final : public NamedInitializer {
 public:
  explicit RandomNormal(const Config& c, std::string name = "RandomNormal", bool truncated = false)
      : NamedInitializer(std::move(name)),
        mean_(get_number(c, "mean", 0.0)),
        stddev_(get_number(c, "stddev", 0.05)),
        seed_(seed_of(c)),
        truncated_(truncated) {}
  Tensor operator()(const Shape& shape, DType dtype) const override {
    require_float(class_name(), dtype);
    return truncated_ ? truncated_normal(shape, dtype, mean_.get<double>(), stddev_.get<double>(), seed_)
                      : random_normal(shape, dtype, mean_.get<double>(), stddev_.get<double>(), seed_);
  }
  Config get_config() const override {
    return Config{{"mean", mean_}, {"stddev", stddev_}, {"seed", seed_config(seed_)}};
  }

 private:
  Config mean_, stddev_;
  std::optional<std::int64_t> seed_;
  bool truncated_;
};

class RandomUniform final : public NamedInitializer {
 public:
  explicit RandomUniform(const Config& c)
      : NamedInitializer("RandomUniform"),
        minval_(get_number(c, "minval", -0.05)),
        maxval_(get_number(c, "maxval", 0.05)),
        seed_(seed_of(c)) {}
  Tensor operator()(const Shape& shape, DType dtype) const override {
    require_float(class_name(), dtype);
    return random_uniform(shape, dtype, minval_.get<double>(), maxval_.get<double>(), seed_);
  }
  Config get_config() const override {
    return Config{{"minval", minval_}, {"maxval", maxval_}, {"seed", seed_config(seed_)}};
  }

 private:
  Config minval_, maxval_;
  std::optional<std::int64_t> seed_;
};

// VarianceScaling and its fixed-parameter family (Glorot, He, Lecun).
class VarianceScaling final : public NamedInitializer {
 public:
  // The VarianceScaling class itself: parameters from the config.
  explicit VarianceScaling(const Config& c) : NamedInitializer("VarianceScaling"), full_config_(true), seed_(seed_of(c)) {
    scale_ = get_number(c, "scale", 1.0);
    STRATA_CHECK(scale_.get<double>() > 0.0, ValueError, "VarianceScaling: scale must be positive, got ", scale_.dump());
    mode_ = get_string(c, "mode", "fan_in");
    for (auto& ch : mode_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    STRATA_CHECK(mode_ == "fan_in" || mode_ == "fan_out" || mode_ == "fan_avg", ValueError,
                 "VarianceScaling: mode must be fan_in, fan_out or fan_avg, got \"", mode_, "\"");
    distribution_ = get_string(c, "distribution", "truncated_normal");
    for (auto& ch : distribution_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (distribution_ == "normal") distribution_ = "truncated_normal";
    STRATA_CHECK(distribution_ == "uniform" || distribution_ == "truncated_normal" ||
                     distribution_ == "untruncated_normal",
                 ValueError, "VarianceScaling: distribution must be uniform, truncated_normal or untruncated_normal, got \"",
                 distribution_, "\"");
  }
  // GlorotUniform & co.: fixed parameters, config {"seed": ...}.
  VarianceScaling(std::string name, const Config& c, double scale, std::string mode, std::string distribution)
      : NamedInitializer(std::move(name)),
        scale_(scale),
        mode_(std::move(mode)),
        distribution_(std::move(distribution)),
        full_config_(false),
        seed_(seed_of(c)) {}

  Tensor operator()(const Shape& shape, DType dtype) const override {
    require_float(class_name(), dtype);
    const auto [fan_in, fan_out] = compute_fans(shape);
    double scale = scale_.get<double>();
    if (mode_ == "fan_in") {
      scale /= std::max(1.0, fan_in);
    } else if (mode_ == "fan_out") {
      scale /= std::max(1.0, fan_out);
    } else {
      scale /= std::max(1.0, (fan_in + fan_out) / 2.0);
    }
    if (distribution_ == "truncated_normal") {
      // The standard deviation of a unit normal truncated to [-2, 2].
      const double stddev = std::sqrt(scale) / 0.87962566103423978;
      return truncated_normal(shape, dtype, 0.0, stddev, seed_);
    }
    if (distribution_ == "untruncated_normal") return random_normal(shape, dtype, 0.0, std::sqrt(scale), seed_);
    const double limit = std::sqrt(3.0 * scale);
    return random_uniform(shape, dtype, -limit, limit, seed_);
  }
  Config get_config() const override {
    if (!full_config_) return Config{{"seed", seed_config(seed_)}};
    return Config{{"scale", scale_}, {"mode", mode_}, {"distribution", distribution_}, {"seed", seed_config(seed_)}};
  }

 private:
  Config scale_;
  std::string mode_, distribution_;
  bool full_config_;
  std::optional<std::int64_t> seed_;
};

// The most multiply-adds (m x n x n) Orthogonal spends: 2^40, about an LSTM of 6500 units'
// recurrent kernel, minutes of work; more is refused rather than run for hours.
constexpr std::int64_t kMaxOrthogonalWork = std::int64_t{1} << 40;

class Orthogonal final : public NamedInitializer {
 public:
  explicit Orthogonal(const Config& c) : NamedInitializer("Orthogonal"), gain_(get_number(c, "gain", 1.0)), seed_(seed_of(c)) {}

  Tensor operator()(const Shape& shape, DType dtype) const override {
    require_float(class_name(), dtype);
    STRATA_CHECK(shape.rank() >= 2, ShapeError,
                 "Orthogonal initializer needs a shape of rank 2 or more, got ", shape.to_string());
    // The shape may come from a file: its sizes are checked, an empty weight needs no work,
    // and the O(m n^2) Gram-Schmidt below is bounded (a huge request fails at once instead
    // of running for days, or, with a wrapped size, spinning over rows of nothing).
    std::int64_t rows = 1;
    for (std::size_t i = 0; i + 1 < shape.rank(); ++i) rows = checked_mul(rows, shape.dims()[i], "Orthogonal initializer");
    const std::int64_t cols = shape.dims().back();
    checked_mul(rows, cols, "Orthogonal initializer");
    if (rows == 0 || cols == 0) return zeros(shape, dtype);
    const std::int64_t m = std::max(rows, cols), n = std::min(rows, cols);
    const bool too_much = n > kMaxOrthogonalWork / n || n * n > kMaxOrthogonalWork / m;
    STRATA_CHECK(!too_much, ValueError, "Orthogonal initializer: a weight of shape ", shape.to_string(),
                 " needs about ", static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(n),
                 " multiply-adds (an orthogonalisation of a ", m, " x ", n, " matrix); at most ", kMaxOrthogonalWork,
                 " are done. Check the layer's config (units), or give this weight another initializer");
    // Q of the QR decomposition of a normal m x n matrix, with R's diagonal made
    // positive (Keras multiplies Q by sign(diag(R))): Gram-Schmidt gives exactly that Q.
    std::vector<double> a = to_doubles(random_normal(Shape{m, n}, DType::kFloat64, 0.0, 1.0, seed_));
    auto at = [&](std::int64_t i, std::int64_t j) -> double& { return a[static_cast<std::size_t>(i * n + j)]; };
    for (std::int64_t j = 0; j < n; ++j) {
      for (int pass = 0; pass < 2; ++pass) {  // re-orthogonalise once: "twice is enough"
        for (std::int64_t k = 0; k < j; ++k) {
          double dot = 0.0;
          for (std::int64_t i = 0; i < m; ++i) dot += at(i, k) * at(i, j);
          for (std::int64_t i = 0; i < m; ++i) at(i, j) -= dot * at(i, k);
        }
      }
      double norm = 0.0;
      for (std::int64_t i = 0; i < m; ++i) norm += at(i, j) * at(i, j);
      norm = std::sqrt(norm);
      for (std::int64_t i = 0; i < m; ++i) at(i, j) = norm > 0.0 ? at(i, j) / norm : 0.0;
    }
    const double gain = gain_.get<double>();
    std::vector<double> out(static_cast<std::size_t>(rows * cols));
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < cols; ++c) {
        // rows < cols: Keras transposes the (cols x rows) Q.
        out[static_cast<std::size_t>(r * cols + c)] = gain * (rows >= cols ? at(r, c) : at(c, r));
      }
    }
    return host_tensor(out, shape, dtype);
  }
  Config get_config() const override { return Config{{"gain", gain_}, {"seed", seed_config(seed_)}}; }

 private:
  Config gain_;
  std::optional<std::int64_t> seed_;
};

using Factory = std::function<std::shared_ptr<Initializer>(const Config&)>;

template <class T>
Factory make() {
  return [](const Config& c) -> std::shared_ptr<Initializer> { return std::make_shared<T>(c); };
}

Factory variance_family(const char* name, double scale, const char* mode, const char* distribution) {
  const std::string n = name, m = mode, d = distribution;
  return [n, scale, m, d](const Config& c) -> std::shared_ptr<Initializer> {
    return std::make_shared<VarianceScaling>(n, c, scale, m, d);
  };
}

}  // namespace

void register_initializers(Registrar& registrar) {
  struct Entry {
    const char* class_name;
    std::vector<const char*> aliases;  // as tf-keras registers them
    Factory factory;
  };
  const Entry entries[] = {
      {"Zeros", {"zeros", "zero", "ZerosV2"}, make<Zeros>()},
      {"Ones", {"ones", "one", "OnesV2"}, make<Ones>()},
      {"Constant", {"constant", "ConstantV2"}, make<Constant>()},
      {"RandomNormal", {"random_normal", "normal", "RandomNormalV2"}, make<RandomNormal>()},
      {"RandomUniform", {"random_uniform", "uniform", "RandomUniformV2"}, make<RandomUniform>()},
      {"TruncatedNormal", {"truncated_normal", "TruncatedNormalV2"},
       [](const Config& c) -> std::shared_ptr<Initializer> {
         return std::make_shared<RandomNormal>(c, "TruncatedNormal", /*truncated=*/true);
       }},
      {"VarianceScaling", {"variance_scaling", "VarianceScalingV2"}, make<VarianceScaling>()},
      {"GlorotUniform", {"glorot_uniform", "GlorotUniformV2", "glorot_uniformV2"},
       variance_family("GlorotUniform", 1.0, "fan_avg", "uniform")},
      {"GlorotNormal", {"glorot_normal", "GlorotNormalV2", "glorot_normalV2"},
       variance_family("GlorotNormal", 1.0, "fan_avg", "truncated_normal")},
      {"HeNormal", {"he_normal", "HeNormalV2", "he_normalV2"}, variance_family("HeNormal", 2.0, "fan_in", "truncated_normal")},
      {"HeUniform", {"he_uniform", "HeUniformV2", "he_uniformV2"}, variance_family("HeUniform", 2.0, "fan_in", "uniform")},
      {"LecunNormal", {"lecun_normal", "LecunNormalV2", "lecun_normalV2"},
       variance_family("LecunNormal", 1.0, "fan_in", "truncated_normal")},
      {"LecunUniform", {"lecun_uniform", "LecunUniformV2", "lecun_uniformV2"},
       variance_family("LecunUniform", 1.0, "fan_in", "uniform")},
      {"Orthogonal", {"orthogonal", "OrthogonalV2"}, make<Orthogonal>()},
      {"Identity", {"identity", "IdentityV2"}, make<Identity>()},
  };
  for (const auto& e : entries) {
    registrar.add<ObjectKind::kInitializer>(e.class_name, e.factory);
    for (const char* alias : e.aliases) registrar.add<ObjectKind::kInitializer>(alias, e.factory);
  }
}

}  // namespace strata::layers
