// Data-parallel training across processes, machines and GPUs, in Keras's vocabulary
// (tf.distribute.MultiWorkerMirroredStrategy): every process holds a full replica of the
// model, trains on its shard of each global batch, and a collective backend (a plugin of
// kind "collective": "mpi", "nccl", ...) keeps the replicas identical.
//
//   strata::DistributionStrategy strategy("mpi");        // joins the job mpirun started
//   {
//     auto scope = strategy.scope();
//     model->compile("adam", "mse");                       // the model trains data-parallel
//   }
//   model->fit(x, y, {.batch_size = 64});                  // 64 = the GLOBAL batch size
//   if (strategy.is_chief()) model->save("model.keras");   // only the chief writes
//
// Semantics (the same answers as one process on the global batch):
//  - fit: every rank shuffles with the same seed (set_random_seed) and takes its contiguous
//    shard of each global batch of `batch_size` samples (rank r of R gets samples
//    [floor(n*r/R), floor(n*(r+1)/R)) of a batch of n, so an uneven split is allowed; the last
//    partial batch is split the same way). Every rank passes the full x and y (`strata fit`
//    memory-maps the .npy files: read_npy_mapped, strata/npy.hpp); to read only a rank's shard, feed it
//    through fit_replica_batches (below) with read_npy_rows (strata/npy.hpp).
//  - train_on_batch: each rank passes its own batch (tf.distribute's per-worker input); the
//    global batch is their union. evaluate/predict are not distributed: every rank runs
//    them on what it is given (with identical weights, identical results).
//  - a step: each replica's loss is its per-sample losses summed and divided by the GLOBAL
//    batch size (its mean loss times local/global batch, BEFORE differentiating, so a
//    forward pass that crosses replicas — SyncBatchNormalization — gets the gradient of the
//    global mean loss too); the gradients are summed across replicas (all-reduce SUM, fused
//    into flat buckets of at most `bucket_bytes`, each launched without blocking), then every
//    replica applies the same optimizer step. fit knows the global batch size; a
//    train_on_batch first sums the replicas' batch sizes (one more small all-reduce).
//  - metrics and the loss tracker hold global values: their states (sums and counts, as
//    Keras's metrics are) are summed across replicas after each step, so logs, History and
//    callbacks see what one process would. Only rank 0 prints progress.
//  - variables (weights and optimizer state) are broadcast from rank 0 when fit starts and
//    at the first train_on_batch, and by broadcast_variables() (call it after restoring in
//    a custom loop).
//  - files: inside fit only the chief's ModelCheckpoint writes. A program calling save(),
//    save_weights() or a CheckpointManager itself writes on the chief only:
//    `if (strategy.is_chief()) model->save(...)`; every rank may load.
//
// Thread safety: a strategy may be shared, but its collective calls must not run on two
// threads at once (train one model per strategy at a time).
#pragma once

#include "strata/export.hpp"
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/config.hpp"
#include "strata/error.hpp"
#include "strata/tensor.hpp"
#include "strata/training.hpp"

STRATA_API_BEGIN

namespace strata {

class Model;
class Communicator;  // strata/plugin/collective.hpp (plugin authors)

// A collective call failed: a peer died or did not answer within the timeout, the engine
// reported an error, or the communicator is broken by an earlier failure.
class CollectiveError : public Error {
 public:
  using Error::Error;
  ~CollectiveError() override;
  const char* kind() const noexcept override;
};

// How all_reduce combines the replicas' values (Keras/tf.distribute's ReduceOp, plus max and
// min). kMean is the sum divided by the number of replicas.
enum class ReduceOp : std::uint8_t { kSum, kMean, kMax, kMin };
// "sum", "mean", "max", "min".
std::string_view reduce_op_name(ReduceOp op) noexcept;

// What a collective factory is given.
struct CollectiveOptions {
  // Every call returns or throws CollectiveError within this many seconds. Default 60; the
  // environment variable STRATA_COLLECTIVE_TIMEOUT (seconds, a positive number) overrides
  // the default when the strategy is created (an explicit value set in code wins).
  double timeout_seconds = 60.0;
  // Backend-specific settings (e.g. {"device": 0} for NCCL); a backend ignores keys it does
  // not know.
  Config extra = Config::object();
};

// The default timeout as the environment sets it: STRATA_COLLECTIVE_TIMEOUT when it holds a
// positive number, else 60. A malformed value is a ValueError naming the variable.
double default_collective_timeout();


struct DistributeOptions {
  // Passed to the collective's factory (timeout: default_collective_timeout()).
  CollectiveOptions collective{default_collective_timeout()};
  // Gradients are fused into buckets of at most this many bytes (one tensor larger than it
  // is a bucket of its own). Default 25 MiB, as PyTorch's DDP.
  std::size_t bucket_bytes = std::size_t{25} << 20;
};

// What the last distributed train step did (for tests and tuning).
struct DistributedStepStats {
  std::size_t gradient_buckets = 0;  // buckets the gradients were fused into
  std::size_t collective_calls = 0;  // all-reduce calls the step made: buckets + 1 for the metrics
                                     // (+ 1 for the batch sizes in a train_on_batch)
  std::size_t bytes_reduced = 0;     // bytes all-reduced by the step
  std::size_t buckets_overlapped = 0;  // buckets launched while the backward pass (the tape's
                                       // walk or the traced step's graph) had gradients left
};

class DistributionStrategy {
 public:
  // Joins the job through the collective registered as `collective` ("mpi"); loads no
  // plugin itself (load_plugins() / STRATA_PLUGIN_PATH do). UnknownObjectError listing the
  // registered collectives when there is none of that name; CollectiveError when it cannot
  // join.
  explicit DistributionStrategy(const std::string& collective, DistributeOptions options = {});
  // Over a communicator the caller made (a test, a host application with its own).
  explicit DistributionStrategy(std::shared_ptr<Communicator> communicator, DistributeOptions options = {});
  ~DistributionStrategy();
  DistributionStrategy(const DistributionStrategy&) = default;  // copies share the replica group
  DistributionStrategy& operator=(const DistributionStrategy&) = default;

  int num_replicas_in_sync() const noexcept;
  int rank() const noexcept;       // this process's replica (worker) index
  bool is_chief() const noexcept;  // rank() == 0
  Communicator& communicator() const noexcept;
  const DistributeOptions& options() const noexcept;

  // While the returned guard lives, models compiled on this thread are bound to the strategy,
  // and models trained on this thread without a strategy of their own use it.
  class Scope {
   public:
    ~Scope();
    Scope(Scope&&) noexcept;
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;

   private:
    friend class DistributionStrategy;
    explicit Scope(std::shared_ptr<void> previous);
    std::shared_ptr<void> previous_;
    bool active_ = true;
  };
  [[nodiscard]] Scope scope() const;

  // Binds `model` to this strategy (as compiling it inside scope() does).
  void distribute(const Model& model) const;

  // Combines `value` (any shape, float32/float64/int32/int64) across the replicas; every
  // replica gets the result (Keras's strategy.reduce on per-replica values).
  Tensor reduce(ReduceOp op, const Tensor& value) const;
  // Rank 0's weights and optimizer variables are copied to every replica.
  void broadcast_variables(const Model& model) const;
  // Blocks until every replica got here.
  void barrier() const;

  DistributedStepStats last_step_stats() const;

  struct Impl;
  const std::shared_ptr<Impl>& impl() const noexcept { return impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

// Keras's name for the same thing.
using MultiWorkerMirroredStrategy = DistributionStrategy;

// A host application's own input (Keras's strategy.distribute_datasets_from_function): the
// batch THIS replica trains on in step `step` (0-based) of epoch `epoch`, from the rank's
// own shard of the data — nothing else need be read on this rank. The global batch of a step
// is the union of the replicas' batches; their sizes may differ (an uneven split equals one
// process on the union) and may be 0 on some replicas. sample_weight may be undefined.
struct ReplicaBatch {
  std::vector<Tensor> x;
  std::vector<Tensor> y;
  Tensor sample_weight;
};
using ReplicaBatchFn = std::function<ReplicaBatch(int epoch, std::int64_t step)>;

// Trains `model` (bound to a strategy, or not: then it is one process on its batches) for
// epochs [options.initial_epoch, options.epochs) of `steps_per_epoch` steps, each a
// train_step on `batches(epoch, step)`: callbacks, History, stop_training and the chief-only
// progress and files as fit; every replica must use the same steps_per_epoch. Of
// FitOptions, batch_size, shuffle, sample_weight and validation_* are not used (the
// callback decides what each replica trains on); verbose != 0 prints one line per epoch on
// the chief. Each step makes one more small all-reduce than fit's (the replicas' batch
// sizes, which fit knows). ValueError for steps_per_epoch < 1.
History fit_replica_batches(Model& model, const ReplicaBatchFn& batches, std::int64_t steps_per_epoch,
                            const FitOptions& options);

// The strategy `model` trains with: the one it was bound to, else the innermost scope() on
// this thread, else null.
std::shared_ptr<DistributionStrategy> strategy_of(const Model& model);
// The innermost active scope() on this thread, or null.
std::shared_ptr<DistributionStrategy> current_strategy();

// Cross-replica all-reduce usable inside a layer's call during a replica's train step
// (SyncBatchNormalization sums its moments with it): combines `value` across the replicas
// of the strategy whose step is running on this thread, and is differentiable — its
// gradient is the same all-reduce of the upstream gradient. The identity when no
// distributed step (and no scope) is active on this thread. Every replica must call it the
// same number of times with the same shapes.
Tensor all_reduce(const Tensor& value, ReduceOp op = ReduceOp::kSum);

}  // namespace strata

STRATA_API_END
