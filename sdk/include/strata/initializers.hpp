// Initializers: make the starting value of a weight ("GlorotUniform", "Zeros", ...).
// Seeded initializers give the same values for the same shape every time they are
// called (they use counter-based random ops); unseeded ones differ per call, and follow
// set_random_seed when it was called.
#pragma once

#include "strata/export.hpp"
#include <memory>

#include "strata/serialization.hpp"
#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

class Initializer : public Serializable {
 public:
  ~Initializer() override;
  virtual Tensor operator()(const Shape& shape, DType dtype) const = 0;
};

// A string ("glorot_uniform", "zeros" — Keras's aliases are registered too), a
// serialised dict, or null (returns null).
std::shared_ptr<Initializer> get_initializer(const Config& value, const CustomObjects* custom_objects = nullptr);

}  // namespace strata

STRATA_API_END
