#include "strata/serialization.hpp"

#include "layers/config_util.hpp"
#include "strata/activations.hpp"
#include "strata/constraints.hpp"
#include "strata/initializers.hpp"
#include "strata/regularizers.hpp"

namespace strata {

Serializable::~Serializable() = default;
Config Serializable::get_config() const { return Config::object(); }
Activation::~Activation() = default;
Initializer::~Initializer() = default;
Regularizer::~Regularizer() = default;
Constraint::~Constraint() = default;

std::string_view keras_module(ObjectKind kind) noexcept {
  switch (kind) {
    case ObjectKind::kInitializer: return "keras.initializers";
    case ObjectKind::kRegularizer: return "keras.regularizers";
    case ObjectKind::kConstraint: return "keras.constraints";
    case ObjectKind::kActivation: return "keras.activations";
    case ObjectKind::kLoss: return "keras.losses";
    case ObjectKind::kMetric: return "keras.metrics";
    case ObjectKind::kOptimizer: return "keras.optimizers";
    case ObjectKind::kLearningRateSchedule: return "keras.optimizers.schedules";
    case ObjectKind::kLayer: return "keras.layers";
    default: return "keras";
  }
}

Config serialize(const Serializable& object, ObjectKind kind) {
  const std::string name = object.class_name();
  const bool packaged = bare_name(name).size() != name.size();
  Config c = Config::object();
  c["module"] = packaged ? std::string("strata.custom") : std::string(keras_module(kind));
  c["class_name"] = std::string(bare_name(name));
  c["config"] = object.get_config();
  c["registered_name"] = packaged ? Config(name) : Config(nullptr);
  return c;
}

namespace internal {

SerializedRef parse_serialized_ref(const Config& value, std::string_view what) {
  static const Config kEmpty = Config::object();
  if (value.is_string()) return {value.get<std::string>(), &kEmpty};
  STRATA_CHECK(value.is_object() && value.contains("class_name") && value["class_name"].is_string(), FormatError,
               what.empty() ? std::string_view("object") : what,
               " must be a name or a {\"class_name\": ..., \"config\": ...} object, got ", value.dump());
  SerializedRef out{value["class_name"].get<std::string>(), &kEmpty};
  // A function (a custom activation, say) as tf-keras 2.13+ writes it into configs, H5 and
  // to_json alike: {"module": "builtins", "class_name": "function", "config": "Interop>fn",
  // "registered_name": "function"}; the name is the config.
  if (const Config* cfg = internal::find_key(value, "config"); out.class_name == "function" && cfg && cfg->is_string()) {
    return {cfg->get<std::string>(), &kEmpty};
  }
  if (const Config* reg = internal::find_key(value, "registered_name"); reg && reg->is_string()) {
    out.class_name = reg->get<std::string>();
  }
  // Keras 3's ops as layers (`x * 2` on a symbolic tensor: class "Multiply" of module
  // "keras.src.ops.numpy"): their class names repeat keras.layers' (Add, Multiply, Reshape,
  // Softmax, ...), so they are found as "<module>>Class", the name the layers plugin gives them.
  if (const Config* module = internal::find_key(value, "module");
      module && module->is_string() && module->get<std::string>().rfind("keras.src.ops.", 0) == 0 &&
      out.class_name.find('>') == std::string::npos) {
    out.class_name = module->get<std::string>() + ">" + out.class_name;
  }
  if (const Config* cfg = internal::find_key(value, "config")) {
    STRATA_CHECK(cfg->is_object(), FormatError, what, " has a config that is not an object: ", cfg->dump());
    out.config = cfg;
  }
  return out;
}

}  // namespace internal

SerializedObject parse_serialized(const Config& value, std::string_view what) {
  const internal::SerializedRef ref = internal::parse_serialized_ref(value, what);
  return {ref.class_name, *ref.config};
}

std::shared_ptr<Activation> get_activation(const Config& value, const CustomObjects* custom_objects) {
  if (value.is_null()) return deserialize<ObjectKind::kActivation>(Config("linear"), custom_objects, "activation");
  return deserialize<ObjectKind::kActivation>(value, custom_objects, "activation");
}

Config activation_config(const std::shared_ptr<Activation>& activation) {
  return activation ? Config(activation->class_name()) : Config("linear");
}

std::shared_ptr<Initializer> get_initializer(const Config& value, const CustomObjects* custom_objects) {
  return deserialize<ObjectKind::kInitializer>(value, custom_objects, "initializer");
}

std::shared_ptr<Regularizer> get_regularizer(const Config& value, const CustomObjects* custom_objects) {
  return deserialize<ObjectKind::kRegularizer>(value, custom_objects, "regularizer");
}

std::shared_ptr<Constraint> get_constraint(const Config& value, const CustomObjects* custom_objects) {
  return deserialize<ObjectKind::kConstraint>(value, custom_objects, "constraint");
}

}  // namespace strata
