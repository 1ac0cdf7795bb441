// Keras 3's `.keras` archives, `.weights.h5` and sharded `.weights.json` files, both ways,
// against real Keras 3 (issue 21, label interop). The files Keras 3 writes come from
// tests/interop/generate_keras3_archives.py, run once with the interop venv and cached under
// ~/.cache/strata/keras3-archives (by the hashes of the generator and of keras3_archive_common.py,
// which it imports, and the venv's version); see its
// docstring for the models. Skips without the venv.
//  Keras 3 -> Strata: load_model(.keras) predicts what Keras 3 predicted (1e-5); one
//   train_on_batch gives Keras 3's weights after one step (relative 1e-4) and the next step
//   Keras 3's loss; load_weights of `.weights.h5` and of the sharded `.weights.json` (several
//   shards) gives Keras 3's weights bit for bit; the unzipped directory form and an archive
//   with `model.weights.npz` load; a class no plugin has is an UnknownObjectError naming it.
//  Strata -> Keras 3: Strata saves what it loaded (`.keras`, `.weights.h5`, `.weights.json`)
//   and a model of its own; keras3_load_strata.py (one venv run for all) loads them with
//   keras.saving.load_model / load_weights: same predictions, the same weights bit for bit,
//   Keras 3 resuming from Strata's file = Keras 3 resuming from its own bit for bit, and
//   Strata's step = Keras 3's to 1e-4.
//  `strata convert` (the CLI) .keras -> legacy .h5 -> SavedModel -> .keras and .weights.h5 ->
//   TF checkpoint -> .weights.h5 keeps every weight bit for bit (Strata and Keras 3 read them
//   back); `strata info m.keras` prints Keras 3's metadata (keras_version, date_saved).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "keras3_archive_util.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/plugins.hpp"
#include "strata/saving.hpp"
#include "strata/tensor.hpp"
#include "strata/training.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;
using namespace test::keras3;

// The generator's models (checked against index.json by Keras3ArchiveFiles.IndexListsTheModels).
const std::vector<std::string> kModels = {"sequential",   "sequential_sgd",     "functional_shared", "nested",
                                          "custom_known", "custom_model_known", "custom_unknown",    "recurrent",
                                          "conv",         "transformer",        "string_lookup"};
// The models the parameterized tests load (the others: the unknown class; string_lookup, whose
// inputs are strings, has a test of its own).
const std::vector<std::string> kLoadable = {"sequential", "sequential_sgd", "functional_shared",
                                            "nested",     "custom_known",   "custom_model_known",
                                            "recurrent",  "conv",           "transformer"};

fs::path generator() {
  return fs::path(STRATA_SOURCE_DIR) / "tests/interop/generate_keras3_archives.py";
}
fs::path loader() {
  return fs::path(STRATA_SOURCE_DIR) / "tests/interop/keras3_load_strata.py";
}
// What the generator and the loader import (so part of the fixtures' cache key).
fs::path common_module() {
  return fs::path(STRATA_SOURCE_DIR) / "tests/interop/keras3_archive_common.py";
}

bool have_venv() {
  return fs::exists(test::venv_python());
}

// Keras 3's files, generated once per generator (and shared module) version and venv; $STRATA_KERAS3_ARCHIVE_DIR
// names another directory the generator wrote (then nothing is generated).
const fs::path& fixtures() {
  static const fs::path dir = [] {
    if (const char* given = std::getenv("STRATA_KERAS3_ARCHIVE_DIR"); given != nullptr && *given != '\0') {
      return fs::path(given);
    }
    const char* home = std::getenv("HOME");
    const fs::path d =
        test::generated_cache_dir(fs::path(home ? home : "/root") / ".cache/strata/keras3-archives", generator())
            .string() +
        "-" + std::to_string(std::hash<std::string>{}(test::read_text(common_module())));
    std::string out;
    const int rc = test::generate_with_script(d, "done", generator(), "", out);
    EXPECT_EQ(rc, 0) << out;
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

bool flag(const std::string& model, const char* key) {
  const Config& e = entry(model);
  return e.contains(key) && e[key].is_boolean() && e[key].get<bool>();
}

// The plugin with the custom classes custom_known / custom_model_known use, once per process.
void load_custom_plugin() {
  static const bool loaded = [] {
    PluginManager::global().load(STRATA_TEST_CUSTOM_PLUGIN);
    return true;
  }();
  (void)loaded;
}

// ---- Keras 3 writes, Strata reads -----------------------------------------------------------

class Keras3Archive : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!have_venv()) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    ASSERT_TRUE(fs::exists(fixtures() / "done")) << "the generator did not finish";
    load_custom_plugin();
  }
  fs::path dir() const { return fixtures() / GetParam(); }
  std::vector<Tensor> x() const { return npys(dir(), "x"); }
  std::vector<Tensor> y() const { return npys(dir(), "y"); }
  std::string predicts_as_keras(const Model& model) const {
    return differs_close(model.predict(x()), npys(dir(), "pred"), 1e-5, 1e-5);
  }
};

TEST_P(Keras3Archive, LoadModelPredictsAsKeras3) {
  const auto model = load_model(dir() / "model.keras");
  EXPECT_EQ(predicts_as_keras(*model), "");
  // get_weights in Keras 3's order, the values Keras 3 saved, bit for bit.
  EXPECT_EQ(differs_exact(model->get_weights(), npys(dir(), "w")), "");
}

TEST_P(Keras3Archive, OneTrainOnBatchStepGivesKeras3sWeightsAndNextLoss) {
  if (flag(GetParam(), "stochastic_training")) {
    GTEST_SKIP() << GetParam() << " trains with Dropout: its random mask is Keras 3's own draw";
  }
  const auto model = load_model(dir() / "model.keras");
  ASSERT_TRUE(model->is_compiled()) << "the archive's compile_config was not restored";
  const double loss1 = model->train_on_batch(x(), y()).at("loss");
  const double keras_loss1 = entry(GetParam())["loss1"].get<double>();
  EXPECT_LE(std::abs(loss1 - keras_loss1), 1e-4 * std::abs(keras_loss1))
      << "step 1 loss " << loss1 << ", Keras 3 " << keras_loss1;
  EXPECT_EQ(differs_close(model->get_weights(), npys(dir(), "next"), 1e-4, 1e-6), "") << "weights after one step";
  const double loss2 = model->train_on_batch(x(), y()).at("loss");
  const double keras_loss2 = entry(GetParam())["loss2"].get<double>();
  EXPECT_LE(std::abs(loss2 - keras_loss2), 1e-4 * std::abs(keras_loss2))
      << "step 2 loss " << loss2 << ", Keras 3 " << keras_loss2;
}

TEST_P(Keras3Archive, LoadWeightsOfWeightsH5) {
  const auto model = load_model(dir() / "model.keras");
  model->set_weights(zeros_of(*model));
  load_weights(*model, dir() / "model.weights.h5");
  EXPECT_EQ(differs_exact(model->get_weights(), npys(dir(), "w")), "");
  EXPECT_EQ(predicts_as_keras(*model), "");
}

TEST_P(Keras3Archive, LoadWeightsOfShardedWeightsJson) {
  const auto model = load_model(dir() / "model.keras");
  model->set_weights(zeros_of(*model));
  load_weights(*model, dir() / "model.weights.json");
  EXPECT_EQ(differs_exact(model->get_weights(), npys(dir(), "w")), "")
      << entry(GetParam())["shards"].size() << " shards";
  EXPECT_EQ(predicts_as_keras(*model), "");
}

TEST_P(Keras3Archive, LoadsTheUnzippedDirectoryForm) {
  const auto model = load_model(dir() / "model_dir");
  EXPECT_EQ(predicts_as_keras(*model), "");
  EXPECT_EQ(differs_exact(model->get_weights(), npys(dir(), "w")), "");
}

INSTANTIATE_TEST_SUITE_P(Keras3, Keras3Archive, ::testing::ValuesIn(kLoadable),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

class Keras3ArchiveFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_venv()) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    ASSERT_TRUE(fs::exists(fixtures() / "done")) << "the generator did not finish";
    load_custom_plugin();
  }
};

TEST_F(Keras3ArchiveFiles, IndexListsTheModels) {
  std::set<std::string> listed;
  for (const auto& [name, e] : index()["models"].items()) listed.insert(name);
  EXPECT_EQ(listed, std::set<std::string>(kModels.begin(), kModels.end()));
  EXPECT_EQ(index()["backend"].get<std::string>(), "tensorflow");
  // Several shards for at least the larger models (the sharded loads are real ones).
  EXPECT_GE(entry("transformer")["shards"].size(), 2u);
  EXPECT_GE(entry("recurrent")["shards"].size(), 2u);
}

TEST_F(Keras3ArchiveFiles, UnknownRegisteredClassIsAnUnknownObjectErrorNamingIt) {
  const fs::path file = fixtures() / "custom_unknown" / "model.keras";
  try {
    load_model(file);
    FAIL() << "loaded " << file << ", whose class StrataTest>StrataUnknownModel no plugin has";
  } catch (const UnknownObjectError& e) {
    EXPECT_NE(std::string(e.what()).find("StrataUnknownModel"), std::string::npos) << e.what();
    ASSERT_FALSE(e.missing().empty());
    EXPECT_NE(e.missing()[0].name.find("StrataUnknownModel"), std::string::npos) << e.missing()[0].name;
  }
}

// An adapted StringLookup keeps its vocabulary in assets/layers/lookup/vocabulary.txt, not in
// its config (issue 23): Strata reads it from the zip and from the unzipped directory and
// predicts Keras 3's outputs on the string inputs (x0.json, written as a '<U' .npy first); its
// own archive holds the same asset, and Keras 3's load_model reads that archive and predicts
// the same.
TEST_F(Keras3ArchiveFiles, StringLookupVocabularyInAssetsBothWays) {
  const Config& e = entry("string_lookup");
  const fs::path d = fixtures() / "string_lookup";
  std::string asset_name = "assets/layers/lookup/vocabulary.txt";
  if (!e["assets"].contains(asset_name)) asset_name = "assets/layers/string_lookup/vocabulary.txt";
  ASSERT_TRUE(e["assets"].contains(asset_name)) << "Keras 3 wrote no vocabulary asset: " << e["assets"].dump();
  const Config text = Config::parse(test::read_text(d / "x0.json"));
  std::vector<std::string> words;
  for (const auto& row : text) {
    for (const auto& w : row) words.push_back(w.get<std::string>());
  }
  const Tensor x = Tensor::from_strings(words, Shape{static_cast<std::int64_t>(text.size()), 3});
  const fs::path tmp = fs::temp_directory_path() / ("strata-k3-lookup-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  write_npy(tmp / "x0.npy", x);
  const auto pred = npys(d, "pred");
  for (const char* form : {"model.keras", "model_dir"}) {
    const auto model = load_model(d / form);
    EXPECT_EQ(model->get_weights().size(), e["weights"].get<std::size_t>()) << form;
    EXPECT_EQ(differs_close(model->predict(std::vector<Tensor>{x}), pred, 1e-5, 1e-5), "") << form;
    if (std::string(form) == "model.keras") save_model(*model, tmp / "strata.keras");
  }
  // Strata's archive: the same vocabulary member as Keras 3's, and Keras 3 reads it.
  std::string out;
  const std::string script =
      "import os, sys, zipfile, numpy as np\n"
      "os.environ.pop('TF_USE_LEGACY_KERAS', None)\n"
      "mine = zipfile.ZipFile(sys.argv[1] + '/strata.keras').read(sys.argv[4])\n"
      "theirs = zipfile.ZipFile(sys.argv[3]).read(sys.argv[4])\n"
      "if mine != theirs: sys.exit('asset differs: %r, Keras 3 wrote %r' % (mine, theirs))\n"
      "import keras, tensorflow as tf\n"
      "m = keras.saving.load_model(sys.argv[1] + '/strata.keras')\n"
      "y = np.asarray(m(tf.constant(np.load(sys.argv[1] + '/x0.npy')), training=False))\n"
      "want = np.load(sys.argv[2])\n"
      "d = float(np.max(np.abs(y - want)))\n"
      "print('max diff', d)\n"
      "sys.exit(0 if d <= 1e-5 + 1e-5 * float(np.max(np.abs(want))) else 1)\n";
  std::ofstream(tmp / "check.py") << script;
  const int rc = test::run_capturing("TF_CPP_MIN_LOG_LEVEL=3 '" + test::venv_python().string() + "' '" +
                                         (tmp / "check.py").string() + "' '" + tmp.string() + "' '" +
                                         (d / "pred0.npy").string() + "' '" + (d / "model.keras").string() + "' '" +
                                         asset_name + "'",
                                     out);
  EXPECT_EQ(rc, 0) << "Keras 3 on Strata's archive: " << out;
  fs::remove_all(tmp);
}

// Keras 3's `weights_format="npz"` archive (model.weights.npz instead of model.weights.h5).
// Keras 3.15 pickles each object's variables there (object arrays) and refuses its own file;
// Strata never unpickles: then a FormatError naming the member. If Keras can load it, so must
// Strata.
TEST_F(Keras3ArchiveFiles, NpzWeightsArchiveAsKeras3Does) {
  const fs::path dir = fixtures() / "sequential_sgd";
  const std::string keras_did = entry("sequential_sgd")["npz_keras_loads"].get<std::string>();
  if (keras_did == "yes") {
    const auto model = load_model(dir / "model_npz.keras");
    EXPECT_EQ(differs_close(model->predict(npys(dir, "x")), npys(dir, "pred"), 1e-5, 1e-5), "");
    EXPECT_EQ(differs_exact(model->get_weights(), npys(dir, "w")), "");
    return;
  }
  try {
    load_model(dir / "model_npz.keras");
    ADD_FAILURE() << "Strata loaded the pickled npz archive Keras 3 itself refuses (" << keras_did << ")";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("model.weights.npz"), std::string::npos) << e.what();
  }
}

// ---- the CLI ----------------------------------------------------------------------------------

int run_strata(const std::string& args, std::string& out) {
  out.clear();
  // The CLI finds the test plugin with the StrataTest classes through STRATA_PLUGIN_PATH.
  return test::run_capturing("STRATA_PLUGIN_PATH=" + q(fs::path(STRATA_TEST_CUSTOM_PLUGIN).parent_path()) + " " +
                                 q(STRATA_CLI_PATH) + " " + args,
                             out);
}

TEST_F(Keras3ArchiveFiles, StrataInfoPrintsKeras3Metadata) {
  for (const std::string model : {"sequential", "functional_shared"}) {
    const Config& metadata = entry(model)["metadata"];
    std::string out;
    if (run_strata("info " + q(fixtures() / model / "model.keras"), out) != 0) {
      ADD_FAILURE() << "strata info of " << model << "/model.keras failed: " << out;
      continue;
    }
    EXPECT_NE(out.find(metadata["keras_version"].get<std::string>()), std::string::npos) << out;
    EXPECT_NE(out.find(metadata["date_saved"].get<std::string>()), std::string::npos) << out;
  }
}

// ---- Strata writes, Keras 3 reads -------------------------------------------------------------

// Removes what Strata wrote for Keras 3 (strata_files().dir) after the run, unless
// STRATA_KEEP_TEST_FILES is set (then its path is printed).
fs::path& written_dir() {
  static fs::path dir;
  return dir;
}

class RemoveWrittenFiles : public ::testing::Environment {
 public:
  void TearDown() override {
    if (written_dir().empty()) return;
    if (std::getenv("STRATA_KEEP_TEST_FILES") != nullptr) {
      std::printf("keras3_archive_test: Strata's files kept in %s\n", written_dir().c_str());
    } else {
      std::error_code ec;
      fs::remove_all(written_dir(), ec);
    }
  }
};
::testing::Environment* const kRemoveWrittenFiles = ::testing::AddGlobalTestEnvironment(new RemoveWrittenFiles);

// Everything Strata writes for keras3_load_strata.py, and that script's report (StrataFiles),
// written once per process.
void write_step_json(const fs::path& dir, double loss1) {
  std::ofstream(dir / "step.json") << "{\"loss1\": " << Config(loss1).dump() << "}\n";
}

// The convert chain of one model, in `dir`: .keras -> legacy .h5 -> SavedModel -> .keras, and
// weights .weights.h5 -> TF checkpoint -> .weights.h5 (the architecture: Keras 3's archive).
std::string convert_chain(const std::string& model, const fs::path& source, const fs::path& dir) {
  std::string out, problems;
  const auto convert = [&](const std::string& args) {
    if (run_strata("convert " + args, out) != 0) problems += "strata convert " + args + ": " + out + "\n";
  };
  const bool subclassed = model == "custom_model_known";
  convert(q(source / "model.keras") + " " + q(dir / "convert_direct.keras"));
  if (!subclassed) {  // Keras (tf-keras and Keras 3) write no subclassed model to legacy H5
    convert(q(source / "model.keras") + " " + q(dir / "convert_legacy.h5"));
    convert(q(dir / "convert_legacy.h5") + " " + q(dir / "savedmodel"));
    convert(q(dir / "savedmodel") + " " + q(dir / "convert_from_savedmodel.keras"));
  }
  convert(q(source / "model.weights.h5") + " " + q(dir / "ckpt") + " --weights-into " + q(source / "model.keras"));
  convert(q(dir / "ckpt") + " " + q(dir / "convert_from_ckpt.weights.h5") + " --weights-into " +
          q(source / "model.keras"));
  return problems;
}

const StrataFiles& strata_files() {
  static const StrataFiles files = [] {
    StrataFiles f;
    f.dir = fs::temp_directory_path() / ("strata_keras3_archive_" + std::to_string(::getpid()));
    fs::remove_all(f.dir);
    written_dir() = f.dir;
    for (const auto& name : kLoadable) {
      const fs::path source = fixtures() / name;
      const fs::path d = f.dir / name;
      fs::create_directories(d);
      // Each step on its own: one that fails is reported and the others still run.
      const auto attempt = [&](const char* what, const std::function<void()>& step) {
        try {
          step();
        } catch (const std::exception& e) {
          f.problems[name] += std::string("Strata ") + what + ": " + e.what() + "\n";
        }
      };
      std::shared_ptr<Model> model;
      attempt("load_model", [&] { model = load_model(source / "model.keras"); });
      if (model) {
        attempt("save_model", [&] { save_model(*model, d / "model.keras"); });
        attempt("save_weights", [&] { save_weights(*model, d / "model.weights.h5"); });
        attempt("save_weights (sharded)", [&] { save_weights(*model, d / "model.weights.json"); });
        attempt("predict", [&] { write_npys(d, "pred", model->predict(npys(source, "x"))); });
        attempt("train_on_batch", [&] {
          const double loss1 = model->train_on_batch(npys(source, "x"), npys(source, "y")).at("loss");
          write_npys(d, "next", model->get_weights());
          write_step_json(d, loss1);
        });
      }
      f.problems[name] += convert_chain(name, source, d);
    }
    // A model Strata built and trained itself (no Keras 3 file behind it).
    try {
      const fs::path d = f.dir / "strata_native";
      fs::create_directories(d);
      const auto x = npys(fixtures() / "custom_known", "x");  // (16, 4)
      const auto y = npys(fixtures() / "custom_known", "y");  // (16, 2)
      const auto model = strata_native_model(4, 2, x, y);
      save_model(*model, d / "model.keras");
      write_npys(d, "x", x);
      write_npys(d, "y", y);
      write_npys(d, "pred", model->predict(x));
      write_step_json(d, model->train_on_batch(x, y).at("loss"));
      write_npys(d, "next", model->get_weights());
    } catch (const std::exception& e) {
      f.problems["strata_native"] += std::string("Strata: ") + e.what() + "\n";
    }
    run_loader(q(test::venv_python()) + " " + q(loader()) + " " + q(fixtures()) + " " + q(f.dir), f);
    return f;
  }();
  return files;
}

class Keras3ReadsStrata : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!have_venv()) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    ASSERT_TRUE(fs::exists(fixtures() / "done")) << "the generator did not finish";
    load_custom_plugin();
  }
  // Each check keras3_load_strata.py must have reported "ok" for this model.
  void expect_ok(const std::vector<std::string>& checks) const {
    test::keras3::expect_ok(strata_files(), "keras3_load_strata.py", GetParam(), checks);
  }
};

TEST_P(Keras3ReadsStrata, LoadsPredictsAndResumesAsFromItsOwnFile) {
  std::vector<std::string> checks = {"load", "predict", "weights_exact", "resume_exact", "weights_h5", "weights_json"};
  if (!flag(GetParam(), "stochastic_training")) checks.push_back("resume_strata");
  expect_ok(checks);
}

TEST_P(Keras3ReadsStrata, ConvertKeepsEveryWeightBitForBit) {
  std::vector<std::string> checks = {"convert_direct.keras", "convert_from_ckpt.weights.h5"};
  if (GetParam() != "custom_model_known") checks.push_back("convert_from_savedmodel.keras");
  // tf-keras reads the legacy H5 (Strata writes tf-keras's dialect there); it has no StrataTest classes.
  if (entry(GetParam())["custom_class"].is_null()) checks.push_back("convert_legacy.h5 (tf-keras)");
  expect_ok(checks);
  const fs::path d = strata_files().dir / GetParam();
  const auto want = npys(fixtures() / GetParam(), "w");
  // Strata reads each step of the chain back with the same weights.
  if (GetParam() != "custom_model_known") {
    for (const char* file : {"convert_legacy.h5", "savedmodel", "convert_from_savedmodel.keras"}) {
      try {
        EXPECT_EQ(differs_exact(load_model(d / file)->get_weights(), want), "") << file;
      } catch (const std::exception& e) {
        ADD_FAILURE() << file << ": " << e.what();
      }
    }
  }
  try {
    const auto model = load_model(fixtures() / GetParam() / "model.keras");
    model->set_weights(zeros_of(*model));
    load_weights(*model, d / "ckpt");
    EXPECT_EQ(differs_exact(model->get_weights(), want), "") << "ckpt";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "ckpt: " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Keras3, Keras3ReadsStrata, ::testing::ValuesIn(kLoadable),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(Keras3ReadsStrataNative, StrataBuiltModelLoadsPredictsAndResumesInKeras3) {
  if (!have_venv()) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
  ASSERT_TRUE(fs::exists(fixtures() / "done")) << "the generator did not finish";
  load_custom_plugin();
  expect_ok(strata_files(), "keras3_load_strata.py", "strata_native", {"load", "predict", "resume_strata"});
}

}  // namespace
}  // namespace strata
