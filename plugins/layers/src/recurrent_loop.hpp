// The time loop every recurrent layer of this plugin runs (the RNN layers of
// recurrent_rnn.cpp and ConvLSTM1D/2D/3D of conv_lstm.cpp), with keras.backend.rnn's
// semantics: go_backwards processes the steps last to first and returns the outputs in that
// order; at a masked step the states keep their values and the output is the previous
// step's (zeros before the first valid step), or zeros with zero_output_for_mask; the last
// output is that of the last processed step.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

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

}  // namespace strata::recurrent
