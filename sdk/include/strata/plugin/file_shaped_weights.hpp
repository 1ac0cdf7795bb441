// Weights whose shape the file gives. tf-keras creates some weights with an unknown
// dimension (`add_weight(shape=(2, None))`: an adapted Discretization's `summary`, whose
// length depends on the data it was adapted on); Strata makes weights with fixed shapes when a
// model is built, before any file is read. A layer marks such a weight when it builds it, with
// the shape tf-keras declares; loaders (H5, checkpoints and SavedModels, `.keras` archives,
// set_weights) then accept a stored value of any shape compatible with that declaration, and
// Variable::assign takes it, so the weight takes the file's shape. The mark lives beside the
// variable (keyed by its id): Variable's and Layer's layouts, which are plugin ABI, are as
// they were. A layer computing from such a weight reads its shape when it runs.
//
// Thread safety: mark a weight while building (no other thread uses the layer yet);
// accepts_shape may be called from many threads at once.
#pragma once

#include "strata/export.hpp"
#include "strata/shape.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata {

// Lets `variable` take values of any shape compatible with `declared` (unknown dimensions
// -1). ValueError when `declared` is not compatible with the variable's current shape.
void set_file_shaped(const Variable& variable, const Shape& declared);
// Whether `variable` takes a value of shape `shape`: its own shape, or, for a file-shaped
// variable, any shape compatible with the declared one.
bool accepts_shape(const Variable& variable, const Shape& shape);

}  // namespace strata

STRATA_API_END
