// The time loop every recurrent layer of this plugin runs (the RNN layers of
// recurrent_rnn.cpp and ConvLSTM1D/2D/3D of conv_lstm.cpp), with keras.backend.rnn's
// semantics: go_backwards processes the steps last to first and returns the outputs in that
// order; at a masked step the states keep their values and the output is the previous
// step's (zeros before the first valid step), or zeros with zero_output_for_mask; the last
// output is that of the last processed step. Also the deferred call they (and the RNN
// wrappers) record on symbolic inputs of unknown length: defer_layer_call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "strata/error.hpp"
#include "strata/graph.hpp"
#include "strata/layer.hpp"
#include "strata/ops.hpp"

namespace strata::recurrent {

struct TimeLoopOptions {
  bool go_backwards = false;
  bool return_sequences = false;
  bool zero_output_for_mask = false;
};

struct TimeLoopResult {
  Tensor last_output;           // the output of the last processed step
  std::vector<Tensor> outputs;  // every step's, in processing order (return_sequences only)
  std::vector<Tensor> states;   // the final states
};

// One step: (time index t, states) -> (output, new states).
using TimeStep =
    std::function<std::pair<Tensor, std::vector<Tensor>>(std::size_t t, const std::vector<Tensor>& states)>;

// Runs `step` over `steps` time steps from `states`. `step_masks` is empty or holds one bool
// mask per step that broadcasts against the outputs and the states (true: the step is
// valid); `zero_output` is a zero output (the output before the first valid step).
inline TimeLoopResult run_time_loop(std::int64_t steps, std::vector<Tensor> states,
                                    const std::vector<Tensor>& step_masks, const Tensor& zero_output,
                                    const TimeLoopOptions& options, const TimeStep& step) {
  TimeLoopResult result;
  Tensor previous_output = zero_output;
  if (options.return_sequences) result.outputs.reserve(static_cast<std::size_t>(steps));
  for (std::int64_t k = 0; k < steps; ++k) {
    const auto t = static_cast<std::size_t>(options.go_backwards ? steps - 1 - k : k);
    auto [output, next] = step(t, states);
    if (!step_masks.empty()) {
      const Tensor& valid = step_masks[t];
      output = select(valid, output, options.zero_output_for_mask ? zero_output : previous_output);
      for (std::size_t s = 0; s < next.size(); ++s) next[s] = select(valid, next[s], states[s]);
    }
    states = std::move(next);
    previous_output = output;
    if (options.return_sequences) result.outputs.push_back(output);
  }
  result.last_output = previous_output;
  result.states = std::move(states);
  return result;
}

// Runs `layer` (its call_and_mask) when a graph that recorded it with defer_layer_call
// executes: inputs [*inputs, mask?]. `class_name` names the node's layer
// ("strata.DeferredRecurrentCall", "strata.DeferredConvLSTMCall").
class DeferredLayerCall : public Layer {
 public:
  DeferredLayerCall(std::shared_ptr<const Layer> layer, bool has_mask, const char* class_name)
      : Layer(class_name, Config{{"name", layer->name()}}), layer_(std::move(layer)), has_mask_(has_mask) {}

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    std::vector<Tensor> args = inputs;
    CallContext inner = ctx;
    inner.masks.clear();
    if (has_mask_) {
      inner.masks.push_back(args.back());
      args.pop_back();
    }
    return layer_->call_and_mask(args, inner).tensors;
  }

 private:
  std::shared_ptr<const Layer> layer_;
  bool has_mask_;
};

// Records one call of `owner` as a graph node (kLayerCallOp) that runs it when the graph
// executes: what the recurrent layers (the RNN layers, their wrappers, ConvLSTM) do on
// symbolic inputs whose length is unknown, and where a traced graph could not carry their
// states. The node's layer is Call(std::shared_ptr<const L>(owner), mask defined, call_args...)
// (DeferredLayerCall, or a wrapper's own); its inputs
// are `inputs`, then `mask` when defined, concrete ones entering the graph as constants. The
// outputs have owner.compute_output_shape's shapes and `dtype`; `out_masks` (one per output,
// undefined where none) are their masks. An owner not held by a std::shared_ptr is a
// ValueError "<subject> must be owned by a std::shared_ptr (...) to run on <runs_on>".
template <class Call, class L, class... CallArgs>
Layer::Outputs defer_layer_call(const L& owner, const std::vector<Tensor>& inputs, const Tensor& mask, bool training,
                                DType dtype, std::vector<Tensor> out_masks, const std::string& subject,
                                const char* runs_on, const CallArgs&... call_args) {
  std::shared_ptr<const L> shared;
  try {
    shared = std::static_pointer_cast<const L>(owner.shared_from_this());
  } catch (const std::bad_weak_ptr&) {
    STRATA_THROW(ValueError, subject,
                 " must be owned by a std::shared_ptr (make it with make_layer or std::make_shared) to run on ",
                 runs_on);
  }
  auto node = std::make_shared<GraphNode>();
  node->op = kLayerCallOp;
  node->name = owner.name();
  node->layer = std::make_shared<Call>(shared, mask.defined(), call_args...);
  std::vector<Tensor> args = inputs;
  if (mask.defined()) args.push_back(mask);
  for (auto& a : args) {
    if (!a.is_symbolic()) {
      TraceScope capture;  // a concrete tensor enters the graph as a constant
      a = identity(a);
    }
  }
  node->inputs = std::move(args);
  if (training) node->attrs.set("training", true);
  std::vector<Shape> shapes;
  for (const auto& in : inputs) shapes.push_back(in.shape());
  const auto out_shapes = owner.compute_output_shape(shapes);
  Layer::Outputs out;
  for (std::size_t i = 0; i < out_shapes.size(); ++i) {
    node->outputs.push_back({dtype, out_shapes[i]});
    node->output_has_mask.push_back(i < out_masks.size() && out_masks[i].defined());
  }
  for (std::size_t i = 0; i < out_shapes.size(); ++i) {
    out.tensors.push_back(Tensor::symbolic(dtype, out_shapes[i], node, static_cast<int>(i)));
  }
  out.masks = std::move(out_masks);
  out.masks.resize(out.tensors.size());
  return out;
}

}  // namespace strata::recurrent
