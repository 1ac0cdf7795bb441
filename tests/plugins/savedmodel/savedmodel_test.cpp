// Tests of the format-savedmodel plugin against SavedModel directories written by
// tf-keras 2.17 (tests/data/savedmodel; expected predictions and losses come from Keras).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "fixture_dir.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/saving.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"
#include "strata/tf/saved_model.pb.h"

namespace {

namespace fs = std::filesystem;

// The tf-keras SavedModels: tests/data/savedmodel (2.17, compiled in) or
// $STRATA_SAVEDMODEL_FIXTURE_DIR (the second version: tests/interop/fixture_set_current_venv.sh).
const fs::path kFixtures = strata::test::fixture_dir("STRATA_SAVEDMODEL_FIXTURE_DIR", STRATA_SAVEDMODEL_FIXTURES);

const nlohmann::json& index_json() {
  static const nlohmann::json j = [] {
    std::ifstream in(kFixtures / "index.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

strata::Tensor npy(const std::string& name) { return strata::read_npy(kFixtures / name); }

// Every fixture SavedModel, built from the classes (KerasTraced* revive them from their
// traces), except custom_layer_functional, whose class only the tests' plugin provides
// (savedmodel_traces_test loads it).
std::vector<std::string> class_built_fixtures() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : index_json()["models"].items()) {
    if (name != "custom_layer_functional") names.push_back(name);
  }
  return names;
}

// Training draws dropout masks there: Strata's random streams are not TensorFlow's, so a
// training step is compared only where the model draws nothing.
bool trains_deterministically(const std::string& name) { return name != "dropout_conv"; }

class KerasSavedModel : public ::testing::TestWithParam<std::string> {};

TEST_P(KerasSavedModel, PredictsWhatKerasPredicted) {
  auto model = strata::load_model(kFixtures / GetParam());
  const auto got = model->predict(npy(GetParam() + ".x.npy")).to_vector<float>();
  const auto want = npy(GetParam() + ".y.npy").to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "element " << i;
  EXPECT_TRUE(model->is_compiled()) << "training_config was not restored";
}

TEST_P(KerasSavedModel, ResumesTrainingWithKerasOptimizerState) {
  if (!trains_deterministically(GetParam())) GTEST_SKIP() << GetParam() << " draws dropout masks in training";
  auto model = strata::load_model(kFixtures / GetParam());
  ASSERT_TRUE(model->is_compiled());
  const auto& entry = index_json()["models"][GetParam()];
  EXPECT_EQ(model->optimizer()->iterations().value().to_vector<std::int64_t>().at(0),
            entry["optimizer_iterations"].get<std::int64_t>());
  const double got = model->train_on_batch({npy(GetParam() + ".tx.npy")}, {npy(GetParam() + ".ty.npy")}).at("loss");
  const double ref = entry["loss_after_save"].get<double>();
  EXPECT_LE(std::abs(got - ref), 1e-5 + 1e-4 * std::abs(ref)) << "Strata " << got << ", Keras " << ref;
}



INSTANTIATE_TEST_SUITE_P(Fixtures, KerasSavedModel, ::testing::ValuesIn(class_built_fixtures()));

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("strata_savedmodel_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

fs::path copy_fixture(const std::string& fixture, const std::string& name) {
  const fs::path d = fresh_dir(name) / fixture;
  fs::copy(kFixtures / fixture, d, fs::copy_options::recursive);
  return d;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The loader's message must name the directory or file and must not crash.
void expect_format_error(const fs::path& dir, const std::string& must_mention) {
  try {
    strata::load_model(dir);
    ADD_FAILURE() << "loading " << dir << " did not fail";
  } catch (const strata::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(must_mention), std::string::npos) << e.what();
  }
}

TEST_P(KerasSavedModel, StrataRoundTripPredictsAndResumesIdentically) {
  auto original = strata::load_model(kFixtures / GetParam());
  const fs::path dir = fresh_dir("roundtrip_" + GetParam()) / "model";
  strata::save_model(*original, dir);
  EXPECT_TRUE(fs::exists(dir / "saved_model.pb"));
  EXPECT_TRUE(fs::exists(dir / "keras_metadata.pb"));
  EXPECT_TRUE(fs::exists(dir / "variables" / "variables.index"));
  EXPECT_TRUE(fs::is_directory(dir / "assets"));
  auto reloaded = strata::load_model(dir);
  const auto x = npy(GetParam() + ".x.npy");
  EXPECT_EQ(original->predict(x).to_vector<float>(), reloaded->predict(x).to_vector<float>());
  ASSERT_TRUE(reloaded->is_compiled());
  const auto tx = npy(GetParam() + ".tx.npy"), ty = npy(GetParam() + ".ty.npy");
  for (int step = 0; step < 2 && trains_deterministically(GetParam()); ++step) {
    EXPECT_EQ(original->train_on_batch({tx}, {ty}).at("loss"), reloaded->train_on_batch({tx}, {ty}).at("loss"))
        << "step " << step;
  }
  // Saving again over the existing directory replaces it (and leaves no temp dirs behind).
  strata::save_model(*reloaded, dir);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.parent_path()), fs::directory_iterator()), 1);
  EXPECT_EQ(strata::load_model(dir)->predict(x).to_vector<float>(), reloaded->predict(x).to_vector<float>());
}

// TF <= 2.4 (the guide's TF 2.2 era) wrote no keras_metadata.pb: each Keras object's
// metadata JSON sat in its SavedUserObject.metadata. The tf-keras fixtures rewritten into
// that layout load, predict what Keras predicted and resume training as before.
TEST_P(KerasSavedModel, LoadsFromTheTf22LayoutWithMetadataInTheObjectGraph) {
  const fs::path d = copy_fixture(GetParam(), "tf22_" + GetParam());
  strata::keras::SavedMetadata md;
  {
    std::ifstream in(d / "keras_metadata.pb", std::ios::binary);
    ASSERT_TRUE(md.ParseFromIstream(&in));
  }
  strata::tf::SavedModel sm;
  {
    std::ifstream in(d / "saved_model.pb", std::ios::binary);
    ASSERT_TRUE(sm.ParseFromIstream(&in));
  }
  auto* objects = sm.mutable_meta_graphs(0)->mutable_object_graph_def();
  for (const auto& node : md.nodes()) {
    ASSERT_LT(node.node_id(), objects->nodes_size());
    objects->mutable_nodes(node.node_id())->mutable_user_object()->set_metadata(node.metadata());
  }
  std::string bytes;
  ASSERT_TRUE(sm.SerializeToString(&bytes));
  write_bytes(d / "saved_model.pb", bytes);
  fs::remove(d / "keras_metadata.pb");

  auto model = strata::load_model(d);
  const auto got = model->predict(npy(GetParam() + ".x.npy")).to_vector<float>();
  const auto want = npy(GetParam() + ".y.npy").to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "element " << i;
  ASSERT_TRUE(model->is_compiled());
  if (!trains_deterministically(GetParam())) return;
  const double loss = model->train_on_batch({npy(GetParam() + ".tx.npy")}, {npy(GetParam() + ".ty.npy")}).at("loss");
  const double ref = index_json()["models"][GetParam()]["loss_after_save"].get<double>();
  EXPECT_LE(std::abs(loss - ref), 1e-5 + 1e-4 * std::abs(ref)) << "Strata " << loss << ", Keras " << ref;
}

TEST(SavedModelBadInput, MissingSavedModelPb) {
  const fs::path d = copy_fixture("dense_sequential", "missing_pb");
  fs::remove(d / "saved_model.pb");
  expect_format_error(d, "saved_model.pb");
}

TEST(SavedModelBadInput, CorruptSavedModelPb) {
  const fs::path d = copy_fixture("dense_sequential", "corrupt_pb");
  write_bytes(d / "saved_model.pb", std::string("\xff\xff\xff\xff garbage", 12));
  expect_format_error(d, "saved_model.pb");
}

TEST(SavedModelBadInput, CorruptKerasMetadata) {
  const fs::path d = copy_fixture("dense_sequential", "corrupt_md");
  write_bytes(d / "keras_metadata.pb", std::string("\x0a\xff\xff\xff\x0f", 5));
  expect_format_error(d, "keras_metadata.pb");
}

TEST(SavedModelBadInput, BadMetadataJson) {
  const fs::path d = copy_fixture("dense_sequential", "bad_json");
  // One node 0 whose metadata is not JSON: field 2 (node_id) = 0, field 5 (metadata).
  const std::string md = std::string("\x0a\x0b\x10\x00\x2a\x07{broken", 13);
  write_bytes(d / "keras_metadata.pb", md);
  expect_format_error(d, "node 0");
}

TEST(SavedModelBadInput, MissingVariables) {
  const fs::path d = copy_fixture("dense_sequential", "no_vars");
  fs::remove_all(d / "variables");
  expect_format_error(d, "variables");
}

// ---- a crash mid-save ---------------------------------------------------------------------------

// Sets every weight of `model` to `value`.
void fill_weights(strata::Model& model, float value) {
  std::vector<strata::Tensor> w;
  for (const auto& t : model.get_weights()) w.push_back(strata::Tensor::from_vector<float>(std::vector<float>(static_cast<std::size_t>(t.num_elements()), value), t.shape()));
  model.set_weights(w);
}

// The child of KilledMidSaveLeavesALoadableSavedModel: saves over $STRATA_CRASH_CHILD_DIR
// forever, save k with every weight equal to k.
TEST(SavedModelCrash, ChildSavesForever) {
  const char* dir = std::getenv("STRATA_CRASH_CHILD_DIR");
  if (dir == nullptr) GTEST_SKIP() << "runs as the child of SavedModelCrash.KilledMidSaveLeavesALoadableSavedModel";
  auto model = strata::load_model(kFixtures / "dense_sequential");
  for (int k = 1;; ++k) {
    fill_weights(*model, static_cast<float>(k));
    strata::save_model(*model, dir);
  }
}

// A process killed (SIGKILL) at arbitrary points of saving over an existing SavedModel
// leaves a complete one behind: the previous save or the new one, never a mix or nothing.
TEST(SavedModelCrash, KilledMidSaveLeavesALoadableSavedModel) {
  const fs::path dir = fresh_dir("crash") / "model";
  auto model = strata::load_model(kFixtures / "dense_sequential");
  fill_weights(*model, 0.0f);
  strata::save_model(*model, dir);
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  const std::string env_dir = "STRATA_CRASH_CHILD_DIR=" + dir.string();
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(const_cast<char*>(env_dir.c_str()));
  envp.push_back(nullptr);
  std::string filter = "--gtest_filter=SavedModelCrash.ChildSavesForever";
  char* argv[] = {const_cast<char*>(exe.c_str()), filter.data(), nullptr};
  float previous = 0.0f;
  int advanced = 0;
  std::string seen;
  for (int round = 0; round < 12; ++round) {
    pid_t pid = 0;
    ASSERT_EQ(::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()), 0);
    // Kill times spread over start-up and many saves (each save takes a few ms here).
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 37 * round));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended on its own (status " << status << ")";
    auto loaded = strata::load_model(dir);  // must not throw
    const auto weights = loaded->get_weights();
    const float value = weights.front().to_vector<float>().front();
    for (const auto& w : weights) {
      for (const float v : w.to_vector<float>()) ASSERT_EQ(v, value) << "round " << round << ": weights of two saves mixed";
    }
    EXPECT_EQ(value, std::floor(value));
    advanced += value != previous;
    previous = value;
    seen += " " + std::to_string(static_cast<int>(value));
  }
  std::cout << "save counter found after each kill:" << seen << "\n";
  EXPECT_GT(advanced, 0) << "no child got a save done before it was killed: the test exercised nothing";
  // The next save removes what killed saves left behind.
  strata::save_model(*model, dir);
  for (const auto& entry : fs::directory_iterator(dir.parent_path())) {
    EXPECT_EQ(entry.path().filename().string().find("strata-tmp"), std::string::npos) << entry.path();
  }
}

// ---- the writer: variables/, the object graph, the commit -------------------------------------

// variables/ holds the checkpoint and nothing else: tf.saved_model.save writes no `checkpoint`
// state file there (a stray one made the directory look like a training checkpoint directory).
TEST(SavedModelWrite, VariablesHoldsNoCheckpointStateFile) {
  auto model = strata::load_model(kFixtures / "dense_sequential");
  const fs::path dir = fresh_dir("no_state_file") / "model";
  strata::save_model(*model, dir);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir / "variables")) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"variables.data-00000-of-00001", "variables.index"}));
}

// Delegates to the real file system, but the index of variables/ it writes is damaged: a
// writer that read back the checkpoint it had just written fails on it, one that builds its
// object graph in memory does not read it at all.
class DamagingIndexFileSystem final : public strata::FileSystem {
 public:
  explicit DamagingIndexFileSystem(strata::FileSystem& real) : real_(real) {}
  void write_file(const fs::path& p, std::string_view data) override {
    if (p.filename().string().find("variables.index") != std::string::npos && data.size() > 8) {
      std::string damaged(data);
      for (std::size_t i = 0; i < damaged.size() - 8; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
      ++damaged_;
      real_.write_file(p, damaged);
      return;
    }
    real_.write_file(p, data);
  }
  void rename(const fs::path& a, const fs::path& b) override { real_.rename(a, b); }
  void exchange(const fs::path& a, const fs::path& b) override { real_.exchange(a, b); }
  void remove_all(const fs::path& p) override { real_.remove_all(p); }
  void create_directories(const fs::path& p) override { real_.create_directories(p); }
  void sync_directory(const fs::path& d) override { real_.sync_directory(d); }
  int damaged() const { return damaged_; }

 private:
  strata::FileSystem& real_;
  int damaged_ = 0;
};

TEST(SavedModelWrite, TheObjectGraphIsNotReadBackFromDisk) {
  auto model = strata::load_model(kFixtures / "dense_sequential");
  const fs::path dir = fresh_dir("no_read_back") / "model";
  auto damaging = std::make_shared<DamagingIndexFileSystem>(strata::file_system());
  {
    strata::ScopedFileSystem scope(damaging);
    EXPECT_NO_THROW(strata::save_model(*model, dir));
  }
  ASSERT_EQ(damaging->damaged(), 1);
  // The graph written into saved_model.pb is the checkpoint's, node for node.
  strata::tf::SavedModel sm;
  std::ifstream in(dir / "saved_model.pb", std::ios::binary);
  ASSERT_TRUE(sm.ParseFromIstream(&in));
  EXPECT_GT(sm.meta_graphs(0).object_graph_def().nodes_size(), 3);
  // The damaged index is what the file system was asked to write: loading reports it.
  EXPECT_THROW(strata::load_model(dir), strata::FormatError);
}

// Records the paths removed through the seam, fails its Nth call (0: never).
class RecordingFileSystem final : public strata::FileSystem {
 public:
  RecordingFileSystem(strata::FileSystem& real, int fail_at) : real_(real), fail_at_(fail_at) {}
  void write_file(const fs::path& p, std::string_view data) override {
    tick("write_file");
    real_.write_file(p, data);
  }
  void rename(const fs::path& a, const fs::path& b) override {
    tick("rename");
    real_.rename(a, b);
  }
  void exchange(const fs::path& a, const fs::path& b) override {
    tick("exchange");
    real_.exchange(a, b);
  }
  void remove_all(const fs::path& p) override {
    removed.push_back(p);
    tick("remove_all");
    real_.remove_all(p);
  }
  void create_directories(const fs::path& p) override {
    tick("create_directories");
    real_.create_directories(p);
  }
  void sync_directory(const fs::path& d) override {
    tick("sync_directory");
    real_.sync_directory(d);
  }
  std::vector<fs::path> removed;

 private:
  void tick(const char* what) {
    if (++calls_ == fail_at_) STRATA_THROW(IOError, "injected failure at call ", calls_, " (", what, ")");
  }
  strata::FileSystem& real_;
  int fail_at_;
  std::atomic<int> calls_{0};
};

// A failure at every file-system call of a save over an existing SavedModel leaves a whole
// SavedModel (the old one before the commit, the new one after), and the unfinished
// temporary is removed through the seam, not behind its back.
TEST(SavedModelWrite, AFailureAtEveryFileSystemCallLeavesAWholeSavedModel) {
  auto model = strata::load_model(kFixtures / "dense_sequential");
  const fs::path dir = fresh_dir("commit") / "model";
  fill_weights(*model, 1.0f);
  strata::save_model(*model, dir);
  fill_weights(*model, 2.0f);
  bool succeeded = false;
  int failures = 0;
  for (int n = 1; !succeeded && n < 60; ++n) {
    auto recording = std::make_shared<RecordingFileSystem>(strata::file_system(), n);
    {
      strata::ScopedFileSystem scope(recording);
      try {
        strata::save_model(*model, dir);
        succeeded = true;
      } catch (const strata::IOError& e) {
        ++failures;
        // The unfinished temporary was removed through the file system (when it existed).
        bool removed_tmp = false;
        for (const auto& p : recording->removed) removed_tmp |= p.filename().string().find(".model.strata-tmp-") == 0;
        const bool had_tmp = n > 1;  // call 1 creates it
        if (had_tmp) {
          EXPECT_TRUE(removed_tmp) << "failure at call " << n << ": " << e.what();
        }
      }
    }
    auto loaded = strata::load_model(dir);
    const float value = loaded->get_weights().front().to_vector<float>().front();
    EXPECT_TRUE(value == 1.0f || value == 2.0f) << "failure at call " << n;
    if (!succeeded) {
      for (const auto& entry : fs::directory_iterator(dir.parent_path())) {
        EXPECT_EQ(entry.path().filename().string().find("strata-tmp"), std::string::npos)
            << "failure at call " << n << " left " << entry.path();
      }
    }
  }
  EXPECT_TRUE(succeeded);
  EXPECT_GT(failures, 5);
}

}  // namespace
