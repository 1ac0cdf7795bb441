// `strata bench MODEL` (issue 22): on a small model saved as H5 and as a SavedModel, the
// text report and the --json object carry every field (load time, first call, latency
// percentiles in order, throughput = calls/s x batch), --input sets the batch, --mode traced
// runs the SavedModel's serving function; a bad file, a missing file and a traced run of an
// H5 file are one-line typed errors (exit 1), bad options usage errors (exit 2). No
// assertion depends on how fast the machine is.
#include "cli_test_util.hpp"
#include "strata/saving.hpp"

namespace strata::clitest {
namespace {

std::shared_ptr<Model> small_model() {
  Tensor inputs = Input(Shape{4}, "features");
  Tensor x = (*make_layer("Dense", Config{{"units", 3}, {"activation", "relu"}}))(inputs);
  Tensor outputs = (*make_layer("Dense", Config{{"units", 2}}))(x);
  return std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs}, "bench_model");
}

class CliBench : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto model = small_model();
    save_model(*model, dir_ / "model.h5");
    save_model(*model, dir_ / "savedmodel");
  }
  // Runs `strata bench ARGS --json`, expecting success and one JSON object.
  Config bench_json(const std::string& args) {
    std::string out;
    EXPECT_EQ(run_strata("bench " + args + " --json", out), 0) << out;
    EXPECT_EQ(count_lines(out), 1u) << out;
    return Config::parse(out);
  }
  fs::path dir_;
};

void expect_consistent(const Config& r) {
  for (const char* key : {"model", "format", "strata_version", "device", "mode", "batch", "threads", "load_ms",
                          "first_call_ms", "warmup", "iterations", "seconds", "latency_us", "throughput"}) {
    EXPECT_TRUE(r.contains(key)) << key << " missing in " << r.dump();
  }
  EXPECT_GT(r["load_ms"].get<double>(), 0.0);
  EXPECT_GT(r["first_call_ms"].get<double>(), 0.0);
  const auto& l = r["latency_us"];
  EXPECT_GT(l["min"].get<double>(), 0.0);
  EXPECT_LE(l["min"].get<double>(), l["p50"].get<double>());
  EXPECT_LE(l["p50"].get<double>(), l["p90"].get<double>());
  EXPECT_LE(l["p90"].get<double>(), l["p99"].get<double>());
  EXPECT_LE(l["p99"].get<double>(), l["max"].get<double>());
  EXPECT_LE(l["min"].get<double>(), l["mean"].get<double>());
  EXPECT_LE(l["mean"].get<double>(), l["max"].get<double>());
  const double calls = r["throughput"]["calls_per_s"].get<double>();
  EXPECT_NEAR(calls, 1e6 / l["mean"].get<double>(), 1e-3 * calls);
  EXPECT_NEAR(r["throughput"]["samples_per_s"].get<double>(), calls * r["batch"].get<double>(), 1e-3 * calls);
}

TEST_F(CliBench, JsonReportsEveryFieldOfAnH5Model) {
  const Config r = bench_json(q(dir_ / "model.h5") + " --batch 3 --iterations 20 --warmup 2");
  expect_consistent(r);
  EXPECT_EQ(r["format"], "h5");
  EXPECT_EQ(r["mode"], "predict");
  EXPECT_EQ(r["device"], "cpu:0");
  EXPECT_EQ(r["batch"], 3);
  EXPECT_EQ(r["warmup"], 2);
  EXPECT_EQ(r["iterations"], 20);
}

TEST_F(CliBench, CallModeAndTimeLimit) {
  // --time alone stops after that long (at least one call); --iterations caps it first.
  const Config r = bench_json(q(dir_ / "model.h5") + " --mode call --time 0.05 --iterations 7");
  expect_consistent(r);
  EXPECT_EQ(r["mode"], "call");
  EXPECT_GE(r["iterations"].get<int>(), 1);
  EXPECT_LE(r["iterations"].get<int>(), 7);
}

TEST_F(CliBench, TracedServingFunctionOfASavedModel) {
  const Config r = bench_json(q(dir_ / "savedmodel") + " --mode traced --batch 2 --iterations 5");
  expect_consistent(r);
  EXPECT_EQ(r["format"], "savedmodel");
  EXPECT_EQ(r["mode"], "traced");
  EXPECT_EQ(r["batch"], 2);
}

TEST_F(CliBench, InputFileSetsTheBatch) {
  write_npy(dir_ / "x.npy", random_tensor(Shape{5, 4}, 3));
  const Config r = bench_json(q(dir_ / "model.h5") + " --input " + q(dir_ / "x.npy") + " --iterations 3");
  expect_consistent(r);
  EXPECT_EQ(r["batch"], 5);
}

TEST_F(CliBench, TextReportNamesEachFigure) {
  std::string out;
  ASSERT_EQ(run_strata("bench " + q(dir_ / "model.h5") + " --iterations 5", out), 0) << out;
  for (const char* text : {"(format h5)", "load: ", "first call: ", "iterations: 5 ", "latency: mean ", " p50 ",
                           " p90 ", " p99 ", "throughput: ", " samples/s"}) {
    EXPECT_NE(out.find(text), std::string::npos) << text << " not in:\n" << out;
  }
}

TEST_F(CliBench, BadFilesAreOneLineTypedErrors) {
  std::ofstream(dir_ / "bad.h5") << "not a model at all\n";
  std::string out;
  EXPECT_EQ(run_strata("bench " + q(dir_ / "bad.h5"), out), 1) << out;
  EXPECT_EQ(count_lines(out), 1u) << out;
  EXPECT_EQ(out.rfind("strata: error: FormatError: ", 0), 0u) << out;
  EXPECT_NE(out.find("bad.h5"), std::string::npos) << out;

  EXPECT_EQ(run_strata("bench " + q(dir_ / "missing.h5"), out), 1) << out;
  EXPECT_EQ(out.rfind("strata: error: IOError: ", 0), 0u) << out;

  EXPECT_EQ(run_strata("bench " + q(dir_ / "model.h5") + " --mode traced", out), 1) << out;
  EXPECT_EQ(out.rfind("strata: error: ValueError: ", 0), 0u) << out;
  EXPECT_NE(out.find("not a SavedModel directory"), std::string::npos) << out;
}

TEST_F(CliBench, BadOptionsAreUsageErrors) {
  std::string out;
  EXPECT_EQ(run_strata("bench " + q(dir_ / "model.h5") + " --mode fast", out), 2) << out;
  EXPECT_NE(out.find("--mode must be predict, call or traced"), std::string::npos) << out;
  EXPECT_EQ(run_strata("bench " + q(dir_ / "model.h5") + " --batch 0", out), 2) << out;
  EXPECT_EQ(run_strata("bench " + q(dir_ / "model.h5") + " --batch 2 --input x.npy", out), 2) << out;
}

}  // namespace
}  // namespace strata::clitest
