// Issue 19: a model revived from a SavedModel without its classes is a whole model, as in
// Keras: revived layers with their names, classes, weights and trainable flags (get_layer,
// summary rows), the call's inputs and outputs named as the serving signature names them
// (the C API sees them), the optimizer state restored, is_revived(). Expected names and
// flags come from tf-keras 2.17's load_model of the same files without the class.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <cstring>
#include <string_view>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "fixture_dir.hpp"
#include "interop_venv.hpp"
#include "strata/c_api.h"
#include "strata/error.hpp"
#include "strata/graph.hpp"
#include "strata/layer.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/plugins.hpp"
#include "strata/registry.hpp"
#include "strata/revived.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = strata::test::fixture_dir("STRATA_SAVEDMODEL_FIXTURE_DIR", STRATA_SAVEDMODEL_FIXTURES);

strata::Tensor npy(const std::string& name) { return strata::read_npy(kFixtures / name); }

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("strata_revived_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::vector<std::string> names_of(const std::vector<std::shared_ptr<strata::Layer>>& layers) {
  std::vector<std::string> out;
  for (const auto& l : layers) out.push_back(l->name());
  return out;
}

std::vector<std::string> weight_names(const std::vector<strata::Variable>& vs) {
  std::vector<std::string> out;
  for (const auto& v : vs) out.push_back(v.name());
  return out;
}

// custom_layer_functional's CustomDense is registered nowhere: load_model revives it.
// tf-keras 2.17 (tf_keras.models.load_model without the class) gives: layers features
// (InputLayer), custom (CustomDense), probs (Dense), all trainable; weights custom/w,
// custom/b, probs/kernel, probs/bias; input 'features' (None, 4), output 'probs' (None, 3).
TEST(RevivedModel, KerasFileRevivesIntoLayersAsKerasDoes) {
  std::string log;
  std::shared_ptr<strata::Model> model;
  {
    auto previous = strata::set_log_sink([&](strata::LogLevel l, std::string_view text) {
      log += (l == strata::LogLevel::kWarning ? "W: " : "?: ") + std::string(text) + "\n";
    });
    model = strata::load_model(kFixtures / "custom_layer_functional");
    strata::set_log_sink(previous);
  }
  EXPECT_TRUE(strata::is_revived(*model));
  const auto missing = strata::revived_missing_classes(*model);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("CustomDense"), std::string::npos) << missing[0];
  EXPECT_NE(log.find("W: "), std::string::npos) << "a warning-level notice:\n" << log;
  EXPECT_NE(log.find("CustomDense"), std::string::npos) << log;

  EXPECT_EQ(model->class_name(), "Functional");
  EXPECT_EQ(names_of(model->layers()), (std::vector<std::string>{"features", "custom", "probs"}));
  std::vector<std::string> classes;
  for (const auto& l : model->layers()) classes.push_back(l->class_name());
  EXPECT_EQ(classes, (std::vector<std::string>{"InputLayer", "CustomDense", "Dense"}));
  for (const auto& l : model->layers()) EXPECT_TRUE(l->trainable()) << l->name();
  EXPECT_EQ(weight_names(model->weights()),
            (std::vector<std::string>{"custom/w", "custom/b", "probs/kernel", "probs/bias"}));
  EXPECT_EQ(model->get_layer("custom")->weights().size(), 2u);
  EXPECT_EQ(model->count_params(), 43);  // tf-keras's summary: Total params: 43
  const std::string summary = model->summary();
  EXPECT_NE(summary.find("custom (CustomDense)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("probs (Dense)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Total params: 43"), std::string::npos) << summary;

  ASSERT_EQ(model->inputs().size(), 1u);
  EXPECT_EQ(model->inputs()[0].node()->name, "features");
  EXPECT_EQ(model->inputs()[0].shape(), strata::Shape({strata::Shape::kUnknown, 4}));
  ASSERT_EQ(model->outputs().size(), 1u);
  EXPECT_EQ(model->outputs()[0].node()->layer->name(), "probs");
  EXPECT_EQ(model->outputs()[0].shape(), strata::Shape({strata::Shape::kUnknown, 3}));
  EXPECT_EQ(model->outputs()[0].dtype(), strata::DType::kFloat32);
}

// Each revived layer runs its own traced call: chained, they give the model's predictions.
TEST(RevivedModel, RevivedLayersRunTheirOwnTraces) {
  auto model = strata::load_model(kFixtures / "custom_layer_functional");
  const auto x = npy("custom_layer_functional.x.npy");
  const strata::Tensor h = (*model->get_layer("custom"))(x);
  const strata::Tensor y = (*model->get_layer("probs"))(h);
  const auto got = y.to_vector<float>(), want = npy("custom_layer_functional.y.npy").to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "element " << i;
  // The InputLayer has no trace: calling it names it.
  try {
    (void)(*model->get_layer("features"))(x);
    FAIL() << "calling a layer without a trace must throw";
  } catch (const strata::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'features'"), std::string::npos) << e.what();
  }
}

// Transfer learning with a revived layer: frozen in a new Functional model under a new head.
TEST(RevivedModel, RevivedLayersAreReusedForTransferLearning) {
  auto base = strata::load_model(kFixtures / "custom_layer_functional");
  auto custom = base->get_layer("custom");
  custom->set_trainable(false);
  const auto frozen_before = custom->get_weights();
  const strata::Tensor in = strata::Input(strata::Shape({4}), "x");
  const strata::Tensor h = (*custom)(in);
  EXPECT_EQ(h.shape(), strata::Shape({strata::Shape::kUnknown, 5}));
  const strata::Tensor out = (*strata::make_layer("Dense", strata::Config::parse(R"({"units": 1, "name": "head"})")))(h);
  strata::Functional model({in}, {out}, "transfer");
  EXPECT_EQ(model.trainable_weights().size(), 2u) << "only the head trains";
  model.compile(strata::Config("sgd"), strata::Config("mse"));
  const auto x = npy("custom_layer_functional.x.npy");
  const strata::Tensor y = strata::zeros(strata::Shape({x.shape().dims()[0], 1}));
  const auto head_before = model.get_layer("head")->get_weights();
  const double first = model.train_on_batch({x}, {y}).at("loss");
  for (int i = 0; i < 20; ++i) (void)model.train_on_batch({x}, {y});
  const double last = model.test_on_batch({x}, {y}).at("loss");
  EXPECT_LT(last, first);
  const auto frozen_after = custom->get_weights();
  for (std::size_t i = 0; i < frozen_before.size(); ++i) {
    EXPECT_EQ(frozen_after[i].to_vector<float>(), frozen_before[i].to_vector<float>()) << "frozen weight " << i;
  }
  EXPECT_NE(model.get_layer("head")->get_weights()[0].to_vector<float>(), head_before[0].to_vector<float>());
}

// The optimizer state travels: the revived model resumes training where Keras left it
// (iterations and Adam's slots), giving the loss tf-keras gave for the next batch.
TEST(RevivedModel, OptimizerStateIsRestoredFromTheKerasFile) {
  auto model = strata::load_model(kFixtures / "custom_layer_functional");
  ASSERT_TRUE(model->is_compiled());
  EXPECT_GT(model->optimizer()->iterations().value().to_vector<std::int64_t>().at(0), 0);
  const double got = model->train_on_batch({npy("custom_layer_functional.tx.npy")}, {npy("custom_layer_functional.ty.npy")}).at("loss");
  const double want = strata::Config::parse(strata::test::read_text(kFixtures / "index.json"))["models"]
                          ["custom_layer_functional"]["loss_after_save"].get<double>();  // tf-keras's
  EXPECT_LE(std::abs(got - want), 1e-5 + 1e-4 * std::abs(want)) << "Strata " << got << ", Keras " << want;
}

// One training step of the revived model equals one of the class-built model from the
// same file, bit for bit (same optimizer state, same weights after the step).
TEST(RevivedModel, OneStepEqualsTheClassBuiltModelsBitForBit) {
  const std::string name = "dense_sequential";
  // tf-keras's file, and the same model saved by Strata.
  const fs::path strata_dir = fresh_dir("dense_resaved") / "model";
  strata::save_model(*strata::load_model(kFixtures / name), strata_dir);
  for (const fs::path& dir : {kFixtures / name, strata_dir}) {
    SCOPED_TRACE(dir.string());
    auto built = strata::load_model(dir);
    strata::LoadOptions o;
    o.revive_from_traces = true;
    auto revived = strata::load_model(dir, o);
    ASSERT_TRUE(strata::is_revived(*revived));
    EXPECT_FALSE(strata::is_revived(*built));
    EXPECT_EQ(names_of(revived->layers()), names_of(built->layers()));
    EXPECT_EQ(weight_names(revived->weights()), weight_names(built->weights()));
    ASSERT_TRUE(revived->is_compiled());
    EXPECT_EQ(revived->optimizer()->iterations().value().to_vector<std::int64_t>(),
              built->optimizer()->iterations().value().to_vector<std::int64_t>());
    const auto tx = npy(name + ".tx.npy"), ty = npy(name + ".ty.npy");
    const double lb = built->train_on_batch({tx}, {ty}).at("loss");
    const double lr = revived->train_on_batch({tx}, {ty}).at("loss");
    EXPECT_EQ(lr, lb);
    const auto wb = built->get_weights(), wr = revived->get_weights();
    ASSERT_EQ(wb.size(), wr.size());
    for (std::size_t i = 0; i < wb.size(); ++i) EXPECT_EQ(wr[i].to_vector<float>(), wb[i].to_vector<float>()) << "weight " << i;
  }
}

// A Strata-written SavedModel revived without its classes: the same layers, names,
// trainable flags and weights as the class-built model.
TEST(RevivedModel, StrataFileRevivesIntoTheSameLayers) {
  const strata::Tensor in = strata::Input(strata::Shape({6}), "features");
  // No bias before the normalization: its gradient would be rounding noise (the batch mean
  // removes it), which Adam scales up to full steps, differently for any two computations.
  auto d1 = strata::make_layer("Dense", strata::Config::parse(R"({"units": 4, "activation": "relu", "name": "hidden", "use_bias": false})"));
  auto bn = strata::make_layer("BatchNormalization", strata::Config::parse(R"({"name": "norm"})"));
  auto d2 = strata::make_layer("Dense", strata::Config::parse(R"({"units": 2, "name": "scores"})"));
  strata::Functional original({in}, {(*d2)((*bn)((*d1)(in)))}, "strata_net");
  original.compile(strata::Config("adam"), strata::Config("mse"));
  std::vector<float> xv(24);
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = 0.05f * static_cast<float>(i) - 0.4f;
  const strata::Tensor x = strata::Tensor::from_vector(xv, strata::Shape({4, 6}));
  const strata::Tensor y = strata::zeros(strata::Shape({4, 2}));
  (void)original.train_on_batch({x}, {y});
  const fs::path dir = fresh_dir("strata_net") / "model";
  strata::save_model(original, dir);
  strata::LoadOptions o;
  o.revive_from_traces = true;
  auto revived = strata::load_model(dir, o);
  auto built = strata::load_model(dir);
  EXPECT_TRUE(strata::is_revived(*revived));
  EXPECT_EQ(names_of(revived->layers()), names_of(built->layers()));
  for (std::size_t i = 0; i < built->layers().size(); ++i) {
    EXPECT_EQ(revived->layers()[i]->class_name(), built->layers()[i]->class_name());
    EXPECT_EQ(revived->layers()[i]->trainable(), built->layers()[i]->trainable()) << built->layers()[i]->name();
  }
  EXPECT_EQ(weight_names(revived->weights()), weight_names(built->weights()));
  EXPECT_EQ(weight_names(revived->trainable_weights()), weight_names(built->trainable_weights()));
  const auto wb = built->get_weights(), wr = revived->get_weights();
  ASSERT_EQ(wb.size(), wr.size());
  for (std::size_t i = 0; i < wb.size(); ++i) EXPECT_EQ(wr[i].to_vector<float>(), wb[i].to_vector<float>()) << "weight " << i;
  ASSERT_EQ(revived->inputs().size(), 1u);
  EXPECT_EQ(revived->inputs()[0].node()->name, "features");
  ASSERT_EQ(revived->outputs().size(), 1u);
  EXPECT_EQ(revived->outputs()[0].node()->layer->name(), "scores");
  EXPECT_NE(revived->summary().find("hidden (Dense)"), std::string::npos) << revived->summary();
  // One step from the restored optimizer state: bit for bit, the BatchNormalization
  // included (the importer's StopGradient stops the gradient as the layer's does; stop 22).
  ASSERT_TRUE(revived->is_compiled() && built->is_compiled());
  EXPECT_EQ(revived->optimizer()->iterations().value().to_vector<std::int64_t>(),
            built->optimizer()->iterations().value().to_vector<std::int64_t>());
  const double lb = built->train_on_batch({x}, {y}).at("loss");
  const double lr = revived->train_on_batch({x}, {y}).at("loss");
  EXPECT_EQ(lr, lb);
  const auto ab = built->get_weights(), ar = revived->get_weights();
  for (std::size_t i = 0; i < ab.size(); ++i) EXPECT_EQ(ar[i].to_vector<float>(), ab[i].to_vector<float>()) << "weight " << i;
}

// The C API sees the revived model's inputs and outputs.
TEST(RevivedModel, CApiSeesTheSignaturesInputsAndOutputs) {
  strata_model* m = nullptr;
  strata_status* s = strata_model_load((kFixtures / "custom_layer_functional").string().c_str(), nullptr, &m);
  ASSERT_EQ(s, nullptr) << strata_status_message(s);
  size_t ni = 0, no = 0;
  ASSERT_EQ(strata_model_input_count(m, &ni), nullptr);
  ASSERT_EQ(strata_model_output_count(m, &no), nullptr);
  EXPECT_EQ(ni, 1u);
  EXPECT_EQ(no, 1u);
  const char* name = nullptr;
  int64_t shape[STRATA_MAX_RANK];
  int32_t rank = 0;
  ASSERT_EQ(strata_model_input_info(m, 0, &name, nullptr, shape, &rank), nullptr);
  EXPECT_STREQ(name, "features");
  EXPECT_EQ(rank, 2);
  EXPECT_EQ(shape[1], 4);
  ASSERT_EQ(strata_model_output_info(m, 0, &name, nullptr, shape, &rank), nullptr);
  EXPECT_STREQ(name, "probs");
  EXPECT_EQ(shape[1], 3);
  strata_model_release(m);
}

// A Strata subclassed model (the tests' plugin's SavedModel class) saved, then revived as
// without its class: the tracked layers in tracking order, each running its own traced
// call (the writer traces every layer's call, issue 19), the saved class name.
TEST(RevivedModel, StrataSubclassedModelRevivesWithCallableLayers) {
  strata::PluginManager::global().load(STRATA_TEST_CUSTOM_PLUGIN);
  auto original = strata::model_from_config(strata::Config::parse(
      R"({"class_name": "SubclassedModel", "config": {"name": "sub", "output_dim": 3}})"));
  std::vector<float> xv(10);
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = 0.1f * static_cast<float>(i) - 0.5f;
  const strata::Tensor x = strata::Tensor::from_vector(xv, strata::Shape({2, 5}));
  const auto want = original->predict(x).to_vector<float>();
  const fs::path dir = fresh_dir("subclassed") / "model";
  strata::save_model(*original, dir);
  strata::LoadOptions o;
  o.revive_from_traces = true;
  auto revived = strata::load_model(dir, o);
  EXPECT_EQ(revived->class_name(), "SubclassedModel");
  EXPECT_EQ(names_of(revived->layers()), names_of(original->layers()));
  EXPECT_EQ(weight_names(revived->weights()), weight_names(original->weights()));
  strata::Tensor h = x;
  for (const auto& layer : revived->layers()) h = (*layer)(h);
  const auto got = h.to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "element " << i;
  EXPECT_EQ(revived->predict(x).to_vector<float>(), want);
}

// tf-keras's load_model of the same files, without the classes, revives the same layers:
// names, classes, trainable flags, weights (names and order).
void expect_same_as_keras(const fs::path& dir, const strata::Model& model) {
  const fs::path py = strata::test::venv_python();
  std::string out;
  const int rc = strata::test::run_capturing("'" + py.string() + "' '" STRATA_REVIVED_IN_KERAS "' '" + dir.string() + "'", out);
  ASSERT_EQ(rc, 0) << out;
  const auto at = out.find("REVIVED ");
  ASSERT_NE(at, std::string::npos) << out;
  const strata::Config k = strata::Config::parse(out.substr(at + 8, out.find('\n', at) - at - 8));
  ASSERT_EQ(k["layers"].size(), model.layers().size()) << out;
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    const auto& mine = *model.layers()[i];
    const strata::Config& theirs = k["layers"][i];
    EXPECT_EQ(mine.name(), theirs["name"].get<std::string>());
    EXPECT_EQ(mine.class_name(), theirs["class_name"].get<std::string>()) << mine.name();
    EXPECT_EQ(mine.trainable(), theirs["trainable"].get<bool>()) << mine.name();
    std::vector<std::string> want;
    for (const auto& w : theirs["weights"]) want.push_back(w.get<std::string>());
    EXPECT_EQ(weight_names(mine.weights()), want) << mine.name();
  }
  std::vector<std::string> want;
  for (const auto& w : k["weights"]) want.push_back(w.get<std::string>());
  EXPECT_EQ(weight_names(model.weights()), want);
}

TEST(RevivedModelInterop, TfKerasRevivesTheSameLayersFromItsOwnFile) {
  if (!fs::exists(strata::test::venv_python())) GTEST_SKIP() << "no interop venv at " << strata::test::venv_python();
  const fs::path dir = kFixtures / "custom_layer_functional";
  expect_same_as_keras(dir, *strata::load_model(dir));
}

TEST(RevivedModelInterop, TfKerasRevivesTheSameLayersFromAStrataFile) {
  if (!fs::exists(strata::test::venv_python())) GTEST_SKIP() << "no interop venv at " << strata::test::venv_python();
  const strata::Tensor in = strata::Input(strata::Shape({6}), "features");
  auto d1 = strata::make_layer("Dense", strata::Config::parse(R"({"units": 4, "activation": "relu", "name": "hidden"})"));
  auto d2 = strata::make_layer("Dense", strata::Config::parse(R"({"units": 2, "name": "scores"})"));
  strata::Functional original({in}, {(*d2)((*d1)(in))}, "strata_net");
  d1->set_trainable(false);
  const fs::path dir = fresh_dir("strata_for_keras") / "model";
  strata::save_model(original, dir);
  strata::LoadOptions o;
  o.revive_from_traces = true;
  expect_same_as_keras(dir, *strata::load_model(dir, o));
}

}  // namespace
