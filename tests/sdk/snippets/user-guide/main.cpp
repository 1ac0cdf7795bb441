// The C++ blocks of docs/USER_GUIDE.md, each the body of one function below, after the names it
// uses (what the guide's example programs, examples/guide/, define the same way). sdk.doc_snippets
// builds this against the installed prefix and runs it: every block must compile and run.
#include <strata/saved_model.hpp>
#include <strata/strata.hpp>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using strata::Config;
using strata::Shape;
using strata::Tensor;
namespace fs = std::filesystem;

// The guide's get_model(): Input(32) -> Dense(1), adam, mean_squared_error.
std::shared_ptr<strata::Model> get_model() {
  Tensor inputs = strata::Input(Shape{32});
  Tensor outputs = (*strata::make_layer("Dense", Config{{"units", 1}}))(inputs);
  auto model = std::make_shared<strata::Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs});
  model->compile(Config("adam"), Config("mean_squared_error"));
  return model;
}

// The guide's CustomLayer (w, b; its config adds units) and custom_activation (tanh(x)^2).
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

class CustomActivation final : public strata::Activation {
 public:
  std::string class_name() const override { return "custom_activation"; }
  Tensor operator()(const Tensor& x) const override {
    const Tensor t = strata::tanh(x);
    return t * t;
  }
};

const Tensor x = [] {
  strata::initialize();
  return strata::random_normal(Shape{8, 32});
}();
const Tensor y = strata::random_normal(Shape{8, 1});

// "Whole-model saving"
void whole_model(const fs::path& dir) {
  strata::FitOptions fit;
  fit.verbose = 0;
#include "whole_model.inc"
}

// "SavedModel: loading without the classes"
void graph_only(const fs::path& dir) {
  get_model()->save(dir / "my_model");
#include "graph_only.inc"
  if (y.at(0).shape() != Shape{8, 1}) throw std::runtime_error("serving_default: " + y.at(0).shape().to_string());
}

// "Custom objects"
void custom_objects() {
  Tensor inputs = strata::Input(Shape{4});
  Tensor outputs = (*std::make_shared<CustomLayer>(Config{{"units", 2}, {"name", "custom"}}))(inputs);
  const Config config = strata::model_config(strata::Functional({inputs}, {outputs}));
#include "custom_objects.inc"
  if (reloaded->get_layer("custom")->class_name() != "CustomLayer") throw std::runtime_error("not a CustomLayer");
}

// "TensorFlow checkpoints"
void checkpoints(const fs::path& dir) {
  strata::Sequential model({strata::make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 32}}}),
                            strata::make_layer("Dense", Config{{"units", 1}})});
  std::shared_ptr<strata::Layer> layer = model.layers().back();
  const fs::path path = strata::Checkpoint({{"layer", layer}}).save(dir / "layer");
#include "checkpoint.inc"
}

}  // namespace

int main() {
  const fs::path dir = fs::temp_directory_path() / ("strata-user-guide-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  whole_model(dir);
  graph_only(dir);
  custom_objects();
  checkpoints(dir);
  fs::remove_all(dir);
  std::cout << "docs/USER_GUIDE.md: every block ran\n";
  return 0;
}
