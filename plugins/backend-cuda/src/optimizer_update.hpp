// The launchers of the strata.Keras* fused updates (optimizer_update.cu), shared by the
// kernel glue (optimizer_ops.cpp) and the .cu file.
#pragma once

#include <cstdint>

namespace strata::cuda {

enum class KerasUpdate : int { kAdam, kRMSprop, kAdagrad, kAdadelta, kAdamax, kNadam, kFtrl };

// One update's device pointers: the variable and `slots` slots (in, out), the gradient and
// `scalars` one-element scalars; flag: amsgrad (Adam), centered and use_momentum (RMSprop).
template <class T>
struct KerasUpdateArgs {
  std::int64_t n = 0;
  int slots = 0;
  int scalars = 0;
  const T* in[4] = {};
  const T* g = nullptr;
  const T* s[9] = {};
  T* out[4] = {};
  bool flag[2] = {};
};

int keras_update(void* stream, KerasUpdate kind, const KerasUpdateArgs<float>& args);
int keras_update(void* stream, KerasUpdate kind, const KerasUpdateArgs<double>& args);

}  // namespace strata::cuda
