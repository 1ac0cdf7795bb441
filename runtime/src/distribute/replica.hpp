// The training loop's side of data parallelism (strata/distribute.hpp): the few calls
// Model::compile / train_step / fit make into runtime/src/distribute. Each is a no-op for a
// model that trains without a strategy.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "ops/gradient_ready.hpp"
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
  // Before differentiating: this replica's mean loss over its `local_batch` samples times
  // local_batch / global batch, i.e. the sum of its per-sample losses over the GLOBAL batch
  // size, so the replicas' losses add up to the global batch's mean loss. Scaling the loss
  // (not the gradients afterwards) keeps this true when the forward pass crosses replicas
  // (SyncBatchNormalization's all_reduce, whose gradient sums the replicas' upstream
  // gradients). The global batch size is the one fit's replica_shard() saw for this step,
  // else (a train_on_batch of the caller's own shard) the sum of the replicas' batch sizes,
  // one small all-reduce. `loss` unchanged without a strategy.
  Tensor scale_loss(const Tensor& loss, std::int64_t local_batch);
  // The factor scale_loss multiplies by (local_batch / global batch; 1 without a strategy),
  // for a traced step that bakes it into its graph. Same bookkeeping as scale_loss; 0 for an
  // empty shard (whose step must run eagerly).
  double loss_factor(std::int64_t local_batch);
  // Just before tape.gradient(loss, vars): while the returned guard lives, the tape reports
  // each variable's gradient as soon as the backward walk has finalised it, and a bucket's
  // all-reduce is launched as soon as all its gradients are in (last layers first, as
  // PyTorch's DDP overlaps them with the rest of the backward pass). Null without a strategy.
  [[nodiscard]] std::shared_ptr<void> overlap_backward(const std::vector<Variable>& vars);
  // The same buckets, with the hook handed to the caller instead of the tape: the traced
  // step calls it as its graph computes each gradient. Empty without a strategy.
  internal::GradientReadyHook gradient_ready_hook(const std::vector<Variable>& vars);
  // Between the gradients and apply_gradients: `grads` (of the loss scale_loss() gave; the
  // gradients of overlap_backward's `vars` when it ran) are all-reduced (SUM, fused into
  // buckets, each launched without blocking; those overlap_backward launched are only
  // waited for), which makes them the gradients of the global batch's mean loss. An empty
  // shard adds zeros.
  void reduce_gradients(std::vector<Tensor>& grads, std::int64_t local_batch);
  // After the metrics' update: what each replica added to them is summed across replicas,
  // so every replica holds the global states.
  void sync_metrics(const std::vector<std::shared_ptr<Metric>>& metrics);

 private:
  struct Reducer;  // the step's gradient buckets (strategy.cpp)
  const Model* model_ = nullptr;
  std::shared_ptr<DistributionStrategy> strategy_;
  std::shared_ptr<DistributionStrategy> previous_active_;
  std::shared_ptr<Reducer> reducer_;
  std::int64_t local_batch_ = -1;
  std::int64_t global_batch_ = -1;
  std::size_t count_calls_ = 0;  // 1 when scale_loss() all-reduced the batch sizes  // from replica_shard(), for this step; -1: not known
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
