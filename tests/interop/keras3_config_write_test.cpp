// Strata's configs in Keras 3's dialect (strata::model_config_keras3, the config.json of a
// `.keras` archive) load in real Keras 3 and compute what Strata computes: every model of the
// tf-keras fixture set (tests/data/keras: about a hundred models over every layer kind Strata
// reads) is built by Strata from tf-keras's config, given the fixture's weights, written in
// Keras 3's dialect with its weights, inputs and Strata's predictions; one Keras 3 process
// (tests/interop/keras3_config_check.py) deserializes each config, sets the weights and
// predicts. Needs the interop venv (skips without it).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "interop_venv.hpp"
#include "npy.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtureDir = STRATA_KERAS_FIXTURE_DIR;

Config read_json_file(const fs::path& path) { return parse_python_json(test::read_text(path), path.string()); }

std::vector<Tensor> read_arrays(const Config& list) {
  std::vector<Tensor> out;
  for (const auto& item : list) out.push_back(testing::read_npy(kFixtureDir / item.at("file").get<std::string>()));
  return out;
}

// Fixture models whose Keras 3 check is known not to pass, with the reason (each is a Keras 3
// limitation, not a Strata one; docs/FORMATS.md lists them).
const std::map<std::string, std::string>& known_differences() {
  static const std::map<std::string, std::string> known = {};
  return known;
}

TEST(Keras3ConfigWrite, EveryFixtureModelLoadsInKeras3AndPredictsWhatStrataPredicts) {
  const fs::path python = test::venv_python();
  if (!fs::exists(python)) GTEST_SKIP() << "no interop venv at " << python;
  initialize();
  const fs::path dir = fs::temp_directory_path() / ("strata-keras3-config-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  const Config index = read_json_file(kFixtureDir / "index.json");
  std::map<std::string, std::string> refused;  // case -> why Strata would not write it
  std::size_t written = 0;
  for (const auto& entry : index.at("models")) {
    const std::string name = entry.at("name").get<std::string>();
    if (entry.at("inputs").empty() || entry.at("outputs").empty()) continue;
    std::shared_ptr<Model> model;
    try {
      model = model_from_config(read_json_file(kFixtureDir / entry.at("config").get<std::string>()));
    } catch (const Error& e) {
      continue;  // models Strata does not read are the tf-keras fixture tests' business
    }
    std::vector<Tensor> weights = read_arrays(entry.at("weights"));
    if (weights.size() != model->weights().size()) continue;
    model->set_weights(weights);
    Config config;
    try {
      config = model_config_keras3(*model);
    } catch (const ValueError& e) {
      refused[name] = e.what();
      continue;
    }
    const std::vector<Tensor> xs = read_arrays(entry.at("inputs"));
    std::vector<Tensor> ys;
    try {
      ys = model->predict_on_batch(xs);  // the whole input at once: some fixtures fix the batch size
    } catch (const Error& e) {
      continue;  // inputs the fixture tests feed differently (their business)
    }
    const fs::path out = dir / name;
    fs::create_directories(out);
    std::ofstream(out / "config.json") << to_python_json(config);
    for (std::size_t i = 0; i < weights.size(); ++i) testing::write_npy(out / ("w" + std::to_string(i) + ".npy"), weights[i]);
    for (std::size_t i = 0; i < xs.size(); ++i) testing::write_npy(out / ("x" + std::to_string(i) + ".npy"), xs[i]);
    for (std::size_t i = 0; i < ys.size(); ++i) testing::write_npy(out / ("y" + std::to_string(i) + ".npy"), ys[i]);
    ++written;
  }
  ASSERT_GT(written, 50u) << "too few fixture models were written";

  std::string output;
  const int rc = test::run_capturing(python.string() + " " + STRATA_KERAS3_CONFIG_CHECK + " " + dir.string(), output);
  ASSERT_EQ(rc, 0) << output;
  const Config results = read_json_file(dir / "results.json");
  std::size_t passed = 0;
  for (auto it = results.begin(); it != results.end(); ++it) {
    const std::string verdict = it->get<std::string>();
    const auto known = known_differences().find(it.key());
    if (verdict == "ok") {
      ++passed;
      EXPECT_TRUE(known == known_differences().end()) << it.key() << " passes now: remove it from known_differences";
    } else if (known == known_differences().end()) {
      ADD_FAILURE() << it.key() << ": " << verdict;
    }
  }
  for (const auto& [name, why] : refused) ADD_FAILURE() << name << ": Strata refused to write it: " << why;
  std::cout << "[          ] " << passed << " of " << results.size() << " models load in Keras 3 and predict the same\n";
  if (HasFailure()) {
    std::cout << "[          ] the cases are kept in " << dir.string() << "\n";
  } else {
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace strata
