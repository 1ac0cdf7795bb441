// The guide's "Transferring weights in memory" and nested-weight-order sections:
// get_weights / set_weights from layer to layer, from a Functional model to a subclassed
// one with the same weights, across a stateless Dropout, and the order of the weights of
// nested layers before and after one of them is frozen.
#include "guide.hpp"

using namespace guide;

namespace {

// The guide's subclassed 784-64-64-N model: it tracks three Dense layers.
class SubclassedModel final : public strata::Model {
 public:
  explicit SubclassedModel(std::int64_t output_dim) : Model("SubclassedModel") {
    dense_1_ = dense(64, "dense_1", "relu");
    dense_2_ = dense(64, "dense_2", "relu");
    dense_3_ = dense(output_dim, "predictions");
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

// The guide's NestedDenseLayer: two tracked Dense layers named dense_1 and dense_2.
class NestedDenseLayer final : public strata::Layer {
 public:
  NestedDenseLayer(std::int64_t units, const std::string& name)
      : Layer("NestedDenseLayer", Config{{"name", name}}) {
    dense_1_ = dense(units, "dense_1");
    dense_2_ = dense(units, "dense_2");
    track("dense_1", dense_1_);
    track("dense_2", dense_2_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext& ctx) const override {
    return (*dense_2_)((*dense_1_)(inputs, ctx), ctx);
  }
  const std::shared_ptr<strata::Layer>& dense_1() const { return dense_1_; }

 private:
  std::shared_ptr<strata::Layer> dense_1_, dense_2_;
};

std::vector<std::string> weight_names(const strata::Model& model) {
  std::vector<std::string> out;
  for (const auto& v : model.weights()) out.push_back(v.name());
  return out;
}

}  // namespace

int main() {
  strata::initialize();
  const Tensor x = strata::random_normal(Shape{4, 784});

  std::cout << "== layer to layer\n";
  auto layer_1 = dense(64, "dense_1", "relu");
  auto layer_2 = dense(64, "dense_1", "relu");
  (*layer_1)(strata::ones(Shape{1, 784}));
  (*layer_2)(strata::ones(Shape{1, 784}));
  check(!same(layer_1->get_weights(), layer_2->get_weights()), "two fresh Dense layers have different weights");
  layer_2->set_weights(layer_1->get_weights());
  check(same(layer_1->get_weights(), layer_2->get_weights()), "after set_weights they are equal");
  check(layer_1->count_params() == 50240, "a Dense(64) on 784 inputs has 50240 parameters");

  std::cout << "== Functional model to subclassed model\n";
  auto functional = mlp();
  auto subclassed = std::make_shared<SubclassedModel>(10);
  (*subclassed)(strata::ones(Shape{1, 784}));  // builds its layers
  subclassed->set_weights(functional->get_weights());
  check(same(subclassed->predict(x), functional->predict(x)), "the subclassed model predicts what the Functional one does");
  check(subclassed->count_params() == 55050, "both have 55050 parameters (50240 + 4160 + 650)");

  std::cout << "== across a stateless Dropout\n";
  Tensor inputs = strata::Input(Shape{784}, "digits");
  Tensor h = (*dense(64, "dense_1", "relu"))(inputs);
  h = (*dense(64, "dense_2", "relu"))(h);
  h = (*strata::make_layer("Dropout", Config{{"rate", 0.5}}))(h);  // no weights
  Tensor outputs = (*dense(10, "predictions"))(h);
  strata::Functional with_dropout({inputs}, {outputs}, "3_layer_mlp_with_dropout");
  check(with_dropout.get_weights().size() == functional->get_weights().size(), "Dropout adds no weights (6 either way)");
  with_dropout.set_weights(functional->get_weights());
  check(same(with_dropout.predict(x), functional->predict(x)), "set_weights works and inference predictions agree");

  std::cout << "== the order of nested weights\n";
  auto nested = std::make_shared<NestedDenseLayer>(10, "nested");
  strata::Sequential nested_model({strata::make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 784}}}), nested});
  const std::vector<std::string> before = weight_names(nested_model);
  for (const auto& n : before) std::cout << "    " << n << "\n";
  check(before == std::vector<std::string>{"nested/dense_1/kernel", "nested/dense_1/bias", "nested/dense_2/kernel",
                                           "nested/dense_2/bias"},
        "dense_1's weights come first");
  // The nested Dense layers were built inside the Sequential's symbolic call: their
  // weights still hold values (runtime fix in Layer::ensure_built).
  bool concrete = true;
  try {
    for (const auto& w : nested_model.get_weights()) concrete = concrete && !w.is_symbolic() && w.num_elements() > 0;
  } catch (const strata::Error& e) {
    concrete = false;
    std::cout << "    " << e.what() << "\n";
  }
  check(concrete, "the nested layers' weights have values");
  nested->dense_1()->set_trainable(false);
  const std::vector<std::string> after = weight_names(nested_model);
  for (const auto& n : after) std::cout << "    " << n << "\n";
  check(after == std::vector<std::string>{"nested/dense_2/kernel", "nested/dense_2/bias", "nested/dense_1/kernel",
                                          "nested/dense_1/bias"},
        "after dense_1.trainable = false its weights move behind dense_2's (trainable first)");
  check(nested_model.trainable_weights().size() == 2 && nested_model.non_trainable_weights().size() == 2,
        "2 trainable and 2 non-trainable weights");

  std::cout << "== H5 weights are saved in that order\n";
  try {
    strata::get_format("h5");
  } catch (const strata::Error& e) {
    std::cout << "  skipped (needs the h5 format): " << e.what() << "\n";
    return finish();
  }
  const auto dir = work_dir("weights");
  nested_model.save_weights(dir / "nested.h5");
  auto twin = [](bool freeze_dense_1) {
    auto layer = std::make_shared<NestedDenseLayer>(10, "nested");
    auto model = std::make_shared<strata::Sequential>(std::vector<std::shared_ptr<strata::Layer>>{
        strata::make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 784}}}), layer});
    if (freeze_dense_1) layer->dense_1()->set_trainable(false);
    return model;
  };
  auto frozen = twin(true);
  frozen->load_weights(dir / "nested.h5").assert_consumed();
  const auto want = nested_model.get_weights(), got = frozen->get_weights();
  bool equal = want.size() == got.size();
  for (std::size_t i = 0; equal && i < want.size(); ++i) equal = want[i].to_vector<float>() == got[i].to_vector<float>();
  check(equal, "loaded into a model with the same trainable flags, every weight comes back");
  bool refused = false;
  try {
    twin(false)->load_weights(dir / "nested.h5");
  } catch (const strata::Error& e) {
    refused = true;
    std::cout << "    " << std::string(e.what()).substr(0, 160) << "\n";
  }
  check(refused, "into a model whose dense_1 is still trainable the order differs and the load is refused");

  std::cout << "== transfer learning from H5: load into the original model, then extract its layers\n";
  auto saved_model = mlp();
  saved_model->save_weights(dir / "pretrained_weights.h5");  // functional_model.save_weights(...)
  strata::clear_session();                              // "in a separate program"
  auto pretrained_model = mlp();
  pretrained_model->load_weights(dir / "pretrained_weights.h5").assert_consumed();
  std::vector<std::shared_ptr<strata::Layer>> extracted_layers = pretrained_model->layers();
  extracted_layers.pop_back();                          // pretrained_model.layers[:-1]
  extracted_layers.push_back(dense(5, "dense_3"));
  strata::Sequential extracted(extracted_layers);
  std::cout << extracted.summary();
  check(extracted.count_params() == 54725, "the Sequential model of the extracted layers has 54,725 parameters");
  check(same(extracted.get_layer("dense_1")->get_weights(), saved_model->get_layer("dense_1")->get_weights()),
        "its dense_1 holds the saved weights");

  std::cout << "== transfer learning from H5: the pretrained model nested in a Sequential\n";
  auto functional_model = mlp();
  auto pretrained = std::make_shared<strata::Functional>(
      functional_model->inputs(), std::vector<Tensor>{functional_model->get_layer("predictions")->input()},
      "pretrained_model");
  for (auto& w : pretrained->weights()) w.assign(strata::random_normal(w.shape()));  // "trained" weights
  pretrained->save_weights(dir / "pretrained.h5");
  const auto trained = pretrained->get_weights();
  for (auto& w : pretrained->weights()) w.assign(strata::zeros(w.shape()));
  strata::Sequential model({pretrained, dense(5, "predictions")});
  model.build({Shape{Shape::kUnknown, 784}});
  std::cout << model.summary();
  std::string mistake;
  try {
    model.load_weights(dir / "pretrained.h5");
  } catch (const strata::ValueError& e) {
    mistake = e.what();
    std::cout << "    " << mistake.substr(0, mistake.find('\n')) << "\n";
  }
  check(mistake.find("model 'pretrained_model'") != std::string::npos &&
            mistake.find("model.get_layer(\"pretrained_model\").load_weights") != std::string::npos,
        "model.load_weights(\"pretrained.h5\") is refused, naming the nested model the file belongs to");
  pretrained->load_weights(dir / "pretrained.h5").assert_consumed();  // the guide's pretrained.load_weights
  check(same(pretrained->get_weights(), trained), "pretrained.load_weights restores the nested model's weights");
  check(same(model.get_layer("pretrained_model")->get_weights(), trained), "which the Sequential model uses");
  std::filesystem::remove_all(dir);
  return finish();
}
