// The C API's fit against tf-keras's on the same file and data (label interop: needs the venv
// of tests/interop/setup_venv.sh, STRATA_INTEROP_VENV; skips without it). tf-keras loads
// tests/data/h5/sequential.h5 compiled (Adam with its saved state), fits with shuffle=False
// (tests/c_api/keras_fit.py), and the C API does the same: the history and the predictions
// after fit agree to float32 rounding.
#include "strata/c_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

#include "interop_venv.hpp"
#include "strata/npy.hpp"
#include "strata/strata.hpp"
#include "c_api_test_util.hpp"

namespace fs = std::filesystem;

namespace {

using strata::capi_test::tensor_view;

std::string message(strata_status* s) {
  std::string m = s ? strata_status_message(s) : "";
  strata_status_release(s);
  return m;
}

TEST(CApiTrainingInterop, FitEqualsKerasFitOnTheSameFile) {
  const fs::path python = strata::test::venv_python();
  if (!fs::exists(python)) {
    GTEST_SKIP() << "no tf-keras venv at " << strata::test::interop_venv()
                 << " (set STRATA_INTEROP_VENV; tests/interop/setup_venv.sh makes it)";
  }
  const fs::path data = STRATA_H5_FIXTURES;
  const fs::path model_file = data / "sequential.h5";
  const fs::path xf = data / "sequential.tx0.npy", yf = data / "sequential.ty0.npy";
  const fs::path dir = fs::temp_directory_path() / ("strata_c_api_interop_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string out;
  const int rc = strata::test::run_capturing("'" + python.string() + "' '" + STRATA_KERAS_FIT_SCRIPT + "' '" +
                                                 model_file.string() + "' '" + xf.string() + "' '" + yf.string() +
                                                 "' '" + dir.string() + "'",
                                             out);
  ASSERT_EQ(rc, 0) << out;
  nlohmann::ordered_json keras_history = nlohmann::ordered_json::parse(std::ifstream(dir / "history.json"));
  const strata::Tensor keras_pred = strata::read_npy(dir / "pred.npy");

  ASSERT_EQ(message(strata_init(nullptr, 0)), "");
  const strata::Tensor x = strata::read_npy(xf), y = strata::read_npy(yf);
  strata_buffer bx = tensor_view(x), by = tensor_view(y);
  strata_model* model = nullptr;
  ASSERT_EQ(message(strata_model_load(model_file.c_str(), nullptr, &model)), "");
  ASSERT_EQ(message(strata_model_compile_from_file(model)), "");
  strata_fit_options o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.epochs = 3;
  o.batch_size = 2;
  o.validation_split = 1.0 / 3.0;
  char* history = nullptr;
  ASSERT_EQ(message(strata_model_fit(model, &bx, 1, &by, 1, &o, &history, nullptr)), "");
  const nlohmann::ordered_json ours = nlohmann::ordered_json::parse(history);
  strata_string_release(history);

  std::vector<std::string> keras_keys, our_keys;
  for (const auto& [k, v] : keras_history.items()) keras_keys.push_back(k);
  for (const auto& [k, v] : ours.items()) our_keys.push_back(k);
  EXPECT_EQ(our_keys, keras_keys);
  for (const auto& k : keras_keys) {
    if (!ours.contains(k)) continue;
    const auto want = keras_history[k].get<std::vector<double>>();
    const auto got = ours[k].get<std::vector<double>>();
    ASSERT_EQ(got.size(), want.size()) << k;
    for (std::size_t e = 0; e < want.size(); ++e) {
      EXPECT_LE(std::abs(got[e] - want[e]), 1e-5 + 1e-4 * std::abs(want[e]))
          << k << " epoch " << e << ": C API " << got[e] << ", tf-keras " << want[e];
    }
  }
  std::vector<float> pred(static_cast<std::size_t>(keras_pred.num_elements()));
  strata_buffer po;
  std::memset(&po, 0, sizeof po);
  po.struct_size = sizeof po;
  po.dtype = STRATA_FLOAT32;
  po.data = pred.data();
  po.capacity = pred.size() * sizeof(float);
  ASSERT_EQ(message(strata_model_predict(model, &bx, 1, &po, 1)), "");
  const float* want = static_cast<const float*>(keras_pred.data());
  for (std::size_t i = 0; i < pred.size(); ++i) {
    EXPECT_LE(std::abs(pred[i] - want[i]), 1e-5f + 1e-4f * std::abs(want[i])) << "prediction " << i;
  }
  strata_model_release(model);
  fs::remove_all(dir);
}

}  // namespace
