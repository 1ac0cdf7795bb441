// Keras 3 `.keras` archives from the JAX backend, both ways (issue 21, label interop). The
// archive format is backend-neutral; this checks it against Keras 3 running on JAX (CPU) in a
// venv of its own, made by tests/interop/setup_jax_venv.sh (run here; cached in
// $STRATA_JAX_VENV, default ~/.cache/strata/jax-venv). Skips when that venv cannot be made.
//  JAX Keras -> Strata: generate_keras3_jax_archives.py (run once, cached under
//   ~/.cache/strata/keras3-jax-archives by the hash of the generator, of keras3_archive_common.py
//   it imports and of the setup script) writes two trained models; Strata's load_model predicts
//   what Keras predicted (1e-5), has Keras's weights bit for bit and its optimizer's step count
//   (JAX stores `iterations` as int32, the TensorFlow backend as int64), and one train_on_batch
//   gives Keras's weights (relative 1e-4) and losses.
//  Strata -> JAX Keras: Strata saves what it loaded (after training one step) and a model it
//   built itself; keras3_jax_load_strata.py (one venv run) loads each with
//   keras.saving.load_model, predicts Strata's outputs (1e-5), has Strata's step count, and
//   resumes training to Strata's next step (relative 1e-4).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "keras3_archive_util.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/optimizer.hpp"
#include "strata/saving.hpp"
#include "strata/tensor.hpp"
#include "strata/training.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;
using namespace test::keras3;

const std::vector<std::string> kModels = {"functional_bn", "recurrent"};

fs::path interop_dir() {
  return fs::path(STRATA_SOURCE_DIR) / "tests/interop";
}

// The JAX venv, made (once) by setup_jax_venv.sh; `reason` says why there is none.
struct JaxVenv {
  fs::path python;
  std::string reason;
};

const JaxVenv& jax_venv() {
  static const JaxVenv venv = [] {
    JaxVenv v;
    std::string out;
    const int rc = test::run_capturing(q(interop_dir() / "setup_jax_venv.sh"), out);
    // The script prints the venv's path last, on stdout; its messages go to stderr.
    std::string last;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) last = line;
    }
    if (rc != 0 || !fs::exists(fs::path(last) / "bin/python")) {
      v.reason = "setup_jax_venv.sh could not make the JAX venv (exit " + std::to_string(rc) + "):\n" + out;
    } else {
      v.python = fs::path(last) / "bin/python";
    }
    return v;
  }();
  return venv;
}

std::string python_command(const fs::path& script, const std::string& arguments) {
  return "KERAS_BACKEND=jax JAX_PLATFORMS=cpu " + q(jax_venv().python) + " " + q(script) + " " + arguments;
}

// What generate_keras3_jax_archives.py wrote, generated once per generator, shared module and
// setup script (its pins); "" when the generator failed (`generator_output` says why).
std::string& generator_output() {
  static std::string out;
  return out;
}

const fs::path& fixtures() {
  static const fs::path dir = [] {
    const fs::path generator = interop_dir() / "generate_keras3_jax_archives.py";
    // The generator imports keras3_archive_common.py: it is part of the key too.
    const std::string key = test::read_text(generator) + test::read_text(interop_dir() / "keras3_archive_common.py") +
                            test::read_text(interop_dir() / "setup_jax_venv.sh");
    const char* home = std::getenv("HOME");
    const fs::path d = fs::path(home ? home : "/root") / ".cache/strata/keras3-jax-archives" /
                       std::to_string(std::hash<std::string>{}(key));
    test::generate_cached(
        d, "done",
        [&](const fs::path& out, std::string& text) {
          return test::run_capturing(python_command(generator, q(out)), text);
        },
        generator_output());
    return d;
  }();
  return dir;
}

const Config& index() {
  static const Config i = Config::parse(test::read_text(fixtures() / "index.json"));
  return i;
}

const Config& entry(const std::string& model) {
  return index()["models"][model];
}

std::int64_t iterations(const Model& model) {
  return cast(model.optimizer()->iterations().value().to(Device::cpu()), DType::kInt64).item<std::int64_t>();
}

// Skips without the venv; fails when the generator did not finish.
#define STRATA_NEED_JAX_FIXTURES()                                                                           \
  do {                                                                                                       \
    if (jax_venv().python.empty()) GTEST_SKIP() << jax_venv().reason;                                        \
    ASSERT_TRUE(fs::exists(fixtures() / "done")) << "the generator did not finish:\n" << generator_output(); \
  } while (false)

// ---- JAX Keras writes, Strata reads -----------------------------------------------------------

class JaxArchive : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { STRATA_NEED_JAX_FIXTURES(); }
  fs::path dir() const { return fixtures() / GetParam(); }
};

TEST_P(JaxArchive, LoadModelPredictsAsKerasOnJax) {
  const auto model = load_model(dir() / "model.keras");
  EXPECT_EQ(differs_close(model->predict(npys(dir(), "x")), npys(dir(), "pred"), 1e-5, 1e-5), "");
  EXPECT_EQ(differs_exact(model->get_weights(), npys(dir(), "w")), "");
}

// JAX keeps the optimizer's `iterations` as int32 (the TensorFlow backend: int64); Strata
// restores the count either way.
TEST_P(JaxArchive, RestoresTheInt32IterationCount) {
  EXPECT_EQ(entry(GetParam())["h5_datasets"]["optimizer/vars/0"].get<std::string>(), "int32[]")
      << "Keras on JAX no longer writes iterations as int32: update this test's comment";
  const auto model = load_model(dir() / "model.keras");
  ASSERT_TRUE(model->is_compiled());
  EXPECT_EQ(iterations(*model), 2) << "two fit steps of batch 8 over 16 samples";
}

TEST_P(JaxArchive, OneTrainOnBatchStepGivesKerasWeightsAndNextLoss) {
  const auto model = load_model(dir() / "model.keras");
  ASSERT_TRUE(model->is_compiled()) << "the archive's compile_config was not restored";
  const auto x = npys(dir(), "x");
  const auto y = npys(dir(), "y");
  const double loss1 = model->train_on_batch(x, y).at("loss");
  const double keras_loss1 = entry(GetParam())["loss1"].get<double>();
  EXPECT_LE(std::abs(loss1 - keras_loss1), 1e-4 * std::abs(keras_loss1)) << "step 1 loss " << loss1;
  EXPECT_EQ(differs_close(model->get_weights(), npys(dir(), "next"), 1e-4, 1e-6), "") << "weights after one step";
  const double loss2 = model->train_on_batch(x, y).at("loss");
  const double keras_loss2 = entry(GetParam())["loss2"].get<double>();
  EXPECT_LE(std::abs(loss2 - keras_loss2), 1e-4 * std::abs(keras_loss2)) << "step 2 loss " << loss2;
}

TEST_P(JaxArchive, LoadWeightsOfWeightsH5) {
  const auto model = load_model(dir() / "model.keras");
  model->set_weights(zeros_of(*model));
  load_weights(*model, dir() / "model.weights.h5");
  EXPECT_EQ(differs_exact(model->get_weights(), npys(dir(), "w")), "");
}

INSTANTIATE_TEST_SUITE_P(Jax, JaxArchive, ::testing::ValuesIn(kModels),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(JaxArchiveFiles, IndexNamesTheJaxBackendAndTheModels) {
  STRATA_NEED_JAX_FIXTURES();
  EXPECT_EQ(index()["backend"].get<std::string>(), "jax");
  for (const auto& m : kModels) EXPECT_TRUE(index()["models"].contains(m)) << m;
  EXPECT_EQ(index()["models"].size(), kModels.size());
}

// ---- Strata writes, JAX Keras reads -----------------------------------------------------------

void write_step_json(const fs::path& dir, double loss1, std::int64_t steps) {
  std::ofstream(dir / "step.json") << "{\"loss1\": " << Config(loss1).dump() << ", \"iterations\": " << steps << "}\n";
}

// Saves `model` (trained, compiled) into `d` with its data, predictions and next step.
void write_for_keras(Model& model, const std::vector<Tensor>& x, const std::vector<Tensor>& y, const fs::path& d) {
  fs::create_directories(d);
  save_model(model, d / "model.keras");
  write_npys(d, "x", x);
  write_npys(d, "y", y);
  write_npys(d, "pred", model.predict(x));
  const std::int64_t steps = iterations(model);
  const double loss1 = model.train_on_batch(x, y).at("loss");
  write_npys(d, "next", model.get_weights());
  write_step_json(d, loss1, steps);
}

const StrataFiles& strata_files() {
  static const StrataFiles files = [] {
    StrataFiles f;
    f.dir = fs::temp_directory_path() / ("strata_keras3_jax_" + std::to_string(::getpid()));
    fs::remove_all(f.dir);
    for (const auto& name : kModels) {
      try {
        // One step of Strata's own first, so that the archive holds a state Keras never saw.
        const auto model = load_model(fixtures() / name / "model.keras");
        const auto x = npys(fixtures() / name, "x");
        const auto y = npys(fixtures() / name, "y");
        model->train_on_batch(x, y);
        write_for_keras(*model, x, y, f.dir / name);
      } catch (const std::exception& e) {
        f.problems[name] += std::string("Strata: ") + e.what() + "\n";
      }
    }
    // A model Strata built and trained itself (no Keras file behind it).
    try {
      const auto x = npys(fixtures() / "functional_bn", "x");  // (16, 6)
      const auto y = npys(fixtures() / "functional_bn", "y");  // (16, 3)
      const auto model = strata_native_model(6, 3, x, y);
      write_for_keras(*model, x, y, f.dir / "strata_native");
    } catch (const std::exception& e) {
      f.problems["strata_native"] += std::string("Strata: ") + e.what() + "\n";
    }
    run_loader(python_command(interop_dir() / "keras3_jax_load_strata.py", q(f.dir)), f);
    fs::remove_all(f.dir);
    return f;
  }();
  return files;
}

class JaxKerasReadsStrata : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { STRATA_NEED_JAX_FIXTURES(); }
};

TEST_P(JaxKerasReadsStrata, LoadsPredictsAndResumesStratasTraining) {
  expect_ok(strata_files(), "keras3_jax_load_strata.py", GetParam(), {"load", "predict", "iterations", "resume"});
}

INSTANTIATE_TEST_SUITE_P(Jax, JaxKerasReadsStrata, ::testing::Values("functional_bn", "recurrent", "strata_native"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace strata
