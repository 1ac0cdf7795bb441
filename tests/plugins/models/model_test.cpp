// Sequential, Functional and subclassed models: configs, weights, the guide's examples,
// and concurrent prediction. Uses the layers plugin (default plugin directory) and the
// test plugin test-custom-objects (loaded explicitly).
#include <gtest/gtest.h>

#include <thread>

#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/plugins.hpp"

namespace strata {
namespace {

void load_custom_plugin() {
  PluginManager::global().load(std::filesystem::path(STRATA_TEST_CUSTOM_PLUGIN_DIR) / "strata-test-custom-objects.so");
}

std::shared_ptr<Layer> dense(std::int64_t units, const std::string& name = "", const char* activation = "linear") {
  Config c{{"units", units}, {"activation", activation}};
  if (!name.empty()) c["name"] = name;
  return make_layer("Dense", c);
}

Tensor ramp(std::int64_t rows, std::int64_t cols, float scale = 0.01f) {
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 17) - 8);
  return Tensor::from_vector<float>(v, Shape{rows, cols});
}

bool same_values(const Tensor& a, const Tensor& b) { return a.to_vector<float>() == b.to_vector<float>(); }

// The guide's 3_layer_mlp.
std::shared_ptr<Functional> three_layer_mlp() {
  Tensor inputs = Input(Shape{784}, "digits");
  Tensor x = (*dense(64, "dense_1", "relu"))(inputs);
  x = (*dense(64, "dense_2", "relu"))(x);
  Tensor outputs = (*dense(10, "predictions"))(x);
  return std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs}, "3_layer_mlp");
}

class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clear_session();
    load_custom_plugin();
  }
};

TEST_F(ModelTest, CustomLayerComputesMatmulPlusBias) {
  auto layer = make_layer("custom_layer", Config{{"units", 3}});
  Sequential model({layer});
  Tensor x = ramp(2, 4);
  Tensor y = model.predict(x);
  const auto w = layer->get_weights();
  ASSERT_EQ(w.size(), 2u);
  const auto xs = x.to_vector<float>(), ws = w[0].to_vector<float>(), bs = w[1].to_vector<float>();
  const auto ys = y.to_vector<float>();
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      double acc = bs[static_cast<std::size_t>(j)];
      for (int k = 0; k < 4; ++k) acc += static_cast<double>(xs[static_cast<std::size_t>(i * 4 + k)]) * ws[static_cast<std::size_t>(k * 3 + j)];
      EXPECT_NEAR(ys[static_cast<std::size_t>(i * 3 + j)], acc, 1e-6);
    }
  }
}

TEST_F(ModelTest, GuideMlpHasTheGuidesParameterCounts) {
  auto model = three_layer_mlp();
  const auto layers = model->layers();
  ASSERT_EQ(layers.size(), 4u);
  EXPECT_EQ(layers[0]->class_name(), "InputLayer");
  EXPECT_EQ(layers[1]->count_params(), 50240);
  EXPECT_EQ(layers[2]->count_params(), 4160);
  EXPECT_EQ(layers[3]->count_params(), 650);
  EXPECT_EQ(model->count_params(), 55050);
  EXPECT_NE(model->summary().find("Total params: 55050 (215.04 KB)"), std::string::npos) << model->summary();
}

TEST_F(ModelTest, FunctionalConfigRoundTripsAndRebuildsTheSameArchitecture) {
  auto model = three_layer_mlp();
  const Config config = model_config(*model);
  EXPECT_EQ(config["class_name"], "Functional");
  EXPECT_EQ(config["config"]["name"], "3_layer_mlp");
  EXPECT_EQ(config["config"]["input_layers"], Config::parse(R"([["digits", 0, 0]])"));
  EXPECT_EQ(config["config"]["output_layers"], Config::parse(R"([["predictions", 0, 0]])"));
  EXPECT_EQ(config["config"]["layers"][2]["inbound_nodes"], Config::parse(R"([[["dense_1", 0, 0, {}]]])"));
  auto rebuilt = model_from_config(config);
  EXPECT_EQ(model_config(*rebuilt), config);
  // Fresh weights: same shapes, different values.
  const auto a = model->get_weights(), b = rebuilt->get_weights();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_FALSE(same_values(a[0], b[0]));
  rebuilt->set_weights(a);
  EXPECT_TRUE(same_values(model->predict(ramp(3, 784)), rebuilt->predict(ramp(3, 784))));
}

TEST_F(ModelTest, SharedLayerAndTwoInputs) {
  Tensor a = Input(Shape{4}, "a");
  Tensor b = Input(Shape{4}, "b");
  auto shared = dense(3, "shared");
  Tensor ya = (*shared)(a);
  Tensor yb = (*shared)(b);
  Tensor sum = ya + yb;  // an op on symbolic tensors is not a layer: refused when building the model
  EXPECT_THROW(Functional({a, b}, {sum}), ValueError);
  auto merged = make_layer("Concatenate", Config{{"axis", -1}, {"name", "concat"}});
  Tensor out = (*merged)({ya, yb})[0];
  Functional model({a, b}, {out}, "two_inputs");
  EXPECT_EQ(model.count_params(), 15);
  const Config c = model.get_config();
  EXPECT_EQ(c["layers"][2]["name"], "shared");
  EXPECT_EQ(c["layers"][2]["inbound_nodes"], Config::parse(R"([[["a", 0, 0, {}]], [["b", 0, 0, {}]]])"));
  EXPECT_EQ(c["layers"][3]["inbound_nodes"], Config::parse(R"([[["shared", 0, 0, {}], ["shared", 1, 0, {}]]])"));
  auto rebuilt = model_from_config(model_config(model));
  rebuilt->set_weights(model.get_weights());
  const auto x1 = ramp(2, 4), x2 = ramp(2, 4, 0.03f);
  EXPECT_TRUE(same_values(model.predict({x1, x2})[0], rebuilt->predict({x1, x2})[0]));
}

TEST_F(ModelTest, NestedModelsAndSubModels) {
  auto inner = three_layer_mlp();
  // A sub-model ending at the last layer's input (the guide's "pretrained").
  auto pretrained = std::make_shared<Functional>(inner->inputs(), std::vector<Tensor>{inner->get_layer("predictions")->input()},
                                                 "pretrained");
  EXPECT_EQ(pretrained->count_params(), 54400);
  Sequential model({pretrained, dense(5, "predictions")}, "new_model");
  model.build({Shape{Shape::kUnknown, 784}});
  EXPECT_EQ(model.count_params(), 54725);
  const std::string summary = model.summary();
  EXPECT_NE(summary.find(" pretrained (Functional)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Total params: 54725"), std::string::npos) << summary;
  // The nested Functional's calls are numbered from 1 in configs, as Keras numbers them.
  Tensor x = Input(Shape{784});
  Tensor y = (*pretrained)(x);
  Functional outer({x}, {(*dense(2, "head"))(y)});
  const Config c = outer.get_config();
  EXPECT_EQ(c["layers"][2]["inbound_nodes"], Config::parse(R"([[["pretrained", 1, 0, {}]]])")) << c.dump(1);
  auto rebuilt = model_from_config(model_config(outer));
  EXPECT_EQ(model_config(*rebuilt), model_config(outer));
}

TEST_F(ModelTest, FunctionalAndSubclassedShareWeights) {
  auto functional = three_layer_mlp();
  auto factory = Registry::global().find<ObjectKind::kModel>("SubclassedModel");
  ASSERT_NE(factory, nullptr);
  auto subclassed = (*factory)(Config{{"output_dim", 10}});
  (*subclassed)(ones(Shape{1, 784}));
  subclassed->set_weights(functional->get_weights());
  const Tensor x = ramp(4, 784);
  EXPECT_TRUE(same_values(functional->predict(x), subclassed->predict(x)));
  // Its weights are named under the model's scope, as Keras names them.
  EXPECT_EQ(subclassed->weights()[0].name(), subclassed->name() + "/dense_1/kernel");
  // Architecture saving is for Sequential and Functional only.
  try {
    model_config(*subclassed);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("SubclassedModel"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("subclassed model"), std::string::npos) << e.what();
  }
}

TEST_F(ModelTest, StatelessLayersDoNotChangeWeightTransfer) {
  Tensor in1 = Input(Shape{784});
  Tensor x1 = (*dense(64, "d1", "relu"))(in1);
  Functional plain({in1}, {(*dense(10, "out"))(x1)});
  Tensor in2 = Input(Shape{784});
  Tensor x2 = (*dense(64, "d1", "relu"))(in2);
  x2 = (*make_layer("Dropout", Config{{"rate", 0.5}}))(x2);
  Functional with_dropout({in2}, {(*dense(10, "out"))(x2)});
  with_dropout.set_weights(plain.get_weights());
  const Tensor x = ramp(2, 784);
  EXPECT_TRUE(same_values(plain.predict(x), with_dropout.predict(x)));
}

TEST_F(ModelTest, SetWeightsMismatchesAreClearErrors) {
  auto model = three_layer_mlp();
  auto w = model->get_weights();
  w.pop_back();
  EXPECT_THROW(model->set_weights(w), ValueError);
  auto w2 = model->get_weights();
  w2[1] = Tensor::zeros(DType::kFloat32, Shape{65});
  try {
    model->set_weights(w2);
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("dense_1/bias"), std::string::npos) << e.what();
  }
}

TEST_F(ModelTest, NestedTrainableFlagReordersWeightsAsTheGuideShows) {
  Sequential model({make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 784}}}),
                    make_layer("NestedDenseLayer", Config{{"units", 10}, {"name", "nested"}})});
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& v : model.weights()) out.push_back(v.name());
    return out;
  };
  EXPECT_EQ(names(), (std::vector<std::string>{"nested/dense_1/kernel", "nested/dense_1/bias", "nested/dense_2/kernel",
                                               "nested/dense_2/bias"}));
  auto nested = model.get_layer("nested");
  nested->children()[0].layer->set_trainable(false);
  EXPECT_EQ(names(), (std::vector<std::string>{"nested/dense_2/kernel", "nested/dense_2/bias", "nested/dense_1/kernel",
                                               "nested/dense_1/bias"}));
  EXPECT_EQ(model.trainable_weights().size(), 2u);
  EXPECT_EQ(model.non_trainable_weights().size(), 2u);
}

TEST_F(ModelTest, SequentialAddPopAndLazyBuild) {
  Sequential model;
  model.add(dense(8, "a", "relu"));
  model.add(dense(2, "b"));
  EXPECT_FALSE(model.built());
  Tensor y = model.predict(ramp(3, 5));
  EXPECT_TRUE(model.built());
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(model.layers().size(), 2u);
  model.pop();
  EXPECT_EQ(model.layers().size(), 1u);
  EXPECT_EQ(model.predict(ramp(3, 5)).shape(), (Shape{3, 8}));
  EXPECT_THROW(model.get_layer("b"), ValueError);
  EXPECT_EQ(model.get_layer(0)->name(), "a");
}

TEST_F(ModelTest, CloneModelGivesFreshWeightsAndTheSameConfig) {
  auto model = three_layer_mlp();
  auto copy = clone_model(*model);
  EXPECT_EQ(model_config(*copy), model_config(*model));
  EXPECT_FALSE(same_values(copy->get_weights()[0], model->get_weights()[0]));
}

TEST_F(ModelTest, ConcurrentPredictionsAreBitIdentical) {
  auto model = three_layer_mlp();
  const Tensor x = ramp(16, 784);
  const auto expected = model->predict(x).to_vector<float>();
  std::vector<std::vector<float>> results(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) results[static_cast<std::size_t>(t)] = model->predict(x).to_vector<float>();
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);
}

TEST_F(ModelTest, UnknownClassesAreReportedTogetherBeforeAnythingIsBuilt) {
  const Config config = Config::parse(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "in"}},
      {"class_name": "NoSuchLayer", "config": {"name": "x"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "no_such_activation",
                                           "kernel_initializer": {"class_name": "NoSuchInit", "config": {}}}}]}})");
  try {
    model_from_config(config);
    FAIL();
  } catch (const UnknownObjectError& e) {
    ASSERT_EQ(e.missing().size(), 3u) << e.what();
    EXPECT_EQ(e.missing()[0].name, "NoSuchLayer");
    EXPECT_EQ(e.missing()[0].kind, "layer");
    EXPECT_EQ(e.missing()[1].kind, "activation");
    EXPECT_EQ(e.missing()[2].kind, "initializer");
  }
}

}  // namespace
}  // namespace strata
