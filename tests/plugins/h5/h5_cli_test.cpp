// The model CLI on H5 files: `strata info`, `strata predict` (.npy in/out, one file per
// output, float64 inputs cast to the model's float32), `strata convert` between formats,
// and errors as one line naming the error kind with a non-zero exit status.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include "h5_test_util.hpp"

namespace strata::h5test {
namespace {

std::string cli() { return std::string("'") + STRATA_CLI_PATH + "'"; }
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

TEST(H5Cli, InfoShowsFormatVersionSummaryAndOptimizerState) {
  std::string out;
  ASSERT_EQ(run_command(cli() + " info " + q(fixture("sequential.h5")), out), 0) << out;
  // The file's keras_version attribute is the tf-keras version that wrote it (2.17.0 for the
  // committed set, 2.21.0 for the second version): index.json's meta says which.
  const std::string version = "keras_version: " + index()["meta"]["tf_keras"].get<std::string>();
  for (const std::string& needle : {std::string("format: h5"), version, std::string("dense_1"),
                                   std::string("optimizer: Adam"), std::string("optimizer state:")}) {
    EXPECT_NE(out.find(needle), std::string::npos) << needle << " missing in:\n" << out;
  }
  ASSERT_EQ(run_command(cli() + " info " + q(fixture("sequential.noopt.h5")), out), 0) << out;
  EXPECT_NE(out.find("not compiled"), std::string::npos) << out;
}

TEST(H5Cli, PredictWritesOneNpyPerOutputMatchingKeras) {
  const auto& entry = index()["models"]["functional_shared"];
  const fs::path dir = fresh_dir("cli_predict");
  std::string command = cli() + " predict " + q(fixture(entry["files"]["whole"].get<std::string>()));
  for (const auto& x : entry["inputs"]) command += " --input " + q(fixture(x.get<std::string>()));
  command += " --output " + q(dir / "y.npy") + " --batch-size 3";
  std::string out;
  ASSERT_EQ(run_command(command, out), 0) << out;
  const auto refs = read_all(entry["outputs"]);
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const fs::path file = dir / (i == 0 ? std::string("y.npy") : "y_" + std::to_string(i) + ".npy");
    ASSERT_TRUE(fs::exists(file)) << file << "\n" << out;
    expect_close(read_npy(file), refs[i], file.string());
  }
}

TEST(H5Cli, PredictCastsFloat64Inputs) {
  const auto& entry = index()["models"]["sequential"];
  const fs::path dir = fresh_dir("cli_f64");
  const Tensor x = read_npy(fixture(entry["inputs"][0].get<std::string>()));
  std::vector<double> wide;
  for (float v : x.to_vector<float>()) wide.push_back(v);
  write_npy(dir / "x64.npy", Tensor::from_vector<double>(wide, x.shape()));
  std::string out;
  ASSERT_EQ(run_command(cli() + " predict " + q(fixture("sequential.h5")) + " --input " + q(dir / "x64.npy") +
                            " --output " + q(dir / "y.npy"),
                        out),
            0)
      << out;
  expect_close(read_npy(dir / "y.npy"), read_all(entry["outputs"])[0], "float64 input");
}

TEST(H5Cli, ConvertBetweenFormatsKeepsPredictions) {
  const auto& entry = index()["models"]["cnn"];
  const fs::path dir = fresh_dir("cli_convert");
  const fs::path src = fixture(entry["files"]["whole"].get<std::string>());
  std::string out;
  // h5 -> SavedModel -> h5 (whole models), h5 -> json (architecture), h5 weights -> h5 weights.
  ASSERT_EQ(run_command(cli() + " convert " + q(src) + " " + q(dir / "sm"), out), 0) << out;
  ASSERT_EQ(run_command(cli() + " convert " + q(dir / "sm") + " " + q(dir / "back.h5"), out), 0) << out;
  expect_predicts(*load_model(dir / "back.h5"), entry);
  ASSERT_EQ(run_command(cli() + " convert " + q(src) + " " + q(dir / "arch.json"), out), 0) << out;
  EXPECT_EQ(load_model(dir / "arch.json")->count_params(), load_model(src)->count_params());
  ASSERT_EQ(run_command(cli() + " convert " + q(fixture(entry["files"]["weights"].get<std::string>())) + " " +
                            q(dir / "w.h5") + " --weights-into " + q(dir / "arch.json"),
                        out),
            0)
      << out;
  auto model = load_model(dir / "arch.json");
  model->load_weights(dir / "w.h5").assert_consumed();
  expect_predicts(*model, entry);
}

TEST(H5Cli, ErrorsAreOneLineWithTheKindAndExitOne) {
  const fs::path dir = fresh_dir("cli_errors");
  std::ofstream(dir / "junk.h5") << "not an hdf5 file";
  struct Case {
    std::string args, kind, needle;
  };
  const std::vector<Case> cases = {
      {"info " + q(dir / "missing.h5"), "IOError", "missing.h5"},
      {"predict " + q(dir / "junk.h5") + " --input x.npy --output y.npy", "FormatError", "junk.h5"},
      {"predict " + q(fixture("sequential.h5")) + " --input " + q(dir / "none.npy") + " --output " + q(dir / "y.npy"),
       "Error", "none.npy"},
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_EQ(run_command(cli() + " " + c.args, out), 1) << c.args << "\n" << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_NE(out.find("strata: error: "), std::string::npos) << out;
    EXPECT_NE(out.find(c.kind), std::string::npos) << out;
    EXPECT_NE(out.find(c.needle), std::string::npos) << out;
  }
}

// Issue 19, devices. --device wins over STRATA_DEVICE (the environment is not even read
// then); without it, an unusable device that STRATA_DEVICE chose is named as coming from
// there; TensorFlow's spelling GPU:0 is read as cuda:0.
TEST(H5Cli, DeviceOptionWinsOverStrataDevice) {
  const auto& entry = index()["models"]["sequential"];
  const fs::path dir = fresh_dir("cli_device_env");
  const std::string predict = " predict " + q(fixture("sequential.h5")) + " --input " +
                              q(fixture(entry["inputs"][0].get<std::string>())) + " --output " + q(dir / "y.npy");
  std::string out;
  EXPECT_EQ(run_command("STRATA_DEVICE=no/such:device " + cli() + predict + " --device cpu", out), 0) << out;
  out.clear();
  // cuda:7: not usable without a driver, and absent on a machine with fewer GPUs.
  EXPECT_EQ(run_command("STRATA_DEVICE=cuda:7 " + cli() + predict, out), 1) << out;
  EXPECT_NE(out.find("from STRATA_DEVICE=cuda:7"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_command("STRATA_DEVICE=cuda:7 " + cli() + predict + " --device GPU:7", out), 1) << out;
  EXPECT_NE(out.find("cuda:7"), std::string::npos) << out;
  EXPECT_EQ(out.find("STRATA_DEVICE"), std::string::npos) << "--device chose it:\n" << out;
}

// Without an NVIDIA driver, the CUDA plugin says so (CUDA's own error for it reads
// "CUDA driver version is insufficient for CUDA runtime version").
TEST(H5Cli, WithoutANvidiaDriverTheCudaPluginSaysSo) {
  std::string out;
  ASSERT_EQ(run_command(cli() + " plugins", out), 0) << out;
  if (out.find("backend-cuda") == std::string::npos) GTEST_SKIP() << "the CUDA plugin is not built";
  if (void* driver = ::dlopen("libcuda.so.1", RTLD_LAZY)) {
    ::dlclose(driver);
    GTEST_SKIP() << "this machine has an NVIDIA driver";
  }
  EXPECT_NE(out.find("not usable: no CUDA device: no NVIDIA driver on this machine"), std::string::npos) << out;
  EXPECT_EQ(out.find("insufficient"), std::string::npos) << out;
}

}  // namespace
}  // namespace strata::h5test
