// Reductions shared by the reduction ops and BiasAddGrad.
#pragma once

#include "common.hpp"

namespace strata::onednn {

enum class Reduce { kSum, kMean, kMax, kMin, kProd };

// Reduces x (of `dims`) over the dimensions flagged in `reduced` into o (the kept
// dimensions in order). Sums, means and products of large float32 tensors over their
// innermost dimensions run on oneDNN's reduction primitive; Max/Min stay in C++ so that
// NaN propagates. An empty
// reduction gives 0 (Sum), 1 (Prod), NaN or 0 (Mean of floats / integers), -inf/+inf or
// lowest/highest (Max/Min). Defined for float, double, int32_t and int64_t.
template <class T>
void reduce_into(std::string_view op, const T* x, const Dims& dims, const std::vector<bool>& reduced, Reduce kind,
                 T* o);

}  // namespace strata::onednn
