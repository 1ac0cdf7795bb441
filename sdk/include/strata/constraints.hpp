// Constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm): a projection applied to a weight
// after each optimizer update.
#pragma once

#include "strata/export.hpp"
#include <memory>

#include "strata/serialization.hpp"
#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

class Constraint : public Serializable {
 public:
  ~Constraint() override;
  // The projected value of `weight`.
  virtual Tensor operator()(const Tensor& weight) const = 0;
};

std::shared_ptr<Constraint> get_constraint(const Config& value, const CustomObjects* custom_objects = nullptr);

}  // namespace strata

STRATA_API_END
