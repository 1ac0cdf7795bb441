// Synchronized batch normalization against real tf-keras and Keras 3, both ways, in every
// format (tests/interop/sync_batchnorm_interop.py, run with the interop venv at test time;
// skips without it):
//  - read: tf-keras's SyncBatchNormalization and BatchNormalization(synchronized=True) from
//    its H5, SavedModel and to_json files, Keras 3's BatchNormalization(synchronized=True)
//    from its .keras archive; Strata predicts what they predict.
//  - write: Strata's H5, SavedModel and JSON of those models load in tf-keras with the class
//    and `synchronized` kept, and its .keras archives load in Keras 3 (which has no
//    SyncBatchNormalization: written as BatchNormalization(synchronized=True)).
// tf-keras's BatchNormalization.get_config drops `synchronized` (2.21 still does): a
// tf-keras file of BatchNormalization(synchronized=True) reads as a plain BatchNormalization,
// which is what tf-keras itself reloads.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "interop_venv.hpp"
#include "npy.hpp"
#include "strata/model.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

Config layer_config(const Model& model, const std::string& name) {
  return model.get_layer(name)->get_config();
}

void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  const auto g = got.to_vector<float>(), w = want.to_vector<float>();
  ASSERT_EQ(g.size(), w.size()) << what;
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], 1e-5 + 1e-5 * std::fabs(w[i])) << what << " " << i;
}

TEST(SyncBatchNormInterop, ReadAndWrittenInEveryFormatWithTfKerasAndKeras3) {
  const fs::path python = test::venv_python();
  if (!fs::exists(python)) GTEST_SKIP() << "no interop venv at " << python;
  initialize();
  const fs::path dir = fs::temp_directory_path() / ("strata-sync-bn-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string output;
  ASSERT_EQ(
      test::run_capturing("'" + python.string() + "' " STRATA_SYNC_BN_SCRIPT " write '" + dir.string() + "'", output),
      0)
      << output;
  const Tensor x = testing::read_npy(dir / "x.npy");

  // tf-keras's files.
  std::shared_ptr<Model> tfk;
  for (const char* file : {"tfk.h5", "tfk_savedmodel"}) {
    SCOPED_TRACE(file);
    auto m = load_model(dir / file);
    EXPECT_EQ(m->get_layer("sync")->class_name(), "SyncBatchNormalization");
    EXPECT_FALSE(layer_config(*m, "sync").contains("synchronized"));
    EXPECT_EQ(m->get_layer("bn_sync")->class_name(), "BatchNormalization");
    EXPECT_FALSE(layer_config(*m, "bn_sync").contains("synchronized")) << "tf-keras does not write it";
    expect_close(m->predict(x), testing::read_npy(dir / "y_tfk.npy"), file);
    tfk = m;
  }
  const auto from_json = model_from_json(test::read_text(dir / "tfk.json"));
  EXPECT_EQ(from_json->get_layer("sync")->class_name(), "SyncBatchNormalization");
  // Keras 3's archive.
  const auto k3 = load_model(dir / "k3.keras");
  EXPECT_EQ(k3->get_layer("bn_sync")->class_name(), "BatchNormalization");
  EXPECT_EQ(layer_config(*k3, "bn_sync").at("synchronized"), Config(true));
  expect_close(k3->predict(x), testing::read_npy(dir / "y_k3.npy"), "k3.keras");

  // Strata writes; tf-keras and Keras 3 read.
  testing::write_npy(dir / "y_strata_tfk.npy", tfk->predict(x));
  testing::write_npy(dir / "y_strata_k3.npy", k3->predict(x));
  save_model(*tfk, dir / "s_tfk.h5");
  save_model(*tfk, dir / "s_tfk_savedmodel");
  {
    std::ofstream json(dir / "s_tfk.json");
    json << model_to_json(*tfk);
  }
  save_model(*tfk, dir / "s_tfk.keras");
  save_model(*k3, dir / "s_k3.h5");
  save_model(*k3, dir / "s_k3.keras");
  // Strata reads its own files back with the class and the flag.
  EXPECT_EQ(load_model(dir / "s_tfk.h5")->get_layer("sync")->class_name(), "SyncBatchNormalization");
  EXPECT_EQ(layer_config(*load_model(dir / "s_k3.h5"), "bn_sync").at("synchronized"), Config(true));
  const auto back = load_model(dir / "s_tfk.keras");
  EXPECT_EQ(back->get_layer("sync")->class_name(), "BatchNormalization");
  EXPECT_EQ(layer_config(*back, "sync").at("synchronized"), Config(true));

  output.clear();
  ASSERT_EQ(
      test::run_capturing("'" + python.string() + "' " STRATA_SYNC_BN_SCRIPT " check '" + dir.string() + "'", output),
      0)
      << output;
  const Config results = parse_python_json(test::read_text(dir / "check.json"), "check.json");
  const Config sync_class = Config::array({"SyncBatchNormalization", true});
  const Config bn_sync = Config::array({"BatchNormalization", true});
  const Config bn_plain = Config::array({"BatchNormalization", false});
  // tf-keras: SyncBatchNormalization stays itself; bn_sync of tf-keras's model lost the flag
  // in tf-keras's own file already; Keras 3's bn_sync keeps it (Strata writes the key).
  for (const char* key : {"tfk<-s_tfk.h5", "tfk<-s_tfk_savedmodel", "tfk<-s_tfk.json"}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(results.at(key).at("layers").at("sync"), sync_class);
    EXPECT_EQ(results.at(key).at("layers").at("bn_sync"), bn_plain);
  }
  EXPECT_EQ(results.at("tfk<-s_k3.h5").at("layers").at("bn_sync"), bn_sync);
  // Keras 3: the tf-keras class as BatchNormalization(synchronized=True).
  EXPECT_EQ(results.at("k3<-s_tfk.keras").at("layers").at("sync"), bn_sync);
  EXPECT_EQ(results.at("k3<-s_k3.keras").at("layers").at("bn_sync"), bn_sync);
  for (auto it = results.begin(); it != results.end(); ++it) {
    if (it->contains("max_diff")) {
      EXPECT_LT(it->at("max_diff").get<double>(), 1e-5) << it.key();
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace strata
