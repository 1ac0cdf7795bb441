// The volumetric layers on inputs whose depth, height and width are unknown until the
// graph runs (Input((None, None, None, c))): they build with the channels known, one model
// runs (and differentiates) at several sizes, and a traced graph of it gives what the eager
// calls give. Forward values against tf-keras: the interop fixture volumetric_any_size.
#include <gtest/gtest.h>

#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

constexpr std::int64_t kU = Shape::kUnknown;

class VolumetricAnySizeTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
};

// Conv3D (same, strided) -> Conv3DTranspose (same, strided) -> MaxPooling3D (same) ->
// Conv3D (valid, grouped) -> Conv3DTranspose (valid, output_padding) -> AveragePooling3D.
std::shared_ptr<Functional> any_size_model(DType dtype) {
  const std::string dt(dtype_name(dtype));
  Tensor in = Input(Shape{kU, kU, kU, 2}, "volume", dtype);
  Tensor x = (*make_layer("Conv3D", Config{{"filters", 4}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"},
                                           {"activation", "tanh"}, {"dtype", dt}}))(in);
  x = (*make_layer("Conv3DTranspose",
                   Config{{"filters", 3}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}, {"dtype", dt}}))(x);
  x = (*make_layer("MaxPooling3D", Config{{"pool_size", {2, 3, 2}}, {"strides", 1}, {"padding", "same"},
                                          {"dtype", dt}}))(x);
  x = (*make_layer("Conv3D", Config{{"filters", 4}, {"kernel_size", 2}, {"groups", 1}, {"dtype", dt}}))(x);
  x = (*make_layer("Conv3DTranspose", Config{{"filters", 2}, {"kernel_size", {2, 3, 2}}, {"strides", {2, 1, 2}},
                                             {"output_padding", {1, 0, 0}}, {"dtype", dt}}))(x);
  x = (*make_layer("AveragePooling3D", Config{{"pool_size", 2}, {"padding", "same"}, {"dtype", dt}}))(x);
  return std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{x}, "any_size");
}

TEST_F(VolumetricAnySizeTest, LayersBuildOnUnknownSizesWithTheChannelsKnown) {
  DeviceScope on_ref(Device("ref:0"));
  const Tensor in = Input(Shape{kU, kU, kU, 2});
  EXPECT_EQ((*make_layer("Conv3D", Config{{"filters", 4}, {"kernel_size", 3}, {"strides", 2}}))(in).shape().to_string(),
            "(None, None, None, None, 4)");
  EXPECT_EQ((*make_layer("Conv3D", Config{{"filters", 4}, {"kernel_size", 2}, {"groups", 2}}))(in).shape().to_string(),
            "(None, None, None, None, 4)");
  EXPECT_EQ((*make_layer("Conv3DTranspose", Config{{"filters", 3}, {"kernel_size", 2}, {"strides", 2}}))(in)
                .shape()
                .to_string(),
            "(None, None, None, None, 3)");
  EXPECT_EQ((*make_layer("AveragePooling3D"))(in).shape().to_string(), "(None, None, None, None, 2)");
  EXPECT_EQ((*make_layer("GlobalMaxPooling3D"))(in).shape().to_string(), "(None, 2)");
  // The output lengths that follow from the sizes known at build time stay known (Keras's
  // shapes).
  EXPECT_EQ((*make_layer("Conv3DTranspose", Config{{"filters", 3}, {"kernel_size", 2}, {"strides", 2}}))(
                Input(Shape{4, kU, 3, 2}))
                .shape()
                .to_string(),
            "(None, 8, None, 6, 3)");
  EXPECT_EQ((*make_layer("Conv3D", Config{{"filters", 3}, {"kernel_size", 2}, {"strides", 2}, {"padding", "same"}}))(
                Input(Shape{5, kU, 3, 2}))
                .shape()
                .to_string(),
            "(None, 3, None, 2, 3)");
  EXPECT_EQ(any_size_model(DType::kFloat32)->outputs()[0].shape().to_string(), "(None, None, None, None, 2)");
}

// One model, run at two sizes: the gradients of sum(model(x) * probe) by the tape against
// central differences, inputs and weights float64.
TEST_F(VolumetricAnySizeTest, GradientsMatchFiniteDifferencesAtTwoRunTimeSizes) {
  DeviceScope on_ref(Device("ref:0"));
  auto model = any_size_model(DType::kFloat64);
  std::vector<Tensor> weights;
  std::uint64_t seed = 11;
  for (const auto& v : model->weights()) weights.push_back(random_uniform(v.shape(), DType::kFloat64, -1.0, 1.0, seed++));
  model->set_weights(weights);
  for (const Shape& shape : {Shape{2, 3, 4, 5, 2}, Shape{1, 5, 3, 4, 2}}) {
    SCOPED_TRACE(shape.to_string());
    const Tensor x = random_uniform(shape, DType::kFloat64, -1.0, 1.0, 3);
    const Shape out_shape = (*model)(x).shape();
    const Tensor probe = random_uniform(out_shape, DType::kFloat64, -1.0, 1.0, 7);
    auto objective = [&](const std::vector<Tensor>& xs) { return sum((*model)(xs[0]) * probe); };
    GradientTape tape(/*persistent=*/true);
    tape.watch(x);
    const Tensor loss = objective({x});
    const auto dx = tape.gradient(loss, {x});
    const auto dw = tape.gradient(loss, model->trainable_weights());
    expect_gradients_match_finite_differences(*model, objective, {x}, dx, dw);
  }
}

// strata::trace of the model with every size unknown: the graph's run-time shapes give,
// for two sizes, what the eager calls give. On cpu (the ref backend's Shape kernel answers
// on the ref device, where the host constants of run-time shapes are not; see
// TracedTransposedConvolutionTakesTheBatchAtRunTime).
TEST_F(VolumetricAnySizeTest, TracedGraphRunsAtTwoSizes) {
  if (const std::string why = skip_reason("cpu:0"); !why.empty()) GTEST_SKIP() << why;
  DeviceScope on_cpu(Device("cpu:0"));
  auto model = any_size_model(DType::kFloat32);
  const Graph graph = trace([&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{(*model)(xs[0])}; },
                            {TensorSpec(Shape{kU, kU, kU, kU, 2})});
  for (const Shape& shape : {Shape{2, 3, 4, 5, 2}, Shape{1, 6, 2, 3, 2}}) {
    const Tensor x = pattern_tensor(shape, 5);
    const Tensor eager = (*model)(x);
    const Tensor traced = graph.run({x})[0];
    EXPECT_EQ(traced.shape().to_string(), eager.shape().to_string());
    EXPECT_EQ(mismatch(values(traced), values(eager)), "");
  }
}

}  // namespace
}  // namespace strata::layer_tests
