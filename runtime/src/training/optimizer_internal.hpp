// What Model's training loop asks of an optimizer beyond the SDK's Optimizer interface.
#pragma once

#include <vector>

#include "strata/optimizer.hpp"

namespace strata::internal {

// Keras 3's loss_scale_factor: train_step multiplies the loss by it before taking the
// gradient (apply_gradients divides the gradients by it). 0 when the optimizer has none.
double loss_scale_factor(const Optimizer& optimizer);

// Keras's finalize_variable_values, which fit calls after its last epoch: with use_ema the
// trained variables take their moving averages. Nothing otherwise.
void finalize_variable_values(Optimizer& optimizer, const std::vector<Variable>& variables);

}  // namespace strata::internal
