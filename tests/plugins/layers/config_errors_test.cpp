// What a user sees for a model file whose layer configs are wrong: each error is typed,
// and its message names the layer, its class, the key, what was expected and what was
// found. The models come through model_from_json, as from a file; the expected messages
// are written by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/saving.hpp"
#include "test_util.hpp"
#include "load_error.hpp"

namespace strata::layer_tests {
namespace {

// A Keras 2 Sequential model of one layer `class_name` with `config` (plus a name), fed
// by inputs of shape (None, ...input_dims).
std::string sequential_json(const std::string& class_name, const std::string& name, const std::string& config,
                            const std::string& input_dims) {
  return R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, )" +
         input_dims + R"(], "dtype": "float32", "name": "in"}},
      {"class_name": ")" +
         class_name + R"(", "config": {"name": ")" + name + R"(", )" + config + R"(}}]}})";
}

using test::load_error;

class ConfigErrors : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

// tf-keras 2.21 writes InputLayer's "optional" (false unless the input may be None); Strata
// has no None inputs, so true is refused as sparse and ragged are.
TEST_F(ConfigErrors, InputLayerOptionalTrueIsRefusedFalseLoads) {
  const auto model_json = [](const char* optional) {
    return std::string(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32",
       "sparse": false, "ragged": false, "name": "in", "optional": )") +
           optional + R"(}}, {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}})";
  };
  EXPECT_EQ(load_error<ValueError>(model_json("true")),
            "InputLayer 'in': optional inputs (optional=True, which accept None) are not supported");
  EXPECT_EQ(load_error<ValueError>(model_json("false")), "loaded without an error");
}

TEST_F(ConfigErrors, DenseWithNegativeUnits) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("Dense", "dense_1", R"("units": -3)", "4")),
            "layer 'dense_1' (Dense): 'units' must be a positive integer, got -3");
}

// tf-keras's constructors refuse these (ReLU, LeakyReLU, ThresholdedReLU, PReLU).
TEST_F(ConfigErrors, ActivationLayersWithParametersKerasRefuses) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("ReLU", "r", R"("max_value": -1.0)", "4")),
            "layer 'r' (ReLU): 'max_value' must be a non-negative number, got -1.0");
  EXPECT_EQ(load_error<ValueError>(sequential_json("ReLU", "r", R"("negative_slope": null)", "4")),
            "layer 'r' (ReLU): 'negative_slope' must be a number, got null");
  EXPECT_EQ(load_error<ValueError>(sequential_json("LeakyReLU", "l", R"("alpha": null)", "4")),
            "layer 'l' (LeakyReLU): 'alpha' must be a number, got null");
  EXPECT_EQ(load_error<ValueError>(sequential_json("ThresholdedReLU", "t", R"("theta": -0.5)", "4")),
            "layer 't' (ThresholdedReLU): 'theta' must be a non-negative number, got -0.5");
  EXPECT_EQ(load_error<ValueError>(sequential_json("PReLU", "p", R"("shared_axes": [0])", "4")),
            "layer 'p' (PReLU): shared axis 0 is not an axis of the input (None, 4) other than the batch axis");
  EXPECT_EQ(load_error<ShapeError>(sequential_json("PReLU", "p", R"("shared_axes": [2])", "null, 3")),
            "layer 'p' (PReLU): input dimension 1 of (None, None, 3) must be known or shared (shared_axes)");
}

TEST_F(ConfigErrors, SpatialLayersWithBadPaddingCroppingOrSize) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("ZeroPadding2D", "z", R"("padding": -1)", "4, 4, 1")),
            "layer 'z' (ZeroPadding2D): 'padding' must be a non-negative integer, got -1");
  EXPECT_EQ(load_error<FormatError>(sequential_json("ZeroPadding3D", "z", R"("padding": [1, 2])", "4, 4, 4, 1")),
            "layer 'z' (ZeroPadding3D): 'padding' must be an int, 3 ints or 3 pairs of ints, got [1,2]");
  EXPECT_EQ(load_error<ValueError>(sequential_json("Cropping1D", "c", R"("cropping": [2, 2])", "4, 1")),
            "layer 'c' (Cropping1D): cropping 2 + 2 leaves nothing of dimension 1 of the input (None, 4, 1)");
  EXPECT_EQ(load_error<ValueError>(sequential_json("UpSampling2D", "u", R"("size": [2, 0])", "4, 4, 1")),
            "layer 'u' (UpSampling2D): 'size' must be a positive integer or a list of 2 positive integers, got [2,0]");
  EXPECT_EQ(load_error<FormatError>(sequential_json("UpSampling2D", "u", R"("interpolation": "bicubic")", "4, 4, 1")),
            "layer 'u' (UpSampling2D): 'interpolation' must be one of \"nearest\", \"bilinear\", got \"bicubic\"");
}

TEST_F(ConfigErrors, ResizingAndCenterCrop) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("Resizing", "r", R"("height": 0, "width": 3)", "4, 4, 1")),
            "layer 'r' (Resizing): 'height' must be a positive integer, got 0");
  EXPECT_EQ(load_error<FormatError>(sequential_json("Resizing", "r", R"("height": 2, "width": 3, "interpolation": "bicubic")",
                                                     "4, 4, 1")),
            "layer 'r' (Resizing): 'interpolation' must be one of \"bilinear\", \"nearest\", got \"bicubic\"");
  EXPECT_EQ(load_error<FormatError>(sequential_json("CenterCrop", "c", R"("height": 2)", "4, 4, 1")),
            "layer 'c' (CenterCrop): 'width' is missing; it must be a positive integer");
  EXPECT_EQ(load_error<ShapeError>(sequential_json("CenterCrop", "c", R"("height": 2, "width": 2)", "4")),
            "layer 'c' (CenterCrop): expects images of rank 3 (height, width, channels) or 4 (batched), got shape (None, 4)");
}

TEST_F(ConfigErrors, NoiseLayersWithoutTheirRateOrOutOfRange) {
  EXPECT_EQ(load_error<FormatError>(sequential_json("GaussianNoise", "g", R"("seed": 1)", "4")),
            "layer 'g' (GaussianNoise): 'stddev' is missing; it must be a non-negative number");
  EXPECT_EQ(load_error<ValueError>(sequential_json("AlphaDropout", "a", R"("rate": 1.5)", "4")),
            "layer 'a' (AlphaDropout): 'rate' must be a number in [0, 1], got 1.5");
  EXPECT_EQ(load_error<ShapeError>(sequential_json("SpatialDropout2D", "s", R"("rate": 0.5)", "4")),
            "layer 's' (SpatialDropout2D) expects an input of rank 4, got shape (None, 4)");
}

TEST_F(ConfigErrors, DenseWithoutUnitsOrWithAStringForUnits) {
  EXPECT_EQ(load_error<FormatError>(sequential_json("Dense", "d", R"("use_bias": true)", "4")),
            "layer 'd' (Dense): 'units' is missing; it must be a positive integer");
  EXPECT_EQ(load_error<FormatError>(sequential_json("Dense", "d", R"("units": "three")", "4")),
            "layer 'd' (Dense): 'units' must be a positive integer, got \"three\"");
  EXPECT_EQ(load_error<FormatError>(sequential_json("Dense", "d", R"("units": 2.5)", "4")),
            "layer 'd' (Dense): 'units' must be a positive integer, got 2.5");
}

TEST_F(ConfigErrors, DenseAcceptsIntegralFloatsAndNullsAsKerasDoes) {
  // Keras writes 3.0 at times; a null key means its default; unknown keys are ignored.
  auto model = model_from_json(sequential_json(
      "Dense", "d", R"("units": 3.0, "use_bias": null, "keras3_only_key": {"x": 1})", "4"));
  EXPECT_EQ(model->get_layer("d")->get_config()["units"], 3);
  EXPECT_EQ(model->get_layer("d")->get_config()["use_bias"], true);
}

TEST_F(ConfigErrors, Conv2DWithKernelSizeZero) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("Conv2D", "conv", R"("filters": 2, "kernel_size": 0)", "5, 5, 1")),
            "layer 'conv' (Conv2D): 'kernel_size' must be a positive integer or a list of 2 positive integers, got 0");
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "Conv2D", "conv", R"("filters": 2, "kernel_size": [3, 3], "strides": [1, 0])", "5, 5, 1")),
            "layer 'conv' (Conv2D): 'strides' must be a positive integer or a list of 2 positive integers, got [1,0]");
  EXPECT_EQ(load_error<FormatError>(sequential_json("Conv2D", "conv", R"("filters": 2)", "5, 5, 1")),
            "layer 'conv' (Conv2D): 'kernel_size' is missing; it must be a positive integer or a list of 2 positive "
            "integers");
  EXPECT_EQ(load_error<ValueError>(sequential_json("Conv2D", "conv", R"("filters": 0, "kernel_size": 3)", "5, 5, 1")),
            "layer 'conv' (Conv2D): 'filters' must be a positive integer, got 0");
  EXPECT_EQ(load_error<FormatError>(
                sequential_json("Conv2D", "conv", R"("filters": 1, "kernel_size": 3, "padding": "causal")", "5, 5, 1")),
            "layer 'conv' (Conv2D): 'padding' must be one of \"valid\", \"same\", got \"causal\"");
}

TEST_F(ConfigErrors, DropoutWithRateOutsideZeroOne) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("Dropout", "drop", R"("rate": 1.5)", "4")),
            "layer 'drop' (Dropout): 'rate' must be a number in [0, 1], got 1.5");
  EXPECT_EQ(load_error<ValueError>(sequential_json("Dropout", "drop", R"("rate": -0.1)", "4")),
            "layer 'drop' (Dropout): 'rate' must be a number in [0, 1], got -0.1");
  // tf-keras accepts both ends.
  EXPECT_NO_THROW(model_from_json(sequential_json("Dropout", "drop", R"("rate": 1)", "4")));
  EXPECT_NO_THROW(model_from_json(sequential_json("Dropout", "drop2", R"("rate": 0)", "4")));
}

TEST_F(ConfigErrors, PoolingWithZeroStrides) {
  EXPECT_EQ(load_error<ValueError>(
                sequential_json("MaxPooling2D", "pool", R"("pool_size": 2, "strides": 0)", "4, 4, 1")),
            "layer 'pool' (MaxPooling2D): 'strides' must be a positive integer or a list of 2 positive integers, "
            "got 0");
}

TEST_F(ConfigErrors, RecurrentAndEmbeddingSizes) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("LSTM", "lstm", R"("units": 0)", "3, 2")),
            "layer 'lstm' (LSTM): 'units' must be a positive integer, got 0");
  EXPECT_EQ(load_error<ValueError>(sequential_json("Embedding", "emb", R"("input_dim": 10, "output_dim": -1)", "3")),
            "layer 'emb' (Embedding): 'output_dim' must be a positive integer, got -1");
}

// Sizes are multiplied with overflow checks before anything is allocated: an error naming
// the layer, never a std::bad_alloc, a wrapped size or a crash.
TEST_F(ConfigErrors, HugeUnitsWhoseKernelSizeOverflows) {
  EXPECT_EQ(load_error<ValueError>(sequential_json("Dense", "big", R"("units": 4611686018427387904)", "16")),
            "layer 'big' (Dense): the kernel of shape (16, 4611686018427387904) has more elements than fit in a 64-bit "
            "size");
  EXPECT_EQ(load_error<FormatError>(sequential_json("Dense", "big", R"("units": 1e30)", "16")),
            "layer 'big' (Dense): 'units' must be a positive integer no larger than 9223372036854775807, got 1e+30");
  EXPECT_EQ(load_error<ValueError>(sequential_json("LSTM", "lstm", R"("units": 3074457345618258603)", "3, 2")),
            "layer 'lstm' (LSTM): the kernel width: 4 x 3074457345618258603 does not fit in a 64-bit size");
  EXPECT_EQ(load_error<ValueError>(sequential_json("Conv2D", "conv",
                                                   R"("filters": 2, "kernel_size": 4611686018427387904, )"
                                                   R"("dilation_rate": 4)",
                                                   "5, 5, 1")),
            "layer 'conv' (Conv2D): the dilated kernel: 4611686018427387903 x 4 does not fit in a 64-bit size");
}

// Issue 18, convolutions: what tf-keras 2.17's constructors refuse.
TEST_F(ConfigErrors, SeparableDepthwiseAndTransposedConvolutions) {
  EXPECT_EQ(load_error<ValueError>(
                sequential_json("SeparableConv2D", "sep", R"("filters": -2, "kernel_size": 3)", "5, 5, 1")),
            "layer 'sep' (SeparableConv2D): 'filters' must be a positive integer, got -2");
  EXPECT_EQ(load_error<ValueError>(sequential_json("SeparableConv1D", "sep",
                                                   R"("filters": 2, "kernel_size": 3, "depth_multiplier": 0)", "5, 1")),
            "layer 'sep' (SeparableConv1D): 'depth_multiplier' must be a positive integer, got 0");
  EXPECT_EQ(
      load_error<ValueError>(sequential_json(
          "SeparableConv2D", "sep", R"("filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2)", "5, 5, 1")),
      "layer 'sep' (SeparableConv2D): strides > 1 are not supported together with dilation_rate > 1 (as in "
      "Keras), got strides=[2,2], dilation_rate=[2,2]");
  EXPECT_EQ(load_error<FormatError>(sequential_json(
                "SeparableConv2D", "sep", R"("filters": 2, "kernel_size": 3, "padding": "causal")", "5, 5, 1")),
            "layer 'sep' (SeparableConv2D): 'padding' must be one of \"valid\", \"same\", got \"causal\"");
  EXPECT_EQ(load_error<FormatError>(
                sequential_json("DepthwiseConv1D", "dw", R"("kernel_size": 3, "padding": "causal")", "5, 1")),
            "layer 'dw' (DepthwiseConv1D): 'padding' must be one of \"valid\", \"same\", got \"causal\"");
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "Conv2DTranspose", "up", R"("filters": 2, "kernel_size": 3, "strides": 2, "output_padding": [2, 1])",
                "5, 5, 1")),
            "layer 'up' (Conv2DTranspose): strides must be greater than output_padding, got strides=[2,2], "
            "output_padding=[2,1]");
  EXPECT_EQ(load_error<ValueError>(sequential_json("Conv1DTranspose", "up",
                                                   R"("filters": 2, "kernel_size": 3, "output_padding": 1)", "5, 1")),
            "layer 'up' (Conv1DTranspose): strides must be greater than output_padding, got strides=[1], "
            "output_padding=[1]");
  EXPECT_EQ(
      load_error<ValueError>(sequential_json(
          "Conv1DTranspose", "up", R"("filters": 2, "kernel_size": 3, "strides": 2, "output_padding": -1)", "5, 1")),
      "layer 'up' (Conv1DTranspose): 'output_padding' must be a non-negative integer or a list of 1 "
      "non-negative integers, got -1");
  EXPECT_EQ(
      load_error<ValueError>(sequential_json("Conv2DTranspose", "up", R"("filters": 0, "kernel_size": 3)", "5, 5, 1")),
      "layer 'up' (Conv2DTranspose): 'filters' must be a positive integer, got 0");
  EXPECT_EQ(load_error<ValueError>(sequential_json(
                "Conv2DTranspose", "up", R"("filters": 2, "kernel_size": 3, "dilation_rate": [1, 2])", "5, 5, 1")),
            "layer 'up' (Conv2DTranspose): the 2 dimensions of dilation_rate must be equal, got [1,2]");
  EXPECT_EQ(load_error<ValueError>(
                sequential_json("Conv2DTranspose", "up", R"("filters": 3, "kernel_size": 3, "groups": 2)", "5, 5, 1")),
            "layer 'up' (Conv2DTranspose): filters must be divisible by groups, got filters=3, groups=2");
}

// Keras 3's quantized layers (model.quantize) keep integer kernels and scales: refused by
// layer and mode, whether the dtype policy or quantization_config says so.
TEST_F(ConfigErrors, Keras3QuantizedLayersAreRefusedByLayerAndMode) {
  const std::string refusal =
      "layer 'q' (Dense) is a Keras 3 quantized layer (int8 quantization, written after model.quantize(\"int8\")); "
      "Strata does not run quantized layers: load the model saved before quantizing";
  EXPECT_EQ(
      load_error<FormatError>(sequential_json("Dense", "q", R"("units": 2, "dtype": {"module": "keras.dtype_policies",
      "class_name": "QuantizedDTypePolicy", "config": {"mode": "int8", "source_name": "float32"}, "registered_name": null})",
                                              "4")),
      refusal);
  EXPECT_EQ(load_error<FormatError>(sequential_json("Dense", "q", R"("units": 2, "dtype": "int8_from_float32")", "4")),
            refusal);
  EXPECT_EQ(load_error<FormatError>(sequential_json("Dense", "q", R"("units": 2, "quantization_config": {"module":
      "keras.quantizers", "class_name": "Int8QuantizationConfig", "config": {"weight_quantizer": null}})",
                                                    "4")),
            refusal);
  EXPECT_EQ(
      load_error<FormatError>(sequential_json("EinsumDense", "e", R"("equation": "ab,bc->ac", "output_shape": 2,
      "dtype": {"module": "keras.dtype_policies", "class_name": "Int4DTypePolicy", "config": {"mode": "int4/128",
      "source_name": "float32"}})",
                                              "4")),
      "layer 'e' (EinsumDense) is a Keras 3 quantized layer (int4/128 quantization, written after "
      "model.quantize(\"int4/128\")); Strata does not run quantized layers: load the model saved before quantizing");
  EXPECT_EQ(load_error<FormatError>(sequential_json("Dense", "q", R"("units": 2, "quantization_config": null)", "4")),
            "loaded without an error");
}

// Keras 3's LoRA (lora_rank) adds lora_alpha / lora_rank * A B to the kernel: refused by layer.
TEST_F(ConfigErrors, Keras3LoraIsRefusedByLayer) {
  EXPECT_EQ(
      load_error<FormatError>(sequential_json("Dense", "d", R"("units": 2, "lora_rank": 4, "lora_alpha": 4)", "4")),
      "layer 'd' (Dense) has Keras 3 LoRA enabled (lora_rank 4); Strata does not run LoRA layers: save the model "
      "from Keras 3 after merging the LoRA weights into the kernel (or before enable_lora)");
  EXPECT_EQ(load_error<FormatError>(sequential_json("Dense", "d", R"("units": 2, "lora_rank": null)", "4")),
            "loaded without an error");
}

// Keras 3 keys Strata cannot honour are refused by layer and key; their defaults load.
TEST_F(ConfigErrors, Keras3KeysStrataCannotHonour) {
  EXPECT_EQ(
      load_error<ValueError>(
          sequential_json("Resizing", "r", R"("height": 2, "width": 3, "pad_to_aspect_ratio": true)", "4, 4, 1")),
      "layer 'r' (Resizing): pad_to_aspect_ratio=true (Keras 3) is not supported; use crop_to_aspect_ratio or pad "
      "the images before the model");
  EXPECT_EQ(load_error<ValueError>(
                sequential_json("Resizing", "r", R"("height": 2, "width": 3, "antialias": true)", "4, 4, 1")),
            "layer 'r' (Resizing): antialias=true (Keras 3) is not supported");
  EXPECT_EQ(load_error<ValueError>(sequential_json("Resizing", "r", R"("height": 2, "width": 3, "antialias": false,
      "pad_to_aspect_ratio": false, "fill_mode": "constant", "fill_value": 0.0)",
                                                   "4, 4, 1")),
            "loaded without an error");
  const std::string mha = R"({"class_name": "Functional", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 3, 4], "name": "q"}, "inbound_nodes": []},
      {"class_name": "MultiHeadAttention", "config": {"name": "mha", "num_heads": 2, "key_dim": 2, KEYS},
       "inbound_nodes": [[["q", 0, 0, {"value": ["q", 0, 0]}]]]}],
      "input_layers": [["q", 0, 0]], "output_layers": [["mha", 0, 0]]}})";
  const auto with = [&](const std::string& keys) { return std::string(mha).replace(mha.find("KEYS"), 4, keys); };
  EXPECT_EQ(load_error<ValueError>(with(R"("use_gate": true)")),
            "layer 'mha' (MultiHeadAttention): use_gate=true (Keras 3's gated attention) is not supported");
  EXPECT_EQ(load_error<ValueError>(with(R"("sliding_window": 2)")),
            "layer 'mha' (MultiHeadAttention): sliding_window=2 (Keras 3's sliding-window attention) is not supported");
  EXPECT_EQ(load_error<ValueError>(with(R"("use_gate": false, "sliding_window": null, "flash_attention": null)")),
            "loaded without an error");
  // synchronized batch normalization is plain batch normalization on one device.
  EXPECT_EQ(load_error<ValueError>(sequential_json("BatchNormalization", "bn", R"("synchronized": true)", "4")),
            "loaded without an error");
}

// Values by hand: Keras 3's hard_sigmoid is relu6(x + 3) / 6 (0.75 at 1.5), tf-keras's
// clip(0.2 x + 0.5, 0, 1) (0.8 at 1.5); a layer config whose dtype is a DTypePolicy object
// was written by Keras 3. Keras 3's LayerNormalization(rms_scaling=True) is x * rsqrt(var + eps)
// * gamma with no beta.
TEST_F(ConfigErrors, Keras3HardSigmoidAndRmsScalingComputeWhatKeras3Computes) {
  const auto predict = [](const std::string& json, std::vector<float> x) {
    auto model = model_from_json(json);
    const auto n = static_cast<std::int64_t>(x.size());
    return model->predict(Tensor::from_vector(x, Shape{1, n})).to_vector<float>();
  };
  const std::string keras3_dtype =
      R"("dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null})";
  const std::string dense = R"("units": 1, "kernel_initializer": "ones", "bias_initializer": "zeros", "activation":
      "hard_sigmoid", )";
  EXPECT_FLOAT_EQ(predict(sequential_json("Dense", "d", dense + keras3_dtype, "1"), {1.5f})[0], 0.75f);
  EXPECT_FLOAT_EQ(predict(sequential_json("Dense", "d", dense + R"("dtype": "float32")", "1"), {1.5f})[0], 0.8f);
  auto ln =
      model_from_json(sequential_json("LayerNormalization", "ln", R"("rms_scaling": true, "epsilon": 0.001)", "2"));
  ASSERT_EQ(ln->weights().size(), 1u);  // gamma only
  EXPECT_NE(ln->weights()[0].name().find("gamma"), std::string::npos);
  const auto y = ln->predict(Tensor::from_vector(std::vector<float>{1.0f, 3.0f}, Shape{1, 2})).to_vector<float>();
  EXPECT_NEAR(y[0], 1.0 / std::sqrt(1.001), 1e-6);  // var([1, 3]) = 1
  EXPECT_NEAR(y[1], 3.0 / std::sqrt(1.001), 1e-6);
}

}  // namespace
}  // namespace strata::layer_tests
