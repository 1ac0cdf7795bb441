// The C API's training calls (version 3) seen from a host: compile from the file's training
// configuration or from Keras JSON strings, fit on caller buffers, train_on_batch,
// evaluate, the logs handle, saving after fit and resuming.
//
// The reference for every number is the C++ API on the same file and data (the C API must
// give the same bits), and tf-keras for resuming its own file: tests/data/h5's index
// records the two losses tf-keras's train_on_batch gave after saving (next_losses).
// Suite CApiTraining loads the build's plugins (label plugin).
#include "strata/c_api.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

#include "strata/npy.hpp"
#include "strata/strata.hpp"
#include "c_api_test_util.hpp"

namespace fs = std::filesystem;

namespace {

using strata::capi_test::CLogs;
using strata::capi_test::CModel;
using strata::capi_test::Status;
using strata::capi_test::tensor_view;

const fs::path kData = STRATA_H5_FIXTURES;

fs::path temp_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("strata_c_api_training_test_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

const nlohmann::json& index_entry(const std::string& model) {
  static const nlohmann::json index = [] {
    std::ifstream in(kData / "index.json");
    return nlohmann::json::parse(in);
  }();
  return index["models"][model];
}

class CApiTraining : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    strata::initialize();
    Status s(strata_init(nullptr, 0));
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void SetUp() override {
    strata::set_random_seed(7);
    x = strata::read_npy(kData / "sequential.tx0.npy");  // (6, 4) float32
    y = strata::read_npy(kData / "sequential.ty0.npy");  // (6, 3) one-hot float32
    bx = tensor_view(x);
    by = tensor_view(y);
  }
  // The C API's model, compiled from its file.
  void load_compiled(CModel& c, const fs::path& path = kData / "sequential.h5") {
    ASSERT_C_OK(strata_model_load(path.c_str(), nullptr, &c.m));
    ASSERT_C_OK(strata_model_compile_from_file(c.m));
  }
  // The C++ API's model, compiled from the same file (load_model's default).
  static std::shared_ptr<strata::Model> cpp_compiled(const fs::path& path = kData / "sequential.h5") {
    return strata::load_model(path);
  }
  // Predictions of the C model on x, as floats.
  std::vector<float> c_predict(const CModel& c) {
    std::vector<float> out(6 * 3);
    strata_buffer o;
    std::memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.dtype = STRATA_FLOAT32;
    o.data = out.data();
    o.capacity = out.size() * sizeof(float);
    Status s(strata_model_predict(c.m, &bx, 1, &o, 1));
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }
  static std::vector<float> cpp_predict(strata::Model& m, const strata::Tensor& x) {
    const auto y = m.predict(std::vector<strata::Tensor>{x}, 6)[0];
    std::vector<float> out(static_cast<std::size_t>(y.num_elements()));
    y.copy_to_host(out.data(), y.nbytes());
    return out;
  }
  strata::Tensor x, y;
  strata_buffer bx{}, by{};
};

// ---- the table ---------------------------------------------------------------------------------

TEST_F(CApiTraining, Version3TableHoldsTheTrainingCalls) {
  const strata_api* api = nullptr;
  ASSERT_C_OK(strata_get_api(3, &api));
  EXPECT_EQ(api->logs_count, &strata_logs_count);
  EXPECT_EQ(api->logs_release, &strata_logs_release);
  EXPECT_EQ(api->model_compile_from_file, &strata_model_compile_from_file);
  EXPECT_EQ(api->model_compile, &strata_model_compile);
  EXPECT_EQ(api->model_fit, &strata_model_fit);
  EXPECT_EQ(api->model_train_on_batch, &strata_model_train_on_batch);
  EXPECT_EQ(api->model_evaluate, &strata_model_evaluate);
  const strata_api* sentinel = api;
  EXPECT_REFUSED(strata_get_api(STRATA_C_API_VERSION + 1, &api), STRATA_INVALID_ARGUMENT,
                 "versions 1 to " + std::to_string(STRATA_C_API_VERSION));
  EXPECT_EQ(api, sentinel);
}

// ---- against tf-keras's own numbers ------------------------------------------------------------

TEST_F(CApiTraining, ResumesAKerasWrittenModelFromItsOptimizerState) {
  // tf-keras saved sequential.h5 compiled (Adam, categorical_crossentropy, accuracy) with its
  // optimizer state, then ran two more train_on_batch steps on tx0/ty0: the second loss
  // depends on the restored iteration and slots.
  CModel c;
  load_compiled(c);
  int32_t compiled = 0;
  ASSERT_C_OK(strata_model_is_compiled(c.m, &compiled));
  EXPECT_EQ(compiled, 1);
  const auto& want = index_entry("sequential")["next_losses"];
  auto cpp = cpp_compiled();
  for (std::size_t step = 0; step < 2; ++step) {
    CLogs logs;
    ASSERT_C_OK(strata_model_train_on_batch(c.m, &bx, 1, &by, 1, &logs.l));
    const double got = logs.at("loss");
    const double ref = want[step].get<double>();
    EXPECT_LE(std::abs(got - ref), 1e-5 + 1e-4 * std::abs(ref)) << "step " << step << ": C API " << got
                                                                 << ", tf-keras " << ref;
    // ... and the C++ API's train_on_batch, bit for bit, names and order included.
    const strata::Logs expect = cpp->train_on_batch({x}, {y});
    size_t n = 0;
    ASSERT_C_OK(strata_logs_count(logs.l, &n));
    ASSERT_EQ(n, expect.items().size());
    for (size_t i = 0; i < n; ++i) {
      const char* name = nullptr;
      double value = 0;
      ASSERT_C_OK(strata_logs_get(logs.l, i, &name, &value));
      EXPECT_EQ(name, expect.items()[i].first);
      EXPECT_EQ(value, expect.items()[i].second) << name;
    }
  }
  EXPECT_EQ(c_predict(c), cpp_predict(*cpp, x));
}

// ---- the same bits as the C++ API --------------------------------------------------------------

TEST_F(CApiTraining, FitEqualsModelFitBitForBit) {
  for (const int shuffle : {0, 1}) {
    SCOPED_TRACE(shuffle ? "shuffled (same global seed)" : "not shuffled");
    CModel c;
    load_compiled(c);
    strata_fit_options o;
    std::memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.epochs = 3;
    o.batch_size = 2;
    o.shuffle = shuffle;
    o.validation_split = 1.0 / 3.0;
    strata::set_random_seed(11);
    char* history = nullptr;
    CLogs last;
    ASSERT_C_OK(strata_model_fit(c.m, &bx, 1, &by, 1, &o, &history, &last.l));
    ASSERT_NE(history, nullptr);
    const nlohmann::ordered_json got = nlohmann::ordered_json::parse(history);
    strata_string_release(history);

    auto cpp = cpp_compiled();
    strata::FitOptions fo;
    fo.epochs = 3;
    fo.batch_size = 2;
    fo.shuffle = shuffle != 0;
    fo.validation_split = 1.0 / 3.0;
    fo.verbose = 0;
    strata::set_random_seed(11);
    const strata::History want = cpp->fit({x}, {y}, fo);

    // Keras's History.history: keys in log order, one value per epoch.
    std::vector<std::string> keys;
    for (const auto& [k, v] : got.items()) keys.push_back(k);
    EXPECT_EQ(keys, (std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"}));
    ASSERT_EQ(want.history.size(), keys.size());
    for (const auto& [k, values] : want.history) {
      ASSERT_TRUE(got.contains(k)) << k;
      EXPECT_EQ(got[k].get<std::vector<double>>(), values) << k;
      EXPECT_EQ(last.at(k.c_str()), values.back()) << k;
    }
    EXPECT_EQ(c_predict(c), cpp_predict(*cpp, x));
  }
}

TEST_F(CApiTraining, EvaluateEqualsModelEvaluate) {
  CModel c;
  load_compiled(c);
  CLogs logs;
  ASSERT_C_OK(strata_model_evaluate(c.m, &bx, 1, &by, 1, 4, &logs.l));
  const strata::Logs want = cpp_compiled()->evaluate({x}, {y}, 4, 0);
  size_t n = 0;
  ASSERT_C_OK(strata_logs_count(logs.l, &n));
  ASSERT_EQ(n, want.items().size());
  for (const auto& [k, v] : want.items()) EXPECT_EQ(logs.at(k.c_str()), v) << k;
  // Nothing was trained: the predictions are the file's.
  EXPECT_EQ(c_predict(c), cpp_predict(*cpp_compiled(), x));
}

TEST_F(CApiTraining, SaveAfterFitKeepsTheOptimizerStateAndResumes) {
  // Fit, save, load again, compile from the saved file, one more step: the same bits as
  // going on in memory (the Adam slots and iteration survived the file).
  CModel c;
  load_compiled(c);
  strata_fit_options o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.epochs = 2;
  o.batch_size = 3;
  ASSERT_C_OK(strata_model_fit(c.m, &bx, 1, &by, 1, &o, nullptr, nullptr));
  const fs::path saved = temp_dir() / "after_fit.h5";
  ASSERT_C_OK(strata_model_save(c.m, saved.c_str(), nullptr));

  CModel resumed;
  load_compiled(resumed, saved);
  CLogs in_memory, from_file;
  ASSERT_C_OK(strata_model_train_on_batch(c.m, &bx, 1, &by, 1, &in_memory.l));
  ASSERT_C_OK(strata_model_train_on_batch(resumed.m, &bx, 1, &by, 1, &from_file.l));
  EXPECT_EQ(from_file.at("loss"), in_memory.at("loss"));
  EXPECT_EQ(c_predict(resumed), c_predict(c));

  // The control: a fresh optimizer (compiled anew, not from the file) gives another step.
  CModel fresh;
  ASSERT_C_OK(strata_model_load(saved.c_str(), nullptr, &fresh.m));
  ASSERT_C_OK(strata_model_compile(fresh.m, "adam", "categorical_crossentropy", nullptr));
  CLogs a, b, from_file2, in_memory2;
  ASSERT_C_OK(strata_model_train_on_batch(fresh.m, &bx, 1, &by, 1, &a.l));
  ASSERT_C_OK(strata_model_train_on_batch(fresh.m, &bx, 1, &by, 1, &b.l));
  ASSERT_C_OK(strata_model_train_on_batch(resumed.m, &bx, 1, &by, 1, &from_file2.l));
  ASSERT_C_OK(strata_model_train_on_batch(c.m, &bx, 1, &by, 1, &in_memory2.l));
  EXPECT_EQ(from_file2.at("loss"), in_memory2.at("loss"));
  EXPECT_NE(b.at("loss"), in_memory2.at("loss")) << "the optimizer state made no difference: the test proves nothing";
}

TEST_F(CApiTraining, CompileFromJsonStringsEqualsModelCompile) {
  CModel c;
  ASSERT_C_OK(strata_model_load((kData / "sequential.noopt.h5").c_str(), nullptr, &c.m));
  int32_t compiled = 1;
  ASSERT_C_OK(strata_model_is_compiled(c.m, &compiled));
  EXPECT_EQ(compiled, 0);
  ASSERT_C_OK(strata_model_compile(c.m, R"({"class_name": "SGD", "config": {"learning_rate": 0.05, "momentum": 0.5}})",
                                   "mse", R"(["mae"])"));
  auto cpp = strata::load_model(kData / "sequential.noopt.h5");
  cpp->compile(strata::Config::parse(R"({"class_name": "SGD", "config": {"learning_rate": 0.05, "momentum": 0.5}})"),
               strata::Config("mse"), strata::Config::parse(R"(["mae"])"));
  for (int step = 0; step < 3; ++step) {
    CLogs logs;
    ASSERT_C_OK(strata_model_train_on_batch(c.m, &bx, 1, &by, 1, &logs.l));
    const strata::Logs want = cpp->train_on_batch({x}, {y});
    ASSERT_EQ(want.items().size(), 2u);
    EXPECT_EQ(logs.at("loss"), want.at("loss"));
    EXPECT_EQ(logs.at("mae"), want.at("mae"));
  }
  // A bare name is a name; the metrics may be one name.
  ASSERT_C_OK(strata_model_compile(c.m, "adam", "mse", "mae"));
  CLogs logs;
  ASSERT_C_OK(strata_model_evaluate(c.m, &bx, 1, &by, 1, 0, &logs.l));
  const char* name = nullptr;
  ASSERT_C_OK(strata_logs_get(logs.l, 1, &name, nullptr));
  EXPECT_STREQ(name, "mae");
}

// ---- errors: typed, clear, nothing written ---------------------------------------------------

TEST_F(CApiTraining, CompileFromAFileWithoutTrainingConfigNamesTheFile) {
  CModel c;
  const fs::path noopt = kData / "sequential.noopt.h5";
  ASSERT_C_OK(strata_model_load(noopt.c_str(), nullptr, &c.m));
  EXPECT_REFUSED(strata_model_compile_from_file(c.m), STRATA_VALUE_ERROR, noopt.string());
  EXPECT_REFUSED(strata_model_compile_from_file(c.m), STRATA_VALUE_ERROR, "no training configuration");
  EXPECT_REFUSED(strata_model_compile_from_file(nullptr), STRATA_INVALID_ARGUMENT, "model is NULL");
}

TEST_F(CApiTraining, AnUncompiledModelIsRefusedByEveryTrainingCall) {
  CModel c;
  ASSERT_C_OK(strata_model_load((kData / "sequential.noopt.h5").c_str(), nullptr, &c.m));
  strata_logs* sentinel = reinterpret_cast<strata_logs*>(0x1);
  strata_logs* logs = sentinel;
  char* history = reinterpret_cast<char*>(0x1);
  EXPECT_REFUSED(strata_model_fit(c.m, &bx, 1, &by, 1, nullptr, &history, &logs), STRATA_VALUE_ERROR,
                 "is not compiled; call strata_model_compile_from_file");
  EXPECT_REFUSED(strata_model_train_on_batch(c.m, &bx, 1, &by, 1, &logs), STRATA_VALUE_ERROR, "is not compiled");
  EXPECT_REFUSED(strata_model_evaluate(c.m, &bx, 1, &by, 1, 0, &logs), STRATA_VALUE_ERROR, "is not compiled");
  EXPECT_EQ(logs, sentinel);
  EXPECT_EQ(history, reinterpret_cast<char*>(0x1));
}

TEST_F(CApiTraining, BadBuffersAreRefusedWithTypedMessages) {
  CModel c;
  load_compiled(c);
  strata_logs* logs = nullptr;
  const auto before = c_predict(c);
  // NULL and counts.
  EXPECT_REFUSED(strata_model_train_on_batch(nullptr, &bx, 1, &by, 1, &logs), STRATA_INVALID_ARGUMENT,
                 "model is NULL");
  EXPECT_REFUSED(strata_model_train_on_batch(c.m, nullptr, 1, &by, 1, &logs), STRATA_INVALID_ARGUMENT,
                 "x and y must not be NULL");
  EXPECT_REFUSED(strata_model_fit(c.m, &bx, 1, nullptr, 1, nullptr, nullptr, nullptr), STRATA_INVALID_ARGUMENT,
                 "x and y must not be NULL");
  strata_buffer two[2] = {bx, bx};
  EXPECT_REFUSED(strata_model_train_on_batch(c.m, two, 2, &by, 1, &logs), STRATA_INVALID_ARGUMENT,
                 "the model takes 1 input(s) but 2 input buffers were given");
  EXPECT_REFUSED(strata_model_evaluate(c.m, &bx, 1, two, 0, 0, &logs), STRATA_INVALID_ARGUMENT,
                 "no target buffers were given");
  // dtype, shape, size, data of an input.
  std::vector<int32_t> ints(24, 1);
  strata_buffer b = bx;
  b.dtype = STRATA_INT32;
  b.data = ints.data();
  EXPECT_REFUSED(strata_model_train_on_batch(c.m, &b, 1, &by, 1, &logs), STRATA_VALUE_ERROR,
                 "expected float32 (None, 4), got int32 (6, 4)");
  b = bx;
  b.shape[1] = 3;
  b.size = 6 * 3 * 4;
  EXPECT_REFUSED(strata_model_fit(c.m, &b, 1, &by, 1, nullptr, nullptr, nullptr), STRATA_SHAPE_ERROR,
                 "expected float32 (None, 4), got float32 (6, 3)");
  b = bx;
  b.size -= 4;
  EXPECT_REFUSED(strata_model_evaluate(c.m, &b, 1, &by, 1, 0, &logs), STRATA_INVALID_ARGUMENT,
                 "size is 92 bytes but a float32 (6, 4) value takes 96");
  b = bx;
  b.data = nullptr;
  EXPECT_REFUSED(strata_model_train_on_batch(c.m, &b, 1, &by, 1, &logs), STRATA_INVALID_ARGUMENT, "data is NULL");
  b = bx;
  b.struct_size = 0;
  EXPECT_REFUSED(strata_model_train_on_batch(c.m, &b, 1, &by, 1, &logs), STRATA_INVALID_ARGUMENT,
                 "struct_size is 0");
  // Targets: counts of samples, dtype, NULL data, struct_size.
  strata_buffer t = by;
  t.shape[0] = 4;
  t.size = 4 * 3 * 4;
  EXPECT_REFUSED(strata_model_train_on_batch(c.m, &bx, 1, &t, 1, &logs), STRATA_SHAPE_ERROR,
                 "target 0 holds 4 samples but input 0 holds 6");
  t = by;
  t.dtype = STRATA_BOOL;
  EXPECT_REFUSED(strata_model_train_on_batch(c.m, &bx, 1, &t, 1, &logs), STRATA_INVALID_ARGUMENT,
                 "size is 72 bytes but a bool (6, 3) value takes 18");
  t = by;
  t.data = nullptr;
  EXPECT_REFUSED(strata_model_fit(c.m, &bx, 1, &t, 1, nullptr, nullptr, nullptr), STRATA_INVALID_ARGUMENT,
                 "target 0 (of output 'dense_1'): data is NULL");
  t = by;
  t.rank = 9;
  EXPECT_REFUSED(strata_model_fit(c.m, &bx, 1, &t, 1, nullptr, nullptr, nullptr), STRATA_INVALID_ARGUMENT,
                 "rank 9 is out of range");
  // A target whose shape does not fit the output: the loss's error, typed.
  t = by;
  t.shape[1] = 2;
  t.size = 6 * 2 * 4;
  Status wrong(strata_model_train_on_batch(c.m, &bx, 1, &t, 1, &logs));
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(wrong.code(), STRATA_ERROR) << wrong.message();
  EXPECT_EQ(logs, nullptr);
  // Options.
  strata_fit_options o;
  std::memset(&o, 0, sizeof o);
  EXPECT_REFUSED(strata_model_fit(c.m, &bx, 1, &by, 1, &o, nullptr, nullptr), STRATA_INVALID_ARGUMENT,
                 "strata_fit_options.struct_size is 0");
  o.struct_size = sizeof o + 8;
  EXPECT_REFUSED(strata_model_fit(c.m, &bx, 1, &by, 1, &o, nullptr, nullptr), STRATA_INVALID_ARGUMENT,
                 "knows sizes");
  o.struct_size = sizeof o;
  o.validation_split = 1.0;
  EXPECT_REFUSED(strata_model_fit(c.m, &bx, 1, &by, 1, &o, nullptr, nullptr), STRATA_VALUE_ERROR,
                 "validation_split must be in [0, 1)");
  o.validation_split = 0;
  o.batch_size = -1;
  EXPECT_REFUSED(strata_model_fit(c.m, &bx, 1, &by, 1, &o, nullptr, nullptr), STRATA_VALUE_ERROR, "batch_size is -1");
  o.batch_size = 0;
  o.verbose = 3;
  EXPECT_REFUSED(strata_model_fit(c.m, &bx, 1, &by, 1, &o, nullptr, nullptr), STRATA_VALUE_ERROR, "verbose is 3");
  EXPECT_REFUSED(strata_model_evaluate(c.m, &bx, 1, &by, 1, -2, &logs), STRATA_VALUE_ERROR, "batch_size is -2");
  // None of it trained anything.
  EXPECT_EQ(c_predict(c), before);
}

TEST_F(CApiTraining, BadCompileArgumentsAreTyped) {
  CModel c;
  ASSERT_C_OK(strata_model_load((kData / "sequential.noopt.h5").c_str(), nullptr, &c.m));
  EXPECT_REFUSED(strata_model_compile(c.m, "no_such_optimizer", "mse", nullptr), STRATA_UNKNOWN_OBJECT,
                 "no_such_optimizer");
  EXPECT_REFUSED(strata_model_compile(c.m, "adam", "no_such_loss", nullptr), STRATA_UNKNOWN_OBJECT, "no_such_loss");
  EXPECT_REFUSED(strata_model_compile(c.m, "adam", "mse", "[\"no_such_metric\"]"), STRATA_UNKNOWN_OBJECT,
                 "no_such_metric");
  Status bad_json(strata_model_compile(c.m, "{\"class_name\": ", "mse", nullptr));
  EXPECT_FALSE(bad_json.ok());
  EXPECT_NE(bad_json.code(), STRATA_ERROR) << bad_json.message();
  EXPECT_NE(bad_json.message().find("the optimizer"), std::string::npos) << bad_json.message();
  EXPECT_REFUSED(strata_model_compile(c.m, nullptr, "mse", nullptr), STRATA_INVALID_ARGUMENT, "optimizer is NULL");
  EXPECT_REFUSED(strata_model_compile(c.m, "adam", "", nullptr), STRATA_INVALID_ARGUMENT, "loss is NULL or empty");
  int32_t compiled = 1;
  ASSERT_C_OK(strata_model_is_compiled(c.m, &compiled));
  EXPECT_EQ(compiled, 0) << "a refused compile left the model compiled";
}

TEST_F(CApiTraining, LogsHandleRefusesMissingNamesAndIndexes) {
  CModel c;
  load_compiled(c);
  CLogs logs;
  ASSERT_C_OK(strata_model_evaluate(c.m, &bx, 1, &by, 1, 0, &logs.l));
  double v = 42;
  EXPECT_REFUSED(strata_logs_find(logs.l, "val_loss", &v), STRATA_VALUE_ERROR, "they hold: loss, accuracy");
  EXPECT_EQ(v, 42);
  EXPECT_REFUSED(strata_logs_get(logs.l, 2, nullptr, &v), STRATA_INVALID_ARGUMENT, "there is no value 2");
  EXPECT_REFUSED(strata_logs_count(nullptr, nullptr), STRATA_INVALID_ARGUMENT, "NULL argument");
  strata_logs_release(nullptr);
}

}  // namespace
