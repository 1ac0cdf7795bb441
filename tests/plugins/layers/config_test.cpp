// Configs: what every layer and nested object writes, key for key and in order, against
// what tf-keras 2.17 writes (keras_expected.inc, produced by make_expected.py); reading
// those configs back, Keras 3 configs and older Keras 2 ones; weight names, shapes,
// order and trainability.
#include <gtest/gtest.h>

#include "keras_expected.inc"
#include "strata/activations.hpp"
#include "strata/constraints.hpp"
#include "strata/initializers.hpp"
#include "strata/layer.hpp"
#include "strata/regularizers.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

class LayerConfigTest : public ::testing::TestWithParam<KerasConfigCase> {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

std::shared_ptr<Layer> make_and_build(const char* class_name, const Config& config, const char* build_shape) {
  auto layer = make_layer(class_name, config);
  if (std::string(build_shape).size() > 0) layer->ensure_built({shape_of_json(Config::parse(build_shape))});
  return layer;
}

TEST_P(LayerConfigTest, WritesWhatTfKerasWrites) {
  const auto& c = GetParam();
  auto layer = make_and_build(c.class_name, Config::parse(c.kwargs), c.build_shape);
  EXPECT_EQ(layer->class_name(), c.class_name);
  EXPECT_EQ(layer->get_config().dump(), Config::parse(c.config).dump());
  EXPECT_EQ(serialize_layer(*layer)["class_name"], c.class_name);
}

TEST_P(LayerConfigTest, RoundTripsItsOwnConfig) {
  const auto& c = GetParam();
  auto layer = make_and_build(c.class_name, Config::parse(c.kwargs), c.build_shape);
  const Config written = layer->get_config();
  auto again = make_and_build(c.class_name, written, c.build_shape);
  EXPECT_EQ(again->get_config().dump(), written.dump());
  auto via_serialized = deserialize_layer(serialize_layer(*layer));
  if (std::string(c.build_shape).size() > 0) via_serialized->ensure_built({shape_of_json(Config::parse(c.build_shape))});
  EXPECT_EQ(via_serialized->get_config().dump(), written.dump());
}

TEST_P(LayerConfigTest, ReadsTfKerasConfig) {
  const auto& c = GetParam();
  auto layer = make_and_build(c.class_name, Config::parse(c.config), c.build_shape);
  EXPECT_EQ(layer->get_config().dump(), Config::parse(c.config).dump());
}

TEST(LayerWeights, HaveKerasNamesShapesOrderAndTrainability) {
  DeviceScope device{Device("ref:0")};
  for (const auto& c : kKerasConfigCases) {
    if (std::string(c.build_shape).empty()) continue;  // not built in the oracle
    SCOPED_TRACE(c.label);
    clear_session();
    auto layer = make_and_build(c.class_name, Config::parse(c.kwargs), c.build_shape);
    const Config expected = Config::parse(c.weights);
    const auto weights = layer->weights();
    ASSERT_EQ(weights.size(), expected.size());
    std::size_t trainable = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const std::string name = expected[i][0].get<std::string>();
      EXPECT_EQ(weights[i].name(), layer->name() + "/" + name) << i;
      EXPECT_EQ(weights[i].shape(), shape_of_json(expected[i][1])) << name;
      EXPECT_EQ(weights[i].trainable(), expected[i][2].get<bool>()) << name;
      trainable += expected[i][2].get<bool>() ? 1 : 0;
    }
    EXPECT_EQ(layer->trainable_weights().size(), trainable);
    EXPECT_EQ(layer->non_trainable_weights().size(), expected.size() - trainable);
  }
}

std::string case_name(const ::testing::TestParamInfo<KerasConfigCase>& info) { return info.param.label; }

INSTANTIATE_TEST_SUITE_P(TfKeras, LayerConfigTest, ::testing::ValuesIn(kKerasConfigCases), case_name);

// ---- nested objects ----------------------------------------------------------------------

Config serialize_given(const std::string& kind, const Config& given) {
  if (kind == "initializer") return serialize(*get_initializer(given), ObjectKind::kInitializer);
  if (kind == "regularizer") return serialize(*get_regularizer(given), ObjectKind::kRegularizer);
  return serialize(*get_constraint(given), ObjectKind::kConstraint);
}

TEST(NestedObjects, SerializeAsTfKerasDoes) {
  for (const auto& c : kKerasObjectCases) {
    const Config given = Config::parse(c.given);
    const Config expected = Config::parse(c.serialized);
    const Config got = serialize_given(c.kind, given);
    EXPECT_EQ(got.dump(), expected.dump()) << c.kind << " " << c.given;
    // And back: reading the serialized form gives the same object.
    EXPECT_EQ(serialize_given(c.kind, got).dump(), expected.dump()) << c.kind << " " << c.given;
    // The legacy {"class_name", "config"} form reads too.
    Config legacy = Config::object();
    legacy["class_name"] = expected["class_name"];
    legacy["config"] = expected["config"];
    EXPECT_EQ(serialize_given(c.kind, legacy).dump(), expected.dump()) << c.kind << " " << c.given;
  }
}

TEST(NestedObjects, ActivationsAreWrittenByName) {
  for (const auto& c : kKerasActivationCases) {
    auto a = get_activation(Config(c.name));
    EXPECT_EQ(a->class_name(), c.written) << c.name;
    EXPECT_EQ(activation_config(a), Config(c.written)) << c.name;
    // Serialized dicts (a Keras 3 form) read too.
    auto b = get_activation(serialize(*a, ObjectKind::kActivation));
    EXPECT_EQ(b->class_name(), c.written);
  }
  EXPECT_EQ(get_activation(Config(nullptr))->class_name(), "linear");
  EXPECT_THROW(get_activation(Config("not_an_activation")), UnknownObjectError);
}

TEST(NestedObjects, UnknownNamesAreUnknownObjectErrors) {
  EXPECT_THROW(get_initializer(Config("glorot_uniformish")), UnknownObjectError);
  EXPECT_THROW(get_regularizer(Config("l3")), UnknownObjectError);
  EXPECT_THROW(get_constraint(Config("max_norms")), UnknownObjectError);
  EXPECT_THROW(make_layer("Dense", Config{{"units", 2}, {"activation", "rellu"}}), UnknownObjectError);
}

TEST(NestedObjects, UnknownKeysAreIgnoredAndMissingOnesDefault) {
  // Early TF 2 files put a dtype inside initializer configs; Keras 3 adds input_axes.
  auto init = get_initializer(Config::parse(R"({"class_name": "GlorotUniform", "config": {"seed": 3, "dtype": "float32"}})"));
  EXPECT_EQ(init->get_config().dump(), R"({"seed":3})");
  auto vs = get_initializer(Config::parse(R"({"class_name": "VarianceScaling", "config": {}})"));
  EXPECT_EQ(vs->get_config().dump(), R"({"scale":1.0,"mode":"fan_in","distribution":"truncated_normal","seed":null})");
}

// ---- configs of other Keras versions -------------------------------------------------------

TEST(OtherKerasVersions, Keras3ConfigsRead) {
  DeviceScope device(Device("ref:0"));
  for (const auto& c : kKeras3ConfigCases) {
    auto layer = make_layer(c.class_name, Config::parse(c.keras3_config));
    EXPECT_EQ(layer->get_config().dump(), Config::parse(c.tf_keras_config).dump()) << c.class_name;
  }
}

TEST(OtherKerasVersions, OlderKeras2ConfigsRead) {
  DeviceScope device(Device("ref:0"));
  // The shape of TF 2.0-2.12 configs: batch_input_shape before dtype, legacy nested
  // objects with a dtype inside, no "groups" for convolutions (hand-written).
  const Config dense = Config::parse(R"({"name": "dense", "trainable": true, "batch_input_shape": [null, 4],
      "dtype": "float32", "units": 3, "activation": "relu", "use_bias": true,
      "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null, "dtype": "float32"}},
      "bias_initializer": {"class_name": "Zeros", "config": {"dtype": "float32"}},
      "kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.0005000000237487257}},
      "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null})");
  EXPECT_EQ(make_layer("Dense", dense)->get_config().dump(),
            Config::parse(R"({"name": "dense", "trainable": true, "dtype": "float32", "batch_input_shape": [null, 4],
      "units": 3, "activation": "relu", "use_bias": true,
      "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null},
      "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
      "kernel_regularizer": {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.0005000000237487257}, "registered_name": null},
      "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null})")
                .dump());
  const Config conv = Config::parse(R"({"name": "conv2d", "trainable": true, "dtype": "float32", "filters": 4,
      "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "data_format": "channels_last",
      "dilation_rate": [1, 1], "activation": "linear", "use_bias": true,
      "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": null}},
      "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null,
      "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null})");
  const Config written = make_layer("Conv2D", conv)->get_config();
  EXPECT_EQ(written["groups"], 1);
  EXPECT_EQ(written["kernel_initializer"]["class_name"], "VarianceScaling");
  EXPECT_EQ(written["kernel_initializer"]["config"].dump(),
            R"({"scale":1.0,"mode":"fan_avg","distribution":"uniform","seed":null})");
  // Dropout before Keras 2.1 had no seed / noise_shape.
  EXPECT_EQ(make_layer("Dropout", Config::parse(R"({"name": "d", "trainable": true, "rate": 0.2})"))->get_config().dump(),
            Config::parse(R"({"name": "d", "trainable": true, "dtype": "float32", "rate": 0.2, "noise_shape": null, "seed": null})")
                .dump());
}

TEST(OtherKerasVersions, BadConfigsAreClearErrors) {
  EXPECT_THROW(make_layer("Dense", Config::object()), FormatError);
  EXPECT_THROW(make_layer("Dense", Config{{"units", "three"}}), FormatError);
  EXPECT_THROW(make_layer("Conv2D", Config{{"filters", 2}, {"kernel_size", {3, 3, 3}}}), FormatError);
  EXPECT_THROW(make_layer("Dropout", Config{{"rate", 1.5}}), ValueError);
  EXPECT_THROW(make_layer("Reshape", Config{{"target_shape", {-1, -1}}}), ValueError);
  EXPECT_THROW(make_layer("Permute", Config{{"dims", {1, 3}}}), ValueError);
  EXPECT_THROW(make_layer("MaxPooling2D", Config{{"padding", "causal"}}), FormatError);
  try {
    make_layer("Conv2D", Config{{"filters", 2}, {"kernel_size", 3}, {"data_format", "channels_first"}});
    FAIL() << "channels_first was accepted";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("channels_first"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_layer("BatchNormalization", Config{{"renorm", true}}), ValueError);
}

TEST(OtherKerasVersions, AliasesBuildTheKerasClass) {
  EXPECT_EQ(make_layer("Convolution2D", Config{{"filters", 1}, {"kernel_size", 1}})->class_name(), "Conv2D");
  EXPECT_EQ(make_layer("MaxPool2D")->class_name(), "MaxPooling2D");
  EXPECT_EQ(make_layer("GlobalAvgPool1D")->class_name(), "GlobalAveragePooling1D");
  EXPECT_EQ(make_layer("SeparableConvolution1D", Config{{"filters", 1}, {"kernel_size", 1}})->class_name(),
            "SeparableConv1D");
  EXPECT_EQ(make_layer("SeparableConvolution2D", Config{{"filters", 1}, {"kernel_size", 1}})->class_name(),
            "SeparableConv2D");
  EXPECT_EQ(make_layer("Convolution1DTranspose", Config{{"filters", 1}, {"kernel_size", 1}})->class_name(),
            "Conv1DTranspose");
  EXPECT_EQ(make_layer("Convolution2DTranspose", Config{{"filters", 1}, {"kernel_size", 1}})->class_name(),
            "Conv2DTranspose");
}

}  // namespace
}  // namespace strata::layer_tests
