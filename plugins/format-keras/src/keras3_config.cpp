#include "keras3_config.hpp"

#include <initializer_list>
#include <set>
#include <string_view>

#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/registry.hpp"

namespace strata::keras {
namespace {

// Keras 3's hard_sigmoid is relu6(x + 3) / 6; tf-keras's is clip(0.2 x + 0.5, 0, 1). The
// layers plugin reads a Keras 3 config's "hard_sigmoid" as this activation.
constexpr const char* kKeras3HardSigmoid = "strata.keras3_hard_sigmoid";

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (const auto n : names) {
    if (n == name) return true;
  }
  return false;
}

struct LayerId {
  const std::string& cls;
  std::string name;
};

[[noreturn]] void inexpressible(const LayerId& layer, const std::string& what) {
  STRATA_THROW(ValueError, "layer '", layer.name, "' (", layer.cls, ") has ", what,
               ", which Keras 3 cannot express: the model cannot be saved in the Keras 3 format; save it as H5 or "
               "SavedModel instead");
}

// Removes `key` when it holds `expected` (or is absent); any other value is refused.
void drop_if(const LayerId& layer, Config& config, const char* key, const Config& expected) {
  if (!config.contains(key)) return;
  if (config[key] != expected) inexpressible(layer, detail::concat(key, "=", config[key].dump()));
  config.erase(key);
}

// tf-keras's hard_sigmoid, clip(0.2 x + 0.5, 0, 1), which Keras 3 does not have: written under
// this name, which Strata's layers plugin reads and Keras 3 refuses by name (never silently as
// its own hard_sigmoid).
constexpr const char* kTfKerasHardSigmoid = "strata.tf_keras_hard_sigmoid";

// Activations: Strata's name for Keras 3's hard_sigmoid goes back to "hard_sigmoid"; tf-keras's
// hard_sigmoid gets a name of its own. Returns whether the latter happened.
bool activations(Config& config) {
  bool tf_keras_only = false;
  for (auto it = config.begin(); it != config.end(); ++it) {
    const std::string& key = it.key();
    if (key.size() < 10 || key.compare(key.size() - 10, 10, "activation") != 0 || !it->is_string()) continue;
    if (*it == kKeras3HardSigmoid) {
      *it = "hard_sigmoid";
    } else if (*it == "hard_sigmoid") {
      *it = kTfKerasHardSigmoid;
      tf_keras_only = true;
    }
  }
  return tf_keras_only;
}

bool is_keras_layer(const std::string& cls) {
  const auto entry = Registry::global().find_erased(ObjectKind::kLayer, cls);
  return entry.value != nullptr && entry.module.rfind("keras", 0) == 0;
}

// Layers with an inbound_nodes list (graph models' entries): recurrent calls. tf-keras folds
// a recurrent layer's initial states into its first argument; Keras 3 takes them as
// initial_state, and has no constants.
void recurrent_nodes(const std::string& cls, const std::string& name, Config& nodes) {
  static const std::set<std::string> recurrent = {"SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional",
                                                  "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"};
  if (!recurrent.count(cls) || !nodes.is_array()) return;
  for (auto& node : nodes) {
    if (!node.is_object() || !node.contains("args") || !node["args"].is_array() || node["args"].empty()) continue;
    Config& kwargs = node["kwargs"];
    if (!kwargs.is_object()) kwargs = Config::object();
    if (kwargs.contains("constants")) {
      if (!kwargs["constants"].is_null()) inexpressible({cls, name}, "a call with constants");
      kwargs.erase("constants");
    }
    Config& first = node["args"][0];
    if (first.is_array() && first.size() > 1 && kwargs.value("initial_state", Config()).is_null()) {
      Config states = Config::array();
      for (std::size_t i = 1; i < first.size(); ++i) states.push_back(first[i]);
      const Config sequence = first[0];
      first = sequence;
      kwargs["initial_state"] = states;
    }
  }
}

void walk(Config& value, std::set<std::string>& foreign) {
  if (value.is_array()) {
    for (auto& v : value) walk(v, foreign);
    return;
  }
  if (!value.is_object()) return;
  for (auto it = value.begin(); it != value.end(); ++it) walk(*it, foreign);
  if (!value.contains("class_name") || !value["class_name"].is_string() || !value.contains("config") ||
      !value["config"].is_object()) {
    return;
  }
  if (value["class_name"] == "SyncBatchNormalization") {
    // tf-keras's deprecated class; Keras 3 has only BatchNormalization(synchronized=True).
    value["class_name"] = "BatchNormalization";
    value["config"]["synchronized"] = true;
  }
  const std::string cls = value["class_name"].get<std::string>();
  // Layer entries of graph models carry their calls; other objects (initializers, ...) do not.
  const bool layer_entry = value.contains("inbound_nodes");
  // Keras 3's ops as layers (module keras.src.ops.*) are Operations, not Layers: Keras 3 writes
  // no build_config for them, and its loader would call their (absent) build_from_config.
  if (value.contains("module") && value["module"].is_string() &&
      value["module"].get<std::string>().rfind("keras.src.ops.", 0) == 0) {
    value.erase("build_config");
    value["registered_name"] = cls;  // as Keras 3 writes them
    return;
  }
  if (is_keras_layer(cls)) {
    keras3_layer_config(cls, value["config"]);
    if (layer_entry) recurrent_nodes(cls, value["config"].value("name", std::string("?")), value["inbound_nodes"]);
  } else if (layer_entry) {
    // A class of another Keras (tf-keras's TFOpLambda, ...); custom classes have no module.
    const auto entry = Registry::global().find_erased(ObjectKind::kLayer, cls);
    if (entry.value != nullptr && !entry.module.empty()) foreign.insert(cls);
  }
}

}  // namespace

void keras3_layer_config(const std::string& cls, Config& config) {
  if (!config.is_object()) return;
  const LayerId layer{cls, config.contains("name") && config["name"].is_string() ? config["name"].get<std::string>()
                                                                                  : std::string("?")};
  // Keras 3's Layer takes no batch_input_shape or batch_size (the InputLayer holds the shape).
  if (cls != "InputLayer") {
    config.erase("batch_input_shape");
    config.erase("batch_size");
  }
  if (config.contains("dtype") && config["dtype"].is_string() && cls != "InputLayer") {
    config["dtype"] = Config{{"module", "keras"},
                             {"class_name", "DTypePolicy"},
                             {"config", Config{{"name", config["dtype"]}}},
                             {"registered_name", nullptr}};
  }
  if (activations(config)) {
    log_warning("layer '", layer.name, "' (", cls, ") uses tf-keras's hard_sigmoid (clip(0.2 x + 0.5)), which Keras 3 "
                "does not have (its hard_sigmoid is relu6(x + 3) / 6): the archive names it '", kTfKerasHardSigmoid,
                "', which Strata reads and Keras 3 refuses");
  }
  if (cls == "BatchNormalization") {
    // Keras 3's axis is one int.
    if (config.contains("axis") && config["axis"].is_array()) {
      if (config["axis"].size() != 1) inexpressible(layer, "axis=" + config["axis"].dump());
      const Config axis = config["axis"][0];
      config["axis"] = axis;
    }
  } else if (one_of(cls, {"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D",
                          "DepthwiseConv2D"})) {
    drop_if(layer, config, "groups", 1);
  } else if (one_of(cls, {"SeparableConv1D", "SeparableConv2D"})) {
    if (cls == "SeparableConv1D" && config.value("padding", Config()) == "causal") {
      inexpressible(layer, "padding='causal' (Keras 3's SeparableConv1D has none)");
    }
    drop_if(layer, config, "groups", 1);
    // tf-keras writes its Conv base class's unused arguments.
    config.erase("kernel_initializer");
    config.erase("kernel_regularizer");
    config.erase("kernel_constraint");
  } else if (one_of(cls, {"SimpleRNN", "LSTM", "GRU", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"})) {
    drop_if(layer, config, "time_major", false);
  } else if (one_of(cls, {"SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"})) {
    // Keras 3's constructor takes rate, seed, name, dtype (and data_format): not trainable.
    config.erase("trainable");
    drop_if(layer, config, "noise_shape", nullptr);
  } else if (cls == "Discretization") {
    config.erase("trainable");  // Keras 3's constructor takes no trainable
  } else if (cls == "MultiHeadAttention") {
    // tf-keras writes the shapes it was built with; Keras 3 builds from the call.
    config.erase("query_shape");
    config.erase("key_shape");
    config.erase("value_shape");
  } else if (one_of(cls, {"RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomCrop",
                          "RandomContrast", "RandomBrightness", "RandomHeight", "RandomWidth"})) {
    // tf-keras's BaseRandomLayer writes its generator's kind; Keras 3's constructors refuse it.
    config.erase("rng_type");
    // Keras 3 reads a number f as the contrast range [1, 1 + f]; tf-keras as [1 - f, 1 + f].
    if (cls == "RandomContrast" && config.contains("factor") && config["factor"].is_number()) {
      const Config f = config["factor"];
      config["factor"] = Config::array({f, f});
    }
  } else if (cls == "LeakyReLU" && config.contains("alpha") && !config.contains("negative_slope")) {
    config["negative_slope"] = config["alpha"];  // Keras 3's name; "alpha" is deprecated there
    config.erase("alpha");
  }
}

Config keras3_model_config(const Model& model) {
  Config c = model_config_keras3(model, true);
  std::set<std::string> foreign;
  walk(c["config"], foreign);
  for (const auto& cls : foreign) {
    log_warning("model '", model.name(), "' has layers of class '", cls,
                "', which Keras 3 does not provide: Keras 3 loads the archive only where that class is registered "
                "(keras.saving.register_keras_serializable); Strata loads it with its plugin");
  }
  return c;
}

}  // namespace strata::keras
