// Private to the runtime: a hook through which GradientTape::gradient reports each
// variable's gradient as soon as the backward walk has finalised it (ops/tape.cpp); the
// data-parallel step overlaps its gradient all-reduce with the walk through it
// (distribute/strategy.cpp).
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

}  // namespace strata::internal
