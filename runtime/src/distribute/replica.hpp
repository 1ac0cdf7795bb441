// The training loop's side of data parallelism (strata/distribute.hpp): the few calls
// Model::compile / train_step / fit make into runtime/src/distribute. Each is a no-op for a
// model that trains without a strategy.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "strata/distribute.hpp"
#include "strata/metrics.hpp"
#include "strata/training.hpp"

namespace strata {
class Model;
class Registrar;
namespace internal {

// The strategy whose train step runs on this thread, else the innermost scope(), else null
// (what all_reduce() reduces over).
std::shared_ptr<DistributionStrategy> active_strategy();
// Registers the op behind all_reduce() (all_reduce_op.cpp); called with the runtime's ops.
void register_distribute_ops(Registrar& r);

// Model::compile: binds the model to the strategy of the innermost scope() on this thread.
void bind_compiled_model(const Model& model);
// Model::~Model.
void forget_model_strategy(const Model* model) noexcept;

// One replica's train step. Constructed at the start of Model::train_step: finds the model's
// strategy, makes it the one all_reduce() uses on this thread for the step, broadcasts the
// variables from rank 0 the first time the model trains under it, and snapshots the
// metrics' states.
class ReplicaStep {
 public:
  explicit ReplicaStep(const Model& model);
  ~ReplicaStep();
  ReplicaStep(const ReplicaStep&) = delete;
  ReplicaStep& operator=(const ReplicaStep&) = delete;

  bool active() const noexcept { return strategy_ != nullptr; }
  // Between the gradients and apply_gradients: `grads` (of this replica's mean loss over
  // its `local_batch` samples) become the gradients of the global batch's mean loss: each
  // is multiplied by local_batch, all-reduced (SUM, fused into buckets, launched without
  // blocking) and divided by the global batch size.
  void reduce_gradients(std::vector<Tensor>& grads, std::int64_t local_batch);
  // After the metrics' update: what each replica added to them is summed across replicas,
  // so every replica holds the global states.
  void sync_metrics(const std::vector<std::shared_ptr<Metric>>& metrics);

 private:
  std::shared_ptr<DistributionStrategy> strategy_;
  std::shared_ptr<DistributionStrategy> previous_active_;
  std::int64_t local_batch_ = -1;
  std::vector<std::pair<std::uint64_t, std::vector<double>>> snapshot_;  // metric states by Variable::id
};

// Model::fit, once at its start: the options this replica runs with (progress printed by
// rank 0 only; ModelCheckpoint and CSVLogger on the chief only) after broadcasting the
// variables from rank 0. The options unchanged without a strategy.
FitOptions distributed_fit_options(const Model& model, const FitOptions& options);
// Model::fit, once: rank 0's `seed` on every replica (fit's shuffling without
// set_random_seed draws from entropy); `seed` itself without a strategy.
std::uint64_t agreed_seed(const Model& model, std::uint64_t seed);
// Model::fit, per step: this replica's part [start, start + len) of the global batch
// [start, start + len) (the whole batch without a strategy).
std::pair<std::int64_t, std::int64_t> replica_shard(const Model& model, std::int64_t start, std::int64_t len);

}  // namespace internal
}  // namespace strata
