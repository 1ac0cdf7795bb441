// `strata fit` / `strata evaluate` on a model with two inputs and two outputs, its arrays given
// by name (--x NAME=FILE by Input layer, --y NAME=FILE by output layer, in any order, as
// Keras's fit({"a": ..., "b": ...}, {"out1": ..., "out2": ...})), and --sample-weight (Keras's
// sample_weight, one weight per sample). CliNamed (label plugin): the named form gives the same
// bits as the model's order, errors name the model's inputs/outputs, and sample weights as
// first principles have them (weights 2 double the loss, weights 0 leave the model as it was).
// CliNamedInterop (label interop, skips without the venv): the same file, data and weights as
// tf-keras's fit and evaluate (tests/cli/generate_cli_named.py, cached in ~/.cache/strata/cli-named):
// history and weights within the tolerances of cli_fit_interop_test.cpp.
#include <cmath>
#include <map>
#include <sstream>

#include "cli_test_util.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"
#include "strata/training.hpp"

namespace strata::clitest {
namespace {

Config read_json(const fs::path& p) { return parse_python_json(test::read_text(p), p.string()); }

// `name: value` lines of `strata evaluate`.
std::map<std::string, double> evaluate_lines(const std::string& out) {
  std::map<std::string, double> logs;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(": ");
    if (colon == std::string::npos || line.find(' ') < colon) continue;
    logs[line.substr(0, colon)] = std::stod(line.substr(colon + 2));
  }
  return logs;
}

class CliNamed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { initialize(); }
  void SetUp() override {
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    Tensor a = Input(Shape{4}, "a"), b = Input(Shape{2}, "b");
    Tensor h = (*make_layer("Concatenate", Config{{"name", "cat"}}))(std::vector<Tensor>{a, b})[0];
    h = (*make_layer("Dense", Config{{"units", 5}, {"activation", "tanh"}, {"name", "mix"}}))(h);
    Tensor out1 = (*make_layer("Dense", Config{{"units", 2}, {"name", "out1"}}))(h);
    Tensor out2 = (*make_layer("Dense", Config{{"units", 1}, {"name", "out2"}}))(h);
    auto model = std::make_shared<Functional>(std::vector<Tensor>{a, b}, std::vector<Tensor>{out1, out2}, "two_io");
    model->compile(Config("sgd"), Config::array({"mse", "mse"}));
    save_model(*model, dir_ / "model.h5");
    write_npy(dir_ / "a.npy", random_tensor(Shape{64, 4}, 1));
    write_npy(dir_ / "b.npy", random_tensor(Shape{64, 2}, 2));
    write_npy(dir_ / "y1.npy", random_tensor(Shape{64, 2}, 3));
    write_npy(dir_ / "y2.npy", random_tensor(Shape{64, 1}, 4));
  }
  std::string f(const std::string& name) const { return q(dir_ / name); }
  std::string in_order() const {
    return " --x " + f("a.npy") + " --x " + f("b.npy") + " --y " + f("y1.npy") + " --y " + f("y2.npy");
  }
  std::string by_name() const {  // the other order: the names decide
    return " --x b=" + f("b.npy") + " --x a=" + f("a.npy") + " --y out2=" + f("y2.npy") + " --y out1=" + f("y1.npy");
  }
  void expect_error(const std::string& args, const std::vector<std::string>& parts) {
    std::string out;
    EXPECT_EQ(run_strata(args, out), 1) << out;
    EXPECT_EQ(count_lines(out), 1u) << out;
    for (const auto& p : parts) EXPECT_NE(out.find(p), std::string::npos) << "missing '" << p << "' in: " << out;
  }
  fs::path dir_;
};

TEST_F(CliNamed, NamedArraysInAnyOrderFitAsTheModelsOrder) {
  std::string out;
  const std::string common = " --epochs 2 --batch-size 16 --no-shuffle --verbose 0";
  ASSERT_EQ(run_strata("fit " + f("model.h5") + in_order() + common + " --save " + f("o1.h5") + " --history " +
                           f("h1.json"),
                       out),
            0)
      << out;
  ASSERT_EQ(run_strata("fit " + f("model.h5") + by_name() + common + " --save " + f("o2.h5") + " --history " +
                           f("h2.json"),
                       out),
            0)
      << out;
  EXPECT_EQ(test::read_text(dir_ / "h1.json"), test::read_text(dir_ / "h2.json"));
  const auto w1 = load_model(dir_ / "o1.h5")->get_weights(), w2 = load_model(dir_ / "o2.h5")->get_weights();
  ASSERT_EQ(w1.size(), w2.size());
  for (std::size_t i = 0; i < w1.size(); ++i) EXPECT_EQ(w1[i].to_vector<float>(), w2[i].to_vector<float>()) << i;
  // evaluate and --validation-x/--validation-y take names too.
  std::string e1, e2;
  ASSERT_EQ(run_strata("evaluate " + f("model.h5") + in_order() + " --verbose 0", e1), 0) << e1;
  ASSERT_EQ(run_strata("evaluate " + f("model.h5") + by_name() + " --verbose 0", e2), 0) << e2;
  EXPECT_EQ(e1, e2);
  EXPECT_EQ(evaluate_lines(e1).size(), 3u) << e1;  // loss, out1_loss, out2_loss
  ASSERT_EQ(run_strata("fit " + f("model.h5") + by_name() + common + " --validation-x a=" + f("a.npy") +
                           " --validation-x b=" + f("b.npy") + " --validation-y out2=" + f("y2.npy") +
                           " --validation-y out1=" + f("y1.npy") + " --save " + f("o3.h5") + " --history " +
                           f("h3.json"),
                       out),
            0)
      << out;
  EXPECT_TRUE(read_json(dir_ / "h3.json").contains("val_out2_loss")) << test::read_text(dir_ / "h3.json");
}

TEST_F(CliNamed, WrongNamesListTheModelsNames) {
  const std::string save = " --save " + f("o.h5");
  expect_error("fit " + f("model.h5") + " --x c=" + f("a.npy") + " --x b=" + f("b.npy") + " --y " + f("y1.npy") +
                   " --y " + f("y2.npy") + save,
               {"strata: error: ValueError", "--x c=", "the model has no input 'c'", "its inputs: 'a', 'b'"});
  expect_error("evaluate " + f("model.h5") + " --x " + f("a.npy") + " --x " + f("b.npy") + " --y out1=" +
                   f("y1.npy") + " --y out3=" + f("y2.npy"),
               {"strata: error: ValueError", "no output 'out3'", "its outputs: 'out1', 'out2'"});
  expect_error("fit " + f("model.h5") + " --x a=" + f("a.npy") + " --x " + f("b.npy") + " --y " + f("y1.npy") +
                   " --y " + f("y2.npy") + save,
               {"strata: error: ValueError", "--x: name every input (NAME=FILE) or none"});
  expect_error("fit " + f("model.h5") + " --x a=" + f("a.npy") + " --x a=" + f("b.npy") + " --y " + f("y1.npy") +
                   " --y " + f("y2.npy") + save,
               {"strata: error: ValueError", "input 'a' is given twice"});
  // A missing one: the count, with the names.
  expect_error("fit " + f("model.h5") + " --x a=" + f("a.npy") + " --y " + f("y1.npy") + " --y " + f("y2.npy") + save,
               {"strata: error: ValueError", "2 inputs but 1 --x files", "its inputs: 'a', 'b'", "--x NAME=FILE"});
  // A named array of the wrong shape: the name in the message.
  expect_error("fit " + f("model.h5") + " --x b=" + f("a.npy") + " --x a=" + f("b.npy") + " --y " + f("y1.npy") +
                   " --y " + f("y2.npy") + save,
               {"strata: error: ShapeError", "--x '" + (dir_ / "b.npy").string() + "'", "input 0 'a' takes (None, 4)"});
  EXPECT_FALSE(fs::exists(dir_ / "o.h5"));
}

TEST_F(CliNamed, SampleWeightsScaleTheLossAndZeroWeightsTrainNothing) {
  write_npy(dir_ / "twos.npy", Tensor::from_vector<float>(std::vector<float>(64, 2.0f), Shape{64}));
  write_npy(dir_ / "zeros.npy", Tensor::from_vector<float>(std::vector<float>(64, 0.0f), Shape{64}));
  std::string plain, twice;
  ASSERT_EQ(run_strata("evaluate " + f("model.h5") + by_name() + " --batch-size 16 --verbose 0", plain), 0) << plain;
  ASSERT_EQ(run_strata("evaluate " + f("model.h5") + by_name() + " --batch-size 16 --verbose 0 --sample-weight " +
                           f("twos.npy"),
                       twice),
            0)
      << twice;
  const auto p = evaluate_lines(plain), t = evaluate_lines(twice);
  ASSERT_EQ(p.size(), t.size()) << plain << twice;
  for (const auto& [k, v] : p) {
    ASSERT_TRUE(t.count(k)) << k;
    EXPECT_NEAR(t.at(k), 2 * v, 1e-6 + 1e-5 * std::abs(v)) << k;  // each output's loss is weighted
  }
  // SGD without momentum: weights 0 give zero gradients, the file's weights stay.
  std::string out;
  ASSERT_EQ(run_strata("fit " + f("model.h5") + by_name() + " --epochs 2 --batch-size 16 --verbose 0 --sample-weight " +
                           f("zeros.npy") + " --save " + f("o.h5") + " --history " + f("h.json"),
                       out),
            0)
      << out;
  const auto before = load_model(dir_ / "model.h5")->get_weights(), after = load_model(dir_ / "o.h5")->get_weights();
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].to_vector<float>(), after[i].to_vector<float>()) << i;
  }
  EXPECT_EQ(read_json(dir_ / "h.json")["loss"][0].get<double>(), 0.0);
}

TEST_F(CliNamed, BadSampleWeightsAreOneLineErrors) {
  write_npy(dir_ / "w10.npy", Tensor::from_vector<float>(std::vector<float>(10, 1.0f), Shape{10}));
  write_npy(dir_ / "w2d.npy", Tensor::from_vector<float>(std::vector<float>(64, 1.0f), Shape{64, 1}));
  expect_error("fit " + f("model.h5") + in_order() + " --sample-weight " + f("w10.npy") + " --save " + f("o.h5"),
               {"strata: error: ShapeError", "--sample-weight '" + (dir_ / "w10.npy").string() + "'", "(10,)",
                "64 samples", "shape (64,)"});
  expect_error("evaluate " + f("model.h5") + in_order() + " --sample-weight " + f("w2d.npy"),
               {"strata: error: ShapeError", "(64, 1)"});
  expect_error("evaluate " + f("model.h5") + in_order() + " --sample-weight " + f("nope.npy"),
               {"strata: error: IOError", "--sample-weight '" + (dir_ / "nope.npy").string() + "' does not exist"});
  EXPECT_FALSE(fs::exists(dir_ / "o.h5"));
}

// ---- against tf-keras -------------------------------------------------------------------------

constexpr double kRelTol = 1e-5, kAbsTol = 1e-6;  // as cli_fit_interop_test.cpp (2 epochs, float32)

bool close(double got, double want) { return std::fabs(got - want) <= kAbsTol + kRelTol * std::fabs(want); }

TEST(CliNamedInterop, NamedArraysAndSampleWeightsMatchKeras) {
  if (!fs::exists(test::venv_python())) {
    GTEST_SKIP() << "no tf-keras venv at " << test::interop_venv() << " (set STRATA_INTEROP_VENV)";
  }
  initialize();
  const char* home = std::getenv("HOME");
  const fs::path dir = test::generated_cache_dir(fs::path(home ? home : "/root") / ".cache/strata/cli-named",
                                                 STRATA_CLI_NAMED_GENERATOR);
  {
    std::string out;
    ASSERT_EQ(test::generate_with_script(dir, "meta.json", STRATA_CLI_NAMED_GENERATOR, "--out", out), 0) << out;
  }
  const fs::path work = fresh_dir("interop_named");
  const auto g = [&](const std::string& suffix) { return q(dir / ("named" + suffix)); };
  const std::string data = " --x b=" + g(".b.npy") + " --x a=" + g(".a.npy") + " --y out2=" + g(".out2.npy") +
                           " --y out1=" + g(".out1.npy") + " --sample-weight " + g(".w.npy") + " --batch-size 16";
  std::string out;
  ASSERT_EQ(run_strata("fit " + g(".h5") + data + " --epochs 2 --no-shuffle --verbose 0 --save " + q(work / "o.h5") +
                           " --history " + q(work / "h.json"),
                       out),
            0)
      << out;
  const Config got = read_json(work / "h.json"), want = read_json(dir / "named.keras_history.json");
  std::vector<std::string> got_keys, want_keys;
  for (const auto& [k, v] : got.items()) got_keys.push_back(k);
  for (const auto& [k, v] : want.items()) want_keys.push_back(k);
  EXPECT_EQ(got_keys, want_keys);
  for (const auto& [k, v] : want.items()) {
    if (!got.contains(k)) continue;
    const auto gv = got[k].get<std::vector<double>>(), wv = v.get<std::vector<double>>();
    ASSERT_EQ(gv.size(), wv.size()) << k;
    for (std::size_t e = 0; e < wv.size(); ++e) {
      EXPECT_TRUE(close(gv[e], wv[e])) << k << " epoch " << e << ": strata " << gv[e] << ", tf-keras " << wv[e];
    }
  }
  const auto weights = load_model(work / "o.h5")->weights();
  ASSERT_EQ(static_cast<int>(weights.size()), read_json(dir / "meta.json")["weights"].get<int>());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const Tensor ref = read_npy(dir / ("named.keras_w" + std::to_string(i) + ".npy"));
    ASSERT_EQ(weights[i].shape(), ref.shape()) << weights[i].name();
    const auto gv = cast(weights[i].value().to(Device::cpu()), DType::kFloat64).to_vector<double>();
    const auto wv = cast(ref, DType::kFloat64).to_vector<double>();
    for (std::size_t j = 0; j < wv.size(); ++j) {
      EXPECT_TRUE(close(gv[j], wv[j])) << weights[i].name() << "[" << j << "]: strata " << gv[j] << ", tf-keras "
                                       << wv[j];
    }
  }
  // evaluate on the untrained file, weighted.
  ASSERT_EQ(run_strata("evaluate " + g(".h5") + data + " --verbose 0", out), 0) << out;
  const auto logs = evaluate_lines(out);
  const Config keras_eval = read_json(dir / "named.evaluate.json");
  EXPECT_EQ(logs.size(), keras_eval.size()) << out;
  for (const auto& [k, v] : keras_eval.items()) {
    ASSERT_TRUE(logs.count(k)) << k << " missing in: " << out;
    EXPECT_TRUE(close(logs.at(k), v.get<double>())) << k << ": strata " << logs.at(k) << ", tf-keras " << v;
  }
}

}  // namespace
}  // namespace strata::clitest
