// The layers keras.applications defines for itself. The two of ConvNeXt (tf_keras.src.applications.convnext):
// LayerScale (x * gamma, gamma of projection_dim values starting at init_values) and
// StochasticDepth (drops the whole residual branch per sample in training, scaling kept
// samples by 1 / keep_prob; the identity in inference). tf-keras does not register them with
// a package, so configs name them by their bare class names ("LayerScale"; tf-keras's
// to_json adds module "tf_keras.src.applications.convnext" and registered_name "LayerScale").
#include "common.hpp"

namespace strata::layers {
namespace {

class LayerScale final : public Layer {
 public:
  explicit LayerScale(const Config& c) : Layer("LayerScale", c) {
    auto frame = ErrorContext::push("reading the config of LayerScale layer '", name(), "'");
    const ConfigReader r(c, *this);
    r.required<double>("init_values");
    init_values_ = r.number("init_values", 0.0);
    projection_dim_ = r.required<std::int64_t>("projection_dim", Range::positive());
  }

  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, 1, /*at_least=*/true);
    const std::int64_t last = s.dims().back();
    STRATA_CHECK(last == Shape::kUnknown || last == projection_dim_ || projection_dim_ == 1, ShapeError,
                 ConfigReader::subject_of(*this), ": projection_dim ", projection_dim_,
                 " does not broadcast against inputs of shape ", s.to_string());
    gamma_ = add_weight(
        "gamma", Shape{projection_dim_},
        get_initializer(Config{{"class_name", "Constant"}, {"config", Config{{"value", init_values_.get<double>()}}}}));
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    return {single_input(*this, inputs) * read(gamma_)};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["init_values"] = init_values_;
    c["projection_dim"] = projection_dim_;
    return c;
  }

 private:
  Config init_values_;
  std::int64_t projection_dim_ = 0;
  Variable gamma_;
};

class StochasticDepth final : public Layer {
 public:
  explicit StochasticDepth(const Config& c) : Layer("StochasticDepth", c) {
    auto frame = ErrorContext::push("reading the config of StochasticDepth layer '", name(), "'");
    const ConfigReader r(c, *this);
    r.required<double>("drop_path_rate", Range::closed(0.0, 1.0));
    rate_ = r.number("drop_path_rate", 0.0);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Tensor& x = single_input(*this, inputs);
    if (!ctx.training) return {x};
    const double keep = 1.0 - rate_.get<double>();
    std::vector<std::int64_t> dims(x.rank(), 1);
    dims[0] = x.shape().dims()[0];
    // floor(keep_prob + U[0, 1)): 1 with probability keep_prob, per sample.
    const Tensor kept = floor(uniform_noise_like(x, Shape(dims), std::nullopt) + keep);
    return {(x / keep) * kept};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["drop_path_rate"] = rate_;
    return c;
  }

 private:
  Config rate_;
};

// tf-keras's InceptionResNetV2 residual scaling: inputs[0] + inputs[1] * scale. tf-keras
// registers it as a serializable custom object of package "Custom", so its files name it
// "Custom>CustomScaleLayer".
class CustomScaleLayer final : public Layer {
 public:
  explicit CustomScaleLayer(const Config& c) : Layer("Custom>CustomScaleLayer", c) {
    auto frame = ErrorContext::push("reading the config of CustomScaleLayer layer '", name(), "'");
    const ConfigReader r(c, *this);
    r.required<double>("scale");
    scale_ = r.number("scale", 1.0);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    STRATA_CHECK(inputs.size() == 2, ValueError, ConfigReader::subject_of(*this), ": takes two inputs, got ",
                 inputs.size());
    return {inputs[0] + inputs[1] * scale_.get<double>()};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["scale"] = scale_;
    return c;
  }

 private:
  Config scale_;
};

}  // namespace

void register_convnext_layers(Registrar& registrar) {
  // Not a keras.layers class: registered under its package name, as tf-keras writes it.
  registrar.set_module(ObjectKind::kLayer, "");
  register_layer<CustomScaleLayer>(registrar, "Custom>CustomScaleLayer");
  registrar.set_module(ObjectKind::kLayer, "tf_keras.src.applications.convnext");
  register_layer<LayerScale>(registrar, "LayerScale");
  register_layer<StochasticDepth>(registrar, "StochasticDepth");
  registrar.set_module(ObjectKind::kLayer, "keras.layers");
}

}  // namespace strata::layers
