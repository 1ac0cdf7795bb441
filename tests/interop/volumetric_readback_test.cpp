// A fully convolutional volumetric model (Input((None, None, None, 2)); fixture
// volumetric_any_size) saved by Strata is read back at two input sizes: tf-keras 2.17 (the
// interop venv; skipped without it) loads Strata's H5 and Strata's SavedModel and predicts
// what Strata predicted, and Strata loads its own SavedModel (with the classes) and predicts
// the same.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "interop_venv.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

TEST(VolumetricAnySizeReadBack, SavedH5AndSavedModelPredictTheSameAtTwoSizes) {
  for (const char* format : {"h5", "savedmodel"}) {
    if (!Registry::global().contains(ObjectKind::kFormat, format)) GTEST_SKIP() << "no format-" << format << " plugin";
  }
  const std::filesystem::path fixtures = STRATA_KERAS_FIXTURE_DIR;
  std::ifstream json(fixtures / "volumetric_any_size.to_json.json");
  auto model = model_from_json(std::string(std::istreambuf_iterator<char>(json), {}));
  const std::vector<Tensor> xs{read_npy(fixtures / "volumetric_any_size.x0.npy"),
                               random_uniform(Shape{2, 3, 6, 5, 2}, DType::kFloat32, -1.0, 1.0, 9)};
  const auto dir = std::filesystem::temp_directory_path() / ("strata_vol_readback_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  save_model(*model, dir / "model.h5");
  save_model(*model, dir / "saved");
  auto reloaded = load_model(dir / "saved");
  std::size_t n_out = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const auto ys = (*model)(std::vector<Tensor>{xs[k]});
    const auto again = (*reloaded)(std::vector<Tensor>{xs[k]});
    ASSERT_EQ(ys.size(), again.size());
    n_out = ys.size();
    write_npy(dir / ("x" + std::to_string(k) + ".npy"), xs[k]);
    for (std::size_t i = 0; i < ys.size(); ++i) {
      EXPECT_EQ(again[i].shape(), ys[i].shape()) << "output " << i;
      EXPECT_EQ(again[i].to_vector<float>(), ys[i].to_vector<float>()) << "Strata's SavedModel, output " << i;
      write_npy(dir / ("y" + std::to_string(k) + "_" + std::to_string(i) + ".npy"), ys[i]);
    }
  }
  const std::filesystem::path python = test::interop_venv() / "bin/python";
  if (!std::filesystem::exists(python)) {
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "no tf-keras venv at " << python;
  }
  std::ofstream(dir / "check.py") << R"(import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np, tf_keras as keras
d, n_x, n_out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for what in ("model.h5", "saved"):
    m = keras.models.load_model(os.path.join(d, what))
    for k in range(n_x):
        got = m.predict(np.load(os.path.join(d, "x%d.npy" % k)), verbose=0)
        for i in range(n_out):
            ref = np.load(os.path.join(d, "y%d_%d.npy" % (k, i)))
            ok = got[i].shape == ref.shape and bool(np.all(np.abs(got[i] - ref) <= 1e-5 + 1e-5 * np.abs(ref)))
            print(what, "size", k, "output", i, "ok" if ok else "differs %s %s" % (got[i].shape, ref.shape))
)";
  const std::string cmd = "'" + python.string() + "' '" + (dir / "check.py").string() + "' '" + dir.string() + "' " +
                          std::to_string(xs.size()) + " " + std::to_string(n_out) + " 2>&1";
  std::string out;
  if (FILE* pipe = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    ::pclose(pipe);
  }
  for (const char* what : {"model.h5", "saved"}) {
    for (std::size_t k = 0; k < xs.size(); ++k) {
      for (std::size_t i = 0; i < n_out; ++i) {
        const std::string line = std::string(what) + " size " + std::to_string(k) + " output " + std::to_string(i) + " ok";
        EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
      }
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata
