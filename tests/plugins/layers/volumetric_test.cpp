// The volumetric layers (Conv3D, Conv3DTranspose, 3-D pooling): gradients against finite
// differences for each class and configuration family, and the typed errors of bad
// configs and inputs. Their forward values, configs and weights are checked against
// tf-keras by the interop fixtures conv3d, conv3d_transpose, pooling_3d and
// volumetric_model (tests/interop).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/model.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

class VolumetricTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

// d sum(layer(x) * probe) / d (x, weights) by the tape against central differences, in
// float64. Inputs and weights are uniform random (no ties for the max poolings).
void check_gradients(const std::string& cls, Config config, const Shape& shape) {
  SCOPED_TRACE(cls + " " + config.dump());
  config["dtype"] = "float64";
  auto layer = make_layer(cls, config);
  layer->ensure_built({shape});
  const Tensor x = random_uniform(shape, DType::kFloat64, -1.0, 1.0, 3);
  std::vector<Tensor> init;
  for (const auto& v : layer->weights()) init.push_back(random_uniform(v.shape(), DType::kFloat64, -1.0, 1.0, 5));
  layer->set_weights(init);
  const Shape out_shape = (*layer)(x).shape();
  const Tensor probe = random_uniform(out_shape, DType::kFloat64, -1.0, 1.0, 7);
  auto objective = [&](const Tensor& in) { return sum((*layer)(in)*probe); };
  GradientTape tape(/*persistent=*/true);
  tape.watch(x);
  const Tensor loss = objective(x);
  const auto dx = tape.gradient(loss, {x});
  const auto trainable = layer->trainable_weights();
  const auto dw = tape.gradient(loss, trainable);
  const double h = 1e-6;
  ASSERT_TRUE(dx[0].defined());
  const auto base = x.to_vector<double>();
  const auto got = dx[0].to_vector<double>();
  for (std::size_t i = 0; i < base.size(); i += 1 + base.size() / 23) {
    auto plus = base, minus = base;
    plus[i] += h;
    minus[i] -= h;
    const double fd = (objective(Tensor::from_vector<double>(plus, shape)).item<double>() -
                       objective(Tensor::from_vector<double>(minus, shape)).item<double>()) /
                      (2 * h);
    EXPECT_NEAR(got[i], fd, 1e-6 + 1e-6 * std::fabs(fd)) << "input element " << i;
  }
  for (std::size_t j = 0; j < trainable.size(); ++j) {
    ASSERT_TRUE(dw[j].defined()) << trainable[j].name();
    const auto wgot = dw[j].to_vector<double>();
    const auto wbase = init[j].to_vector<double>();
    for (std::size_t i = 0; i < wbase.size(); i += 1 + wbase.size() / 11) {
      auto eval = [&](double delta) {
        auto changed = init;
        auto p = wbase;
        p[i] += delta;
        changed[j] = Tensor::from_vector<double>(p, trainable[j].shape());
        layer->set_weights(changed);
        return objective(x).item<double>();
      };
      const double fd = (eval(h) - eval(-h)) / (2 * h);
      EXPECT_NEAR(wgot[i], fd, 1e-6 + 1e-6 * std::fabs(fd)) << trainable[j].name() << " element " << i;
    }
    layer->set_weights(init);
  }
}

TEST_F(VolumetricTest, Conv3DGradientsMatchFiniteDifferences) {
  const Shape in{2, 4, 5, 5, 2};
  check_gradients("Conv3D", Config{{"filters", 3}, {"kernel_size", 2}}, in);
  check_gradients("Conv3D",
                  Config{{"filters", 2},
                         {"kernel_size", {3, 2, 3}},
                         {"strides", {2, 1, 2}},
                         {"padding", "same"},
                         {"activation", "tanh"}},
                  in);
  check_gradients("Conv3D",
                  Config{{"filters", 2}, {"kernel_size", 2}, {"dilation_rate", {2, 1, 2}}, {"padding", "same"}}, in);
  check_gradients("Conv3D", Config{{"filters", 4}, {"kernel_size", {2, 3, 1}}, {"groups", 2}, {"use_bias", false}}, in);
}

TEST_F(VolumetricTest, Conv3DTransposeGradientsMatchFiniteDifferences) {
  const Shape in{2, 3, 4, 3, 2};
  check_gradients("Conv3DTranspose", Config{{"filters", 3}, {"kernel_size", 2}}, in);
  check_gradients("Conv3DTranspose", Config{{"filters", 2}, {"kernel_size", 3}, {"strides", 2}, {"padding", "same"}},
                  in);
  check_gradients(
      "Conv3DTranspose",
      Config{{"filters", 2}, {"kernel_size", {2, 3, 2}}, {"strides", {2, 1, 3}}, {"output_padding", {1, 0, 2}}}, in);
  check_gradients("Conv3DTranspose", Config{{"filters", 2}, {"kernel_size", {1, 2, 1}}, {"strides", {2, 3, 2}}}, in);
}

TEST_F(VolumetricTest, PoolingGradientsMatchFiniteDifferences) {
  const Shape in{2, 4, 5, 5, 2};
  check_gradients("MaxPooling3D", Config::object(), in);
  check_gradients("MaxPooling3D", Config{{"pool_size", {2, 3, 2}}, {"strides", {1, 2, 2}}, {"padding", "same"}}, in);
  check_gradients("AveragePooling3D", Config{{"pool_size", {3, 2, 2}}, {"strides", {2, 2, 1}}, {"padding", "same"}},
                  in);
  check_gradients("AveragePooling3D", Config{{"pool_size", 2}, {"strides", 1}, {"data_format", "channels_first"}}, in);
  check_gradients("GlobalMaxPooling3D", Config::object(), in);
  check_gradients("GlobalAveragePooling3D", Config{{"keepdims", true}}, in);
}

// tf-keras's Conv3DTranspose writes `groups` but applies none (its kernel is ungrouped); the
// conv3d_transpose fixture pins the values, this pins that a grouped config builds the same
// kernel and computes the same as an ungrouped one.
TEST_F(VolumetricTest, Conv3DTransposeIgnoresGroupsAsTfKerasDoes) {
  auto plain = make_layer("Conv3DTranspose", Config{{"filters", 2}, {"kernel_size", 2}});
  auto grouped = make_layer("Conv3DTranspose", Config{{"filters", 2}, {"kernel_size", 2}, {"groups", 2}});
  const Tensor x = random_uniform(Shape{1, 3, 3, 3, 2}, DType::kFloat32, -1.0, 1.0, 1);
  plain->ensure_built({x.shape()});
  grouped->ensure_built({x.shape()});
  ASSERT_EQ(grouped->weights()[0].shape(), (Shape{2, 2, 2, 2, 2}));
  grouped->set_weights(plain->get_weights());
  EXPECT_EQ(mismatch(values((*grouped)(x)), values((*plain)(x))), "");
  EXPECT_EQ(grouped->get_config()["groups"], 2);
}

// tf_keras.layers has these six aliases of the 3-D classes; configs name the class.
TEST_F(VolumetricTest, AliasesBuildTheKerasClass) {
  const Config conv{{"filters", 1}, {"kernel_size", 1}};
  EXPECT_EQ(make_layer("Convolution3D", conv)->class_name(), "Conv3D");
  EXPECT_EQ(make_layer("Convolution3DTranspose", conv)->class_name(), "Conv3DTranspose");
  EXPECT_EQ(make_layer("MaxPool3D")->class_name(), "MaxPooling3D");
  EXPECT_EQ(make_layer("AvgPool3D")->class_name(), "AveragePooling3D");
  EXPECT_EQ(make_layer("GlobalMaxPool3D")->class_name(), "GlobalMaxPooling3D");
  EXPECT_EQ(make_layer("GlobalAvgPool3D")->class_name(), "GlobalAveragePooling3D");
}

// The message of the error of kind E that `f` throws.
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.message();
  } catch (const Error& e) {
    return std::string("wrong kind ") + e.kind() + ": " + e.message();
  }
  return "no error";
}

template <class E>
std::string config_error(const char* cls, Config config) {
  config["name"] = "v";
  return error_of<E>([&] { make_layer(cls, config); });
}

template <class E>
std::string build_error(const char* cls, Config config, const Shape& shape) {
  config["name"] = "v";
  return error_of<E>([&] {
    auto layer = make_layer(cls, config);
    layer->ensure_built({shape});
    (*layer)(zeros(Shape{1, 2, 2, 2, shape.dims().back()}));
  });
}

TEST_F(VolumetricTest, BadConfigsGiveTypedErrorsNamingTheLayer) {
  EXPECT_EQ(config_error<ValueError>("Conv3D", Config{{"filters", 0}, {"kernel_size", 2}}),
            "layer 'v' (Conv3D): 'filters' must be a positive integer, got 0");
  EXPECT_EQ(config_error<ValueError>("Conv3D", Config{{"filters", 2}, {"kernel_size", {2, 0, 2}}}),
            "layer 'v' (Conv3D): 'kernel_size' must be a positive integer or a list of 3 positive "
            "integers, got [2,0,2]");
  EXPECT_EQ(config_error<FormatError>("Conv3D", Config{{"filters", 2}, {"kernel_size", 2}, {"padding", "causal"}}),
            "layer 'v' (Conv3D): 'padding' must be one of \"valid\", \"same\", got \"causal\"");
  EXPECT_EQ(
      config_error<ValueError>("Conv3D", Config{{"filters", 2}, {"kernel_size", 2}, {"data_format", "channels_first"}}),
      "layer 'v' (Conv3D): data_format \"channels_first\" is not supported (Strata's convolutions are "
      "channels_last); transpose the inputs and use data_format \"channels_last\"");
  EXPECT_EQ(config_error<ValueError>("Conv3D",
                                     Config{{"filters", 2}, {"kernel_size", 2}, {"strides", 2}, {"dilation_rate", 2}}),
            "layer 'v' (Conv3D): strides > 1 are not supported together with dilation_rate > 1 (as in Keras), got "
            "strides=[2,2,2], dilation_rate=[2,2,2]");
  EXPECT_EQ(config_error<ValueError>("Convolution3D", Config{{"filters", 3}, {"kernel_size", 2}, {"groups", 2}}),
            "layer 'v' (Conv3D): filters must be divisible by groups, got filters=3, groups=2");
  EXPECT_EQ(config_error<ValueError>("Conv3DTranspose",
                                     Config{{"filters", 2}, {"kernel_size", 2}, {"strides", 2}, {"output_padding", 2}}),
            "layer 'v' (Conv3DTranspose): strides must be greater than output_padding, got strides=[2,2,2], "
            "output_padding=[2,2,2]");
  EXPECT_EQ(
      config_error<ValueError>("Conv3DTranspose", Config{{"filters", 2}, {"kernel_size", 2}, {"dilation_rate", 2}}),
      "layer 'v' (Conv3DTranspose): dilation_rate other than 1 is not supported (tf-keras 2.17's "
      "Conv3DTranspose ignores it and Keras 3 applies it)");
  EXPECT_EQ(config_error<ValueError>("MaxPooling3D", Config{{"pool_size", {2, 2, 0}}}),
            "layer 'v' (MaxPooling3D): 'pool_size' must be a positive integer or a list of 3 "
            "positive integers, got [2,2,0]");
  EXPECT_EQ(config_error<FormatError>("AvgPool3D", Config{{"padding", "full"}}),
            "layer 'v' (AveragePooling3D): 'padding' must be one of \"valid\", \"same\", got \"full\"");
  EXPECT_EQ(config_error<FormatError>("GlobalAveragePooling3D", Config{{"keepdims", "yes"}}),
            "layer 'v' (GlobalAveragePooling3D): 'keepdims' must be true or false, got \"yes\"");
}

TEST_F(VolumetricTest, InputsThatDoNotFitGiveShapeErrorsNamingTheLayer) {
  EXPECT_EQ(build_error<ValueError>("Conv3D", Config{{"filters", 2}, {"kernel_size", 1}, {"groups", 2}},
                                    Shape{1, 2, 2, 2, 3}),
            "layer 'v': the number of input channels (3) must be divisible by groups (2)");
  EXPECT_EQ(build_error<ShapeError>("Conv3D", Config{{"filters", 2}, {"kernel_size", {3, 1, 1}}}, Shape{1, 2, 2, 2, 1}),
            "layer 'v' (Conv3D): the input depth 2 is smaller than the dilated kernel depth 3 (padding \"valid\")");
  EXPECT_EQ(
      build_error<ShapeError>("MaxPooling3D", Config{{"pool_size", {3, 1, 1}}}, Shape{1, 2, 2, 2, 1}),
      "layer 'v' (MaxPooling3D): the pool size [3,1,1] does not fit the inputs (1, 2, 2, 2, 1) (padding \"valid\")");
  EXPECT_EQ(build_error<ShapeError>("Conv3D", Config{{"filters", 2}, {"kernel_size", 1}}, Shape{1, 2, 2}),
            "layer 'v' (Conv3D) expects an input of rank 5, got shape (1, 2, 2)");
  // Spatial sizes unknown until the graph runs are read then (volumetric_any_size_test.cpp).
  EXPECT_EQ((*make_layer("MaxPooling3D"))(Input(Shape{Shape::kUnknown, Shape::kUnknown, 4, 2})).shape().to_string(),
            "(None, None, None, 2, 2)");
  // The batch may be unknown: Conv3DTranspose computes its output sizes at run time.
  {
    auto layer = make_layer("Conv3DTranspose", Config{{"filters", 3}, {"kernel_size", 2}, {"strides", 2}});
    EXPECT_EQ((*layer)(Input(Shape{2, 3, 4, 2})).shape(), (Shape{Shape::kUnknown, 4, 6, 8, 3}));
  }
  // An even kernel with padding "same" and output_padding 0 has no forward convolution back
  // to the input length (TensorFlow's conv3d_transpose refuses it too).
  EXPECT_EQ(build_error<ShapeError>(
                "Conv3DTranspose",
                Config{{"filters", 1}, {"kernel_size", 2}, {"strides", 2}, {"padding", "same"}, {"output_padding", 0}},
                Shape{1, 2, 2, 2, 1}),
            "layer 'v' (Conv3DTranspose): the output length 2 of spatial axis 0 cannot be convolved back to the input "
            "length 2 (kernel 2, stride 2, padding \"same\")");
}

}  // namespace
}  // namespace strata::layer_tests
