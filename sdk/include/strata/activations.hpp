// Activations: element-wise functions named in layer configs ("relu", "softmax", or a
// registered custom name such as the guide's "custom_activation"). Built-ins come from
// the layers plugin; get_activation resolves a name through custom objects and the
// registry.
#pragma once

#include "strata/export.hpp"
#include <memory>
#include <string>

#include "strata/config.hpp"
#include "strata/serialization.hpp"
#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

class Activation : public Serializable {
 public:
  ~Activation() override;
  // Thread safety: may be called from many threads at once.
  virtual Tensor operator()(const Tensor& x) const = 0;
};

// The activation a layer config names: a string ("relu"; "linear" or null for none) or
// a serialised dict. Throws UnknownObjectError for unknown names.
std::shared_ptr<Activation> get_activation(const Config& value, const CustomObjects* custom_objects = nullptr);
// How a layer config spells `activation`: its name (class_name()).
Config activation_config(const std::shared_ptr<Activation>& activation);

}  // namespace strata

STRATA_API_END
