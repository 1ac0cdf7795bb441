// Layers that are the identity at inference and regularize in training, as tf-keras 2.17
// computes them: GaussianNoise, GaussianDropout, AlphaDropout, ActivityRegularization; and
// Identity. (Dropout and SpatialDropout1D/2D/3D are in core.cpp.) Seeded layers draw with
// seed, seed + 1, ... on successive calls, as Dropout does (tf-keras's legacy seeding).
#include <atomic>
#include <cmath>

#include "common.hpp"

namespace strata::layers {
namespace {

// The base of the noise layers: their one required parameter (`stddev` or `rate`, kept as
// written), the seed and the per-call stream; get_config writes {key, seed} as tf-keras.
class SeededLayer : public Layer {
 public:
  SeededLayer(const std::string& class_name, const Config& c, const char* key, const Range& range)
      : Layer(class_name, c), key_(key) {
    auto frame = ErrorContext::push("reading the config of ", class_name, " layer '", name(), "'");
    const ConfigReader r(c, *this);
    r.required<double>(key, range);
    parameter_ = r.number(key, 0.0);
    seed_ = r.if_present<std::int64_t>("seed");
    set_supports_masking(true);
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c[key_] = parameter_;
    c["seed"] = seed_ ? Config(*seed_) : Config(nullptr);
    return c;
  }

 protected:
  double parameter() const { return parameter_.get<double>(); }
  std::optional<std::int64_t> next_seed() const {
    if (!seed_) return std::nullopt;
    return *seed_ + calls_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  const char* key_;
  Config parameter_;
  std::optional<std::int64_t> seed_;
  mutable std::atomic<std::int64_t> calls_{0};
};

class GaussianNoise final : public SeededLayer {
 public:
  explicit GaussianNoise(const Config& c) : SeededLayer("GaussianNoise", c, "stddev", Range::non_negative()) {}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Tensor& x = single_input(*this, inputs);
    if (!ctx.training) return {x};
    return {x + normal_noise_like(x, x.shape(), next_seed()) * parameter()};
  }
};

class GaussianDropout final : public SeededLayer {
 public:
  explicit GaussianDropout(const Config& c) : SeededLayer("GaussianDropout", c, "rate", Range::closed(0.0, 1.0)) {}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Tensor& x = single_input(*this, inputs);
    const double rate = parameter();
    if (!ctx.training || !(rate > 0.0 && rate < 1.0)) return {x};
    const double stddev = std::sqrt(rate / (1.0 - rate));
    return {x * (normal_noise_like(x, x.shape(), next_seed()) * stddev + 1.0)};
  }
};

class AlphaDropout final : public SeededLayer {
 public:
  explicit AlphaDropout(const Config& c) : SeededLayer("AlphaDropout", c, "rate", Range::closed(0.0, 1.0)) {
    // tf-keras reads noise_shape but does not write it back.
    if (const auto shape = ConfigReader(c, *this).shape("noise_shape")) noise_shape_ = shape->dims();
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Tensor& x = single_input(*this, inputs);
    const double rate = parameter();
    if (!ctx.training || !(rate > 0.0 && rate < 1.0)) return {x};
    Shape noise = x.shape();
    if (noise_shape_) {
      STRATA_CHECK(noise_shape_->size() == x.rank(), ShapeError, ConfigReader::subject_of(*this), ": noise_shape has ",
                   noise_shape_->size(), " dimensions but the input has shape ", x.shape().to_string());
      noise = Shape(*noise_shape_);
    }
    // SELU's fixed point: dropped units are set to alpha' = -alpha * scale, then an affine
    // map restores zero mean and unit variance.
    constexpr double kAlpha = 1.6732632423543772848170429916717;
    constexpr double kScale = 1.0507009873554804934193349852946;
    const double alpha_p = -kAlpha * kScale;
    const double a = std::pow((1.0 - rate) * (1.0 + rate * alpha_p * alpha_p), -0.5);
    const double b = -a * alpha_p * rate;
    const Tensor kept = cast(greater_equal(uniform_noise_like(x, noise, next_seed()), scalar_like(x, rate)), x.dtype());
    const Tensor dropped = x * kept + (scalar_like(kept, 1.0) - kept) * alpha_p;
    return {dropped * a + b};
  }

 private:
  std::optional<std::vector<std::int64_t>> noise_shape_;
};

class ActivityRegularization final : public Layer {
 public:
  explicit ActivityRegularization(const Config& c) : Layer("ActivityRegularization", c) {
    auto frame = ErrorContext::push("reading the config of ActivityRegularization layer '", name(), "'");
    const ConfigReader r(c, *this);
    l1_ = r.number("l1", 0.0, Range::non_negative());
    l2_ = r.number("l2", 0.0, Range::non_negative());
    // tf-keras: activity_regularizer=regularizers.L1L2(l1=l1, l2=l2).
    const Config spec{{"regularizer", {{"class_name", "L1L2"}, {"config", {{"l1", l1_}, {"l2", l2_}}}}}};
    regularizer_ = regularizer_at(spec, "regularizer");
    set_supports_masking(true);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    add_activity_regularization(*this, regularizer_, x);
    return {x};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["l1"] = l1_;
    c["l2"] = l2_;
    return c;
  }

 private:
  Config l1_, l2_;
  std::shared_ptr<Regularizer> regularizer_;
};

class IdentityLayer final : public Layer {
 public:
  explicit IdentityLayer(const Config& c) : Layer("Identity", c) { set_supports_masking(true); }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override { return inputs; }
};

}  // namespace

void register_noise_layers(Registrar& registrar) {
  register_layer<GaussianNoise>(registrar, "GaussianNoise");
  register_layer<GaussianDropout>(registrar, "GaussianDropout");
  register_layer<AlphaDropout>(registrar, "AlphaDropout");
  register_layer<ActivityRegularization>(registrar, "ActivityRegularization");
  register_layer<IdentityLayer>(registrar, "Identity");
}

}  // namespace strata::layers
