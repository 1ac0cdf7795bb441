// Files Strata writes, read by others: tf-keras 2.17 (label interop; needs the venv that
// tests/interop/setup_venv.sh makes, skips without it), h5dump (skips without
// hdf5-tools), and a fresh strata process with or without the custom-objects plugin.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "h5_test_util.hpp"
#include "strata/plugins.hpp"
#include "interop_venv.hpp"

namespace strata::h5test {
namespace {

using strata::test::interop_venv;

const char* kModels[] = {"sequential", "functional_shared", "cnn", "lstm", "batchnorm", "nested", "slash_names"};

TEST(H5Interop, KerasLoadsWhatStrataSaved) {
  const fs::path python = interop_venv() / "bin/python";
  if (!fs::exists(python)) {
    GTEST_SKIP() << "no tf-keras venv at " << interop_venv() << " (tests/interop/setup_venv.sh makes it)";
  }
  const fs::path dir = fresh_dir("keras_reads");
  nlohmann::json manifest;
  for (const char* name : kModels) {
    const auto& e = index()["models"][name];
    auto model = load_model(fixture(e["files"]["whole"].get<std::string>()));
    // Train one step in Strata so the saved weights and optimizer state are Strata's own.
    model->train_on_batch(read_all(e["train_x"]), read_all(e["train_y"]));
    nlohmann::json m;
    m["name"] = name;
    m["whole"] = (dir / (std::string(name) + ".h5")).string();
    m["weights"] = (dir / (std::string(name) + "_weights.h5")).string();
    m["arch"] = fixture(e["files"]["noopt"].get<std::string>()).string();
    save_model(*model, m["whole"].get<std::string>());
    save_weights(*model, m["weights"].get<std::string>());
    for (const auto& x : e["inputs"]) m["inputs"].push_back(fixture(x.get<std::string>()).string());
    const auto y = model->predict(read_all(e["inputs"]));
    for (std::size_t i = 0; i < y.size(); ++i) {
      const fs::path p = dir / (std::string(name) + ".strata_y" + std::to_string(i) + ".npy");
      write_npy(p, y[i]);
      m["strata_outputs"].push_back(p.string());
    }
    manifest["models"].push_back(m);
  }
  std::ofstream(dir / "manifest.json") << manifest.dump(1);
  std::string out;
  const int rc = run_command("'" + python.string() + "' '" + STRATA_H5_KERAS_LOADER + "' '" +
                                 (dir / "manifest.json").string() + "'",
                             out);
  EXPECT_EQ(rc, 0) << out;
  for (const char* name : kModels) {
    EXPECT_NE(out.find(std::string(name) + ": load_model ok; optimizer state restored"), std::string::npos) << out;
    EXPECT_NE(out.find(std::string(name) + ": load_weights ok"), std::string::npos) << out;
  }
}

TEST(H5Dump, ReadsEveryFileStrataWrites) {
  if (!have_h5dump()) GTEST_SKIP() << "h5dump is not installed (apt-get install hdf5-tools)";
  const fs::path dir = fresh_dir("h5dump");
  for (const char* name : kModels) {
    auto model = load_model(fixture(index()["models"][name]["files"]["whole"].get<std::string>()));
    for (const bool weights : {false, true}) {
      const fs::path p = dir / (std::string(name) + (weights ? "_w.h5" : ".h5"));
      weights ? save_weights(*model, p) : save_model(*model, p);
      std::string out;
      EXPECT_EQ(run_command("h5dump '" + p.string() + "' > /dev/null", out), 0) << p << "\n" << out;
    }
  }
}

// The guide's custom objects: a model using custom_layer and custom_activation, saved to
// H5, loads in a fresh process only when the plugin that defines them is on the path.
TEST(H5CustomObjects, LoadInAFreshProcessNeedsThePlugin) {
  const fs::path plugin_dir = STRATA_TEST_CUSTOM_PLUGIN_DIR;
  PluginManager::global().load(plugin_dir / "strata-test-custom-objects.so");
  auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      make_layer("InputLayer", Config{{"batch_input_shape", {nullptr, 3}}, {"name", "in"}}),
      make_layer("custom_layer", Config{{"units", 4}, {"name", "custom"}}),
      make_layer("Dense", Config{{"units", 2}, {"activation", "custom_activation"}, {"name", "out"}})});
  const fs::path path = fresh_dir("custom") / "custom.h5";
  save_model(*model, path);
  // In this process (plugin loaded) it round-trips.
  auto back = load_model(path);
  const Tensor x = Tensor::from_vector<float>({0.1f, -0.2f, 0.3f}, Shape{1, 3});
  EXPECT_EQ(model->predict(x).to_vector<float>(), back->predict(x).to_vector<float>());

  const std::string cli = STRATA_CLI_PATH;
  std::string with, without;
  const int rc_with = run_command("STRATA_PLUGIN_PATH='" + plugin_dir.string() + "' '" + cli + "' info '" +
                                      path.string() + "'",
                                  with);
  EXPECT_EQ(rc_with, 0) << with;
  EXPECT_NE(with.find("custom_layer"), std::string::npos) << with;
  const int rc_without = run_command("STRATA_PLUGIN_PATH= '" + cli + "' info '" + path.string() + "'", without);
  // Issue 19: info describes the file and exits 0; the model it cannot build is reported.
  EXPECT_EQ(rc_without, 0) << without;
  EXPECT_NE(without.find("model: not loadable: UnknownObjectError"), std::string::npos) << without;
  EXPECT_NE(without.find("custom_layer"), std::string::npos) << without;
  EXPECT_NE(without.find("custom_activation"), std::string::npos) << without;
  EXPECT_NE(without.find("UnknownObjectError"), std::string::npos) << without;
}

}  // namespace
}  // namespace strata::h5test
