// Bidirectional and TimeDistributed of the layers plugin: weight names and tracking as
// tf-keras 2.17 writes them (the names below were read from an H5 file and a checkpoint
// that tf-keras wrote for the same layers), gradients against central differences in
// float64 (every merge mode, masks, states), runs on inputs of unknown length, and the
// typed errors of bad configs (messages written by hand). Forward values against tf-keras
// are checked by the interop fixtures bilstm_tagger, bidirectional_* and
// time_distributed_conv (tests/interop/generate_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unistd.h>

#include "strata/checkpoint.hpp"
#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"
#include "load_error.hpp"
#include "recurrent_test_util.hpp"

namespace strata {
namespace {

using recurrent_tests::arr64;
using recurrent_tests::check_gradients;
using recurrent_tests::mask_of;
using recurrent_tests::shapes_of;

class WrapperTest : public recurrent_tests::OnEachDevice {};

Config serialized(const char* cls, Config config) {
  config["dtype"] = "float64";
  return Config{{"class_name", cls}, {"config", config}};
}

TEST_P(WrapperTest, BidirectionalGradientsMatchFiniteDifferencesInEveryMergeMode) {
  const Tensor x = arr64({2, 4, 3}, 23, 1.0);
  CallContext masked;
  masked.masks = {mask_of({{1, 1, 1, 0}, {1, 0, 1, 1}})};
  for (const Config& mode : {Config("concat"), Config("sum"), Config("mul"), Config("ave"), Config(nullptr)}) {
    SCOPED_TRACE("merge_mode " + mode.dump());
    auto layer = make_layer("Bidirectional", Config{{"dtype", "float64"}, {"merge_mode", mode},
                                                    {"layer", serialized("LSTM", Config{{"units", 2},
                                                                                        {"return_sequences", true},
                                                                                        {"return_state", true}})}});
    check_gradients(*layer, {x}, masked);
  }
}

TEST_P(WrapperTest, BidirectionalGradientsWithInitialStatesAndABackwardLayer) {
  const Tensor x = arr64({2, 3, 3}, 24, 1.0);
  auto layer = make_layer(
      "Bidirectional",
      Config{{"dtype", "float64"},
             {"layer", serialized("GRU", Config{{"units", 2}})},
             {"backward_layer", serialized("SimpleRNN", Config{{"units", 3}, {"go_backwards", true}})}});
  check_gradients(*layer, {x, arr64({2, 2}, 5, 0.5), arr64({2, 3}, 6, 0.5)}, CallContext{});
}

TEST_P(WrapperTest, TimeDistributedGradientsMatchFiniteDifferences) {
  auto dense = make_layer("TimeDistributed", Config{{"dtype", "float64"},
                                                    {"layer", serialized("Dense", Config{{"units", 3},
                                                                                         {"activation", "tanh"}})}});
  check_gradients(*dense, {arr64({2, 3, 4}, 25, 1.0)}, CallContext{});
  auto conv = make_layer("TimeDistributed", Config{{"dtype", "float64"},
                                                   {"layer", serialized("Conv2D", Config{{"filters", 2},
                                                                                         {"kernel_size", 2}})}});
  check_gradients(*conv, {arr64({2, 2, 3, 3, 2}, 26, 1.0)}, CallContext{});
}

TEST_P(WrapperTest, RnnOfACellGradientsMatchFiniteDifferences) {
  CallContext masked;
  masked.masks = {mask_of({{1, 1, 0, 1}, {1, 1, 1, 0}})};
  for (const char* cell : {"SimpleRNNCell", "LSTMCell", "GRUCell"}) {
    SCOPED_TRACE(cell);
    auto layer = make_layer("RNN", Config{{"dtype", "float64"},
                                          {"return_sequences", true},
                                          {"return_state", true},
                                          {"cell", serialized(cell, Config{{"units", 2}})}});
    check_gradients(*layer, {arr64({2, 4, 3}, 28, 1.0)}, masked);
  }
}

// tf-keras 2.17: RNN(LSTMCell(2)) on (None, 4, 3) names its weights "rnn/lstm_cell/kernel"
// and writes the cell as a nested object with its build_config.
TEST_P(WrapperTest, RnnOfACellHasTfKerasNamesAndConfig) {
  auto rnn = make_layer("RNN", Config{{"cell", Config{{"class_name", "LSTMCell"}, {"config", {{"units", 2}}}}}});
  rnn->ensure_built({Shape{Shape::kUnknown, 4, 3}});
  std::vector<std::string> names;
  for (const auto& w : rnn->weights()) names.push_back(w.name());
  EXPECT_EQ(names, (std::vector<std::string>{"rnn/lstm_cell/kernel", "rnn/lstm_cell/recurrent_kernel", "rnn/lstm_cell/bias"}));
  const Config c = rnn->get_config();
  std::vector<std::string> keys;
  for (auto it = c.begin(); it != c.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "trainable", "dtype", "return_sequences", "return_state",
                                            "go_backwards", "stateful", "unroll", "time_major", "cell"}));
  keys.clear();
  for (auto it = c["cell"]["config"].begin(); it != c["cell"]["config"].end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "trainable", "dtype", "units", "activation", "recurrent_activation",
                                            "use_bias", "kernel_initializer", "recurrent_initializer",
                                            "bias_initializer", "unit_forget_bias", "kernel_regularizer",
                                            "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
                                            "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout",
                                            "implementation"}));
  EXPECT_EQ(c["cell"]["class_name"], "LSTMCell");
  EXPECT_EQ(c["cell"]["build_config"].dump(), R"({"input_shape":[null,3]})");
}

// tf-keras 2.17: Bidirectional(LSTM(2)) on (None, 5, 3) and TimeDistributed(Dense(4)).
TEST_P(WrapperTest, WeightsAreNamedAndTrackedAsTfKeras) {
  auto bi = make_layer("Bidirectional", Config{{"layer", Config{{"class_name", "LSTM"}, {"config", {{"units", 2}}}}}});
  bi->ensure_built({Shape{Shape::kUnknown, 5, 3}});
  std::vector<std::string> names;
  for (const auto& w : bi->weights()) names.push_back(w.name());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "bidirectional/forward_lstm/lstm_cell/kernel", "bidirectional/forward_lstm/lstm_cell/recurrent_kernel",
                       "bidirectional/forward_lstm/lstm_cell/bias", "bidirectional/backward_lstm/lstm_cell/kernel",
                       "bidirectional/backward_lstm/lstm_cell/recurrent_kernel", "bidirectional/backward_lstm/lstm_cell/bias"}));
  const auto children = bi->children();
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children[0].name, "forward_layer");
  EXPECT_EQ(children[1].name, "backward_layer");
  EXPECT_EQ(bi->weights()[0].shape(), (Shape{3, 8}));

  auto td = make_layer("TimeDistributed", Config{{"layer", Config{{"class_name", "Dense"}, {"config", {{"units", 4}}}}}});
  td->ensure_built({Shape{Shape::kUnknown, 5, 4}});
  names.clear();
  for (const auto& w : td->weights()) names.push_back(w.name());
  EXPECT_EQ(names, (std::vector<std::string>{"time_distributed/kernel", "time_distributed/bias"}));
  ASSERT_EQ(td->children().size(), 1u);
  EXPECT_EQ(td->children()[0].name, "layer");
}

// Keras writes the wrapped layer (not its forward_ copy) and the backward_layer as given.
TEST_P(WrapperTest, ConfigsKeepTheWrappedLayersAsGiven) {
  auto bi = make_layer("Bidirectional",
                       Config{{"name", "bi"},
                              {"merge_mode", nullptr},
                              {"layer", Config{{"class_name", "GRU"}, {"config", {{"name", "g"}, {"units", 2}}}}},
                              {"backward_layer", Config{{"class_name", "GRU"},
                                                        {"config", {{"name", "gb"}, {"units", 2}, {"go_backwards", true}}}}}});
  const Config c = bi->get_config();
  std::vector<std::string> keys;
  for (auto it = c.begin(); it != c.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "trainable", "dtype", "layer", "merge_mode", "backward_layer"}));
  EXPECT_TRUE(c["merge_mode"].is_null());
  EXPECT_EQ(c["layer"]["module"], "keras.layers");
  EXPECT_EQ(c["layer"]["class_name"], "GRU");
  EXPECT_EQ(c["layer"]["config"]["name"], "g");
  EXPECT_EQ(c["layer"]["config"]["go_backwards"], false);
  EXPECT_FALSE(c["layer"]["config"].contains("zero_output_for_mask"));
  EXPECT_EQ(c["backward_layer"]["config"]["name"], "gb");
  EXPECT_EQ(c["backward_layer"]["config"]["go_backwards"], true);
  EXPECT_TRUE(c["layer"]["registered_name"].is_null());
  EXPECT_EQ(bi->children()[1].layer->name(), "backward_gb");
}

// The unrolled path (known length) is checked against tf-keras by the fixtures; the
// deferred path must give the same values.
TEST_P(WrapperTest, UnknownLengthRunsLikeKnownLength) {
  const Config bi_config{{"merge_mode", "sum"},
                         {"layer", Config{{"class_name", "LSTM"}, {"config", {{"units", 2}, {"return_sequences", true}}}}}};
  const Config td_config{{"layer", Config{{"class_name", "Dense"}, {"config", {{"units", 3}}}}}};
  auto make_model = [&](std::int64_t steps) {
    const Tensor in = Input(Shape{steps, 3});
    auto bi = make_layer("Bidirectional", bi_config);
    auto td = make_layer("TimeDistributed", td_config);
    const Tensor y = (*td)((*bi)(in));
    return std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{y});
  };
  auto known = make_model(4);
  auto unknown = make_model(Shape::kUnknown);
  unknown->set_weights(known->get_weights());
  const Tensor x = cast(arr64({2, 4, 3}, 27, 1.0), DType::kFloat32);
  const auto a = known->predict(x).to_vector<float>();
  const auto b = unknown->predict(x).to_vector<float>();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6) << "element " << i;
}

// A BiLSTM tagger saved by Strata as H5: Strata loads it back, and tf-keras 2.17 (label
// interop's venv; skipped without it) loads it, names its weights as tf-keras does and
// predicts what Strata predicted.
TEST_P(WrapperTest, TaggerSavedAsH5LoadsInStrataAndTfKeras) {
  if (!Registry::global().contains(ObjectKind::kFormat, "h5")) GTEST_SKIP() << "no format-h5 plugin in this build";
  auto model = model_from_json(R"({"class_name": "Sequential", "config": {"name": "tagger", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 5], "dtype": "int32", "name": "ids"}},
      {"class_name": "Embedding", "config": {"name": "embedding", "input_dim": 6, "output_dim": 3, "mask_zero": true}},
      {"class_name": "Bidirectional", "config": {"name": "bidirectional", "merge_mode": "concat", "layer":
        {"class_name": "LSTM", "config": {"name": "lstm", "units": 2, "return_sequences": true}}}},
      {"class_name": "TimeDistributed", "config": {"name": "time_distributed", "layer":
        {"class_name": "Dense", "config": {"name": "dense", "units": 2}}}}]}})");
  std::vector<Tensor> weights;
  for (const auto& w : model->weights()) {
    weights.push_back(cast(arr64(w.shape(), static_cast<int>(weights.size()) + 3, 0.7), DType::kFloat32));
  }
  model->set_weights(weights);
  const Tensor ids = Tensor::from_vector<std::int32_t>({1, 2, 3, 4, 5, 5, 4, 3, 0, 0, 2, 0, 1, 3, 0}, Shape{3, 5});
  const Tensor y = model->predict(ids);
  const auto dir = std::filesystem::temp_directory_path() / ("strata_wrappers_h5_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  save_model(*model, dir / "tagger.h5");
  const auto back = load_model(dir / "tagger.h5");
  const auto a = y.to_vector<float>(), b = back->predict(ids).to_vector<float>();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "element " << i;

  // TF checkpoint of the weights: the object graph tf-keras 2.17 writes for this model.
  const bool checkpoint = Registry::global().contains(ObjectKind::kFormat, "checkpoint");
  if (checkpoint) {
    std::filesystem::create_directories(dir / "ckpt");
    save_weights(*model, dir / "ckpt" / "weights");
    std::vector<std::string> keys;
    for (const auto& k : load_checkpoint(dir / "ckpt" / "weights")->keys()) {
      if (k.rfind("layer_with_weights", 0) == 0) keys.push_back(k);
    }
    const std::string v = "/.ATTRIBUTES/VARIABLE_VALUE";
    EXPECT_EQ(keys, (std::vector<std::string>{
                        "layer_with_weights-0/embeddings" + v, "layer_with_weights-1/backward_layer/cell/bias" + v,
                        "layer_with_weights-1/backward_layer/cell/kernel" + v,
                        "layer_with_weights-1/backward_layer/cell/recurrent_kernel" + v,
                        "layer_with_weights-1/forward_layer/cell/bias" + v,
                        "layer_with_weights-1/forward_layer/cell/kernel" + v,
                        "layer_with_weights-1/forward_layer/cell/recurrent_kernel" + v,
                        "layer_with_weights-2/layer/bias" + v, "layer_with_weights-2/layer/kernel" + v}));
  }

  if (GetParam() != "ref:0") return;  // tf-keras's half (about 20 s of TensorFlow start-up) once
  const bool savedmodel = Registry::global().contains(ObjectKind::kFormat, "savedmodel");
  if (savedmodel) save_model(*model, dir / "sm");
  const char* venv = std::getenv("STRATA_INTEROP_VENV");
  const std::filesystem::path python = std::filesystem::path(venv && *venv ? venv : "/root/.cache/strata/interop-venv") / "bin/python";
  if (!std::filesystem::exists(python)) GTEST_SKIP() << "no tf-keras venv at " << python;
  write_npy(dir / "ids.npy", ids);
  write_npy(dir / "y.npy", y);
  std::ofstream(dir / "check.py") << R"(import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np, tf_keras as keras
d = sys.argv[1]
m = keras.models.load_model(os.path.join(d, "tagger.h5"))
got = m.predict(np.load(os.path.join(d, "ids.npy")), verbose=0)
ref = np.load(os.path.join(d, "y.npy"))
names = [w.name for w in m.weights]
ok = got.shape == ref.shape and bool(np.all(np.abs(got - ref) <= 1e-5 + 1e-5 * np.abs(ref)))
print("keras:", "ok" if ok else "differs", names)
if os.path.exists(os.path.join(d, "ckpt", "weights.index")):
    c = keras.models.clone_model(m)
    c.load_weights(os.path.join(d, "ckpt", "weights")).assert_existing_objects_matched()
    got = c.predict(np.load(os.path.join(d, "ids.npy")), verbose=0)
    print("checkpoint:", "ok" if bool(np.all(np.abs(got - ref) <= 1e-5 + 1e-5 * np.abs(ref))) else "differs")
if os.path.isdir(os.path.join(d, "sm")):
    try:
        s = keras.models.load_model(os.path.join(d, "sm"))
        got = s.predict(np.load(os.path.join(d, "ids.npy")), verbose=0)
        print("savedmodel:", "ok" if bool(np.all(np.abs(got - ref) <= 1e-5 + 1e-5 * np.abs(ref))) else "differs",
              sorted(v.name for v in s.weights))
    except Exception as e:
        print("savedmodel: FAILED", type(e).__name__, str(e)[:2000])
)";
  const std::string cmd = "'" + python.string() + "' '" + (dir / "check.py").string() + "' '" + dir.string() + "' 2>&1";
  std::string out;
  if (FILE* pipe = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    ::pclose(pipe);
  }
  EXPECT_NE(out.find("keras: ok ['embedding/embeddings:0', 'bidirectional/forward_lstm/lstm_cell/kernel:0', "
                     "'bidirectional/forward_lstm/lstm_cell/recurrent_kernel:0', "
                     "'bidirectional/forward_lstm/lstm_cell/bias:0', 'bidirectional/backward_lstm/lstm_cell/kernel:0', "
                     "'bidirectional/backward_lstm/lstm_cell/recurrent_kernel:0', "
                     "'bidirectional/backward_lstm/lstm_cell/bias:0', 'time_distributed/kernel:0', "
                     "'time_distributed/bias:0']"),
            std::string::npos)
      << out;
  if (checkpoint) {
    EXPECT_NE(out.find("checkpoint: ok"), std::string::npos) << out;
  }
  if (savedmodel) {
    EXPECT_NE(out.find("savedmodel: ok"), std::string::npos) << out;
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Ref, WrapperTest, ::testing::Values("ref:0"));
INSTANTIATE_TEST_SUITE_P(Cpu, WrapperTest, ::testing::Values("cpu:0"));

// ---- config errors ---------------------------------------------------------------------------

std::string sequential_json(const std::string& class_name, const std::string& config, const std::string& input_dims) {
  return R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, )" +
         input_dims + R"(], "dtype": "float32", "name": "in"}},
      {"class_name": ")" + class_name + R"(", "config": {"name": "w", )" + config + R"(}}]}})";
}

using test::load_error;

const char* kLstm = R"({"class_name": "LSTM", "config": {"name": "l", "units": 2}})";

class WrapperConfigErrors : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

TEST_F(WrapperConfigErrors, BidirectionalOfANonRecurrentLayer) {
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "Bidirectional", R"("layer": {"class_name": "Dense", "config": {"name": "d", "units": 2}})", "4, 3")),
            "layer 'w' (Bidirectional): 'layer' must be a recurrent layer (SimpleRNN, LSTM or GRU), got Dense layer 'd'");
}

TEST_F(WrapperConfigErrors, BidirectionalWithABadMergeMode) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("Bidirectional", std::string(R"("merge_mode": "max", "layer": )") + kLstm,
                                                   "4, 3")),
            "layer 'w' (Bidirectional): 'merge_mode' must be one of \"sum\", \"mul\", \"ave\", \"concat\" or null, "
            "got \"max\"");
  EXPECT_EQ(load_error<FormatError>(sequential_json("Bidirectional", std::string(R"("merge_mode": 3, "layer": )") + kLstm,
                                                    "4, 3")),
            "layer 'w' (Bidirectional): 'merge_mode' must be a string, got 3");
}

TEST_F(WrapperConfigErrors, BidirectionalWithoutALayer) {
  EXPECT_EQ(load_error<FormatError>(sequential_json("Bidirectional", R"("merge_mode": "sum")", "4, 3")),
            "layer 'w' (Bidirectional): 'layer' is missing; it must be a value");
}

TEST_F(WrapperConfigErrors, BidirectionalWithMismatchedBackwardLayer) {
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "Bidirectional",
                std::string(R"("layer": )") + kLstm +
                    R"(, "backward_layer": {"class_name": "LSTM", "config": {"name": "b", "units": 2}})",
                "4, 3")),
            "layer 'w' (Bidirectional): the forward and backward layers must have different go_backwards values, both "
            "have false");
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "Bidirectional",
                std::string(R"("layer": )") + kLstm +
                    R"(, "backward_layer": {"class_name": "LSTM", "config": {"name": "b", "units": 2,
                       "go_backwards": true, "return_sequences": true}})",
                "4, 3")),
            "layer 'w' (Bidirectional): the forward and backward layers must have the same return_sequences, got "
            "false and true");
}

TEST_F(WrapperConfigErrors, RnnOfCellsStrataDoesNotHave) {
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "RNN", R"("cell": [{"class_name": "LSTMCell", "config": {"units": 2}}, {"class_name": "ConvLSTMCell"}])",
                "4, 3")),
            "layer 'w' (RNN): cell 1 of the stack must be a SimpleRNNCell, LSTMCell or GRUCell, got ConvLSTMCell");
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "RNN", R"("cell": {"class_name": "StackedRNNCells", "config": {"cells": []}})", "4, 3")),
            "layer 'w' (RNN): the list of cells is empty");
  EXPECT_EQ(load_error<ValueError>(sequential_json("RNN", R"("cell": [])", "4, 3")),
            "layer 'w' (RNN): the list of cells is empty");
  EXPECT_EQ(load_error<FormatError>(sequential_json(
                "RNN", R"("cell": {"class_name": "StackedRNNCells", "config": {"name": "s"}})", "4, 3")),
            "layer 'w' (RNN): the StackedRNNCells has no 'cells'");
  EXPECT_EQ(load_error<FormatError>(sequential_json(
                "RNN", R"("cell": {"class_name": "StackedRNNCells", "config": {"cells": {"units": 2}}})", "4, 3")),
            "layer 'w' (RNN): the StackedRNNCells' 'cells' must be a list of serialized cells, got {\"units\":2}");
  EXPECT_EQ(load_error<FormatError>(sequential_json("RNN", R"("cell": [3])", "4, 3")),
            "layer 'w' (RNN): cell 0 of the stack must be a serialized cell, got 3");
  EXPECT_EQ(load_error<FormatError>(sequential_json("RNN", R"("return_sequences": true)", "4, 3")),
            "layer 'w' (RNN): 'cell' is missing; it must be a serialized cell");
  EXPECT_EQ(load_error<FormatError>(sequential_json(
                "RNN", R"("cell": {"class_name": "GRUCell", "config": {"units": "two"}})", "4, 3")),
            "layer 'w' (RNN): 'units' must be a positive integer, got \"two\"");
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "RNN", R"("cell": [{"class_name": "GRUCell", "config": {"units": 2}}, {"class_name": "LSTMCell", "config": {"units": -1}}])",
                "4, 3")),
            "layer 'w' (RNN): 'units' must be a positive integer, got -1");
}

// Keras: "If a RNN is stateful, it needs to know its batch size."
TEST_F(WrapperConfigErrors, StatefulRnnWithoutAFixedBatchSize) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("LSTM", R"("units": 2, "stateful": true)", "4, 3")),
            "LSTM layer 'w' is stateful and needs to know its batch size: give the model's input a fixed batch size "
            "(batch_input_shape / Input(..., batch_size=...)), got inputs of shape (None, 4, 3)");
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "Bidirectional", R"("layer": {"class_name": "GRU", "config": {"name": "g", "units": 2, "stateful": true}})",
                "4, 3")),
            "GRU layer 'forward_g' is stateful and needs to know its batch size: give the model's input a fixed batch "
            "size (batch_input_shape / Input(..., batch_size=...)), got inputs of shape (None, 4, 3)");
  EXPECT_EQ(load_error<FormatError>(sequential_json("SimpleRNN", R"("units": 2, "stateful": "yes")", "4, 3")),
            "layer 'w' (SimpleRNN): 'stateful' must be true or false, got \"yes\"");
}

TEST_F(WrapperConfigErrors, TimeDistributedOfRankTwoInputs) {
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "TimeDistributed", R"("layer": {"class_name": "Dense", "config": {"name": "d", "units": 2}})", "4")),
            "TimeDistributed layer 'w' expects inputs of at least 3 dimensions (batch, timesteps, ...), got (None, 4)");
}

}  // namespace
}  // namespace strata
