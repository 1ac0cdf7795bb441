// The C API's version 4 training calls seen from a host: Keras's sample_weight for fit,
// train_on_batch and evaluate, and test_on_batch. Expected values come from first
// principles, on tests/data/h5/sequential.h5 (tf-keras, 4 features -> 3 classes,
// categorical_crossentropy, accuracy):
//   - a weighted loss is the mean over the batch of weight x per-sample loss (Keras's sum over
//     batch size), the per-sample losses taken one sample at a time;
//   - the compiled metrics are not weighted (Keras's `metrics`, not `weighted_metrics`);
//   - with SGD, a step with every weight 2 is a step at twice the learning rate, and a step
//     with weights (1, 1, 1, 0, 0, 0) on 6 samples is a step on the first 3 at half the rate.
// tf-keras's own numbers: c_api_weighted_interop_test.cpp. Label plugin.
#include "strata/c_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "strata/npy.hpp"
#include "strata/strata.hpp"
#include "c_api_test_util.hpp"

namespace fs = std::filesystem;

namespace {

using strata::capi_test::CLogs;
using strata::capi_test::CModel;
using strata::capi_test::Status;

const fs::path kData = STRATA_H5_FIXTURES;

strata_buffer view(strata_dtype dtype, std::vector<int64_t> shape, const void* data, size_t bytes) {
  strata_buffer b;
  std::memset(&b, 0, sizeof b);
  b.struct_size = sizeof b;
  b.dtype = dtype;
  b.rank = static_cast<int32_t>(shape.size());
  for (std::size_t d = 0; d < shape.size(); ++d) b.shape[d] = shape[d];
  b.data = const_cast<void*>(data);
  b.capacity = b.size = bytes;
  return b;
}

strata_buffer weights(const std::vector<float>& w) {
  return view(STRATA_FLOAT32, {static_cast<int64_t>(w.size())}, w.data(), w.size() * sizeof(float));
}

bool near(double got, double want) { return std::abs(got - want) <= 1e-6 + 1e-5 * std::abs(want); }

class CApiWeighted : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    strata::initialize();
    Status s(strata_init(nullptr, 0));
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void SetUp() override {
    x = strata::read_npy(kData / "sequential.tx0.npy");  // (6, 4) float32
    y = strata::read_npy(kData / "sequential.ty0.npy");  // (6, 3) one-hot float32
    xv.resize(24);
    yv.resize(18);
    x.copy_to_host(xv.data(), x.nbytes());
    y.copy_to_host(yv.data(), y.nbytes());
  }
  // Samples [start, start + n) of x and y as buffers.
  strata_buffer bx(int64_t start = 0, int64_t n = 6) const {
    return view(STRATA_FLOAT32, {n, 4}, xv.data() + start * 4, static_cast<size_t>(n) * 4 * sizeof(float));
  }
  strata_buffer by(int64_t start = 0, int64_t n = 6) const {
    return view(STRATA_FLOAT32, {n, 3}, yv.data() + start * 3, static_cast<size_t>(n) * 3 * sizeof(float));
  }
  // The file's model compiled from the file (Adam with its state), or with a fresh SGD.
  static void load(CModel& c, double sgd_learning_rate = 0) {
    ASSERT_C_OK(strata_model_load((kData / "sequential.h5").c_str(), nullptr, &c.m));
    if (sgd_learning_rate == 0) {
      ASSERT_C_OK(strata_model_compile_from_file(c.m));
    } else {
      const std::string opt = "{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": " +
                              std::to_string(sgd_learning_rate) + "}}";
      ASSERT_C_OK(strata_model_compile(c.m, opt.c_str(), "categorical_crossentropy", "[\"accuracy\"]"));
    }
  }
  // The loss of each sample alone (test_on_batch, unweighted).
  std::vector<double> per_sample_losses(const CModel& c) const {
    std::vector<double> out;
    for (int64_t i = 0; i < 6; ++i) {
      const strata_buffer x1 = bx(i, 1), y1 = by(i, 1);
      CLogs logs;
      EXPECT_C_OK(strata_model_test_on_batch(c.m, &x1, 1, &y1, 1, nullptr, &logs.l));
      out.push_back(logs.at("loss"));
    }
    return out;
  }
  std::vector<float> predict(const CModel& c) const {
    std::vector<float> out(18);
    strata_buffer o;
    std::memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.dtype = STRATA_FLOAT32;
    o.data = out.data();
    o.capacity = out.size() * sizeof(float);
    const strata_buffer in = bx();
    EXPECT_C_OK(strata_model_predict(c.m, &in, 1, &o, 1));
    return out;
  }
  strata::Tensor x, y;
  std::vector<float> xv, yv;
};

const std::vector<float> kWeights = {0.5f, 1.0f, 2.0f, 0.0f, 3.0f, 1.5f};

TEST_F(CApiWeighted, Version4TableHoldsTheNewCalls) {
  const strata_api* api = nullptr;
  ASSERT_C_OK(strata_get_api(4, &api));
  EXPECT_EQ(api->model_train_on_batch_weighted, &strata_model_train_on_batch_weighted);
  EXPECT_EQ(api->model_test_on_batch, &strata_model_test_on_batch);
  EXPECT_EQ(api->model_evaluate_weighted, &strata_model_evaluate_weighted);
  EXPECT_EQ(api->model_fit, &strata_model_fit);  // version 3's entries stay where they were
  const strata_api* sentinel = api;
  EXPECT_REFUSED(strata_get_api(STRATA_C_API_VERSION + 1, &api), STRATA_INVALID_ARGUMENT,
                 "versions 1 to " + std::to_string(STRATA_C_API_VERSION));
  EXPECT_EQ(api, sentinel);
}

TEST_F(CApiWeighted, TestOnBatchWeightsEachSamplesLossAndNotTheMetrics) {
  CModel c;
  load(c);
  const auto before = predict(c);
  const auto l = per_sample_losses(c);
  double want = 0;
  for (std::size_t i = 0; i < 6; ++i) want += kWeights[i] * l[i];
  want /= 6;  // Keras's sum over batch size: the weights do not divide
  const strata_buffer x6 = bx(), y6 = by(), w = weights(kWeights);
  CLogs weighted, plain;
  ASSERT_C_OK(strata_model_test_on_batch(c.m, &x6, 1, &y6, 1, &w, &weighted.l));
  ASSERT_C_OK(strata_model_test_on_batch(c.m, &x6, 1, &y6, 1, nullptr, &plain.l));
  EXPECT_TRUE(near(weighted.at("loss"), want)) << weighted.at("loss") << " vs " << want;
  double mean = 0;
  for (double v : l) mean += v / 6;
  EXPECT_TRUE(near(plain.at("loss"), mean)) << plain.at("loss") << " vs " << mean;
  EXPECT_EQ(weighted.at("accuracy"), plain.at("accuracy"));
  EXPECT_EQ(predict(c), before);  // no update
}

TEST_F(CApiWeighted, EvaluateWeightedIsTheWeightedMeanOverEveryBatch) {
  CModel c;
  load(c);
  const auto l = per_sample_losses(c);
  double want = 0;
  for (std::size_t i = 0; i < 6; ++i) want += kWeights[i] * l[i] / 6;
  const strata_buffer x6 = bx(), y6 = by(), w = weights(kWeights);
  CLogs logs, plain, unweighted;
  ASSERT_C_OK(strata_model_evaluate_weighted(c.m, &x6, 1, &y6, 1, &w, 4, &logs.l));  // batches of 4 and 2
  EXPECT_TRUE(near(logs.at("loss"), want)) << logs.at("loss") << " vs " << want;
  // NULL weights: strata_model_evaluate's numbers.
  ASSERT_C_OK(strata_model_evaluate_weighted(c.m, &x6, 1, &y6, 1, nullptr, 4, &plain.l));
  ASSERT_C_OK(strata_model_evaluate(c.m, &x6, 1, &y6, 1, 4, &unweighted.l));
  EXPECT_EQ(plain.at("loss"), unweighted.at("loss"));
  EXPECT_EQ(logs.at("accuracy"), unweighted.at("accuracy"));
}

TEST_F(CApiWeighted, TrainOnBatchWithWeightTwoStepsAsTwiceTheLearningRate) {
  CModel weighted, doubled;
  load(weighted, 0.1);
  load(doubled, 0.2);
  const std::vector<float> twos(6, 2.0f);
  const strata_buffer x6 = bx(), y6 = by(), w = weights(twos);
  CLogs a, b;
  ASSERT_C_OK(strata_model_train_on_batch_weighted(weighted.m, &x6, 1, &y6, 1, &w, &a.l));
  ASSERT_C_OK(strata_model_train_on_batch(doubled.m, &x6, 1, &y6, 1, &b.l));
  EXPECT_TRUE(near(a.at("loss"), 2 * b.at("loss"))) << a.at("loss") << " vs 2 x " << b.at("loss");
  const auto pa = predict(weighted), pb = predict(doubled);
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_NEAR(pa[i], pb[i], 1e-6) << i;
  // NULL weights: version 3's train_on_batch.
  CModel plain, v3;
  load(plain, 0.1);
  load(v3, 0.1);
  ASSERT_C_OK(strata_model_train_on_batch_weighted(plain.m, &x6, 1, &y6, 1, nullptr, nullptr));
  ASSERT_C_OK(strata_model_train_on_batch(v3.m, &x6, 1, &y6, 1, nullptr));
  EXPECT_EQ(predict(plain), predict(v3));
}

TEST_F(CApiWeighted, FitWithZeroWeightsOnHalfTheSamplesFitsTheOtherHalfAtHalfTheRate) {
  // One batch of 6 with weights (1, 1, 1, 0, 0, 0): loss = (l0 + l1 + l2) / 6, the gradient half
  // that of a batch of the first 3 samples.
  CModel weighted, half;
  load(weighted, 0.2);
  load(half, 0.1);
  const std::vector<float> w = {1, 1, 1, 0, 0, 0};
  const strata_buffer x6 = bx(), y6 = by(), x3 = bx(0, 3), y3 = by(0, 3), wb = weights(w);
  strata_fit_options o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.epochs = 3;
  o.batch_size = 6;
  o.sample_weight = &wb;
  char* history = nullptr;
  ASSERT_C_OK(strata_model_fit(weighted.m, &x6, 1, &y6, 1, &o, &history, nullptr));
  const auto got = nlohmann::json::parse(history);
  strata_string_release(history);
  o.sample_weight = nullptr;
  ASSERT_C_OK(strata_model_fit(half.m, &x3, 1, &y3, 1, &o, &history, nullptr));
  const auto want = nlohmann::json::parse(history);
  strata_string_release(history);
  const auto pa = predict(weighted), pb = predict(half);
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_NEAR(pa[i], pb[i], 1e-6) << i;
  for (std::size_t e = 0; e < 3; ++e) {
    const double a = got["loss"][e].get<double>(), b = want["loss"][e].get<double>();
    EXPECT_TRUE(near(a, b / 2)) << "epoch " << e << ": " << a << " vs " << b << " / 2";
  }
}

TEST_F(CApiWeighted, FitKeepsTheHeldOutSamplesWeightsForValLoss) {
  // validation_split 1/3 holds out samples 4 and 5; Keras's val_loss weights them.
  CModel c;
  load(c);
  const strata_buffer x6 = bx(), y6 = by(), w = weights(kWeights);
  strata_fit_options o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.batch_size = 2;
  o.validation_split = 1.0 / 3.0;
  o.sample_weight = &w;
  CLogs last;
  ASSERT_C_OK(strata_model_fit(c.m, &x6, 1, &y6, 1, &o, nullptr, &last.l));
  const auto l = per_sample_losses(c);  // after the epoch, as the validation saw the model
  const double want = (kWeights[4] * l[4] + kWeights[5] * l[5]) / 2;
  EXPECT_TRUE(near(last.at("val_loss"), want)) << last.at("val_loss") << " vs " << want;
}

TEST_F(CApiWeighted, AVersion3SizedFitOptionsNeverReadsTheWeightField) {
  CModel c;
  load(c);
  strata_buffer bad;
  std::memset(&bad, 0, sizeof bad);  // struct_size 0: refused whenever it is read
  const strata_buffer x6 = bx(), y6 = by();
  strata_fit_options o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.sample_weight = &bad;
  EXPECT_REFUSED(strata_model_fit(c.m, &x6, 1, &y6, 1, &o, nullptr, nullptr), STRATA_INVALID_ARGUMENT,
                 "sample_weight");
  o.struct_size = offsetof(strata_fit_options, sample_weight);  // what a version 3 host sets
  EXPECT_C_OK(strata_model_fit(c.m, &x6, 1, &y6, 1, &o, nullptr, nullptr));
}

TEST_F(CApiWeighted, BadSampleWeightsAreRefusedNamingThemAndChangeNothing) {
  CModel c;
  load(c);
  const auto before = predict(c);
  const strata_buffer x6 = bx(), y6 = by();
  const std::vector<float> five(5, 1.0f), six(6, 1.0f);
  const strata_buffer short_w = weights(five);
  EXPECT_REFUSED(strata_model_train_on_batch_weighted(c.m, &x6, 1, &y6, 1, &short_w, nullptr), STRATA_SHAPE_ERROR,
                 "sample_weight holds 5 weights but the inputs hold 6 samples");
  const strata_buffer rank2 = view(STRATA_FLOAT32, {6, 1}, six.data(), 6 * sizeof(float));
  EXPECT_REFUSED(strata_model_test_on_batch(c.m, &x6, 1, &y6, 1, &rank2, nullptr), STRATA_SHAPE_ERROR,
                 "strata_model_test_on_batch: sample_weight has rank 2");
  const bool flags[6] = {true, true, true, true, true, true};
  const strata_buffer booleans = view(STRATA_BOOL, {6}, flags, sizeof flags);
  EXPECT_REFUSED(strata_model_evaluate_weighted(c.m, &x6, 1, &y6, 1, &booleans, 0, nullptr), STRATA_VALUE_ERROR,
                 "sample_weight is bool");
  strata_buffer lying = weights(six);
  lying.size = 5 * sizeof(float);
  EXPECT_REFUSED(strata_model_train_on_batch_weighted(c.m, &x6, 1, &y6, 1, &lying, nullptr), STRATA_INVALID_ARGUMENT,
                 "sample_weight: size is 20 bytes");
  strata_fit_options o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.sample_weight = &short_w;
  EXPECT_REFUSED(strata_model_fit(c.m, &x6, 1, &y6, 1, &o, nullptr, nullptr), STRATA_SHAPE_ERROR,
                 "strata_model_fit: sample_weight holds 5 weights");
  EXPECT_EQ(predict(c), before);
  // Integer weights are numbers like any other (Keras casts them).
  const std::vector<int32_t> ints = {1, 1, 2, 0, 3, 1};
  const strata_buffer iw = view(STRATA_INT32, {6}, ints.data(), sizeof(int32_t) * 6);
  const std::vector<float> floats = {1, 1, 2, 0, 3, 1};
  const strata_buffer fw = weights(floats);
  CLogs a, b;
  ASSERT_C_OK(strata_model_test_on_batch(c.m, &x6, 1, &y6, 1, &iw, &a.l));
  ASSERT_C_OK(strata_model_test_on_batch(c.m, &x6, 1, &y6, 1, &fw, &b.l));
  EXPECT_EQ(a.at("loss"), b.at("loss"));
}

}  // namespace
