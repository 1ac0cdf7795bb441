// Label interop: what TensorFlow 2.17 / tf-keras 2.17 say about a SavedModel written by
// Strata (needs the venv of tests/interop/setup_venv.sh; skips with the reason without it).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;

fs::path venv_python() {
  const char* env = std::getenv("STRATA_INTEROP_VENV");
  const char* home = std::getenv("HOME");
  const fs::path venv = env ? fs::path(env) : fs::path(home ? home : "/root") / ".cache/strata/interop-venv";
  return venv / "bin" / "python";
}

std::string run(const std::string& cmd, int& rc) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = ::pclose(p);
  rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// TensorFlow runs Strata's SavedModels: tf.saved_model.load's serving_default signature and
// its __call__ return what Strata predicts, saved_model_cli lists the signature and its
// shapes, and the variables read as a checkpoint. EXPECTED FAILURE, kept visible: tf-keras's
// load_model cannot revive them (Strata writes Keras metadata for the root object only; it
// raised RecursionError in Layer.variables). When that line turns "ok", make it required.
class SavedModelInterop : public ::testing::TestWithParam<std::string> {};

TEST_P(SavedModelInterop, TensorFlowRunsStrataSavedModels) {
  const fs::path py = venv_python();
  if (!fs::exists(py)) GTEST_SKIP() << "no interop venv at " << py << " (run tests/interop/setup_venv.sh)";
  const fs::path fixtures = STRATA_SAVEDMODEL_FIXTURES;
  auto model = strata::load_model(fixtures / GetParam());
  const fs::path root = fs::temp_directory_path() / ("strata_sm_interop_" + GetParam() + "_" + std::to_string(::getpid()));
  const fs::path dir = root / "m";
  fs::remove_all(root);
  strata::save_model(*model, dir);
  const auto x = strata::read_npy(fixtures / (GetParam() + ".x.npy"));
  strata::write_npy(root / "strata_y.npy", model->predict(x));
  int rc = -1;
  const std::string out = run(py.string() + " " + STRATA_SAVEDMODEL_KERAS_LOADER + " " + dir.string() + " " +
                                  (fixtures / (GetParam() + ".x.npy")).string() + " " + (root / "strata_y.npy").string() +
                                  " 2>/dev/null",
                              rc);
  RecordProperty("tf_output", out);
  std::printf("TensorFlow said:\n%s", out.c_str());
  EXPECT_EQ(rc, 0) << out;
  for (const char* level : {"tf-load: ok", "call: ok", "cli: ok", "checkpoint: ok"}) {
    EXPECT_NE(out.find(level), std::string::npos) << level << " missing in:\n" << out;
  }
  EXPECT_NE(out.find("keras-load: FAILED"), std::string::npos) << "tf-keras now loads Strata's SavedModels: require it\n"
                                                                  << out;
  fs::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(Models, SavedModelInterop, ::testing::Values("dense_sequential", "conv_bn_functional"));

}  // namespace
