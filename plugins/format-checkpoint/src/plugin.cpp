// The plugin entry point of format-checkpoint: registers the "checkpoint" checkpoint store
// (checkpoint_store.cpp); the runtime makes it the "checkpoint" weights format.
#include "format_checkpoint.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) { r.add<strata::ObjectKind::kCheckpointStore>("checkpoint", strata::ckpt::make_store); }

}  // namespace

STRATA_PLUGIN("format-checkpoint", "0.1.0",
              "TensorFlow checkpoints (tensor bundles, object graphs, the checkpoint state file)", register_all);
