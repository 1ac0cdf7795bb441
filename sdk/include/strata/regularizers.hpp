// Regularizers (L1, L2, L1L2): a penalty computed from a weight and added to the loss.
#pragma once

#include "strata/export.hpp"
#include <memory>

#include "strata/serialization.hpp"
#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

class Regularizer : public Serializable {
 public:
  ~Regularizer() override;
  // A scalar penalty for `weight`.
  virtual Tensor operator()(const Tensor& weight) const = 0;
};

std::shared_ptr<Regularizer> get_regularizer(const Config& value, const CustomObjects* custom_objects = nullptr);

}  // namespace strata

STRATA_API_END
