// The format-savedmodel plugin module: registers the "savedmodel" format.
#include "savedmodel_format.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) {
  r.add<strata::ObjectKind::kFormat>("savedmodel", [] { return strata::savedmodel::make_format(); });
}

}  // namespace

// variables/ is a TensorFlow checkpoint, read and written through the checkpoint format.
STRATA_PLUGIN_WITH_DEPENDENCIES(
    "format-savedmodel", "0.2.0",
    "TensorFlow SavedModel directories: tf-keras's (read) and Strata's with traced functions (read, write)",
    register_all, "format-checkpoint");
