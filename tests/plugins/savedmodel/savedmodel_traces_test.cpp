// Traced functions in SavedModels: Strata writes each model's call as a FunctionDef
// library (inference and training mode) bound to its variables; a model whose class is not
// available is revived from them, predicts what the original predicted and keeps training;
// saved_model::load gives the signatures as plain callables; a model whose classes exist
// is still built from them. Bad graphs are FormatErrors naming the function and node.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>

#include "fixture_dir.hpp"
#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/layer.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/plugins.hpp"
#include "strata/revived.hpp"
#include "strata/saved_model.hpp"
#include "strata/saving.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"
#include "strata/tf/saved_model.pb.h"

namespace {

namespace fs = std::filesystem;

// The tf-keras SavedModels: tests/data/savedmodel (2.17, compiled in) or
// $STRATA_SAVEDMODEL_FIXTURE_DIR (the second version: tests/interop/fixture_set_current_venv.sh).
const fs::path kFixtures = strata::test::fixture_dir("STRATA_SAVEDMODEL_FIXTURE_DIR", STRATA_SAVEDMODEL_FIXTURES);

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("strata_smtrace_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

strata::Tensor npy(const std::string& name) { return strata::read_npy(kFixtures / name); }

std::shared_ptr<strata::Model> revive(const fs::path& dir) {
  strata::LoadOptions o;
  o.revive_from_traces = true;
  return strata::load_model(dir, o);
}

void expect_close(const strata::Tensor& got, const strata::Tensor& want, float tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto g = got.to_vector<float>(), w = want.to_vector<float>();
  for (std::size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], tol) << what << " element " << i;
}

class Traced : public ::testing::TestWithParam<std::string> {};

// Saved by Strata, revived without its classes: same predictions, bit for bit (the same ops
// run), and the revived model trains like the original does from the same optimizer state.
TEST_P(Traced, RevivedModelPredictsAndTrainsLikeTheOriginal) {
  auto original = strata::load_model(kFixtures / GetParam());
  const fs::path dir = fresh_dir("revive_" + GetParam()) / "model";
  strata::save_model(*original, dir);
  auto revived = revive(dir);
  EXPECT_TRUE(strata::is_revived(*revived)) << "the revived model must not be built from its classes";
  const auto x = npy(GetParam() + ".x.npy");
  EXPECT_EQ(revived->predict(x).to_vector<float>(), original->predict(x).to_vector<float>());

  // Both start from the same weights and the saved optimizer state (issue 19: the revived
  // model restores it too).
  auto reference = strata::load_model(dir);
  ASSERT_TRUE(revived->is_compiled());
  ASSERT_TRUE(reference->is_compiled());
  EXPECT_EQ(revived->optimizer()->iterations().value().to_vector<std::int64_t>(),
            reference->optimizer()->iterations().value().to_vector<std::int64_t>());
  const auto tx = npy(GetParam() + ".tx.npy"), ty = npy(GetParam() + ".ty.npy");
  for (int step = 0; step < 3; ++step) {
    const double want = reference->train_on_batch({tx}, {ty}).at("loss");
    const double got = revived->train_on_batch({tx}, {ty}).at("loss");
    EXPECT_NEAR(got, want, 1e-5 * std::max(1.0, std::abs(want))) << "step " << step;
  }
  // BatchNormalization's moving statistics moved in both (the revived one through the
  // assignments its training trace records); the traced Bessel factor is computed in float.
  // conv_bn_functional's conv bias feeds the normalization: its gradient is rounding noise
  // (the batch mean removes the bias), which the restored Adam state scales into steps that
  // differ between the two computations and reach the predictions through the moving mean.
  expect_close(revived->predict(x), reference->predict(x), GetParam() == "conv_bn_functional" ? 2e-3f : 1e-4f,
               "after training");
  // A revived model saves again, and that SavedModel revives too.
  const fs::path again = dir.parent_path() / "again";
  strata::save_model(*revived, again);
  EXPECT_EQ(revive(again)->predict(x).to_vector<float>(), revived->predict(x).to_vector<float>());
  EXPECT_EQ(strata::load_model(again)->predict(x).to_vector<float>(), revived->predict(x).to_vector<float>());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Traced, ::testing::Values("dense_sequential", "conv_bn_functional", "lstm_sequential"));

TEST(Traces, SavedModelLoadGivesTheServingSignatureAsACallable) {
  auto original = strata::load_model(kFixtures / "dense_sequential");
  const fs::path dir = fresh_dir("signatures") / "model";
  strata::save_model(*original, dir);
  const strata::saved_model::LoadedSavedModel loaded = strata::saved_model::load(dir);
  ASSERT_TRUE(loaded.signatures.count("serving_default"));
  const auto& serve = loaded.signatures.at("serving_default");
  ASSERT_EQ(serve.inputs.size(), 1u);
  EXPECT_FALSE(serve.inputs[0].shape.dims().empty());
  EXPECT_EQ(serve.inputs[0].shape.dims()[0], strata::Shape::kUnknown);
  const auto x = npy("dense_sequential.x.npy");
  const auto y = serve({x});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].to_vector<float>(), original->predict(x).to_vector<float>());
  EXPECT_FALSE(loaded.variables.empty());
}

// add_loss terms (here an activity regularizer's) and the weights' regularization penalties
// travel with the traces, as Keras's call_and_return_conditional_losses: a model revived
// without its classes evaluates and trains to the losses the class-built model gives.
TEST(Traces, AddLossTermsAndRegularizationPenaltiesTravelWithTheTraces) {
  auto original = strata::model_from_json(R"({"class_name": "Sequential", "config": {"name": "reg", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "name": "x"}},
      {"class_name": "Dense", "config": {"name": "hidden", "units": 4, "activation": "tanh",
        "activity_regularizer": {"class_name": "L2", "config": {"l2": 0.5}},
        "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}}},
      {"class_name": "Dense", "config": {"name": "out", "units": 2}}]}})");
  original->compile(strata::Config{{"class_name", "SGD"}, {"config", strata::Config{{"learning_rate", 0.1}}}},
                    strata::Config("mse"));
  const fs::path dir = fresh_dir("losses") / "model";
  strata::save_model(*original, dir);
  const auto sm_proto = [&] {
    strata::tf::SavedModel sm;
    std::ifstream in(dir / "saved_model.pb", std::ios::binary);
    EXPECT_TRUE(sm.ParseFromIstream(&in));
    return sm;
  }();
  const auto& cfs = sm_proto.meta_graphs(0).object_graph_def().concrete_functions();
  EXPECT_TRUE(cfs.count("__inference_call_and_return_conditional_losses"));
  EXPECT_TRUE(cfs.count("__inference_call_and_return_conditional_losses_training"));

  auto revived = revive(dir);
  ASSERT_TRUE(strata::is_revived(*revived));
  EXPECT_TRUE(revived->regularization_losses().empty()) << "the penalties come from the traces, not from regularizers";
  strata::LoadOptions no_compile;
  no_compile.compile = false;
  auto reference = strata::load_model(dir, no_compile);
  ASSERT_FALSE(reference->layers().empty());
  reference->compile(original->training_config()["optimizer_config"], original->training_config()["loss"]);
  const auto x = strata::random_normal(strata::Shape{6, 3}, strata::DType::kFloat32, 0, 1, 3);
  const auto y = strata::random_normal(strata::Shape{6, 2}, strata::DType::kFloat32, 0, 1, 4);
  // Without the activity term the evaluation loss would be the plain MSE.
  const double plain = strata::mean(strata::square(reference->predict(x) - y)).item<float>();
  const double want_eval = reference->test_on_batch({x}, {y}).at("loss");
  ASSERT_GT(want_eval, plain + 1e-3) << "the activity regularizer adds to the loss";
  EXPECT_NEAR(revived->test_on_batch({x}, {y}).at("loss"), want_eval, 1e-5 * std::max(1.0, want_eval));
  for (int step = 0; step < 3; ++step) {
    const double want = reference->train_on_batch({x}, {y}).at("loss");
    const double got = revived->train_on_batch({x}, {y}).at("loss");
    EXPECT_NEAR(got, want, 1e-5 * std::max(1.0, std::abs(want))) << "step " << step;
  }
  expect_close(revived->predict(x), reference->predict(x), 1e-5f, "after training");

  // Graph only: outputs, then the loss terms (activity, then the kernel's penalty, in both
  // modes: evaluate adds the penalties as fit does, as Keras's test_step).
  const auto loaded = strata::saved_model::load(dir);
  const auto inference = loaded.functions.at("call_and_return_conditional_losses")({x});
  const auto training = loaded.functions.at("call_and_return_conditional_losses_training")({x});
  ASSERT_EQ(inference.size(), 3u);
  ASSERT_EQ(training.size(), 3u);
  EXPECT_NEAR(inference[2].item<float>(), original->regularization_losses().at(0).item<float>(), 1e-6);
  strata::LossCollector eager;
  strata::CallContext ctx;
  const auto outputs = (*original)({x}, ctx);
  ASSERT_EQ(eager.losses().size(), 1u);
  EXPECT_NEAR(inference[1].item<float>(), eager.losses()[0].item<float>(), 1e-6);
  EXPECT_NEAR(training[2].item<float>(), original->regularization_losses().at(0).item<float>(), 1e-6);

  // A model without loss terms writes no such function.
  auto plain_model = strata::load_model(kFixtures / "dense_sequential");
  const fs::path plain_dir = dir.parent_path() / "plain";
  strata::save_model(*plain_model, plain_dir);
  strata::tf::SavedModel p;
  std::ifstream in(plain_dir / "saved_model.pb", std::ios::binary);
  ASSERT_TRUE(p.ParseFromIstream(&in));
  EXPECT_FALSE(p.meta_graphs(0).object_graph_def().concrete_functions().count("__inference_call_and_return_conditional_losses"));
}

// A model class that overrides train_step (as the standard one): what a SavedModel's traces
// cannot hold.
class CustomStep final : public strata::Sequential {
 public:
  using Sequential::Sequential;
  strata::Logs train_step(const std::vector<strata::Tensor>& x, const std::vector<strata::Tensor>& y,
                          const strata::Tensor& sample_weight) override {
    return Sequential::train_step(x, y, sample_weight);
  }
};

// What the traces cannot hold is a warning at save time naming it: an overridden train_step
// (the class, found through its vtable) and the layers whose ops read a mask passed to the
// model's call (found by tracing the call once more with mask placeholders).
TEST(Traces, SavingWarnsAboutAnOverriddenTrainStepAndLayersReadingACallerMask) {
  // What saving logs at warning level ("W: ...") and info level ("I: ...").
  const auto saved_warnings = [](const strata::Model& model, const std::string& name) {
    std::string logged;
    const strata::LogLevel level = strata::log_level();
    strata::set_log_level(strata::LogLevel::kInfo);
    auto previous = strata::set_log_sink([&](strata::LogLevel l, std::string_view text) {
      logged += (l == strata::LogLevel::kWarning ? "W: " : l == strata::LogLevel::kInfo ? "I: " : "?: ") +
                std::string(text) + "\n";
    });
    strata::save_model(model, fresh_dir(name) / "model");
    strata::set_log_sink(previous);
    strata::set_log_level(level);
    return logged;
  };
  const strata::Config dense_config = strata::Config::parse(R"({"name": "dense_seq", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "name": "x"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2}}]})");
  const std::string custom = saved_warnings(CustomStep(dense_config), "custom_step");
  EXPECT_NE(custom.find("overrides train_step"), std::string::npos) << custom;
  EXPECT_EQ(custom.find("test_step"), std::string::npos) << custom;
  const std::string plain = saved_warnings(strata::Sequential(dense_config), "plain_step");
  EXPECT_EQ(plain.find("overrides"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("mask"), std::string::npos) << plain;

  // An LSTM on the model's input reads the caller's mask; a Dense on a sequence only passes
  // it on. Strata's own classes always load from the file, so for them that is a note; a
  // class of the user's own (here one no plugin registers) makes it a warning.
  auto lstm = strata::model_from_json(R"({"class_name": "Sequential", "config": {"name": "seq", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 5, 3], "dtype": "float32", "name": "s"}},
      {"class_name": "LSTM", "config": {"name": "reads_mask", "units": 2}}]}})");
  const std::string masked = saved_warnings(*lstm, "mask_lstm");
  EXPECT_NE(masked.find("I: model 'seq': 'reads_mask' uses a mask passed to the model's call"), std::string::npos)
      << masked;
  class MaskedMean final : public strata::Layer {
   public:
    MaskedMean() : Layer("MaskedMean", strata::Config{{"name", "masked_mean"}}) { set_supports_masking(true); }
    std::vector<strata::Tensor> call(const std::vector<strata::Tensor>& in, const strata::CallContext& ctx) const override {
      strata::Tensor x = in[0];
      if (!ctx.masks.empty() && ctx.masks[0].defined()) {
        x = x * strata::expand_dims(strata::cast(ctx.masks[0], strata::DType::kFloat32), -1);
      }
      return {strata::mean(x, {1})};
    }
  };
  strata::Tensor seq_in = strata::Input(strata::Shape{5, 3}, "s");
  strata::Functional custom_mask({seq_in}, {(*std::make_shared<MaskedMean>())(seq_in)}, "custom_mask");
  const std::string custom_masked = saved_warnings(custom_mask, "mask_custom");
  EXPECT_NE(custom_masked.find("W: model 'custom_mask': 'masked_mean' uses a mask"), std::string::npos)
      << custom_masked;
  auto dense_seq = strata::model_from_json(R"({"class_name": "Sequential", "config": {"name": "seq2", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 5, 3], "dtype": "float32", "name": "s"}},
      {"class_name": "Dense", "config": {"name": "passes_mask", "units": 2}}]}})");
  const std::string passed = saved_warnings(*dense_seq, "mask_dense");
  EXPECT_EQ(passed.find("mask"), std::string::npos) << passed;

  // Revived without the class, the model asks for it where it is needed: training warns
  // once that the standard train_step runs; a call with a mask is refused when a layer
  // read masks, and accepted when none did.
  const fs::path custom_dir = fresh_dir("custom_step_revive") / "model";
  CustomStep with_step(dense_config);
  with_step.compile(strata::Config("sgd"), strata::Config("mse"));
  strata::save_model(with_step, custom_dir);
  auto revived = revive(custom_dir);
  const auto x = strata::random_normal(strata::Shape{4, 3}, strata::DType::kFloat32, 0, 1, 5);
  const auto y = strata::random_normal(strata::Shape{4, 2}, strata::DType::kFloat32, 0, 1, 6);
  std::string logged;
  auto previous = strata::set_log_sink([&](strata::LogLevel, std::string_view text) { logged += std::string(text) + "\n"; });
  revived->train_on_batch({x}, {y});
  revived->train_on_batch({x}, {y});
  strata::set_log_sink(previous);
  EXPECT_NE(logged.find("overrides train_step"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("overrides train_step"), logged.rfind("overrides train_step")) << "warned once:\n" << logged;

  const fs::path lstm_dir = fresh_dir("mask_revive") / "model";
  strata::save_model(*lstm, lstm_dir);
  auto revived_lstm = revive(lstm_dir);
  const auto seq = strata::random_normal(strata::Shape{2, 5, 3}, strata::DType::kFloat32, 0, 1, 7);
  strata::CallContext with_mask;
  with_mask.masks.push_back(strata::greater(strata::random_uniform(strata::Shape{2, 5}, strata::DType::kFloat32, 0, 1, 8),
                                            strata::Tensor::scalar<float>(0.3f)));
  try {
    (void)(*revived_lstm)(seq, with_mask);
    ADD_FAILURE() << "a mask reaching a revived model whose LSTM read masks must be refused";
  } catch (const strata::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'reads_mask'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Load the classes"), std::string::npos) << e.what();
  }
  EXPECT_TRUE((*revived_lstm)(seq, strata::CallContext{}).defined());
  const fs::path dense_dir = fresh_dir("mask_dense_revive") / "model";
  strata::save_model(*dense_seq, dense_dir);
  strata::CallContext dense_mask;
  dense_mask.masks = with_mask.masks;
  EXPECT_TRUE((*revive(dense_dir))(seq, dense_mask).defined());
}

// Issue 19: a model revived from traces, saved again, said that "Functional overrides
// train_step and test_step" (the revived model's own overrides, which only warn) and wrote
// that into the new file. Saved again it now carries the first file's claim about the
// original class: nothing for a plain model, train_step for a class that overrode it.
TEST(Traces, ResavingARevivedModelKeepsTheOriginalClaimAndAddsNone) {
  const strata::Config dense_config = strata::Config::parse(R"({"name": "resaved", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "name": "x"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2}}]})");
  const auto lack_of = [](const fs::path& dir) {
    std::ifstream in(dir / "keras_metadata.pb", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = bytes.find("\"strata_traces_lack\"");
    return at == std::string::npos ? std::string() : bytes.substr(at, bytes.find('}', at) - at + 1);
  };
  const auto resave = [](const fs::path& from, const fs::path& to) {
    std::string logged;
    auto previous = strata::set_log_sink([&](strata::LogLevel, std::string_view text) { logged += std::string(text) + "\n"; });
    strata::save_model(*revive(from), to);
    strata::set_log_sink(previous);
    return logged;
  };
  const fs::path plain_dir = fresh_dir("resave_plain") / "model";
  strata::save_model(strata::Sequential(dense_config), plain_dir);
  const fs::path plain_again = fresh_dir("resave_plain_again") / "model";
  const std::string plain_log = resave(plain_dir, plain_again);
  EXPECT_EQ(plain_log.find("overrides"), std::string::npos) << plain_log;
  EXPECT_EQ(lack_of(plain_again).find("train_step"), std::string::npos) << lack_of(plain_again);

  const fs::path custom_dir = fresh_dir("resave_custom") / "model";
  strata::save_model(CustomStep(dense_config), custom_dir);
  const fs::path custom_again = fresh_dir("resave_custom_again") / "model";
  const std::string custom_log = resave(custom_dir, custom_again);
  EXPECT_EQ(custom_log.find("overrides"), std::string::npos) << "the claim is the original class's, not news:\n" << custom_log;
  const std::string claim = lack_of(custom_again);
  EXPECT_NE(claim.find("train_step"), std::string::npos) << claim;
  EXPECT_EQ(claim.find("test_step"), std::string::npos) << claim;
}

TEST(Traces, WithoutTracesAMissingClassIsAnUnknownObjectErrorSayingSo) {
  strata::PluginManager::global().load(STRATA_TEST_CUSTOM_PLUGIN);
  auto model = strata::model_from_config(strata::Config{{"class_name", "SubclassedModel"}, {"config", strata::Config::object()}});
  (void)(*model)({strata::zeros(strata::Shape{2, 784})});
  const fs::path dir = fresh_dir("no_traces") / "model";
  strata::SaveOptions o;
  o.save_traces = false;
  strata::save_model(*model, dir, o);
  try {
    (void)revive(dir);
    ADD_FAILURE() << "revived without traces";
  } catch (const strata::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("save_traces=false"), std::string::npos) << e.what();
  }
  // With the class registered the class path still works.
  const auto x = strata::ones(strata::Shape{3, 784});
  EXPECT_EQ(strata::load_model(dir)->predict(x).to_vector<float>(), model->predict(x).to_vector<float>());
}

// ---- the guide's subclassed model from a plugin, in processes with and without the plugin ---------

int run(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) output += buf.data();
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Traces, SubclassedModelFromAPluginLoadsInAFreshProcessWithAndWithoutThePlugin) {
  strata::PluginManager::global().load(STRATA_TEST_CUSTOM_PLUGIN);
  auto model = strata::model_from_config(strata::Config{{"class_name", "SubclassedModel"}, {"config", strata::Config::object()}});
  std::vector<float> xs(5 * 784);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i % 17) * 0.05f - 0.4f;
  const auto x = strata::Tensor::from_vector<float>(xs, strata::Shape{5, 784});
  const auto want = model->predict(x);
  const fs::path root = fresh_dir("plugin_process");
  strata::save_model(*model, root / "model");
  strata::write_npy(root / "x.npy", x);
  const std::string cli = std::string("'") + STRATA_CLI_PATH + "'";
  const std::string plugin_dir = fs::path(STRATA_TEST_CUSTOM_PLUGIN).parent_path().string();
  std::string out;
  // Without the plugin: the class lookup really fails there (save_traces=false copy) ...
  strata::SaveOptions no_traces;
  no_traces.save_traces = false;
  strata::save_model(*model, root / "model_no_traces", no_traces);
  EXPECT_NE(run("env -u STRATA_PLUGIN_PATH " + cli + " predict '" + (root / "model_no_traces").string() + "' --input '" +
                    (root / "x.npy").string() + "' --output '" + (root / "y_fail.npy").string() + "'",
                out),
            0);
  EXPECT_NE(out.find("SubclassedModel"), std::string::npos) << out;
  // ... and the traced SavedModel still predicts what the original did.
  ASSERT_EQ(run("env -u STRATA_PLUGIN_PATH " + cli + " predict '" + (root / "model").string() + "' --input '" +
                    (root / "x.npy").string() + "' --output '" + (root / "y_without.npy").string() + "'",
                out),
            0)
      << out;
  expect_close(strata::read_npy(root / "y_without.npy"), want, 1e-6f, "without the plugin");
  // With the plugin on the search path: built from its class.
  ASSERT_EQ(run("STRATA_PLUGIN_PATH='" + plugin_dir + "' " + cli + " predict '" + (root / "model").string() +
                    "' --input '" + (root / "x.npy").string() + "' --output '" + (root / "y_with.npy").string() + "'",
                out),
            0)
      << out;
  expect_close(strata::read_npy(root / "y_with.npy"), want, 1e-6f, "with the plugin");
  // `strata info DIR`: signatures with shapes, traced functions, variables; without traces
  // it says that loading needs the classes.
  ASSERT_EQ(run("env -u STRATA_PLUGIN_PATH " + cli + " info '" + (root / "model").string() + "'", out), 0) << out;
  for (const char* needle : {"signature serving_default: 1 input(s), 1 output(s): in input_1 float32(None, 784); out "
                             "output_1 float32(None, 10)",
                             "traced functions: __inference_call", "variables: 6", "dense_1/kernel float32(784, 64)",
                             "class: SubclassedModel (subclassed: no config)"}) {
    EXPECT_NE(out.find(needle), std::string::npos) << needle << " missing in:\n" << out;
  }
  // Issue 19: info describes the file and exits 0; the model it cannot build is reported.
  ASSERT_EQ(run("env -u STRATA_PLUGIN_PATH " + cli + " info '" + (root / "model_no_traces").string() + "'", out), 0) << out;
  EXPECT_NE(out.find("SubclassedModel"), std::string::npos) << out;
  EXPECT_NE(out.find("model: not loadable: "), std::string::npos) << out;
}

// A subclassed model is built on zeros of its build_input_shape, which comes from the file:
// a shape of 2^40 elements (each dimension small enough for a per-dimension bound) is refused
// as a FormatError before anything is allocated.
TEST(Traces, HugeBuildInputShapeOfASubclassedModelIsRefusedBeforeAllocating) {
  strata::PluginManager::global().load(STRATA_TEST_CUSTOM_PLUGIN);
  auto model = strata::model_from_config(
      strata::Config{{"class_name", "SubclassedModel"}, {"config", strata::Config::object()}});
  (void)model->predict(strata::ones(strata::Shape{1, 784}));
  const fs::path dir = fresh_dir("huge_build_shape") / "model";
  strata::SaveOptions no_traces;
  no_traces.save_traces = false;  // loading must go through the class and build_input_shape
  strata::save_model(*model, dir, no_traces);
  strata::keras::SavedMetadata md;
  {
    std::ifstream in(dir / "keras_metadata.pb", std::ios::binary);
    ASSERT_TRUE(md.ParseFromIstream(&in));
  }
  bool edited = false;
  for (auto& node : *md.mutable_nodes()) {
    if (node.node_path() != "root") continue;
    strata::Config root = strata::Config::parse(node.metadata());
    ASSERT_TRUE(root.contains("build_input_shape")) << node.metadata();
    root["build_input_shape"] = strata::Config::parse("[null, 1048576, 1048576]");
    node.set_metadata(root.dump());
    edited = true;
  }
  ASSERT_TRUE(edited);
  {
    std::ofstream out(dir / "keras_metadata.pb", std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(md.SerializeToOstream(&out));
  }
  try {
    strata::load_model(dir);
    ADD_FAILURE() << "loaded";
  } catch (const strata::FormatError& e) {
    EXPECT_NE(e.message().find("build_input_shape asks for 1099511627776 elements of zeros to build the model; at most "
                               "67108864 are allowed"),
              std::string::npos)
        << e.what();
  }
}

// ---- bad graphs -------------------------------------------------------------------------------------

// A Strata SavedModel of the dense fixture whose saved_model.pb `edit` changes.
template <class Edit>
fs::path edited(const std::string& name, Edit edit) {
  auto model = strata::load_model(kFixtures / "dense_sequential");
  const fs::path dir = fresh_dir("bad_" + name) / "model";
  strata::save_model(*model, dir);
  strata::tf::SavedModel sm;
  {
    std::ifstream in(dir / "saved_model.pb", std::ios::binary);
    EXPECT_TRUE(sm.ParseFromIstream(&in));
  }
  auto* lib = sm.mutable_meta_graphs(0)->mutable_graph_def()->mutable_library();
  strata::tf::FunctionDef* call = nullptr;  // found first: `edit` may add functions to the library
  for (auto& f : *lib->mutable_function()) {
    if (f.signature().name() == "__inference_call") call = &f;
  }
  if (call != nullptr) edit(*call, *lib);
  std::ofstream out(dir / "saved_model.pb", std::ios::binary | std::ios::trunc);
  EXPECT_TRUE(sm.SerializeToOstream(&out));
  return dir;
}

void expect_revive_error(const fs::path& dir, const std::vector<std::string>& needles) {
  try {
    (void)revive(dir);
    ADD_FAILURE() << "reviving " << dir << " did not fail";
  } catch (const strata::FormatError& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << n << " in: " << e.what();
  }
}

strata::tf::NodeDef* node_with_op(strata::tf::FunctionDef& f, const std::string& op) {
  for (auto& n : *f.mutable_node_def()) {
    if (n.op() == op) return &n;
  }
  return nullptr;
}

TEST(TracesBadInput, UnknownOpIsNamed) {
  const auto dir = edited("unknown_op", [](strata::tf::FunctionDef& f, auto&) { node_with_op(f, "MatMul")->set_op("FancyMatMulV9"); });
  expect_revive_error(dir, {"FancyMatMulV9", "__inference_call", "saved_model.pb"});
}

TEST(TracesBadInput, InputNamingAMissingNode) {
  const auto dir = edited("missing_input", [](strata::tf::FunctionDef& f, auto&) {
    node_with_op(f, "MatMul")->set_input(0, "no_such_node:output:0");
  });
  expect_revive_error(dir, {"no_such_node", "names no node"});
}

TEST(TracesBadInput, Cycle) {
  const auto dir = edited("cycle", [](strata::tf::FunctionDef& f, auto&) {
    auto* matmul = node_with_op(f, "MatMul");
    auto* bias = node_with_op(f, "BiasAdd");
    matmul->set_input(0, bias->name() + ":output:0");
  });
  expect_revive_error(dir, {"cycle"});
}

TEST(TracesBadInput, RecursiveFunctionCall) {
  const auto dir = edited("recursion", [](strata::tf::FunctionDef& f, auto&) {
    auto* call = f.add_node_def();
    call->set_name("again");
    call->set_op("PartitionedCall");
    for (int i = 0; i < f.signature().input_arg_size(); ++i) call->add_input(f.signature().input_arg(i).name());
    (*call->mutable_attr())["f"].mutable_func()->set_name(f.signature().name());
    (*f.mutable_ret())[f.signature().output_arg(0).name()] = "again:output:0";
  });
  expect_revive_error(dir, {"calls itself"});
}

TEST(TracesBadInput, WrongAttrType) {
  const auto dir = edited("attr_type", [](strata::tf::FunctionDef& f, auto&) {
    (*node_with_op(f, "MatMul")->mutable_attr())["transpose_a"].set_s("yes");
  });
  expect_revive_error(dir, {"transpose_a", "MatMul"});
}

// Adds a Const node `name` to `f` of `dtype` and `dims`; the caller adds its value to the
// returned tensor (one value: TensorFlow repeats the last one over the shape).
strata::tf::TensorProto* add_const(strata::tf::FunctionDef& f, const std::string& name, strata::tf::DataType dtype,
                                   const std::vector<std::int64_t>& dims) {
  auto* c = f.add_node_def();
  c->set_name(name);
  c->set_op("Const");
  auto* t = (*c->mutable_attr())["value"].mutable_tensor();
  t->set_dtype(dtype);
  for (const auto d : dims) t->mutable_tensor_shape()->add_dim()->set_size(d);
  return t;
}

TEST(TracesBadInput, HugeConstant) {
  const auto dir = edited("huge_const", [](strata::tf::FunctionDef& f, auto&) {
    add_const(f, "huge", strata::tf::DT_FLOAT, {1 << 20, 1 << 20, 1 << 20})->add_float_val(1.0f);
    (*f.mutable_ret())[f.signature().output_arg(0).name()] = "huge:output:0";
  });
  expect_revive_error(dir, {"huge", "elements"});
}

// A strided slice's masks have 64 bits: ReverseV2 of a rank-64 tensor is a typed error naming
// the node (it was a shift by 64, undefined behaviour).
TEST(TracesBadInput, ReverseOfARank64Tensor) {
  const auto dir = edited("reverse_rank64", [](strata::tf::FunctionDef& f, auto&) {
    add_const(f, "deep", strata::tf::DT_FLOAT, std::vector<std::int64_t>(64, 1))->add_float_val(1.0f);
    add_const(f, "axis", strata::tf::DT_INT32, {1})->add_int_val(0);
    auto* r = f.add_node_def();
    r->set_name("rev");
    r->set_op("ReverseV2");
    r->add_input("deep:output:0");
    r->add_input("axis:output:0");
    (*r->mutable_attr())["T"].set_type(strata::tf::DT_FLOAT);
    (*r->mutable_attr())["Tidx"].set_type(strata::tf::DT_INT32);
    (*f.mutable_ret())[f.signature().output_arg(0).name()] = "rev:output:0";
  });
  expect_revive_error(dir, {"ReverseV2 of a rank-64 tensor (at most 63 is supported)"});
}

TEST(TracesBadInput, MissingFunction) {
  const auto dir = edited("missing_fn", [](strata::tf::FunctionDef& f, auto&) { f.mutable_signature()->set_name("renamed"); });
  expect_revive_error(dir, {"__inference_call"});
}


// Reviving is linear in the size of the graph (issue 18): a traced call lengthened by chains
// of 25000 and 100000 Neg nodes (even counts, so it computes what the original does) revives
// within a bound that a lookup scanning the function's nodes once per input cannot meet
// (measured on this 2-core machine: 3.8 s and 91 s with that scan, 0.4 s and 2.1 s without).
TEST(TracesScale, AHundredThousandNodeFunctionRevivesInLinearTime) {
  const auto x = npy("dense_sequential.x.npy");
  const auto want = strata::load_model(kFixtures / "dense_sequential")->predict(x).to_vector<float>();
  for (const int chain : {25000, 100000}) {
    const auto dir = edited("long_chain_" + std::to_string(chain), [chain](strata::tf::FunctionDef& f, auto&) {
      const std::string out = f.signature().output_arg(0).name();
      std::string prev = f.ret().at(out);
      for (int i = 0; i < chain; ++i) {
        auto* n = f.add_node_def();
        n->set_name("chain_" + std::to_string(i));
        n->set_op("Neg");
        n->add_input(prev);
        (*n->mutable_attr())["T"].set_type(strata::tf::DT_FLOAT);
        prev = n->name() + ":y:0";
      }
      (*f.mutable_ret())[out] = prev;
    });
    const auto start = std::chrono::steady_clock::now();
    auto revived = revive(dir);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "revived the call lengthened by " << chain << " nodes in " << seconds << " s" << std::endl;
    if (chain == 100000) {
      EXPECT_LT(seconds, 60.0) << "reviving is not linear in the number of nodes";
    }
    EXPECT_EQ(revived->predict(x).to_vector<float>(), want) << chain;
  }
}

// If / StatelessIf: the dense fixture's traced call ends in an If whose then-branch negates
// and whose else-branch passes its input through. A condition known while importing inlines
// one branch; one known only at run time (the sum of the softmax outputs > 0, true) runs both
// and selects.
void add_if(strata::tf::FunctionDef& f, strata::tf::FunctionDefLibrary& lib, bool runtime_condition) {
  const auto branch = [&](const std::string& name, bool negate) {
    auto& g = *lib.add_function();
    g.mutable_signature()->set_name(name);
    auto* in = g.mutable_signature()->add_input_arg();
    in->set_name("x");
    in->set_type(strata::tf::DT_FLOAT);
    auto* out = g.mutable_signature()->add_output_arg();
    out->set_name("y");
    out->set_type(strata::tf::DT_FLOAT);
    if (!negate) {
      (*g.mutable_ret())["y"] = "x";
      return;
    }
    auto* n = g.add_node_def();
    n->set_name("neg");
    n->set_op("Neg");
    n->add_input("x");
    (*g.mutable_ret())["y"] = "neg:y:0";
  };
  branch("if_then", true);
  branch("if_else", false);
  const std::string out = f.signature().output_arg(0).name();
  const std::string value = f.ret().at(out);
  std::string cond;
  if (runtime_condition) {
    auto* axes = f.add_node_def();
    axes->set_name("if_axes");
    axes->set_op("Const");
    auto* t = (*axes->mutable_attr())["value"].mutable_tensor();
    t->set_dtype(strata::tf::DT_INT32);
    t->mutable_tensor_shape()->add_dim()->set_size(2);
    t->add_int_val(0);
    t->add_int_val(1);
    auto* sum = f.add_node_def();
    sum->set_name("if_sum");
    sum->set_op("Sum");
    sum->add_input(value);
    sum->add_input("if_axes:output:0");
    auto* zero = f.add_node_def();
    zero->set_name("if_zero");
    zero->set_op("Const");
    auto* z = (*zero->mutable_attr())["value"].mutable_tensor();
    z->set_dtype(strata::tf::DT_FLOAT);
    z->add_float_val(0.0f);
    auto* greater = f.add_node_def();
    greater->set_name("if_cond");
    greater->set_op("Greater");
    greater->add_input("if_sum:output:0");
    greater->add_input("if_zero:output:0");
    cond = "if_cond:z:0";
  } else {
    auto* c = f.add_node_def();
    c->set_name("if_cond");
    c->set_op("Const");
    auto* t = (*c->mutable_attr())["value"].mutable_tensor();
    t->set_dtype(strata::tf::DT_BOOL);
    t->add_bool_val(true);
    cond = "if_cond:output:0";
  }
  auto* node = f.add_node_def();
  node->set_name("if_node");
  node->set_op(runtime_condition ? "If" : "StatelessIf");
  node->add_input(cond);
  node->add_input(value);
  (*node->mutable_attr())["then_branch"].mutable_func()->set_name("if_then");
  (*node->mutable_attr())["else_branch"].mutable_func()->set_name("if_else");
  (*f.mutable_ret())[out] = "if_node:output:0";
}

TEST(TracesControlFlow, IfWithAConditionKnownWhileImportingOrOnlyAtRunTime) {
  const auto x = npy("dense_sequential.x.npy");
  std::vector<float> want = strata::load_model(kFixtures / "dense_sequential")->predict(x).to_vector<float>();
  for (auto& v : want) v = -v;
  for (const bool runtime : {false, true}) {
    const auto dir = edited(runtime ? "if_runtime" : "if_static",
                            [runtime](strata::tf::FunctionDef& f, strata::tf::FunctionDefLibrary& lib) { add_if(f, lib, runtime); });
    EXPECT_EQ(revive(dir)->predict(x).to_vector<float>(), want) << (runtime ? "run-time condition" : "static condition");
  }
}

// ---- graphs TensorFlow traced -------------------------------------------------------------------

namespace tf_traced {

// tf-keras wrote this Functional model with a CustomDense layer Strata has no class for:
// loading it revives the model from TensorFlow's traced functions (StatefulPartitionedCall,
// ReadVariableOp, MatMul, AddV2, Relu, BiasAdd, Softmax, Identity ...), which predict what
// Keras predicted and train.
TEST(KerasTraced, ModelWithAnUnknownLayerClassRevivesFromTensorFlowsTraces) {
  auto model = strata::load_model(kFixtures / "custom_layer_functional");
  EXPECT_TRUE(strata::is_revived(*model)) << "there is no CustomDense class: the model must come from the traces";
  expect_close(model->predict(npy("custom_layer_functional.x.npy")), npy("custom_layer_functional.y.npy"), 1e-5f,
               "custom_layer_functional");
  ASSERT_TRUE(model->is_compiled());
  EXPECT_EQ(model->weights().size(), 4u);
  const auto tx = npy("custom_layer_functional.tx.npy"), ty = npy("custom_layer_functional.ty.npy");
  const double first = model->train_on_batch({tx}, {ty}).at("loss");
  double last = first;
  for (int step = 0; step < 20; ++step) last = model->train_on_batch({tx}, {ty}).at("loss");
  EXPECT_LT(last, first) << "gradients must flow through TensorFlow's graph";
}

// A load that falls back to the traces because a class is missing, and then meets an op
// Strata lacks, names both: the op (what failed) and the missing class (why the traces
// were read at all).
TEST(KerasTraced, AFailedFallbackToTracesNamesTheMissingClassesAndTheOp) {
  const fs::path dir = fresh_dir("fallback_op") / "model";
  fs::copy(kFixtures / "custom_layer_functional", dir, fs::copy_options::recursive);
  strata::tf::SavedModel sm;
  {
    std::ifstream in(dir / "saved_model.pb", std::ios::binary);
    ASSERT_TRUE(sm.ParseFromIstream(&in));
  }
  int renamed = 0;
  for (auto& f : *sm.mutable_meta_graphs(0)->mutable_graph_def()->mutable_library()->mutable_function()) {
    for (auto& n : *f.mutable_node_def()) {
      if (n.op() == "Relu") {
        n.set_op("FancyReluV9");
        ++renamed;
      }
    }
  }
  ASSERT_GT(renamed, 0);
  {
    std::ofstream out(dir / "saved_model.pb", std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(sm.SerializeToOstream(&out));
  }
  try {
    (void)strata::load_model(dir);
    ADD_FAILURE() << "loaded";
  } catch (const strata::FormatError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("op 'FancyReluV9'"), std::string::npos) << what;
    EXPECT_NE(what.find("its class layer 'CustomDense' is not registered"), std::string::npos) << what;
  }
}

class KerasTracedFixture : public ::testing::TestWithParam<std::string> {};

// The other tf-keras fixtures, revived from their traces although Strata has their classes.
TEST_P(KerasTracedFixture, ForcedRevivalPredictsWhatKerasPredicted) {
  auto model = revive(kFixtures / GetParam());
  expect_close(model->predict(npy(GetParam() + ".x.npy")), npy(GetParam() + ".y.npy"), 1e-5f, GetParam());
  // Training runs TensorFlow's training-mode trace: the loss falls, and BatchNormalization's
  // moving statistics move (AssignMovingAvg: Sub, Mul, AssignSubVariableOp).
  std::vector<std::vector<float>> frozen;
  for (const auto& v : model->non_trainable_weights()) frozen.push_back(v.value().to_vector<float>());
  const auto tx = npy(GetParam() + ".tx.npy"), ty = npy(GetParam() + ".ty.npy");
  const double first = model->train_on_batch({tx}, {ty}).at("loss");
  double last = first;
  for (int step = 0; step < 20; ++step) last = model->train_on_batch({tx}, {ty}).at("loss");
  EXPECT_LT(last, first);
  const auto after = model->non_trainable_weights();
  for (std::size_t i = 0; i < frozen.size(); ++i) {
    EXPECT_NE(after[i].value().to_vector<float>(), frozen[i]) << "non-trainable weight " << after[i].name() << " did not move";
  }
  if (GetParam() == "conv_bn_functional") {
    EXPECT_EQ(frozen.size(), 2u);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KerasTracedFixture, ::testing::Values("dense_sequential", "conv_bn_functional"));

// |got - want| <= atol + rtol * |want| for every element.
void expect_close_rel(const strata::Tensor& got, const strata::Tensor& want, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto g = got.to_vector<float>(), w = want.to_vector<float>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    ASSERT_LE(std::abs(double(g[i]) - double(w[i])), atol + rtol * std::abs(double(w[i]))) << what << " element " << i << ": got "
                                                                                           << g[i] << ", want " << w[i];
  }
}

// tf-keras's recurrent layers (While / StatelessWhile loops over TensorLists, unrolled to the
// static sequence length), gelu (Erf) and Embedding (ResourceGather on the variable handle)
// revived from TensorFlow's traces without their classes predict what tf-keras predicted.
class KerasTracedLayers : public ::testing::TestWithParam<std::string> {};

TEST_P(KerasTracedLayers, RevivedWithoutClassesPredictsWhatKerasPredicted) {
  auto model = revive(kFixtures / GetParam());
  EXPECT_TRUE(strata::is_revived(*model)) << "the model must come from the traces";
  expect_close_rel(model->predict(npy(GetParam() + ".x.npy")), npy(GetParam() + ".y.npy"), 1e-4, 1e-6, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KerasTracedLayers,
                         ::testing::Values("lstm_sequential", "gru_sequential", "simple_rnn_sequential", "gelu_dense",
                                           "embedding_sequential"));

// Op coverage of the fixture set: every tf-keras SavedModel of tests/data/savedmodel revives
// from its traces (every op of every function its call reaches is one Strata runs) and
// predicts what tf-keras predicted. A new fixture with an op Strata lacks fails here.
TEST(KerasTraced, EveryFixtureSavedModelRevivesFromItsTraces) {
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(kFixtures)) {
    if (!entry.is_directory() || !fs::exists(entry.path() / "saved_model.pb")) continue;
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    try {
      auto model = revive(entry.path());
      expect_close_rel(model->predict(npy(name + ".x.npy")), npy(name + ".y.npy"), 1e-4, 1e-6, name);
    } catch (const strata::Error& e) {
      ADD_FAILURE() << name << " does not revive from its traces: " << e.what();
    }
    ++count;
  }
  EXPECT_GE(count, 8u);
}

// A loop whose trip count is known only at run time is unrolled per input shape (issue 23):
// with the sequence length of its input made unknown, the SimpleRNN's traces revive, predict
// the fixture's values at its length 5 and run other lengths too (real tf-keras models over
// any length: interop.Models/DynamicRecurrentInterop.*).
TEST(KerasTraced, ARecurrentLayerOverASequenceOfUnknownLengthUnrollsPerInputShape) {
  const fs::path dir = fresh_dir("unknown_length") / "model";
  fs::copy(kFixtures / "simple_rnn_sequential", dir, fs::copy_options::recursive);
  strata::tf::SavedModel sm;
  {
    std::ifstream in(dir / "saved_model.pb", std::ios::binary);
    ASSERT_TRUE(sm.ParseFromIstream(&in));
  }
  int edited = 0;
  for (auto& f : *sm.mutable_meta_graphs(0)->mutable_graph_def()->mutable_library()->mutable_function()) {
    for (auto& [index, attrs] : *f.mutable_arg_attr()) {
      auto& a = *attrs.mutable_attr();
      if (!a.count("_output_shapes")) continue;
      for (auto& shape : *a["_output_shapes"].mutable_list()->mutable_shape()) {
        if (shape.dim_size() == 3 && shape.dim(1).size() == 5) {
          shape.mutable_dim(1)->set_size(-1);
          ++edited;
        }
      }
    }
  }
  ASSERT_GT(edited, 0);
  {
    std::ofstream out(dir / "saved_model.pb", std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(sm.SerializeToOstream(&out));
  }
  const auto model = revive(dir);
  expect_close_rel(model->predict(npy("simple_rnn_sequential.x.npy")), npy("simple_rnn_sequential.y.npy"), 1e-4, 1e-6,
                   "length 5");
  const strata::Tensor x = npy("simple_rnn_sequential.x.npy");
  const strata::Tensor shorter = strata::slice(x, {0, 0, 0}, {x.shape()[0], 3, x.shape()[2]});
  EXPECT_EQ(model->predict(shorter).shape()[0], x.shape()[0]);
}

}  // namespace tf_traced

// ---- graph passes ------------------------------------------------------------------------------------

namespace passes {

std::size_t count_ops(const strata::Graph& g, const std::string& op) {
  std::size_t n = 0;
  for (const auto& node : g.nodes()) n += node->op == op;
  return n;
}

strata::Tensor random_input(std::int64_t rows, std::int64_t cols) {
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 2654435761u) % 1000) * 0.002f - 1.0f;
  return strata::Tensor::from_vector<float>(v, strata::Shape{rows, cols});
}

// The oneDNN backend's pass: the guide's MLP (Dense relu, Dense relu, Dense) becomes three
// _FusedMatMul nodes and computes the same outputs.
TEST(GraphPasses, OneDnnFusesMatMulBiasAddActivation) {
  const auto names = strata::graph_passes("cpu");
  ASSERT_NE(std::find(names.begin(), names.end(), "onednn.fuse_matmul_bias_activation"), names.end());
  auto mlp = strata::model_from_json(R"({"class_name": "Sequential", "config": {"name": "mlp", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 784], "dtype": "float32", "name": "in"}},
      {"class_name": "Dense", "config": {"name": "d1", "units": 64, "activation": "relu"}},
      {"class_name": "Dense", "config": {"name": "d2", "units": 64, "activation": "tanh"}},
      {"class_name": "Dense", "config": {"name": "d3", "units": 10}}]}})");
  const strata::Graph g = strata::trace(
      [&](const std::vector<strata::Tensor>& in) { return (*mlp)(in); },
      {strata::TensorSpec(strata::Shape{strata::Shape::kUnknown, 784})});
  const strata::Graph fused = strata::optimize_graph(g, strata::Device::cpu());
  EXPECT_EQ(count_ops(g, "MatMul"), 3u);
  EXPECT_EQ(count_ops(fused, "_FusedMatMul"), 3u) << fused.to_string();
  EXPECT_EQ(count_ops(fused, "MatMul") + count_ops(fused, "BiasAdd") + count_ops(fused, "Relu") + count_ops(fused, "Tanh"), 0u)
      << fused.to_string();
  for (const std::int64_t batch : {1, 7, 256}) {
    const auto x = random_input(batch, 784);
    expect_close(fused.run({x})[0], g.run({x})[0], 1e-5f, "batch " + std::to_string(batch));
  }
}

// Conv2D + BiasAdd + Relu of a small CNN becomes one _FusedConv2D (oneDNN convolution with
// bias and a relu post-op), and the CNN computes the same outputs.
TEST(GraphPasses, OneDnnFusesConv2DBiasAddRelu) {
  auto cnn = strata::model_from_json(R"({"class_name": "Sequential", "config": {"name": "cnn", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 12, 12, 3], "dtype": "float32", "name": "in"}},
      {"class_name": "Conv2D", "config": {"name": "c1", "filters": 8, "kernel_size": [3, 3], "activation": "relu", "padding": "same"}},
      {"class_name": "Conv2D", "config": {"name": "c2", "filters": 4, "kernel_size": [3, 3], "strides": [2, 2]}},
      {"class_name": "Flatten", "config": {"name": "f"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 5, "activation": "sigmoid"}}]}})");
  const strata::Graph g = strata::trace(
      [&](const std::vector<strata::Tensor>& in) { return (*cnn)(in); },
      {strata::TensorSpec(strata::Shape{strata::Shape::kUnknown, 12, 12, 3})});
  const strata::Graph fused = strata::optimize_graph(g, strata::Device::cpu());
  EXPECT_EQ(count_ops(fused, "_FusedConv2D"), 2u) << fused.to_string();
  EXPECT_EQ(count_ops(fused, "_FusedMatMul"), 1u) << fused.to_string();
  EXPECT_EQ(count_ops(fused, "Conv2D") + count_ops(fused, "BiasAdd"), 0u) << fused.to_string();
  for (const std::int64_t batch : {1, 9}) {
    const auto flat = random_input(batch, 12 * 12 * 3);
    const auto x = strata::reshape(flat, strata::Shape{batch, 12, 12, 3});
    expect_close(fused.run({x})[0], g.run({x})[0], 1e-5f, "batch " + std::to_string(batch));
  }
}

// A convolution of a single-channel input (a network's first layer) runs backend-onednn's
// direct loop (small_conv.hpp), fused with its bias and relu / relu6 or alone: each matches a
// plain double-precision loop written here, with padding on every side, strides, dilation,
// and output channels in whole and partial blocks (and, for contrast, a 3-channel input,
// which oneDNN runs).
TEST(GraphPasses, FusedConv2DOfOneInputChannelMatchesAPlainLoop) {
  struct Cfg {
    std::int64_t n, h, w, c, kh, kw, oc, stride, dilation;
    const char* padding;
    const char* act;  // "" (BiasAdd only), "Relu", "Relu6"
  };
  const Cfg cfgs[] = {{4, 28, 28, 1, 3, 3, 8, 1, 1, "VALID", "Relu"}, {2, 11, 13, 1, 3, 3, 20, 2, 1, "SAME", "Relu6"},
                      {3, 9, 17, 1, 5, 3, 5, 1, 2, "SAME", ""},       {1, 7, 30, 1, 4, 4, 16, 1, 1, "SAME", "Relu"},
                      {2, 6, 6, 1, 1, 1, 31, 1, 1, "VALID", "Relu6"}, {2, 12, 12, 3, 3, 3, 8, 1, 1, "SAME", "Relu"}};
  for (const Cfg& g : cfgs) {
    std::vector<float> xv(static_cast<std::size_t>(g.n * g.h * g.w * g.c)), fv(static_cast<std::size_t>(g.kh * g.kw * g.c * g.oc)),
        bv(static_cast<std::size_t>(g.oc));
    for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>((i * 2654435761u) % 1000) * 0.004f - 2.0f;
    for (std::size_t i = 0; i < fv.size(); ++i) fv[i] = static_cast<float>((i * 40503u + 7) % 997) * 0.002f - 1.0f;
    for (std::size_t i = 0; i < bv.size(); ++i) bv[i] = static_cast<float>(i % 7) * 0.5f - 1.5f;
    const auto x = strata::Tensor::from_vector<float>(xv, strata::Shape{g.n, g.h, g.w, g.c});
    const auto f = strata::Tensor::from_vector<float>(fv, strata::Shape{g.kh, g.kw, g.c, g.oc});
    const auto b = strata::Tensor::from_vector<float>(bv, strata::Shape{g.oc});
    const bool same = std::string(g.padding) == "SAME";
    const std::int64_t ekh = (g.kh - 1) * g.dilation + 1, ekw = (g.kw - 1) * g.dilation + 1;
    const std::int64_t oh = same ? (g.h + g.stride - 1) / g.stride : (g.h - ekh) / g.stride + 1;
    const std::int64_t ow = same ? (g.w + g.stride - 1) / g.stride : (g.w - ekw) / g.stride + 1;
    const std::int64_t pt = same ? std::max<std::int64_t>(0, (oh - 1) * g.stride + ekh - g.h) / 2 : 0;
    const std::int64_t pl = same ? std::max<std::int64_t>(0, (ow - 1) * g.stride + ekw - g.w) / 2 : 0;
    std::vector<float> want(static_cast<std::size_t>(g.n * oh * ow * g.oc));
    for (std::int64_t n = 0; n < g.n; ++n)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j)
          for (std::int64_t o = 0; o < g.oc; ++o) {
            double s = bv[static_cast<std::size_t>(o)];
            for (std::int64_t a = 0; a < g.kh; ++a)
              for (std::int64_t e = 0; e < g.kw; ++e) {
                const std::int64_t ih = i * g.stride + a * g.dilation - pt, iw = j * g.stride + e * g.dilation - pl;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                for (std::int64_t c = 0; c < g.c; ++c) {
                  s += double(xv[static_cast<std::size_t>(((n * g.h + ih) * g.w + iw) * g.c + c)]) *
                       double(fv[static_cast<std::size_t>(((a * g.kw + e) * g.c + c) * g.oc + o)]);
                }
              }
            if (std::string(g.act) == "Relu") s = std::max(s, 0.0);
            if (std::string(g.act) == "Relu6") s = std::min(std::max(s, 0.0), 6.0);
            want[static_cast<std::size_t>(((n * oh + i) * ow + j) * g.oc + o)] = static_cast<float>(s);
          }
    const auto expected = strata::Tensor::from_vector<float>(want, strata::Shape{g.n, oh, ow, g.oc});
    strata::Attrs attrs{{"strides", std::vector<std::int64_t>{1, g.stride, g.stride, 1}},
                        {"padding", std::string(g.padding)},
                        {"data_format", std::string("NHWC")},
                        {"dilations", std::vector<std::int64_t>{1, g.dilation, g.dilation, 1}}};
    const std::string what = std::string("c") + std::to_string(g.c) + " oc" + std::to_string(g.oc) + " " + g.padding + " " + g.act;
    if (std::string(g.act).empty()) {  // the unfused Conv2D too, plus the bias
      const auto y = strata::execute("Conv2D", {x, f}, attrs)[0];
      tf_traced::expect_close_rel(strata::execute("BiasAdd", {y, b}, {{"data_format", std::string("NHWC")}})[0], expected, 1e-5, 1e-5,
                       "Conv2D " + what);
    }
    std::vector<std::string> fused{"BiasAdd"};
    if (!std::string(g.act).empty()) fused.push_back(g.act);
    attrs.set("fused_ops", fused);
    tf_traced::expect_close_rel(strata::execute("_FusedConv2D", {x, f, b}, attrs)[0], expected, 1e-5, 1e-5, "_FusedConv2D " + what);
  }
}

// The pass onednn.fuse_conv_max_pool: Conv2D(relu) of a single-channel input and the
// MaxPooling2D after it become one _FusedConv2DMaxPool (the convolution's output is never
// stored whole); the CNN computes what the unfused graph computes, with odd sizes whose
// last pooling row and column VALID pooling drops. A pooling with padding or overlapping
// windows, or a convolution of three channels, is left alone.
TEST(GraphPasses, OneDnnFusesSingleChannelConvolutionAndMaxPool) {
  const auto cnn_of = [](const std::string& channels, const std::string& pool) {
    return strata::model_from_json(R"({"class_name": "Sequential", "config": {"name": "cnn", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 13, 15, )" + channels + R"(], "dtype": "float32", "name": "in"}},
      {"class_name": "Conv2D", "config": {"name": "c1", "filters": 8, "kernel_size": [3, 3], "activation": "relu"}},
      {"class_name": "MaxPooling2D", "config": {"name": "p", )" + pool + R"(}},
      {"class_name": "Flatten", "config": {"name": "f"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 5}}]}})");
  };
  struct Case {
    std::string channels, pool;
    std::size_t fused;
  };
  const Case cases[] = {{"1", R"("pool_size": [2, 2])", 1},
                        {"1", R"("pool_size": [3, 3])", 1},
                        {"1", R"("pool_size": [2, 2], "padding": "same")", 0},
                        {"1", R"("pool_size": [3, 3], "strides": [2, 2])", 0},
                        {"3", R"("pool_size": [2, 2])", 0}};
  for (const Case& c : cases) {
    auto cnn = cnn_of(c.channels, c.pool);
    const std::int64_t ch = std::stoll(c.channels);
    const strata::Graph g = strata::trace([&](const std::vector<strata::Tensor>& in) { return (*cnn)(in); },
                                          {strata::TensorSpec(strata::Shape{strata::Shape::kUnknown, 13, 15, ch})});
    const strata::Graph fused = strata::optimize_graph(g, strata::Device::cpu());
    const std::string what = c.channels + " channels, " + c.pool;
    EXPECT_EQ(count_ops(fused, "_FusedConv2DMaxPool"), c.fused) << what << "\n" << fused.to_string();
    EXPECT_EQ(count_ops(fused, "MaxPool"), 1u - c.fused) << what;
    for (const std::int64_t batch : {1, 6}) {
      const auto x = strata::reshape(random_input(batch, 13 * 15 * ch), strata::Shape{batch, 13, 15, ch});
      expect_close(fused.run({x})[0], g.run({x})[0], 1e-5f, what + ", batch " + std::to_string(batch));
      expect_close(cnn->predict(x, batch), g.run({x})[0], 1e-5f, what + ", predict, batch " + std::to_string(batch));
    }
  }
}

// The debugging switch: with graph passes off, optimize_graph keeps the traced ops and eager
// Dense layers run MatMul, BiasAdd and the activation one by one, so both compute exactly
// what the unfused composition does; with passes on, eager Dense runs _FusedMatMul (within
// the fusion's tolerance), never while a tape records (the fused op has no gradient).
TEST(GraphPasses, SwitchOffKeepsTracedOpsAndEagerDenseUnfused) {
  auto mlp = strata::model_from_json(R"({"class_name": "Sequential", "config": {"name": "mlp_switch", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 784], "dtype": "float32", "name": "in"}},
      {"class_name": "Dense", "config": {"name": "d1", "units": 64, "activation": "relu"}},
      {"class_name": "Dense", "config": {"name": "d2", "units": 64, "activation": "tanh"}},
      {"class_name": "Dense", "config": {"name": "d3", "units": 10, "activation": "sigmoid"}}]}})");
  const strata::Graph g = strata::trace(
      [&](const std::vector<strata::Tensor>& in) { return (*mlp)(in); },
      {strata::TensorSpec(strata::Shape{strata::Shape::kUnknown, 784})});
  const bool was = strata::graph_passes_enabled();
  strata::set_graph_passes_enabled(false);
  const strata::Graph kept = strata::optimize_graph(g, strata::Device::cpu());
  EXPECT_EQ(count_ops(kept, "_FusedMatMul"), 0u) << kept.to_string();
  EXPECT_EQ(count_ops(kept, "MatMul"), 3u) << kept.to_string();
  for (const std::int64_t batch : {1, 5}) {
    const auto x = random_input(batch, 784);
    const auto composed = g.run({x})[0];
    expect_close(kept.run({x})[0], composed, 0.0f, "passes off, graph");
    expect_close(mlp->predict(x, batch), composed, 0.0f, "passes off, eager");
  }
  strata::set_graph_passes_enabled(true);
  EXPECT_EQ(count_ops(strata::optimize_graph(g, strata::Device::cpu()), "_FusedMatMul"), 3u);
  for (const std::int64_t batch : {1, 5}) {
    const auto x = random_input(batch, 784);
    const auto composed = g.run({x})[0];
    expect_close(mlp->predict(x, batch), composed, 1e-5f, "passes on, eager (fused)");
    expect_close(mlp->predict(x, batch), composed, 1e-5f, "passes on, eager (fused), again");
    strata::GradientTape tape;
    const auto y = (*mlp)(x);
    expect_close(y, composed, 0.0f, "under a tape: unfused");
    const auto grads = tape.gradient(strata::sum(y), mlp->trainable_weights());
    ASSERT_EQ(grads.size(), 6u);
    for (const auto& grad : grads) EXPECT_TRUE(grad.defined());
  }
  strata::set_graph_passes_enabled(was);
}

// A graph's plan (compiled on the first run of each input shape) gives the same outputs on
// every later run, for each batch size, interleaved.
TEST(GraphPasses, PlannedFusedGraphRunsRepeatably) {
  auto mlp = strata::model_from_json(R"({"class_name": "Sequential", "config": {"name": "mlp_plan", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 16], "dtype": "float32", "name": "in"}},
      {"class_name": "Dense", "config": {"name": "d1", "units": 8, "activation": "relu"}},
      {"class_name": "Dense", "config": {"name": "d2", "units": 3}}]}})");
  const strata::Graph g = strata::trace(
      [&](const std::vector<strata::Tensor>& in) { return (*mlp)(in); },
      {strata::TensorSpec(strata::Shape{strata::Shape::kUnknown, 16})});
  const strata::Graph fused = strata::optimize_graph(g, strata::Device::cpu());
  std::vector<strata::Tensor> first;
  for (const std::int64_t batch : {1, 4, 33}) first.push_back(fused.run({random_input(batch, 16)})[0]);
  for (int round = 0; round < 3; ++round) {
    std::size_t k = 0;
    for (const std::int64_t batch : {1, 4, 33}) {
      const auto y = fused.run({random_input(batch, 16)})[0];
      expect_close(y, first[k++], 0.0f, "batch " + std::to_string(batch));
    }
  }
  // Weights assigned after the plans were compiled are read by the next run.
  auto kernel = mlp->trainable_weights()[0];
  kernel.assign(strata::Tensor::zeros(strata::DType::kFloat32, kernel.shape()));
  const auto x = random_input(4, 16);
  expect_close(fused.run({x})[0], g.run({x})[0], 1e-6f, "after assigning a kernel");
  expect_close(fused.run({x})[0], mlp->predict(x, 4), 1e-6f, "after assigning a kernel, eager");
}

// Eager predict runs a plan (the model's call traced once per input signature, fused, run
// as a graph): the same outputs as the layers' own call, for every batch size; assigned
// weights are seen by the next call; a Sequential given another layer is traced again.
TEST(GraphPasses, PredictPlanFollowsShapesWeightsAndLayers) {
  auto seq = std::dynamic_pointer_cast<strata::Sequential>(strata::model_from_json(R"({"class_name": "Sequential",
      "config": {"name": "seq_plan", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 12], "dtype": "float32", "name": "in"}},
      {"class_name": "Dense", "config": {"name": "a", "units": 6, "activation": "relu"}},
      {"class_name": "Dense", "config": {"name": "b", "units": 4, "activation": "tanh"}}]}})"));
  ASSERT_NE(seq, nullptr);
  for (int round = 0; round < 2; ++round) {
    for (const std::int64_t batch : {1, 3, 40}) {
      const auto x = random_input(batch, 12);
      const auto eager = (*seq)(x);
      expect_close(seq->predict(x, batch), eager, 1e-6f, "batch " + std::to_string(batch));
      expect_close(seq->predict(x, 16), eager, 1e-6f, "batch " + std::to_string(batch) + " in pieces of 16");
    }
  }
  const auto x = random_input(3, 12);
  auto weights = seq->trainable_weights();
  weights[2].assign(strata::Tensor::zeros(strata::DType::kFloat32, weights[2].shape()));
  weights[3].assign(strata::Tensor::from_vector<float>({0.5f, -0.5f, 0.25f, 1.0f}, strata::Shape{4}));
  const auto assigned = seq->predict(x, 3);
  expect_close(assigned, (*seq)(x), 1e-6f, "after assigning weights");
  expect_close(assigned.reshape(strata::Shape{12}),
               strata::Tensor::from_vector<float>({std::tanh(0.5f), std::tanh(-0.5f), std::tanh(0.25f), std::tanh(1.0f),
                                                   std::tanh(0.5f), std::tanh(-0.5f), std::tanh(0.25f), std::tanh(1.0f),
                                                   std::tanh(0.5f), std::tanh(-0.5f), std::tanh(0.25f), std::tanh(1.0f)},
                                                  strata::Shape{12}),
               1e-6f, "zero kernel: tanh(bias)");
  seq->add(strata::make_layer("Dense", strata::Config{{"units", 2}, {"name", "c"}}));
  const auto grown = seq->predict(x, 3);
  EXPECT_EQ(grown.shape(), (strata::Shape{3, 2}));
  expect_close(grown, (*seq)(x), 1e-6f, "after adding a layer");
}

// _FusedMatMul of a few rows (up to 4: a blocked loop instead of oneDNN's primitive) and of
// more (oneDNN) computes what MatMul, BiasAdd and the activation compute, for every
// activation, column counts in one block, several blocks and a partial block.
TEST(GraphPasses, FusedMatMulOfFewRowsMatchesTheComposition) {
  for (const std::int64_t rows : {1, 3, 4, 5}) {
    for (const std::int64_t cols : {10, 64, 130}) {
      const auto x = random_input(rows, 37), w = random_input(37, cols);
      const auto b = random_input(1, cols).reshape(strata::Shape{cols});
      const auto linear = strata::bias_add(strata::matmul(x, w), b);
      for (const std::string act : {"", "Relu", "Relu6", "Tanh", "Sigmoid", "Elu"}) {
        std::vector<std::string> fused{"BiasAdd"};
        if (!act.empty()) fused.push_back(act);
        const strata::Attrs attrs{{"transpose_a", false}, {"transpose_b", false}, {"fused_ops", fused}};
        const auto got = strata::execute1("_FusedMatMul", {x, w, b}, attrs);
        const auto want = act.empty() ? linear : strata::execute1(act, {linear});
        expect_close(got, want, 1e-5f, act + " rows " + std::to_string(rows) + " cols " + std::to_string(cols));
      }
    }
  }
}

// A MatMul whose product is used elsewhere too is left alone (fusing would compute it twice).
TEST(GraphPasses, SharedIntermediateValuesAreNotFused) {
  strata::Variable w("w", random_input(4, 3)), b("b", strata::Tensor::from_vector<float>({0.1f, -0.2f, 0.3f}, strata::Shape{3}));
  const strata::Graph g = strata::trace(
      [&](const std::vector<strata::Tensor>& in) {
        const strata::Tensor product = strata::matmul(in[0], strata::read(w));
        return std::vector<strata::Tensor>{strata::relu(strata::bias_add(product, strata::read(b))), product};
      },
      {strata::TensorSpec(strata::Shape{strata::Shape::kUnknown, 4})});
  const strata::Graph fused = strata::optimize_graph(g, strata::Device::cpu());
  EXPECT_EQ(count_ops(fused, "_FusedMatMul"), 0u) << fused.to_string();
  const auto x = random_input(5, 4);
  expect_close(fused.run({x})[0], g.run({x})[0], 0.0f, "relu output");
}

}  // namespace passes

// ---- issue 18, trace ops: Erfc, Einsum, ResizeBilinear, ResizeNearestNeighbor ------------------

// The fixtures of these ops (generate_savedmodel_fixtures.py's issue-18 block) revive without
// their classes and predict what tf-keras predicted, by name (EveryFixtureSavedModelRevives-
// FromItsTraces covers them too; this says which ops each one stands for).
class KerasTracedTraceOps : public ::testing::TestWithParam<std::string> {};

TEST_P(KerasTracedTraceOps, RevivedWithoutClassesPredictsWhatKerasPredicted) {
  auto model = revive(kFixtures / GetParam());
  EXPECT_TRUE(strata::is_revived(*model)) << "the model must come from the traces";
  tf_traced::expect_close_rel(model->predict(npy(GetParam() + ".x.npy")), npy(GetParam() + ".y.npy"), 1e-4, 1e-6, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KerasTracedTraceOps,
                         ::testing::Values("erfc_gelu",             // Erfc
                                           "einsum_attention",      // Einsum (EinsumDense, MultiHeadAttention)
                                           "upsampling_resizing",   // ResizeNearestNeighbor, ResizeBilinear
                                           "resize_unknown_size",   // their size computed from Shape at run time
                                           "image_resize_lambda"));  // align_corners and half_pixel_centers

// The revived model of images of unknown height and width takes images of any size: the size
// its UpSampling2D traces compute (Shape, StridedSlice, Mul) is read when the graph runs.
TEST(TracesTraceOps, ImagesOfUnknownSizeReviveAndRunAtAnotherSize) {
  auto model = revive(kFixtures / "resize_unknown_size");
  const strata::Tensor x = strata::zeros(strata::Shape{2, 7, 4, 3});
  const strata::Tensor y = model->predict(x);
  EXPECT_EQ(y.shape(), (strata::Shape{2, 2}));
}

// An Einsum whose equation the runtime's einsum does not support fails naming the node, the
// op and the equation.
TEST(TracesTraceOps, AnUnsupportedEinsumEquationIsNamed) {
  const fs::path dir = fresh_dir("einsum_diagonal") / "model";
  fs::copy(kFixtures / "einsum_attention", dir, fs::copy_options::recursive);
  strata::tf::SavedModel sm;
  {
    std::ifstream in(dir / "saved_model.pb", std::ios::binary);
    ASSERT_TRUE(sm.ParseFromIstream(&in));
  }
  int edited = 0;
  for (auto& f : *sm.mutable_meta_graphs(0)->mutable_graph_def()->mutable_library()->mutable_function()) {
    for (auto& n : *f.mutable_node_def()) {
      if (n.op() == "Einsum") {
        (*n.mutable_attr())["equation"].set_s("aab,cd->abd");
        ++edited;
      }
    }
  }
  ASSERT_GT(edited, 0);
  {
    std::ofstream out(dir / "saved_model.pb", std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(sm.SerializeToOstream(&out));
  }
  try {
    (void)revive(dir);
    ADD_FAILURE() << "revived";
  } catch (const strata::FormatError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("(Einsum)"), std::string::npos) << what;
    EXPECT_NE(what.find("'aab,cd->abd'"), std::string::npos) << what;
    EXPECT_NE(what.find("node '"), std::string::npos) << what;
  }
}

}  // namespace
