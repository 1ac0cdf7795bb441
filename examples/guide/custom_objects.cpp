// The guide's "Registering custom objects" section for every kind Keras serialises: a custom
// layer, activation, initializer, regularizer, constraint, loss, metric, optimizer and
// learning-rate schedule in one compiled model, saved as H5 and loaded three ways:
//  - registered by this program (keras.saving.register_keras_serializable(package=...)):
//    a Registrar on the global registry, no shared library;
//  - passed at load time (load_model(path, custom_objects={...})): LoadOptions::custom_objects;
//  - inside a custom-object scope (with keras.saving.custom_object_scope(...)).
// Without them, the load fails with one UnknownObjectError naming the kinds and classes.
// (A custom model class is in whole_model.cpp; a plugin in PLUGINS.md.)
#include "guide.hpp"

#include <strata/plugin/registrar.hpp>

using namespace guide;

namespace {

// A Dense without bias; its config adds units.
class CustomLayer final : public strata::Layer {
 public:
  explicit CustomLayer(const Config& c) : Layer("CustomLayer", c), units_(c.value("units", std::int64_t{2})) {}
  void build(const std::vector<Shape>& shapes) override {
    w_ = add_weight("w", Shape{shapes.at(0).dims().back(), units_}, strata::get_initializer(Config("glorot_uniform")));
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext&) const override {
    return {strata::matmul(inputs[0], strata::read(w_))};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["units"] = units_;
    return c;
  }

 private:
  std::int64_t units_;
  strata::Variable w_;
};

class CustomActivation final : public strata::Activation {  // tanh(x)^2
 public:
  std::string class_name() const override { return "custom_activation"; }
  Tensor operator()(const Tensor& x) const override { return strata::tanh(x) * strata::tanh(x); }
};

class HalfInit final : public strata::Initializer {  // every value 0.5
 public:
  std::string class_name() const override { return "HalfInit"; }
  Tensor operator()(const Shape& shape, strata::DType dtype) const override { return strata::fill(shape, 0.5, dtype); }
};

class CubeRegularizer final : public strata::Regularizer {  // 0.01 * sum(|w|^3)
 public:
  std::string class_name() const override { return "CubeRegularizer"; }
  Tensor operator()(const Tensor& w) const override { return strata::sum(strata::abs(w * w * w)) * 0.01; }
};

class ClipConstraint final : public strata::Constraint {  // weights in [-1, 1]
 public:
  std::string class_name() const override { return "ClipConstraint"; }
  Tensor operator()(const Tensor& w) const override {
    return strata::minimum(strata::maximum(w, strata::scalar_like(w, -1.0)), strata::scalar_like(w, 1.0));
  }
};

class ScaledMae final : public strata::Loss {  // 2 * mean(|y - y_pred|)
 public:
  explicit ScaledMae(const Config& c) : Loss("ScaledMae", c, "scaled_mae") {}
  Tensor call(const Tensor& y, const Tensor& p) const override { return strata::mean(strata::abs(p - y), {-1}) * 2.0; }
};

class WorstError final : public strata::Metric {  // the largest absolute error seen
 public:
  explicit WorstError(const Config& c) : Metric("WorstError", c, "worst_error") { worst_ = add_state("worst"); }
  void update_state(const Tensor& y, const Tensor& p, const Tensor&) override {
    worst_.assign(strata::maximum(worst_.value(), strata::max(strata::abs(p - y))));
  }
  Tensor result() const override { return worst_.value(); }

 private:
  strata::Variable worst_;
};

class PlainDescent final : public strata::Optimizer {  // w -= lr * g
 public:
  explicit PlainDescent(const Config& c) : Optimizer("PlainDescent", c, 0.1) {}

 protected:
  void build_slots(const std::vector<strata::Variable>&) override {}
  void update_step(const Tensor& g, const strata::Variable& v, const Tensor& lr, std::int64_t) override {
    strata::assign_variable(v, v.value() - lr * g);
  }
};

class InverseTime final : public strata::LearningRateSchedule {  // 0.1 / (1 + step)
 public:
  std::string class_name() const override { return "InverseTime"; }
  double operator()(std::int64_t step) const override { return 0.1 / (1.0 + static_cast<double>(step)); }
};

// Adds every class under `prefix` + its name to `sink` (a CustomObjects or a Registrar).
template <class Sink>
void add_classes(Sink& sink, const std::string& prefix) {
  using K = strata::ObjectKind;
  sink.template add<K::kLayer>(prefix + "CustomLayer",
                               [](const Config& c) -> std::shared_ptr<strata::Layer> { return std::make_shared<CustomLayer>(c); });
  sink.template add<K::kActivation>(prefix + "custom_activation", [](const Config&) -> std::shared_ptr<strata::Activation> {
    return std::make_shared<CustomActivation>();
  });
  sink.template add<K::kInitializer>(prefix + "HalfInit",
                                     [](const Config&) -> std::shared_ptr<strata::Initializer> { return std::make_shared<HalfInit>(); });
  sink.template add<K::kRegularizer>(prefix + "CubeRegularizer", [](const Config&) -> std::shared_ptr<strata::Regularizer> {
    return std::make_shared<CubeRegularizer>();
  });
  sink.template add<K::kConstraint>(prefix + "ClipConstraint", [](const Config&) -> std::shared_ptr<strata::Constraint> {
    return std::make_shared<ClipConstraint>();
  });
  sink.template add<K::kLoss>(prefix + "ScaledMae",
                              [](const Config& c) -> std::shared_ptr<strata::Loss> { return std::make_shared<ScaledMae>(c); });
  sink.template add<K::kMetric>(prefix + "WorstError",
                                [](const Config& c) -> std::shared_ptr<strata::Metric> { return std::make_shared<WorstError>(c); });
  sink.template add<K::kOptimizer>(prefix + "PlainDescent", [](const Config& c) -> std::shared_ptr<strata::Optimizer> {
    return std::make_shared<PlainDescent>(c);
  });
  sink.template add<K::kLearningRateSchedule>(prefix + "InverseTime", [](const Config&) -> std::shared_ptr<strata::LearningRateSchedule> {
    return std::make_shared<InverseTime>();
  });
}

// Input(3) -> CustomLayer(2) -> Dense(2, custom activation / initializer / regularizer /
// constraint), compiled with the custom loss, metric, optimizer and schedule; one step trained.
std::shared_ptr<strata::Model> build(const Tensor& x, const Tensor& y) {
  Tensor in = strata::Input(Shape{3});
  Tensor h = (*strata::make_layer("CustomLayer", Config{{"units", 2}}))(in);
  Tensor out = (*strata::make_layer("Dense", Config{{"units", 2},
                                                    {"activation", "custom_activation"},
                                                    {"kernel_initializer", "HalfInit"},
                                                    {"kernel_regularizer", "CubeRegularizer"},
                                                    {"kernel_constraint", "ClipConstraint"}}))(h);
  auto model = std::make_shared<strata::Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out});
  model->compile(Config{{"class_name", "PlainDescent"}, {"config", {{"learning_rate", {{"class_name", "InverseTime"}, {"config", Config::object()}}}}}},
                 Config{{"class_name", "ScaledMae"}, {"config", Config::object()}},
                 Config::array({Config{{"class_name", "WorstError"}, {"config", Config::object()}}}));
  model->train_on_batch({x}, {y});
  return model;
}

}  // namespace

int main() {
  strata::initialize();
  require_format("h5");
  const auto dir = std::filesystem::temp_directory_path() / ("strata_guide_custom_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const Tensor x = Tensor::from_vector<float>({0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f}, Shape{2, 3});
  const Tensor y = Tensor::from_vector<float>({0.0f, 1.0f, 1.0f, 0.0f}, Shape{2, 2});

  std::cout << "== custom objects of every kind, saved as H5\n";
  strata::CustomObjects objects;
  add_classes(objects, "");
  std::shared_ptr<strata::Model> model;
  {
    strata::CustomObjectScope scope(objects);
    model = build(x, y);
    model->save(dir / "model.h5");
  }
  const auto expected = model->evaluate(x, y).items();

  std::cout << "== load_model(path, custom_objects={...})\n";
  strata::LoadOptions options;
  options.custom_objects = &objects;
  auto loaded = strata::load_model(dir / "model.h5", options);
  check(loaded->evaluate(x, y).items() == expected, "evaluates the same (custom loss, metric, regularizer)");
  check(loaded->training_config() == model->training_config(), "with the same training config (optimizer, schedule)");

  std::cout << "== with custom_object_scope(...)\n";
  {
    strata::CustomObjectScope scope(objects);
    loaded = strata::load_model(dir / "model.h5");
  }
  check(same(loaded->predict(x), model->predict(x)), "predicts the same");
  check(loaded->evaluate(x, y).items() == expected, "and evaluates the same after the scope ended");

  std::cout << "== without them\n";
  std::string message;
  try {
    strata::load_model(dir / "model.h5");
  } catch (const strata::UnknownObjectError& e) {
    message = e.what();
  }
  check(message.find("CustomLayer") != std::string::npos && message.find("custom_activation") != std::string::npos &&
            message.find("HalfInit") != std::string::npos,
        "the load fails naming the classes: " + message.substr(0, message.find('\n')));

  std::cout << "== registered by the program (register_keras_serializable(package=\"my_package\"))\n";
  {
    strata::Registrar registrar(strata::Registry::global(), "guide-program");
    add_classes(registrar, "my_package>");
    registrar.commit();
  }
  auto registered = build(x, y);  // bare names find the unique my_package>Name
  registered->save(dir / "registered.h5");
  auto again = strata::load_model(dir / "registered.h5");
  check(same(again->predict(x), registered->predict(x)), "a model of registered classes reloads with no custom_objects");
  // The classes report their bare names, so the file says "CustomLayer"; the lookup of a
  // bare name finds the unique my_package>CustomLayer (a class whose class_name() returns
  // "my_package>CustomLayer" is written with that registered_name, as Keras writes it).
  const auto match = strata::Registry::global().find_erased(strata::ObjectKind::kLayer, "CustomLayer");
  check(match.name == "my_package>CustomLayer" && match.provider == "guide-program",
        "the file's CustomLayer resolved to my_package>CustomLayer, registered by this program");
  std::filesystem::remove_all(dir);
  return finish();
}
