// Comparing a tensor with the value a peer computed, for tolerance checks in tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "strata/device.hpp"
#include "strata/ops.hpp"
#include "strata/tensor.hpp"

namespace strata::test {

// The largest |a - b| / (floor + |b|) over the elements (any floating dtype, any device),
// infinity when the element counts differ: an absolute error near zero, a relative one
// above `floor`.
inline double worst_relative(const Tensor& a, const Tensor& b, double floor = 1.0) {
  const auto x = cast(a.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  const auto y = cast(b.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  if (x.size() != y.size()) return INFINITY;
  double w = 0;
  for (std::size_t i = 0; i < x.size(); ++i) w = std::max(w, std::fabs(x[i] - y[i]) / (floor + std::fabs(y[i])));
  return w;
}

}  // namespace strata::test
