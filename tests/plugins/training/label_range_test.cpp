// Issue 19: sparse_categorical_crossentropy with a label outside [0, classes) was loss 0
// (the one-hot of such a label is all zeros). TensorFlow refuses it on the CPU
// ("Received a label value of 12 which is outside the valid range of [0, 10)"); Strata
// refuses it with a ValueError naming the label and the range, on every device, as a loss,
// as a metric and through train_on_batch/fit. ignore_class's label is exempt, as in tf-keras.
#include <gtest/gtest.h>

#include "strata/losses.hpp"
#include "strata/metrics.hpp"
#include "strata/model.hpp"
#include "training_test_util.hpp"

namespace strata::training_tests {
namespace {

Tensor predictions() {  // 3 rows, 4 classes
  return Tensor::from_vector<float>({0.1f, 0.2f, 0.3f, 0.4f, 0.25f, 0.25f, 0.25f, 0.25f, 0.7f, 0.1f, 0.1f, 0.1f}, Shape{3, 4});
}

void expect_label_error(const std::function<void()>& call, const std::string& label) {
  try {
    call();
    FAIL() << "label " << label << " was accepted";
  } catch (const ValueError& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("label " + label + " "), std::string::npos) << text;
    EXPECT_NE(text.find("outside the valid range [0, 4)"), std::string::npos) << text;
  }
}

class LabelRange : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string reason = skip_reason(GetParam());
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

TEST_P(LabelRange, LossRefusesALabelAtOrAboveTheClassCountAndANegativeOne) {
  DeviceScope scope{Device(GetParam())};
  auto loss = get_loss(Config("sparse_categorical_crossentropy"));
  for (const auto& c : std::vector<std::pair<std::vector<std::int32_t>, std::string>>{
           {{1, 4, 0}, "4"}, {{1, 2, 12}, "12"}, {{-1, 2, 0}, "-1"}}) {
    // (not a structured binding: clang 15 cannot capture one in the lambda)
    const std::vector<std::int32_t>& labels = c.first;
    expect_label_error([&] { (*loss)(Tensor::from_vector<std::int32_t>(labels, Shape{3}), predictions()); }, c.second);
  }
  // Float labels, as Keras users often pass them, are class indices too.
  expect_label_error([&] { (*loss)(Tensor::from_vector<float>({0, 5, 1}, Shape{3}), predictions()); }, "5");
  // In range: accepted (the values themselves are checked against tf-keras in loss_test).
  EXPECT_NO_THROW((*loss)(Tensor::from_vector<std::int32_t>({3, 0, 2}, Shape{3}), predictions()));
}

TEST_P(LabelRange, IgnoreClassLabelIsExemptAndContributesNothing) {
  DeviceScope scope{Device(GetParam())};
  auto loss = get_loss(Config{{"class_name", "SparseCategoricalCrossentropy"},
                              {"config", {{"ignore_class", -1}, {"reduction", "none"}}}});
  const Tensor per_row = (*loss)(Tensor::from_vector<std::int32_t>({3, -1, 0}, Shape{3}), predictions());
  const auto v = values(per_row);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[1], 0.0);
  EXPECT_NEAR(v[0], -std::log(0.4), 1e-6);
  expect_label_error([&] { (*loss)(Tensor::from_vector<std::int32_t>({3, -2, 0}, Shape{3}), predictions()); }, "-2");
}

TEST_P(LabelRange, MetricRefusesItToo) {
  DeviceScope scope{Device(GetParam())};
  auto metric = get_metric(Config("sparse_categorical_crossentropy"));
  expect_label_error([&] { metric->update_state(Tensor::from_vector<std::int32_t>({0, 7, 1}, Shape{3}), predictions()); },
                     "7");
}

INSTANTIATE_TEST_SUITE_P(Devices, LabelRange, ::testing::ValuesIn(test_devices()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(0, info.param.find(':'));
                         });

TEST(LabelRangeInTraining, TrainOnBatchRefusesAnOutOfRangeLabelAndLeavesTheWeights) {
  if (!Registry::global().contains(ObjectKind::kLayer, "Dense")) GTEST_SKIP() << "no layers plugin";
  Sequential model({make_layer("Dense", {{"units", 4}, {"activation", "softmax"}, {"input_shape", {2}}})});
  model.compile(Config("sgd"), Config("sparse_categorical_crossentropy"));
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{3, 2});
  const auto before = values(model.weights().at(0).value());
  expect_label_error([&] { model.train_on_batch({x}, {Tensor::from_vector<std::int32_t>({0, 1, 4}, Shape{3})}); }, "4");
  EXPECT_EQ(values(model.weights().at(0).value()), before) << "a refused batch must not move the weights";
}

}  // namespace
}  // namespace strata::training_tests
