// The C API's version 5 thread settings seen from a host: the per-process and per-model
// settings read back, refusals, a model's setting surviving strata_model_compile_from_file,
// the setting reaching the C++ side (strata/threads.hpp), and predictions equal with 1 and 2
// threads on tests/data/h5/sequential.h5. Label plugin.
#include "strata/c_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "c_api_test_util.hpp"
#include "strata/npy.hpp"
#include "strata/strata.hpp"
#include "strata/threads.hpp"

namespace fs = std::filesystem;

namespace {

using strata::capi_test::CModel;
using strata::capi_test::Status;

const fs::path kData = STRATA_H5_FIXTURES;

class CApiThreads : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Status s(strata_init(nullptr, 0));
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void SetUp() override {
    Status s(strata_get_num_threads(&saved_));
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void TearDown() override { Status s(strata_set_num_threads(saved_)); }
  int32_t saved_ = 0;
};

TEST_F(CApiThreads, Version5TableHoldsTheThreadCalls) {
  const strata_api* api = nullptr;
  Status s(strata_get_api(5, &api));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(api->set_num_threads, &strata_set_num_threads);
  EXPECT_EQ(api->get_num_threads, &strata_get_num_threads);
  EXPECT_EQ(api->model_set_num_threads, &strata_model_set_num_threads);
  EXPECT_EQ(api->model_get_num_threads, &strata_model_get_num_threads);
  EXPECT_EQ(api->model_evaluate_weighted, &strata_model_evaluate_weighted);  // version 4's stay where they were
}

TEST_F(CApiThreads, TheProcessSettingReadsBackAndIsTheCppOne) {
  Status a(strata_set_num_threads(2));
  ASSERT_TRUE(a.ok()) << a.message();
  int32_t n = -1;
  Status b(strata_get_num_threads(&n));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(n, 2);
  EXPECT_EQ(strata::num_threads(), 2);
  EXPECT_EQ(strata::requested_num_threads(), 2);
  Status c(strata_set_num_threads(0));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(strata::num_threads(), 0);
}

TEST_F(CApiThreads, NegativeCountsAndNullArgumentsAreRefusedAndChangeNothing) {
  Status a(strata_set_num_threads(3));
  ASSERT_TRUE(a.ok());
  Status bad(strata_set_num_threads(-1));
  EXPECT_EQ(bad.code(), STRATA_INVALID_ARGUMENT);
  EXPECT_NE(bad.message().find("must be >= 0"), std::string::npos) << bad.message();
  EXPECT_EQ(strata::num_threads(), 3);
  Status null_n(strata_get_num_threads(nullptr));
  EXPECT_EQ(null_n.code(), STRATA_INVALID_ARGUMENT);
  Status null_model(strata_model_set_num_threads(nullptr, 1));
  EXPECT_EQ(null_model.code(), STRATA_INVALID_ARGUMENT);
  CModel model;
  Status load(strata_model_load((kData / "sequential.h5").c_str(), nullptr, &model.m));
  ASSERT_TRUE(load.ok()) << load.message();
  Status bad_model(strata_model_set_num_threads(model.m, -4));
  EXPECT_EQ(bad_model.code(), STRATA_INVALID_ARGUMENT);
  int32_t n = -1;
  Status get(strata_model_get_num_threads(model.m, &n));
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(n, 0);
}

TEST_F(CApiThreads, AModelsSettingReadsBackAndSurvivesCompileFromFile) {
  CModel model;
  Status load(strata_model_load((kData / "sequential.h5").c_str(), nullptr, &model.m));
  ASSERT_TRUE(load.ok()) << load.message();
  Status set(strata_model_set_num_threads(model.m, 1));
  ASSERT_TRUE(set.ok()) << set.message();
  Status compile(strata_model_compile_from_file(model.m));
  ASSERT_TRUE(compile.ok()) << compile.message();
  int32_t n = -1;
  Status get(strata_model_get_num_threads(model.m, &n));
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(n, 1);
  int32_t process = -1;
  Status p(strata_get_num_threads(&process));
  EXPECT_EQ(process, saved_);  // the process setting is untouched
}

TEST_F(CApiThreads, PredictionsAreTheSameWithOneAndTwoThreads) {
  CModel model;
  Status load(strata_model_load((kData / "sequential.h5").c_str(), nullptr, &model.m));
  ASSERT_TRUE(load.ok()) << load.message();
  const strata::Tensor x = strata::read_npy(kData / "sequential.tx0.npy");  // (6, 4) float32
  std::vector<float> xv(24);
  x.copy_to_host(xv.data(), x.nbytes());
  std::vector<std::vector<float>> results;
  for (int32_t threads : {1, 2}) {
    Status set(strata_model_set_num_threads(model.m, threads));
    ASSERT_TRUE(set.ok());
    strata_buffer in, out;
    std::memset(&in, 0, sizeof in);
    std::memset(&out, 0, sizeof out);
    in.struct_size = out.struct_size = sizeof in;
    in.dtype = out.dtype = STRATA_FLOAT32;
    in.rank = 2;
    in.shape[0] = 6;
    in.shape[1] = 4;
    in.data = xv.data();
    in.capacity = in.size = xv.size() * sizeof(float);
    std::vector<float> y(18, -1.0f);
    out.data = y.data();
    out.capacity = y.size() * sizeof(float);
    Status s(strata_model_predict(model.m, &in, 1, &out, 1));
    ASSERT_TRUE(s.ok()) << s.message();
    results.push_back(y);
  }
  for (std::size_t i = 0; i < results[0].size(); ++i) EXPECT_NEAR(results[1][i], results[0][i], 1e-6f) << i;
}

}  // namespace
