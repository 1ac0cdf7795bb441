// Metrics against tf-keras 2.17 (metrics.json): result() after two update_state calls,
// without and with sample weights, for every class and option variant and for function
// names as compile() wraps them; the state variables' names; get_config key for key.
#include <gtest/gtest.h>

#include "strata/metrics.hpp"
#include "training_test_util.hpp"

namespace strata::training_tests {
namespace {

const Config& metric_fixture() {
  static const Config fixture = load_fixture("metrics.json");
  return fixture;
}

struct MetricParam {
  std::string device;
  std::string name;
};

class MetricTest : public ::testing::TestWithParam<MetricParam> {
 protected:
  void SetUp() override {
    const std::string reason = skip_reason(GetParam().device);
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
  static const Config& fixture_case() {
    for (const auto& c : metric_fixture()["cases"]) {
      if (c["name"] == GetParam().name) return c;
    }
    throw std::runtime_error("no metric case " + GetParam().name);
  }
};

void update(Metric& m, const Config& batch, bool weighted) {
  const Tensor y_true = tensor_of(batch["y_true"]);
  const Tensor y_pred = batch["y_pred"].is_null() ? Tensor() : tensor_of(batch["y_pred"]);
  const Tensor sw = weighted ? tensor_of(batch["sample_weight"]) : Tensor();
  m.update_state(y_true, y_pred, sw);
}

std::vector<std::string> state_names(const Metric& m) {
  std::vector<std::string> out;
  for (const auto& v : m.variables()) out.push_back(v.name().substr(v.name().rfind('/') + 1));
  return out;
}

TEST_P(MetricTest, MatchesTfKeras) {
  const Config& c = fixture_case();
  DeviceScope scope{Device(GetParam().device)};
  const Config spec{{"class_name", c["class_name"]}, {"config", c["config_in"]}};
  for (bool weighted : {false, true}) {
    SCOPED_TRACE(weighted ? "weighted" : "unweighted");
    auto m = get_metric(spec);
    ASSERT_NE(m, nullptr);
    for (const auto& batch : c["batches"]) update(*m, batch, weighted);
    const Config& want = c["results"][weighted ? "weighted" : "unweighted"];
    const Tensor got = m->result();
    EXPECT_EQ(got.shape().dims(), want["shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(differ(values(got), ref_values(want)), "");
    // reset_state starts over: the same updates give the same result.
    m->reset_state();
    for (const auto& batch : c["batches"]) update(*m, batch, weighted);
    EXPECT_EQ(differ(values(m->result()), ref_values(want)), "") << "after reset_state";
  }
  auto m = get_metric(spec);
  EXPECT_EQ(state_names(*m), c["state_names"].get<std::vector<std::string>>());
  expect_same_config(m->get_config(), c["config"]);
  auto again = get_metric(Config{{"class_name", m->class_name()}, {"config", m->get_config()}});
  expect_same_config(again->get_config(), c["config"]);
}

std::vector<MetricParam> metric_params() {
  std::vector<MetricParam> out;
  for (const auto& d : test_devices()) {
    for (const auto& c : metric_fixture()["cases"]) out.push_back({d, c["name"].get<std::string>()});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(TfKeras, MetricTest, ::testing::ValuesIn(metric_params()),
                         [](const ::testing::TestParamInfo<MetricParam>& info) {
                           return info.param.name + "_" + info.param.device.substr(0, info.param.device.find(':'));
                         });

TEST(MetricNames, ClassesAndFunctionNames) {
  const std::vector<std::pair<std::string, std::string>> classes = {
      {"Mean", "mean"},
      {"Sum", "sum"},
      {"Accuracy", "accuracy"},
      {"BinaryAccuracy", "binary_accuracy"},
      {"CategoricalAccuracy", "categorical_accuracy"},
      {"SparseCategoricalAccuracy", "sparse_categorical_accuracy"},
      {"TopKCategoricalAccuracy", "top_k_categorical_accuracy"},
      {"SparseTopKCategoricalAccuracy", "sparse_top_k_categorical_accuracy"},
      {"MeanAbsoluteError", "mean_absolute_error"},
      {"MeanSquaredError", "mean_squared_error"},
      {"RootMeanSquaredError", "root_mean_squared_error"},
      {"AUC", "auc"},
      {"Precision", "precision"},
      {"Recall", "recall"}};
  for (const auto& [cls, name] : classes) {
    auto m = get_metric(Config(cls));
    EXPECT_EQ(m->class_name(), cls);
    EXPECT_EQ(m->name(), name) << cls;
  }
  // What compile() builds for a metric name: {"class_name": name, "config": {"name": name}}.
  const std::vector<std::pair<std::string, std::string>> functions = {
      {"mae", "mean_absolute_error"},
      {"MAE", "mean_absolute_error"},
      {"mse", "mean_squared_error"},
      {"mape", "mean_absolute_percentage_error"},
      {"msle", "mean_squared_logarithmic_error"},
      {"binary_accuracy", "binary_accuracy"},
      {"categorical_accuracy", "categorical_accuracy"},
      {"sparse_categorical_accuracy", "sparse_categorical_accuracy"},
      {"top_k_categorical_accuracy", "top_k_categorical_accuracy"},
      {"sparse_top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"},
      {"binary_crossentropy", "binary_crossentropy"},
      {"categorical_crossentropy", "categorical_crossentropy"},
      {"sparse_categorical_crossentropy", "sparse_categorical_crossentropy"},
      {"kullback_leibler_divergence", "kl_divergence"},
      {"poisson", "poisson"},
      {"hinge", "hinge"},
      {"logcosh", "log_cosh"},
      {"cosine_proximity", "cosine_similarity"}};
  for (const auto& [given, fn] : functions) {
    auto m = get_metric(Config{{"class_name", given}, {"config", {{"name", given}}}});
    EXPECT_EQ(m->class_name(), "MeanMetricWrapper") << given;
    EXPECT_EQ(m->name(), given);
    const Config c = m->get_config();
    EXPECT_EQ(c["fn"], fn) << given;
    EXPECT_EQ(c["dtype"], "float32");
  }
  // The MeanMetricWrapper tf-keras writes into H5 training_config for "accuracy".
  auto acc = get_metric(Config::parse(
      R"({"class_name": "MeanMetricWrapper", "config": {"name": "accuracy", "dtype": "float32", "fn": "binary_accuracy"}})"));
  EXPECT_EQ(acc->name(), "accuracy");
  EXPECT_EQ(acc->get_config().dump(), R"({"name":"accuracy","dtype":"float32","fn":"binary_accuracy"})");
  // Keras 3 writes fn as a serialised function.
  auto k3 = get_metric(Config::parse(R"({"class_name": "MeanMetricWrapper", "config": {"name": "m", "fn":
      {"module": "keras.metrics", "class_name": "function", "config": "mae", "registered_name": "mae"}}})"));
  EXPECT_EQ(k3->get_config()["fn"], "mean_absolute_error");
  EXPECT_THROW(get_metric(Config::parse(R"({"class_name": "MeanMetricWrapper", "config": {"fn": "nope"}})")), ValueError);
  EXPECT_THROW(get_metric(Config("no_such_metric")), UnknownObjectError);
}

TEST(MetricBehaviour, EmptyMetricsReadZero) {
  DeviceScope scope{Device("ref:0")};
  for (const char* cls : {"Mean", "BinaryAccuracy", "RootMeanSquaredError", "AUC", "Precision", "Recall"}) {
    auto m = get_metric(Config(cls));
    EXPECT_EQ(values(m->result()), std::vector<double>{0.0}) << cls;
  }
}

}  // namespace
}  // namespace strata::training_tests
