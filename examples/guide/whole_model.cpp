// The guide's whole-model sections for one format (argument: h5 or savedmodel): save a
// compiled, trained model; load it back; it predicts the same and training resumes
// exactly where it stopped (the optimizer state travels with it). For h5 also the
// guide's H5 weights: a nested layer's weights, saved and loaded by position.
// Exits with 77 (skipped) when the format's plugin is not loaded.
#include <algorithm>

#include "guide.hpp"

#include <strata/revived.hpp>

using namespace guide;

namespace {

// The guide's get_model(): Input(32) -> Dense(1), adam, mean_squared_error.
std::shared_ptr<strata::Model> get_model() {
  Tensor inputs = strata::Input(Shape{32});
  Tensor outputs = (*strata::make_layer("Dense", Config{{"units", 1}}))(inputs);
  auto model = std::make_shared<strata::Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs});
  model->compile(Config("adam"), Config("mean_squared_error"));
  return model;
}

class NestedDenseLayer final : public strata::Layer {
 public:
  explicit NestedDenseLayer(const std::string& name) : Layer("NestedDenseLayer", Config{{"name", name}}) {
    dense_1_ = dense(10, "dense_1");
    dense_2_ = dense(10, "dense_2");
    track("dense_1", dense_1_);
    track("dense_2", dense_2_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext& ctx) const override {
    return (*dense_2_)((*dense_1_)(inputs, ctx), ctx);
  }
  std::shared_ptr<strata::Layer> dense_1_, dense_2_;
};

// A custom layer of this program's own, registered nowhere: y = x * scale, one weight per
// feature (to show a model that needs a class it cannot find when loaded).
class CustomScale final : public strata::Layer {
 public:
  explicit CustomScale(const Config& config) : Layer("CustomScale", config) {}
  void build(const std::vector<Shape>& shapes) override {
    scale_ = add_weight("scale", Shape{shapes.at(0).dims().back()}, strata::get_initializer(Config("random_normal")));
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext&) const override {
    return {inputs[0] * strata::read(scale_)};
  }

 private:
  strata::Variable scale_;
};

}  // namespace

int run(int argc, char** argv) {
  const std::string format = argc > 1 ? argv[1] : "";
  if (format != "h5" && format != "savedmodel") {
    std::cerr << "usage: guide_whole_model h5|savedmodel\n";
    return 2;
  }
  strata::initialize();
  require_format(format);
  const auto dir = work_dir("whole_model_" + format);
  strata::set_random_seed(1);

  std::cout << "== save and reload a trained model as " << format << "\n";
  auto model = get_model();
  const Tensor x = strata::random_normal(Shape{128, 32}), y = strata::random_normal(Shape{128, 1});
  strata::FitOptions fit;
  fit.epochs = 2;
  model->fit(x, y, fit);
  const auto path = dir / (format == "h5" ? "my_model.h5" : "my_model");
  model->save(path);
  auto reconstructed = strata::load_model(path);
  check(reconstructed->is_compiled(), "the reloaded model is compiled (optimizer and loss restored)");
  check(same(reconstructed->predict(x), model->predict(x)), "it predicts exactly what the original does");
  const double a = model->train_on_batch({x}, {y}).at("loss");
  const double b = reconstructed->train_on_batch({x}, {y}).at("loss");
  check(a == b, "the next training step gives the same loss (" + std::to_string(a) + " vs " + std::to_string(b) + ")");
  check(same(reconstructed->get_weights(), model->get_weights()), "and the same weights after it");

  if (format == "savedmodel") {
    // The guide: a SavedModel loaded without its custom classes is revived from its traced
    // functions, layers included, and those layers can be reused (transfer learning).
    std::cout << "== a model with a custom layer, loaded without the class: revived\n";
    Tensor in = strata::Input(Shape{32}, "features");
    auto custom = std::make_shared<CustomScale>(Config{{"name", "custom"}});
    Tensor out = (*strata::make_layer("Dense", Config{{"units", 1}, {"name", "predictions"}}))((*custom)(in));
    strata::Functional original({in}, {out}, "with_custom");
    original.compile(Config("adam"), Config("mean_squared_error"));
    original.fit(x, y, fit);
    original.save(dir / "with_custom");
    // CustomScale is registered nowhere (no plugin, no custom_objects): the load revives it.
    auto revived = strata::load_model(dir / "with_custom");
    check(strata::is_revived(*revived), "the model was revived from its traces (the class is missing)");
    const auto missing = strata::revived_missing_classes(*revived);
    check(std::any_of(missing.begin(), missing.end(),
                      [](const std::string& m) { return m.find("'CustomScale'") != std::string::npos; }),
          "the missing class is named (" + (missing.empty() ? std::string("none") : missing.front()) + ")");
    check(same(revived->predict(x), original.predict(x)), "the revived model predicts what the original does");
    auto layer = revived->get_layer("custom");
    check(layer->get_weights().size() == 1, "its revived layer 'custom' has its weight");
    layer->set_trainable(false);
    const auto frozen = layer->get_weights();
    Tensor tin = strata::Input(Shape{32}, "new_features");
    Tensor tout = (*strata::make_layer("Dense", Config{{"units", 1}, {"name", "new_head"}}))((*layer)(tin));
    strata::Functional transfer({tin}, {tout}, "transfer");
    transfer.compile(Config("adam"), Config("mean_squared_error"));
    const double before = transfer.evaluate(x, y, 32, 0).at("loss");
    strata::FitOptions more;
    more.epochs = 5;
    more.verbose = 0;
    transfer.fit(x, y, more);
    const double after = transfer.evaluate(x, y, 32, 0).at("loss");
    check(after < before, "a new head on the frozen revived layer trains (loss " + std::to_string(before) + " -> " +
                              std::to_string(after) + ")");
    check(same(layer->get_weights(), frozen), "the frozen revived layer's weights did not move");
  }

  if (format == "h5") {
    std::cout << "== H5 weights of nested layers\n";
    auto make = [] {
      auto nested = std::make_shared<NestedDenseLayer>("nested");
      auto m = std::make_shared<strata::Sequential>(std::vector<std::shared_ptr<strata::Layer>>{
          strata::make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 784}}}), nested});
      nested->dense_1_->set_trainable(false);  // weights in the order dense_2, dense_1
      return m;
    };
    auto saved = make();
    saved->save_weights(dir / "nested.h5");
    auto loaded = make();
    loaded->load_weights(dir / "nested.h5");
    check(same(loaded->get_weights(), saved->get_weights()), "a model with the same trainable flags gets every weight back");
  }
  std::filesystem::remove_all(dir);
  return finish();
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const strata::Error& e) {
    std::cout << "FAILED: " << e.what() << "\n";
    return 1;
  }
}
