// Issue 19 (stop 22): the summary of a Functional or Sequential model revived from a
// SavedModel without its classes shows each layer's output shape, as tf-keras's revived
// model's summary does (tf-keras rebuilds the graph from the config with the revived layers
// in place). Before, every row said "multiple".
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "fixture_dir.hpp"
#include "interop_venv.hpp"
#include "strata/config.hpp"
#include "strata/graph.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;
using strata::Config;

const fs::path kFixtures = strata::test::fixture_dir("STRATA_SAVEDMODEL_FIXTURE_DIR", STRATA_SAVEDMODEL_FIXTURES);

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("strata_revived_summary_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Layer name -> its Output Shape column, from a Keras-style summary (either layout:
// fields are separated by two or more spaces; shapes hold single spaces only).
std::map<std::string, std::string> output_shapes(const std::string& summary) {
  std::map<std::string, std::string> out;
  std::istringstream in(summary);
  const std::regex row(R"(^ (\S+) \((\w+)\)\s{2,}(\S(?:\S| \S)*)\s{2,}\d+.*$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, row)) out[m[1].str()] = m[3].str();
  }
  return out;
}

strata::LoadOptions revive() {
  strata::LoadOptions o;
  o.revive_from_traces = true;
  return o;
}

// Two branches joined: a Functional model that is not a chain.
std::shared_ptr<strata::Model> branched() {
  const strata::Tensor in = strata::Input(strata::Shape({6}), "features");
  auto dense = [](int units, const char* name) {
    return strata::make_layer("Dense", Config{{"units", units}, {"name", name}});
  };
  const strata::Tensor a = (*dense(4, "left"))(in);
  const strata::Tensor b = (*dense(3, "right"))(in);
  const strata::Tensor j = (*strata::make_layer("Concatenate", Config{{"name", "joined"}}))(std::vector<strata::Tensor>{a, b})[0];
  const strata::Tensor out = (*dense(2, "scores"))(j);
  return std::make_shared<strata::Functional>(std::vector<strata::Tensor>{in}, std::vector<strata::Tensor>{out}, "branched");
}

std::shared_ptr<strata::Model> sequential() {
  return std::make_shared<strata::Sequential>(Config::parse(R"({"name": "seq", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 5], "dtype": "float32", "name": "x"}},
      {"class_name": "Dense", "config": {"name": "first", "units": 3, "activation": "relu"}},
      {"class_name": "Dense", "config": {"name": "second", "units": 2}}]})"));
}

// tf-keras 2.17's load_model of the fixture without CustomDense prints (model.summary()):
//   features (InputLayer)  [(None, 4)]  0
//   custom (CustomDense)   (None, 5)    25
//   probs (Dense)          (None, 3)    18
TEST(RevivedSummary, KerasFileShowsEachLayersOutputShape) {
  auto model = strata::load_model(kFixtures / "custom_layer_functional");
  const std::string summary = model->summary();
  const auto shapes = output_shapes(summary);
  EXPECT_EQ(shapes, (std::map<std::string, std::string>{{"features", "[(None, 4)]"}, {"custom", "(None, 5)"}, {"probs", "(None, 3)"}}))
      << summary;
  // The model still runs its whole-model trace.
  EXPECT_EQ(model->outputs().size(), 1u);
}

// A Strata-written branched Functional and a Sequential, revived: the same output shapes as
// the class-built models' summaries.
TEST(RevivedSummary, StrataFilesShowTheClassBuiltShapes) {
  const fs::path dir = fresh_dir("strata");
  int k = 0;
  for (const auto& original : {branched(), sequential()}) {
    SCOPED_TRACE(original->name());
    const fs::path sm = dir / std::to_string(k++);
    strata::save_model(*original, sm);
    auto revived = strata::load_model(sm, revive());
    const auto want = output_shapes(original->summary());
    ASSERT_EQ(want.size(), original->layers().size()) << original->summary();
    EXPECT_EQ(output_shapes(revived->summary()), want) << revived->summary();
  }
  fs::remove_all(dir);
}

// tf-keras's own summary of the same files (the fixture without its class, Strata's files
// with their built-in classes): every layer's Output Shape is the same.
TEST(RevivedSummaryInterop, OutputShapesAreTfKerasOnes) {
  const fs::path py = strata::test::venv_python();
  if (!fs::exists(py)) GTEST_SKIP() << "no interop venv at " << py;
  const fs::path dir = fresh_dir("interop");
  std::vector<fs::path> dirs{kFixtures / "custom_layer_functional"};
  std::vector<std::shared_ptr<strata::Model>> revived{strata::load_model(dirs[0])};
  int k = 0;
  for (const auto& original : {branched(), sequential()}) {
    dirs.push_back(dir / std::to_string(k++));
    strata::save_model(*original, dirs.back());
    revived.push_back(strata::load_model(dirs.back(), revive()));
  }
  std::string args;
  for (const auto& d : dirs) args += " '" + d.string() + "'";
  std::string out;
  const int rc = strata::test::run_capturing("'" + py.string() + "' '" STRATA_REVIVED_SUMMARY_IN_KERAS "'" + args, out);
  ASSERT_EQ(rc, 0) << out;
  std::size_t at = 0;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    SCOPED_TRACE(dirs[i].string());
    const auto begin = out.find("SUMMARY-BEGIN\n", at);
    ASSERT_NE(begin, std::string::npos) << out;
    const auto end = out.find("SUMMARY-END", begin);
    ASSERT_NE(end, std::string::npos) << out;
    const std::string theirs = out.substr(begin, end - begin);
    at = end;
    const auto want = output_shapes(theirs);
    ASSERT_EQ(want.size(), revived[i]->layers().size()) << theirs;
    EXPECT_EQ(output_shapes(revived[i]->summary()), want) << "Strata:\n" << revived[i]->summary() << "tf-keras:\n" << theirs;
  }
  fs::remove_all(dir);
}

}  // namespace
