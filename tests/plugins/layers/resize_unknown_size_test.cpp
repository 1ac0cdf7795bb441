// Issue 18, trace ops: the layers that resize images (Resizing, UpSampling2D bilinear,
// TFOpLambda image.resize) run the runtime's ResizeBilinear / ResizeNearestNeighbor ops, so
// they build on images whose height and width are unknown when the model is built, keep
// the channels known for the layers after them, and run at any image size. (Their values
// against tf-keras: the interop fixture resize_unknown_size; gradients: behavior_test.)
#include <gtest/gtest.h>

#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

TEST(ResizeUnknownSize, UpSamplingBilinearKeepsChannelsKnownSoAConv2DBuildsAfterIt) {
  Tensor in = Input(Shape{Shape::kUnknown, Shape::kUnknown, 3});
  Tensor up = (*make_layer("UpSampling2D", Config{{"size", {2, 3}}, {"interpolation", "bilinear"}}))(in);
  EXPECT_EQ(up.shape().to_string(), "(None, None, None, 3)");
  Tensor conv = (*make_layer("Conv2D", Config{{"filters", 2}, {"kernel_size", 3}, {"padding", "same"}}))(up);
  Tensor out = (*make_layer("Resizing", Config{{"height", 4}, {"width", 5}}))(conv);
  EXPECT_EQ(out.shape().to_string(), "(None, 4, 5, 2)");
  Functional model({in}, {up, out});
  for (const Shape& s : {Shape{2, 5, 3, 3}, Shape{1, 2, 7, 3}}) {
    const auto y = model.predict(std::vector<Tensor>{ones(s)});
    ASSERT_EQ(y.size(), 2u);
    EXPECT_EQ(y[0].shape(), (Shape{s[0], s[1] * 2, s[2] * 3, 3}));
    EXPECT_EQ(y[1].shape(), (Shape{s[0], 4, 5, 2}));
    // Bilinear resizing of a constant image is that constant.
    for (const float v : y[0].to_vector<float>()) ASSERT_EQ(v, 1.0f);
  }
}

TEST(ResizeUnknownSize, ResizingNearestAndBilinearBuildOnUnknownSizes) {
  for (const char* interpolation : {"bilinear", "nearest"}) {
    Tensor in = Input(Shape{Shape::kUnknown, Shape::kUnknown, 2});
    Tensor out = (*make_layer("Resizing", Config{{"height", 3}, {"width", 6}, {"interpolation", interpolation}}))(in);
    EXPECT_EQ(out.shape().to_string(), "(None, 3, 6, 2)") << interpolation;
    Functional model({in}, {out});
    EXPECT_EQ(model.predict(std::vector<Tensor>{ones(Shape{1, 7, 2, 2})}).at(0).shape(), (Shape{1, 3, 6, 2}));
  }
}

// Nearest upsampling is a repeat; of unknown sizes its run-time reshape used to leave the
// channels unknown too, so a Flatten + Dense after a Resizing could not build.
TEST(ResizeUnknownSize, NearestUpSamplingKeepsTheKnownDimensions) {
  Tensor in = Input(Shape{Shape::kUnknown, Shape::kUnknown, 3});
  Tensor up = (*make_layer("UpSampling2D", Config{{"size", {2, 1}}, {"interpolation", "nearest"}}))(in);
  EXPECT_EQ(up.shape().to_string(), "(None, None, None, 3)");
  Tensor one_d_in = Input(Shape{Shape::kUnknown, 2});
  EXPECT_EQ((*make_layer("UpSampling1D", Config{{"size", 3}}))(one_d_in).shape().to_string(), "(None, None, 2)");
  Tensor resized = (*make_layer("Resizing", Config{{"height", 4}, {"width", 5}}))(up);
  Tensor out = (*make_layer("Dense", Config{{"units", 2}}))((*make_layer("Flatten", Config::object()))(resized));
  EXPECT_EQ(out.shape().to_string(), "(None, 2)");
  Functional model({in}, {up, out});
  const auto y = model.predict(std::vector<Tensor>{ones(Shape{2, 3, 5, 3})});
  EXPECT_EQ(y.at(0).shape(), (Shape{2, 6, 5, 3}));
  for (const float v : y.at(0).to_vector<float>()) ASSERT_EQ(v, 1.0f);
  EXPECT_EQ(y.at(1).shape(), (Shape{2, 2}));
}

TEST(ResizeUnknownSize, CroppingToTheAspectRatioStillNeedsTheSizeAtBuildTime) {
  Tensor in = Input(Shape{Shape::kUnknown, Shape::kUnknown, 2});
  EXPECT_THROW((*make_layer("Resizing", Config{{"height", 3}, {"width", 3}, {"crop_to_aspect_ratio", true}}))(in),
               ShapeError);
}

}  // namespace
}  // namespace strata::layer_tests
