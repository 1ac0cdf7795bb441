// Label interop: SavedModels without Keras metadata (tf.Module SavedModels, TF Serving's
// half_plus_two in its TF2 form, Keras 3's model.export(), a TF1 session SavedModel), which
// tests/interop/generate_plain_savedmodels.py writes with the venv's TensorFlow at test time:
// Strata runs their signatures, by name, and returns what TensorFlow's own signature returns.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;
using namespace strata;

fs::path generated() {
  static const fs::path dir = [] {
    const char* home = std::getenv("HOME");
    const fs::path d = test::generated_cache_dir(fs::path(home ? home : "/root") / ".cache/strata/plain-savedmodels",
                                                 STRATA_PLAIN_SAVEDMODEL_GENERATOR);
    std::string out;
    EXPECT_EQ(test::generate_with_script(d, "done", STRATA_PLAIN_SAVEDMODEL_GENERATOR, "", out), 0) << out;
    return d;
  }();
  return dir;
}

double max_diff(const Tensor& a, const Tensor& b) {
  const auto x = cast(a, DType::kFloat64).to_vector<double>();
  const auto y = cast(b, DType::kFloat64).to_vector<double>();
  if (x.size() != y.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  return worst;
}

std::string port_name(const Tensor& t) { return t.node()->layer ? t.node()->layer->name() : t.node()->name; }

// The generated files of one model and signature: key → file, for "in" or "out".
std::map<std::string, fs::path> files_of(const std::string& model, const std::string& signature, const std::string& kind) {
  std::map<std::string, fs::path> out;
  const std::string prefix = model + "." + signature + "." + kind + ".";
  for (const auto& e : fs::directory_iterator(generated())) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.emplace(name.substr(prefix.size(), name.size() - prefix.size() - 4), e.path());
  }
  return out;
}

struct Case {
  const char* model;
  const char* signature;
};

class PlainSavedModelInterop : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    ASSERT_TRUE(fs::exists(generated() / "done")) << "the generator did not finish";
  }
};

// Loaded with LoadOptions::signature (serving_default by default), the model's inputs and
// outputs are the signature's keys, in key order, and it predicts what TensorFlow returns.
TEST_P(PlainSavedModelInterop, PredictsWhatTensorFlowsSignatureReturns) {
  const Case c = GetParam();
  LoadOptions options;
  options.compile = false;
  if (std::string(c.signature) != "serving_default") options.signature = c.signature;
  const auto model = load_model(generated() / c.model, options);
  const auto ins = files_of(c.model, c.signature, "in"), outs = files_of(c.model, c.signature, "out");
  ASSERT_FALSE(ins.empty());
  ASSERT_EQ(model->inputs().size(), ins.size());
  ASSERT_EQ(model->outputs().size(), outs.size());
  std::vector<Tensor> x;
  auto in_file = ins.begin();
  for (const auto& t : model->inputs()) {
    EXPECT_EQ(port_name(t), in_file->first);  // key order
    x.push_back(read_npy((in_file++)->second));
  }
  const auto y = model->predict(x);
  auto out_file = outs.begin();
  for (std::size_t i = 0; i < y.size(); ++i, ++out_file) {
    EXPECT_EQ(port_name(model->outputs()[i]), out_file->first);
    EXPECT_LE(max_diff(y[i], read_npy(out_file->second)), 1e-5) << c.model << " " << c.signature << " " << out_file->first;
  }
}

// The CLI does the same by name: --signature, --input KEY=FILE in an order other than the
// model's, --output KEY=FILE.
TEST_P(PlainSavedModelInterop, StrataPredictRunsTheSignatureByName) {
  const Case c = GetParam();
  const auto ins = files_of(c.model, c.signature, "in"), outs = files_of(c.model, c.signature, "out");
  const fs::path tmp = fs::temp_directory_path() / ("strata_plain_sm_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::string cmd = std::string("'") + STRATA_CLI_PATH + "' predict '" + (generated() / c.model).string() + "' --signature " +
                    c.signature;
  for (auto it = ins.rbegin(); it != ins.rend(); ++it) cmd += " --input " + it->first + "=" + it->second.string();
  for (const auto& [key, file] : outs) cmd += " --output " + key + "=" + (tmp / (key + ".npy")).string();
  std::string out;
  ASSERT_EQ(test::run_capturing(cmd, out), 0) << cmd << "\n" << out;
  for (const auto& [key, file] : outs) {
    EXPECT_NE(out.find("(output '" + key + "')"), std::string::npos) << out;
    EXPECT_LE(max_diff(read_npy(tmp / (key + ".npy")), read_npy(file)), 1e-5) << key;
  }
  fs::remove_all(tmp);
}

INSTANTIATE_TEST_SUITE_P(Signatures, PlainSavedModelInterop,
                         ::testing::Values(Case{"half_plus_two", "serving_default"}, Case{"two_heads", "serving_default"},
                                           Case{"two_heads", "scaled"}, Case{"keras3_export", "serving_default"},
                                           Case{"keras3_export", "serve"}),
                         [](const auto& info) {
                           return std::string(info.param.model) + "_" + info.param.signature;
                         });

class PlainSavedModelInteropErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
  }
};

TEST_F(PlainSavedModelInteropErrors, AnUnknownSignatureIsAValueErrorListingTheSignatures) {
  LoadOptions options;
  options.signature = "nope";
  try {
    load_model(generated() / "two_heads", options);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no signature 'nope'"), std::string::npos) << m;
    EXPECT_NE(m.find("'scaled'"), std::string::npos) << m;
    EXPECT_NE(m.find("'serving_default'"), std::string::npos) << m;
  }
}

TEST_F(PlainSavedModelInteropErrors, ATf1SessionSavedModelIsRefusedNamingTf1) {
  try {
    load_model(generated() / "tf1_session");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("TF1 SavedModel"), std::string::npos) << m;
    EXPECT_NE(m.find("serving_default"), std::string::npos) << m;
  }
}

TEST_F(PlainSavedModelInteropErrors, CliNamesUnknownInputsAndOutputs) {
  const auto ins = files_of("half_plus_two", "serving_default", "in");
  ASSERT_EQ(ins.size(), 1u);
  const std::string base = std::string("'") + STRATA_CLI_PATH + "' predict '" + (generated() / "half_plus_two").string() + "'";
  std::string out;
  EXPECT_EQ(test::run_capturing(base + " --input q=" + ins.begin()->second.string() + " --output /tmp/unused.npy", out), 1);
  EXPECT_NE(out.find("the model has no input 'q'; its inputs: 'x'"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(test::run_capturing(base + " --input x=" + ins.begin()->second.string() + " --output z=/tmp/unused.npy", out), 1);
  EXPECT_NE(out.find("the model has no output 'z'; its outputs: 'y'"), std::string::npos) << out;
}

// tf-keras SavedModels keep loading as Keras models; --signature picks their serving
// signature instead, keyed by the model's names.
TEST(PlainSavedModelKeras, ASignatureOfATfKerasSavedModelLoadsByItsKeys) {
  const fs::path fixtures = STRATA_SAVEDMODEL_FIXTURES;
  LoadOptions options;
  options.signature = "serving_default";
  const auto keras = load_model(fixtures / "dense_sequential");
  const auto sig = load_model(fixtures / "dense_sequential", options);
  ASSERT_EQ(sig->inputs().size(), 1u);
  ASSERT_EQ(sig->outputs().size(), 1u);
  const Tensor x = read_npy(fixtures / "dense_sequential.x.npy");
  EXPECT_LE(max_diff(sig->predict(x), keras->predict(x)), 1e-5);
  EXPECT_TRUE(sig->layers().empty());
  EXPECT_FALSE(keras->layers().empty());
}

}  // namespace
