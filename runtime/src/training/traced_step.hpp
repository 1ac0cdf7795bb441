// The traced train step: Model::train_step's forward pass, loss and gradients traced once
// per input signature into one Graph (symbolic backpropagation over the traced forward
// ops, in the order the eager GradientTape takes them), then run as a compiled plan at
// every step. apply_gradients, constraints and metric updates stay eager after it (a
// data-parallel all-reduce goes between the gradients and apply_gradients).
//
// Falls back to the eager step when tracing could not be exact: a layer not built yet, a
// stateful layer (carried RNN state), a seeded random layer (its seed would be frozen),
// a loss-scaling optimizer, add_loss / add_metric from call(), a loss, metric or layer
// that cannot run on symbolic tensors, an op without a gradient, a variable's value
// captured as a constant.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ops/gradient_ready.hpp"
#include "strata/graph.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"

namespace strata {

class Loss;
class Model;
class Optimizer;

namespace internal {

// One step's forward results (Model::train_step / test_step).
struct StepResult {
  Tensor total;
  std::vector<Tensor> per_output;
  std::vector<Tensor> y_pred;
  std::vector<Tensor> y_true;          // matched to the outputs' rank and dtype
  std::vector<Tensor> sample_weights;  // per output, matched likewise
  // Per output, what compile()'s metrics are weighted by: as in tf-keras, the output's Keras
  // mask only (undefined where none); sample weights are for the loss (and Keras's
  // weighted_metrics, which Strata does not have).
  std::vector<Tensor> metric_weights;
  std::vector<std::pair<std::string, Tensor>> added_metrics;  // model.add_metric values of this step
  bool call_losses = false;                                   // layers added losses in call() (add_loss)
};

// The forward pass and loss of a training step on (x, y, sample_weight).
using ForwardFn =
    std::function<StepResult(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight)>;

struct TracedGradients {
  StepResult result;
  std::vector<Variable> variables;  // the trainable weights, in trainable_weights() order
  std::vector<Tensor> gradients;    // per variable; undefined where none flows
};

// The traced graphs of one compiled model (compile() makes a new one, so recompiling
// retraces).
class TracedTrainStep {
 public:
  TracedTrainStep();
  ~TracedTrainStep();
  TracedTrainStep(const TracedTrainStep&) = delete;
  TracedTrainStep& operator=(const TracedTrainStep&) = delete;

  // The gradients of `forward`'s total loss (times `loss_scale` when it is not 0) from the
  // traced graph for this signature, tracing it first if needed; nullopt when the step must
  // run eagerly (switched off, or not traceable exactly).
  // `losses`: compile()'s, one per output (the value checks they skip on symbolic tensors
  // are repeated on the host).
  // `on_gradient` (optional): called with each variable's index and gradient as soon as the
  // graph has computed it (undefined gradients first), as GradientTape::gradient's
  // GradientReadyHook is (ops/gradient_ready.hpp) — the data-parallel step's buckets.
  std::optional<TracedGradients> run(Model& model, const Optimizer& optimizer,
                                     const std::vector<std::shared_ptr<Loss>>& losses, double loss_scale,
                                     const ForwardFn& forward, const std::vector<Tensor>& x,
                                     const std::vector<Tensor>& y, const Tensor& sample_weight,
                                     const GradientReadyHook& on_gradient = {});

  struct Entry;

 private:
  std::vector<std::unique_ptr<Entry>> entries_;  // least recently used first
  // Signatures dropped to make room. Once as many have been dropped as the cache holds, the
  // model's signatures change faster than tracing pays (sequences of many lengths): new ones
  // run eagerly, and the cached ones stay traced.
  std::size_t evictions_ = 0;
  bool thrashing_logged_ = false;
};

// Counts an eager step (train_step's default path when run() said nullopt).
void note_eager_train_step() noexcept;

}  // namespace internal
}  // namespace strata
