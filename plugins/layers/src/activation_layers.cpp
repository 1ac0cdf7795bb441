// The activation layers of tf-keras 2.17 (keras.layers.activation): ReLU, LeakyReLU, PReLU,
// ELU, ThresholdedReLU and Softmax, computed as tf-keras's backend computes them and written
// in ops, so gradients come from the ops. Their float parameters are float32 in tf-keras
// (backend.cast_to_floatx), so get_config writes them rounded to float32 as tf-keras does.
#include "common.hpp"

namespace strata::layers {
namespace {

// A float parameter that tf-keras refuses when null ("alpha of None") or, with
// `non_negative`, below zero. Keras 3 names some of them differently (`alternative`).
double float_parameter(const Layer& layer, const Config& c, const char* key, double fallback, bool non_negative,
                       const char* alternative = nullptr) {
  const ConfigReader r(c, layer);
  const char* used = alternative != nullptr && !c.contains(key) && r.has(alternative) ? alternative : key;
  STRATA_CHECK(!(c.contains(used) && c.at(used).is_null()), ValueError, ConfigReader::subject_of(layer), ": '", used,
               "' must be a number, got null");
  return r.optional(used, fallback, non_negative ? Range::non_negative() : Range());
}

// tf-keras's backend.relu(x, alpha, max_value, threshold).
Tensor keras_relu(const Tensor& x, double alpha, std::optional<double> max_value, double threshold) {
  if (alpha != 0.0 && !max_value && threshold == 0.0) {
    return select(greater(x, scalar_like(x, 0.0)), x, x * alpha);  // tf.nn.leaky_relu
  }
  Tensor negative_part;
  if (alpha != 0.0) negative_part = threshold != 0.0 ? relu(scalar_like(x, threshold) - x) : relu(-x);
  bool clip_max = max_value.has_value();
  Tensor y;
  if (threshold != 0.0) {
    y = x * cast(greater(x, scalar_like(x, threshold)), x.dtype());
  } else if (max_value && *max_value == 6.0) {
    y = relu6(x);
    clip_max = false;
  } else {
    y = relu(x);
  }
  if (clip_max) y = minimum(maximum(y, scalar_like(y, 0.0)), scalar_like(y, *max_value));
  if (alpha != 0.0) y = y - negative_part * alpha;
  return y;
}

class ReLU final : public Layer, public InferenceTraceable {
 public:
  explicit ReLU(const Config& c) : Layer("ReLU", c) {
    auto frame = ErrorContext::push("reading the config of ReLU layer '", name(), "'");
    const ConfigReader r(c, *this);
    if (const auto m = r.if_present<double>("max_value", Range::non_negative())) max_value_ = round_to_float32(*m);
    negative_slope_ = round_to_float32(float_parameter(*this, c, "negative_slope", 0.0, true));
    threshold_ = round_to_float32(float_parameter(*this, c, "threshold", 0.0, true));
    set_supports_masking(true);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    return {keras_relu(single_input(*this, inputs), negative_slope_, max_value_, threshold_)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["max_value"] = max_value_ ? Config(*max_value_) : Config();
    c["negative_slope"] = negative_slope_;
    c["threshold"] = threshold_;
    return c;
  }

 private:
  std::optional<double> max_value_;
  double negative_slope_ = 0.0, threshold_ = 0.0;
};

class LeakyReLU final : public Layer, public InferenceTraceable {
 public:
  explicit LeakyReLU(const Config& c) : Layer("LeakyReLU", c) {
    auto frame = ErrorContext::push("reading the config of LeakyReLU layer '", name(), "'");
    // tf-keras 2 writes `alpha`; Keras 3 writes `negative_slope`.
    alpha_ = round_to_float32(float_parameter(*this, c, "alpha", 0.3, false, "negative_slope"));
    set_supports_masking(true);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    return {keras_relu(single_input(*this, inputs), alpha_, std::nullopt, 0.0)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["alpha"] = alpha_;
    return c;
  }

 private:
  double alpha_ = 0.3;
};

class PReLU final : public Layer, public InferenceTraceable {
 public:
  explicit PReLU(const Config& c) : Layer("PReLU", c) {
    auto frame = ErrorContext::push("reading the config of PReLU layer '", name(), "'");
    alpha_initializer_ = initializer_at(c, "alpha_initializer", "zeros");
    alpha_regularizer_ = regularizer_at(c, "alpha_regularizer");
    alpha_constraint_ = constraint_at(c, "alpha_constraint");
    if (find_key(c, "shared_axes")) shared_axes_ = get_int_or_list(c, "shared_axes", {});
    set_supports_masking(true);
  }
  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, 2, /*at_least=*/true);
    std::vector<std::int64_t> param(s.dims().begin() + 1, s.dims().end());
    if (shared_axes_) {
      for (const std::int64_t axis : *shared_axes_) {
        STRATA_CHECK(axis >= 1 && axis < static_cast<std::int64_t>(s.rank()), ValueError,
                     ConfigReader::subject_of(*this), ": shared axis ", axis, " is not an axis of the input ",
                     s.to_string(), " other than the batch axis");
        param[static_cast<std::size_t>(axis - 1)] = 1;
      }
    }
    for (std::size_t i = 0; i < param.size(); ++i) {
      STRATA_CHECK(param[i] != Shape::kUnknown, ShapeError, ConfigReader::subject_of(*this), ": input dimension ",
                   i + 1, " of ", s.to_string(), " must be known or shared (shared_axes)");
    }
    checked_element_count(param, ConfigReader::subject_of(*this) + ": alpha");
    alpha_ = add_weight("alpha", Shape(param), alpha_initializer_, true, alpha_regularizer_, alpha_constraint_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    const Tensor alpha = read(alpha_);
    return {relu(x) + neg(alpha) * relu(neg(x))};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["alpha_initializer"] = serialized_or_null(alpha_initializer_);
    c["alpha_regularizer"] = serialized_or_null(alpha_regularizer_);
    c["alpha_constraint"] = serialized_or_null(alpha_constraint_);
    c["shared_axes"] = shared_axes_ ? int_list(*shared_axes_) : Config();
    return c;
  }

 private:
  std::shared_ptr<Initializer> alpha_initializer_;
  std::shared_ptr<Regularizer> alpha_regularizer_;
  std::shared_ptr<Constraint> alpha_constraint_;
  std::optional<std::vector<std::int64_t>> shared_axes_;
  Variable alpha_;
};

class ELU final : public Layer, public InferenceTraceable {
 public:
  explicit ELU(const Config& c) : Layer("ELU", c) {
    auto frame = ErrorContext::push("reading the config of ELU layer '", name(), "'");
    alpha_ = round_to_float32(float_parameter(*this, c, "alpha", 1.0, false));
    set_supports_masking(true);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    const Tensor res = elu(x);
    if (alpha_ == 1.0) return {res};
    return {select(greater(x, scalar_like(x, 0.0)), res, res * alpha_)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["alpha"] = alpha_;
    return c;
  }

 private:
  double alpha_ = 1.0;
};

class ThresholdedReLU final : public Layer, public InferenceTraceable {
 public:
  explicit ThresholdedReLU(const Config& c) : Layer("ThresholdedReLU", c) {
    auto frame = ErrorContext::push("reading the config of ThresholdedReLU layer '", name(), "'");
    theta_ = round_to_float32(float_parameter(*this, c, "theta", 1.0, true));
    set_supports_masking(true);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    return {x * cast(greater(x, scalar_like(x, theta_)), x.dtype())};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["theta"] = theta_;
    return c;
  }

 private:
  double theta_ = 1.0;
};

class SoftmaxLayer final : public Layer {
 public:
  explicit SoftmaxLayer(const Config& c) : Layer("Softmax", c) {
    auto frame = ErrorContext::push("reading the config of Softmax layer '", name(), "'");
    const Config* axis = find_key(c, "axis");
    axis_config_ = axis ? *axis : Config(-1);
    axes_ = get_int_or_list(c, "axis", {-1});
    STRATA_CHECK(!axes_.empty(), ValueError, ConfigReader::subject_of(*this), ": 'axis' must not be empty");
    // tf-keras 2.21's key (2.17 has none): written only when true, as tf-keras writes it.
    ConfigReader r(c, *this);
    robust_masking_ = r.optional("robust_masking", false);
    set_supports_masking(true);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    Tensor x = single_input(*this, inputs);
    if (!ctx.masks.empty() && ctx.masks[0].defined()) {
      // Masked positions get a large negative logit (tf-keras: -1e9, float16's lowest for
      // float16) added, or with robust_masking put in their place (so that an infinite or huge
      // masked logit cannot win); a non-boolean mask keeps the positions above 0.5 then.
      const double large_negative = x.dtype() == DType::kFloat16 ? -65504.0 : -1e9;
      const Tensor& mask = ctx.masks[0];
      if (robust_masking_) {
        const Tensor keep = mask.dtype() == DType::kBool ? mask : greater(mask, scalar_like(mask, 0.5));
        x = select(keep, x, scalar_like(x, large_negative));
      } else {
        const Tensor keep = cast(mask, x.dtype());
        x = x + (scalar_like(keep, 1.0) - keep) * large_negative;
      }
    }
    if (axes_.size() == 1) return {softmax(x, axes_[0])};
    // exp(x - logsumexp(x, axes)), with tf.reduce_logsumexp's stabilising maximum.
    const Tensor m = stop_gradient(max(x, axes_, true));
    const Tensor lse = log(sum(exp(x - m), axes_, true)) + m;
    return {exp(x - lse)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["axis"] = axis_config_;
    if (robust_masking_) c["robust_masking"] = true;
    return c;
  }

 private:
  Config axis_config_;
  bool robust_masking_ = false;
  std::vector<std::int64_t> axes_;
};

}  // namespace

void register_activation_layers(Registrar& registrar) {
  register_layer<ReLU>(registrar, "ReLU");
  register_layer<LeakyReLU>(registrar, "LeakyReLU");
  register_layer<PReLU>(registrar, "PReLU");
  register_layer<ELU>(registrar, "ELU");
  register_layer<ThresholdedReLU>(registrar, "ThresholdedReLU");
  register_layer<SoftmaxLayer>(registrar, "Softmax");
}

}  // namespace strata::layers
