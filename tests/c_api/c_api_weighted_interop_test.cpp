// The C API's sample weights and test_on_batch (version 4) against tf-keras's on the same file
// and data (label interop: needs the venv of tests/interop/setup_venv.sh, STRATA_INTEROP_VENV;
// skips without it). tests/c_api/keras_weighted.py loads tests/data/h5/sequential.h5 compiled
// (Adam with its saved state) and runs test_on_batch, evaluate, train_on_batch and fit (no
// shuffling, validation_split) with one weight per sample; the C API runs the same calls in the
// same order: every loss and metric, and the predictions at the end, agree to float32 rounding.
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

bool close(double got, double want) { return std::abs(got - want) <= 1e-5 + 1e-4 * std::abs(want); }

// Every value of tf-keras's logs `want` equals the C API's of the same name.
void expect_logs(strata_logs* logs, const nlohmann::json& want, const std::string& call) {
  size_t n = 0;
  ASSERT_EQ(message(strata_logs_count(logs, &n)), "");
  EXPECT_EQ(n, want.size()) << call;
  for (const auto& [k, v] : want.items()) {
    double got = NAN;
    ASSERT_EQ(message(strata_logs_find(logs, k.c_str(), &got)), "") << call;
    EXPECT_TRUE(close(got, v.get<double>())) << call << " " << k << ": C API " << got << ", tf-keras " << v;
  }
  strata_logs_release(logs);
}

TEST(CApiWeightedInterop, SampleWeightsEqualKerasOnTheSameFile) {
  const fs::path python = strata::test::venv_python();
  if (!fs::exists(python)) {
    GTEST_SKIP() << "no tf-keras venv at " << strata::test::interop_venv()
                 << " (set STRATA_INTEROP_VENV; tests/interop/setup_venv.sh makes it)";
  }
  const fs::path data = STRATA_H5_FIXTURES;
  const fs::path model_file = data / "sequential.h5";
  const fs::path xf = data / "sequential.tx0.npy", yf = data / "sequential.ty0.npy";
  const fs::path dir = fs::temp_directory_path() / ("strata_c_api_weighted_interop_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string out;
  const int rc = strata::test::run_capturing("'" + python.string() + "' '" + STRATA_KERAS_WEIGHTED_SCRIPT + "' '" +
                                                 model_file.string() + "' '" + xf.string() + "' '" + yf.string() +
                                                 "' '" + dir.string() + "'",
                                             out);
  ASSERT_EQ(rc, 0) << out;
  const nlohmann::ordered_json keras = nlohmann::ordered_json::parse(std::ifstream(dir / "results.json"));
  const strata::Tensor keras_pred = strata::read_npy(dir / "pred.npy");

  ASSERT_EQ(message(strata_init(nullptr, 0)), "");
  const strata::Tensor x = strata::read_npy(xf), y = strata::read_npy(yf), w = strata::read_npy(dir / "w.npy");
  const strata_buffer bx = tensor_view(x, 6), by = tensor_view(y, 6), bw = tensor_view(w, 6);
  const strata_buffer bx4 = tensor_view(x, 4), by4 = tensor_view(y, 4), bw4 = tensor_view(w, 4);
  strata_model* model = nullptr;
  ASSERT_EQ(message(strata_model_load(model_file.c_str(), nullptr, &model)), "");
  ASSERT_EQ(message(strata_model_compile_from_file(model)), "");
  strata_logs* logs = nullptr;
  ASSERT_EQ(message(strata_model_test_on_batch(model, &bx, 1, &by, 1, &bw, &logs)), "");
  expect_logs(logs, keras["test_on_batch"], "test_on_batch");
  ASSERT_EQ(message(strata_model_evaluate_weighted(model, &bx, 1, &by, 1, &bw, 4, &logs)), "");
  expect_logs(logs, keras["evaluate"], "evaluate");
  ASSERT_EQ(message(strata_model_train_on_batch_weighted(model, &bx4, 1, &by4, 1, &bw4, &logs)), "");
  expect_logs(logs, keras["train_on_batch"], "train_on_batch");

  strata_fit_options o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.epochs = 2;
  o.batch_size = 2;
  o.validation_split = 1.0 / 3.0;
  o.sample_weight = &bw;
  char* history = nullptr;
  ASSERT_EQ(message(strata_model_fit(model, &bx, 1, &by, 1, &o, &history, nullptr)), "");
  const nlohmann::ordered_json ours = nlohmann::ordered_json::parse(history);
  strata_string_release(history);
  std::vector<std::string> keras_keys, our_keys;
  for (const auto& [k, v] : keras["history"].items()) keras_keys.push_back(k);
  for (const auto& [k, v] : ours.items()) our_keys.push_back(k);
  EXPECT_EQ(our_keys, keras_keys);
  for (const auto& k : keras_keys) {
    if (!ours.contains(k)) continue;
    const auto want = keras["history"][k].get<std::vector<double>>();
    const auto got = ours[k].get<std::vector<double>>();
    ASSERT_EQ(got.size(), want.size()) << k;
    for (std::size_t e = 0; e < want.size(); ++e) {
      EXPECT_TRUE(close(got[e], want[e])) << k << " epoch " << e << ": C API " << got[e] << ", tf-keras " << want[e];
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
