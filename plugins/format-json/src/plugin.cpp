// The plugin entry point of format-json: registers the "json" format (json_format.cpp).
#include "json_format.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) { r.add<strata::ObjectKind::kFormat>("json", strata::json_format::make_format); }

}  // namespace

STRATA_PLUGIN("format-json", "0.1.0", "Keras JSON model architectures (model_to_json / model_from_json)", register_all);
