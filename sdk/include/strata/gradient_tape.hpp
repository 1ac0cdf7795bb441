// Reverse-mode automatic differentiation. A GradientTape records the ops executed while
// it is alive whose inputs it watches (directly or through earlier recorded ops), then
// gradient() walks them backwards through each op's registered gradient function. Those
// functions are written in ops, so gradients run on every backend, and an outer tape
// records the ops of an inner tape's gradient() — which gives higher-order derivatives.
//
//   GradientTape tape;
//   Tensor loss = mean(square(model_output - y));   // reads trainable variables
//   auto grads = tape.gradient(loss, variables);
//
// Thread safety: a tape records the ops of the thread that created it; use it on that
// thread only. Tapes nest and must be destroyed in reverse order of creation.
#pragma once

#include "strata/export.hpp"
#include <memory>
#include <vector>

#include "strata/tensor.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata {

class GradientTape {
 public:
  // persistent: gradient() may be called more than once. watch_accessed_variables:
  // trainable variables read with read() are watched automatically.
  explicit GradientTape(bool persistent = false, bool watch_accessed_variables = true);
  ~GradientTape();
  GradientTape(const GradientTape&) = delete;
  GradientTape& operator=(const GradientTape&) = delete;

  void watch(const Tensor& tensor);
  void watch(const Variable& variable);

  // d target / d source for each source; an undefined tensor where target does not
  // depend on the source (Keras's None). target need not be a scalar: its gradient is
  // `output_gradient` (ones by default), i.e. the gradient of sum(target). Throws
  // ValueError when a non-persistent tape is asked twice, and ValueError naming the op
  // when a gradient is needed through an op that has none.
  std::vector<Tensor> gradient(const Tensor& target, const std::vector<Tensor>& sources,
                               const Tensor& output_gradient = Tensor());
  std::vector<Tensor> gradient(const Tensor& target, const std::vector<Variable>& sources,
                               const Tensor& output_gradient = Tensor());

  // Ops run while a StopRecording lives are not recorded on this tape.
  class StopRecording {
   public:
    explicit StopRecording(GradientTape& tape);
    ~StopRecording();
    StopRecording(const StopRecording&) = delete;
    StopRecording& operator=(const StopRecording&) = delete;

   private:
    GradientTape& tape_;
    bool previous_;
  };

  struct State;  // private to the runtime

 private:
  std::unique_ptr<State> state_;
};

// True while a GradientTape records on this thread (one not paused by StopRecording):
// layers take inference-only shortcuts (fused kernels without gradients) only when false.
// ABI 2.5.
bool is_recording_gradients() noexcept;

}  // namespace strata

STRATA_API_END
