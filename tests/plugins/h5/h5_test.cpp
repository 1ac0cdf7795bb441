// Tests of the format-h5 plugin through the public API (save_model / load_model /
// save_weights / load_weights), against files written by real tf-keras 2.17 and Keras 3
// (tests/data/h5, made by tests/interop/generate_h5_fixtures.py; expected predictions and
// losses come from Keras, not from Strata).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "failing_file_system.hpp"
#include "h5_test_util.hpp"
#include "strata/log.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/file_system.hpp"

namespace strata::h5test {
namespace {

// ---- tf-keras fixtures -> Strata -------------------------------------------------------------

class KerasH5 : public ::testing::TestWithParam<std::string> {
 protected:
  const nlohmann::json& entry() const { return index()["models"][GetParam()]; }
};

TEST_P(KerasH5, WholeModelPredictsWhatKerasPredicted) {
  auto model = load_model(fixture(entry()["files"]["whole"].get<std::string>()));
  expect_predicts(*model, entry());
  EXPECT_TRUE(model->is_compiled()) << "training_config was not restored";
}

// Issue 22 (`strata info` without the weights): load_architecture builds the file's model
// from model_config, compiled from training_config without the optimizer state, reading no
// weight: the same layers and weight shapes as load_model, fresh values.
TEST_P(KerasH5, LoadArchitectureBuildsTheModelWithoutItsWeights) {
  const fs::path path = fixture(entry()["files"]["whole"].get<std::string>());
  auto full = load_model(path);
  auto arch = get_format("h5")->load_architecture(path, LoadOptions{});
  ASSERT_EQ(arch->layers().size(), full->layers().size());
  const auto want = full->weights();
  const auto got = arch->weights();
  ASSERT_EQ(got.size(), want.size());
  bool any_differs = false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].shape(), want[i].shape()) << got[i].name();
    EXPECT_EQ(got[i].dtype(), want[i].dtype()) << got[i].name();
    const Tensor a = cast(got[i].value().to(Device::cpu()), DType::kFloat64);
    const Tensor b = cast(want[i].value().to(Device::cpu()), DType::kFloat64);
    if (a.to_vector<double>() != b.to_vector<double>()) any_differs = true;
  }
  EXPECT_TRUE(any_differs) << "every weight equals the file's: were they read?";
  EXPECT_EQ(arch->is_compiled(), full->is_compiled());
  if (arch->is_compiled()) {
    EXPECT_EQ(arch->optimizer()->class_name(), full->optimizer()->class_name());
    EXPECT_EQ(arch->optimizer()->iterations().value().to(Device::cpu()).item<std::int64_t>(), 0)
        << "the optimizer state was restored";
  }
}

TEST_P(KerasH5, ResumesTrainingWithKerasOptimizerState) {
  // The two train_on_batch losses after loading equal Keras's after saving: the second
  // one depends on the restored optimizer state (iteration and slots).
  auto model = load_model(fixture(entry()["files"]["whole"].get<std::string>()));
  const auto x = read_all(entry()["train_x"]);
  const auto y = read_all(entry()["train_y"]);
  const auto& want = entry()["next_losses"];
  for (std::size_t step = 0; step < 2; ++step) {
    const double got = model->train_on_batch(x, y).at("loss");
    const double ref = want[step].get<double>();
    EXPECT_LE(std::abs(got - ref), 1e-5 + 1e-4 * std::abs(ref)) << "step " << step << ": Strata " << got << ", Keras " << ref;
  }
}

TEST_P(KerasH5, ModelWithoutOptimizerAndWeightsOnlyFile) {
  if (!entry()["files"].contains("noopt")) GTEST_SKIP() << "this fixture has only a whole-model file";
  auto model = load_model(fixture(entry()["files"]["noopt"].get<std::string>()));
  EXPECT_FALSE(model->is_compiled()) << "include_optimizer=False writes no training_config";
  expect_predicts(*model, entry());
  // Weights only, into a fresh model of the same architecture (the guide's workflow).
  auto fresh = clone_model(*model);
  const LoadStatus status = fresh->load_weights(fixture(entry()["files"]["weights"].get<std::string>()));
  status.assert_consumed();
  EXPECT_EQ(status.restored(), model->weights().size());
  expect_predicts(*fresh, entry());
}

TEST_P(KerasH5, StrataRoundTripResumesBitExactly) {
  auto original = load_model(fixture(entry()["files"]["whole"].get<std::string>()));
  const fs::path dir = fresh_dir("roundtrip_" + GetParam());
  const fs::path path = dir / "m.h5";
  save_model(*original, path);
  auto reloaded = load_model(path);
  const auto x = read_all(entry()["inputs"]);
  const auto a = original->predict(x), b = reloaded->predict(x);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].to_vector<float>(), b[i].to_vector<float>());
  const auto tx = read_all(entry()["train_x"]);
  const auto ty = read_all(entry()["train_y"]);
  for (int step = 0; step < 3; ++step) {
    const double la = original->train_on_batch(tx, ty).at("loss");
    const double lb = reloaded->train_on_batch(tx, ty).at("loss");
    EXPECT_EQ(la, lb) << "step " << step;
  }
  const auto wa = original->get_weights(), wb = reloaded->get_weights();
  ASSERT_EQ(wa.size(), wb.size());
  for (std::size_t i = 0; i < wa.size(); ++i) {
    EXPECT_EQ(npy_bytes(wa[i]), npy_bytes(wb[i])) << "weight " << i;
  }
}

std::vector<std::string> fixture_models() {
  std::vector<std::string> out;
  for (auto it = index()["models"].begin(); it != index()["models"].end(); ++it) out.push_back(it.key());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KerasH5, ::testing::ValuesIn(fixture_models()),
                         [](const auto& info) { return info.param; });

TEST(H5Dialects, EveryDialectIsInTheFixtures) {
  // Keras <= 2.12 (no module/registered_name, Custom>Adam), the legacy OptimizerV2 layout,
  // and Keras 3's legacy H5 writer: each must be covered by the parameterised tests above.
  for (const char* name : {"sequential_keras212", "sequential_legacy_opt", "keras3_sequential"}) {
    EXPECT_TRUE(index()["models"].contains(name)) << name;
  }
  EXPECT_EQ(index()["models"]["keras3_sequential"]["keras_version"].get<std::string>().substr(0, 2), "3.");
}

// ---- by_name / topological policy ---------------------------------------------------------------

std::shared_ptr<Model> sequential_like(std::int64_t head_units, const std::string& head_name) {
  auto m = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 4}}, {"name", "input"}}),
      make_layer("Dense", Config{{"units", 8}, {"activation", "relu"}, {"name", "dense"}}),
      make_layer("Dense", Config{{"units", head_units}, {"name", head_name}})});
  return m;
}

struct CapturedLog {
  CapturedLog() {
    previous = set_log_sink([this](LogLevel, std::string_view text) { lines += std::string(text) + "\n"; });
  }
  ~CapturedLog() { set_log_sink(previous); }
  std::string lines;
  LogSink previous;
};

TEST(H5LoadWeights, ByNameTransferLearningLoadsWhatMatchesAndSaysWhatDidNot) {
  auto keras = load_model(fixture("sequential.noopt.h5"));
  auto model = sequential_like(5, "new_head");
  CapturedLog log;
  LoadOptions opts;
  opts.by_name = true;
  const LoadStatus status = model->load_weights(fixture("sequential_weights.h5"), opts);
  EXPECT_EQ(status.restored(), 2u);
  ASSERT_EQ(status.unused_values().size(), 1u);
  EXPECT_NE(status.unused_values()[0].find("dense_1"), std::string::npos);
  ASSERT_EQ(status.unset_weights().size(), 1u);
  EXPECT_NE(status.unset_weights()[0].find("new_head"), std::string::npos);
  EXPECT_NE(log.lines.find("new_head"), std::string::npos) << log.lines;
  // The matched layer holds Keras's values.
  EXPECT_EQ(npy_bytes(model->get_layer("dense")->get_weights()[0]), npy_bytes(keras->get_layer("dense")->get_weights()[0]));
  EXPECT_THROW(status.assert_consumed(), ValueError);
}

TEST(H5LoadWeights, ByNameShapeMismatchIsAnErrorUnlessSkipped) {
  auto model = sequential_like(5, "dense_1");  // the file's dense_1 has 3 units
  LoadOptions opts;
  opts.by_name = true;
  const auto before = model->get_layer("dense")->get_weights();
  try {
    model->load_weights(fixture("sequential_weights.h5"), opts);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("sequential_weights.h5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dense_1"), std::string::npos) << e.what();
  }
  // Nothing was assigned by the failed load.
  EXPECT_EQ(npy_bytes(model->get_layer("dense")->get_weights()[0]), npy_bytes(before[0]));
  opts.skip_mismatch = true;
  CapturedLog log;
  const LoadStatus status = model->load_weights(fixture("sequential_weights.h5"), opts);
  EXPECT_EQ(status.restored(), 2u);
  EXPECT_NE(log.lines.find("dense_1"), std::string::npos) << log.lines;
}

TEST(H5LoadWeights, TopologicalLayerCountMismatchIsAnError) {
  auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 4}}, {"name", "input"}}),
      make_layer("Dense", Config{{"units", 8}, {"name", "a"}})});
  expect_error<FormatError>([&] { model->load_weights(fixture("sequential_weights.h5")); },
                            {"sequential_weights.h5", "2 layers", "by_name"});
}

TEST(H5LoadWeights, WholeModelFileWorksWithLoadWeights) {
  auto model = clone_model(*load_model(fixture("cnn.noopt.h5")));
  model->load_weights(fixture("cnn.h5")).assert_consumed();
  expect_predicts(*model, index()["models"]["cnn"]);
}

TEST(H5LoadWeights, NestedModelGroupsAreReadByPosition) {
  // The nested model's group lists inner_dense/... and inner_bn/... weights; a model whose
  // inner layers carry other names still takes them in order.
  auto keras = load_model(fixture("nested.noopt.h5"));
  Config c = model_config(*keras);
  for (auto& l : c["config"]["layers"]) {
    if (l["class_name"] == "Sequential") {
      for (auto& inner : l["config"]["layers"]) {
        if (inner["config"].contains("name") && inner["class_name"] != "InputLayer") {
          inner["config"]["name"] = "renamed_" + inner["config"]["name"].get<std::string>();
        }
      }
    }
  }
  auto renamed = model_from_config(c);
  renamed->load_weights(fixture("nested_weights.h5")).assert_consumed();
  expect_predicts(*renamed, index()["models"]["nested"]);
}

// ---- files Strata writes -----------------------------------------------------------------------

TEST(H5Save, ChunkedNameAttributesRoundTrip) {
  // 360 layers with 190-character names: layer_names is ~68 KB, more than one attribute
  // may hold, so it is split into layer_names0, layer_names1 (FORMATS §1.6).
  std::vector<std::shared_ptr<Layer>> layers = {
      make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 2}}, {"name", "in"}})};
  for (int i = 0; i < 360; ++i) {
    layers.push_back(make_layer("Dense", Config{{"units", 2}, {"name", std::string(185, 'n') + std::to_string(1000 + i)}}));
  }
  auto model = std::make_shared<Sequential>(layers, "long_names");
  const fs::path path = fresh_dir("chunked") / "long.h5";
  save_model(*model, path);
  const std::string dump = h5dump_attributes(path, "/model_weights");
  if (!dump.empty()) {
    EXPECT_NE(dump.find("ATTRIBUTE \"layer_names0\""), std::string::npos);
    EXPECT_NE(dump.find("ATTRIBUTE \"layer_names1\""), std::string::npos);
    EXPECT_EQ(dump.find("ATTRIBUTE \"layer_names\""), std::string::npos);
  }
  auto back = load_model(path);
  ASSERT_EQ(back->layers().size(), 360u);
  EXPECT_EQ(back->layers()[359]->name(), model->layers()[359]->name());
  const Tensor x = Tensor::from_vector<float>({0.5f, -1.0f}, Shape{1, 2});
  EXPECT_EQ(model->predict(x).to_vector<float>(), back->predict(x).to_vector<float>());
}

TEST(H5Save, StringTypesAreKerasOnes) {
  auto model = load_model(fixture("cnn.h5"));
  const fs::path path = fresh_dir("types") / "cnn.h5";
  save_model(*model, path);
  const std::string pool = h5dump_attributes(path, "/model_weights/pool");
  if (pool.empty()) GTEST_SKIP() << "h5dump is not installed (apt-get install hdf5-tools)";
  // A weightless layer: weight_names is an empty float64 array.
  EXPECT_NE(pool.find("H5T_IEEE_F64LE"), std::string::npos) << pool;
  EXPECT_NE(pool.find("SIMPLE { ( 0 ) / ( 0 ) }"), std::string::npos) << pool;
  const std::string conv = h5dump_attributes(path, "/model_weights/conv");
  EXPECT_NE(conv.find("STRPAD H5T_STR_NULLPAD"), std::string::npos) << conv;
  EXPECT_NE(conv.find("STRSIZE 13;"), std::string::npos) << conv;  // "conv/kernel:0"
  const std::string root = h5dump_attributes(path, "/");
  EXPECT_NE(root.find("\"2.17.0\""), std::string::npos);
  EXPECT_NE(root.find("ATTRIBUTE \"strata_version\""), std::string::npos);
  EXPECT_NE(root.find("ATTRIBUTE \"training_config\""), std::string::npos);
}

// The guide notes that Keras's H5 cannot hold preprocessing layers; Strata's can, since
// Rescaling is config and Normalization's state is weights. A loss created inside a layer
// (an activity regularizer) is code and comes back with the layer.
TEST(H5Save, PreprocessingStateAndLayerLossesSurvive) {
  auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 3}}, {"name", "in"}}),
      make_layer("Rescaling", Config{{"scale", 0.5}, {"offset", 1.0}, {"name", "rescale"}}),
      make_layer("Normalization", Config{{"axis", -1}, {"name", "norm"}}),
      make_layer("Dense", Config{{"units", 2},
                                 {"name", "d"},
                                 {"activity_regularizer", {{"class_name", "L2"}, {"config", {{"l2", 0.05}}}}}})});
  // What adapt() would have computed, set directly: mean, variance, count.
  auto norm = model->get_layer("norm");
  auto state = norm->get_weights();
  ASSERT_EQ(state.size(), 3u);
  norm->set_weights({Tensor::from_vector<float>({1, 2, 3}, state[0].shape()),
                     Tensor::from_vector<float>({4, 5, 6}, state[1].shape()), Tensor::scalar<std::int64_t>(10)});
  model->compile(Config{{"class_name", "SGD"}, {"config", {{"learning_rate", 0.1}}}}, Config("mse"));
  const fs::path path = fresh_dir("preprocessing") / "m.h5";
  save_model(*model, path);
  auto back = load_model(path);
  const Tensor x = Tensor::from_vector<float>({0.5f, -1.f, 2.f, 3.f, 0.f, 1.f}, Shape{2, 3});
  const Tensor y = Tensor::from_vector<float>({1.f, 0.f, 0.f, 1.f}, Shape{2, 2});
  EXPECT_EQ(model->predict(x).to_vector<float>(), back->predict(x).to_vector<float>());
  const auto restored = back->get_layer("norm")->get_weights();
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(npy_bytes(restored[i]), npy_bytes(norm->get_weights()[i])) << i;
  // The regularization term is part of the loss in both: the same loss, bit for bit.
  EXPECT_EQ(model->train_on_batch({x}, {y}).at("loss"), back->train_on_batch({x}, {y}).at("loss"));
}

TEST(H5Save, ExplicitHdf5CallsIgnoreTheExtension) {
  auto model = load_model(fixture("sequential.h5"));
  const fs::path path = fresh_dir("explicit") / "model.bin";
  save_model_hdf5(*model, path);
  auto back = load_model_hdf5(path);
  const auto x = read_all(index()["models"]["sequential"]["inputs"]);
  EXPECT_EQ(model->predict(x)[0].to_vector<float>(), back->predict(x)[0].to_vector<float>());
  EXPECT_EQ(load_model(path)->name(), model->name());  // found by content, too
}

// ---- what H5 cannot hold ------------------------------------------------------------------

class CustomStepModel final : public Sequential {
 public:
  using Sequential::Sequential;
  Logs train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sw) override {
    return Sequential::train_step(x, y, sw);
  }
};

TEST(H5Save, ACustomTrainStepIsAWarningNamingWhatIsLost) {
  std::vector<std::string> warnings;
  LogSink previous = set_log_sink([&](LogLevel level, std::string_view text) {
    if (level == LogLevel::kWarning) warnings.emplace_back(text);
  });
  const fs::path dir = fresh_dir("subclass");
  auto layers = [] {
    return std::vector<std::shared_ptr<Layer>>{
        make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 3}}, {"name", "in"}}),
        make_layer("Dense", Config{{"units", 2}, {"name", "d"}})};
  };
  save_model(Sequential(layers()), dir / "plain.h5");
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  save_model(CustomStepModel(layers()), dir / "custom.h5");
  set_log_sink(previous);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("CustomStepModel"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("train_step"), std::string::npos) << warnings[0];
  EXPECT_EQ(load_model(dir / "custom.h5")->class_name(), "Sequential");
}

// ---- commit point ------------------------------------------------------------------------------

using strata::test_support::FailingFileSystem;

TEST(H5Save, LayerNamesWithSlashesNestGroupsAndInvalidPathsAreRefused) {
  // tf-keras (h5py) writes "conv1/conv" as group conv1 holding group conv: the fixture
  // slash_names (generate_h5_fixtures.py) is what tf-keras wrote; this is Strata's side.
  const fs::path dir = fresh_dir("slash_save");
  Tensor in = Input(Shape{3}, "in/put");
  Tensor h = (*make_layer("Dense", Config{{"units", 2}, {"name", "block/dense"}}))(in);
  Tensor out = (*make_layer("Dense", Config{{"units", 1}, {"name", "block"}}))(h);
  auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out}, "m");
  save_model(*model, dir / "m.h5");
  {
    hid_t f = H5Fopen((dir / "m.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    EXPECT_GT(H5Lexists(f, "/model_weights/block", H5P_DEFAULT), 0);
    EXPECT_GT(H5Aexists_by_name(f, "/model_weights/block/dense", "weight_names", H5P_DEFAULT), 0);
    EXPECT_GT(H5Lexists(f, "/model_weights/block/dense/block/dense/kernel:0", H5P_DEFAULT), 0);
    EXPECT_GT(H5Lexists(f, "/model_weights/block/block/kernel:0", H5P_DEFAULT), 0);
    H5Fclose(f);
  }
  auto loaded = load_model(dir / "m.h5");
  const Tensor x = Tensor::from_vector<float>({0.5f, -1.0f, 2.0f}, Shape{1, 3});
  EXPECT_EQ(loaded->predict(x).to_vector<float>(), model->predict(x).to_vector<float>());
  // A name that is no group path is refused before anything is written, naming the layer.
  for (const std::string bad : {"a//b", "x/..", "end/"}) {
    Tensor i2 = Input(Shape{3});
    Tensor o2 = (*make_layer("Dense", Config{{"units", 1}, {"name", bad}}))(i2);
    Functional m2({i2}, {o2}, "m2");
    expect_error<ValueError>([&] { save_model(m2, dir / "bad.h5"); }, {"'" + bad + "'", "rename the layer"});
    EXPECT_FALSE(fs::exists(dir / "bad.h5"));
  }
}

TEST(H5Save, AFailedSaveLeavesThePreviousFileLoadable) {
  const fs::path path = fresh_dir("commit") / "m.h5";
  auto first = load_model(fixture("sequential.h5"));
  save_model(*first, path);
  auto second = load_model(fixture("functional_shared.h5"));
  FileSystem& real = file_system();
  bool succeeded = false;
  int failures = 0;
  for (int n = 1; !succeeded && n < 20; ++n) {
    auto failing = std::make_shared<FailingFileSystem>(real, n);
    {
      ScopedFileSystem scope(failing);
      try {
        save_model(*second, path);
        succeeded = true;
      } catch (const IOError&) {
        ++failures;
      }
    }
    if (!succeeded) {
      // Before the rename (the commit point) the old file is there; after it, the new one.
      // Either way the file is whole and loads.
      auto still = load_model(path);
      if (n == 1) {
        EXPECT_EQ(still->name(), first->name());
      }
      EXPECT_TRUE(still->name() == first->name() || still->name() == second->name()) << "failure at call " << n;
    }
  }
  EXPECT_TRUE(succeeded);
  EXPECT_GE(failures, 1);
  EXPECT_EQ(load_model(path)->name(), second->name());
}

}  // namespace
}  // namespace strata::h5test
