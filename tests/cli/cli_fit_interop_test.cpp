// Label interop: `strata fit --no-shuffle` on a compiled tf-keras H5 file gives the loss
// history and final weights of tf-keras's own fit(shuffle=False) on the same file, for a
// Dense net with Adam, a Conv2D net with SGD + momentum (sparse labels), and a model with two
// inputs and two outputs (repeated --x/--y in the model's order); and resuming a file that
// tf-keras saved after one epoch with its optimizer state continues as tf-keras does
// (tests/cli/generate_cli_fit.py writes the files and tf-keras's results, once per version of
// that script and of tf-keras, into ~/.cache/strata/cli-fit). Skips without the venv.
//
// Tolerance: both sides compute in float32 but sum in different orders (oneDNN vs Eigen
// matmuls and convolutions, other reduction trees), so every value carries a few float32
// rounding steps (2^-24 ≈ 6e-8 relative each) per op; over 2 epochs of 3 steps those stay
// well under 1e-5 relative. Weights near zero are compared with an absolute floor of 1e-6.
#include <cmath>

#include "cli_test_util.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"

namespace strata::clitest {
namespace {

constexpr double kRelTol = 1e-5, kAbsTol = 1e-6;

fs::path generated() {
  static const fs::path dir = [] {
    const char* home = std::getenv("HOME");
    const fs::path d = test::generated_cache_dir(fs::path(home ? home : "/root") / ".cache/strata/cli-fit",
                                                 STRATA_CLI_FIT_GENERATOR);
    std::string out;
    EXPECT_EQ(test::generate_with_script(d, "meta.json", STRATA_CLI_FIT_GENERATOR, "--out", out), 0) << out;
    return d;
  }();
  return dir;
}

Config read_json(const fs::path& p) { return parse_python_json(test::read_text(p), p.string()); }

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(std::fabs(got[i] - want[i]), kAbsTol + kRelTol * std::fabs(want[i]))
        << what << "[" << i << "]: strata " << got[i] << ", tf-keras " << want[i];
  }
}

std::vector<double> values(const Tensor& t) { return cast(t.to(Device::cpu()), DType::kFloat64).to_vector<double>(); }

class CliFitInterop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) {
      GTEST_SKIP() << "no tf-keras venv at " << test::interop_venv() << " (set STRATA_INTEROP_VENV)";
    }
    dir_ = generated();
    ASSERT_TRUE(fs::exists(dir_ / "meta.json")) << dir_;
    meta_ = read_json(dir_ / "meta.json")["cases"][GetParam()];
    work_ = fresh_dir("interop_" + GetParam());
  }
  fs::path file(const std::string& suffix) const { return dir_ / (GetParam() + suffix); }
  std::string data() const {
    std::string args;
    for (int i = 0; i < meta_["inputs"].get<int>(); ++i) args += " --x " + q(file(".x" + std::to_string(i) + ".npy"));
    for (int i = 0; i < meta_["outputs"].get<int>(); ++i) args += " --y " + q(file(".y" + std::to_string(i) + ".npy"));
    return args;
  }
  // The history keys in Keras's order with their values, and the weights, against tf-keras's.
  void expect_matches(const fs::path& history, const fs::path& model, const std::string& keras) {
    const Config got = read_json(history), want = read_json(file("." + keras + "_history.json"));
    std::vector<std::string> got_keys, want_keys;
    for (const auto& [k, v] : got.items()) got_keys.push_back(k);
    for (const auto& [k, v] : want.items()) want_keys.push_back(k);
    EXPECT_EQ(got_keys, want_keys);
    for (const auto& [k, v] : want.items()) {
      if (!got.contains(k)) continue;
      expect_close(got[k].get<std::vector<double>>(), v.get<std::vector<double>>(), "history " + k);
    }
    const auto weights = load_model(model)->weights();
    ASSERT_EQ(static_cast<int>(weights.size()), meta_["weights"].get<int>());
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const Tensor ref = read_npy(file("." + keras + "_w" + std::to_string(i) + ".npy"));
      ASSERT_EQ(weights[i].shape(), ref.shape()) << weights[i].name();
      expect_close(values(weights[i].value()), values(ref), "weight " + weights[i].name());
    }
  }
  fs::path dir_, work_;
  Config meta_;
};

TEST_P(CliFitInterop, TwoEpochsMatchKerasFit) {
  std::string out;
  ASSERT_EQ(run_strata("fit " + q(file(".h5")) + data() + " --epochs 2 --batch-size 16 --no-shuffle --verbose 0 --save " +
                           q(work_ / "out.h5") + " --history " + q(work_ / "h.json"),
                       out),
            0)
      << out;
  expect_matches(work_ / "h.json", work_ / "out.h5", "keras");
}

TEST_P(CliFitInterop, ResumingKerasOptimizerStateMatchesKeras) {
  std::string out;
  ASSERT_EQ(run_strata("fit " + q(file(".e1.h5")) + data() +
                           " --epochs 2 --initial-epoch 1 --batch-size 16 --no-shuffle --verbose 0 --save " +
                           q(work_ / "out.h5") + " --history " + q(work_ / "h.json"),
                       out),
            0)
      << out;
  expect_matches(work_ / "h.json", work_ / "out.h5", "resume");
}

INSTANTIATE_TEST_SUITE_P(Cases, CliFitInterop, ::testing::Values("seq_adam", "conv_sgd", "two_io"));

// tf-keras's save_weights of a compiled, trained model (weights + Adam's values) converted
// with --weights-into its to_json (--expect-partial) and into the compiled H5 (no flag).
TEST(CliConvertInterop, KerasCheckpointOfACompiledModel) {
  if (!fs::exists(test::venv_python())) {
    GTEST_SKIP() << "no tf-keras venv at " << test::interop_venv() << " (set STRATA_INTEROP_VENV)";
  }
  const fs::path dir = generated(), work = fresh_dir("interop_convert");
  std::vector<Tensor> want;
  for (int i = 0; i < 4; ++i) want.push_back(read_npy(dir / ("convert.w" + std::to_string(i) + ".npy")));
  const auto expect_weights = [&](const std::vector<Tensor>& got) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].to_vector<float>(), want[i].to_vector<float>()) << i;
  };
  std::string out;
  EXPECT_EQ(run_strata("convert " + q(dir / "convert.ckpt") + " " + q(work / "a.h5") + " --weights-into " +
                           q(dir / "convert.json"),
                       out),
            1)
      << out;
  EXPECT_NE(out.find("--expect-partial"), std::string::npos) << out;
  ASSERT_EQ(run_strata("convert " + q(dir / "convert.ckpt") + " " + q(work / "a.h5") + " --weights-into " +
                           q(dir / "convert.json") + " --expect-partial",
                       out),
            0)
      << out;
  auto bare = model_from_json(test::read_text(dir / "convert.json"));
  bare->load_weights(work / "a.h5").assert_consumed();
  expect_weights(bare->get_weights());
  ASSERT_EQ(run_strata("convert " + q(dir / "convert.ckpt") + " " + q(work / "b") + " --weights-into " +
                           q(dir / "convert.compiled.h5"),
                       out),
            0)
      << out;
  auto compiled = load_model(dir / "convert.compiled.h5");
  compiled->load_weights(work / "b").assert_consumed();
  expect_weights(compiled->get_weights());
  EXPECT_EQ(compiled->optimizer()->iterations().value().item<std::int64_t>(), 3);  // 48 samples / 16
}

}  // namespace
}  // namespace strata::clitest
