// The test plugin "test-custom-objects": the Keras saving guide's custom objects, shipped
// the way a third party would ship them.
//  - layer "custom_layer": units; weights w, b (random_normal); call = matmul(x, w) + b
//  - activation "custom_activation": tanh(x)^2
//  - layer "NestedDenseLayer": two tracked Dense layers (the guide's nested-weights example)
//  - model "SubclassedModel": the guide's 784-64-64-10 MLP as a subclassed model; it has no
//    config of its own, like the guide's class
//  - model "CustomModel": the guide's subclassed model with get_config (custom_model.cpp)
//  - one class of every config-built kind under the "*_plugin" names of matrix_objects.hpp
//    (custom_object_matrix_test's "plugin" way)
#include <memory>

#include "matrix_objects.hpp"

#include "strata/activations.hpp"
#include "strata/initializers.hpp"
#include "strata/layer.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/registrar.hpp"

void register_custom_model(strata::Registrar& r);  // custom_model.cpp

namespace {

using strata::Config;
using strata::Tensor;

std::int64_t int_key(const Config& c, const char* key, std::int64_t fallback) {
  return c.contains(key) && c[key].is_number_integer() ? c[key].get<std::int64_t>() : fallback;
}

class CustomLayer final : public strata::Layer {
 public:
  explicit CustomLayer(const Config& config) : Layer("custom_layer", config), units_(int_key(config, "units", 32)) {}

  void build(const std::vector<strata::Shape>& shapes) override {
    const auto in = shapes.at(0).dims().back();
    w_ = add_weight("w", strata::Shape{in, units_}, strata::get_initializer(Config("random_normal")));
    b_ = add_weight("b", strata::Shape{units_}, strata::get_initializer(Config("random_normal")));
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext&) const override {
    return {strata::matmul(inputs[0], strata::read(w_)) + strata::read(b_)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["units"] = units_;
    return c;
  }

 private:
  std::int64_t units_;
  strata::Variable w_, b_;
};

class CustomActivation final : public strata::Activation {
 public:
  std::string class_name() const override { return "custom_activation"; }
  Tensor operator()(const Tensor& x) const override {
    const Tensor t = strata::tanh(x);
    return t * t;
  }
};

Config dense_config(std::int64_t units, const std::string& name, const char* activation = "linear") {
  return Config{{"units", units}, {"name", name}, {"activation", activation}};
}

class NestedDenseLayer final : public strata::Layer {
 public:
  explicit NestedDenseLayer(const Config& config) : Layer("NestedDenseLayer", config) {
    const auto units = int_key(config, "units", 10);
    dense_1_ = strata::make_layer("Dense", dense_config(units, "dense_1"));
    dense_2_ = strata::make_layer("Dense", dense_config(units, "dense_2"));
    track("dense_1", dense_1_);
    track("dense_2", dense_2_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext& ctx) const override {
    return (*dense_2_)((*dense_1_)(inputs, ctx), ctx);
  }

 private:
  std::shared_ptr<strata::Layer> dense_1_, dense_2_;
};

class SubclassedModel final : public strata::Model {
 public:
  explicit SubclassedModel(const Config& config) : Model("SubclassedModel", config) {
    dense_1_ = strata::make_layer("Dense", dense_config(64, "dense_1", "relu"));
    dense_2_ = strata::make_layer("Dense", dense_config(64, "dense_2", "relu"));
    dense_3_ = strata::make_layer("Dense", dense_config(int_key(config, "output_dim", 10), "predictions"));
    track("dense_1", dense_1_);
    track("dense_2", dense_2_);
    track("dense_3", dense_3_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext& ctx) const override {
    return (*dense_3_)((*dense_2_)((*dense_1_)(inputs, ctx), ctx), ctx);
  }

 private:
  std::shared_ptr<strata::Layer> dense_1_, dense_2_, dense_3_;
};

void register_all(strata::Registrar& r) {
  strata::register_layer<CustomLayer>(r, "custom_layer");
  strata::register_layer<NestedDenseLayer>(r, "NestedDenseLayer");
  r.add<strata::ObjectKind::kActivation>("custom_activation",
                                          [](const Config&) { return std::make_shared<CustomActivation>(); });
  r.add<strata::ObjectKind::kModel>(
      "SubclassedModel", [](const Config& c) -> std::shared_ptr<strata::Model> { return std::make_shared<SubclassedModel>(c); });
  register_custom_model(r);
  strata_matrix::add_all(r, strata_matrix::Names{"plugin"});
}

}  // namespace

STRATA_PLUGIN("test-custom-objects", "1.0.0", "the Keras saving guide's custom layer, activation and models",
              register_all);
