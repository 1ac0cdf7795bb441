// `strata info` describes everything it can and exits 0 when it could describe the file
// (issue 19): a weights-only H5 (its layers and weight arrays), a TensorFlow SavedModel
// without Keras metadata (TF Serving's half_plus_two in its TF2 form, a tf.Module with two
// signatures: signatures, functions, variables), a TF1 SavedModel (its MetaGraph's
// signatures), a compiled model whose optimizer class is not registered (the model shown, the
// optimizer unavailable). The TensorFlow-written files come from tests/cli/generate_info_files.py
// (label interop, skips without the venv); the expected names, dtypes and shapes are those the
// script declares.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "cli_test_util.hpp"
#include "strata/saving.hpp"

namespace strata::clitest {
namespace {

void expect_contains(const std::string& out, std::initializer_list<std::string> needles) {
  for (const auto& n : needles) EXPECT_NE(out.find(n), std::string::npos) << "'" << n << "' missing in:\n" << out;
}

// Strata's own weights-only H5 (no venv needed).
TEST(CliInfo, WeightsOnlyH5ListsLayersAndWeights) {
  const fs::path dir = fresh_dir("info_weights_only");
  Sequential model({make_layer("Dense", Config{{"units", 3}, {"name", "d1"}, {"batch_input_shape", {nullptr, 4}}}),
                    make_layer("Dense", Config{{"units", 2}, {"name", "d2"}, {"use_bias", false}})},
                   "w_only");
  save_weights(model, dir / "w.h5");
  std::string out;
  ASSERT_EQ(run_strata("info " + q(dir / "w.h5"), out), 0) << out;
  expect_contains(out, {"format: h5 (Keras HDF5, weights only)", "layers: 2 (3 weight arrays)", "  d1\n",
                        "    d1/kernel:0 float32(4, 3)\n", "    d1/bias:0 float32(3,)\n", "  d2\n",
                        "    d2/kernel:0 float32(3, 2)\n", "model: not loadable: "});
  EXPECT_EQ(out.find("strata: error"), std::string::npos) << out;
}

// The bytes `strata ARGS...` read (rchar of /proc/PID/io: every read/pread of the process;
// the H5 reader uses pread, not mmap), its output discarded; the exit status in `status`.
std::uint64_t bytes_read_by_strata(const std::vector<std::string>& args, int& status) {
  std::vector<char*> argv{const_cast<char*>("strata")};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0) ::_exit(126);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(STRATA_CLI_PATH, argv.data());
    ::_exit(127);
  }
  // Waits without reaping: the exited child's /proc/PID/io stays readable until waitpid.
  siginfo_t exited{};
  EXPECT_EQ(::waitid(P_PID, static_cast<id_t>(pid), &exited, WEXITED | WNOWAIT), 0);
  std::uint64_t rchar = ~std::uint64_t{0};
  {
    std::ifstream io("/proc/" + std::to_string(pid) + "/io");
    std::string key;
    std::uint64_t value = 0;
    while (io >> key >> value) {
      if (key == "rchar:") rchar = value;
    }
  }
  int wait_status = 0;
  ::waitpid(pid, &wait_status, 0);
  status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  return rchar;
}

// Issue 22: `info` shows a whole model's summary from its architecture without reading the
// weights (it read every one: 0.4-0.5 s and 558 MiB for a 400 MB H5). Of a 50 MB model it
// reads less than 1 MB beyond what `strata plugins` reads (the plugins' files: ~0.5 MB);
// --full still loads everything, which the same measure sees (it proves the measure works).
// The model: three 2048x2048 Dense layers, compiled with Adam.
constexpr std::uint64_t kFiftyMbParams = 3 * (2048 * 2048 + 2048);

std::shared_ptr<Model> fifty_mb_model() {
  std::vector<std::shared_ptr<Layer>> layers{make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 2048}}})};
  for (int i = 0; i < 3; ++i) layers.push_back(make_layer("Dense", Config{{"units", 2048}}));
  auto model = std::make_shared<Sequential>(layers, "fifty_mb");
  model->compile(Config{{"class_name", "Adam"}, {"config", {{"learning_rate", 0.01}}}}, Config("mse"));
  return model;
}

// The bytes of a file, or of every file under a directory.
std::uint64_t bytes_on_disk(const fs::path& path) {
  if (!fs::is_directory(path)) return fs::file_size(path);
  std::uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(path)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

// `full_reads`: whether --full reads the weights with read/pread (the measure sees them);
// the checkpoint reader of SavedModel variables maps the file instead.
void expect_info_reads_no_weights(const fs::path& path, bool full_reads = true) {
  ASSERT_GE(bytes_on_disk(path), 4 * kFiftyMbParams);
  std::string out;
  ASSERT_EQ(run_strata("info " + q(path), out), 0) << out;
  expect_contains(out, {"Model: \"fifty_mb\"", "Total params: " + std::to_string(kFiftyMbParams) + " ",
                        "optimizer: Adam {"});

  int status = -1;
  const std::uint64_t startup = bytes_read_by_strata({"plugins"}, status);
  ASSERT_EQ(status, 0);
  const std::uint64_t info = bytes_read_by_strata({"info", path.string()}, status);
  ASSERT_EQ(status, 0);
  EXPECT_LT(info, startup + (std::uint64_t{1} << 20)) << "`strata info` read " << info << " bytes, `strata plugins` "
                                                      << startup << ", of a " << bytes_on_disk(path) << "-byte model";
  if (!full_reads) return;
  const std::uint64_t full = bytes_read_by_strata({"info", "--full", path.string()}, status);
  ASSERT_EQ(status, 0);
  // At least three of the four weight matrices' bytes more than `info` (not the exact file
  // size: what the process reads besides the file varies by a few hundred KB between runs,
  // more under the sanitizers).
  EXPECT_GT(full, info + 3 * kFiftyMbParams) << "`strata info --full` loads the weights: the measure must see them read";
}

TEST(CliInfo, ShowsAFiftyMegabyteH5WithoutReadingItsWeights) {
  const fs::path dir = fresh_dir("info_no_weights");
  save_model(*fifty_mb_model(), dir / "m.h5");
  expect_info_reads_no_weights(dir / "m.h5");
}

// The same for a Keras 3 archive (config.json, not model.weights.h5; the weights file is
// described by its size only) and a SavedModel (keras_metadata.pb and saved_model.pb, not
// variables/), both written by Strata (no venv needed).
TEST(CliInfo, ShowsAFiftyMegabyteKerasArchiveWithoutReadingItsWeights) {
  const fs::path dir = fresh_dir("info_no_weights_keras");
  save_model(*fifty_mb_model(), dir / "m.keras");
  expect_info_reads_no_weights(dir / "m.keras");
  std::string out;
  ASSERT_EQ(run_strata("info " + q(dir / "m.keras"), out), 0) << out;
  expect_contains(out, {"model.weights.h5: ", " bytes (its objects are not listed above 1048576 bytes"});
}

TEST(CliInfo, ShowsAFiftyMegabyteSavedModelWithoutReadingItsVariables) {
  const fs::path dir = fresh_dir("info_no_weights_savedmodel");
  SaveOptions options;
  options.format = "savedmodel";
  save_model(*fifty_mb_model(), dir / "m", options);
  expect_info_reads_no_weights(dir / "m", /*full_reads=*/false);
  // The variables are mapped, not read, when they are loaded: that `info` never reads them
  // shows with their data zeroed (same size, so the weight budget is the same), while --full
  // then cannot load the model (the checksums fail).
  const fs::path data = dir / "m" / "variables" / "variables.data-00000-of-00001";
  const auto size = fs::file_size(data);
  fs::resize_file(data, 0);
  fs::resize_file(data, size);
  std::string out;
  ASSERT_EQ(run_strata("info " + q(dir / "m"), out), 0) << out;
  expect_contains(out, {"Total params: " + std::to_string(kFiftyMbParams) + " ", "optimizer: Adam {"});
  EXPECT_EQ(out.find("not loadable"), std::string::npos) << out;
  ASSERT_EQ(run_strata("info --full " + q(dir / "m"), out), 0) << out;
  expect_contains(out, {"model: not loadable: "});
}

class CliInfoInterop : public ::testing::Test {
 protected:
  static fs::path files() {
    static const fs::path dir = [] {
      const char* home = std::getenv("HOME");
      const fs::path d = test::generated_cache_dir(fs::path(home ? home : "/root") / ".cache/strata/cli-info",
                                                   STRATA_CLI_INFO_GENERATOR);
      std::string out;
      EXPECT_EQ(test::generate_with_script(d, "done.txt", STRATA_CLI_INFO_GENERATOR, "--out", out), 0) << out;
      return d;
    }();
    return dir;
  }
  void SetUp() override {
    if (!fs::exists(test::venv_python())) {
      GTEST_SKIP() << "no tf-keras venv at " << test::interop_venv() << " (set STRATA_INTEROP_VENV)";
    }
    ASSERT_TRUE(fs::exists(files() / "done.txt"));
  }
};

TEST_F(CliInfoInterop, PlainTf2SavedModelShowsSignaturesAndFunctions) {
  std::string out;
  ASSERT_EQ(run_strata("info " + q(files() / "half_plus_two"), out), 0) << out;
  expect_contains(out, {"format: savedmodel", "signature serving_default: 1 input(s), 1 output(s): in x float32(None); out y float32(None)",
                        "keras metadata: none", "function serve: 1 concrete function(s), ((x float32(None)), {}) -> {y: ",
                        "variables: 2", "  a float32()", "  b float32()"});
  EXPECT_EQ(out.find("save_traces"), std::string::npos) << out;
  EXPECT_EQ(out.find("strata: error"), std::string::npos) << out;

  ASSERT_EQ(run_strata("info " + q(files() / "module_two"), out), 0) << out;
  expect_contains(out, {"signature scale: 1 input(s), 1 output(s): in x float32(None, 3); out scaled float32(None, 3)",
                        "signature serving_default: 2 input(s), 2 output(s): in a float32(None, 3); in b int64(None); "
                        "out count int64(None); out sum float32(None)",
                        "function both: ", "function scale: ", "function double: 1 concrete function(s), ((",
                        "float32(2)", "variables: 1", "  w float32(3)"});
}

TEST_F(CliInfoInterop, Tf1SavedModelShowsItsMetaGraphSignatures) {
  std::string out;
  ASSERT_EQ(run_strata("info " + q(files() / "tf1"), out), 0) << out;
  expect_contains(out, {"format: savedmodel", "meta graph 0: tags serve",
                        "signature serving_default: 1 input(s), 1 output(s): in x float32(None); out y float32(None)",
                        "object graph: none: a TF1 SavedModel"});
  EXPECT_EQ(out.find("strata: error"), std::string::npos) << out;
}

TEST_F(CliInfoInterop, KerasWeightsOnlyH5) {
  std::string out;
  ASSERT_EQ(run_strata("info " + q(files() / "weights.h5"), out), 0) << out;
  expect_contains(out, {"weights only", "layers: 3 (8 weight arrays)", "    d1/kernel:0 float32(4, 3)",
                        "    bn/moving_variance:0 float32(3,)", "    d2/bias:0 float32(2,)"});
}

TEST_F(CliInfoInterop, UnknownOptimizerShowsTheModelAndReportsTheOptimizer) {
  std::string out;
  ASSERT_EQ(run_strata("info " + q(files() / "unknown_opt.h5"), out), 0) << out;
  expect_contains(out, {"Model: \"info_model\"", "Total params: ", "optimizer: unavailable: ", "NoSuchOptimizer"});
  EXPECT_EQ(out.find("strata: error"), std::string::npos) << out;
}

}  // namespace
}  // namespace strata::clitest
