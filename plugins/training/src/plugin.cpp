// The plugin entry point: registers the optimizers, learning-rate schedules, losses and
// metrics of the training plugin.
#include "common.hpp"

namespace {

void register_all(strata::Registrar& registrar) {
  using namespace strata::training;
  using strata::ObjectKind;
  registrar.set_module(ObjectKind::kOptimizer, "keras.optimizers");
  registrar.set_module(ObjectKind::kLearningRateSchedule, "keras.optimizers.schedules");
  registrar.set_module(ObjectKind::kLoss, "keras.losses");
  registrar.set_module(ObjectKind::kMetric, "keras.metrics");
  register_schedules(registrar);
  register_optimizers(registrar);
  register_losses(registrar);
  register_metrics(registrar);
}

}  // namespace

STRATA_PLUGIN("training", "0.1.0",
              "Keras optimizers, learning-rate schedules, losses and metrics (tf-keras 2.17 semantics)", register_all);
