// The guide's "Saving the architecture" and "Custom objects" sections: get_config /
// from_config for a layer, a Sequential and a Functional model; model_to_json /
// model_from_json; a custom layer and a custom activation through a CustomObjectScope;
// clone_model.
#include "guide.hpp"

using namespace guide;

namespace {

// The guide's CustomLayer: w and b drawn from a normal distribution; its config adds units.
class CustomLayer final : public strata::Layer {
 public:
  explicit CustomLayer(const Config& config)
      : Layer("CustomLayer", config), units_(config.value("units", std::int64_t{32})) {}
  void build(const std::vector<Shape>& shapes) override {
    const auto in = shapes.at(0).dims().back();
    w_ = add_weight("w", Shape{in, units_}, strata::get_initializer(Config("random_normal")));
    b_ = add_weight("b", Shape{units_}, strata::get_initializer(Config("random_normal")));
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

// The guide's custom_activation: tanh(x)^2.
class CustomActivation final : public strata::Activation {
 public:
  std::string class_name() const override { return "custom_activation"; }
  Tensor operator()(const Tensor& x) const override {
    const Tensor t = strata::tanh(x);
    return t * t;
  }
};

strata::CustomObjects custom_objects() {
  strata::CustomObjects objects;
  objects.add<strata::ObjectKind::kLayer>(
      "CustomLayer", [](const Config& c) -> std::shared_ptr<strata::Layer> { return std::make_shared<CustomLayer>(c); });
  objects.add<strata::ObjectKind::kActivation>("custom_activation",
                                               [](const Config&) { return std::make_shared<CustomActivation>(); });
  return objects;
}

}  // namespace

int main() {
  strata::initialize();

  std::cout << "== a layer: get_config / from_config\n";
  auto layer = strata::make_layer("Dense", Config{{"units", 3}, {"activation", "relu"}});
  const Config layer_config = layer->get_config();
  auto new_layer = strata::make_layer("Dense", layer_config);
  check(new_layer->get_config() == layer_config, "Dense(3, relu) rebuilt from its config has the same config");
  check(layer_config["units"] == 3 && layer_config["activation"] == "relu", "the config says units 3, activation relu");

  std::cout << "== a Sequential model\n";
  strata::Sequential sequential({strata::make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 32}}}),
                                 strata::make_layer("Dense", Config{{"units", 1}})});
  const Config seq_config = strata::model_config(sequential);
  auto new_sequential = strata::model_from_config(seq_config);
  check(new_sequential->class_name() == "Sequential", "from_config gives a Sequential");
  check(strata::model_config(*new_sequential) == seq_config, "with the same config");

  std::cout << "== a Functional model\n";
  Tensor inputs = strata::Input(Shape{32});
  Tensor outputs = (*strata::make_layer("Dense", Config{{"units", 1}}))(inputs);
  strata::Functional functional({inputs}, {outputs});
  const Config fn_config = strata::model_config(functional);
  auto new_functional = strata::model_from_config(fn_config);
  check(new_functional->class_name() == "Functional", "from_config gives a Functional model");
  check(strata::model_config(*new_functional) == fn_config, "with the same config");

  std::cout << "== model_to_json / model_from_json\n";
  const std::string json = strata::model_to_json(sequential);
  auto from_json = strata::model_from_json(json);
  check(strata::model_to_json(*from_json) == json, "the JSON of the reloaded model is the same text");
  check(json.find("\"keras_version\": \"2.17.0\"") != std::string::npos, "the JSON carries keras_version 2.17.0");
  check(from_json->count_params() == sequential.count_params() && sequential.count_params() == 33,
        "both have 33 parameters (32 weights + 1 bias)");

  std::cout << "== custom layer and activation through a CustomObjectScope\n";
  Config custom_config;
  {
    strata::CustomObjectScope scope(custom_objects());
    Tensor in = strata::Input(Shape{32});
    Tensor x = (*strata::make_layer("CustomLayer", Config{{"units", 32}}))(in);
    Tensor out = (*strata::make_layer("Activation", Config{{"activation", "custom_activation"}}))(x);
    strata::Functional model({in}, {out});
    custom_config = strata::model_config(model);
    const Tensor probe = strata::ones(Shape{2, 32});
    auto reloaded = strata::model_from_config(custom_config);
    reloaded->set_weights(model.get_weights());
    check(same(reloaded->predict(probe), model.predict(probe)), "inside the scope the model reloads and predicts the same");

    std::cout << "== clone_model\n";
    auto clone = strata::clone_model(model);
    check(strata::model_config(*clone) == custom_config, "the clone has the same config");
    check(clone->weights().size() == 2 && !(clone->weights()[0] == model.weights()[0]),
          "and weights of its own (2 fresh variables)");
  }
  std::string message;
  try {
    strata::model_from_config(custom_config);
  } catch (const strata::UnknownObjectError& e) {
    message = e.what();
  }
  check(message.find("CustomLayer") != std::string::npos && message.find("custom_activation") != std::string::npos,
        "outside the scope loading fails, naming both classes: " + message.substr(0, message.find('\n')));
  return finish();
}
