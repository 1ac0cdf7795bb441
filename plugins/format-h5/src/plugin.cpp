// The plugin entry point of format-h5: registers the "h5" format (h5_format.cpp).
#include "h5_format.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) { r.add<strata::ObjectKind::kFormat>("h5", strata::h5::make_format); }

}  // namespace

STRATA_PLUGIN("format-h5", "0.1.0", "Keras HDF5 models and weights (tf-keras 2.17 layout)", register_all);
