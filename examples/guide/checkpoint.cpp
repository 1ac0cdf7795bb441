// The guide's TensorFlow checkpoint sections: save_weights without an extension and
// assert_consumed; how a custom layer's variable is named in the checkpoint; transfer
// learning from a pretrained sub-model through checkpoint weights, into a larger
// Functional model and into a Sequential model made of the pretrained layers.
#include "guide.hpp"

using namespace guide;

namespace {

// The guide's CustomLayer whose variable TensorFlow names "var_a" but which is tracked as
// "var": the checkpoint key says var.
class CustomLayer final : public strata::Layer {
 public:
  explicit CustomLayer(std::int32_t a) : Layer("CustomLayer") {
    strata::WeightSpec spec;
    spec.name = "var";
    spec.shape = Shape{};
    spec.dtype = strata::DType::kInt32;
    var_ = add_weight(spec);
    var_.assign(Tensor::scalar<std::int32_t>(a));
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext&) const override {
    return inputs;
  }

 private:
  strata::Variable var_;
};

}  // namespace

int main() {
  strata::initialize();
  require_format("checkpoint");
  const auto dir = work_dir("checkpoint");
  const Tensor x = strata::random_normal(Shape{4, 784});

  std::cout << "== save_weights without an extension writes a TF checkpoint\n";
  strata::Sequential sequential({strata::make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 784}}, {"name", "digits"}}),
                                 dense(64, "dense_1", "relu"), dense(64, "dense_2", "relu"), dense(10, "predictions")});
  sequential.save_weights(dir / "ckpt");
  check(std::filesystem::exists(dir / "ckpt.index"), "ckpt.index exists");
  const strata::LoadStatus status = sequential.load_weights(dir / "ckpt");
  bool consumed = true;
  try {
    status.assert_consumed();
  } catch (const strata::Error& e) {
    consumed = false;
    std::cout << e.what() << "\n";
  }
  check(consumed, "load_weights(\"ckpt\").assert_consumed() passes");

  std::cout << "== a custom layer's variable in the checkpoint\n";
  auto layer = std::make_shared<CustomLayer>(5);
  const auto path = strata::Checkpoint({{"layer", layer}}).save(dir / "custom_layer");
  const auto dtypes = strata::load_checkpoint(path)->variable_to_dtype_map();
  for (const auto& [key, dtype] : dtypes) std::cout << "    " << key << ": " << strata::dtype_name(dtype) << "\n";
  check(dtypes == std::map<std::string, strata::DType>{{"save_counter/.ATTRIBUTES/VARIABLE_VALUE", strata::DType::kInt64},
                                                       {"layer/var/.ATTRIBUTES/VARIABLE_VALUE", strata::DType::kInt32},
                                                       {"_CHECKPOINTABLE_OBJECT_GRAPH", strata::DType::kString}},
        "exactly the three keys save_counter/..., layer/var/..., _CHECKPOINTABLE_OBJECT_GRAPH");

  std::cout << "== transfer learning: a pretrained sub-model into a larger Functional model\n";
  auto functional = mlp();
  auto pretrained = std::make_shared<strata::Functional>(
      functional->inputs(), std::vector<Tensor>{functional->get_layer("predictions")->input()}, "pretrained_model");
  for (auto& w : pretrained->weights()) w.assign(strata::random_normal(w.shape()));  // "trained" weights
  pretrained->save_weights(dir / "pretrained_ckpt");
  std::cout << pretrained->summary();
  check(pretrained->get_layer("dense_1")->count_params() == 50240 && pretrained->get_layer("dense_2")->count_params() == 4160,
        "dense_1 has 50240 parameters, dense_2 4160");
  check(pretrained->count_params() == 54400, "the pretrained model has 54,400");
  const auto pretrained_weights = pretrained->get_weights();

  strata::clear_session();  // "a separate program where only pretrained_ckpt exists"
  auto model = mlp(5, "new_model");
  strata::LoadStatus partial = model->load_weights(dir / "pretrained_ckpt");
  partial.expect_partial();  // the new predictions layer is not in the checkpoint
  std::cout << model->summary();
  check(model->get_layer("predictions")->count_params() == 325, "the new predictions layer has 325 parameters");
  check(model->count_params() == 54725, "the new model has 54,725");
  check(partial.restored() == 4 && partial.unset_weights().size() == 2, "4 weights restored, the 2 new ones left");
  const auto loaded = model->get_weights();
  check(same(std::vector<Tensor>(loaded.begin(), loaded.begin() + 4), pretrained_weights),
        "the first four weights are the pretrained ones");

  std::cout << "== transfer learning: the pretrained model nested in a Sequential model\n";
  strata::clear_session();
  auto functional_model = mlp();
  auto pretrained_nested = std::make_shared<strata::Functional>(
      functional_model->inputs(), std::vector<Tensor>{functional_model->get_layer("predictions")->input()},
      "pretrained_model");
  for (auto& w : pretrained_nested->weights()) w.assign(strata::zeros(w.shape()));
  strata::Sequential nested_in({pretrained_nested, dense(5, "predictions")});
  nested_in.build({Shape{Shape::kUnknown, 784}});
  std::cout << nested_in.summary();
  std::string mistake;
  try {
    nested_in.load_weights(dir / "pretrained_ckpt");  // the guide's warning: not the call to make
  } catch (const strata::ValueError& e) {
    mistake = e.what();
    std::cout << "    " << mistake.substr(0, mistake.find('\n')) << "\n";
  }
  check(mistake.find("model 'pretrained_model'") != std::string::npos &&
            mistake.find("model.get_layer(\"pretrained_model\").load_weights") != std::string::npos,
        "model.load_weights(\"pretrained_ckpt\") is refused, naming the nested model the checkpoint belongs to");
  pretrained_nested->load_weights(dir / "pretrained_ckpt").assert_consumed();  // pretrained.load_weights(...)
  check(same(pretrained_nested->get_weights(), pretrained_weights), "pretrained.load_weights restores its weights");
  check(same(nested_in.get_layer("pretrained_model")->get_weights(), pretrained_weights),
        "which the Sequential model uses");

  std::cout << "== transfer learning: the pretrained layers in a new Sequential model\n";
  auto original = mlp();
  original->save_weights(dir / "pretrained_weights");
  strata::clear_session();
  auto reloaded = mlp();
  reloaded->load_weights(dir / "pretrained_weights").assert_consumed();
  std::vector<std::shared_ptr<strata::Layer>> extracted = reloaded->layers();
  extracted.pop_back();
  extracted.push_back(dense(5, "dense_3"));
  strata::Sequential extended(extracted);
  extended.build({Shape{Shape::kUnknown, 784}});
  const std::string summary = extended.summary();
  std::cout << summary;
  check(extended.count_params() == 54725 && summary.find("54725") != std::string::npos,
        "the Sequential model has 54,725 parameters, and its summary says so");
  check(same(extended.get_layer("dense_1")->get_weights(), original->get_layer("dense_1")->get_weights()),
        "its dense_1 holds the saved weights");
  std::filesystem::remove_all(dir);
  return finish();
}
