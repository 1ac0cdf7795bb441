// The plugin entry point of format-checkpoint: registers the "checkpoint" format
// (checkpoint_format.cpp).
#include "format_checkpoint.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) { r.add<strata::ObjectKind::kFormat>("checkpoint", strata::ckpt::make_format); }

}  // namespace

STRATA_PLUGIN("format-checkpoint", "0.1.0",
              "TensorFlow checkpoints (tensor bundles, object graphs, the checkpoint state file)", register_all);
