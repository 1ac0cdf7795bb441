// Numbers: every layer's outputs (and BatchNormalization's moving statistics after a
// training call), every activation, regularizer penalty and constraint projection, on
// inputs and weights from make_expected.py's pattern, against the values tf-keras 2.17
// computed for the same inputs (keras_expected.inc). Run on each available device.
#include <gtest/gtest.h>

#include "keras_expected.inc"
#include "strata/activations.hpp"
#include "strata/constraints.hpp"
#include "strata/graph.hpp"
#include "strata/regularizers.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

struct NumericParam {
  std::string device;
  const KerasNumericCase* c;
};

class LayerNumericTest : public ::testing::TestWithParam<NumericParam> {};

// The layer of case `c`, built for its input shapes, with pattern weights (salt = index
// + 1, positive for variances) as the oracle set them.
std::shared_ptr<Layer> pattern_layer(const KerasNumericCase& c, std::vector<Tensor>& inputs) {
  auto layer = make_layer(c.class_name, Config::parse(c.kwargs));
  std::vector<Shape> shapes;
  const Config input_shapes = Config::parse(c.input_shapes);
  for (std::size_t k = 0; k < input_shapes.size(); ++k) {
    shapes.push_back(shape_of_json(input_shapes[k]));
    inputs.push_back(pattern_tensor(shapes.back(), 100 + static_cast<std::int64_t>(k)));
  }
  layer->ensure_built(shapes);
  std::vector<Tensor> weights;
  const auto vars = layer->weights();
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const bool positive = vars[i].name().find("variance") != std::string::npos;
    weights.push_back(pattern_tensor(vars[i].shape(), static_cast<std::int64_t>(i + 1), positive));
  }
  layer->set_weights(weights);
  return layer;
}

TEST_P(LayerNumericTest, MatchesTfKeras) {
  const auto& p = GetParam();
  if (const auto why = skip_reason(p.device); !why.empty()) GTEST_SKIP() << why;
  DeviceScope scope{Device(p.device)};
  const auto& c = *p.c;
  std::vector<Tensor> inputs;
  auto layer = pattern_layer(c, inputs);
  CallContext ctx;
  ctx.training = c.training;
  const auto out = (*layer)(inputs, ctx);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].device(), Device(p.device));
  EXPECT_EQ(out[0].shape(), shape_of_json(Config::parse(c.output_shape)));
  const auto diff = mismatch(values(out[0]), floats_of_json(Config::parse(c.output)), 1e-5, 2e-5);
  EXPECT_TRUE(diff.empty()) << c.label << ": " << diff;
  const Config after = Config::parse(c.weights_after);
  const auto vars = layer->weights();
  ASSERT_EQ(vars.size(), after.size());
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const auto d = mismatch(values(vars[i].value()), floats_of_json(after[i]), 1e-5, 1e-6);
    EXPECT_TRUE(d.empty()) << c.label << " weight " << vars[i].name() << ": " << d;
  }
}

// Calling on symbolic inputs (unknown batch) infers the shape Keras gives.
TEST(LayerShapes, InferOutputShapesWithUnknownBatch) {
  DeviceScope scope{Device("ref:0")};
  for (const auto& c : kKerasNumericCases) {
    std::vector<Tensor> concrete;
    auto layer = pattern_layer(c, concrete);
    std::vector<Shape> shapes;
    for (const auto& t : concrete) {
      std::vector<std::int64_t> dims = t.shape().dims();
      dims[0] = Shape::kUnknown;
      shapes.push_back(Shape(dims));
    }
    std::vector<std::int64_t> want = shape_of_json(Config::parse(c.output_shape)).dims();
    want[0] = Shape::kUnknown;
    const auto got = layer->compute_output_shape(shapes);
    ASSERT_EQ(got.size(), 1u) << c.label;
    EXPECT_EQ(got[0], Shape(want)) << c.label << ": " << got[0].to_string();
  }
}

std::vector<NumericParam> numeric_params() {
  std::vector<NumericParam> out;
  for (const auto& d : test_devices()) {
    for (const auto& c : kKerasNumericCases) out.push_back({d, &c});
  }
  return out;
}

std::string numeric_name(const ::testing::TestParamInfo<NumericParam>& info) {
  return info.param.device.substr(0, info.param.device.find(':')) + "_" + info.param.c->label;
}

INSTANTIATE_TEST_SUITE_P(TfKeras, LayerNumericTest, ::testing::ValuesIn(numeric_params()), numeric_name);

// ---- activations, penalties, projections -------------------------------------------------

class DeviceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (const auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
    scope_.emplace(Device(GetParam()));
  }
  void TearDown() override { scope_.reset(); }
  std::optional<DeviceScope> scope_;
};

TEST_P(DeviceTest, ActivationsMatchTfKeras) {
  std::vector<float> x;
  for (const auto& row : kActivationInput) x.insert(x.end(), std::begin(row), std::end(row));
  const Tensor input = Tensor::from_vector<float>(x, Shape{2, 8});
  for (const auto& c : kKerasActivationCases) {
    const Tensor y = (*get_activation(Config(c.name)))(input);
    const auto diff = mismatch(values(y), floats_of_json(Config::parse(c.values)), 1e-5, 1e-6);
    EXPECT_TRUE(diff.empty()) << c.name << ": " << diff;
  }
}

TEST_P(DeviceTest, RegularizerPenaltiesAndConstraintProjectionsMatchTfKeras) {
  const Tensor w = pattern_tensor(Shape{3, 4}, 5);
  for (const auto& c : kKerasPenaltyCases) {
    const Config given = Config::parse(c.given);
    const Tensor y = std::string(c.kind) == "regularizer" ? (*get_regularizer(given))(w) : (*get_constraint(given))(w);
    const auto diff = mismatch(values(y), floats_of_json(Config::parse(c.values)), 1e-5, 1e-6);
    EXPECT_TRUE(diff.empty()) << c.kind << " " << c.given << ": " << diff;
  }
}

TEST_P(DeviceTest, DenseActivityRegularizationAddsTheMeanPenalty) {
  auto dense = make_layer("Dense", Config::parse(R"({"units": 3, "activity_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}})"));
  dense->ensure_built({Shape{2, 4}});
  dense->set_weights({pattern_tensor(Shape{4, 3}, 1), pattern_tensor(Shape{3}, 2)});
  LossCollector losses;
  (*dense)(pattern_tensor(Shape{2, 4}, 100));
  ASSERT_EQ(losses.losses().size(), 1u);
  EXPECT_NEAR(losses.losses()[0].item<float>(), kDenseActivityLoss, 1e-7);
}

TEST_P(DeviceTest, WeightRegularizersFeedRegularizationLosses) {
  auto dense = make_layer("Dense", Config::parse(R"({"units": 3, "kernel_regularizer": "l2", "bias_regularizer": {"class_name": "L1", "config": {"l1": 0.5}}})"));
  dense->ensure_built({Shape{2, 4}});
  dense->set_weights({pattern_tensor(Shape{4, 3}, 1), pattern_tensor(Shape{3}, 2)});
  const auto losses = dense->regularization_losses();
  ASSERT_EQ(losses.size(), 2u);
  double k2 = 0.0, b1 = 0.0;
  for (float v : pattern(12, 1)) k2 += static_cast<double>(v) * v;
  for (float v : pattern(3, 2)) b1 += std::fabs(v);
  EXPECT_NEAR(losses[0].item<float>(), 0.01 * k2, 1e-6);
  EXPECT_NEAR(losses[1].item<float>(), 0.5 * b1, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Devices, DeviceTest, ::testing::ValuesIn(test_devices()), device_param_name);

}  // namespace
}  // namespace strata::layer_tests
