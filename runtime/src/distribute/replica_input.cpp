// fit_replica_batches (strata/distribute.hpp): fit's epoch loop over a host application's
// per-replica batches instead of arrays every rank holds whole.
#include <iostream>

#include "core/threads_env.hpp"
#include "distribute/replica.hpp"
#include "strata/distribute.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/threads.hpp"
#include "training/optimizer_internal.hpp"

namespace strata {

History fit_replica_batches(Model& model, const ReplicaBatchFn& batches, std::int64_t steps_per_epoch,
                            const FitOptions& options_in) {
  STRATA_CHECK(model.is_compiled(), ValueError, "model '", model.name(),
               "' must be compiled before fit_replica_batches (call compile)");
  STRATA_CHECK(static_cast<bool>(batches), ValueError, "fit_replica_batches needs a batch function");
  STRATA_CHECK(steps_per_epoch >= 1, ValueError, "fit_replica_batches needs steps_per_epoch >= 1, got ",
               steps_per_epoch);
  STRATA_CHECK(options_in.epochs >= 0, ValueError, "fit_replica_batches needs epochs >= 0");
  const ThreadScope threads(detail::model_call_threads(model));
  // Variables broadcast from rank 0; progress and files on the chief only (as fit).
  FitOptions options = options_in;
  options.batch_size = std::max<std::int64_t>(options.batch_size, 1);
  if (auto strategy = strategy_of(model))
    options.batch_size = std::max<std::int64_t>(
        options.batch_size, strategy->num_replicas_in_sync());  // fit's check, which does not apply here
  options = internal::distributed_fit_options(model, options);
  std::ostream& out = options.out ? *options.out : std::cout;

  std::vector<std::shared_ptr<Callback>> callbacks = options.callbacks;
  for (auto& cb : callbacks) cb->set_model(&model);
  History history;
  model.stop_training = false;
  Logs logs;
  for (auto& cb : callbacks) cb->on_train_begin(logs);
  for (int epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
    model.reset_metrics();
    for (auto& cb : callbacks) cb->on_epoch_begin(epoch, logs);
    for (std::int64_t step = 0; step < steps_per_epoch; ++step) {
      const ReplicaBatch batch = batches(epoch, step);
      for (auto& cb : callbacks) cb->on_train_batch_begin(static_cast<int>(step), logs);
      logs = model.train_step(batch.x, batch.y, batch.sample_weight);
      for (auto& cb : callbacks) cb->on_train_batch_end(static_cast<int>(step), logs);
    }
    if (options.verbose != 0) {
      out << "Epoch " << epoch + 1 << "/" << options.epochs << " - " << steps_per_epoch << " steps";
      for (const auto& [k, v] : logs.items()) out << " - " << k << ": " << v;
      out << "\n";
    }
    for (auto& cb : callbacks) cb->on_epoch_end(epoch, logs);
    history.epoch.push_back(epoch);
    for (const auto& [k, v] : logs.items()) history.history[k].push_back(v);
    if (model.stop_training) break;
  }
  if (options.epochs > 0) internal::finalize_variable_values(*model.optimizer(), model.trainable_weights());
  for (auto& cb : callbacks) cb->on_train_end(logs);
  return history;
}

}  // namespace strata
