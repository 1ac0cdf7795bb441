// The Keras saving guide's CustomModel, the subclassed model that HAS a config:
//
//   class CustomModel(keras.Model):
//       def __init__(self, hidden_units):
//           super().__init__()
//           self.hidden_units = hidden_units
//           self.dense_layers = [keras.layers.Dense(u) for u in hidden_units]
//       def call(self, inputs): (each dense layer in turn)
//       def get_config(self): return {"hidden_units": self.hidden_units}
//       @classmethod
//       def from_config(cls, config): return cls(**config)
//
// registered as model "CustomModel" by the test-custom-objects plugin (issue 19: saved and
// loaded with its class available, it is built from this config and every weight restored).
#include <memory>
#include <vector>

#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

using strata::Config;
using strata::Tensor;

std::vector<std::int64_t> hidden_units_of(const Config& config) {
  std::vector<std::int64_t> units;
  if (config.contains("hidden_units") && config["hidden_units"].is_array()) {
    for (const auto& u : config["hidden_units"]) units.push_back(u.get<std::int64_t>());
  }
  return units;
}

class CustomModel final : public strata::Model {
 public:
  explicit CustomModel(const Config& config) : Model("CustomModel", config), hidden_units_(hidden_units_of(config)) {
    for (const auto units : hidden_units_) {
      dense_layers_.push_back(strata::make_layer("Dense", Config{{"units", units}}));
    }
    track("dense_layers", dense_layers_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext& ctx) const override {
    std::vector<Tensor> x = inputs;
    for (const auto& layer : dense_layers_) x = (*layer)(x, ctx);
    return x;
  }
  Config get_config() const override {
    Config units = Config::array();
    for (const auto u : hidden_units_) units.push_back(u);
    return Config{{"hidden_units", units}};
  }

 private:
  std::vector<std::int64_t> hidden_units_;
  std::vector<std::shared_ptr<strata::Layer>> dense_layers_;
};

}  // namespace

void register_custom_model(strata::Registrar& r) {
  r.add<strata::ObjectKind::kModel>(
      "CustomModel", [](const Config& c) -> std::shared_ptr<strata::Model> { return std::make_shared<CustomModel>(c); });
}
