// Serialisable objects: the small config-described things layers are made of
// (activations, initializers, regularizers, constraints) and, later, losses, metrics and
// optimizers. Each has a registered class name and a config; serialize() and
// deserialize() convert them to and from the dicts Keras writes:
//
//   {"module": "keras.initializers", "class_name": "GlorotUniform",
//    "config": {"seed": null}, "registered_name": null}
//
// That is the form the pinned tf-keras writes for objects nested in layer configs (also
// inside H5 model configs). Custom objects registered as `package>Name` are written with
// class_name "Name" and registered_name "package>Name". Reading accepts that form, the
// legacy {"class_name", "config"} form, and a bare string (a name with an empty config).
#pragma once

#include "strata/export.hpp"
#include <memory>
#include <string>

#include "strata/config.hpp"
#include "strata/custom_objects.hpp"
#include "strata/registry.hpp"

STRATA_API_BEGIN

namespace strata {

class Serializable {
 public:
  virtual ~Serializable();
  // The registered name ("GlorotUniform", "my_package>Custom").
  virtual std::string class_name() const = 0;
  // Everything needed to recreate the object with its factory. Default: {}.
  virtual Config get_config() const;
};

// The module Keras writes for built-in objects of `kind` ("keras.initializers", ...).
std::string_view keras_module(ObjectKind kind) noexcept;

// {"module", "class_name", "config", "registered_name"} as described above.
Config serialize(const Serializable& object, ObjectKind kind);

// The class name and config of a serialised object in any accepted form. FormatError
// naming `what` when `value` is none of them.
struct SerializedObject {
  std::string class_name;  // registered_name when present, else class_name
  Config config;
};
SerializedObject parse_serialized(const Config& value, std::string_view what);

// Resolves and builds an object of `kind` from `value` (any accepted form) through the
// active CustomObjectScopes, `custom_objects` and the registry. Throws
// UnknownObjectError for an unknown class. Returns null for a JSON null.
template <ObjectKind K, class T = typename KindValue<K>::result_type::element_type>
std::shared_ptr<T> deserialize(const Config& value, const CustomObjects* custom_objects = nullptr,
                               std::string_view what = {}) {
  if (value.is_null()) return nullptr;
  const SerializedObject parsed = parse_serialized(value, what);
  ObjectResolver resolver(custom_objects);
  auto factory = resolver.require<K>(parsed.class_name, what);
  return (*factory)(parsed.config);
}

}  // namespace strata

STRATA_API_END
