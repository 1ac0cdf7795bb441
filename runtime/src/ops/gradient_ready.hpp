// Private to the runtime: hooks through which GradientTape::gradient reports each variable's
// gradient as soon as the backward walk has finalised it (ops/tape.cpp), and Graph::run each
// output as soon as it is computed (ops/graph.cpp); the data-parallel step overlaps its
// gradient all-reduce with the eager walk and with the traced step's graph through them
// (distribute/strategy.cpp, training/traced_step.cpp).
#pragma once

#include <cstddef>
#include <functional>

#include "strata/tensor.hpp"

namespace strata::internal {

// While one is installed on this thread, the next GradientTape::gradient(target, variables)
// takes it (once) and calls it for each source variable (by its index in `sources`) as soon
// as that variable's gradient is final in the backward walk — once the earliest recorded op that reads it has been
// differentiated — with the gradient gradient() will return for it (undefined: none). Every
// source is reported exactly once, in the order the walk finalises them (the last layers'
// variables first); sources no recorded op reads are reported before the walk. The data
// parallel step launches gradient buckets from it (distribute/strategy.cpp).
using GradientReadyHook = std::function<void(std::size_t source, const Tensor& gradient)>;
class GradientReadyScope {
 public:
  explicit GradientReadyScope(GradientReadyHook hook);
  ~GradientReadyScope();
  GradientReadyScope(const GradientReadyScope&) = delete;
  GradientReadyScope& operator=(const GradientReadyScope&) = delete;

 private:
  GradientReadyHook previous_;
};

// While one is installed on this thread, the next Graph::run takes it (once) and calls it
// for each of the graph's outputs (by its index in the graph's outputs) as soon as the node
// producing it has run, in the order the nodes run; outputs that are the graph's inputs,
// constants or variable reads are reported when the run reaches them like any other. The
// traced train step reports its gradients through it, so the data-parallel step launches a
// bucket's all-reduce while the graph goes on computing the earlier layers' gradients.
using GraphOutputHook = std::function<void(std::size_t output, const Tensor& value)>;
class GraphOutputScope {
 public:
  explicit GraphOutputScope(GraphOutputHook hook);
  ~GraphOutputScope();
  GraphOutputScope(const GraphOutputScope&) = delete;
  GraphOutputScope& operator=(const GraphOutputScope&) = delete;

 private:
  GraphOutputHook previous_;
};

}  // namespace strata::internal
