// Issue 19: model-level add_loss / add_metric. tf-keras 2.17 turns model.add_loss(tensor) and
// model.add_metric(tensor, name=...) on a Functional model into AddLoss / AddMetric layers of
// the model (after TFOpLambda layers for the ops), so they are in the config and saved and
// restored by H5 and SavedModel; a zero-argument function given to add_loss is code and is
// not saved (the guide's H5 limitation), which Strata's save warns about. Expected values come
// from tf-keras (tests/data/custom_objects/add_loss_217.*, made by make_add_loss_file.py) or
// are computed here by hand from the model's predictions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

fs::path data_dir() { return fs::path(STRATA_SOURCE_DIR) / "tests" / "data" / "custom_objects"; }

Config read_json(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return Config::parse(s.str());
}

Tensor matrix(const Config& rows) {
  std::vector<float> v;
  for (const auto& r : rows) {
    for (const auto& x : r) v.push_back(x.get<float>());
  }
  return Tensor::from_vector<float>(v, Shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())});
}

std::shared_ptr<Layer> op_layer(const std::string& function) {
  return make_layer("TFOpLambda", Config{{"name", "tf." + function}, {"function", function}});
}

// The tf-keras example: Dense(2) on Input(3); add_loss(reduce_mean(x)); add_metric(reduce_sum(x), "s").
std::shared_ptr<Functional> build() {
  Tensor in = Input(Shape{3}, "x");
  Tensor x = (*make_layer("Dense", Config{{"units", 2}, {"name", "dense"}}))(in);
  auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{x}, "with_add_loss");
  model->add_loss((*op_layer("math.reduce_mean"))(x));
  model->add_metric((*op_layer("math.reduce_sum"))(x), "s");
  model->compile(Config{{"class_name", "SGD"}, {"config", {{"learning_rate", 0.1}}}}, Config("mse"));
  model->get_layer("dense")->set_weights({Tensor::from_vector<float>({0.5f, -0.25f, 0.125f, 0.75f, -0.5f, 0.25f}, Shape{3, 2}),
                                          Tensor::from_vector<float>({0.1f, -0.2f}, Shape{2})});
  return model;
}

struct Data {
  Tensor x, y;
  double loss, s;
};
Data reference() {
  const Config ref = read_json(data_dir() / "add_loss_217.json");
  return {matrix(ref["x"]), matrix(ref["y"]), ref["evaluate"]["loss"].get<double>(), ref["evaluate"]["s"].get<double>()};
}

class ModelAddLoss : public ::testing::Test {
 protected:
  void SetUp() override {
    clear_session();
    dir_ = fs::temp_directory_path() / ("strata_add_loss_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ModelAddLoss, LayersAndConfigAreTfKeras) {
  auto model = build();
  const Config expected = read_json(data_dir() / "add_loss_217.json")["layers"];
  const Config layers = model->get_config()["layers"];
  ASSERT_EQ(layers.size(), expected.size()) << layers.dump();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    EXPECT_EQ(layers[i]["class_name"], expected[i][0]) << i;
    if (i >= 2) {  // TFOpLambda, AddLoss, AddMetric
      EXPECT_EQ(layers[i]["config"].dump(), expected[i][1].dump()) << i;
    }
  }
  EXPECT_EQ(model->get_config()["output_layers"].dump(), R"([["dense",0,0]])");
  EXPECT_EQ(model->outputs().size(), 1u);
}

TEST_F(ModelAddLoss, EvaluateAndFitIncludeTheLossAndReportTheMetric) {
  auto model = build();
  const Data d = reference();
  const Logs logs = model->evaluate(d.x, d.y);
  EXPECT_NEAR(logs.at("loss"), d.loss, 1e-5);
  EXPECT_NEAR(logs.at("s"), d.s, 1e-5);
  // By hand from the predictions: mse + mean(y_pred); s = sum(y_pred).
  const auto p = model->predict(d.x).to_vector<float>();
  const auto y = d.y.to_vector<float>();
  double se = 0, total = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    se += (p[i] - y[i]) * (p[i] - y[i]);
    total += p[i];
  }
  EXPECT_NEAR(logs.at("loss"), se / p.size() + total / p.size(), 1e-5);
  EXPECT_NEAR(logs.at("s"), total, 1e-5);
  // One step: the add_loss term is in the gradient (tf-keras's kernel after the step).
  const Logs step = model->train_on_batch({d.x}, {d.y});
  EXPECT_NEAR(step.at("loss"), d.loss, 1e-5);
  const Config after = read_json(data_dir() / "add_loss_217.json")["kernel_after_step"];
  const auto k = model->get_layer("dense")->get_weights()[0].to_vector<float>();
  const auto expected = matrix(after).to_vector<float>();
  for (std::size_t i = 0; i < k.size(); ++i) EXPECT_NEAR(k[i], expected[i], 1e-6) << i;
}

TEST_F(ModelAddLoss, SavedAndRestoredByH5AndSavedModel) {
  const Data d = reference();
  for (const char* format_name : {"h5", "savedmodel"}) {
    const std::string format = format_name;
    auto model = build();
    SaveOptions options;
    options.format = format;
    const fs::path path = dir_ / ("m_" + format);
    model->save(path, options);
    LoadOptions load;
    load.format = format;
    auto loaded = load_model(path, load);
    EXPECT_EQ(model_to_json(*loaded), model_to_json(*model)) << format;
    const Logs logs = loaded->evaluate(d.x, d.y);
    EXPECT_NEAR(logs.at("loss"), d.loss, 1e-5) << format;
    EXPECT_NEAR(logs.at("s"), d.s, 1e-5) << format;
  }
}

TEST_F(ModelAddLoss, ReadsTfKerasH5) {
  const Data d = reference();
  auto model = load_model(data_dir() / "add_loss_217.h5");
  std::vector<std::string> classes;
  for (const auto& l : model->layers()) classes.push_back(l->class_name());
  EXPECT_EQ(classes, (std::vector<std::string>{"InputLayer", "Dense", "TFOpLambda", "AddLoss", "TFOpLambda", "AddMetric"}));
  const Logs logs = model->evaluate(d.x, d.y);
  EXPECT_NEAR(logs.at("loss"), d.loss, 1e-5);
  EXPECT_NEAR(logs.at("s"), d.s, 1e-5);
}

TEST_F(ModelAddLoss, FunctionLossCountsAndIsNotSavedWithAWarning) {
  const Data d = reference();
  auto model = build();
  const double base = model->evaluate(d.x, d.y).at("loss");
  auto kernel = model->get_layer("dense")->weights()[0];
  model->add_loss([kernel] { return sum(abs(read(kernel))) * 0.5; });  // 0.5 * |K|_1 = 0.5 * 2.375
  EXPECT_NEAR(model->evaluate(d.x, d.y).at("loss"), base + 0.5 * 2.375, 1e-5);

  std::vector<std::string> warnings;
  std::mutex mu;
  auto previous = set_log_sink([&](LogLevel level, std::string_view text) {
    std::lock_guard<std::mutex> lock(mu);
    if (level == LogLevel::kWarning) warnings.emplace_back(text);
  });
  model->save(dir_ / "m.h5");
  set_log_sink(previous);
  bool warned = false;
  for (const auto& w : warnings) {
    warned = warned || (w.find("add_loss(function)") != std::string::npos && w.find("not saved by format h5") != std::string::npos);
  }
  EXPECT_TRUE(warned) << ::testing::PrintToString(warnings);
  auto loaded = load_model(dir_ / "m.h5");
  EXPECT_NEAR(loaded->evaluate(d.x, d.y).at("loss"), base, 1e-5) << "the function's term is not in the file";
}

TEST_F(ModelAddLoss, RefusesWhatKerasRefuses) {
  auto model = build();
  EXPECT_THROW(model->add_loss(ones(Shape{})), ValueError);  // eager tensor
  EXPECT_THROW(model->add_metric(ones(Shape{}), "m"), ValueError);
  Sequential seq({make_layer("Dense", Config{{"units", 1}})});
  Tensor in = Input(Shape{3});
  EXPECT_THROW(seq.add_loss(in), ValueError);  // not Functional
}

}  // namespace
}  // namespace strata
