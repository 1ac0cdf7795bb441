// Models revived from a SavedModel's traced functions (Keras's "revived" models: loaded
// without their classes). A format plugin marks the models it revives; callers ask.
#pragma once

#include "strata/export.hpp"
#include <memory>
#include <string>
#include <vector>

STRATA_API_BEGIN

namespace strata {

class Model;

// Whether `model` was revived from traced functions rather than built from its classes.
bool is_revived(const Model& model);
// The classes whose absence made the loader revive `model` ("layer 'CustomDense'"); empty
// when it is not revived or reviving was asked for (LoadOptions::revive_from_traces) or
// the file was itself a revived model's.
std::vector<std::string> revived_missing_classes(const Model& model);

namespace plugin {
// For format plugins: records that `model` was revived (held weakly: a model destroyed
// is forgotten).
void mark_revived(const std::shared_ptr<const Model>& model, std::vector<std::string> missing_classes);
}  // namespace plugin

}  // namespace strata

STRATA_API_END
