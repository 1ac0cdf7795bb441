// Lookup vocabularies that live outside the layer's config (issue 23, label interop), from files
// tests/interop/generate_lookup_assets.py makes with real tf-keras and Keras 3 (run once with
// the interop venv, cached under ~/.cache/strata/lookup-assets; skips without the venv):
//  - a tf-keras SavedModel whose StringLookup was given its vocabulary as a file: the file is in
//    the SavedModel's assets/; Strata predicts tf-keras's indices; an asset name with "..", an
//    absolute one, a symbolic link for the file or for assets/ are FormatErrors naming it;
//  - a tf-keras SavedModel of an adapted TextVectorization (vocabulary in the lookup table's
//    captured constants): Strata predicts tf-keras's outputs;
//  - a Keras 3 archive of an adapted TextVectorization (assets/<path>/vocabulary.txt): Strata
//    predicts Keras 3's outputs, and Keras 3's load_model reads Strata's archive of it and
//    predicts the same;
//  - `strata predict` on the '<U' .npy input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"
#include "strata/tf/saved_model.pb.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

fs::path generator() {
  return fs::path(STRATA_SOURCE_DIR) / "tests/interop/generate_lookup_assets.py";
}

class LookupAssets : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    const char* home = std::getenv("HOME");
    dir_ = test::generated_cache_dir(fs::path(home ? home : "/root") / ".cache/strata/lookup-assets", generator());
    std::string out;
    ASSERT_EQ(test::generate_with_script(dir_, "done", generator(), "", out), 0) << out;
    tmp_ = fs::temp_directory_path() / ("strata-lookup-assets-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override {
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }

  // "" when the model predicts y0.npy from x0.npy of `d` (numbers within 1e-5).
  static std::string predicts(const Model& model, const fs::path& d) {
    const Tensor got = model.predict(read_npy(d / "x0.npy"));
    const Tensor want = read_npy(d / "y0.npy");
    if (got.shape() != want.shape()) return "shape " + got.shape().to_string() + ", want " + want.shape().to_string();
    const auto g = cast(got, DType::kFloat64).to_vector<double>();
    const auto w = cast(want, DType::kFloat64).to_vector<double>();
    for (std::size_t i = 0; i < g.size(); ++i) {
      if (std::abs(g[i] - w[i]) > 1e-5 + 1e-5 * std::abs(w[i])) {
        return "[" + std::to_string(i) + "] " + std::to_string(g[i]) + ", want " + std::to_string(w[i]);
      }
    }
    return "";
  }

  fs::path dir_, tmp_;
};

template <class F>
std::string format_error_of(F&& f) {
  try {
    f();
  } catch (const FormatError& e) {
    return e.what();
  } catch (const Error& e) {
    return std::string("not a FormatError: ") + e.what();
  }
  return "no error";
}

TEST_F(LookupAssets, SavedModelVocabularyFileInAssets) {
  const fs::path d = dir_ / "sm_file";
  EXPECT_EQ(predicts(*load_model(d / "savedmodel"), d), "");

  const auto copy = [&](const std::string& name) {
    const fs::path to = tmp_ / name;
    fs::copy(d / "savedmodel", to, fs::copy_options::recursive);
    return to;
  };
  // The vocabulary file a symbolic link to a file outside the SavedModel.
  fs::path sm = copy("link");
  std::ofstream(tmp_ / "outside.txt") << "red\nevil\n";
  fs::remove(sm / "assets" / "vocab_source.txt");
  fs::create_symlink(tmp_ / "outside.txt", sm / "assets" / "vocab_source.txt");
  std::string e = format_error_of([&] { load_model(sm); });
  EXPECT_NE(e.find("vocab_source.txt"), std::string::npos) << e;
  EXPECT_NE(e.find("symbolic link"), std::string::npos) << e;
  // assets/ itself a link.
  sm = copy("dirlink");
  fs::rename(sm / "assets", tmp_ / "real_assets");
  fs::create_symlink(tmp_ / "real_assets", sm / "assets");
  e = format_error_of([&] { load_model(sm); });
  EXPECT_NE(e.find("assets"), std::string::npos) << e;
  EXPECT_NE(e.find("symbolic link"), std::string::npos) << e;
  // The asset's name in saved_model.pb rewritten to leave assets/.
  for (const std::string bad : {"../keras_metadata.pb", "/etc/passwd", "a/../../x.txt"}) {
    sm = copy("name" + std::to_string(std::hash<std::string>{}(bad)));
    tf::SavedModel proto;
    {
      std::ifstream in(sm / "saved_model.pb", std::ios::binary);
      ASSERT_TRUE(proto.ParseFromIstream(&in));
    }
    ASSERT_GT(proto.meta_graphs(0).asset_file_def_size(), 0);
    proto.mutable_meta_graphs(0)->mutable_asset_file_def(0)->set_filename(bad);
    {
      std::ofstream out(sm / "saved_model.pb", std::ios::binary | std::ios::trunc);
      ASSERT_TRUE(proto.SerializeToOstream(&out));
    }
    e = format_error_of([&] { load_model(sm); });
    EXPECT_NE(e.find(bad), std::string::npos) << e;
    EXPECT_NE(e.find("outside assets/"), std::string::npos) << e;
  }
}

TEST_F(LookupAssets, SavedModelAdaptedTextVectorization) {
  const fs::path d = dir_ / "sm_adapted_tv";
  EXPECT_EQ(predicts(*load_model(d / "savedmodel"), d), "");
}

TEST_F(LookupAssets, Keras3AdaptedTextVectorizationBothWays) {
  const fs::path d = dir_ / "k3_tv";
  const auto model = load_model(d / "model.keras");
  EXPECT_EQ(predicts(*model, d), "");
  save_model(*model, tmp_ / "strata.keras");
  std::ofstream(tmp_ / "check.py")
      << "import os, sys, numpy as np\n"
         "os.environ.pop('TF_USE_LEGACY_KERAS', None)\n"
         "import keras, tensorflow as tf\n"
         "m = keras.saving.load_model(sys.argv[1])\n"
         "y = np.asarray(m(tf.constant(np.load(sys.argv[2] + '/x0.npy')), training=False))\n"
         "want = np.load(sys.argv[2] + '/y0.npy')\n"
         "d = float(np.max(np.abs(y - want)))\n"
         "print('max diff', d)\n"
         "sys.exit(0 if d <= 1e-5 + 1e-5 * float(np.max(np.abs(want))) else 1)\n";
  std::string out;
  const int rc = test::run_capturing("TF_CPP_MIN_LOG_LEVEL=3 '" + test::venv_python().string() + "' '" +
                                         (tmp_ / "check.py").string() + "' '" + (tmp_ / "strata.keras").string() +
                                         "' '" + d.string() + "'",
                                     out);
  EXPECT_EQ(rc, 0) << "Keras 3 on Strata's archive: " << out;
}

// `strata predict` takes the '<U' .npy input and writes the indices.
TEST_F(LookupAssets, CliPredictsFromStringNpy) {
  const fs::path d = dir_ / "sm_file";
  std::string out;
  const int rc = test::run_capturing("'" + std::string(STRATA_CLI_PATH) + "' predict '" + (d / "savedmodel").string() +
                                         "' --input '" + (d / "x0.npy").string() + "' --output '" +
                                         (tmp_ / "y.npy").string() + "' --batch-size 1",
                                     out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(cast(read_npy(tmp_ / "y.npy"), DType::kInt64).to_vector<std::int64_t>(),
            cast(read_npy(d / "y0.npy"), DType::kInt64).to_vector<std::int64_t>());
}

}  // namespace
}  // namespace strata
