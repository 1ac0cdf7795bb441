// A minimal third-party plugin: one custom layer, one custom activation and one custom
// optimizer, registered under Keras-style package names so that a model saved with them
// names them as "template>Scale" etc. and loads wherever this plugin is on the search path.
#include <strata/activations.hpp>
#include <strata/initializers.hpp>
#include <strata/layer.hpp>
#include <strata/ops.hpp>
#include <strata/optimizer.hpp>
#include <strata/plugin/layers.hpp>
#include <strata/plugin/registrar.hpp>

namespace {

using strata::Config;
using strata::Tensor;

// y = x * scale, with one trainable scalar weight "scale".
class Scale final : public strata::Layer {
 public:
  explicit Scale(const Config& config)
      : Layer("template>Scale", config), initial_(config.value("initial", 1.0)) {}

  void build(const std::vector<strata::Shape>&) override {
    scale_ = add_weight("scale", strata::Shape{},
                        strata::get_initializer(Config{{"class_name", "Constant"}, {"config", {{"value", initial_}}}}));
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext&) const override {
    return {inputs[0] * strata::read(scale_)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["initial"] = initial_;
    return c;
  }

 private:
  double initial_;
  strata::Variable scale_;
};

// x^3.
class Cube final : public strata::Activation {
 public:
  std::string class_name() const override { return "template>cube"; }
  Tensor operator()(const Tensor& x) const override { return x * x * x; }
};

// SignSGD: w -= learning_rate * sign(g). No slots.
class SignSGD final : public strata::Optimizer {
 public:
  explicit SignSGD(const Config& config) : Optimizer("template>SignSGD", config, 0.01) {}

 protected:
  void build_slots(const std::vector<strata::Variable>&) override {}
  void update_step(const Tensor& gradient, const strata::Variable& variable, const Tensor& lr, std::int64_t) override {
    strata::Variable v = variable;
    v.assign(v.value() - lr * strata::sign(gradient));
  }
};

void register_all(strata::Registrar& r) {
  strata::register_layer<Scale>(r, "template>Scale");
  r.add<strata::ObjectKind::kActivation>("template>cube", [](const Config&) { return std::make_shared<Cube>(); });
  r.add<strata::ObjectKind::kOptimizer>("template>SignSGD",
                                        [](const Config& c) { return std::make_shared<SignSGD>(c); });
}

}  // namespace

STRATA_PLUGIN("template", "1.0.0", "the SDK template: a custom layer, activation and optimizer", register_all);
