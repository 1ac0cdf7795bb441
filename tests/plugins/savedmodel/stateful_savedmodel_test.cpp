// Stateful recurrent layers' states in SavedModels, both ways (issue 18). tf-keras writes a
// stateful layer's current states under "<layer>/keras_api/states/<i>" and its load_model
// continues from them; Strata restores them (classes and revived traces) and writes them
// there. The tf-keras SavedModels are generated at test time into the cache
// (tests/interop/generate_stateful_savedmodels.py, keyed by the generator's content and the
// venv's tf-keras version); those tests (label interop) skip without the venv. Expected values come from
// tf-keras: its load_model's predict on the next batch, and after reset_states.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "strata/checkpoint.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"
#include "strata/serialization.hpp"
#include "strata/stateful.hpp"
#include "interop_venv.hpp"

namespace {

namespace fs = std::filesystem;
using namespace strata;

using test::read_text;

int run(const std::string& cmd, std::string& output) { return test::run_capturing(cmd, output); }

fs::path python() { return test::venv_python(); }

// DIR of the generated tf-keras SavedModels, generated on first use.
fs::path generated() {
  static const fs::path dir = [] {
    const char* home = std::getenv("HOME");
    const fs::path d = test::generated_cache_dir(fs::path(home ? home : "/root") / ".cache/strata/stateful-savedmodels",
                                                 STRATA_STATEFUL_GENERATOR);
    std::string out;
    EXPECT_EQ(test::generate_with_script(d, "lstm/meta.json", STRATA_STATEFUL_GENERATOR, "generate --out", out), 0) << out;
    return d;
  }();
  return dir;
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto g = cast(got.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  const auto w = cast(want.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::fabs(g[i] - w[i]));
  EXPECT_LE(worst, tol) << what;
}

double max_diff(const Tensor& a, const Tensor& b) {
  const auto x = cast(a.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  const auto y = cast(b.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  return worst;
}

constexpr double kTol = 1e-5;

class KerasStatefulInterop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs::exists(python())) GTEST_SKIP() << "no tf-keras venv at " << test::interop_venv() << " to write the SavedModels";
    initialize();
    dir_ = generated() / GetParam();
    ASSERT_TRUE(fs::exists(dir_ / "meta.json")) << "the generator wrote nothing for " << GetParam();
  }
  fs::path dir_;
};

// With the classes: tf-keras's saved states are restored, so the next batch continues from
// them (tf-keras's load_model's predict), and reset_states gives the fresh run.
TEST_P(KerasStatefulInterop, PredictContinuesFromTheSavedStatesAndResetStartsFresh) {
  const Tensor x2 = read_npy(dir_ / "x2.npy");
  const Tensor continued = read_npy(dir_ / "continued.npy");
  const Tensor fresh = read_npy(dir_ / "fresh.npy");
  ASSERT_GT(max_diff(continued, fresh), 1e-3) << "the states must matter for this test to mean anything";
  auto model = load_model(dir_ / "savedmodel");
  EXPECT_FALSE(model->layers().empty()) << "built from the classes";
  expect_close(model->predict(x2), continued, kTol, GetParam() + ": continued from the saved states");
  reset_states(*model);
  expect_close(model->predict(x2), fresh, kTol, GetParam() + ": after reset_states");
}

// Revived from the traces: the traced call reads and assigns the states' variables, which
// are bound with the saved values (non-trainable), so it continues too; reset_states on the
// revived model zeroes them.
TEST_P(KerasStatefulInterop, TheRevivedTracesContinueFromTheSavedStatesAndResetStartsFresh) {
  const Tensor x2 = read_npy(dir_ / "x2.npy");
  LoadOptions options;
  options.revive_from_traces = true;
  auto model = load_model(dir_ / "savedmodel", options);
  for (const auto& w : model->trainable_weights()) {
    EXPECT_EQ(w.name().find("/Variable"), std::string::npos) << "state '" << w.name() << "' is not a trainable weight";
  }
  auto* stateful = dynamic_cast<StateVariablesLayer*>(model.get());
  ASSERT_NE(stateful, nullptr);
  EXPECT_FALSE(stateful->state_variables().empty());
  expect_close(model->predict(x2), read_npy(dir_ / "continued.npy"), kTol, GetParam() + " revived: continued");
  // The call assigned the final states: predicting the same batch again gives something else.
  EXPECT_GT(max_diff(model->predict(x2), read_npy(dir_ / "continued.npy")), 1e-4);
  reset_states(*model);
  expect_close(model->predict(x2), read_npy(dir_ / "fresh.npy"), kTol, GetParam() + " revived: after reset_states");
}

INSTANTIATE_TEST_SUITE_P(Models, KerasStatefulInterop,
                         ::testing::Values("lstm", "gru", "simple_rnn", "bidirectional_lstm", "sequential_lstm_gru"));

// Without the venv: a Strata stateful model's SavedModel holds its states at tf-keras's path
// and load_model continues from them; its H5 file and its checkpoint do not hold them (as
// tf-keras's), so those start from zeros.
TEST(StatefulSavedModel, StrataSavesTheStatesInSavedModelsOnlyAndLoadContinuesFromThem) {
  initialize();
  const std::string json = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [2, 3, 2], "dtype": "float32", "name": "in"}},
    {"class_name": "LSTM", "config": {"name": "lstm", "units": 4, "stateful": true, "return_sequences": true}},
    {"class_name": "GRU", "config": {"name": "gru", "units": 3, "stateful": true}}]}})";
  auto model = model_from_json(json);
  const Tensor x1 = random_uniform(Shape{2, 3, 2}, DType::kFloat32, -1.0, 1.0, 7);
  const Tensor x2 = random_uniform(Shape{2, 3, 2}, DType::kFloat32, -1.0, 1.0, 8);
  (void)model->predict(x1);
  const fs::path root = fs::temp_directory_path() / ("strata_stateful_sm_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  save_model(*model, root / "sm");
  save_model(*model, root / "m.h5");
  model->save_weights(root / "ckpt");
  const Tensor continued = model->predict(x2);
  reset_states(*model);
  const Tensor fresh = model->predict(x2);
  ASSERT_GT(max_diff(continued, fresh), 1e-3);

  const auto keys = load_checkpoint(root / "sm" / "variables" / "variables")->keys();
  for (const char* k : {"layer_with_weights-0/keras_api/states/0/.ATTRIBUTES/VARIABLE_VALUE",
                        "layer_with_weights-0/keras_api/states/1/.ATTRIBUTES/VARIABLE_VALUE",
                        "layer_with_weights-1/keras_api/states/0/.ATTRIBUTES/VARIABLE_VALUE"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  }
  for (const auto& k : load_checkpoint(root / "ckpt")->keys()) EXPECT_EQ(k.find("keras_api"), std::string::npos) << k;

  auto from_sm = load_model(root / "sm");
  expect_close(from_sm->predict(x2), continued, 1e-6, "SavedModel: continued");
  reset_states(*from_sm);
  expect_close(from_sm->predict(x2), fresh, 1e-6, "SavedModel: after reset_states");
  expect_close(load_model(root / "m.h5")->predict(x2), fresh, 1e-6, "H5: zeros");
  auto from_ckpt = model_from_json(json);
  from_ckpt->load_weights(root / "ckpt").assert_consumed();
  expect_close(from_ckpt->predict(x2), fresh, 1e-6, "checkpoint: zeros");
  fs::remove_all(root);
}

// Label interop: tf-keras's load_model of Strata's SavedModel continues from the states
// Strata saved (its predict equals Strata's continued predict), and after its
// reset_states equals tf-keras's own fresh run.
class StatefulSavedModelInterop : public KerasStatefulInterop {};

TEST_P(StatefulSavedModelInterop, KerasLoadsStrataSavedStatesAndContinuesFromThem) {
  const fs::path root = fs::temp_directory_path() / ("strata_stateful_interop_" + GetParam() + "_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  auto model = load_model(dir_ / "savedmodel");
  reset_states(*model);
  // Strata's own states, after two batches it predicted (not the ones tf-keras saved).
  const Tensor x2 = read_npy(dir_ / "x2.npy");
  (void)model->predict(read_npy(dir_ / "x1.npy"));
  (void)model->predict(x2);
  save_model(*model, root / "sm");
  const Tensor continued = model->predict(x2);
  write_npy(root / "x2.npy", x2);
  std::string out;
  int rc = run("'" + python().string() + "' '" + STRATA_STATEFUL_GENERATOR + "' predict --model '" + (root / "sm").string() +
                   "' --x '" + (root / "x2.npy").string() + "' --out '" + (root / "keras.npy").string() + "'",
               out);
  ASSERT_EQ(rc, 0) << out;
  expect_close(read_npy(root / "keras.npy"), continued, kTol, GetParam() + ": tf-keras continued from Strata's states");
  out.clear();
  rc = run("'" + python().string() + "' '" + STRATA_STATEFUL_GENERATOR + "' predict --reset --model '" + (root / "sm").string() +
               "' --x '" + (root / "x2.npy").string() + "' --out '" + (root / "keras_reset.npy").string() + "'",
           out);
  ASSERT_EQ(rc, 0) << out;
  expect_close(read_npy(root / "keras_reset.npy"), read_npy(dir_ / "fresh.npy"), kTol, GetParam() + ": tf-keras after reset");
  fs::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(Models, StatefulSavedModelInterop,
                         ::testing::Values("lstm", "gru", "simple_rnn", "bidirectional_lstm", "sequential_lstm_gru"));

}  // namespace
