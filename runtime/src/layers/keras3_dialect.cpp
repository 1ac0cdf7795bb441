#include "layers/keras3_dialect.hpp"

#include <array>
#include <string_view>

#include "strata/error.hpp"
#include "strata/registry.hpp"

namespace strata::internal {
namespace {

int& dialect_depth() {
  thread_local int depth = 0;
  return depth;
}

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (const auto n : names) {
    if (n == name) return true;
  }
  return false;
}

// Removes `key` when it holds `expected` (or is absent); any other value is refused: Keras 3
// has no such argument, so the file could not say what the layer does.
struct LayerId {
  const std::string& cls;
  std::string name;
};

void drop_if(const LayerId& layer, Config& config, const char* key, const Config& expected, const char* why) {
  if (!config.contains(key)) return;
  STRATA_CHECK(config[key] == expected, ValueError, "layer '", layer.name, "' (", layer.cls, ") has ", key,
               "=", config[key].dump(), ", which Keras 3 cannot express (", why,
               "): it cannot be saved in the Keras 3 format; save it as H5 or SavedModel instead");
  config.erase(key);
}

}  // namespace

Keras3DialectScope::Keras3DialectScope() { ++dialect_depth(); }
Keras3DialectScope::~Keras3DialectScope() { --dialect_depth(); }
bool keras3_dialect() { return dialect_depth() > 0; }

Config keras3_dtype_policy(const Config& dtype) {
  std::string name;
  if (dtype.is_string()) {
    name = dtype.get<std::string>();
  } else if (dtype.is_object() && dtype.contains("config") && dtype["config"].is_object() &&
             dtype["config"].contains("name") && dtype["config"]["name"].is_string()) {
    name = dtype["config"]["name"].get<std::string>();  // tf-keras's Policy object
  } else {
    return dtype;
  }
  return Config{{"module", "keras"},
                {"class_name", "DTypePolicy"},
                {"config", Config{{"name", name}}},
                {"registered_name", nullptr}};
}

void keras3_layer_config(const std::string& cls, Config& config) {
  if (!config.is_object()) return;
  const LayerId layer{cls, config.contains("name") && config["name"].is_string() ? config["name"].get<std::string>()
                                                                                  : std::string("?")};
  // Keras 3's Layer takes no batch_input_shape/batch_size (the model's InputLayer holds the
  // shape; Sequential's config writes one).
  if (cls != "InputLayer") {
    config.erase("batch_input_shape");
    config.erase("batch_size");
  }
  if (config.contains("dtype")) config["dtype"] = keras3_dtype_policy(config["dtype"]);

  if (cls == "InputLayer") {
    if (config.contains("batch_input_shape")) {
      config["batch_shape"] = config["batch_input_shape"];
      config.erase("batch_input_shape");
    }
    if (!config.contains("optional")) config["optional"] = false;
    return;
  }
  if (cls == "BatchNormalization") {
    // Keras 3's axis is one int.
    if (config.contains("axis") && config["axis"].is_array()) {
      STRATA_CHECK(config["axis"].size() == 1, ValueError, "layer '", layer.name,
                   "' (BatchNormalization) normalises over several axes ", config["axis"].dump(),
                   ", which Keras 3 cannot express: save it as H5 or SavedModel instead");
      const Config axis = config["axis"][0];
      config["axis"] = axis;
    }
    return;
  }
  if (one_of(cls, {"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D"})) {
    drop_if(layer, config, "groups", 1, "Keras 3's transposed and depthwise convolutions have no groups");
    return;
  }
  if (one_of(cls, {"SeparableConv1D", "SeparableConv2D"})) {
    STRATA_CHECK(!(cls == "SeparableConv1D" && config.value("padding", Config()) == "causal"), ValueError, "layer '",
                 layer.name, "' (SeparableConv1D) has padding='causal', which Keras 3's SeparableConv1D does not "
                 "have: it cannot be saved in the Keras 3 format; save it as H5 or SavedModel instead");
    drop_if(layer, config, "groups", 1, "Keras 3's separable convolutions have no groups");
    // tf-keras writes the unused arguments of its Conv base class.
    config.erase("kernel_initializer");
    config.erase("kernel_regularizer");
    config.erase("kernel_constraint");
    return;
  }
  if (one_of(cls, {"SimpleRNN", "LSTM", "GRU", "RNN"})) {
    drop_if(layer, config, "time_major", false, "Keras 3's recurrent layers take batch-major inputs only");
    return;
  }
  if (one_of(cls, {"SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"})) {
    // Keras 3's constructor takes rate, seed, name, dtype (and data_format): not trainable.
    config.erase("trainable");
    drop_if(layer, config, "noise_shape", nullptr, "Keras 3's spatial dropout computes its noise shape");
    return;
  }
  if (cls == "MultiHeadAttention") {
    // tf-keras writes the shapes it was built with into the config; Keras 3 builds from the
    // call (and its build_config).
    config.erase("query_shape");
    config.erase("key_shape");
    config.erase("value_shape");
    return;
  }
  if (cls == "LeakyReLU" && config.contains("alpha") && !config.contains("negative_slope")) {
    config["negative_slope"] = config["alpha"];  // Keras 3's name; "alpha" is deprecated there
    config.erase("alpha");
    return;
  }
}

}  // namespace strata::internal

namespace strata::internal {

void keras3_layer_configs(Config& value) {
  if (value.is_array()) {
    for (auto& v : value) keras3_layer_configs(v);
    return;
  }
  if (!value.is_object()) return;
  for (auto it = value.begin(); it != value.end(); ++it) keras3_layer_configs(*it);
  if (!value.contains("class_name") || !value["class_name"].is_string() || !value.contains("config") ||
      !value["config"].is_object()) {
    return;
  }
  const std::string cls = value["class_name"].get<std::string>();
  const auto entry = Registry::global().find_erased(ObjectKind::kLayer, cls);
  if (entry.module.rfind("keras", 0) != 0) return;  // not a Keras class (custom objects keep their config)
  keras3_layer_config(cls, value["config"]);
}

}  // namespace strata::internal
